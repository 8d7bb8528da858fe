//! The SMTP server session as a sans-IO state machine (RFC 5321).
//!
//! The driver feeds received bytes with [`Session::feed`], then calls
//! [`Session::next_event`] until it returns [`Event::NeedInput`] or [`Event::Close`],
//! writing [`Session::take_output`] to the peer before it reads again (RFC 2920:
//! replies to pipelined commands may be held until the input buffer is empty).
//! Events that need a decision (MAIL, RCPT, a finished message) pause the session
//! until the driver answers with [`Session::answer`] or [`Session::queued`].

use crate::address::Mailbox;
use crate::command::{self, Command, MailParams};
use crate::data::{Content, DataReader};
use crate::reply::Reply;
use crate::sasl::{self, Step};

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;

/// What the session needs to know about the server and the connection.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our fully qualified name, used in the banner and EHLO reply.
    pub hostname: String,
    /// SIZE limit in octets (RFC 1870).
    pub max_message_size: u64,
    /// Recipients per transaction before 452 (RFC 5321 4.5.3.1.10).
    pub max_recipients: usize,
    /// Error replies before the session is closed with 421.
    pub max_errors: u32,
    /// Whether STARTTLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// Whether the connection is already encrypted (implicit TLS).
    pub tls: bool,
    /// Whether AUTH is offered (the submission listeners).
    pub auth: bool,
    /// Whether MAIL needs AUTH first (RFC 6409 4.3; 530 5.7.0 otherwise, RFC 4954 6).
    pub auth_required: bool,
    /// Whether AUTH may happen without TLS (only when configured for loopback clients).
    pub auth_plaintext: bool,
    /// Failed AUTH attempts before the session is closed with 421.
    pub max_auth_failures: u32,
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Flush output, read more input, call `feed`.
    NeedInput,
    /// MAIL FROM: decide with `answer`. `from` is empty for the null sender.
    Mail { from: String, params: MailParams },
    /// RCPT TO: decide with `answer`.
    Rcpt { to: Mailbox },
    /// A complete message: store it durably, then call `queued`.
    Message(Transaction),
    /// Flush output, run the TLS handshake, then call `tls_established`.
    StartTls,
    /// Credentials to check: answer with `authenticated`.
    Auth {
        /// "PLAIN" or "LOGIN", for logs.
        mechanism: &'static str,
        /// The login name as given.
        login: String,
        /// The password.
        password: String,
    },
    /// Flush output and close the connection.
    Close,
}

/// A finished mail transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The HELO/EHLO name.
    pub helo: String,
    /// Protocol name for Received: "SMTP", "ESMTP", "ESMTPS", "ESMTPA" or "ESMTPSA" (RFC 3848).
    pub proto: &'static str,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// Reverse-path; empty for the null sender.
    pub from: String,
    /// Parameters given on MAIL.
    pub params: MailParams,
    /// Accepted recipients as given in RCPT TO.
    pub recipients: Vec<String>,
    /// The message, with CRLF line ends, dot-unstuffed.
    pub message: Vec<u8>,
}

#[derive(Debug)]
enum Phase {
    Command,
    Data(DataReader),
    Bdat {
        remaining: u64,
        last: bool,
    },
    /// Consuming the bytes of a BDAT chunk that was refused (RFC 3030 2: the chunk is read anyway).
    BdatDiscard {
        remaining: u64,
        reply: Reply,
    },
    /// Reading a SASL response line after a 334 challenge.
    AuthResponse(sasl::Exchange),
    AwaitAuth,
    AwaitMail,
    AwaitRcpt,
    AwaitQueue,
    Closed,
}

#[derive(Debug)]
struct Pending {
    from: String,
    params: MailParams,
    recipients: Vec<String>,
    bdat: Option<Content>,
}

/// One SMTP server session.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    phase: Phase,
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    helo: Option<(String, bool)>,
    tx: Option<Pending>,
    rcpt_wanted: Option<String>,
    errors: u32,
    skipping_long_line: bool,
    user: Option<String>,
    auth_failures: u32,
}

impl Session {
    /// A new session; the greeting is already in the output.
    pub fn new(cfg: SessionConfig) -> Session {
        let mut s = Session {
            phase: Phase::Command,
            input: Vec::new(),
            pos: 0,
            output: Vec::new(),
            helo: None,
            tx: None,
            rcpt_wanted: None,
            errors: 0,
            skipping_long_line: false,
            user: None,
            auth_failures: 0,
            cfg,
        };
        // RFC 5321 4.2: the greeting is exempt from enhanced codes (RFC 2034 3).
        let banner = format!("{} ESMTP carrier", s.cfg.hostname);
        s.send(Reply::bare(220, banner));
        s
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

    /// Replies produced so far, to be written to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// The message content of the transaction in progress (DATA or BDAT), if any.
    fn content(&mut self) -> Option<&mut Content> {
        match &mut self.phase {
            Phase::Data(reader) => Some(reader.content()),
            _ => self.tx.as_mut()?.bdat.as_mut(),
        }
    }

    /// Octets of message content this session holds in memory now.
    pub fn held(&mut self) -> usize {
        self.content().map_or(0, |c| c.held())
    }

    /// The server cannot hold more message content: the message in progress is dropped,
    /// read to its end, and refused with 452 4.3.1; the session goes on.
    pub fn shed(&mut self) {
        if let Some(content) = self.content() {
            content.shed();
        }
    }

    /// True while a message body is being received (the driver uses the data timeout).
    pub fn in_data(&self) -> bool {
        matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. } | Phase::BdatDiscard { .. })
    }

    /// The client talked before the greeting: refuse and close (RFC 5321 4.3.1: the
    /// client waits for the 220 greeting; early talkers are usually spam engines).
    pub fn early_talker(&mut self) {
        self.output.clear();
        let text = format!("{} Protocol error: you talked before my greeting", self.cfg.hostname);
        self.send(Reply::new(554, "5.5.1", text));
        self.phase = Phase::Closed;
    }

    /// The client was idle too long (RFC 5321 4.5.3.2.7).
    pub fn timeout(&mut self) {
        let text = format!("{} Error: timeout exceeded, closing connection", self.cfg.hostname);
        self.send(Reply::new(421, "4.4.2", text));
        self.phase = Phase::Closed;
    }

    /// The server is going away (shutdown) or cannot serve (too many connections).
    pub fn shutdown(&mut self, reply: Reply) {
        self.output.clear();
        self.send(reply);
        self.phase = Phase::Closed;
    }

    /// Answers the pending MAIL or RCPT event: Ok accepts, Err(reply) refuses.
    pub fn answer(&mut self, decision: Result<(), Reply>) {
        match (&self.phase, decision) {
            (Phase::AwaitMail, Ok(())) => self.send(Reply::new(250, "2.1.0", "Ok")),
            (Phase::AwaitRcpt, Ok(())) => {
                if let (Some(tx), Some(to)) = (self.tx.as_mut(), self.rcpt_wanted.take()) {
                    tx.recipients.push(to);
                }
                self.send(Reply::new(250, "2.1.5", "Ok"));
            }
            (Phase::AwaitMail, Err(reply)) => {
                self.tx = None;
                self.send_error(reply);
            }
            (Phase::AwaitRcpt, Err(reply)) => {
                self.rcpt_wanted = None;
                self.send_error(reply);
            }
            _ => return,
        }
        self.resume();
    }

    /// Answers the pending Message event: Ok(queue id) or the reply refusing it.
    pub fn queued(&mut self, result: Result<String, Reply>) {
        if !matches!(self.phase, Phase::AwaitQueue) {
            return;
        }
        match result {
            Ok(id) => self.send(Reply::new(250, "2.0.0", format!("Ok: queued as {id}"))),
            Err(reply) => self.send_error(reply),
        }
        self.resume();
    }

    /// The TLS handshake after STARTTLS succeeded. RFC 3207 4.2: forget everything
    /// learned before, including any pipelined input (CVE-2011-0411).
    pub fn tls_established(&mut self) {
        self.cfg.tls = true;
        self.helo = None;
        self.user = None;
        self.tx = None;
        self.input.clear();
        self.pos = 0;
    }

    fn resume(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.phase = Phase::Command;
        }
    }

    fn send(&mut self, reply: Reply) {
        reply.write_to(&mut self.output);
    }

    /// Sends an error reply and closes the session after too many (Postfix's hard error limit).
    fn send_error(&mut self, reply: Reply) {
        self.send(reply);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.send(Reply::new(421, "4.7.0", format!("{} Too many errors, closing connection", self.cfg.hostname)));
            self.phase = Phase::Closed;
        }
    }

    fn pending_input(&self) -> &[u8] {
        &self.input[self.pos..]
    }

    /// Runs the session until it needs input, a decision, or closes.
    pub fn next_event(&mut self) -> Event {
        loop {
            let event = match &mut self.phase {
                Phase::Closed => return Event::Close,
                Phase::AwaitMail | Phase::AwaitRcpt | Phase::AwaitQueue | Phase::AwaitAuth => {
                    debug_assert!(false, "next_event called while a decision is pending");
                    return Event::Close;
                }
                Phase::Command => self.step_command(),
                Phase::Data(_) => self.step_data(),
                Phase::Bdat { .. } | Phase::BdatDiscard { .. } => self.step_bdat(),
                Phase::AuthResponse(_) => self.step_auth_response(),
            };
            if let Some(event) = event {
                return event;
            }
        }
    }

    /// Handles one command line if a whole one is buffered.
    fn step_command(&mut self) -> Option<Event> {
        let pending = self.pending_input();
        let Some(lf) = pending.iter().position(|&b| b == b'\n') else {
            if pending.len() >= MAX_COMMAND_LINE && !self.skipping_long_line {
                // RFC 5321 4.5.3.1.10: "500 Line too long"; discard up to the next line end.
                self.skipping_long_line = true;
                self.send_error(Reply::new(500, "5.5.2", "Line too long (at most 512 octets)"));
            }
            if self.skipping_long_line {
                self.pos = self.input.len();
            }
            return Some(self.need_input());
        };
        let start = self.pos;
        self.pos += lf + 1;
        if std::mem::take(&mut self.skipping_long_line) {
            return None;
        }
        // Commands end with CRLF; a bare LF is tolerated here as Postfix does (it cannot
        // smuggle anything: DATA content is read by DataReader, which needs CRLF).
        let mut line = &self.input[start..start + lf];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.len() + 2 > MAX_COMMAND_LINE {
            self.send_error(Reply::new(500, "5.5.2", "Line too long (at most 512 octets)"));
            return None;
        }
        match command::parse(line) {
            Ok(cmd) => self.command(cmd),
            Err(reply) => {
                self.send_error(reply);
                None
            }
        }
    }

    fn need_input(&mut self) -> Event {
        if matches!(self.phase, Phase::Closed) { Event::Close } else { Event::NeedInput }
    }

    fn command(&mut self, cmd: Command) -> Option<Event> {
        match cmd {
            Command::Helo(name) => self.helo(name, false),
            Command::Ehlo(name) => self.helo(name, true),
            Command::Mail(from, params) => return self.mail(from, params),
            Command::Rcpt(to) => return self.rcpt(to),
            Command::Data => self.data(),
            Command::Bdat(size, last) => self.bdat(size, last),
            Command::Rset => {
                self.tx = None;
                self.send(Reply::new(250, "2.0.0", "Ok"));
            }
            Command::Noop => self.send(Reply::new(250, "2.0.0", "Ok")),
            Command::Quit => {
                self.send(Reply::new(221, "2.0.0", "Bye"));
                self.phase = Phase::Closed;
                return Some(Event::Close);
            }
            // RFC 5321 3.5.3: 252 neither confirms nor denies; users are not disclosed.
            Command::Vrfy => {
                self.send(Reply::new(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"))
            }
            Command::Expn => self.send_error(Reply::new(502, "5.5.1", "EXPN is not available")),
            Command::Help => self.send(Reply::new(
                214,
                "2.0.0",
                "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS",
            )),
            Command::StartTls => return self.starttls(),
            Command::Auth(arg) => return self.auth(&arg),
        }
        None
    }

    fn helo(&mut self, name: String, esmtp: bool) {
        // RFC 5321 4.1.4: EHLO/HELO resets any transaction in progress.
        self.tx = None;
        let greeting = format!("{} Hello {}", self.cfg.hostname, name);
        self.helo = Some((name, esmtp));
        if !esmtp {
            return self.send(Reply::bare(250, greeting));
        }
        let mut lines = vec![
            greeting,
            "PIPELINING".to_string(),
            format!("SIZE {}", self.cfg.max_message_size),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "CHUNKING".to_string(),
        ];
        if self.cfg.starttls && !self.cfg.tls {
            lines.push("STARTTLS".to_string());
        }
        // RFC 4954 4: no plaintext mechanisms offered over an unencrypted connection.
        if self.cfg.auth && (self.cfg.tls || self.cfg.auth_plaintext) {
            lines.push(format!("AUTH {}", sasl::MECHANISMS));
        }
        lines.push("HELP".to_string());
        self.send(Reply { code: 250, status: None, lines });
    }

    fn mail(&mut self, from: Option<Mailbox>, params: MailParams) -> Option<Event> {
        let Some((_, esmtp)) = &self.helo else {
            self.send_error(Reply::new(503, "5.5.1", "Send HELO or EHLO first"));
            return None;
        };
        if self.cfg.auth_required && self.user.is_none() {
            // RFC 4954 6 / RFC 6409 4.3: submission needs authentication.
            self.send_error(Reply::new(530, "5.7.0", "Authentication required"));
            return None;
        }
        if self.tx.is_some() {
            self.send_error(Reply::new(503, "5.5.1", "Nested MAIL command"));
            return None;
        }
        // Service extensions need EHLO (RFC 5321 4.1.1.11).
        if params.any && !esmtp {
            self.send_error(Reply::new(555, "5.5.4", "MAIL parameters need EHLO, not HELO"));
            return None;
        }
        if from.as_ref().is_some_and(|m| m.utf8) && !params.smtputf8 {
            // RFC 6531 3.5: a non-ASCII address needs the SMTPUTF8 parameter.
            self.send_error(Reply::new(553, "5.6.7", "Non-ASCII sender address requires SMTPUTF8"));
            return None;
        }
        if let Some(size) = params.size.filter(|&s| s > self.cfg.max_message_size) {
            // RFC 1870 6.1
            let text = format!("Message size {size} exceeds fixed maximum message size {}", self.cfg.max_message_size);
            self.send_error(Reply::new(552, "5.3.4", text));
            return None;
        }
        let from = from.map(|m| m.address()).unwrap_or_default();
        self.tx = Some(Pending { from: from.clone(), params: params.clone(), recipients: Vec::new(), bdat: None });
        self.phase = Phase::AwaitMail;
        Some(Event::Mail { from, params })
    }

    fn rcpt(&mut self, to: Mailbox) -> Option<Event> {
        let Some(tx) = &self.tx else {
            self.send_error(Reply::new(503, "5.5.1", "Need MAIL before RCPT"));
            return None;
        };
        if tx.bdat.is_some() {
            self.send_error(Reply::new(503, "5.5.1", "RCPT not allowed after BDAT"));
            return None;
        }
        if to.utf8 && !tx.params.smtputf8 {
            self.send_error(Reply::new(553, "5.6.7", "Non-ASCII recipient address requires SMTPUTF8"));
            return None;
        }
        if tx.recipients.len() >= self.cfg.max_recipients {
            // RFC 5321 4.5.3.1.10: 452 and the client sends the rest in another transaction.
            self.send(Reply::new(452, "4.5.3", "Too many recipients"));
            return None;
        }
        self.rcpt_wanted = Some(to.address());
        self.phase = Phase::AwaitRcpt;
        Some(Event::Rcpt { to })
    }

    /// Checks that a transaction with recipients is open, before DATA or BDAT.
    fn ready_for_content(&self) -> Result<(), Reply> {
        match &self.tx {
            None => Err(Reply::new(503, "5.5.1", "Need MAIL command")),
            Some(tx) if tx.recipients.is_empty() => Err(Reply::new(554, "5.5.1", "No valid recipients")),
            Some(_) => Ok(()),
        }
    }

    fn data(&mut self) {
        if let Err(reply) = self.ready_for_content() {
            return self.send_error(reply);
        }
        if self.tx.as_ref().is_some_and(|tx| tx.bdat.is_some()) {
            return self.send_error(Reply::new(503, "5.5.1", "DATA not allowed after BDAT"));
        }
        self.send(Reply::bare(354, "End data with <CR><LF>.<CR><LF>"));
        self.phase = Phase::Data(DataReader::new(self.cfg.max_message_size));
    }

    fn step_data(&mut self) -> Option<Event> {
        let Phase::Data(reader) = &mut self.phase else {
            return None;
        };
        let (n, done) = reader.feed(&self.input[self.pos..]);
        self.pos += n;
        if !done {
            return Some(Event::NeedInput);
        }
        let Phase::Data(reader) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return None;
        };
        self.finish_message(reader.finish())
    }

    fn bdat(&mut self, size: u64, last: bool) {
        let refusal = self.ready_for_content().err().or_else(|| {
            (!self.helo.as_ref().is_some_and(|h| h.1)).then(|| Reply::new(503, "5.5.1", "BDAT needs EHLO"))
        });
        if let Some(reply) = refusal {
            // RFC 3030 2: the chunk's octets are consumed even when the command fails.
            self.tx = None;
            self.phase = Phase::BdatDiscard { remaining: size, reply };
            return;
        }
        let max = self.cfg.max_message_size;
        if let Some(tx) = self.tx.as_mut() {
            tx.bdat.get_or_insert_with(|| Content::new(max));
        }
        self.phase = Phase::Bdat { remaining: size, last };
    }

    fn step_bdat(&mut self) -> Option<Event> {
        let available = self.pending_input().len() as u64;
        let (remaining, last) = match &mut self.phase {
            Phase::Bdat { remaining, last } => (remaining, Some(*last)),
            Phase::BdatDiscard { remaining, .. } => (remaining, None),
            _ => return None,
        };
        let take = (*remaining).min(available);
        *remaining -= take;
        let done = *remaining == 0;
        let chunk = self.pos..self.pos + take as usize;
        self.pos += take as usize;
        if let (Some(_), Some(content)) = (last, self.tx.as_mut().and_then(|tx| tx.bdat.as_mut())) {
            content.push(&self.input[chunk]);
        }
        if !done {
            return Some(Event::NeedInput);
        }
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::BdatDiscard { reply, .. } => self.send_error(reply),
            Phase::Bdat { last: true, .. } => {
                let content = self.tx.as_mut().and_then(|tx| tx.bdat.take())?;
                return self.finish_message(content.finish());
            }
            _ => {
                let size = self.tx.as_ref().and_then(|tx| tx.bdat.as_ref()).map_or(0, |c| c.size());
                self.send(Reply::new(250, "2.0.0", format!("{size} octets received")));
            }
        }
        None
    }

    fn finish_message(&mut self, message: Result<Vec<u8>, Reply>) -> Option<Event> {
        let tx = self.tx.take()?;
        match message {
            Err(reply) => {
                self.send_error(reply);
                None
            }
            Ok(message) => {
                let (helo, esmtp) = self.helo.clone().unwrap_or_default();
                // RFC 3848 protocol names.
                let proto = match (esmtp, self.cfg.tls, self.user.is_some()) {
                    (false, _, _) => "SMTP",
                    (true, false, false) => "ESMTP",
                    (true, true, false) => "ESMTPS",
                    (true, false, true) => "ESMTPA",
                    (true, true, true) => "ESMTPSA",
                };
                self.phase = Phase::AwaitQueue;
                Some(Event::Message(Transaction {
                    helo,
                    proto,
                    user: self.user.clone(),
                    from: tx.from,
                    params: tx.params,
                    recipients: tx.recipients,
                    message,
                }))
            }
        }
    }

    /// AUTH (RFC 4954 4).
    fn auth(&mut self, arg: &str) -> Option<Event> {
        let refusal = if !self.cfg.auth {
            Some(Reply::new(503, "5.5.1", "Authentication is not enabled on this port"))
        } else if !self.helo.as_ref().is_some_and(|h| h.1) {
            Some(Reply::new(503, "5.5.1", "Send EHLO first"))
        } else if self.user.is_some() {
            Some(Reply::new(503, "5.5.1", "Already authenticated"))
        } else if self.tx.is_some() {
            Some(Reply::new(503, "5.5.1", "AUTH is not allowed during a mail transaction"))
        } else if !self.cfg.tls && !self.cfg.auth_plaintext {
            // RFC 4954 6: 538 when the mechanism needs an encrypted connection.
            Some(Reply::new(538, "5.7.11", "Encryption required: use STARTTLS first"))
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.send_error(reply);
            return None;
        }
        match sasl::start(arg) {
            Ok(step) => self.sasl_step(step),
            Err(reply) => {
                self.send_error(reply);
                None
            }
        }
    }

    fn sasl_step(&mut self, step: Step) -> Option<Event> {
        match step {
            Step::Challenge { challenge, exchange } => {
                self.send(Reply::bare(334, challenge));
                self.phase = Phase::AuthResponse(exchange);
                None
            }
            Step::Done(c) => {
                self.phase = Phase::AwaitAuth;
                Some(Event::Auth { mechanism: c.mechanism.name(), login: c.login, password: c.password })
            }
            // Protocol mistakes count as ordinary errors; only wrong credentials count
            // toward the authentication-failure limit (as Postfix counts them).
            Step::Failed(error) => {
                self.phase = Phase::Command;
                self.send_error(sasl::refusal(error));
                None
            }
        }
    }

    /// A response line after a 334 challenge.
    fn step_auth_response(&mut self) -> Option<Event> {
        let pending = self.pending_input();
        let Some(lf) = pending.iter().position(|&b| b == b'\n') else {
            if pending.len() > sasl::MAX_RESPONSE {
                self.phase = Phase::Command;
                self.skipping_long_line = true;
                self.pos = self.input.len();
                self.send_error(sasl::refusal(sasl::Error::TooLong));
                return None;
            }
            return Some(Event::NeedInput);
        };
        let line = &pending[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
        self.pos += lf + 1;
        let Phase::AuthResponse(exchange) = std::mem::replace(&mut self.phase, Phase::Command) else { return None };
        self.sasl_step(exchange.respond(&line))
    }

    /// Answers the pending Auth event: Ok(canonical user) or the reply refusing it
    /// (535 5.7.8 for wrong credentials, 454 4.7.0 when the server is throttling).
    pub fn authenticated(&mut self, result: Result<String, Reply>) {
        if !matches!(self.phase, Phase::AwaitAuth) {
            return;
        }
        self.phase = Phase::Command;
        match result {
            Ok(user) => {
                self.user = Some(user);
                self.send(Reply::new(235, "2.7.0", "Authentication successful"));
            }
            Err(reply) => self.auth_failed(reply),
        }
    }

    /// Counts a failed exchange; too many close the session (brute-force defence).
    fn auth_failed(&mut self, reply: Reply) {
        self.auth_failures += 1;
        self.send_error(reply);
        if self.auth_failures >= self.cfg.max_auth_failures && !matches!(self.phase, Phase::Closed) {
            let text = format!("{} Too many authentication failures, closing connection", self.cfg.hostname);
            self.send(Reply::new(421, "4.7.0", text));
            self.phase = Phase::Closed;
        }
    }

    /// Error replies sent so far (malformed, unknown or out-of-order commands and refusals,
    /// as Postfix's error count), for the session's closing log line.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    fn starttls(&mut self) -> Option<Event> {
        if self.cfg.tls {
            self.send_error(Reply::new(503, "5.5.1", "TLS already active"));
            return None;
        }
        if !self.cfg.starttls {
            self.send_error(Reply::new(502, "5.5.1", "STARTTLS not available"));
            return None;
        }
        self.send(Reply::new(220, "2.0.0", "Ready to start TLS"));
        // RFC 3207 4.2 / CVE-2011-0411: nothing pipelined after STARTTLS may survive.
        self.input.clear();
        self.pos = 0;
        Some(Event::StartTls)
    }

    /// The HELO/EHLO name given so far, for logs.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo.as_ref().map(|(name, _)| name.as_str())
    }
}
