//! Sieve (RFC 5228), users' mail rules, sans-IO: [`compile`] a script once, then [`run`] it
//! against each message with the envelope and a [`Memory`] for what lasts between messages
//! (vacation replies, duplicates). The caller carries out the [`Action`]s: store, send on,
//! refuse, reply. Extensions: see [`EXTENSIONS`].
//!
//! ```
//! use carrier_sieve::{Action, Context, Envelope, NoMemory, compile, run};
//! let script = compile(b"require \"fileinto\";\nif header :contains \"Subject\" \"[rust]\" { fileinto \"Lists.rust\"; }").unwrap();
//! let message = b"Subject: [rust] 1.99 released\r\n\r\nHello\r\n";
//! let mut memory = NoMemory;
//! let mut ctx = Context::new(Envelope { from: "news@example.org".into(), to: "bob@example.com".into(), auth: None }, &mut memory);
//! let outcome = run(&script, message, &mut ctx);
//! assert_eq!(outcome.actions, [Action::FileInto { mailbox: "Lists.rust".into(), flags: vec![], create: false }]);
//! ```

mod compile;
mod date;
mod matching;
mod message;
mod mime;
mod parser;
mod program;
mod run;

pub use compile::EXTENSIONS;
pub use parser::{Error, Pos};
use std::fmt;
use std::time::SystemTime;

/// Bounds on what one script may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Octets of script text.
    pub max_script_size: usize,
    /// Blocks and tests inside each other.
    pub max_nesting: usize,
    /// Commands and tests evaluated per message.
    pub max_steps: u64,
    /// `redirect`s per message (Dovecot's sieve_max_redirects).
    pub max_redirects: u32,
    /// Actions per message.
    pub max_actions: usize,
    /// Octets a variable holds (RFC 5229 6: at least 4000).
    pub max_variable_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_script_size: 1 << 20,
            max_nesting: 32,
            max_steps: 100_000,
            max_redirects: 4,
            max_actions: 32,
            max_variable_size: 4096,
        }
    }
}

/// A script ready to run, and what the compiler would like its author to know.
#[derive(Debug, Clone)]
pub struct Compiled {
    program: program::Program,
    pub warnings: Vec<String>,
    limits: Limits,
}

/// Why a script does not compile: every problem, with its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Errors {}

/// Compiles with the default [`Limits`].
pub fn compile(script: &[u8]) -> Result<Compiled, Errors> {
    compile_with(script, Limits::default())
}

/// Compiles a script (RFC 5228 8 grammar, RFC 5228 3.2 `require`).
pub fn compile_with(script: &[u8], limits: Limits) -> Result<Compiled, Errors> {
    build(script, limits, false)
}

fn build(script: &[u8], limits: Limits, testsuite: bool) -> Result<Compiled, Errors> {
    if script.len() > limits.max_script_size {
        let message = format!("the script is {} octets; at most {} are allowed", script.len(), limits.max_script_size);
        return Err(Errors(vec![Error::new(Pos { line: 1, column: 1 }, message)]));
    }
    let commands = parser::parse(script, limits.max_nesting).map_err(|e| Errors(vec![e]))?;
    let mut compiler = compile::Compiler::new();
    compiler.testsuite = testsuite;
    let (program, warnings) = compiler.program(&commands).map_err(|e| Errors(vec![e]))?;
    Ok(Compiled { program, warnings, limits })
}

/// The envelope of the message being delivered (RFC 5228 5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM; "" for the null reverse-path.
    pub from: String,
    /// The recipient this delivery is for.
    pub to: String,
    /// The authenticated sender (RFC 4954 AUTH=), if any.
    pub auth: Option<String>,
}

/// What outlives one message: vacation replies sent and duplicates seen, and which
/// mailboxes exist. The delivery agent keeps it per user.
pub trait Memory {
    /// True when `key` was recorded less than `period` seconds ago; records it now.
    fn seen(&mut self, key: &str, period: u64) -> bool;
    /// RFC 5490 3.1 `mailboxexists`.
    fn mailbox_exists(&self, _name: &str) -> bool {
        false
    }
}

/// A [`Memory`] that remembers nothing (every reply goes, nothing is a duplicate).
pub struct NoMemory;

impl Memory for NoMemory {
    fn seen(&mut self, _key: &str, _period: u64) -> bool {
        false
    }
}

/// What a run needs besides the script and the message.
pub struct Context<'m> {
    pub envelope: Envelope,
    /// The time `currentdate` sees.
    pub now: SystemTime,
    /// The local zone, minutes east of UTC (RFC 5260 4.1's default zone).
    pub zone: i32,
    /// Addresses of the user besides the envelope recipient (vacation's `:addresses` default).
    pub addresses: Vec<String>,
    /// The spam filter's verdict as a percentage (0 clean, 100 surely spam); None when no
    /// filter looked at the message (RFC 5235 `spamtest`).
    pub spam: Option<u8>,
    pub memory: &'m mut dyn Memory,
}

impl<'m> Context<'m> {
    pub fn new(envelope: Envelope, memory: &'m mut dyn Memory) -> Context<'m> {
        Context { envelope, now: SystemTime::now(), zone: 0, addresses: Vec::new(), spam: None, memory }
    }
}

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

/// Runs a compiled script against a message.
pub fn run(script: &Compiled, message: &[u8], ctx: &mut Context<'_>) -> Outcome {
    let msg = message::Message::parse(message);
    run::Run::new(&script.program, msg, ctx, &script.limits).outcome()
}

#[cfg(test)]
mod tests;
