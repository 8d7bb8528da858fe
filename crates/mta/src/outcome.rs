//! What a delivery agent reports for each recipient: the one vocabulary of the local and
//! relay agents, which the queue runner turns into queue states, log lines and bounces.

/// Why a delivery did not succeed, in the words logs and bounces use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 5xx or a routing dead end: give up. Otherwise try again later.
    pub permanent: bool,
    /// The enhanced status code (RFC 3463).
    pub dsn: String,
    /// What happened, for people: "host mx[ip] said: 550 ... (in reply to RCPT TO command)".
    pub text: String,
    /// The remote server's reply, for the bounce's Diagnostic-Code.
    pub remote: Option<String>,
}

impl Failure {
    pub fn temporary(dsn: &str, text: impl Into<String>) -> Failure {
        Failure { permanent: false, dsn: dsn.into(), text: text.into(), remote: None }
    }

    pub fn permanent(dsn: &str, text: impl Into<String>) -> Failure {
        Failure { permanent: true, dsn: dsn.into(), text: text.into(), remote: None }
    }

    pub fn into_outcome(self) -> Outcome {
        if self.permanent { Outcome::Failed(self) } else { Outcome::Deferred(self) }
    }
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the server's final reply.
    Sent(String),
    /// Try again later.
    Deferred(Failure),
    /// Give up and bounce.
    Failed(Failure),
}
