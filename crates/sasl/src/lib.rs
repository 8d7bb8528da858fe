//! SASL (RFC 4422) as SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE
//! (RFC 3501 6.2.2) share it, sans-IO: every client response is one line of base64 of UTF-8
//! text, `*` cancels, and the mechanisms are PLAIN (RFC 4616) and LOGIN. Each protocol
//! words the [`Error`]s in its own replies; the rules live here once, so they cannot drift
//! apart (IMAP once compared PLAIN's authorization identity with case where SMTP did not).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// RFC 4954 4: a client response line may be up to 12288 octets.
pub const MAX_RESPONSE: usize = 12_288;

/// "VXNlcm5hbWU6" and "UGFzc3dvcmQ6" are base64 of "Username:" and "Password:", the
/// prompts every LOGIN client expects.
const USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// The mechanisms carrier's servers know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: one response, `[authzid] NUL authcid NUL passwd`.
    Plain,
    /// LOGIN (draft-murchison-sasl-login, never an RFC, but what many clients still send):
    /// the user name and the password, each in answer to its prompt.
    Login,
}

impl Mechanism {
    /// The mechanism a client named, in any case (SMTP clients send `auth plain` too).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            _ => None,
        }
    }

    /// The registered name, for capability lists and logs.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The client answered with `*` (RFC 4954 4, RFC 5034 4, RFC 3501 6.2.2).
    Cancelled,
    /// A response longer than [`MAX_RESPONSE`] octets.
    TooLong,
    /// A response that is not base64, or base64 of something that is not UTF-8 text.
    NotBase64,
    /// A PLAIN response that is not `[authzid] NUL authcid NUL passwd`.
    Malformed,
    /// An empty user name or password: nothing to check (RFC 4616 2: `authcid` and
    /// `passwd` are `1*SAFE`).
    Empty,
    /// An authorization identity other than the user: acting for others is not supported.
    OtherIdentity,
}

/// What the client claims, for the caller to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The mechanism used, for logs.
    pub mechanism: Mechanism,
    /// The authentication identity (login name).
    pub login: String,
    /// The password.
    pub password: String,
}

/// What an exchange needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `challenge` (base64; empty for PLAIN) and give the client's next line to
    /// `exchange`'s [`Exchange::respond`].
    Challenge {
        /// The challenge, already base64.
        challenge: &'static str,
        /// The exchange waiting for the answer.
        exchange: Exchange,
    },
    /// Credentials to verify.
    Done(Credentials),
    /// The exchange is over; the protocol says why in its own words.
    Failed(Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Plain,
    LoginUser,
    LoginPassword(String),
}

/// One exchange in progress; consumed by each response, so none can follow the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    state: State,
}

impl Exchange {
    /// Starts `mechanism`, with the client's initial response when it sent one. `=` is an
    /// empty initial response (RFC 4954 4, RFC 5034 4, RFC 4959 3).
    pub fn start(mechanism: Mechanism, initial: Option<&[u8]>) -> Step {
        let exchange = Exchange {
            state: match mechanism {
                Mechanism::Plain => State::Plain,
                Mechanism::Login => State::LoginUser,
            },
        };
        match initial {
            Some(b"=") => exchange.respond(b""),
            Some(response) => exchange.respond(response),
            None => {
                let challenge = if mechanism == Mechanism::Plain { "" } else { USERNAME_PROMPT };
                Step::Challenge { challenge, exchange }
            }
        }
    }

    /// Takes one client response line, without its line end.
    pub fn respond(self, line: &[u8]) -> Step {
        if line == b"*" {
            return Step::Failed(Error::Cancelled);
        }
        let text = match decode(line) {
            Ok(text) => text,
            Err(e) => return Step::Failed(e),
        };
        match self.state {
            State::Plain => match parse_plain(&text) {
                Ok((login, password)) => Step::Done(Credentials { mechanism: Mechanism::Plain, login, password }),
                Err(e) => Step::Failed(e),
            },
            State::LoginUser if text.is_empty() => Step::Failed(Error::Empty),
            State::LoginUser => {
                Step::Challenge { challenge: PASSWORD_PROMPT, exchange: Exchange { state: State::LoginPassword(text) } }
            }
            State::LoginPassword(_) if text.is_empty() => Step::Failed(Error::Empty),
            State::LoginPassword(login) => {
                Step::Done(Credentials { mechanism: Mechanism::Login, login, password: text })
            }
        }
    }
}

/// One response line (surrounding white space ignored) as the UTF-8 text it encodes.
fn decode(line: &[u8]) -> Result<String, Error> {
    if line.len() > MAX_RESPONSE {
        return Err(Error::TooLong);
    }
    let bytes = STANDARD.decode(line.trim_ascii()).map_err(|_| Error::NotBase64)?;
    String::from_utf8(bytes).map_err(|_| Error::NotBase64)
}

/// RFC 4616 2: message = [authzid] NUL authcid NUL passwd; returns (login, password). An
/// authorization identity is allowed only when it names the user, in any case (login names
/// are matched without case everywhere else too).
fn parse_plain(message: &str) -> Result<(String, String), Error> {
    let parts: Vec<&str> = message.split('\0').collect();
    let [authzid, authcid, password] = parts.as_slice() else { return Err(Error::Malformed) };
    if authcid.is_empty() || password.is_empty() {
        return Err(Error::Empty);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
        return Err(Error::OtherIdentity);
    }
    Ok((authcid.to_string(), password.to_string()))
}

/// Encodes a client response: base64 of the text (a LOGIN client's user name or password).
pub fn encode_base64(text: &str) -> String {
    STANDARD.encode(text)
}

/// A client's PLAIN response for `user` with `password`, no authorization identity
/// (RFC 4616 2), base64-encoded.
pub fn plain_response(user: &str, password: &str) -> String {
    encode_base64(&format!("\0{user}\0{password}"))
}

#[cfg(test)]
mod tests;
