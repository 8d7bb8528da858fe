//! Domain name syntax: RFC 5321 4.1.2 `Domain = sub-domain *("." sub-domain)`, `sub-domain =
//! Let-dig [Ldh-str]`, which is RFC 1035 2.3.1's preferred name syntax as RFC 1123 2.1
//! relaxed it (a label may start with a digit).

/// RFC 5321 4.5.3.1.2: a domain in SMTP is at most 255 octets.
pub const MAX_LEN: usize = 255;

/// RFC 1035 2.3.4: a name DNS can carry is 255 octets on the wire, a length octet before
/// each label and the root's empty label at the end: 253 written out.
pub const MAX_DNS_LEN: usize = 253;

/// Whether labels may hold UTF-8 (U-labels, RFC 6531 3.3: SMTPUTF8 envelopes) or only
/// letters, digits and hyphens (A-labels: DNS names, account and configured names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    Ascii,
    Utf8,
}

/// Why a name is not a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainError {
    /// Empty, or longer than the limit ([`MAX_LEN`], or [`MAX_DNS_LEN`] for a DNS name).
    Length,
    /// An empty label, one longer than 63 octets (RFC 1035 2.3.4), one starting or ending
    /// with a hyphen, or a character that is not a letter, digit or hyphen.
    Label,
}

/// Checks `name` (without a trailing dot: callers that accept one strip it first).
pub fn check(name: &str, labels: Labels) -> Result<(), DomainError> {
    if name.is_empty() || name.len() > MAX_LEN {
        return Err(DomainError::Length);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || (labels == Labels::Utf8 && !c.is_ascii());
    let good =
        |l: &str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(allowed);
    if name.split('.').all(good) { Ok(()) } else { Err(DomainError::Label) }
}

/// Checks `name` (no trailing dot) as a name to look up in the DNS: ASCII labels, at most
/// [`MAX_DNS_LEN`] characters.
pub fn check_dns(name: &str) -> Result<(), DomainError> {
    check(name, Labels::Ascii)?;
    if name.len() > MAX_DNS_LEN { Err(DomainError::Length) } else { Ok(()) }
}

/// True when `name` is a DNS name ([`check_dns`]), one trailing dot allowed (a name written
/// fully qualified, `example.com.`).
pub fn is_dns_name(name: &str) -> bool {
    check_dns(name.strip_suffix('.').unwrap_or(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "a.a. ... .bb" or ".bbb": a valid name `len` octets long.
    fn name_of(len: usize) -> String {
        let name = format!("{}{}", "a.".repeat(len / 2 - 1), if len % 2 == 0 { "bb" } else { "bbb" });
        assert_eq!(name.len(), len);
        name
    }

    #[test]
    fn letters_digits_and_inner_hyphens() {
        for ok in ["example.com", "mx1.example.com", "3com.example", "a-b.c", "localhost", "xn--bcher-kva.example"] {
            assert_eq!(check(ok, Labels::Ascii), Ok(()), "{ok}");
        }
        let long_label = "a".repeat(63);
        assert_eq!(check(&format!("{long_label}.example"), Labels::Ascii), Ok(()));
    }

    #[test]
    fn what_is_not_a_domain() {
        assert_eq!(check("", Labels::Ascii), Err(DomainError::Length));
        assert_eq!(check(&name_of(MAX_LEN + 1), Labels::Ascii), Err(DomainError::Length));
        for bad in ["a..b", ".a", "a.", "-a.b", "a-.b", "a_b.c", "a b.c", "a@b", &"x".repeat(64), "bücher.example"] {
            assert_eq!(check(bad, Labels::Ascii), Err(DomainError::Label), "{bad}");
        }
    }

    #[test]
    fn u_labels_only_where_asked_for() {
        assert_eq!(check("bücher.example", Labels::Utf8), Ok(()));
        assert_eq!(check("例え.テスト", Labels::Utf8), Ok(()));
        assert_eq!(check("bü cher.example", Labels::Utf8), Err(DomainError::Label));
    }

    #[test]
    fn smtp_allows_255_octets_dns_253() {
        assert_eq!(check(&name_of(255), Labels::Ascii), Ok(()));
        assert_eq!(check(&name_of(255), Labels::Utf8), Ok(()));
        assert_eq!(check_dns(&name_of(253)), Ok(()));
        assert_eq!(check_dns(&name_of(254)), Err(DomainError::Length));
        assert!(is_dns_name(&format!("{}.", name_of(253))));
        assert!(!is_dns_name(&name_of(254)));
        assert_eq!(check_dns("bücher.example"), Err(DomainError::Label));
    }

    #[test]
    fn dns_names_may_end_in_one_dot() {
        assert!(is_dns_name("example.com."));
        assert!(is_dns_name("example.com"));
        assert!(!is_dns_name("example.com.."));
        assert!(!is_dns_name("."));
    }
}
