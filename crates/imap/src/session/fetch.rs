//! FETCH (RFC 3501 6.4.5, 7.4.2; RFC 7162 CHANGEDSINCE and MODSEQ).

use super::engine::Session;
use super::pending::{FetchStep, HIGH_WATER, Need, PendingFetch, need, needs_content, sets_seen};
use super::view::flag_list;
use crate::backend::{FlagOp, Mailboxes, MessageMeta, StoreError};
use crate::flags::{self, Flags};
use crate::parser::{FetchAttr, FetchModifiers, Section, SectionText, SequenceSet};
use crate::response;
use crate::structure::{self, Part, bodystructure, envelope, section};
use std::borrow::Cow;
use std::cell::OnceCell;

impl<M: Mailboxes> Session<M> {
    pub(super) fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        items: &[FetchAttr],
        modifiers: &FetchModifiers,
    ) -> FetchStep {
        if modifiers.vanished && !self.qresync {
            // RFC 7162 3.2.6
            self.bad(Some(tag), "The VANISHED modifier needs ENABLE QRESYNC first (RFC 7162 3.2.6)");
            return FetchStep::Done(false);
        }
        self.enable_condstore(modifiers.changed_since.is_some() || items.contains(&FetchAttr::ModSeq));
        let mut items = items.to_vec();
        // RFC 3501 6.4.8: UID FETCH always returns UID; RFC 7162 3.1.4.1: CHANGEDSINCE adds MODSEQ.
        if uid && !items.contains(&FetchAttr::Uid) {
            items.insert(0, FetchAttr::Uid);
        }
        if modifiers.changed_since.is_some() && !items.contains(&FetchAttr::ModSeq) {
            items.push(FetchAttr::ModSeq);
        }
        let Some(idx) = self.resolve_or_bad(tag, set, uid) else { return FetchStep::Done(false) };
        if let Some(since) = modifiers.changed_since.filter(|_| modifiers.vanished) {
            self.vanished_fetch(set, since);
        }
        let Some(sel) = self.selected.as_ref() else { return FetchStep::Done(true) };
        let pending = PendingFetch {
            tag: tag.to_string(),
            uid,
            content: items.iter().map(need).max().unwrap_or(Need::Nothing),
            seen: !sel.read_only && items.iter().any(sets_seen),
            items,
            changed_since: modifiers.changed_since,
            idx,
            next: 0,
            gone: false,
        };
        self.fetch_more(Box::new(pending))
    }

    /// Renders the next messages of a FETCH until it is done or the output is over the
    /// high-water mark.
    pub(super) fn fetch_more(&mut self, mut p: Box<PendingFetch>) -> FetchStep {
        let (Some(sel), Some(backend)) = (self.selected.as_mut(), self.backend.as_mut()) else {
            return FetchStep::Done(true);
        };
        while p.next < p.idx.len() {
            if self.out.len() > HIGH_WATER {
                return FetchStep::Paused(p);
            }
            let i = p.idx[p.next];
            p.next += 1;
            if p.changed_since.is_some_and(|c| sel.msgs[i].meta.modseq <= c) {
                continue;
            }
            if sel.msgs[i].expunged {
                p.gone = true;
                continue;
            }
            let uid_i = sel.msgs[i].meta.uid;
            let loaded = match p.content {
                Need::Nothing => None,
                Need::Header => Some(backend.fetch_header(&sel.name, uid_i)),
                Need::Whole => Some(backend.fetch(&sel.name, uid_i)),
            };
            let message = if let Some(loaded) = loaded {
                match loaded {
                    Ok(raw) => Some(raw),
                    Err(StoreError::Expunged) => {
                        p.gone = true;
                        continue;
                    }
                    Err(e) => {
                        let tag = p.tag.clone();
                        self.store_error(&tag, &e, false);
                        return FetchStep::Done(false);
                    }
                }
            } else {
                None
            };
            let mut flags_changed = false;
            if p.seen && !sel.msgs[i].meta.flags.contains(flags::SEEN) {
                let seen_flag: Flags = [flags::SEEN].into_iter().collect();
                if let Ok(stored) = backend.store(&sel.name, &[uid_i], FlagOp::Add, &seen_flag, None) {
                    for meta in stored.updated {
                        sel.msgs[i].meta.flags = meta.flags;
                        sel.msgs[i].meta.modseq = meta.modseq;
                        flags_changed = true;
                    }
                }
            }
            let mut attrs = p.items.clone();
            if flags_changed {
                // RFC 3501 6.4.5: a \Seen set by the fetch is reported; RFC 7162 3.2.4: with
                // its UID and MODSEQ once CONDSTORE is enabled.
                let mut implied = vec![FetchAttr::Flags];
                if self.condstore {
                    implied.extend([FetchAttr::Uid, FetchAttr::ModSeq]);
                }
                for attr in implied {
                    if !attrs.contains(&attr) {
                        attrs.push(attr);
                    }
                }
            }
            render(&mut self.out, i + 1, &sel.msgs[i].meta, &attrs, message.as_deref());
        }
        if p.gone {
            // RFC 2180 4.1.2; RFC 5530 EXPUNGEISSUED.
            self.sync(p.uid);
            self.no(&p.tag, Some("EXPUNGEISSUED"), "Some of the requested messages no longer exist");
            return FetchStep::Done(false);
        }
        FetchStep::Done(true)
    }
}

/// Writes `* seq FETCH (...)` for one message; `raw` is the message as stored (LF or CRLF
/// line ends). Its CRLF form and MIME structure are made only when an item needs them:
/// `BODY[]` and `RFC822` of the whole message go out straight from the stored bytes.
fn render(out: &mut Vec<u8>, seq: usize, meta: &MessageMeta, attrs: &[FetchAttr], raw: Option<&[u8]>) {
    let (crlf, tree) = (OnceCell::new(), OnceCell::new());
    let msg = raw.map(|raw| (raw, Lazy { raw, crlf: &crlf, tree: &tree }));
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
            (FetchAttr::Envelope, Some((_, lazy))) => {
                out.extend_from_slice(b"ENVELOPE ");
                envelope::write(out, &lazy.root().fields(lazy.crlf()));
            }
            (FetchAttr::Body, Some((_, lazy))) => {
                out.extend_from_slice(b"BODY ");
                bodystructure::write(out, lazy.crlf(), lazy.root(), false);
            }
            (FetchAttr::BodyStructure, Some((_, lazy))) => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                bodystructure::write(out, lazy.crlf(), lazy.root(), true);
            }
            (FetchAttr::Rfc822, Some((raw, _))) => {
                out.extend_from_slice(b"RFC822 ");
                response::literal_crlf(out, raw);
            }
            (FetchAttr::Rfc822Header, Some((_, lazy))) => {
                out.extend_from_slice(b"RFC822.HEADER ");
                response::literal(out, &lazy.crlf()[lazy.root().header.clone()]);
            }
            (FetchAttr::Rfc822Text, Some((_, lazy))) => {
                out.extend_from_slice(b"RFC822.TEXT ");
                response::literal(out, &lazy.crlf()[lazy.root().body.clone()]);
            }
            (FetchAttr::Section { section: s, partial: None, .. }, Some((raw, _))) if is_whole(s) => {
                // BODY[]: the whole message, straight from the stored bytes.
                out.extend_from_slice(b"BODY[] ");
                response::literal_crlf(out, raw);
            }
            (FetchAttr::Section { section: s, partial, .. }, Some((_, lazy))) => {
                out.extend_from_slice(b"BODY[");
                section_spec(out, s);
                out.push(b']');
                let m = lazy.crlf();
                let data = if is_whole(s) {
                    Some(Cow::Borrowed(m))
                } else {
                    section::extract(m, lazy.root(), s).map(Cow::Owned)
                };
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

/// `BODY[]`: no part number, no text specifier.
fn is_whole(s: &Section) -> bool {
    s.part.is_empty() && s.text.is_none()
}

/// A message's CRLF form and MIME structure, each made on first use.
#[derive(Clone, Copy)]
struct Lazy<'a> {
    raw: &'a [u8],
    crlf: &'a OnceCell<Cow<'a, [u8]>>,
    tree: &'a OnceCell<Part>,
}

impl<'a> Lazy<'a> {
    fn crlf(&self) -> &'a [u8] {
        self.crlf.get_or_init(|| carrier_syntax::lines::to_crlf(self.raw))
    }

    fn root(&self) -> &'a Part {
        self.tree.get_or_init(|| structure::parse(self.crlf()))
    }
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
