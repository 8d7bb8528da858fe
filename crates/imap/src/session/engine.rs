//! The session's state machine: commands in, responses and events out. The commands of
//! each state are implemented in the sibling modules.

use super::pending::{FetchStep, PendingFetch};
use super::view::Selected;
use crate::backend::{Mailboxes, StoreError};
use crate::parser::{self, Command, Frame, Framer, Kind, Limits, Refusal};
use crate::response::{self, Status};
use carrier_sasl::{self as sasl, Exchange, Mechanism, Step};

/// What the session needs to know about the server and the connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our host name, for the greeting.
    pub hostname: String,
    /// Whether the connection is encrypted (implicit TLS, or after STARTTLS).
    pub tls: bool,
    /// Whether STARTTLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// Whether LOGIN and AUTHENTICATE PLAIN are allowed without TLS (loopback clients only).
    pub plaintext_auth: bool,
    /// Line and literal limits.
    pub limits: Limits,
    /// Consecutive BAD responses before `* BYE`.
    pub max_bad: u32,
    /// Failed authentications before `* BYE`.
    pub max_auth_failures: u32,
}

impl Config {
    /// Defaults for a host name.
    pub fn new(hostname: &str) -> Config {
        Config {
            hostname: hostname.to_string(),
            tls: false,
            starttls: true,
            plaintext_auth: false,
            limits: Limits::default(),
            max_bad: 10,
            max_auth_failures: 3,
        }
    }
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Flush output, read more input, call `feed`.
    NeedInput,
    /// Flush output, run the TLS handshake, then call `tls_established`.
    StartTls,
    /// Credentials to check; answer with `authenticated`.
    Auth {
        /// "LOGIN" or "PLAIN", for logs.
        mechanism: &'static str,
        /// The login name as given.
        login: String,
        /// The password.
        password: String,
    },
    /// Flush output, then call `next_event` again: a long response (a big FETCH) is sent in
    /// pieces instead of being built whole in memory.
    Flush,
    /// Flush output and close the connection.
    Close,
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Wrong user name or password (`NO [AUTHENTICATIONFAILED]`).
    Invalid,
    /// Cannot check now (`NO [UNAVAILABLE]`), e.g. the user database is unreadable or the
    /// client is throttled; the text is sent.
    Unavailable(String),
}

#[derive(Debug)]
pub(super) enum Phase {
    Command,
    /// Waiting for the client's SASL response line after `+`.
    SaslResponse(String, Exchange),
    /// The driver is checking credentials.
    AwaitAuth(String),
    /// IDLE (RFC 2177) until DONE.
    Idle(String),
    /// A FETCH paused to let its output be sent.
    Fetching(Box<PendingFetch>),
    Closed,
}

/// The protocol state (RFC 3501 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// LOGOUT or BYE sent.
    Logout,
}

/// One IMAP server session over the user's mailboxes `M`.
pub struct Session<M: Mailboxes> {
    pub(super) cfg: Config,
    pub(super) framer: Framer,
    pub(super) out: Vec<u8>,
    pub(super) phase: Phase,
    pub(super) backend: Option<M>,
    pub(super) user: Option<String>,
    pub(super) selected: Option<Selected>,
    /// CONDSTORE is enabled (RFC 7162 3.1: by ENABLE or a CONDSTORE-enabling command).
    pub(super) condstore: bool,
    /// QRESYNC is enabled (RFC 7162 3.2.3): expunges are reported with VANISHED.
    pub(super) qresync: bool,
    pub(super) bad_in_a_row: u32,
    pub(super) auth_failures: u32,
}

/// RFC 3501 6.4.4 / 7.4.1: EXPUNGE responses are not allowed during these.
pub(super) fn forbids_expunge(kind: &Kind) -> bool {
    matches!(kind, Kind::Fetch { uid: false, .. } | Kind::Store { uid: false, .. } | Kind::Search { uid: false, .. })
}

impl<M: Mailboxes> Session<M> {
    /// A new session; the greeting is already in the output.
    pub fn new(cfg: Config) -> Session<M> {
        let mut s = Session {
            framer: Framer::new(cfg.limits),
            cfg,
            out: Vec::new(),
            phase: Phase::Command,
            backend: None,
            user: None,
            selected: None,
            condstore: false,
            qresync: false,
            bad_in_a_row: 0,
            auth_failures: 0,
        };
        let code = format!("CAPABILITY {}", s.capabilities());
        let text = format!("{} IMAP4rev1 carrier ready", s.cfg.hostname);
        response::status(&mut s.out, None, Status::Ok, Some(&code), &text);
        s
    }

    /// A session that starts authenticated (PREAUTH greeting), for tests and tools.
    pub fn preauth(cfg: Config, user: &str, backend: M) -> Session<M> {
        let mut s = Session::new(cfg);
        s.out.clear();
        s.user = Some(user.to_string());
        s.backend = Some(backend);
        let code = format!("CAPABILITY {}", s.capabilities());
        response::status(&mut s.out, None, Status::PreAuth, Some(&code), &format!("Logged in as {user}"));
        s
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.phase, Phase::Closed) {
            self.framer.feed(bytes);
        }
    }

    /// Octets of the command being received that the session holds (an APPEND's message).
    pub fn held(&self) -> usize {
        self.framer.held()
    }

    /// The server cannot hold more: the command being received is dropped, the rest of it
    /// read and skipped, and refused with `NO [UNAVAILABLE]`; the session goes on.
    pub fn shed(&mut self) {
        self.framer.shed();
    }

    /// Responses produced so far, to be written to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        match (&self.phase, &self.user, &self.selected) {
            (Phase::Closed, _, _) => State::Logout,
            (_, None, _) => State::NotAuthenticated,
            (_, Some(_), None) => State::Authenticated,
            (_, Some(_), Some(_)) => State::Selected,
        }
    }

    /// The authenticated user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The selected mailbox, so that the driver can watch it for changes.
    pub fn selected_mailbox(&self) -> Option<&str> {
        self.selected.as_ref().map(|s| s.name.as_str())
    }

    /// Whether the session is in IDLE (the driver may use a longer timeout, RFC 2177: 29 min).
    pub fn idling(&self) -> bool {
        matches!(self.phase, Phase::Idle(_))
    }

    /// The selected mailbox may have changed: during IDLE the updates go out now.
    pub fn mailbox_changed(&mut self) {
        if self.idling() {
            self.sync(true);
        }
    }

    /// The client was idle too long (RFC 3501 5.4: at least 30 minutes).
    pub fn timeout(&mut self) {
        self.bye("Autologout; idle for too long");
    }

    /// The server is shutting down.
    pub fn shutdown(&mut self) {
        self.bye("Server shutting down");
    }

    /// Ends the session with `* BYE text`, for the driver's own reasons (e.g. the selected
    /// mailbox's UIDVALIDITY changed, which RFC 3501 2.3.1.1 does not allow within a session).
    pub fn bye(&mut self, text: &str) {
        response::status(&mut self.out, None, Status::Bye, None, text);
        self.phase = Phase::Closed;
    }

    /// The TLS handshake after STARTTLS succeeded.
    pub fn tls_established(&mut self) {
        self.cfg.tls = true;
    }

    /// The capability list for the current state (RFC 3501 7.2.1).
    pub fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1".to_string()];
        if self.user.is_none() {
            if self.cfg.starttls && !self.cfg.tls {
                caps.push("STARTTLS".into());
            }
            if self.plaintext_ok() {
                caps.push("AUTH=PLAIN".into());
            } else {
                // RFC 3501 6.2.3
                caps.push("LOGINDISABLED".into());
            }
        }
        caps.extend(
            [
                "LITERAL+",
                "SASL-IR",
                "ID",
                "ENABLE",
                "IDLE",
                "NAMESPACE",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "QUOTA=RES-MESSAGE",
                "UNSELECT",
                "CHILDREN",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "ESEARCH",
                "CONDSTORE",
                "QRESYNC",
                "STATUS=SIZE",
            ]
            .map(String::from),
        );
        caps.push(format!("APPENDLIMIT={}", self.cfg.limits.max_append));
        caps.join(" ")
    }

    pub(super) fn plaintext_ok(&self) -> bool {
        self.cfg.tls || self.cfg.plaintext_auth
    }

    pub(super) fn status(&mut self, tag: &str, status: Status, code: Option<&str>, text: &str) {
        if status != Status::Bad {
            self.bad_in_a_row = 0;
        }
        response::status(&mut self.out, Some(tag), status, code, text);
    }

    pub(super) fn ok(&mut self, tag: &str, text: &str) {
        self.status(tag, Status::Ok, None, text);
    }

    pub(super) fn no(&mut self, tag: &str, code: Option<&str>, text: &str) {
        self.status(tag, Status::No, code, text);
    }

    /// A BAD; too many in a row end the session (a client that is not speaking IMAP).
    pub(super) fn bad(&mut self, tag: Option<&str>, text: &str) {
        response::status(&mut self.out, tag, Status::Bad, None, text);
        self.bad_in_a_row += 1;
        if self.bad_in_a_row >= self.cfg.max_bad {
            self.bye("Too many invalid commands");
        }
    }

    /// A storage failure as NO with its RFC 5530 code; `trycreate` for APPEND/COPY/MOVE targets.
    pub(super) fn store_error(&mut self, tag: &str, err: &StoreError, trycreate: bool) {
        let code = match err {
            StoreError::NoSuchMailbox if trycreate => "TRYCREATE",
            StoreError::NoSuchMailbox => "NONEXISTENT",
            StoreError::AlreadyExists => "ALREADYEXISTS",
            StoreError::Cannot(_) => "CANNOT",
            StoreError::InUse => "INUSE",
            StoreError::OverQuota(_) => "OVERQUOTA",
            StoreError::UseAttr(_) => "USEATTR",
            StoreError::Limit(_) => "LIMIT",
            StoreError::Expunged => "EXPUNGEISSUED",
            StoreError::Io(_) => "SERVERBUG",
        };
        self.no(tag, Some(code), &err.to_string());
    }

    /// Runs the session until it needs input, a decision, or closes.
    pub fn next_event(&mut self) -> Event {
        loop {
            match &self.phase {
                Phase::Closed => return Event::Close,
                Phase::AwaitAuth(_) => {
                    debug_assert!(false, "next_event called while authentication is pending");
                    return Event::NeedInput;
                }
                Phase::Idle(_) => {
                    if let Some(event) = self.step_idle() {
                        return event;
                    }
                }
                Phase::SaslResponse(..) => {
                    if let Some(event) = self.step_sasl() {
                        return event;
                    }
                }
                Phase::Command => {
                    if let Some(event) = self.step_command() {
                        return event;
                    }
                }
                Phase::Fetching(_) => {
                    let Phase::Fetching(pending) = std::mem::replace(&mut self.phase, Phase::Command) else {
                        unreachable!("matched above")
                    };
                    let (tag, uid) = (pending.tag().to_string(), pending.uid());
                    let step = self.fetch_more(pending);
                    if let Some(event) = self.after_fetch(&tag, uid, step) {
                        return event;
                    }
                }
            }
        }
    }

    /// Ends a FETCH (pending updates, then OK) or pauses it for the output to be sent.
    pub(super) fn after_fetch(&mut self, tag: &str, uid: bool, step: FetchStep) -> Option<Event> {
        match step {
            FetchStep::Paused(pending) => {
                self.phase = Phase::Fetching(pending);
                Some(Event::Flush)
            }
            FetchStep::Done(false) => None,
            FetchStep::Done(true) => {
                // RFC 3501 7.4.1: EXPUNGE may follow a UID FETCH, never a FETCH.
                self.sync(uid);
                self.ok(tag, "FETCH completed");
                None
            }
        }
    }

    pub(super) fn step_command(&mut self) -> Option<Event> {
        match self.framer.poll() {
            Frame::NeedInput => Some(Event::NeedInput),
            Frame::Continue => {
                response::continuation(&mut self.out, "Ready for literal data");
                None
            }
            Frame::Refused { tag, why } => {
                self.refused(tag.as_deref(), why);
                None
            }
            Frame::Command(bytes) => match parser::parse(&bytes) {
                Ok(cmd) => self.execute(cmd),
                Err(m) => {
                    let text = format!("Error in IMAP command: {}", m.error);
                    self.bad(m.tag.as_deref(), &text);
                    None
                }
            },
        }
    }

    /// A command cut short by a limit (RFC 7889 APPENDLIMIT, RFC 4469 TOOBIG, RFC 5530 LIMIT).
    pub(super) fn refused(&mut self, tag: Option<&str>, why: Refusal) {
        match (why, tag) {
            (Refusal::LiteralTooBig { size, limit, append: true }, Some(tag)) => {
                let text = format!("Message of {size} octets is larger than the limit of {limit} octets (APPENDLIMIT)");
                self.no(tag, Some("TOOBIG"), &text);
            }
            (Refusal::LiteralTooBig { size, limit, .. }, tag) => {
                let text = format!("[TOOBIG] Literal of {size} octets is larger than the limit of {limit} octets");
                self.bad(tag, &text);
            }
            (Refusal::LineTooLong(_), tag) => {
                let limit = self.cfg.limits.max_line;
                self.bad(tag, &format!("[TOOBIG] Command line longer than {limit} octets"));
            }
            // RFC 5530 UNAVAILABLE: a temporary shortage; the client tries again.
            (Refusal::Shed, Some(tag)) => {
                self.no(tag, Some("UNAVAILABLE"), "Too many messages arriving at once; try again later")
            }
            (Refusal::Shed, None) => self.bad(None, "Too many messages arriving at once; try again later"),
        }
    }

    pub(super) fn execute(&mut self, cmd: Command) -> Option<Event> {
        let Command { tag, kind, invalid_name } = cmd;
        let state = self.state();
        let allowed = match &kind {
            Kind::Capability | Kind::Noop | Kind::Logout | Kind::Id(_) => true,
            Kind::StartTls | Kind::Authenticate { .. } | Kind::Login { .. } => state == State::NotAuthenticated,
            // RFC 5161 3.1: clients send ENABLE before SELECT, but servers need not check.
            Kind::Enable(_) => matches!(state, State::Authenticated | State::Selected),
            Kind::Check
            | Kind::Close
            | Kind::Unselect
            | Kind::Expunge { .. }
            | Kind::Search { .. }
            | Kind::Fetch { .. }
            | Kind::Store { .. }
            | Kind::Copy { .. }
            | Kind::Move { .. } => state == State::Selected,
            _ => state != State::NotAuthenticated,
        };
        if !allowed {
            let why = match (state, &kind) {
                (State::NotAuthenticated, _) => "log in first",
                (_, Kind::StartTls | Kind::Authenticate { .. } | Kind::Login { .. }) => "already logged in",
                _ => "no mailbox is selected",
            };
            self.bad(Some(&tag), &format!("{} is not valid in this state: {why}", kind.name()));
            return None;
        }
        if let Some(name) = invalid_name {
            if matches!(kind, Kind::List(_) | Kind::Lsub { .. }) {
                // Nothing can match a pattern no mailbox name could have.
                self.ok(&tag, &format!("{} completed", kind.name()));
            } else {
                let text =
                    format!("Mailbox name {name:?} is not valid modified UTF-7 (RFC 3501 5.1.3; write '&' as '&-')");
                self.no(&tag, Some("CANNOT"), &text);
            }
            return None;
        }
        let allow_expunge = !forbids_expunge(&kind);
        let name = kind.name();
        match kind {
            Kind::Capability => {
                let caps = format!("* CAPABILITY {}\r\n", self.capabilities());
                self.out.extend_from_slice(caps.as_bytes());
            }
            Kind::Noop | Kind::Check => {}
            Kind::Logout => {
                response::status(&mut self.out, None, Status::Bye, None, "Logging out");
                self.ok(&tag, "LOGOUT completed");
                self.phase = Phase::Closed;
                return Some(Event::Close);
            }
            Kind::Id(_) => {
                self.out.extend_from_slice(b"* ID (\"name\" \"carrier\")\r\n");
            }
            Kind::StartTls => return self.starttls(&tag),
            Kind::Login { user, password } => return self.login(&tag, user, password),
            Kind::Authenticate { mechanism, initial } => return self.authenticate(&tag, &mechanism, initial),
            Kind::Enable(caps) => self.enable(&caps),
            Kind::Idle => {
                response::continuation(&mut self.out, "idling");
                self.phase = Phase::Idle(tag);
                self.sync(true);
                return None;
            }
            Kind::Fetch { uid, set, items, modifiers } => {
                let step = self.fetch(&tag, uid, &set, &items, &modifiers);
                return self.after_fetch(&tag, uid, step);
            }
            other => {
                if !self.run(&tag, other) {
                    return None;
                }
            }
        }
        self.sync(allow_expunge);
        if !matches!(self.phase, Phase::Closed) {
            self.ok(&tag, &format!("{name} completed"));
        }
        None
    }

    /// Commands that need the mailboxes; false when a response was already sent.
    pub(super) fn run(&mut self, tag: &str, kind: Kind) -> bool {
        match kind {
            Kind::Select { mailbox, read_only, params } => self.select(tag, &mailbox, read_only, params),
            Kind::Create { mailbox, special_use } => self.create(tag, &mailbox, &special_use),
            Kind::Delete(mailbox) => self.delete(tag, &mailbox),
            Kind::Rename { from, to } => self.rename(tag, &from, &to),
            Kind::Subscribe(mailbox) => self.subscribe(tag, &mailbox, true),
            Kind::Unsubscribe(mailbox) => self.subscribe(tag, &mailbox, false),
            Kind::List(args) => self.list(tag, &args),
            Kind::Lsub { reference, pattern } => self.lsub(tag, &reference, &pattern),
            Kind::Namespace => {
                // RFC 2342: one personal namespace, no others.
                self.out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                true
            }
            Kind::GetQuotaRoot(mailbox) => self.quota_root(tag, &mailbox),
            Kind::GetQuota(root) => self.quota(tag, &root),
            Kind::SetQuota(_) => {
                // RFC 9208 4.1: a server may refuse to change a limit.
                self.no(tag, Some("NOPERM"), "Storage limits are set by the administrator in carrier.toml");
                false
            }
            Kind::Status { mailbox, items } => self.status_cmd(tag, &mailbox, &items),
            Kind::Append { mailbox, flags, date, message } => self.append(tag, &mailbox, &flags, date, &message),
            Kind::Close => self.close(tag, true),
            Kind::Unselect => self.close(tag, false),
            Kind::Expunge { uids } => self.expunge(tag, uids.as_ref()),
            Kind::Search { uid, program } => self.search(tag, uid, &program),
            Kind::Store { uid, set, unchanged_since, mode, silent, flags } => {
                self.store(tag, uid, &set, unchanged_since, mode, silent, &flags)
            }
            Kind::Copy { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, false),
            Kind::Move { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, true),
            _ => true,
        }
    }

    pub(super) fn enable(&mut self, caps: &[String]) {
        // RFC 5161 3.1: only extensions we know are enabled; others are ignored.
        let mut enabled: Vec<&str> = Vec::new();
        for cap in caps {
            match cap.as_str() {
                "CONDSTORE" => self.condstore = true,
                // RFC 7162 3.2.3: QRESYNC implies CONDSTORE, which is listed only when asked for.
                "QRESYNC" => (self.condstore, self.qresync) = (true, true),
                _ => continue,
            }
            if !enabled.contains(&cap.as_str()) {
                enabled.push(cap);
            }
        }
        let mut line = b"* ENABLED".to_vec();
        for cap in enabled {
            line.push(b' ');
            line.extend_from_slice(cap.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&line);
    }

    pub(super) fn step_idle(&mut self) -> Option<Event> {
        let Some(line) = self.framer.line() else { return Some(Event::NeedInput) };
        let Phase::Idle(tag) = std::mem::replace(&mut self.phase, Phase::Command) else { return None };
        if line.eq_ignore_ascii_case(b"DONE") {
            self.sync(true);
            self.ok(&tag, "IDLE terminated");
        } else {
            // RFC 2177 3: only DONE ends IDLE.
            self.bad(Some(&tag), "Expected DONE to end IDLE");
        }
        None
    }

    pub(super) fn starttls(&mut self, tag: &str) -> Option<Event> {
        if self.cfg.tls {
            self.bad(Some(tag), "TLS is already active");
            return None;
        }
        if !self.cfg.starttls {
            self.no(tag, Some("UNAVAILABLE"), "STARTTLS is not available: no certificate is configured");
            return None;
        }
        self.ok(tag, "Begin TLS negotiation now");
        // RFC 3501 6.2.1 / CVE-2011-0411: nothing pipelined before the handshake survives.
        self.framer.clear();
        Some(Event::StartTls)
    }

    pub(super) fn login(&mut self, tag: &str, login: String, password: String) -> Option<Event> {
        if !self.plaintext_ok() {
            // RFC 3501 6.2.3: LOGINDISABLED.
            self.no(tag, Some("PRIVACYREQUIRED"), "Plaintext LOGIN is disabled: use STARTTLS first");
            return None;
        }
        self.phase = Phase::AwaitAuth(tag.to_string());
        Some(Event::Auth { mechanism: "LOGIN", login, password })
    }

    /// AUTHENTICATE (RFC 3501 6.2.2) with SASL-IR (RFC 4959); PLAIN only (RFC 4616).
    pub(super) fn authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<Vec<u8>>) -> Option<Event> {
        if mechanism != "PLAIN" {
            self.no(tag, Some("CANNOT"), &format!("Unsupported authentication mechanism {mechanism}: use PLAIN"));
            return None;
        }
        if !self.plaintext_ok() {
            self.no(tag, Some("PRIVACYREQUIRED"), "Plaintext authentication is disabled: use STARTTLS first");
            return None;
        }
        let step = Exchange::start(Mechanism::Plain, initial.as_deref());
        self.sasl_step(tag, step)
    }

    pub(super) fn step_sasl(&mut self) -> Option<Event> {
        let Some(line) = self.framer.line() else { return Some(Event::NeedInput) };
        let Phase::SaslResponse(tag, exchange) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return None;
        };
        self.sasl_step(&tag, exchange.respond(&line))
    }

    fn sasl_step(&mut self, tag: &str, step: Step) -> Option<Event> {
        let error = match step {
            Step::Challenge { challenge, exchange } => {
                response::continuation(&mut self.out, challenge);
                self.phase = Phase::SaslResponse(tag.to_string(), exchange);
                return None;
            }
            Step::Done(c) => {
                self.phase = Phase::AwaitAuth(tag.to_string());
                return Some(Event::Auth { mechanism: c.mechanism.name(), login: c.login, password: c.password });
            }
            Step::Failed(error) => error,
        };
        if error == sasl::Error::OtherIdentity {
            self.no(tag, Some("AUTHORIZATIONFAILED"), "Acting as another user is not supported");
        } else {
            self.bad(Some(tag), &sasl_mistake(error));
        }
        None
    }

    /// Answers the pending `Auth` event: the canonical user and their mailboxes, or why not.
    pub fn authenticated(&mut self, result: Result<(String, M), AuthError>) {
        let Phase::AwaitAuth(tag) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        match result {
            Ok((user, backend)) => {
                self.user = Some(user);
                self.backend = Some(backend);
                self.framer.set_authenticated();
                let code = format!("CAPABILITY {}", self.capabilities());
                self.status(&tag, Status::Ok, Some(&code), "Logged in");
            }
            Err(AuthError::Unavailable(text)) => self.no(&tag, Some("UNAVAILABLE"), &text),
            Err(AuthError::Invalid) => {
                self.auth_failures += 1;
                self.no(&tag, Some("AUTHENTICATIONFAILED"), "Authentication failed");
                if self.auth_failures >= self.cfg.max_auth_failures {
                    self.bye("Too many authentication failures");
                }
            }
        }
    }
}

/// The text of the BAD answering a mistake in a SASL exchange.
fn sasl_mistake(error: sasl::Error) -> String {
    match error {
        // RFC 3501 6.2.2: the client cancelled.
        sasl::Error::Cancelled => "AUTHENTICATE cancelled".into(),
        sasl::Error::TooLong => format!("SASL response too long (at most {} octets)", sasl::MAX_RESPONSE),
        sasl::Error::NotBase64 => "Invalid SASL response: not base64 of UTF-8 text".into(),
        sasl::Error::Malformed => "Malformed PLAIN response: expected authzid NUL user NUL password".into(),
        sasl::Error::Empty => "Empty user name or password".into(),
        sasl::Error::OtherIdentity => "Acting as another user is not supported".into(),
    }
}
