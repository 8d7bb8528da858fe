//! The SMTP protocol core, sans-IO: bytes in, replies and events out (RFC 5321).
//!
//! Nothing here touches sockets or clocks; the server's network layer drives a
//! [`Session`] and answers its [`Event`]s. That makes the core unit-testable and fuzzable.

pub mod address;
pub mod client;
pub mod command;
pub mod data;
pub mod headers;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod trace;

pub use address::Mailbox;
pub use command::{BodyType, MailParams};
pub use reply::Reply;
pub use session::{Event, Session, SessionConfig, Transaction};
