//! Mailbox names: validation, and their Maildir++ directory names on disk.
//!
//! Names are UTF-8 strings with `/` as the hierarchy delimiter ("Lists/rust"). INBOX is the
//! account's Maildir itself; every other mailbox is a sibling directory named `.` followed by
//! its components joined with `.` (Maildir++, as Dovecot and Courier lay it out):
//! "Lists/rust" is `.Lists.rust`. Each component is written in modified UTF-7 (RFC 3501
//! 5.1.3), as Dovecot stores names by default, and a literal `.` or `\` in a component is
//! escaped as `\2e` / `\5c` (Dovecot's listescape convention), so "v1.0" is `.v1\2e0`.

use crate::StoreError;

/// The IMAP hierarchy delimiter.
pub const DELIMITER: char = '/';

/// The longest directory name most file systems allow.
const MAX_DIR_NAME: usize = 255;

/// Checks a mailbox name and returns its canonical form: "INBOX" in capitals as the first
/// component (RFC 3501 5.1: INBOX is case-insensitive), everything else as given.
pub fn normalize(name: &str) -> Result<String, StoreError> {
    let bad = |reason: &'static str| StoreError::InvalidName { name: name.to_string(), reason };
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("control characters (NUL, CR, LF, ...) are not allowed in mailbox names"));
    }
    if name.contains(['*', '%']) {
        return Err(bad("`*` and `%` are IMAP LIST wildcards and cannot be part of a name"));
    }
    let mut parts: Vec<&str> = name.split(DELIMITER).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("a name cannot start or end with `/` or contain `//`"));
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(bad("`.` and `..` are not allowed as name components"));
    }
    if parts[0].eq_ignore_ascii_case("INBOX") {
        parts[0] = "INBOX";
    }
    let canonical = parts.join("/");
    if dir_name(&canonical).is_some_and(|d| d.len() > MAX_DIR_NAME) {
        return Err(bad("the name is too long"));
    }
    Ok(canonical)
}

/// The directory of a canonical name below the account's Maildir; None for INBOX.
pub fn dir_name(canonical: &str) -> Option<String> {
    if canonical == "INBOX" {
        return None;
    }
    let mut out = String::new();
    for part in canonical.split(DELIMITER) {
        out.push('.');
        for c in mutf7::encode(part).chars() {
            match c {
                '.' => out.push_str("\\2e"),
                '\\' => out.push_str("\\5c"),
                c => out.push(c),
            }
        }
    }
    Some(out)
}

/// The mailbox name of a directory in the account's Maildir (`.A.B` → "A/B"); None for
/// anything that is not a folder we could have written (other programs' files, bad encoding).
pub fn from_dir_name(dir: &str) -> Option<String> {
    let rest = dir.strip_prefix('.')?;
    let mut parts = Vec::new();
    for part in rest.split('.') {
        let decoded = mutf7::decode(&unescape(part)?)?;
        parts.push(decoded);
    }
    let name = parts.join("/");
    // Round trip: a directory is one of ours only if writing its name gives it back.
    let canonical = normalize(&name).ok()?;
    (dir_name(&canonical).as_deref() == Some(dir)).then_some(canonical)
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 3)?;
        out.push(u8::from_str_radix(hex, 16).ok().filter(u8::is_ascii)? as char);
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// The parent of a canonical name ("A/B/C" → "A/B").
pub fn parent(canonical: &str) -> Option<&str> {
    canonical.rsplit_once(DELIMITER).map(|(p, _)| p)
}

/// Modified UTF-7 (RFC 3501 5.1.3), the encoding of mailbox names on the IMAP wire and on disk.
pub mod mutf7 {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

    /// Encodes UTF-8 text: printable ASCII stays, `&` is `&-`, the rest is `&<base64 UTF-16>-`.
    pub fn encode(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pending: Vec<u16> = Vec::new();
        for c in text.chars() {
            if (' '..='~').contains(&c) {
                flush(&mut out, &mut pending);
                if c == '&' { out.push_str("&-") } else { out.push(c) }
            } else {
                let mut units = [0u16; 2];
                pending.extend_from_slice(c.encode_utf16(&mut units));
            }
        }
        flush(&mut out, &mut pending);
        out
    }

    fn flush(out: &mut String, units: &mut Vec<u16>) {
        if units.is_empty() {
            return;
        }
        let bytes: Vec<u8> = units.drain(..).flat_map(u16::to_be_bytes).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out.push('-');
    }

    /// Decodes modified UTF-7; None when it is malformed (bad base64, odd UTF-16, unpaired
    /// surrogates, non-zero padding bits, raw non-ASCII).
    pub fn decode(text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            out.push_str(plain(&rest[..i])?);
            let end = rest[i..].find('-')? + i;
            let run = &rest[i + 1..end];
            if run.is_empty() {
                out.push('&');
            } else {
                out.push_str(&decode_run(run)?);
            }
            rest = &rest[end + 1..];
        }
        out.push_str(plain(rest)?);
        Some(out)
    }

    fn plain(s: &str) -> Option<&str> {
        s.bytes().all(|b| (0x20..=0x7e).contains(&b)).then_some(s)
    }

    fn decode_run(run: &str) -> Option<String> {
        let mut bits = 0u32;
        let mut nbits = 0;
        let mut bytes = Vec::new();
        for c in run.bytes() {
            let v = B64.iter().position(|&b| b == c)? as u32;
            bits = bits << 6 | v;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        if bits != 0 || bytes.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        let text = String::from_utf16(&units).ok()?;
        // Printable ASCII must not be base64-encoded (RFC 3501 5.1.3).
        (!text.chars().any(|c| (' '..='~').contains(&c))).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutf7_matches_the_rfc_examples() {
        // RFC 3501 5.1.3's example, and round trips through the Basic Multilingual Plane and beyond.
        assert_eq!(mutf7::encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(mutf7::decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), "~peter/mail/台北/日本語");
        for s in ["Entwürfe", "A&B", "&", "Отправленные", "émoji 📬 box", "plain"] {
            assert_eq!(mutf7::decode(&mutf7::encode(s)).as_deref(), Some(s), "{s}");
        }
        assert_eq!(mutf7::encode("A&B"), "A&-B");
    }

    #[test]
    fn mutf7_rejects_malformed_input() {
        for bad in ["&", "&Jjo", "&AGE-", "&Jj@-", "&2D0-", "caf\u{e9}", "&U,B-"] {
            assert_eq!(mutf7::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn directory_names_follow_maildir_plus_plus() {
        assert_eq!(dir_name("INBOX"), None);
        assert_eq!(dir_name("Sent").unwrap(), ".Sent");
        assert_eq!(dir_name("Lists/rust").unwrap(), ".Lists.rust");
        assert_eq!(dir_name("v1.0/a\\b").unwrap(), ".v1\\2e0.a\\5cb");
        assert_eq!(dir_name("Entwürfe").unwrap(), ".Entw&APw-rfe");
        assert_eq!(dir_name("INBOX/x").unwrap(), ".INBOX.x");
        for name in ["Sent", "Lists/rust", "v1.0/a\\b", "Entwürfe", "INBOX/x", "a&b/~c"] {
            assert_eq!(from_dir_name(&dir_name(name).unwrap()).as_deref(), Some(name));
        }
        // Not ours: no leading dot, undecodable, or not in canonical form.
        for dir in ["Sent", ".", "..", ".a..b", ".a\\zz", ".a\\2", ".&Jjo", ".a\\41"] {
            assert_eq!(from_dir_name(dir), None, "{dir}");
        }
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert_eq!(normalize("inbox").unwrap(), "INBOX");
        assert_eq!(normalize("InBoX/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(normalize("INBOXES").unwrap(), "INBOXES");
    }

    #[test]
    fn names_that_could_escape_the_maildir_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "../x",
            "a/../b",
            "a/./b",
            "/etc",
            "/",
            "a//b",
            "a/",
            "x\0y",
            "x\ny",
            "tab\there",
            "del\u{7f}",
            "*",
            "a%",
            "%2e%2e",
        ] {
            assert!(matches!(normalize(bad), Err(StoreError::InvalidName { .. })), "{bad:?}");
        }
        assert!(normalize(&"x".repeat(300)).is_err());
        // What is accepted never leaves the account directory: one component, starting with '.'.
        for ok in ["a.b", "..x", "x..", "a\\..", "~root", "-", "a b"] {
            let dir = dir_name(&normalize(ok).unwrap()).unwrap();
            assert!(dir.starts_with('.') && !dir.contains('/') && dir != "." && dir != "..", "{ok} -> {dir}");
        }
    }

    #[test]
    fn parents() {
        assert_eq!(parent("A/B/C"), Some("A/B"));
        assert_eq!(parent("A"), None);
    }
}
