//! QRESYNC (RFC 7162 3.2): what a reconnecting client missed, told in SELECT/EXAMINE, and
//! VANISHED (EARLIER) for UID FETCH.
//!
//! Expunges come from [`Mailboxes::changes`]. A store that keeps no record of them (the
//! Maildir index) reports every UID below UIDNEXT that is absent, so VANISHED (EARLIER) may
//! name UIDs the client never saw or already knows are gone: RFC 7162 3.2.5.1 and 3.2.6
//! allow that, and the client's known UIDs and sequence match data narrow it.

use super::engine::Session;
use super::uidset::UidSet;
use super::view::{Selected, fetch_flags};
use crate::backend::Mailboxes;
use crate::parser::{Qresync, SeqMatch, SequenceSet};

impl<M: Mailboxes> Session<M> {
    /// RFC 7162 3.2.5.1: after the responses of a SELECT/EXAMINE whose UIDVALIDITY matches,
    /// the UIDs expunged and the messages changed since the client's mod-sequence, both
    /// limited to its known UIDs when given.
    pub(super) fn resync(&mut self, q: &Qresync) {
        let known = match &q.known_uids {
            Some(set) => UidSet::from_sequence_set(set, u32::MAX),
            None => UidSet::from_ranges([(1, u32::MAX)]),
        };
        let Some(sel) = self.selected.as_ref() else { return };
        // RFC 7162 3.2.5.2: nothing up to the last matching pair was expunged unseen.
        let floor = q.seq_match.as_ref().map_or(0, |m| matched_floor(sel, m));
        if let Some(gone) = self.vanished_since(q.modseq, &known) {
            write_vanished_earlier(&mut self.out, &gone.above(floor));
        }
        let Some(sel) = self.selected.as_ref() else { return };
        for (i, m) in sel.msgs.iter().enumerate() {
            if m.meta.modseq > q.modseq && known.contains(m.meta.uid) {
                self.out.extend_from_slice(&fetch_flags(i + 1, &m.meta, true, true));
            }
        }
    }

    /// UID FETCH ... (CHANGEDSINCE m VANISHED) (RFC 7162 3.2.6): the UIDs of `set` expunged
    /// after `since`, before the FETCH responses.
    pub(super) fn vanished_fetch(&mut self, set: &SequenceSet, since: u64) {
        let Some(sel) = self.selected.as_ref() else { return };
        // `*` is the highest UID in use: an expunged UID may be above every UID still there.
        let star = sel.uidnext.saturating_sub(1).max(sel.max_uid());
        let within = UidSet::from_sequence_set(set, star);
        if let Some(gone) = self.vanished_since(since, &within) {
            write_vanished_earlier(&mut self.out, &gone);
        }
    }

    /// UIDs of `within` expunged after `since`, as far as the store knows, less those the
    /// view still shows: a plain VANISHED reports them when allowed (RFC 7162 3.2.10), and
    /// must not name a UID the client was already told is gone.
    fn vanished_since(&mut self, since: u64, within: &UidSet) -> Option<UidSet> {
        let (Some(sel), Some(backend)) = (self.selected.as_ref(), self.backend.as_mut()) else { return None };
        let changes = backend.changes(&sel.name, since, sel.read_only).ok()?;
        let shown: Vec<u32> = sel.msgs.iter().map(|m| m.meta.uid).collect();
        Some(UidSet::from_ranges(changes.expunged).intersect(within).without(&shown))
    }
}

/// `* VANISHED (EARLIER) uids`, unless there are none (RFC 7162 3.2.10).
fn write_vanished_earlier(out: &mut Vec<u8>, gone: &UidSet) {
    if !gone.is_empty() {
        out.extend_from_slice(format!("* VANISHED (EARLIER) {gone}\r\n").as_bytes());
    }
}

/// RFC 7162 3.2.5.2: the UID of the last (message number, UID) pair that still matches the
/// mailbox, every pair before it matching too; 0 when none does. The numbers must ascend,
/// so this looks at no more pairs than the mailbox has messages.
fn matched_floor(sel: &Selected, m: &SeqMatch) -> u32 {
    let (mut floor, mut last_seq) = (0, 0);
    for (seq, uid) in m.pairs() {
        let matches = seq > last_seq && sel.msgs.get(seq as usize - 1).is_some_and(|msg| msg.meta.uid == uid);
        if !matches {
            break;
        }
        (floor, last_seq) = (uid, seq);
    }
    floor
}
