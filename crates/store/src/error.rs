//! What can go wrong in the mailbox store, in words a user or administrator understands.
//! Each variant maps to one IMAP response code (RFC 5530) or POP3 one (RFC 3206).

use crate::quota::Exceeded;
use std::fmt;
use std::io;

/// A failed store operation.
#[derive(Debug)]
pub enum StoreError {
    /// The mailbox does not exist (IMAP `[NONEXISTENT]`).
    NoSuchMailbox(String),
    /// The mailbox exists already (IMAP `[ALREADYEXISTS]`).
    AlreadyExists(String),
    /// The name is not allowed (IMAP `[CANNOT]`).
    InvalidName {
        /// The name as given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The operation is not possible on this mailbox (IMAP `[CANNOT]`), e.g. deleting INBOX.
    NotAllowed(String),
    /// A flag or keyword that cannot be stored.
    InvalidFlag {
        /// The flag as given.
        flag: String,
        /// Why.
        reason: &'static str,
    },
    /// The mailbox already uses all 26 keyword letters (IMAP `[LIMIT]`).
    TooManyKeywords,
    /// A message was expunged meanwhile (IMAP `[EXPUNGEISSUED]`).
    Expunged(u32),
    /// The mailbox was opened read-only (EXAMINE).
    ReadOnly,
    /// The account's storage or message limit would be exceeded (IMAP `[OVERQUOTA]`).
    OverQuota(Exceeded),
    /// A file-system error (IMAP `[SERVERBUG]` or `[UNAVAILABLE]`, POP3 `[SYS/TEMP]`).
    Io(io::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NoSuchMailbox(name) => write!(f, "mailbox {name:?} does not exist"),
            StoreError::AlreadyExists(name) => write!(f, "mailbox {name:?} already exists"),
            StoreError::InvalidName { name, reason } => write!(f, "invalid mailbox name {name:?}: {reason}"),
            StoreError::NotAllowed(what) => f.write_str(what),
            StoreError::InvalidFlag { flag, reason } => write!(f, "invalid flag {flag:?}: {reason}"),
            StoreError::TooManyKeywords => {
                f.write_str("this mailbox already has 26 keywords, the most it can hold; remove unused ones first")
            }
            StoreError::Expunged(uid) => write!(f, "message UID {uid} has been deleted meanwhile"),
            StoreError::ReadOnly => f.write_str("the mailbox is open read-only (EXAMINE); SELECT it to make changes"),
            StoreError::OverQuota(e) => {
                let unit = e.resource.unit();
                write!(f, "mailbox full: {} of {} {unit} in use; delete messages to make room", e.used, e.limit)
            }
            StoreError::Io(e) => write!(f, "storage error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> StoreError {
        StoreError::Io(e)
    }
}
