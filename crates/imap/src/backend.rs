//! The storage interface the session uses: one user's mailboxes.
//!
//! The session holds one `Mailboxes` per authenticated connection and calls it
//! synchronously. Names are UTF-8 (the session does modified UTF-7 on the wire), `/` is
//! the hierarchy delimiter and `INBOX` is always spelled so. Sizes count the message with
//! CRLF line ends (RFC822.SIZE); messages may be returned with LF or CRLF line ends.

use crate::datetime::DateTime;
use crate::flags::Flags;
use std::fmt;

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// One message as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// UID (RFC 3501 2.3.1.1), ascending in arrival order, never reused under one UIDVALIDITY.
    pub uid: u32,
    /// Flags and keywords (never `\Recent`).
    pub flags: Flags,
    /// Mod-sequence of the last change (RFC 7162), at least 1.
    pub modseq: u64,
    /// RFC822.SIZE: octets with CRLF line ends.
    pub size: u64,
    /// INTERNALDATE.
    pub internal_date: DateTime,
    /// \Recent for this session: the first read-write session to see a new message owns it
    /// (RFC 3501 2.3.2); read-only access (EXAMINE) shows it without taking it (6.3.2).
    pub recent: bool,
}

/// A mailbox in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Full name.
    pub name: String,
    /// RFC 6154 attributes (`\Sent`, `\Trash`, ...).
    pub special_use: Vec<String>,
}

/// What SELECT / EXAMINE sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT.
    pub uidnext: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// The messages, ascending by UID.
    pub messages: Vec<MessageMeta>,
    /// Keywords defined in the mailbox (for FLAGS / PERMANENTFLAGS).
    pub keywords: Vec<String>,
}

/// What changed in a mailbox after a mod-sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// UIDNEXT now.
    pub uidnext: u32,
    /// HIGHESTMODSEQ now.
    pub highest_modseq: u64,
    /// Messages added or changed after `since`, ascending by UID.
    pub updated: Vec<MessageMeta>,
    /// UID ranges (inclusive) expunged after `since`. A backend that keeps no record of
    /// expunges may list every UID below UIDNEXT that is not present: the session ignores
    /// UIDs it does not know.
    pub expunged: Vec<(u32, u32)>,
}

/// STATUS values (RFC 3501 6.3.10 and extensions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    /// MESSAGES.
    pub messages: u32,
    /// RECENT.
    pub recent: u32,
    /// UIDNEXT.
    pub uidnext: u32,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UNSEEN: messages without \Seen.
    pub unseen: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// SIZE (RFC 8438): total of RFC822.SIZE.
    pub size: u64,
    /// DELETED (RFC 9051): messages with \Deleted.
    pub deleted: u32,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// Add these flags.
    Add,
    /// Remove these flags.
    Remove,
    /// Replace all flags by these.
    Replace,
}

/// The result of a STORE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Messages whose flags changed (new flags and modseq).
    pub updated: Vec<MessageMeta>,
    /// UIDs not changed because their modseq was above UNCHANGEDSINCE (RFC 7162 3.1.3).
    pub modified: Vec<u32>,
}

/// The result of a COPY or MOVE (RFC 4315 COPYUID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// UIDVALIDITY of the destination.
    pub uidvalidity: u32,
    /// (source UID, destination UID) pairs, ascending by source UID.
    pub uids: Vec<(u32, u32)>,
}

/// Why an operation failed; the session turns it into a NO with the matching RFC 5530 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The mailbox does not exist (`[NONEXISTENT]`, or `[TRYCREATE]` for APPEND/COPY/MOVE targets).
    NoSuchMailbox,
    /// The mailbox already exists (`[ALREADYEXISTS]`).
    AlreadyExists,
    /// Not allowed for this mailbox (`[CANNOT]`), e.g. deleting INBOX; the text says why.
    Cannot(String),
    /// The mailbox is used by another operation (`[INUSE]`).
    InUse,
    /// Quota exceeded, or the disk is full (`[OVERQUOTA]`); the text says how much is used.
    OverQuota(String),
    /// CREATE cannot give the mailbox the special use asked for (`[USEATTR]`, RFC 6154 5.4).
    UseAttr(String),
    /// A size or count limit (`[LIMIT]`).
    Limit(String),
    /// The message was expunged (`[EXPUNGEISSUED]`).
    Expunged,
    /// Anything else (`[SERVERBUG]`); the text is for the log and the client.
    Io(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            StoreError::NoSuchMailbox => f.write_str("Mailbox does not exist"),
            StoreError::AlreadyExists => f.write_str("Mailbox already exists"),
            StoreError::Cannot(why)
            | StoreError::Limit(why)
            | StoreError::UseAttr(why)
            | StoreError::OverQuota(why) => f.write_str(why),
            StoreError::InUse => f.write_str("Mailbox is in use, try again"),
            StoreError::Expunged => f.write_str("Message was expunged"),
            StoreError::Io(why) => write!(f, "Internal error: {why}"),
        }
    }
}

/// A result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One user's mailboxes.
pub trait Mailboxes {
    /// Every existing mailbox (INBOX included).
    fn list(&mut self) -> StoreResult<Vec<MailboxInfo>>;
    /// Subscribed names (they need not exist).
    fn subscriptions(&mut self) -> StoreResult<Vec<String>>;
    /// (Un)subscribes a name.
    fn subscribe(&mut self, name: &str, subscribe: bool) -> StoreResult<()>;
    /// Creates a mailbox and any missing parents; `special_use` are RFC 6154 attributes.
    fn create(&mut self, name: &str, special_use: &[String]) -> StoreResult<()>;
    /// Deletes a mailbox and its messages (INBOX cannot be deleted).
    fn delete(&mut self, name: &str) -> StoreResult<()>;
    /// Renames a mailbox and its children; renaming INBOX moves its messages to a new
    /// mailbox and leaves INBOX empty (RFC 3501 6.3.5).
    fn rename(&mut self, from: &str, to: &str) -> StoreResult<()>;
    /// STATUS values.
    fn status(&mut self, name: &str) -> StoreResult<MailboxStatus>;
    /// Opens a mailbox; `read_only` (EXAMINE) must not take \Recent.
    fn select(&mut self, name: &str, read_only: bool) -> StoreResult<Snapshot>;
    /// What changed after `since` (a HIGHESTMODSEQ the session saw).
    fn changes(&mut self, name: &str, since: u64, read_only: bool) -> StoreResult<Changes>;
    /// A message's bytes (LF or CRLF line ends); `Expunged` when it is gone.
    fn fetch(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>>;
    /// The message's header up to and including the empty line that ends it (the whole
    /// message if it has none), for items and search keys that need no more. A store that
    /// can read less than the whole file should.
    fn fetch_header(&mut self, name: &str, uid: u32) -> StoreResult<Vec<u8>> {
        let mut msg = self.fetch(name, uid)?;
        msg.truncate(crate::structure::header_len(&msg));
        Ok(msg)
    }
    /// Changes flags of these UIDs (absent ones are skipped); with `unchanged_since`, only
    /// messages whose modseq is not above it (RFC 7162 3.1.3).
    fn store(
        &mut self,
        name: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> StoreResult<Stored>;
    /// Removes messages flagged \Deleted (only those in `uids` when given); returns the
    /// UIDs removed, ascending.
    fn expunge(&mut self, name: &str, uids: Option<&[u32]>) -> StoreResult<Vec<u32>>;
    /// Adds a message; returns (UIDVALIDITY, UID) for APPENDUID (RFC 4315).
    fn append(&mut self, name: &str, message: &[u8], flags: &Flags, date: Option<DateTime>) -> StoreResult<(u32, u32)>;
    /// Copies messages to another mailbox, keeping flags and internal dates.
    fn copy(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied>;
    /// Moves messages (RFC 6851): copy, then expunge from the source atomically.
    fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> StoreResult<Copied>;
    /// What the user uses and may use of each limited resource (one quota root, "", for all
    /// the user's mailboxes); empty when nothing is limited.
    fn quota(&mut self) -> StoreResult<Vec<QuotaUse>> {
        Ok(Vec::new())
    }
}

/// The resources a quota limits (RFC 9208 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    /// STORAGE (RFC 9208 5.1), counted here in octets.
    Storage,
    /// MESSAGE (RFC 9208 5.2): messages in all the root's mailboxes.
    Message,
}

/// One resource of a quota root: its usage and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    /// Which resource.
    pub resource: QuotaResource,
    /// In use: octets for STORAGE, messages for MESSAGE.
    pub used: u64,
    /// The limit, in the same unit.
    pub limit: u64,
}
