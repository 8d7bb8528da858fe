//! The POP3 server session as a sans-IO state machine (RFC 1939, RFC 2449 CAPA and response
//! codes, RFC 2595 STLS, RFC 3206 codes, RFC 5034 SASL AUTH).
//!
//! The driver feeds received bytes with [`Session::feed`] and calls [`Session::next_event`]
//! until it returns [`Event::NeedInput`] or [`Event::Close`], writing
//! [`Session::take_output`] to the client before it reads again (so pipelined commands,
//! RFC 2449 PIPELINING, are answered in one write). Events that need the server (checking a
//! password, reading a message, deleting at QUIT) pause the session until the driver answers.

use crate::body;
use crate::command::{self, Command};
use carrier_sasl::{self as sasl, Exchange, Mechanism, Step};

/// RFC 2449 4: a command line is at most 255 octets including CRLF.
pub const MAX_LINE: usize = 255;
/// RFC 5034 4: SASL lines may be longer; the same limit as SMTP AUTH (RFC 4954 4).
pub const MAX_AUTH_LINE: usize = sasl::MAX_RESPONSE;

/// What the session needs to know about the server and the connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our host name, for the greeting.
    pub hostname: String,
    /// The connection is encrypted (pop3s, or after STLS).
    pub tls: bool,
    /// STLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// USER/PASS and AUTH may run without TLS (the loopback exception).
    pub plaintext: bool,
    /// Error replies before the session is closed.
    pub max_errors: u32,
    /// Failed logins before the session is closed.
    pub max_auth_failures: u32,
}

/// One message of the maildrop, as the server announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The store's UID, passed back in events.
    pub uid: u32,
    /// Octets with CRLF line ends (RFC 1939 5: the size as sent).
    pub size: u64,
    /// The unique-id listing (RFC 1939 7): stable across sessions.
    pub uidl: String,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong user or password: `-ERR [AUTH]` (RFC 3206 4).
    Credentials,
    /// Too many failures from the client's address: `-ERR [SYS/TEMP]`.
    Throttled,
    /// The mailbox could not be opened: `-ERR [SYS/TEMP]` with the reason.
    Unavailable(String),
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Flush output, read more input, call `feed`.
    NeedInput,
    /// Flush output, run the TLS handshake, call `tls_established`.
    StartTls,
    /// Check credentials and open the maildrop; answer with `logged_in`.
    Auth {
        /// "USER" (USER/PASS) or "PLAIN", for logs.
        mechanism: &'static str,
        /// The login name as given.
        login: String,
        /// The password.
        password: String,
    },
    /// Read a message; answer with `message`. `lines` is Some for TOP.
    Retrieve {
        /// Its UID.
        uid: u32,
        /// TOP's body line count.
        lines: Option<u32>,
    },
    /// QUIT in TRANSACTION state (RFC 1939 6, UPDATE): remove `deleted`, mark `retrieved`
    /// seen; answer with `committed`.
    Commit {
        /// Messages marked with DELE.
        deleted: Vec<u32>,
        /// Messages fully retrieved with RETR and not deleted.
        retrieved: Vec<u32>,
    },
    /// Flush output and close the connection.
    Close,
}

/// Counters for the disconnect log line (Dovecot's `top=`, `retr=`, `del=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// TOP commands answered.
    pub top: u32,
    /// Octets sent for TOP.
    pub top_bytes: u64,
    /// RETR commands answered.
    pub retr: u32,
    /// Octets sent for RETR.
    pub retr_bytes: u64,
    /// Messages deleted at QUIT.
    pub deleted: u32,
    /// Messages in the maildrop.
    pub messages: u32,
    /// Octets in the maildrop.
    pub size: u64,
}

#[derive(Debug)]
enum Phase {
    /// AUTHORIZATION, with the name from USER.
    Authorization(Option<String>),
    /// Waiting for a SASL response line after `+ `.
    AuthResponse(Exchange),
    AwaitLogin,
    Transaction,
    AwaitMessage {
        uid: u32,
        lines: Option<u32>,
        size: u64,
    },
    AwaitCommit(u32),
    Closed,
}

/// One POP3 server session.
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    phase: Phase,
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    skipping_long_line: bool,
    errors: u32,
    auth_failures: u32,
    maildrop: Vec<Message>,
    deleted: Vec<bool>,
    retrieved: Vec<bool>,
    stats: Stats,
}

impl Session {
    /// A new session; the greeting is already in the output.
    pub fn new(cfg: Config) -> Session {
        let greeting = format!("+OK {} POP3 carrier ready.\r\n", cfg.hostname);
        Session {
            cfg,
            phase: Phase::Authorization(None),
            input: Vec::new(),
            pos: 0,
            output: greeting.into_bytes(),
            skipping_long_line: false,
            errors: 0,
            auth_failures: 0,
            maildrop: Vec::new(),
            deleted: Vec::new(),
            retrieved: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Replies produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True once logged in (TRANSACTION state).
    pub fn logged_in(&self) -> bool {
        matches!(self.phase, Phase::Transaction | Phase::AwaitMessage { .. } | Phase::AwaitCommit(_))
    }

    /// The counters for the log.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The client was idle too long; deletions are not applied (RFC 1939 6: only QUIT does).
    pub fn timeout(&mut self) {
        self.reply_err("Disconnected for inactivity.");
        self.phase = Phase::Closed;
    }

    /// The server is shutting down.
    pub fn shutdown(&mut self) {
        self.reply_err("[SYS/TEMP] Server shutting down.");
        self.phase = Phase::Closed;
    }

    /// The TLS handshake after STLS succeeded. RFC 2595 4: forget what came before,
    /// including input pipelined behind STLS (CVE-2011-0411).
    pub fn tls_established(&mut self) {
        self.cfg.tls = true;
        self.input.clear();
        self.pos = 0;
        self.phase = Phase::Authorization(None);
    }

    /// Answers an `Auth` event: the maildrop, or why not.
    pub fn login(&mut self, result: Result<Vec<Message>, LoginFailure>) {
        if !matches!(self.phase, Phase::AwaitLogin) {
            return;
        }
        match result {
            Ok(maildrop) => {
                self.stats.messages = maildrop.len() as u32;
                self.stats.size = maildrop.iter().map(|m| m.size).sum();
                self.deleted = vec![false; maildrop.len()];
                self.retrieved = vec![false; maildrop.len()];
                self.maildrop = maildrop;
                self.reply_ok("Logged in.");
                self.phase = Phase::Transaction;
            }
            Err(failure) => {
                self.phase = Phase::Authorization(None);
                self.login_failed(failure);
            }
        }
    }

    fn login_failed(&mut self, failure: LoginFailure) {
        match failure {
            LoginFailure::Credentials => {
                self.auth_failures += 1;
                if self.auth_failures >= self.cfg.max_auth_failures {
                    self.reply_err("[AUTH] Authentication failed; too many failures, closing connection.");
                    self.phase = Phase::Closed;
                } else {
                    self.reply_err("[AUTH] Authentication failed.");
                }
            }
            LoginFailure::Throttled => {
                self.reply_err("[SYS/TEMP] Too many failed logins from your address; try again later.");
                self.phase = Phase::Closed;
            }
            LoginFailure::Unavailable(why) => self.reply_err(&format!("[SYS/TEMP] {why}")),
        }
    }

    /// Answers a `Retrieve` event with the message as stored (LF line ends), or the text
    /// of an -ERR (e.g. the message was deleted by another session meanwhile).
    pub fn message(&mut self, result: Result<Vec<u8>, String>) {
        let Phase::AwaitMessage { uid, lines, size } = self.phase else { return };
        self.phase = Phase::Transaction;
        match result {
            Ok(bytes) => {
                let start = self.output.len();
                match lines {
                    None => self.reply_ok(&format!("{size} octets")),
                    Some(_) => self.reply_ok("Top of message follows"),
                }
                body::encode(&bytes, lines, &mut self.output);
                let sent = (self.output.len() - start) as u64;
                if lines.is_none() {
                    self.stats.retr += 1;
                    self.stats.retr_bytes += sent;
                    if let Some(i) = self.maildrop.iter().position(|m| m.uid == uid) {
                        self.retrieved[i] = true;
                    }
                } else {
                    self.stats.top += 1;
                    self.stats.top_bytes += sent;
                }
            }
            Err(text) => self.reply_err(&text),
        }
    }

    /// Answers a `Commit` event; the session then closes.
    pub fn committed(&mut self, result: Result<(), String>) {
        let Phase::AwaitCommit(deleted) = self.phase else { return };
        match result {
            Ok(()) => {
                self.stats.deleted = deleted;
                self.reply_ok(&format!("Logging out, {deleted} messages deleted."));
            }
            // RFC 2449 8.1.2: some deletions failed.
            Err(text) => self.reply_err(&format!("[SYS/TEMP] {text}")),
        }
        self.phase = Phase::Closed;
    }

    /// Runs the session until it needs input, the server, or closes.
    pub fn next_event(&mut self) -> Event {
        loop {
            match self.phase {
                Phase::Closed => return Event::Close,
                Phase::AwaitLogin | Phase::AwaitMessage { .. } | Phase::AwaitCommit(_) => {
                    debug_assert!(false, "next_event called while the server's answer is pending");
                    return Event::Close;
                }
                _ => {}
            }
            let limit = if matches!(self.phase, Phase::AuthResponse(_)) || self.auth_line_pending() {
                MAX_AUTH_LINE
            } else {
                MAX_LINE
            };
            let Some(line) = self.next_line(limit) else { return Event::NeedInput };
            let event = match self.phase {
                Phase::AuthResponse(_) => self.auth_response(&line),
                _ => self.command(&line),
            };
            if let Some(event) = event {
                return event;
            }
        }
    }

    /// True when the buffered line is an AUTH command, whose initial response may be long.
    fn auth_line_pending(&self) -> bool {
        self.input[self.pos..].get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "))
    }

    /// The next complete line without its line end; a bare LF is accepted as a line end.
    /// Over-long lines are answered and skipped.
    fn next_line(&mut self, limit: usize) -> Option<Vec<u8>> {
        loop {
            let pending = &self.input[self.pos..];
            let Some(lf) = pending.iter().position(|&b| b == b'\n') else {
                if pending.len() >= limit && !self.skipping_long_line {
                    self.skipping_long_line = true;
                    self.line_too_long(limit);
                }
                if self.skipping_long_line {
                    self.pos = self.input.len();
                }
                return None;
            };
            let start = self.pos;
            self.pos += lf + 1;
            if std::mem::take(&mut self.skipping_long_line) {
                continue;
            }
            if lf + 1 > limit {
                self.line_too_long(limit);
                if matches!(self.phase, Phase::Closed) {
                    return None;
                }
                continue;
            }
            let line = &self.input[start..start + lf];
            return Some(line.strip_suffix(b"\r").unwrap_or(line).to_vec());
        }
    }

    fn line_too_long(&mut self, limit: usize) {
        if matches!(self.phase, Phase::AuthResponse(_)) {
            self.phase = Phase::Authorization(None);
        }
        self.error(&format!("Line too long (at most {limit} octets)"));
    }

    fn command(&mut self, line: &[u8]) -> Option<Event> {
        let cmd = match command::parse(line) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.error(&e.text());
                return None;
            }
        };
        let logged_in = self.logged_in();
        if cmd.needs_login() && !logged_in {
            self.error("Not logged in: use USER and PASS, or AUTH, first.");
            return None;
        }
        if cmd.before_login() && logged_in {
            self.error("Already logged in.");
            return None;
        }
        match cmd {
            Command::Capa => self.capa(),
            Command::Quit => return Some(self.quit()),
            Command::Stls => return self.stls(),
            Command::User(name) => self.user(name),
            Command::Pass(password) => return self.pass(password),
            Command::Auth(mechanism, initial) => return self.auth(mechanism, initial),
            cmd => return self.transaction(cmd),
        }
        None
    }

    /// RFC 2449 5: capabilities depend on the state; USER and SASL only where a password
    /// may be sent (RFC 2595 4), STLS only before TLS.
    fn capa(&mut self) {
        let mut lines = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if !self.logged_in() {
            if self.plaintext_allowed() {
                lines.extend(["USER", "SASL PLAIN"]);
            }
            if self.cfg.starttls && !self.cfg.tls {
                lines.push("STLS");
            }
        }
        lines.push("IMPLEMENTATION carrier");
        self.reply_ok("Capability list follows");
        for line in lines {
            self.output.extend_from_slice(line.as_bytes());
            self.output.extend_from_slice(b"\r\n");
        }
        self.output.extend_from_slice(b".\r\n");
    }

    fn quit(&mut self) -> Event {
        if !self.logged_in() {
            self.reply_ok("Logging out.");
            self.phase = Phase::Closed;
            return Event::Close;
        }
        let uids = |keep: &dyn Fn(usize) -> bool| -> Vec<u32> {
            self.maildrop.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, m)| m.uid).collect()
        };
        let deleted = uids(&|i| self.deleted[i]);
        let retrieved = uids(&|i| self.retrieved[i] && !self.deleted[i]);
        self.phase = Phase::AwaitCommit(deleted.len() as u32);
        Event::Commit { deleted, retrieved }
    }

    fn stls(&mut self) -> Option<Event> {
        if self.cfg.tls {
            self.error("TLS is already active.");
            return None;
        }
        if !self.cfg.starttls {
            self.error("STLS is not available: the server has no certificate.");
            return None;
        }
        self.reply_ok("Begin TLS negotiation now.");
        Some(Event::StartTls)
    }

    fn plaintext_allowed(&self) -> bool {
        self.cfg.tls || self.cfg.plaintext
    }

    /// Passwords only over TLS (RFC 2595 2.1, RFC 8314), unless allowed for loopback.
    fn refuse_plaintext(&mut self) -> bool {
        if self.plaintext_allowed() {
            return false;
        }
        self.error("[AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first.");
        true
    }

    fn user(&mut self, name: String) {
        if self.refuse_plaintext() {
            return;
        }
        self.phase = Phase::Authorization(Some(name));
        self.reply_ok("Send your password.");
    }

    fn pass(&mut self, password: String) -> Option<Event> {
        if self.refuse_plaintext() {
            return None;
        }
        let Phase::Authorization(Some(login)) = std::mem::replace(&mut self.phase, Phase::Authorization(None)) else {
            self.error("Send USER first.");
            return None;
        };
        self.phase = Phase::AwaitLogin;
        Some(Event::Auth { mechanism: "USER", login, password })
    }

    /// RFC 5034 4. `AUTH` alone lists the mechanisms, as many clients expect.
    fn auth(&mut self, mechanism: Option<String>, initial: Option<String>) -> Option<Event> {
        if self.refuse_plaintext() {
            return None;
        }
        let Some(mechanism) = mechanism else {
            self.reply_ok("Supported mechanisms follow");
            self.output.extend_from_slice(b"PLAIN\r\n.\r\n");
            return None;
        };
        if mechanism != "PLAIN" {
            self.error("Unsupported authentication mechanism; use AUTH PLAIN.");
            return None;
        }
        self.sasl_step(Exchange::start(Mechanism::Plain, initial.as_deref().map(str::as_bytes)))
    }

    fn auth_response(&mut self, line: &[u8]) -> Option<Event> {
        let Phase::AuthResponse(exchange) = std::mem::replace(&mut self.phase, Phase::Authorization(None)) else {
            return None;
        };
        self.sasl_step(exchange.respond(line))
    }

    fn sasl_step(&mut self, step: Step) -> Option<Event> {
        let text = match step {
            Step::Challenge { challenge, exchange } => {
                self.output.extend_from_slice(format!("+ {challenge}\r\n").as_bytes());
                self.phase = Phase::AuthResponse(exchange);
                return None;
            }
            Step::Done(c) => {
                self.phase = Phase::AwaitLogin;
                return Some(Event::Auth { mechanism: c.mechanism.name(), login: c.login, password: c.password });
            }
            Step::Failed(sasl::Error::OtherIdentity) => {
                self.login_failed(LoginFailure::Credentials);
                return None;
            }
            // RFC 5034 4: "*" cancels the exchange.
            Step::Failed(sasl::Error::Cancelled) => "[AUTH] Authentication cancelled.".to_string(),
            Step::Failed(sasl::Error::TooLong) => format!("Line too long (at most {MAX_AUTH_LINE} octets)"),
            Step::Failed(sasl::Error::NotBase64) => {
                "Cannot decode the response: not valid base64 of UTF-8 text.".into()
            }
            Step::Failed(sasl::Error::Malformed) => {
                "Malformed PLAIN response (expected authzid NUL user NUL password).".into()
            }
            Step::Failed(sasl::Error::Empty) => "Empty user name or password.".into(),
        };
        self.error(&text);
        None
    }

    fn transaction(&mut self, cmd: Command) -> Option<Event> {
        match cmd {
            Command::Stat => {
                let (n, size) = self.live();
                self.reply_ok(&format!("{n} {size}"));
            }
            Command::Noop => self.reply_ok(""),
            Command::Rset => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                let (n, size) = self.live();
                self.reply_ok(&format!("Maildrop has {n} messages ({size} octets)."));
            }
            Command::List(None) => {
                let (n, size) = self.live();
                self.listing(&format!("{n} messages ({size} octets)"), |m| m.size.to_string());
            }
            Command::Uidl(None) => self.listing("Unique-ID listing follows", |m| m.uidl.clone()),
            Command::List(Some(n)) => {
                let m = self.find(n)?;
                self.reply_ok(&format!("{n} {}", m.size));
            }
            Command::Uidl(Some(n)) => {
                let m = self.find(n)?;
                self.reply_ok(&format!("{n} {}", m.uidl));
            }
            Command::Dele(n) => {
                self.find(n)?;
                self.deleted[n as usize - 1] = true;
                self.reply_ok(&format!("Message {n} marked to be deleted."));
            }
            Command::Retr(n) => return self.retrieve(n, None),
            Command::Top(n, lines) => return self.retrieve(n, Some(lines)),
            _ => {}
        }
        None
    }

    fn retrieve(&mut self, n: u32, lines: Option<u32>) -> Option<Event> {
        let m = self.find(n)?;
        let (uid, size) = (m.uid, m.size);
        self.phase = Phase::AwaitMessage { uid, lines, size };
        Some(Event::Retrieve { uid, lines })
    }

    /// Message `n` unless it is out of range or deleted (each its own -ERR).
    fn find(&mut self, n: u32) -> Option<Message> {
        let i = (n as usize).wrapping_sub(1);
        match self.maildrop.get(i) {
            None => {
                let count = self.maildrop.len();
                self.error(&format!("No such message: {n} (the maildrop has {count} messages)."));
                None
            }
            Some(_) if self.deleted[i] => {
                self.error(&format!("Message {n} is deleted."));
                None
            }
            Some(m) => Some(m.clone()),
        }
    }

    /// Messages not marked deleted, and their octets.
    fn live(&self) -> (usize, u64) {
        let live = self.maildrop.iter().zip(&self.deleted).filter(|(_, d)| !**d);
        live.fold((0, 0), |(n, size), (m, _)| (n + 1, size + m.size))
    }

    fn listing(&mut self, first: &str, value: impl Fn(&Message) -> String) {
        self.reply_ok(first);
        for (i, m) in self.maildrop.iter().enumerate() {
            if !self.deleted[i] {
                self.output.extend_from_slice(format!("{} {}\r\n", i + 1, value(m)).as_bytes());
            }
        }
        self.output.extend_from_slice(b".\r\n");
    }

    fn reply_ok(&mut self, text: &str) {
        let line = if text.is_empty() { "+OK\r\n".to_string() } else { format!("+OK {text}\r\n") };
        self.output.extend_from_slice(line.as_bytes());
    }

    fn reply_err(&mut self, text: &str) {
        self.output.extend_from_slice(format!("-ERR {text}\r\n").as_bytes());
    }

    /// An -ERR for a client mistake; too many close the session.
    fn error(&mut self, text: &str) {
        self.reply_err(text);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.reply_err("Too many errors, closing connection.");
            self.phase = Phase::Closed;
        }
    }
}
