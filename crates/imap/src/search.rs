//! SEARCH evaluation (RFC 3501 6.4.4) against one message, and the ESEARCH response
//! (RFC 4731).
//!
//! Strings match as case-insensitive substrings after Unicode lower-casing. Header values
//! are compared after decoding RFC 2047 encoded-words, bodies after undoing
//! Content-Transfer-Encoding (base64, quoted-printable) and the charset (UTF-8, US-ASCII,
//! ISO-8859-1/Windows-1252; others are read as UTF-8).

use crate::datetime::DateTime;
use crate::flags::{self, Flags};
use crate::parser::SearchKey;
use crate::parser::search::SearchReturn;
use crate::parser::sequence::compress;
use crate::structure::{self, Content, Part, header};
use base64::Engine;

/// What the session knows of one message.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Message sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags and keywords.
    pub flags: &'a Flags,
    /// \Recent in this session.
    pub recent: bool,
    /// INTERNALDATE.
    pub internal_date: DateTime,
    /// RFC822.SIZE.
    pub size: u64,
    /// MODSEQ.
    pub modseq: u64,
}

/// The mailbox-wide values `*` stands for.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Number of messages (`*` in sequence sets).
    pub exists: u32,
    /// Highest UID in the mailbox (`*` in UID sets).
    pub max_uid: u32,
}

/// The message's content, loaded on first use (only header, body and sent-date keys need
/// it), and only its header while header and sent-date keys are all that ask.
pub struct Lazy<F: FnMut(bool) -> Option<Vec<u8>>> {
    load: F,
    header: Option<Option<(Vec<u8>, Part)>>,
    whole: Option<Option<(Vec<u8>, Part)>>,
}

/// The message in CRLF form and its structure.
fn parsed(raw: Vec<u8>) -> (Vec<u8>, Part) {
    let msg = carrier_syntax::lines::to_crlf(&raw).into_owned();
    let root = structure::parse(&msg);
    (msg, root)
}

impl<F: FnMut(bool) -> Option<Vec<u8>>> Lazy<F> {
    /// `load(header_only)` returns the message bytes (any line ends), or with `header_only`
    /// at least its header (see [`crate::Mailboxes::fetch_header`]); `None` if it is gone.
    pub fn new(load: F) -> Lazy<F> {
        Lazy { load, header: None, whole: None }
    }

    /// The whole message.
    fn get(&mut self) -> Option<(&[u8], &Part)> {
        if self.whole.is_none() {
            self.whole = Some((self.load)(false).map(parsed));
        }
        self.whole.as_ref()?.as_ref().map(|(m, p)| (m.as_slice(), p))
    }

    /// The message with at least its top-level header, which is all `root.fields` reads.
    fn head(&mut self) -> Option<(&[u8], &Part)> {
        if self.whole.is_some() {
            return self.get();
        }
        if self.header.is_none() {
            self.header = Some((self.load)(true).map(parsed));
        }
        self.header.as_ref()?.as_ref().map(|(m, p)| (m.as_slice(), p))
    }
}

/// Whether the key needs the message's content.
pub fn needs_content(key: &SearchKey) -> bool {
    use SearchKey::*;
    match key {
        And(keys) => keys.iter().any(needs_content),
        Or(a, b) => needs_content(a) || needs_content(b),
        Not(k) => needs_content(k),
        Header(..) | Body(_) | Text(_) | SentBefore(_) | SentOn(_) | SentSince(_) => true,
        _ => false,
    }
}

/// Whether the message matches.
pub fn matches<F: FnMut(bool) -> Option<Vec<u8>>>(
    key: &SearchKey,
    m: &Candidate,
    b: Bounds,
    content: &mut Lazy<F>,
) -> bool {
    use SearchKey::*;
    match key {
        And(keys) => keys.iter().all(|k| matches(k, m, b, content)),
        Or(x, y) => matches(x, m, b, content) || matches(y, m, b, content),
        Not(k) => !matches(k, m, b, content),
        All => true,
        Flag(f) => m.flags.contains(f) || (f.eq_ignore_ascii_case(flags::RECENT) && m.recent),
        NotFlag(f) => !m.flags.contains(f),
        New => m.recent && !m.flags.contains(flags::SEEN),
        Old => !m.recent,
        Recent => m.recent,
        Before(d) => m.internal_date.day() < *d,
        On(d) => m.internal_date.day() == *d,
        Since(d) => m.internal_date.day() >= *d,
        Larger(n) => m.size > u64::from(*n),
        Smaller(n) => m.size < u64::from(*n),
        Uid(set) => set.contains(m.uid, b.max_uid),
        Seq(set) => set.contains(m.seq, b.exists),
        ModSeq(n) => m.modseq >= *n,
        SentBefore(d) => sent_day(content).is_some_and(|s| s < *d),
        SentOn(d) => sent_day(content).is_some_and(|s| s == *d),
        SentSince(d) => sent_day(content).is_some_and(|s| s >= *d),
        Header(name, s) => content.head().is_some_and(|(msg, root)| header_contains(msg, root, name, s)),
        Body(s) => content.get().is_some_and(|(msg, root)| body_contains(msg, root, &fold(s))),
        Text(s) => content.get().is_some_and(|(msg, root)| {
            let needle = fold(s);
            fold(&decode_words(&msg[root.header.clone()])).contains(&needle) || body_contains(msg, root, &needle)
        }),
    }
}

fn sent_day<F: FnMut(bool) -> Option<Vec<u8>>>(content: &mut Lazy<F>) -> Option<i64> {
    let (msg, root) = content.head()?;
    let date = root.field(msg, "Date")?;
    DateTime::parse_rfc5322(&String::from_utf8_lossy(&date)).map(|d| d.day())
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn header_contains(msg: &[u8], root: &Part, name: &str, s: &str) -> bool {
    let needle = fold(s);
    let addresses = ADDRESS_FIELDS.iter().any(|a| a.eq_ignore_ascii_case(name));
    root.fields(msg).iter().filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).any(|f| {
        let value = header::unfold(f.value);
        fold(&decode_words(&value)).contains(&needle) || (addresses && fold(&address_text(&value)).contains(&needle))
    })
}

/// Header fields holding addresses (RFC 5322 3.6.2, 3.6.3).
const ADDRESS_FIELDS: [&str; 6] = ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"];

/// Addresses as `name <local@domain>`, without comments or folding, so that FROM
/// user@example.org finds `<user (comment)@ (comment) example.org>` as the ENVELOPE shows it.
fn address_text(value: &[u8]) -> String {
    let text = |b: &Option<Vec<u8>>| b.as_deref().map(decode_words).unwrap_or_default();
    let parts: Vec<String> = structure::address::parse_list(value)
        .iter()
        .filter(|a| a.host.is_some())
        .map(|a| format!("{} <{}@{}>", text(&a.name), text(&a.mailbox), text(&a.host)))
        .collect();
    parts.join(", ")
}

/// Searches the decoded text of every leaf part (and encapsulated messages' headers).
fn body_contains(msg: &[u8], part: &Part, needle: &str) -> bool {
    match &part.content {
        Content::Multipart(parts) => parts.iter().any(|p| body_contains(msg, p, needle)),
        Content::Message(inner) => {
            fold(&decode_words(&msg[inner.header.clone()])).contains(needle) || body_contains(msg, inner, needle)
        }
        Content::Leaf => {
            let body = &msg[part.body.clone()];
            let encoding = part.field(msg, "Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
            let raw = match encoding.as_slice() {
                b"base64" => decode_base64(body),
                b"quoted-printable" => decode_qp(body),
                _ => body.to_vec(),
            };
            let charset = part.params.iter().find(|(k, _)| k.eq_ignore_ascii_case("charset")).map(|(_, v)| v.as_str());
            fold(&decode_charset(&raw, charset.unwrap_or("utf-8"))).contains(needle)
        }
    }
}

fn decode_base64(data: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> =
        data.iter().copied().filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    // A dangling sextet cannot be decoded; drop it.
    let usable = clean.len() - usize::from(clean.len() % 4 == 1);
    engine.decode(&clean[..usable]).unwrap_or_default()
}

/// RFC 2045 6.7; `underscore` for the RFC 2047 4.2 "Q" encoding.
fn qp(data: &[u8], underscore: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'=' if data[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if data[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if hex_pair(data, i + 1).is_some() => {
                out.extend(hex_pair(data, i + 1));
                i += 3;
            }
            b'_' if underscore => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_qp(data: &[u8]) -> Vec<u8> {
    qp(data, false)
}

fn hex_pair(data: &[u8], i: usize) -> Option<u8> {
    let digit = |b: Option<&u8>| (*b? as char).to_digit(16);
    Some((digit(data.get(i))? * 16 + digit(data.get(i + 1))?) as u8)
}

fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset.to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "windows-1252" | "cp1252" | "iso-8859-15" => {
            bytes.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?text?=`); whitespace between two
/// adjacent encoded-words is dropped (RFC 2047 6.2).
pub fn decode_words(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let Some((decoded, len)) = encoded_word(&rest[start..]) else {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            after_word = false;
            continue;
        };
        let gap = &rest[..start];
        if !(after_word && gap.chars().all(char::is_whitespace)) {
            out.push_str(gap);
        }
        out.push_str(&decoded);
        rest = &rest[start + len..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

fn encoded_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let data = &body[..end];
    if data.contains(char::is_whitespace) {
        return None;
    }
    // RFC 2231 5: charset*language.
    let charset = charset.split('*').next().unwrap_or_default();
    let bytes = match encoding {
        "B" | "b" => decode_base64(data.as_bytes()),
        "Q" | "q" => qp(data.as_bytes(), true),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(&bytes, charset), len.min(s.len())))
}

/// Writes an ESEARCH response (RFC 4731 3.1) for matches (sequence numbers or UIDs,
/// ascending); `modseq` is the CONDSTORE addition (RFC 7162 3.1.5).
pub fn esearch(out: &mut Vec<u8>, tag: &str, uid: bool, ret: SearchReturn, hits: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* ESEARCH (TAG ");
    crate::response::quoted(out, tag.as_bytes());
    out.push(b')');
    if uid {
        out.extend_from_slice(b" UID");
    }
    if let (true, Some(min)) = (ret.min, hits.first()) {
        out.extend_from_slice(format!(" MIN {min}").as_bytes());
    }
    if let (true, Some(max)) = (ret.max, hits.last()) {
        out.extend_from_slice(format!(" MAX {max}").as_bytes());
    }
    if ret.count {
        out.extend_from_slice(format!(" COUNT {}", hits.len()).as_bytes());
    }
    if ret.all && !hits.is_empty() {
        out.extend_from_slice(format!(" ALL {}", compress(hits)).as_bytes());
    }
    if let Some(m) = modseq.filter(|_| !hits.is_empty()) {
        out.extend_from_slice(format!(" MODSEQ {m}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::lexer::Cursor;
    use crate::parser::search::parse_program;

    #[test]
    fn address_keys_see_addresses_without_comments() {
        // imaptest's search-addresses: comments inside the address.
        let msg = b"From: <user-from (comment)@ (comment) domain.org>\r\nCc: Bob (x) <bob@ex.org>\r\n\r\n";
        let root = structure::parse(msg);
        assert!(header_contains(msg, &root, "From", "user-from@domain.org"));
        assert!(header_contains(msg, &root, "cc", "bob <bob@ex.org>"));
        assert!(!header_contains(msg, &root, "Subject", "x"));
    }

    const MSG: &[u8] = b"From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\nTo: bob@example.com\n\
Subject: =?utf-8?B?SGVsbG8gV8O2cmxk?= =?utf-8?Q?_again?=\nDate: Mon, 7 Feb 1994 21:52:25 -0800\n\
X-Tag: Blue\nContent-Type: multipart/alternative; boundary=z\n\n--z\n\
Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
Gr=C3=BC=C3=9Fe aus K=C3=B6ln, soft=\nbreak\n--z\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n\
PGI+Ym9sZDwvYj4=\n--z--\n";

    fn run(criteria: &str, flags: &[&str], recent: bool) -> bool {
        let program = parse_program(&mut Cursor::new(format!(" {criteria}\r\n").as_bytes())).unwrap();
        let flags: Flags = flags.iter().collect();
        let m = Candidate {
            seq: 3,
            uid: 30,
            flags: &flags,
            recent,
            internal_date: DateTime::parse_imap("08-Feb-1994 05:52:25 +0000").unwrap(),
            size: MSG.len() as u64,
            modseq: 7,
        };
        // Header-only loads get only the header, as a Maildir store gives them.
        let mut lazy = Lazy::new(|header_only| match header_only {
            true => Some(MSG[..structure::header_len(MSG)].to_vec()),
            false => Some(MSG.to_vec()),
        });
        matches(&program.key, &m, Bounds { exists: 5, max_uid: 50 }, &mut lazy)
    }

    /// Which loads a search made: `true` for a header-only one.
    fn loads(criteria: &str) -> Vec<bool> {
        let program = parse_program(&mut Cursor::new(format!(" {criteria}\r\n").as_bytes())).unwrap();
        let flags = Flags::default();
        let internal_date = DateTime::parse_imap("08-Feb-1994 05:52:25 +0000").unwrap();
        let m = Candidate { seq: 1, uid: 1, flags: &flags, recent: false, internal_date, size: 1, modseq: 1 };
        let mut calls = Vec::new();
        let mut lazy = Lazy::new(|header_only| {
            calls.push(header_only);
            Some(MSG.to_vec())
        });
        matches(&program.key, &m, Bounds { exists: 1, max_uid: 1 }, &mut lazy);
        calls
    }

    #[test]
    fn header_keys_read_only_the_header() {
        assert_eq!(loads("SUBJECT nothing FROM nobody"), [true], "one header load serves every header key");
        assert_eq!(loads("HEADER X-Nope x SENTBEFORE 1-Jan-2030"), [true]);
        assert_eq!(loads("BODY nothing"), [false]);
        assert_eq!(loads("TEXT nothing SUBJECT x"), [false], "once whole, header keys use it");
        assert_eq!(loads("OR SUBJECT x BODY y"), [true, false]);
        assert!(loads("SEEN UNSEEN").is_empty());
    }

    #[test]
    fn metadata_keys() {
        assert!(run("ALL", &[], false));
        assert!(run("SEEN FLAGGED", &["\\Seen", "\\Flagged"], false));
        assert!(!run("UNSEEN", &["\\seen"], false));
        assert!(run("KEYWORD $junk", &["$Junk"], false));
        assert!(run("NEW", &[], true) && !run("NEW", &["\\Seen"], true) && run("OLD", &[], false));
        assert!(run("3 UID 30", &[], false) && run("2:* UID 25:*", &[], false) && !run("4:*", &[], false));
        assert!(run("OR 1 3", &[], false) && !run("NOT 3", &[], false) && run("(NOT 1 NOT 2)", &[], false));
        assert!(run(&format!("LARGER {}", MSG.len() - 1), &[], false));
        assert!(!run(&format!("SMALLER {}", MSG.len()), &[], false));
        assert!(run("ON 8-Feb-1994 SINCE 8-Feb-1994 BEFORE 9-Feb-1994", &[], false));
        assert!(!run("BEFORE 8-Feb-1994", &[], false));
        assert!(run("MODSEQ 7", &[], false) && !run("MODSEQ 8", &[], false));
    }

    #[test]
    fn content_keys() {
        assert!(run("FROM andré", &[], false), "encoded-word in a display name");
        assert!(run("FROM pirard@VM1", &[], false));
        assert!(run("SUBJECT {12}\r\nW\u{d6}rld again", &[], false), "adjacent encoded-words joined");
        assert!(!run("SUBJECT {12}\r\nW\u{d6}rldagain", &[], false));
        assert!(run("SUBJECT \"hello w\"", &[], false));
        assert!(run("HEADER x-tag blue HEADER X-TAG \"\"", &[], false));
        assert!(!run("HEADER X-Missing \"\"", &[], false));
        assert!(run("BODY \"softbreak\"", &[], false), "quoted-printable soft line break");
        assert!(run("BODY <b>BOLD", &[], false), "base64 part");
        assert!(run("TEXT bob@example BODY köln", &[], false));
        assert!(!run("BODY bob@example", &[], false));
        assert!(run("SENTON 7-Feb-1994 SENTBEFORE 8-Feb-1994 SENTSINCE 7-Feb-1994", &[], false));
        assert!(!run("SENTSINCE 8-Feb-1994", &[], false));
    }

    #[test]
    fn gone_message_matches_no_content_key() {
        let flags = Flags::new();
        let m = Candidate {
            seq: 1,
            uid: 1,
            flags: &flags,
            recent: false,
            internal_date: DateTime { unix: 0, offset: 0 },
            size: 0,
            modseq: 1,
        };
        let mut lazy = Lazy::new(|_| None);
        let key = SearchKey::Body(String::new());
        assert!(!matches(&key, &m, Bounds { exists: 1, max_uid: 1 }, &mut lazy));
        assert!(needs_content(&SearchKey::Not(Box::new(key))));
        assert!(!needs_content(&SearchKey::All));
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode_words(b"=?utf-8?q?a?= =?utf-8?q?b?= c"), "ab c");
        assert_eq!(decode_words(b"x =?bogus"), "x =?bogus");
        assert_eq!(decode_words(b"=?utf-8?x?a?="), "=?utf-8?x?a?=");
        assert_eq!(decode_qp(b"a=3D=\r\nb=ZZ="), b"a=b=ZZ=");
    }

    #[test]
    fn esearch_format() {
        let mut out = Vec::new();
        let all = SearchReturn { min: true, max: true, all: true, count: true };
        esearch(&mut out, "A282", true, all, &[2, 10, 11, 12, 14], None);
        assert_eq!(out, b"* ESEARCH (TAG \"A282\") UID MIN 2 MAX 14 COUNT 5 ALL 2,10:12,14\r\n");
        out.clear();
        esearch(&mut out, "t", false, all, &[], Some(9));
        assert_eq!(out, b"* ESEARCH (TAG \"t\") COUNT 0\r\n");
        out.clear();
        esearch(&mut out, "t", false, SearchReturn { max: true, ..Default::default() }, &[4], Some(9));
        assert_eq!(out, b"* ESEARCH (TAG \"t\") MAX 4 MODSEQ 9\r\n");
    }
}
