//! What a run is given besides the script and the message: the envelope, the memory that
//! outlives one message, the clock and zone, and the limits on its cost.

use std::time::SystemTime;

/// Bounds on what one script may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Octets of script text.
    pub max_script_size: usize,
    /// Blocks and tests inside each other.
    pub max_nesting: usize,
    /// Commands and tests evaluated per message.
    pub max_steps: u64,
    /// `redirect`s per message (Dovecot's sieve_max_redirects).
    pub max_redirects: u32,
    /// Actions per message.
    pub max_actions: usize,
    /// Octets a variable holds (RFC 5229 6: at least 4000).
    pub max_variable_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_script_size: 1 << 20,
            max_nesting: 32,
            max_steps: 100_000,
            max_redirects: 4,
            max_actions: 32,
            max_variable_size: 4096,
        }
    }
}

/// The envelope of the message being delivered (RFC 5228 5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM; "" for the null reverse-path.
    pub from: String,
    /// The recipient this delivery is for.
    pub to: String,
    /// The authenticated sender (RFC 4954 AUTH=), if any.
    pub auth: Option<String>,
}

/// What outlives one message: vacation replies sent and duplicates seen, and which
/// mailboxes exist. The delivery agent keeps it per user.
pub trait Memory {
    /// True when `key` was recorded less than `period` seconds ago; records it now.
    fn seen(&mut self, key: &str, period: u64) -> bool;
    /// RFC 5490 3.1 `mailboxexists`.
    fn mailbox_exists(&self, _name: &str) -> bool {
        false
    }
}

/// A [`Memory`] that remembers nothing (every reply goes, nothing is a duplicate).
pub struct NoMemory;

impl Memory for NoMemory {
    fn seen(&mut self, _key: &str, _period: u64) -> bool {
        false
    }
}

/// What a run needs besides the script and the message.
pub struct Context<'m> {
    pub envelope: Envelope,
    /// The time `currentdate` sees.
    pub now: SystemTime,
    /// The local zone, minutes east of UTC (RFC 5260 4.1's default zone).
    pub zone: i32,
    /// Addresses of the user besides the envelope recipient (vacation's `:addresses` default).
    pub addresses: Vec<String>,
    /// The spam filter's verdict as a percentage (0 clean, 100 surely spam); None when no
    /// filter looked at the message (RFC 5235 `spamtest`).
    pub spam: Option<u8>,
    pub memory: &'m mut dyn Memory,
}

impl<'m> Context<'m> {
    pub fn new(envelope: Envelope, memory: &'m mut dyn Memory) -> Context<'m> {
        Context { envelope, now: SystemTime::now(), zone: 0, addresses: Vec::new(), spam: None, memory }
    }
}
