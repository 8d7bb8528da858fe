//! SMTP AUTH (RFC 4954) over the shared SASL exchange (carrier-sasl: PLAIN and LOGIN, the
//! base64 and authorization identity rules): the AUTH command's argument and the replies
//! that word each failure.

use crate::reply::Reply;
use carrier_sasl::Mechanism;
pub use carrier_sasl::{Error, Exchange, MAX_RESPONSE, Step};

/// Mechanisms offered in EHLO.
pub const MECHANISMS: &str = "PLAIN LOGIN";

/// Starts an exchange from the AUTH command's argument: `MECHANISM [initial-response]`.
pub fn start(arg: &str) -> Result<Step, Reply> {
    let mut words = arg.split_whitespace();
    let name = words.next().unwrap_or("");
    let initial = words.next();
    if words.next().is_some() {
        return Err(Reply::new(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
    }
    // RFC 4954 6: 504 5.5.4 for a mechanism we do not support.
    let mechanism =
        Mechanism::from_name(name).ok_or_else(|| Reply::new(504, "5.5.4", "Unrecognized authentication type"))?;
    Ok(Exchange::start(mechanism, initial.map(str::as_bytes)))
}

/// The reply to a failed exchange. Wrong credentials are 535 (RFC 4954 6); the rest are
/// protocol mistakes, 501, which do not count as failed logins.
pub fn refusal(error: Error) -> Reply {
    match error {
        // RFC 4954 4: "*" cancels, answered with 501.
        Error::Cancelled => Reply::new(501, "5.0.0", "Authentication cancelled"),
        Error::TooLong => Reply::new(500, "5.5.6", "Authentication exchange line too long"),
        Error::NotBase64 => Reply::new(501, "5.5.2", "Cannot decode the response: not valid base64 of UTF-8 text"),
        Error::Malformed => {
            Reply::new(501, "5.5.2", "Malformed PLAIN response (expected authzid NUL user NUL password)")
        }
        Error::Empty => Reply::new(501, "5.5.2", "Empty user name or password"),
        Error::OtherIdentity => Reply::new(535, "5.7.8", "Authentication credentials invalid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn code(result: Result<Step, Reply>) -> (u16, &'static str) {
        let reply = match result {
            Err(reply) => reply,
            Ok(Step::Failed(e)) => refusal(e),
            Ok(step) => panic!("{step:?}"),
        };
        (reply.code, reply.status.unwrap())
    }

    #[test]
    fn the_mechanism_in_any_case_and_the_initial_response() {
        let Ok(Step::Done(c)) = start(&format!("plain {}", b64("bob\0bob\0pw"))) else { panic!() };
        assert_eq!((c.mechanism, c.login.as_str(), c.password.as_str()), (Mechanism::Plain, "bob", "pw"));
        assert!(matches!(start("LOGIN"), Ok(Step::Challenge { challenge: "VXNlcm5hbWU6", .. })));
    }

    #[test]
    fn each_failure_has_its_reply() {
        assert_eq!(code(start("CRAM-MD5")), (504, "5.5.4"));
        assert_eq!(code(start("")), (504, "5.5.4"));
        assert_eq!(code(start("PLAIN a b")), (501, "5.5.4"));
        assert_eq!(code(start("PLAIN !!notbase64!!")), (501, "5.5.2"));
        assert_eq!(code(start(&format!("PLAIN {}", b64("no-nuls")))), (501, "5.5.2"));
        assert_eq!(code(start("PLAIN =")), (501, "5.5.2"));
        assert_eq!(code(start(&format!("PLAIN {}", b64("\0bob\0")))), (501, "5.5.2"));
        assert_eq!(code(start(&format!("PLAIN {}", b64("other\0bob\0pw")))), (535, "5.7.8"));
        assert_eq!(code(start("PLAIN *")), (501, "5.0.0"));
        assert_eq!(code(Ok(Step::Failed(Error::TooLong))), (500, "5.5.6"));
    }
}
