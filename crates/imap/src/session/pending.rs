//! A FETCH in progress, kept by the session between the driver's calls.

use crate::parser::{FetchAttr, Section, SectionText};

/// How much of a message an item needs; ordered, so a FETCH loads the most any item needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Need {
    /// Only the index (flags, dates, sizes, UID, MODSEQ).
    Nothing,
    /// The top-level header (what mail clients list mailboxes with).
    Header,
    /// The whole message.
    Whole,
}

pub(super) fn need(attr: &FetchAttr) -> Need {
    use SectionText::{Header, HeaderFields, HeaderFieldsNot};
    match attr {
        FetchAttr::Flags | FetchAttr::InternalDate | FetchAttr::Rfc822Size | FetchAttr::Uid | FetchAttr::ModSeq => {
            Need::Nothing
        }
        FetchAttr::Envelope | FetchAttr::Rfc822Header => Need::Header,
        FetchAttr::Section {
            section: Section { part, text: Some(Header | HeaderFields(_) | HeaderFieldsNot(_)) },
            ..
        } if part.is_empty() => Need::Header,
        _ => Need::Whole,
    }
}

pub(super) fn needs_content(attr: &FetchAttr) -> bool {
    need(attr) > Need::Nothing
}

/// Items that set \Seen (RFC 3501 6.4.5: BODY[...] without PEEK, RFC822, RFC822.TEXT).
pub(super) fn sets_seen(attr: &FetchAttr) -> bool {
    matches!(attr, FetchAttr::Rfc822 | FetchAttr::Rfc822Text | FetchAttr::Section { peek: false, .. })
}

/// Output held before a FETCH pauses to let the driver send it: a `FETCH 1:* BODY[]` of a
/// large mailbox must not be built whole in memory.
pub(super) const HIGH_WATER: usize = 4 * 1024 * 1024;

/// A FETCH in progress: what is asked, and which messages are left.
#[derive(Debug)]
pub(super) struct PendingFetch {
    pub(super) tag: String,
    /// UID FETCH: expunges may be reported when it ends (RFC 3501 7.4.1).
    pub(super) uid: bool,
    pub(super) items: Vec<FetchAttr>,
    pub(super) changed_since: Option<u64>,
    pub(super) idx: Vec<usize>,
    pub(super) next: usize,
    pub(super) content: Need,
    pub(super) seen: bool,
    pub(super) gone: bool,
}

/// Where a FETCH stands after a call.
pub(super) enum FetchStep {
    /// Finished; false when a NO or BAD was sent (no OK follows).
    Done(bool),
    /// The output is over the high-water mark: send it, then call `fetch_more` again.
    Paused(Box<PendingFetch>),
}

impl PendingFetch {
    pub(super) fn tag(&self) -> &str {
        &self.tag
    }

    pub(super) fn uid(&self) -> bool {
        self.uid
    }
}
