//! The mailbox store: one store that the MTA writes and the POP3/IMAP sessions read.
//!
//! The embedded implementation is Maildir (cr.yp.to/proto/maildir.html) in the Maildir++
//! layout Dovecot and Courier use: readable by mutt, s-nail and Dovecot, and safe without
//! locks for delivery. Per mailbox, an index (`carrier-index`, see [`index`]) keeps IMAP UIDs,
//! UIDVALIDITY and MODSEQs; flags live in the file names as the Maildir spec says.
//!
//! - [`Maildir`] is the store: [`Maildir::deliver`] for the delivery agent,
//!   [`Maildir::account`] for a user's mailboxes.
//! - [`Account`] lists, creates, deletes, renames and subscribes mailboxes, answers STATUS,
//!   appends, and opens a [`Mailbox`].
//! - [`Mailbox`] gives a [`Snapshot`] (UIDs, flags, MODSEQs, sizes, dates), message contents,
//!   flag changes, expunge, copy and move.
//! - [`Registry`] tells sessions of this process when a mailbox changed.
//!
//! Delivery is idempotent: the file name is derived from the (message, recipient) id, so a
//! retry after a crash recognises the file it wrote before and does not write it again.

mod account;
mod error;
mod files;
pub mod flags;
mod fsutil;
mod groupsync;
pub mod index;
mod mailbox;
mod maildir;
pub mod names;
mod notify;
mod quota;
mod scripts;
mod sync;
mod uidvalidity;

pub use account::{Account, Appended, MailboxInfo, SpecialUse, Status};
pub use error::StoreError;
pub use flags::{Flag, FlagOp, Flags};
pub use mailbox::{Access, CopyUid, Mailbox, Message, Snapshot, Stored};
pub use maildir::{Delivered, Delivery, MailboxStore, Maildir};
pub use names::{DELIMITER, mutf7};
pub use notify::{POLL_INTERVAL, Registry, Watch};
pub use quota::{Exceeded, Quota, QuotaSource, Resource, Usage};
pub use scripts::{Remembered, ScriptError, Scripts};
