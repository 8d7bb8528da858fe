//! What a run decides: the actions for the caller to carry out, and the edited message.

/// What to do with the message; several may come from one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store in INBOX with these flags (RFC 5232 5).
    Keep { flags: Vec<String> },
    /// Store in this mailbox (created first if `create`, RFC 5490 3.2).
    FileInto { mailbox: String, flags: Vec<String>, create: bool },
    /// Send on to this address (RFC 5228 4.2).
    Redirect { address: String },
    /// Refuse with this reason: in the SMTP reply when still possible, else in an MDN
    /// (RFC 5429); `extended` is `ereject`.
    Reject { reason: String, extended: bool },
    /// Send this reply to the sender (RFC 5230).
    Vacation(Reply),
}

/// An automatic reply (RFC 5230 5, RFC 3834).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The original sender.
    pub to: String,
    /// `:from`, else the caller's choice (the recipient's address).
    pub from: Option<String>,
    pub subject: String,
    pub body: String,
    /// The body is a MIME entity of its own (`:mime`).
    pub mime: bool,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

impl Reply {
    /// The reply as a message from `from` (when the script named none), dated `date`
    /// (RFC 5322 form), with `Auto-Submitted: auto-replied` (RFC 3834 5).
    pub fn to_message(&self, from: &str, date: &str, message_id: &str) -> Vec<u8> {
        let sender = self.from.as_deref().unwrap_or(from);
        let mut out = format!(
            "From: {sender}\r\nTo: <{}>\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n",
            self.to, self.subject
        );
        if let Some(id) = &self.in_reply_to {
            out.push_str(&format!("In-Reply-To: {id}\r\n"));
        }
        if let Some(refs) = &self.references {
            out.push_str(&format!("References: {refs}\r\n"));
        }
        out.push_str("Auto-Submitted: auto-replied (vacation)\r\nPrecedence: bulk\r\nMIME-Version: 1.0\r\n");
        let body = self.body.replace("\r\n", "\n").replace('\n', "\r\n");
        if self.mime {
            out.push_str(&body);
        } else {
            out.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
            out.push_str(&body);
        }
        if !out.ends_with("\r\n") {
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// The message after `addheader`/`deleteheader`, when the script changed it.
    pub message: Option<Vec<u8>>,
    /// A run-time error (RFC 5228 2.10.6): the actions are then only the implicit keep.
    pub error: Option<String>,
}
