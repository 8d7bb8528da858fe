//! Grammar pieces every part of carrier shares, each written once: the syntax of a domain
//! name (SMTP envelopes, account addresses, aliases, the configuration) and line-end
//! conversion between the wire (CRLF) and Maildir files (LF), and calendar dates.

pub mod date;
pub mod domain;
pub mod lines;
