//! The ManageSieve protocol (RFC 5804), sans-IO: the command parser and the server session.
//! The daemon drives it over TCP (port 4190) and does the storing and compiling.

pub mod parser;
pub mod session;

pub use session::{Config, Event, LoginFailure, Request, Response, Session, name_problem};

#[cfg(test)]
mod tests;
