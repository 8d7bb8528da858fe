//! The administrator's commands: each runs, prints and exits. They read the configuration
//! and the data directory themselves, or ask the running daemon over the control socket;
//! none of them is part of the daemon.

pub mod check;
pub mod dkim;
pub mod init;
pub mod queue;
pub mod records;
pub mod status;
pub mod tls_reports;
pub mod users;
