//! Envelope addresses: the Path grammar of RFC 5321 4.1.2, with RFC 6531 UTF-8.

/// Why an address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The text does not follow the Path grammar; the string says where.
    Syntax(&'static str),
}

/// A parsed mailbox, e.g. `bob@example.com`, or `postmaster` alone (RFC 5321 4.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Local part as sent, quotes included when it was a Quoted-string.
    pub local: String,
    /// Domain or address literal (`[192.0.2.1]`); empty only for `<postmaster>`.
    pub domain: String,
    /// True when local part or domain holds non-ASCII (needs SMTPUTF8, RFC 6531 3.3).
    pub utf8: bool,
}

impl Mailbox {
    /// `local@domain`, or the bare local part for `<postmaster>`.
    pub fn address(&self) -> String {
        if self.domain.is_empty() { self.local.clone() } else { format!("{}@{}", self.local, self.domain) }
    }
}

/// Parses `<...>` at the start of `s`; returns the mailbox (None for `<>`) and the rest.
/// `allow_postmaster` permits `<postmaster>` without a domain (RCPT only).
pub fn parse_path(s: &str, allow_postmaster: bool) -> Result<(Option<Mailbox>, &str), AddressError> {
    let inner = s.strip_prefix('<').ok_or(AddressError::Syntax("address must be enclosed in <>"))?;
    if let Some(rest) = inner.strip_prefix('>') {
        return Ok((None, rest));
    }
    // RFC 5321 4.1.1.3 / Appendix C: a source route is accepted and ignored.
    let inner = skip_source_route(inner)?;
    let (local, after_local) = parse_local_part(inner)?;
    if let Some(rest) = after_local.strip_prefix('>') {
        if allow_postmaster && local.eq_ignore_ascii_case("postmaster") {
            let mailbox = Mailbox { local: local.to_string(), domain: String::new(), utf8: false };
            return Ok((Some(mailbox), rest));
        }
        return Err(AddressError::Syntax("address has no domain"));
    }
    let after_at = after_local.strip_prefix('@').ok_or(AddressError::Syntax("invalid character in local part"))?;
    let end = after_at.find('>').ok_or(AddressError::Syntax("missing closing >"))?;
    let domain = &after_at[..end];
    check_domain_or_literal(domain)?;
    let utf8 = !local.is_ascii() || !domain.is_ascii();
    let mailbox = Mailbox { local: local.to_string(), domain: domain.to_string(), utf8 };
    Ok((Some(mailbox), &after_at[end + 1..]))
}

/// Skips `@a,@b:` before the mailbox, checking each domain.
fn skip_source_route(s: &str) -> Result<&str, AddressError> {
    if !s.starts_with('@') {
        return Ok(s);
    }
    let colon = s.find(':').ok_or(AddressError::Syntax("source route without ':'"))?;
    for hop in s[..colon].split(',') {
        let domain = hop.strip_prefix('@').ok_or(AddressError::Syntax("bad source route"))?;
        check_domain(domain)?;
    }
    Ok(&s[colon + 1..])
}

/// Local-part = Dot-string / Quoted-string. Returns the local part and the rest.
fn parse_local_part(s: &str) -> Result<(&str, &str), AddressError> {
    if s.starts_with('"') {
        return parse_quoted(s);
    }
    let end = s.find(|c: char| !is_atext(c) && c != '.').unwrap_or(s.len());
    let local = &s[..end];
    if local.is_empty() {
        return Err(AddressError::Syntax("empty local part"));
    }
    // Dot-string = Atom *("." Atom): no leading, trailing or double dots.
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::Syntax("misplaced dot in local part"));
    }
    Ok((local, &s[end..]))
}

/// Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 4.1.2).
fn parse_quoted(s: &str) -> Result<(&str, &str), AddressError> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((&s[..=i], &s[i + 1..])),
            // quoted-pairSMTP = %d92 %d32-126
            '\\' => match chars.next() {
                Some((_, q)) if (' '..='~').contains(&q) => {}
                _ => return Err(AddressError::Syntax("bad quoted pair in local part")),
            },
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531)
            c if (' '..='~').contains(&c) || !c.is_ascii() => {}
            _ => {
                return Err(AddressError::Syntax("control character in quoted local part"));
            }
        }
    }
    Err(AddressError::Syntax("unterminated quoted local part"))
}

/// atext of RFC 5322 3.2.3, extended with UTF-8 by RFC 6531 3.3.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn check_domain_or_literal(d: &str) -> Result<(), AddressError> {
    if d.starts_with('[') {
        return check_address_literal(d);
    }
    check_domain(d)
}

/// Domain (RFC 5321 4.1.2) of at most 255 octets (RFC 5321 4.5.3.1.2), U-labels allowed
/// (RFC 6531 3.3). A trailing dot is not part of the grammar.
pub fn check_domain(d: &str) -> Result<(), AddressError> {
    use carrier_syntax::domain::{DomainError, Labels, check};
    check(d, Labels::Utf8).map_err(|e| match e {
        DomainError::Length => AddressError::Syntax("bad domain length"),
        DomainError::Label => AddressError::Syntax("invalid domain"),
    })
}

/// address-literal = "[" ( IPv4 / "IPv6:" IPv6 / General ) "]" (RFC 5321 4.1.3).
fn check_address_literal(d: &str) -> Result<(), AddressError> {
    let inner =
        d.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or(AddressError::Syntax("bad address literal"))?;
    let ok = match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..].parse::<std::net::Ipv6Addr>().is_ok(),
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    };
    if ok { Ok(()) } else { Err(AddressError::Syntax("bad address literal")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        parse_path(s, true).unwrap().0.unwrap().address()
    }

    fn err(s: &str) {
        assert!(parse_path(s, true).is_err(), "{s} should not parse");
    }

    #[test]
    fn plain_addresses() {
        assert_eq!(ok("<bob@example.com>"), "bob@example.com");
        assert_eq!(ok("<Bob.Smith+tag@Sub.Example.COM>"), "Bob.Smith+tag@Sub.Example.COM");
        assert_eq!(parse_path("<> SIZE=10", false).unwrap(), (None, " SIZE=10"));
    }

    #[test]
    fn rest_of_line_is_returned() {
        let (m, rest) = parse_path("<a@b.c> BODY=8BITMIME", false).unwrap();
        assert_eq!(m.unwrap().address(), "a@b.c");
        assert_eq!(rest, " BODY=8BITMIME");
    }

    #[test]
    fn source_route_is_ignored() {
        // RFC 5321 4.1.1.3: the route is dropped, leaving only the mailbox.
        assert_eq!(ok("<@relay.example,@other.example:user@final.example>"), "user@final.example");
        err("<@bad_domain:user@x.example>");
    }

    #[test]
    fn trick_local_parts_are_kept_verbatim() {
        // Kept as typed so policy can refuse them; never reinterpreted as routes.
        assert_eq!(ok("<a%b@local.example>"), "a%b@local.example");
        assert_eq!(ok("<a!b@local.example>"), "a!b@local.example");
        assert_eq!(ok("<\"a@b\"@local.example>"), "\"a@b\"@local.example");
    }

    #[test]
    fn quoted_local_parts() {
        assert_eq!(ok("<\"john doe\"@x.example>"), "\"john doe\"@x.example");
        assert_eq!(ok("<\"a\\\"b\"@x.example>"), "\"a\\\"b\"@x.example");
        err("<\"unterminated@x.example>");
        err("<\"a\tb\"@x.example>");
    }

    #[test]
    fn postmaster_without_domain() {
        assert_eq!(ok("<Postmaster>"), "Postmaster");
        assert!(parse_path("<postmaster>", false).is_err());
        err("<bob>");
    }

    #[test]
    fn address_literals() {
        assert_eq!(ok("<a@[192.0.2.1]>"), "a@[192.0.2.1]");
        assert_eq!(ok("<a@[IPv6:2001:db8::1]>"), "a@[IPv6:2001:db8::1]");
        err("<a@[999.1.1.1]>");
        err("<a@[2001:db8::1]>");
    }

    #[test]
    fn bad_syntax() {
        for s in [
            "bob@example.com",
            "<bob@example.com",
            "<@example.com>",
            "<.bob@x.example>",
            "<bob.@x.example>",
            "<b..ob@x.example>",
            "<bob@>",
            "<bob@-x.example>",
            "<bob@x..example>",
            "<bob@x.example.>",
            "<bob@x_y.example>",
            "<bo b@x.example>",
            "<bob@x.example@y.example>",
        ] {
            err(s);
        }
    }

    #[test]
    fn a_domain_may_have_255_octets() {
        // "a.a.a. ... .bb" or ".bbb", `len` octets.
        let domain = |len: usize| format!("{}{}", "a.".repeat(len / 2 - 1), if len % 2 == 0 { "bb" } else { "bbb" });
        assert_eq!((domain(255).len(), domain(256).len()), (255, 256));
        assert_eq!(ok(&format!("<x@{}>", domain(255))), format!("x@{}", domain(255)));
        err(&format!("<x@{}>", domain(256)));
        assert_eq!(check_domain(&domain(256)), Err(AddressError::Syntax("bad domain length")));
    }

    #[test]
    fn utf8_is_flagged() {
        let (m, _) = parse_path("<jöran@bücher.example>", false).unwrap();
        assert!(m.unwrap().utf8);
        let (m, _) = parse_path("<joran@example.com>", false).unwrap();
        assert!(!m.unwrap().utf8);
    }
}
