//! Exit codes from sysexits.h, which sendmail's callers (cron, mailx, scripts) interpret.

/// The command was used incorrectly (bad flag, no recipients).
pub const USAGE: u8 = 64;
/// The input data was incorrect (NUL bytes, over-long lines, a bad header).
pub const DATAERR: u8 = 65;
/// A recipient does not exist.
pub const NOUSER: u8 = 67;
/// A host does not exist (`sendmail -bv`: the recipient's domain has no mail host).
pub const NOHOST: u8 = 68;
/// A service is unavailable (the daemon refused, a feature is missing).
pub const UNAVAILABLE: u8 = 69;
/// A file could not be created (the pickup directory is not writable).
pub const CANTCREAT: u8 = 73;
/// Reading or writing failed.
pub const IOERR: u8 = 74;
/// A temporary failure: the caller may try again later.
pub const TEMPFAIL: u8 = 75;
/// Not allowed.
pub const NOPERM: u8 = 77;
/// The configuration is wrong.
pub const CONFIG: u8 = 78;

/// Why a command or a local submission failed: the words for the caller and the code to
/// exit with ([`TEMPFAIL`] means "try again later").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// sysexits.h code.
    pub code: u8,
    /// What is wrong and how to fix it.
    pub text: String,
}

impl Failure {
    pub fn new(code: u8, text: impl Into<String>) -> Failure {
        Failure { code, text: text.into() }
    }
}

/// A full disk or an exhausted disk quota: always a temporary failure ([`TEMPFAIL`], SMTP
/// 452 4.3.1, IMAP `[OVERQUOTA]`), never a permanent one.
pub fn disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}
