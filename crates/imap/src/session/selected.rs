//! The selected mailbox: the session's view (sequence numbers ↔ UIDs), its updates, and
//! the commands of the Selected state except FETCH, CLOSE and UNSELECT.

use super::engine::Session;
use super::view::{Msg, announce_keywords, client_flags, fetch_flags, report_expunges};
use crate::backend::{FlagOp, Mailboxes};
use crate::parser::sequence::compress;
use crate::parser::{SearchKey, SearchProgram, SequenceSet, StoreMode};
use crate::response::{self, Status};
use crate::search::{self, Bounds, Candidate, Lazy};

impl<M: Mailboxes> Session<M> {
    /// A CONDSTORE-enabling command (RFC 7162 3.1): from now on FETCH responses carry MODSEQ,
    /// and a selected mailbox's HIGHESTMODSEQ is reported at once.
    pub(super) fn enable_condstore(&mut self, enabling: bool) {
        if !enabling || self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.selected {
            let code = format!("HIGHESTMODSEQ {}", sel.highest_modseq);
            response::status(&mut self.out, None, Status::Ok, Some(&code), "Highest");
        }
    }

    /// The view's indexes for a set; on error a BAD is sent.
    pub(super) fn resolve_or_bad(&mut self, tag: &str, set: &SequenceSet, uid: bool) -> Option<Vec<usize>> {
        let result = self.selected.as_ref()?.resolve(set, uid);
        result.map_err(|why| self.bad(Some(tag), &why)).ok()
    }

    /// Brings the view up to date and reports changes: flag updates (FETCH), new messages
    /// (EXISTS, RECENT) and, when allowed, expunges (EXPUNGE or VANISHED).
    pub(super) fn sync(&mut self, allow_expunge: bool) {
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else { return };
        let Ok(changes) = backend.changes(&sel.name, sel.highest_modseq, sel.read_only) else { return };
        announce_keywords(sel, &mut self.out, &changes.updated);
        for &(lo, hi) in &changes.expunged {
            let start = sel.msgs.partition_point(|m| m.meta.uid < lo);
            for m in sel.msgs[start..].iter_mut().take_while(|m| m.meta.uid <= hi) {
                m.expunged = true;
            }
        }
        let mut updates = Vec::new();
        let mut added = 0;
        for meta in changes.updated {
            match sel.index_of(meta.uid) {
                Some(i) => {
                    let old = &mut sel.msgs[i].meta;
                    // With CONDSTORE a new MODSEQ is news even when the flags ended where they
                    // started (+FLAGS then -FLAGS), or the client's HIGHESTMODSEQ goes stale.
                    let changed = !old.flags.same(&meta.flags) || (self.condstore && old.modseq != meta.modseq);
                    old.flags = meta.flags;
                    old.modseq = meta.modseq;
                    if changed {
                        updates.push(i);
                    }
                }
                None if meta.uid > sel.max_uid() => {
                    sel.msgs.push(Msg { meta, expunged: false });
                    added += 1;
                }
                None => {}
            }
        }
        sel.uidnext = sel.uidnext.max(changes.uidnext);
        sel.highest_modseq = sel.highest_modseq.max(changes.highest_modseq);
        for i in updates {
            if !sel.msgs[i].expunged || !allow_expunge {
                let line = fetch_flags(i + 1, &sel.msgs[i].meta, self.condstore, false);
                self.out.extend_from_slice(&line);
            }
        }
        let recent_before = sel.msgs.iter().filter(|m| m.meta.recent).count();
        if allow_expunge && report_expunges(sel, &mut self.out, self.qresync) && added == 0 {
            // RFC 3501 7.3.2: RECENT follows a change of the mailbox's size, here by expunges
            // (this session's or another's) of \Recent messages; with new messages it follows
            // EXISTS below. Clients keep the last count they were told, as imaptest does.
            let recent = sel.msgs.iter().filter(|m| m.meta.recent).count();
            if recent != recent_before {
                self.out.extend_from_slice(format!("* {recent} RECENT\r\n").as_bytes());
            }
        }
        if added > 0 {
            let recent = sel.msgs.iter().filter(|m| m.meta.recent).count();
            self.out.extend_from_slice(format!("* {} EXISTS\r\n* {recent} RECENT\r\n", sel.msgs.len()).as_bytes());
        }
    }

    pub(super) fn expunge(&mut self, tag: &str, uids: Option<&SequenceSet>) -> bool {
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else { return true };
        if sel.read_only {
            self.no(tag, Some("CANNOT"), "The mailbox is read-only (EXAMINE)");
            return false;
        }
        let limit: Option<Vec<u32>> = uids.map(|set| {
            let max = sel.max_uid();
            sel.msgs.iter().map(|m| m.meta.uid).filter(|&u| set.contains(u, max)).collect()
        });
        match backend.expunge(&sel.name, limit.as_deref()) {
            Ok(gone) => {
                for uid in gone {
                    if let Some(i) = sel.index_of(uid) {
                        sel.msgs[i].expunged = true;
                    }
                }
                if !self.qresync {
                    return true;
                }
                // RFC 7162 3.2.7: the HIGHESTMODSEQ after the expunges, all of them reported.
                self.sync(true);
                let highest = self.selected.as_ref().map_or(0, |s| s.highest_modseq);
                self.status(tag, Status::Ok, Some(&format!("HIGHESTMODSEQ {highest}")), "EXPUNGE completed");
                false
            }
            Err(e) => {
                self.store_error(tag, &e, false);
                false
            }
        }
    }

    pub(super) fn search(&mut self, tag: &str, uid: bool, program: &SearchProgram) -> bool {
        if let Some(cs) = program.charset.as_deref().filter(|c| !crate::parser::search::CHARSETS.contains(c)) {
            // RFC 3501 6.4.4: NO with the supported list.
            self.no(tag, Some("BADCHARSET (US-ASCII UTF-8)"), &format!("Charset {cs} is not supported"));
            return false;
        }
        let uses_modseq = has_modseq(&program.key);
        self.enable_condstore(uses_modseq);
        let (Some(sel), Some(backend)) = (self.selected.as_ref(), self.backend.as_mut()) else { return true };
        let bounds = Bounds { exists: sel.msgs.len() as u32, max_uid: sel.max_uid() };
        let mut hits = Vec::new();
        let mut modseqs = Vec::new();
        for (i, m) in sel.msgs.iter().enumerate() {
            let c = Candidate {
                seq: i as u32 + 1,
                uid: m.meta.uid,
                flags: &m.meta.flags,
                recent: m.meta.recent,
                internal_date: m.meta.internal_date,
                size: m.meta.size,
                modseq: m.meta.modseq,
            };
            let mut lazy = Lazy::new(|header_only| match header_only {
                true => backend.fetch_header(&sel.name, m.meta.uid).ok(),
                false => backend.fetch(&sel.name, m.meta.uid).ok(),
            });
            if search::matches(&program.key, &c, bounds, &mut lazy) {
                hits.push(if uid { m.meta.uid } else { c.seq });
                modseqs.push(m.meta.modseq);
            }
        }
        // RFC 7162 3.1.5: the highest mod-sequence of the messages returned when MODSEQ was
        // searched; with only MIN and/or MAX (RFC 4731 3.2) those are just the first and last.
        let returned: Vec<u64> = match program.ret {
            Some(r) if !r.all && !r.count => {
                let ends = [r.min.then(|| modseqs.first()), r.max.then(|| modseqs.last())];
                ends.into_iter().flatten().flatten().copied().collect()
            }
            _ => modseqs,
        };
        let modseq = uses_modseq.then(|| returned.iter().copied().max().unwrap_or(0));
        match program.ret {
            Some(ret) => search::esearch(&mut self.out, tag, uid, ret, &hits, modseq),
            None => {
                let mut line = b"* SEARCH".to_vec();
                for h in &hits {
                    line.extend_from_slice(format!(" {h}").as_bytes());
                }
                if let Some(m) = modseq.filter(|_| !hits.is_empty()) {
                    line.extend_from_slice(format!(" (MODSEQ {m})").as_bytes());
                }
                line.extend_from_slice(b"\r\n");
                self.out.extend_from_slice(&line);
            }
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        list: &[String],
    ) -> bool {
        let flags = match client_flags(list) {
            Ok(f) => f,
            Err(why) => {
                self.bad(Some(tag), &why);
                return false;
            }
        };
        self.enable_condstore(unchanged_since.is_some());
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.no(tag, Some("CANNOT"), "The mailbox is read-only (EXAMINE)");
            return false;
        }
        let Some(idx) = self.resolve_or_bad(tag, set, uid) else { return false };
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else { return true };
        let uids: Vec<u32> = idx.iter().map(|&i| sel.msgs[i].meta.uid).collect();
        let op = match mode {
            StoreMode::Add => FlagOp::Add,
            StoreMode::Remove => FlagOp::Remove,
            StoreMode::Replace => FlagOp::Replace,
        };
        let stored = match backend.store(&sel.name, &uids, op, &flags, unchanged_since) {
            Ok(s) => s,
            Err(e) => {
                self.store_error(tag, &e, false);
                return false;
            }
        };
        announce_keywords(sel, &mut self.out, &stored.updated);
        for meta in stored.updated {
            let Some(i) = sel.index_of(meta.uid) else { continue };
            let m = &mut sel.msgs[i].meta;
            m.flags = meta.flags;
            m.modseq = meta.modseq;
            if !silent {
                let line = fetch_flags(i + 1, m, self.condstore, uid);
                self.out.extend_from_slice(&line);
            } else if self.condstore {
                // RFC 7162 3.1.3: with CONDSTORE the new MODSEQ is reported even for .SILENT
                // (with the UID, as every FETCH response is once CONDSTORE is on).
                let line = format!("* {} FETCH (UID {} MODSEQ ({}))\r\n", i + 1, m.uid, m.modseq);
                self.out.extend_from_slice(line.as_bytes());
            }
        }
        if !stored.modified.is_empty() {
            // RFC 7162 3.1.3: MODIFIED lists what failed the UNCHANGEDSINCE test.
            let mut ids: Vec<u32> = if uid {
                stored.modified
            } else {
                stored.modified.iter().filter_map(|&u| sel.index_of(u).map(|i| i as u32 + 1)).collect()
            };
            ids.sort_unstable();
            let code = format!("MODIFIED {}", compress(&ids));
            self.sync(uid);
            self.status(tag, Status::Ok, Some(&code), "Conditional STORE failed for some messages");
            return false;
        }
        true
    }

    /// COPY / MOVE (RFC 3501 6.4.7, RFC 6851, RFC 4315 COPYUID).
    pub(super) fn copy(&mut self, tag: &str, uid: bool, set: &SequenceSet, target: &str, moving: bool) -> bool {
        if moving && self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.no(tag, Some("CANNOT"), "The mailbox is read-only (EXAMINE)");
            return false;
        }
        let Some(idx) = self.resolve_or_bad(tag, set, uid) else { return false };
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else { return true };
        let uids: Vec<u32> = idx.iter().filter(|&&i| !sel.msgs[i].expunged).map(|&i| sel.msgs[i].meta.uid).collect();
        let result = if moving {
            backend.move_messages(&sel.name, &uids, target)
        } else {
            backend.copy(&sel.name, &uids, target)
        };
        let copied = match result {
            Ok(c) => c,
            Err(e) => {
                self.store_error(tag, &e, true);
                return false;
            }
        };
        let code = (!copied.uids.is_empty()).then(|| {
            let src: Vec<u32> = copied.uids.iter().map(|&(s, _)| s).collect();
            let dst: Vec<u32> = copied.uids.iter().map(|&(_, d)| d).collect();
            format!("COPYUID {} {} {}", copied.uidvalidity, compress(&src), compress(&dst))
        });
        if !moving {
            self.sync(uid);
            self.status(tag, Status::Ok, code.as_deref(), "COPY completed");
            return false;
        }
        // RFC 6851 3.3: COPYUID in an untagged OK before the EXPUNGEs.
        if let Some(code) = &code {
            response::status(&mut self.out, None, Status::Ok, Some(code), "Moved");
        }
        for (src, _) in copied.uids {
            if let Some(i) = sel.index_of(src) {
                sel.msgs[i].expunged = true;
            }
        }
        true
    }
}

fn has_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::And(keys) => keys.iter().any(has_modseq),
        SearchKey::Or(a, b) => has_modseq(a) || has_modseq(b),
        SearchKey::Not(k) => has_modseq(k),
        _ => false,
    }
}
