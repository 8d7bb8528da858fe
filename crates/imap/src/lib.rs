//! The IMAP protocol core, sans-IO (RFC 3501 IMAP4rev1 and extensions).
//!
//! Bytes in, responses and events out: the server's network layer feeds a
//! [`session::Session`] and answers its events; mailboxes are reached through the
//! [`backend::Mailboxes`] trait. Nothing here touches sockets, clocks or files.

#![warn(missing_docs)]

pub mod backend;
pub mod datetime;
pub mod flags;
pub mod memory;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod search;
pub mod session;
pub mod structure;

pub use backend::Mailboxes;
pub use memory::MemoryStore;
pub use session::{AuthError, Config, Event, Session, State};
