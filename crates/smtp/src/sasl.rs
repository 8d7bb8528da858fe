//! SASL for SMTP AUTH (RFC 4954): the PLAIN (RFC 4616) and LOGIN exchanges, sans-IO. The
//! rules shared with POP3 and IMAP (base64, PLAIN's identities) are carrier-sasl's.

use crate::reply::Reply;
pub use carrier_sasl::MAX_RESPONSE;
use carrier_sasl::{PlainError, decode_base64, parse_plain};

/// What the exchange needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `334 <text>` and read one response line.
    Challenge(&'static str),
    /// Credentials to verify.
    Done {
        /// The mechanism used, for logs.
        mechanism: &'static str,
        /// The authentication identity (login name).
        login: String,
        /// The password.
        password: String,
    },
    /// The exchange failed; send this reply.
    Fail(Reply),
}

#[derive(Debug)]
enum State {
    Plain,
    LoginUser,
    LoginPassword(String),
}

/// One AUTH exchange in progress.
#[derive(Debug)]
pub struct Exchange {
    state: State,
}

/// Mechanisms offered in EHLO.
pub const MECHANISMS: &str = "PLAIN LOGIN";

/// "VXNlcm5hbWU6" and "UGFzc3dvcmQ6" are base64 of "Username:" and "Password:", the
/// prompts every LOGIN client expects.
const USERNAME: &str = "VXNlcm5hbWU6";
const PASSWORD: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// Starts an exchange from the AUTH command's argument: `MECHANISM [initial-response]`.
    pub fn start(arg: &str) -> (Option<Exchange>, Step) {
        let mut words = arg.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next();
        if words.next().is_some() {
            return (None, Step::Fail(Reply::new(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")));
        }
        let state = match mechanism.as_str() {
            "PLAIN" => State::Plain,
            "LOGIN" => State::LoginUser,
            // RFC 4954 6: 504 5.5.4 for a mechanism we do not support.
            _ => return (None, Step::Fail(Reply::new(504, "5.5.4", "Unrecognized authentication type"))),
        };
        let mut exchange = Exchange { state };
        match initial {
            // RFC 4954 4: "=" is an empty initial response.
            Some("=") => {
                let step = exchange.respond("");
                (Some(exchange), step)
            }
            Some(response) => {
                let step = exchange.respond(response);
                (Some(exchange), step)
            }
            None => {
                let prompt = match exchange.state {
                    State::Plain => "",
                    _ => USERNAME,
                };
                (Some(exchange), Step::Challenge(prompt))
            }
        }
    }

    /// Handles one client response line (without CRLF).
    pub fn respond(&mut self, line: &str) -> Step {
        // RFC 4954 4: "*" cancels the exchange.
        if line == "*" {
            return Step::Fail(Reply::new(501, "5.0.0", "Authentication cancelled"));
        }
        let Some(decoded) = decode_base64(line.as_bytes()) else {
            return Step::Fail(Reply::new(501, "5.5.2", "Cannot decode the response: not valid base64 of UTF-8 text"));
        };
        match std::mem::replace(&mut self.state, State::Plain) {
            State::Plain => plain(&decoded),
            State::LoginUser => {
                self.state = State::LoginPassword(decoded);
                Step::Challenge(PASSWORD)
            }
            State::LoginPassword(login) => Step::Done { mechanism: "LOGIN", login, password: decoded },
        }
    }
}

fn plain(decoded: &str) -> Step {
    match parse_plain(decoded) {
        Ok((login, password)) => Step::Done { mechanism: "PLAIN", login, password },
        Err(PlainError::Malformed) => {
            Step::Fail(Reply::new(501, "5.5.2", "Malformed PLAIN response (expected authzid NUL user NUL password)"))
        }
        Err(PlainError::OtherIdentity) => Step::Fail(Reply::new(535, "5.7.8", "Authentication credentials invalid")),
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

    fn done(login: &str, password: &str, mechanism: &'static str) -> Step {
        Step::Done { mechanism, login: login.into(), password: password.into() }
    }

    #[test]
    fn plain_with_initial_response() {
        let (_, step) = Exchange::start(&format!("PLAIN {}", b64("\0bob@example.com\0secret")));
        assert_eq!(step, done("bob@example.com", "secret", "PLAIN"));
        let (_, step) = Exchange::start(&format!("plain {}", b64("bob\0bob\0pw")));
        assert_eq!(step, done("bob", "pw", "PLAIN"));
    }

    #[test]
    fn plain_with_challenge() {
        let (ex, step) = Exchange::start("PLAIN");
        assert_eq!(step, Step::Challenge(""));
        assert_eq!(ex.unwrap().respond(&b64("\0u\0p")), done("u", "p", "PLAIN"));
    }

    #[test]
    fn login_exchange() {
        let (ex, step) = Exchange::start("LOGIN");
        assert_eq!(step, Step::Challenge(USERNAME));
        let mut ex = ex.unwrap();
        assert_eq!(ex.respond(&b64("bob")), Step::Challenge(PASSWORD));
        assert_eq!(ex.respond(&b64("pw")), done("bob", "pw", "LOGIN"));
        let (ex, step) = Exchange::start(&format!("LOGIN {}", b64("bob")));
        assert_eq!(step, Step::Challenge(PASSWORD));
        assert_eq!(ex.unwrap().respond(&b64("pw")), done("bob", "pw", "LOGIN"));
    }

    fn fail_code(step: Step) -> (u16, &'static str) {
        let Step::Fail(r) = step else { panic!("{step:?}") };
        (r.code, r.status.unwrap())
    }

    #[test]
    fn bad_input() {
        assert_eq!(fail_code(Exchange::start("CRAM-MD5").1), (504, "5.5.4"));
        assert_eq!(fail_code(Exchange::start("PLAIN !!notbase64!!").1), (501, "5.5.2"));
        assert_eq!(fail_code(Exchange::start(&format!("PLAIN {}", b64("no-nuls"))).1), (501, "5.5.2"));
        assert_eq!(fail_code(Exchange::start(&format!("PLAIN {}", b64("other\0bob\0pw"))).1), (535, "5.7.8"));
        assert_eq!(fail_code(Exchange::start("PLAIN a b").1), (501, "5.5.4"));
        assert_eq!(fail_code(Exchange::start("PLAIN =").1), (501, "5.5.2"));
        let (ex, _) = Exchange::start("LOGIN");
        assert_eq!(fail_code(ex.unwrap().respond("*")), (501, "5.0.0"));
        let (ex, _) = Exchange::start("LOGIN");
        assert_eq!(fail_code(ex.unwrap().respond(&STANDARD.encode([0xff, 0xfe]))), (501, "5.5.2"));
    }
}
