//! SASL as SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 3501 6.2.2)
//! share it: one client response is base64 of UTF-8 text, and PLAIN (RFC 4616) carries an
//! authorization identity, the login name and the password. Each protocol wraps the errors
//! in its own replies; the rules live here once, so they cannot drift apart.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// RFC 4954 4: a client response line may be up to 12288 octets.
pub const MAX_RESPONSE: usize = 12_288;

/// Decodes one base64 response (surrounding white space ignored) into UTF-8 text.
pub fn decode_base64(line: &[u8]) -> Option<String> {
    let bytes = STANDARD.decode(line.trim_ascii()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Encodes a client response: base64 of the text.
pub fn encode_base64(text: &str) -> String {
    STANDARD.encode(text)
}

/// A client's PLAIN response for `user` with `password`, no authorization identity
/// (RFC 4616 2), base64-encoded.
pub fn plain_response(user: &str, password: &str) -> String {
    encode_base64(&format!("\0{user}\0{password}"))
}

/// Why a PLAIN response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainError {
    /// Not `authzid NUL authcid NUL passwd`.
    Malformed,
    /// An authorization identity other than the user: acting for others is not supported.
    OtherIdentity,
}

/// RFC 4616 2: message = [authzid] NUL authcid NUL passwd; returns (login, password). An
/// authorization identity is allowed only when it names the user, in any case (login names
/// are matched without case everywhere else too).
pub fn parse_plain(decoded: &str) -> Result<(String, String), PlainError> {
    let parts: Vec<&str> = decoded.split('\0').collect();
    let [authzid, authcid, password] = parts.as_slice() else { return Err(PlainError::Malformed) };
    if authcid.is_empty() {
        return Err(PlainError::Malformed);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
        return Err(PlainError::OtherIdentity);
    }
    Ok((authcid.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_utf8_text_only() {
        assert_eq!(decode_base64(b"  Ym9i \r").as_deref(), Some("bob"));
        assert_eq!(decode_base64(b"").as_deref(), Some(""));
        for bad in [&b"!!notbase64!!"[..], b"Ym9", b"Ym9i=="] {
            assert_eq!(decode_base64(bad), None, "{bad:?}");
        }
        assert_eq!(decode_base64(STANDARD.encode([0xff, 0xfe]).as_bytes()), None);
    }

    #[test]
    fn plain_takes_authzid_nul_authcid_nul_password() {
        assert_eq!(parse_plain("\0bob@example.com\0secret"), Ok(("bob@example.com".into(), "secret".into())));
        assert_eq!(parse_plain("bob\0bob\0pw"), Ok(("bob".into(), "pw".into())));
        // The same identity in another case is the user, not someone else.
        assert_eq!(parse_plain("Bob@Example.COM\0bob@example.com\0pw"), Ok(("bob@example.com".into(), "pw".into())));
        assert_eq!(parse_plain("\0bob\0"), Ok(("bob".into(), String::new())));
        assert_eq!(parse_plain("\0bob\0p\u{e4}ss wörd"), Ok(("bob".into(), "p\u{e4}ss wörd".into())));
    }

    #[test]
    fn a_client_response_decodes_to_the_same_user_and_password() {
        let response = plain_response("bob@example.com", "s3cret");
        let decoded = decode_base64(response.as_bytes()).unwrap();
        assert_eq!(parse_plain(&decoded), Ok(("bob@example.com".into(), "s3cret".into())));
    }

    #[test]
    fn plain_refuses_what_is_not_one_user_and_a_password() {
        for bad in ["", "no-nuls", "\0only-one-nul", "a\0b\0c\0d", "\0\0pw"] {
            assert_eq!(parse_plain(bad), Err(PlainError::Malformed), "{bad:?}");
        }
        assert_eq!(parse_plain("alice\0bob\0pw"), Err(PlainError::OtherIdentity));
    }
}
