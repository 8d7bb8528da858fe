//! The IMAP protocol core, sans-IO (RFC 3501 IMAP4rev1 and extensions).
//!
//! Bytes in, responses and events out: the server's network layer feeds a
//! [`session::Session`] and answers its events; mailboxes are reached through the
//! [`backend::Mailboxes`] trait. Nothing here touches sockets, clocks or files.

#![warn(missing_docs)]

pub mod datetime;
pub mod flags;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod search;
pub mod structure;
