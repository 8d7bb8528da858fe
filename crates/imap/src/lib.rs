//! The IMAP protocol core, sans-IO (RFC 3501 IMAP4rev1 and extensions).
//!
//! Bytes in, responses and events out: the server's network layer feeds a
//! [`session::Session`] and answers its events; mailboxes are reached through the
//! [`backend::Mailboxes`] trait. Nothing here touches sockets, clocks or files.

#![warn(missing_docs)]

pub mod backend;
pub mod datetime;
pub mod flags;
/// An in-memory [`Mailboxes`] for this crate's tests and the fuzz targets; not part of the
/// API (feature `memory-store`).
#[cfg(any(test, feature = "memory-store"))]
pub mod memory;
pub mod parser;
pub mod response;
pub mod search;
pub mod session;
pub mod structure;

pub use backend::Mailboxes;
/// Modified UTF-7 mailbox names (RFC 3501 5.1.3), shared with the mailbox store.
pub use carrier_mutf7 as mutf7;
#[cfg(any(test, feature = "memory-store"))]
pub use memory::MemoryStore;
pub use session::{AuthError, Config, Event, Session, State};
