//! The selected mailbox as this session knows it (sequence numbers and UIDs, flags, what
//! was announced), and the responses that describe it.

use crate::backend::MessageMeta;
use crate::flags::{self, Flags};
use crate::parser::SequenceSet;
use crate::parser::sequence::compress;
use crate::response::{self, Status};

/// One message in the view; an expunged one keeps its number until the EXPUNGE is sent.
#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub meta: MessageMeta,
    pub expunged: bool,
}

/// The selected mailbox as this session knows it.
#[derive(Debug)]
pub(super) struct Selected {
    pub name: String,
    pub read_only: bool,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub msgs: Vec<Msg>,
    /// The keywords announced in FLAGS.
    pub keywords: Vec<String>,
}

impl Selected {
    pub fn max_uid(&self) -> u32 {
        self.msgs.last().map_or(0, |m| m.meta.uid)
    }

    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.meta.uid).ok()
    }

    /// Indexes named by a sequence set: message numbers (a number past the end is an
    /// error, RFC 3501 9) or UIDs (absent ones are ignored, RFC 3501 6.4.8).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, String> {
        if !uid {
            return Ok(set.resolve_seq(self.msgs.len() as u32)?.into_iter().map(|n| n as usize - 1).collect());
        }
        let max = self.max_uid();
        Ok((0..self.msgs.len()).filter(|&i| set.contains(self.msgs[i].meta.uid, max)).collect())
    }
}

/// RFC 3501 7.2.6: a keyword the client was not told about is announced with a new FLAGS
/// response before any FETCH shows it.
pub(super) fn announce_keywords<'a>(
    sel: &mut Selected,
    out: &mut Vec<u8>,
    metas: impl IntoIterator<Item = &'a MessageMeta>,
) {
    let before = sel.keywords.len();
    for meta in metas {
        for f in meta.flags.iter().filter(|f| !f.starts_with('\\')) {
            if !sel.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                sel.keywords.push(f.to_string());
            }
        }
    }
    if sel.keywords.len() > before {
        write_flags(out, &sel.keywords, sel.read_only);
    }
}

/// Flags a client may set: no `\Recent`, no unknown system flag (RFC 3501 2.3.2).
pub(super) fn client_flags(list: &[String]) -> Result<Flags, String> {
    for f in list {
        if f.eq_ignore_ascii_case(flags::RECENT) {
            return Err("\\Recent cannot be set by clients".into());
        }
        if f.starts_with('\\') && !flags::SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(f)) {
            return Err(format!("Unknown system flag {f}"));
        }
    }
    Ok(list.iter().collect())
}

/// `(flags)` with `\Recent` for this session.
pub(super) fn flag_list(out: &mut Vec<u8>, meta: &MessageMeta) {
    let recent = meta.recent.then_some(flags::RECENT);
    response::atom_list(out, meta.flags.iter().chain(recent));
}

/// `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]` for the system flags and `keywords`.
pub(super) fn write_flags(out: &mut Vec<u8>, keywords: &[String], read_only: bool) {
    let mut all: Vec<&str> = flags::SYSTEM.to_vec();
    all.extend(keywords.iter().map(String::as_str));
    out.extend_from_slice(b"* FLAGS ");
    response::atom_list(out, all.iter().copied());
    out.extend_from_slice(b"\r\n");
    let mut permanent = if read_only { Vec::new() } else { all };
    if !read_only {
        permanent.push("\\*");
    }
    let mut code = b"PERMANENTFLAGS ".to_vec();
    response::atom_list(&mut code, permanent);
    let code = String::from_utf8_lossy(&code).into_owned();
    response::status(out, None, Status::Ok, Some(&code), "Flags permitted");
}

/// Reports the view's expunged messages and drops them: `* n EXPUNGE`, highest number
/// first, or once QRESYNC is enabled one `* VANISHED uids` (RFC 7162 3.2.10). True when
/// there were any.
pub(super) fn report_expunges(sel: &mut Selected, out: &mut Vec<u8>, vanished: bool) -> bool {
    let before = sel.msgs.len();
    if vanished {
        let gone: Vec<u32> = sel.msgs.iter().filter(|m| m.expunged).map(|m| m.meta.uid).collect();
        if !gone.is_empty() {
            sel.msgs.retain(|m| !m.expunged);
            out.extend_from_slice(format!("* VANISHED {}\r\n", compress(&gone)).as_bytes());
        }
        return sel.msgs.len() != before;
    }
    for i in (0..sel.msgs.len()).rev() {
        if sel.msgs[i].expunged {
            sel.msgs.remove(i);
            out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
        }
    }
    sel.msgs.len() != before
}

/// `* n FETCH ([UID u] FLAGS (...) [MODSEQ (m)])`: UID for UID commands and, like MODSEQ,
/// whenever CONDSTORE is enabled (RFC 7162 3.2.4).
pub(super) fn fetch_flags(seq: usize, meta: &MessageMeta, condstore: bool, uid: bool) -> Vec<u8> {
    let mut line = format!("* {seq} FETCH (").into_bytes();
    if uid || condstore {
        line.extend_from_slice(format!("UID {} ", meta.uid).as_bytes());
    }
    line.extend_from_slice(b"FLAGS ");
    flag_list(&mut line, meta);
    if condstore {
        line.extend_from_slice(format!(" MODSEQ ({})", meta.modseq).as_bytes());
    }
    line.extend_from_slice(b")\r\n");
    line
}
