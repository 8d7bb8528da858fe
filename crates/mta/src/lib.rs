//! carrier's mail path, as a library the daemon wires up:
//!
//! ```text
//! SMTP session ─┐
//! control socket ┼─► intake ─► spool ─► runner ─┬─► local agent ─► mailbox store
//! pickup dir ───┤    (checks, aliases,          └─► relay agent ─► other MTAs
//! bounces ──────┘     envelope, log)     failures ─► bounce ─► intake
//! ```
//!
//! Each part takes the few things it needs; none knows about listeners or the CLI.

pub mod bounce;
pub mod directory;
pub mod dns;
pub mod dnsbl;
pub mod greylist;
pub mod handoff;
pub mod intake;
pub mod jobs;
pub mod local;
pub mod mailq;
pub mod milter;
pub mod outcome;
pub mod policy;
pub mod rate;
pub mod recent;
pub mod relay;
pub mod rules;
pub mod runner;
pub mod sysexits;
pub mod verify;

pub use directory::SharedDirectory;
pub use intake::{Accepted, Intake, MailAuth, Message, Origin, Refusal, Unknown};
pub use jobs::Jobs;
