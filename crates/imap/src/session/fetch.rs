//! FETCH (RFC 3501 6.4.5, 7.4.2; RFC 7162 CHANGEDSINCE and MODSEQ).

use super::Session;
use super::selected::flag_list;
use crate::backend::{FlagOp, Mailboxes, MessageMeta, StoreError};
use crate::flags::{self, Flags};
use crate::parser::{FetchAttr, FetchModifiers, Section, SectionText, SequenceSet};
use crate::response;
use crate::structure::{self, Part, bodystructure, envelope, section};

fn needs_content(attr: &FetchAttr) -> bool {
    !matches!(
        attr,
        FetchAttr::Flags | FetchAttr::InternalDate | FetchAttr::Rfc822Size | FetchAttr::Uid | FetchAttr::ModSeq
    )
}

/// Items that set \Seen (RFC 3501 6.4.5: BODY[...] without PEEK, RFC822, RFC822.TEXT).
fn sets_seen(attr: &FetchAttr) -> bool {
    matches!(attr, FetchAttr::Rfc822 | FetchAttr::Rfc822Text | FetchAttr::Section { peek: false, .. })
}

impl<M: Mailboxes> Session<M> {
    pub(super) fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        items: &[FetchAttr],
        modifiers: &FetchModifiers,
    ) -> bool {
        if modifiers.vanished {
            self.bad(Some(tag), "VANISHED needs QRESYNC, which is not supported");
            return false;
        }
        self.condstore |= modifiers.changed_since.is_some() || items.contains(&FetchAttr::ModSeq);
        let mut items = items.to_vec();
        // RFC 3501 6.4.8: UID FETCH always returns UID; RFC 7162 3.1.4.1: CHANGEDSINCE adds MODSEQ.
        if uid && !items.contains(&FetchAttr::Uid) {
            items.insert(0, FetchAttr::Uid);
        }
        if modifiers.changed_since.is_some() && !items.contains(&FetchAttr::ModSeq) {
            items.push(FetchAttr::ModSeq);
        }
        let Some(idx) = self.resolve_or_bad(tag, set, uid) else { return false };
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else { return true };
        let content = items.iter().any(needs_content);
        let seen = !sel.read_only && items.iter().any(sets_seen);
        let mut gone = false;
        for i in idx {
            if modifiers.changed_since.is_some_and(|c| sel.msgs[i].meta.modseq <= c) {
                continue;
            }
            if sel.msgs[i].expunged {
                gone = true;
                continue;
            }
            let uid_i = sel.msgs[i].meta.uid;
            let message = if content {
                match backend.fetch(&sel.name, uid_i) {
                    Ok(raw) => Some(structure::crlf(&raw).into_owned()),
                    Err(StoreError::Expunged) => {
                        gone = true;
                        continue;
                    }
                    Err(e) => {
                        self.store_error(tag, &e, false);
                        return false;
                    }
                }
            } else {
                None
            };
            let mut flags_changed = false;
            if seen && !sel.msgs[i].meta.flags.contains(flags::SEEN) {
                let seen_flag: Flags = [flags::SEEN].into_iter().collect();
                if let Ok(stored) = backend.store(&sel.name, &[uid_i], FlagOp::Add, &seen_flag, None) {
                    for meta in stored.updated {
                        sel.msgs[i].meta.flags = meta.flags;
                        sel.msgs[i].meta.modseq = meta.modseq;
                        flags_changed = true;
                    }
                }
            }
            let mut attrs = items.clone();
            // RFC 3501 6.4.5: a \Seen set by the fetch is reported.
            if flags_changed && !attrs.contains(&FetchAttr::Flags) {
                attrs.push(FetchAttr::Flags);
            }
            let root = message.as_deref().map(structure::parse);
            let msg = message.as_deref().zip(root.as_ref());
            render(&mut self.out, i + 1, &sel.msgs[i].meta, &attrs, msg);
        }
        if gone {
            // RFC 2180 4.1.2; RFC 5530 EXPUNGEISSUED.
            self.sync(uid);
            self.no(tag, Some("EXPUNGEISSUED"), "Some of the requested messages no longer exist");
            return false;
        }
        true
    }
}

/// Writes `* seq FETCH (...)` for one message; `msg` is its CRLF bytes and structure.
fn render(out: &mut Vec<u8>, seq: usize, meta: &MessageMeta, attrs: &[FetchAttr], msg: Option<(&[u8], &Part)>) {
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    // Content items are only asked for with the content.
    let attrs = attrs.iter().filter(|a| msg.is_some() || !needs_content(a));
    for (n, attr) in attrs.enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        match (attr, msg) {
            (FetchAttr::Uid, _) => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
            (FetchAttr::Flags, _) => {
                out.extend_from_slice(b"FLAGS ");
                flag_list(out, meta);
            }
            (FetchAttr::InternalDate, _) => {
                out.extend_from_slice(format!("INTERNALDATE \"{}\"", meta.internal_date.to_imap()).as_bytes())
            }
            (FetchAttr::Rfc822Size, _) => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
            (FetchAttr::ModSeq, _) => out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes()),
            (FetchAttr::Envelope, Some((m, root))) => {
                out.extend_from_slice(b"ENVELOPE ");
                envelope::write(out, &root.fields(m));
            }
            (FetchAttr::Body, Some((m, root))) => {
                out.extend_from_slice(b"BODY ");
                bodystructure::write(out, m, root, false);
            }
            (FetchAttr::BodyStructure, Some((m, root))) => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                bodystructure::write(out, m, root, true);
            }
            (FetchAttr::Rfc822, Some((m, _))) => {
                out.extend_from_slice(b"RFC822 ");
                response::literal(out, m);
            }
            (FetchAttr::Rfc822Header, Some((m, root))) => {
                out.extend_from_slice(b"RFC822.HEADER ");
                response::literal(out, &m[root.header.clone()]);
            }
            (FetchAttr::Rfc822Text, Some((m, root))) => {
                out.extend_from_slice(b"RFC822.TEXT ");
                response::literal(out, &m[root.body.clone()]);
            }
            (FetchAttr::Section { section: s, partial, .. }, Some((m, root))) => {
                out.extend_from_slice(b"BODY[");
                section_spec(out, s);
                out.push(b']');
                let data = section::extract(m, root, s);
                match (data, partial) {
                    (Some(d), Some((origin, count))) => {
                        out.extend_from_slice(format!("<{origin}> ").as_bytes());
                        response::literal(out, section::partial(&d, *origin, *count));
                    }
                    (Some(d), None) => {
                        out.push(b' ');
                        response::literal(out, &d);
                    }
                    (None, _) => out.extend_from_slice(b" NIL"),
                }
            }
            (_, None) => {}
        }
    }
    out.extend_from_slice(b")\r\n");
}

/// The section as echoed in the response (RFC 3501 7.4.2 `section`).
fn section_spec(out: &mut Vec<u8>, s: &Section) {
    let parts: Vec<String> = s.part.iter().map(u32::to_string).collect();
    out.extend_from_slice(parts.join(".").as_bytes());
    let Some(text) = &s.text else { return };
    if !s.part.is_empty() {
        out.push(b'.');
    }
    let (word, names) = match text {
        SectionText::Header => ("HEADER", None),
        SectionText::Text => ("TEXT", None),
        SectionText::Mime => ("MIME", None),
        SectionText::HeaderFields(n) => ("HEADER.FIELDS", Some(n)),
        SectionText::HeaderFieldsNot(n) => ("HEADER.FIELDS.NOT", Some(n)),
    };
    out.extend_from_slice(word.as_bytes());
    if let Some(names) = names {
        out.extend_from_slice(b" (");
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            response::astring(out, n.as_bytes());
        }
        out.push(b')');
    }
}
