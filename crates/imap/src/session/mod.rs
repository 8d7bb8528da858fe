//! The IMAP server session as a sans-IO state machine (RFC 3501 3: Not Authenticated,
//! Authenticated, Selected, Logout).
//!
//! The driver feeds received bytes with [`Session::feed`], then calls
//! [`Session::next_event`] until it returns [`Event::NeedInput`] or [`Event::Close`],
//! writing [`Session::take_output`] to the client each time. Credentials are checked by
//! the driver ([`Event::Auth`], answered with [`Session::authenticated`], which also hands
//! over the user's [`Mailboxes`]). When the driver learns that the selected mailbox
//! changed it calls [`Session::mailbox_changed`]: during IDLE the updates are sent at
//! once, otherwise with the next command's response.

mod engine;
mod fetch;
mod mailbox;
mod pending;
mod qresync;
mod select;
mod selected;
mod uidset;
mod view;

pub use engine::{AuthError, Config, Event, Session, State};

#[cfg(test)]
mod tests;
