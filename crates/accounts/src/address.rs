//! Address helpers shared by users, aliases and the directory.

/// Splits at the last '@' outside a quoted local part; the domain is lower-cased without
/// a trailing dot by [`normalize`], not here.
pub fn split(addr: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    let mut escaped = false;
    let mut at = None;
    for (i, c) in addr.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    at.map(|i| (&addr[..i], &addr[i + 1..]))
}

/// The canonical key: lower-cased, domain without a trailing dot.
pub fn normalize(addr: &str) -> String {
    let lower = addr.to_lowercase();
    match split(&lower) {
        Some((local, domain)) => format!("{local}@{}", domain.strip_suffix('.').unwrap_or(domain)),
        None => lower,
    }
}

/// A local part carrying a routing trick that must never be interpreted (DESIGN §4).
pub fn is_routing_trick(local: &str) -> bool {
    local.is_empty() || local.contains(['%', '!', '@', '"', '/'])
}

/// A local part we allow for accounts: a dot-atom of RFC 5322 atext, minus routing tricks.
pub fn valid_local_part(local: &str) -> bool {
    const SPECIAL: &str = "!#$&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !is_routing_trick(local)
        && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || SPECIAL.contains(c))
}

/// A syntactically valid domain name.
pub fn valid_domain(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_last_unquoted_at() {
        assert_eq!(split("bob@example.com"), Some(("bob", "example.com")));
        assert_eq!(split("\"a@b\"@example.com"), Some(("\"a@b\"", "example.com")));
        assert_eq!(split("a@b@example.com"), Some(("a@b", "example.com")));
        assert_eq!(split("postmaster"), None);
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Bob@Example.COM."), "bob@example.com");
    }

    #[test]
    fn local_parts() {
        for ok in ["bob", "bob.smith", "b+tag", "o'neil", "x_y-z"] {
            assert!(valid_local_part(ok), "{ok}");
        }
        for bad in ["", ".bob", "bob.", "b..b", "a%b", "a!b", "a@b", "\"ab\"", "a b", "a/b", &"x".repeat(65)] {
            assert!(!valid_local_part(bad), "{bad}");
        }
    }
}
