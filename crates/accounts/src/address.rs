//! Address helpers shared by users, aliases and the directory.

/// Splits "local@domain" at the last '@' outside a quoted local part, without one trailing
/// dot on the domain. The domain keeps its case (a borrowed slice cannot be lower-cased);
/// [`normalize`] gives the lower-cased key.
pub fn split(addr: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    let mut escaped = false;
    let mut at = None;
    for (i, c) in addr.char_indices() {
        match c {
            _ if escaped => escaped = false,
            // RFC 5321 4.1.2: quoted-pairSMTP, a backslash escapes the next character.
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    let (local, domain) = (&addr[..at?], &addr[at? + 1..]);
    Some((local, domain.strip_suffix('.').unwrap_or(domain)))
}

/// The canonical key: the whole address lower-cased, the domain without a trailing dot.
pub fn normalize(addr: &str) -> String {
    let lower = addr.to_lowercase();
    match split(&lower) {
        Some((local, domain)) => format!("{local}@{domain}"),
        None => lower,
    }
}

/// A local part carrying a routing trick that must never be interpreted (no open relay by
/// trick address, RFC 5321 3.6.2 and 4.1.1.3):
/// `a%b`, `a!b`, `a@b` (source routes too) and quoted strings; also an empty one. A '/'
/// is refused as well because mailboxes are directories named after the address.
pub fn is_routing_trick(local: &str) -> bool {
    local.is_empty() || local.contains(['%', '!', '@', '"', '/'])
}

/// A local part we allow for accounts: a dot-atom of RFC 5322 atext, minus routing tricks.
pub fn valid_local_part(local: &str) -> bool {
    local_part_problem(local).is_none()
}

/// Why a local part is not acceptable for an account, in words for the administrator.
fn local_part_problem(local: &str) -> Option<&'static str> {
    // RFC 5322 3.2.3 atext, without the routing characters above.
    const SPECIAL: &str = "#$&'*+=?^_`{|}~-";
    if local.is_empty() {
        return Some("the name before the @ is empty");
    }
    if is_routing_trick(local) {
        return Some("'%', '!', '@', '/' and quotes in the name are mail routing tricks and are refused");
    }
    // RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
    if local.len() > 64 {
        return Some("the name before the @ is longer than 64 characters");
    }
    // RFC 5322 3.4.1 dot-atom: no leading, trailing or doubled dots.
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("a dot may not start or end the name, nor follow another dot");
    }
    if !local.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || SPECIAL.contains(c)) {
        return Some("the name may only hold letters, digits and . # $ & ' * + = ? ^ _ ` { | } ~ -");
    }
    None
}

/// A syntactically valid domain name (one trailing dot allowed). Kept for callers outside
/// this crate until they call `carrier_syntax::domain::is_dns_name`, the one implementation.
pub use carrier_syntax::domain::is_dns_name as valid_domain;
use carrier_syntax::domain::is_dns_name;

/// Why `addr` cannot be an account address, or None when it can.
pub fn account_problem(addr: &str) -> Option<String> {
    let Some((local, domain)) = split(addr) else {
        return Some("it has no @domain part".into());
    };
    if let Some(problem) = local_part_problem(local) {
        return Some(problem.into());
    }
    if !is_dns_name(domain) {
        return Some(format!("`{domain}` is not a valid domain name"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_last_unquoted_at() {
        assert_eq!(split("bob@example.com"), Some(("bob", "example.com")));
        assert_eq!(split("\"a@b\"@example.com"), Some(("\"a@b\"", "example.com")));
        assert_eq!(split("\"a\\\"@b\"@example.com"), Some(("\"a\\\"@b\"", "example.com")));
        assert_eq!(split("a@b@example.com"), Some(("a@b", "example.com")));
        assert_eq!(split("bob@Example.COM."), Some(("bob", "Example.COM")));
        assert_eq!(split("bob@"), Some(("bob", "")));
        assert_eq!(split("postmaster"), None);
        assert_eq!(split("\"a@b\""), None);
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Bob@Example.COM."), "bob@example.com");
        assert_eq!(normalize("Bob@Example.COM"), "bob@example.com");
        assert_eq!(normalize("PostMaster"), "postmaster");
    }

    #[test]
    fn routing_tricks() {
        for trick in ["", "a%b", "a!b", "a@b", "@route:a", "\"ab\"", "../x/y"] {
            assert!(is_routing_trick(trick), "{trick}");
        }
        for plain in ["bob", "b.o+b", "o'neil"] {
            assert!(!is_routing_trick(plain), "{plain}");
        }
    }

    #[test]
    fn local_parts() {
        for ok in ["bob", "bob.smith", "b+tag", "o'neil", "x_y-z", "a#b$c&d*e=f?g^h`i{j|k}l~m", &"x".repeat(64)] {
            assert!(valid_local_part(ok), "{ok}");
        }
        for bad in ["", ".bob", "bob.", "b..b", "a%b", "a!b", "a@b", "\"ab\"", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_local_part(bad), "{bad}");
        }
    }

    #[test]
    fn account_domains_are_dns_names() {
        for ok in ["example.com", "example.com.", "localhost", "a-b.example", "xn--bcher-kva.example"] {
            assert_eq!(account_problem(&format!("bob@{ok}")), None, "{ok}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        let too_long = format!("{}com", "a.".repeat(126));
        for bad in
            ["", ".", "ex ample.com", "-a.com", "a..com", "[192.0.2.1]", "bücher.example", &long_label, &too_long]
        {
            let problem = account_problem(&format!("bob@{bad}")).unwrap_or_default();
            assert!(problem.contains("not a valid domain name"), "{bad}: {problem}");
        }
    }

    #[test]
    fn account_problems_explain_themselves() {
        assert_eq!(account_problem("bob@example.com"), None);
        assert!(account_problem("bob").unwrap().contains("no @domain"));
        assert!(account_problem("a%b@example.com").unwrap().contains("routing tricks"));
        assert!(account_problem("a..b@example.com").unwrap().contains("dot"));
        assert!(account_problem("a b@example.com").unwrap().contains("letters, digits"));
        assert!(account_problem("bob@ex ample.com").unwrap().contains("not a valid domain"));
        assert!(account_problem("@example.com").unwrap().contains("empty"));
    }
}
