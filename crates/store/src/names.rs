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
        let decoded = mutf7::decode(unescape(part)?.as_bytes())?;
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
pub use carrier_mutf7 as mutf7;

#[cfg(test)]
mod tests {
    use super::*;

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
