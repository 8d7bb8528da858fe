//! The POP3 protocol core, sans-IO: bytes in, replies and events out (RFC 1939, with CAPA and
//! response codes from RFC 2449, STLS from RFC 2595, codes from RFC 3206 and SASL AUTH PLAIN
//! from RFC 5034).
//!
//! Nothing here touches sockets, clocks or the mailbox store; the server's network layer
//! drives a [`Session`] and answers its [`Event`]s, which keeps the core unit-testable.

pub mod body;
pub mod command;
pub mod session;

pub use command::{Command, ParseError};
pub use session::{Config, Event, LoginFailure, MAX_AUTH_LINE, MAX_LINE, Message, Session, Stats};
