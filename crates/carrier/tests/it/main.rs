//! carrier's integration tests, one binary (one link on a 2-core machine instead of one per
//! file): each module starts the real server on loopback ports and talks to it over
//! sockets, with Rust clients, Python's libraries and real clients from Debian.

mod antispam;
mod authentication;
mod check;
mod cli;
mod common;
mod crash;
mod dane;
mod dkim;
mod faults;
mod forwarding;
mod imap;
mod imap_clients;
mod interop;
mod load;
mod logs;
mod managesieve;
mod milter;
mod mta_sts;
mod pop3;
mod pop3_clients;
mod postfix;
mod privileges;
mod quota;
mod relay;
mod security;
mod sendmail;
mod sieve;
mod smarthost;
mod smtp_inbound;
mod submission;
