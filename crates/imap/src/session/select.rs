//! Opening and closing a mailbox: SELECT and EXAMINE (RFC 3501 6.3.1-2, RFC 7162 3.1.8 and
//! 3.2.5), CLOSE (6.4.2) and UNSELECT (RFC 3691).

use super::engine::Session;
use super::view::{Msg, Selected, write_flags};
use crate::backend::{Mailboxes, Snapshot};
use crate::flags;
use crate::parser::SelectParams;
use crate::response::{self, Status};

impl<M: Mailboxes> Session<M> {
    pub(super) fn select(&mut self, tag: &str, name: &str, read_only: bool, params: SelectParams) -> bool {
        if params.qresync.is_some() && !self.qresync {
            // RFC 7162 3.2.5: BAD, and a command that is BAD does not run: the mailbox stays selected.
            self.bad(Some(tag), "The QRESYNC parameter needs ENABLE QRESYNC first (RFC 7162 3.2.5)");
            return false;
        }
        // RFC 3501 6.3.1: a SELECT closes the current mailbox, even when it fails; RFC 7162
        // 3.2.11: [CLOSED] ends its responses. Sent whether or not QRESYNC is enabled, as
        // Dovecot does: clients ignore codes they do not know (RFC 3501 7.1).
        if self.selected.take().is_some() {
            response::status(&mut self.out, None, Status::Ok, Some("CLOSED"), "Previous mailbox closed");
        }
        let Some(backend) = self.backend.as_mut() else { return false };
        let snap = match backend.select(name, read_only) {
            Ok(s) => s,
            Err(e) => {
                self.store_error(tag, &e, false);
                return false;
            }
        };
        self.condstore |= params.condstore;
        let uidvalidity = snap.uidvalidity;
        self.open_view(name, read_only, snap);
        if let Some(q) = params.qresync.filter(|q| q.uidvalidity == uidvalidity) {
            // RFC 7162 3.2.5.1: only when the UIDVALIDITY matches; else a plain SELECT.
            self.resync(&q);
        }
        let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        let text = if read_only { "EXAMINE completed" } else { "SELECT completed" };
        self.status(tag, Status::Ok, Some(code), text);
        false
    }

    /// The untagged responses of SELECT/EXAMINE (RFC 3501 6.3.1, RFC 7162 3.1.2.1); the
    /// snapshot becomes the view.
    fn open_view(&mut self, name: &str, read_only: bool, snap: Snapshot) {
        let mut keywords = snap.keywords.clone();
        for meta in &snap.messages {
            for f in meta.flags.iter().filter(|f| !f.starts_with('\\')) {
                if !keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                    keywords.push(f.to_string());
                }
            }
        }
        let out = &mut self.out;
        write_flags(out, &keywords, read_only);
        let recent = snap.messages.iter().filter(|m| m.recent).count();
        out.extend_from_slice(format!("* {} EXISTS\r\n* {recent} RECENT\r\n", snap.messages.len()).as_bytes());
        if let Some(i) = snap.messages.iter().position(|m| !m.flags.contains(flags::SEEN)) {
            response::status(out, None, Status::Ok, Some(&format!("UNSEEN {}", i + 1)), "First unseen");
        }
        response::status(out, None, Status::Ok, Some(&format!("UIDVALIDITY {}", snap.uidvalidity)), "UIDs valid");
        response::status(out, None, Status::Ok, Some(&format!("UIDNEXT {}", snap.uidnext)), "Predicted next UID");
        let code = format!("HIGHESTMODSEQ {}", snap.highest_modseq);
        response::status(out, None, Status::Ok, Some(&code), "Highest");
        self.selected = Some(Selected {
            name: name.to_string(),
            read_only,
            uidnext: snap.uidnext,
            highest_modseq: snap.highest_modseq,
            msgs: snap.messages.into_iter().map(|meta| Msg { meta, expunged: false }).collect(),
            keywords,
        });
    }

    /// CLOSE (expunging silently, RFC 3501 6.4.2) or UNSELECT (RFC 3691).
    pub(super) fn close(&mut self, tag: &str, expunge: bool) -> bool {
        // RFC 7162 3.2.8: with QRESYNC, CLOSE reports the HIGHESTMODSEQ its expunges reached;
        // only when this session reported every earlier change, or the client, resyncing from
        // that value later, would never learn of them.
        let report = expunge && self.qresync && self.up_to_date();
        let (Some(sel), Some(backend)) = (self.selected.take(), self.backend.as_mut()) else { return true };
        if expunge && !sel.read_only {
            // Failures are not reported: the mailbox is closed either way.
            let _ = backend.expunge(&sel.name, None);
        }
        if !report {
            return true;
        }
        let Ok(st) = backend.status(&sel.name) else { return true };
        self.status(tag, Status::Ok, Some(&format!("HIGHESTMODSEQ {}", st.highest_modseq)), "CLOSE completed");
        false
    }

    /// Whether the client has been told every change of the selected mailbox.
    fn up_to_date(&mut self) -> bool {
        let (Some(sel), Some(backend)) = (self.selected.as_ref(), self.backend.as_mut()) else { return false };
        let pending = sel.msgs.iter().any(|m| m.expunged);
        !pending
            && backend
                .changes(&sel.name, sel.highest_modseq, sel.read_only)
                .is_ok_and(|c| c.highest_modseq <= sel.highest_modseq)
    }
}
