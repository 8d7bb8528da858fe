//! The ManageSieve server session (RFC 5804) as a sans-IO state machine, driven like the
//! POP3 one: [`Session::feed`] bytes, take [`Session::next_event`] until
//! [`Event::NeedInput`], write [`Session::take_output`]. Checking passwords, storing scripts
//! and compiling them are the driver's, through [`Event::Auth`] and [`Event::Request`].

use crate::parser::{self, Command, Parsed};
use carrier_sasl::{self as sasl, Exchange, Mechanism, Step};

/// What the session knows of the server and the connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Sieve extensions scripts may require (the `SIEVE` capability).
    pub extensions: String,
    /// The connection is encrypted (after STARTTLS).
    pub tls: bool,
    /// STARTTLS can be offered (a certificate is loaded).
    pub starttls: bool,
    /// Logins may run without TLS (the loopback exception).
    pub plaintext: bool,
    /// The largest script, in octets (and the largest literal read).
    pub max_script_size: u64,
    /// Redirects a script may make per message (the `MAXREDIRECTS` capability).
    pub max_redirects: u32,
    /// Bad commands before the session is closed.
    pub max_errors: u32,
    /// Failed logins before the session is closed.
    pub max_auth_failures: u32,
}

/// A script operation for the driver (RFC 5804 2.3 to 2.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    HaveSpace { name: String, size: u64 },
    Put { name: String, script: Vec<u8> },
    List,
    SetActive { name: String },
    Get { name: String },
    Delete { name: String },
    Rename { old: String, new: String },
    Check { script: Vec<u8> },
}

/// The driver's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Done; with the compiler's warnings, if any (`OK (WARNINGS)`).
    Done(Option<String>),
    /// LISTSCRIPTS: names, and whether each is the active one.
    Scripts(Vec<(String, bool)>),
    /// GETSCRIPT: the script.
    Script(Vec<u8>),
    /// Refused, with an RFC 5804 1.3 response code when one fits.
    No(Option<&'static str>, String),
}

/// Why a login did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    Credentials,
    /// Too many failures from this address lately.
    Throttled,
    /// The account cannot be served now.
    Unavailable(String),
}

/// What the session needs from the driver next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Write the output, then feed more input.
    NeedInput,
    /// Write the output, then run the TLS handshake and call [`Session::tls_established`].
    StartTls,
    /// Check these credentials and call [`Session::login`].
    Auth { mechanism: &'static str, login: String, password: String },
    /// Carry out this operation for the logged-in user and call [`Session::answer`].
    Request(Request),
    /// Write the output and close the connection.
    Close,
}

#[derive(Debug)]
enum Phase {
    NotAuthenticated,
    /// AUTHENTICATE waiting for the client's next SASL response.
    Sasl(Exchange),
    AwaitLogin,
    Authenticated,
    AwaitAnswer(Request),
    AwaitTls,
    Closed,
}

/// One connection's session.
pub struct Session {
    cfg: Config,
    phase: Phase,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Octets of an oversized literal still to throw away, then the rest of its line.
    skipping: Option<usize>,
    errors: u32,
    auth_failures: u32,
}

impl Session {
    /// A new session; the greeting (the capabilities, RFC 5804 1.7) is in the output.
    pub fn new(cfg: Config) -> Session {
        let mut s = Session {
            cfg,
            phase: Phase::NotAuthenticated,
            input: Vec::new(),
            output: Vec::new(),
            skipping: None,
            errors: 0,
            auth_failures: 0,
        };
        s.capabilities();
        s.respond("OK", None, "carrier ManageSieve ready.");
        s
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.phase, Phase::Closed) {
            self.input.extend_from_slice(bytes);
        }
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True once logged in.
    pub fn authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated | Phase::AwaitAnswer(_))
    }

    /// The client was idle too long.
    pub fn timeout(&mut self) {
        self.respond("BYE", None, "Disconnected for inactivity.");
        self.phase = Phase::Closed;
    }

    /// RFC 5804 2.2: after the handshake, nothing sent before it counts, and the
    /// capabilities are sent again.
    pub fn tls_established(&mut self) {
        self.cfg.tls = true;
        self.input.clear();
        self.phase = Phase::NotAuthenticated;
        self.capabilities();
        self.respond("OK", None, "TLS negotiation successful.");
    }

    /// Answers an [`Event::Auth`].
    pub fn login(&mut self, result: Result<(), LoginFailure>) {
        match result {
            Ok(()) => {
                self.phase = Phase::Authenticated;
                self.respond("OK", None, "Logged in.");
            }
            Err(failure) => {
                self.phase = Phase::NotAuthenticated;
                self.auth_failures += 1;
                match failure {
                    LoginFailure::Credentials => self.respond("NO", None, "Authentication failed."),
                    LoginFailure::Throttled => {
                        self.respond("NO", Some("TRYLATER"), "Too many failed logins from your address; try later.")
                    }
                    LoginFailure::Unavailable(why) => self.respond("NO", Some("TRYLATER"), &why),
                }
                if self.auth_failures >= self.cfg.max_auth_failures {
                    self.respond("BYE", None, "Too many failed logins.");
                    self.phase = Phase::Closed;
                }
            }
        }
    }

    /// Answers an [`Event::Request`].
    pub fn answer(&mut self, response: Response) {
        let Phase::AwaitAnswer(request) = std::mem::replace(&mut self.phase, Phase::Authenticated) else { return };
        match response {
            Response::No(code, text) => self.respond("NO", code, &text),
            Response::Done(Some(warnings)) => self.respond("OK", Some("WARNINGS"), &warnings),
            Response::Done(None) => self.respond("OK", None, done_text(&request)),
            Response::Scripts(list) => {
                for (name, active) in list {
                    string(&mut self.output, name.as_bytes());
                    self.output.extend_from_slice(if active { b" ACTIVE\r\n" } else { b"\r\n" });
                }
                self.respond("OK", None, "Listscripts completed.");
            }
            Response::Script(script) => {
                literal(&mut self.output, &script);
                self.output.extend_from_slice(b"\r\n");
                self.respond("OK", None, "Getscript completed.");
            }
        }
    }

    /// The next thing to do.
    pub fn next_event(&mut self) -> Event {
        loop {
            match &self.phase {
                Phase::Closed => return Event::Close,
                Phase::AwaitTls => return Event::StartTls,
                Phase::AwaitLogin | Phase::AwaitAnswer(_) => return Event::NeedInput,
                _ => {}
            }
            if !self.skip() {
                return Event::NeedInput;
            }
            if let Phase::Sasl(_) = self.phase {
                match self.sasl_response() {
                    Some(Some(event)) => return event,
                    Some(None) => continue,
                    None => return Event::NeedInput,
                }
            }
            match parser::command(&self.input, self.cfg.max_script_size as usize) {
                Parsed::Incomplete => return Event::NeedInput,
                Parsed::Overlong => {
                    self.respond("BYE", None, "Line too long.");
                    self.phase = Phase::Closed;
                }
                Parsed::TooLarge { consumed, skip } => {
                    self.input.drain(..consumed);
                    self.skipping = Some(skip);
                }
                Parsed::Bad(why, consumed) => {
                    self.input.drain(..consumed);
                    self.error(&why);
                }
                Parsed::Done(cmd, consumed) => {
                    self.input.drain(..consumed);
                    if let Some(event) = self.command(cmd) {
                        return event;
                    }
                }
            }
        }
    }

    /// Throws away an oversized literal and the rest of its line; true when done with it.
    fn skip(&mut self) -> bool {
        let Some(left) = self.skipping else { return true };
        let n = left.min(self.input.len());
        self.input.drain(..n);
        if left > n {
            self.skipping = Some(left - n);
            return false;
        }
        let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") else {
            self.skipping = Some(0);
            return false;
        };
        self.input.drain(..end + 2);
        self.skipping = None;
        let max = self.cfg.max_script_size;
        self.respond("NO", Some("QUOTA/MAXSIZE"), &format!("Scripts may hold at most {max} octets."));
        true
    }

    /// One SASL response line: Some(event) to hand out, Some(None) when the exchange ended
    /// without one, None when more input is needed.
    fn sasl_response(&mut self) -> Option<Option<Event>> {
        let line = match parser::string_line(&self.input, sasl::MAX_RESPONSE) {
            Parsed::Incomplete => return None,
            Parsed::Done(line, n) => {
                self.input.drain(..n);
                line
            }
            Parsed::Bad(_, n) => {
                self.input.drain(..n);
                self.phase = Phase::NotAuthenticated;
                self.respond("NO", None, "Authentication failed: a SASL response is one string.");
                return Some(None);
            }
            Parsed::TooLarge { .. } | Parsed::Overlong => {
                self.respond("BYE", None, "SASL response too long.");
                self.phase = Phase::Closed;
                return Some(None);
            }
        };
        let Phase::Sasl(exchange) = std::mem::replace(&mut self.phase, Phase::NotAuthenticated) else {
            return Some(None);
        };
        Some(self.sasl_step(exchange.respond(&line)))
    }

    fn sasl_step(&mut self, step: Step) -> Option<Event> {
        match step {
            Step::Challenge { challenge, exchange } => {
                // RFC 5804 2.1: a challenge is a string.
                string(&mut self.output, challenge.as_bytes());
                self.output.extend_from_slice(b"\r\n");
                self.phase = Phase::Sasl(exchange);
                None
            }
            Step::Done(c) => {
                self.phase = Phase::AwaitLogin;
                Some(Event::Auth { mechanism: c.mechanism.name(), login: c.login, password: c.password })
            }
            Step::Failed(sasl::Error::Cancelled) => {
                self.respond("NO", None, "Authentication cancelled.");
                None
            }
            Step::Failed(e) => {
                self.auth_failures += 1;
                self.respond("NO", None, &format!("Authentication failed: {e:?}."));
                None
            }
        }
    }

    fn command(&mut self, cmd: Command) -> Option<Event> {
        let authenticated = matches!(self.phase, Phase::Authenticated);
        let request = match cmd {
            Command::Capability => {
                self.capabilities();
                self.respond("OK", None, "Capability completed.");
                return None;
            }
            Command::Logout => {
                self.respond("OK", None, "Logout completed.");
                self.phase = Phase::Closed;
                return None;
            }
            Command::Noop { tag: Some(tag) } => {
                // RFC 5804 2.11: the tag comes back in a TAG response code.
                self.output.extend_from_slice(b"OK (TAG ");
                string(&mut self.output, &tag);
                self.output.extend_from_slice(b") \"Done\"\r\n");
                return None;
            }
            Command::Noop { tag: None } => {
                self.respond("OK", None, "Done");
                return None;
            }
            Command::StartTls => return self.start_tls(authenticated),
            Command::Authenticate { mechanism, initial } => {
                return self.authenticate(authenticated, &mechanism, initial);
            }
            Command::Unauthenticate => {
                self.error("UNAUTHENTICATE is not offered");
                return None;
            }
            _ if !authenticated => {
                self.error("Authenticate first");
                return None;
            }
            Command::HaveSpace { name, size } => Request::HaveSpace { name, size },
            Command::PutScript { name, script } => Request::Put { name, script },
            Command::ListScripts => Request::List,
            Command::SetActive { name } => Request::SetActive { name },
            Command::GetScript { name } => Request::Get { name },
            Command::DeleteScript { name } => Request::Delete { name },
            Command::RenameScript { old, new } => Request::Rename { old, new },
            Command::CheckScript { script } => Request::Check { script },
        };
        // Names are checked here, so every driver stores only names that are safe as files.
        let names: Vec<&str> = match &request {
            Request::HaveSpace { name, .. }
            | Request::Put { name, .. }
            | Request::Get { name }
            | Request::Delete { name } => {
                vec![name]
            }
            Request::SetActive { name } if !name.is_empty() => vec![name],
            Request::Rename { old, new } => vec![old, new],
            _ => vec![],
        };
        if let Some(why) = names.iter().find_map(|n| name_problem(n)) {
            self.respond("NO", None, &format!("Invalid script name: {why}."));
            return None;
        }
        if let Request::HaveSpace { size, .. } = &request
            && *size > self.cfg.max_script_size
        {
            let max = self.cfg.max_script_size;
            self.respond("NO", Some("QUOTA/MAXSIZE"), &format!("Scripts may hold at most {max} octets."));
            return None;
        }
        self.phase = Phase::AwaitAnswer(request.clone());
        Some(Event::Request(request))
    }

    fn start_tls(&mut self, authenticated: bool) -> Option<Event> {
        if self.cfg.tls || !self.cfg.starttls || authenticated {
            self.error("STARTTLS is not available now");
            return None;
        }
        self.respond("OK", None, "Begin TLS negotiation now.");
        self.phase = Phase::AwaitTls;
        Some(Event::StartTls)
    }

    fn authenticate(&mut self, authenticated: bool, mechanism: &str, initial: Option<Vec<u8>>) -> Option<Event> {
        if authenticated {
            self.error("Already authenticated");
            return None;
        }
        if !self.cfg.tls && !self.cfg.plaintext {
            // RFC 5804 1.3: ENCRYPT-NEEDED.
            self.respond("NO", Some("ENCRYPT-NEEDED"), "Use STARTTLS before authenticating.");
            return None;
        }
        match Mechanism::from_name(mechanism) {
            Some(m @ Mechanism::Plain) => self.sasl_step(Exchange::start(m, initial.as_deref())),
            _ => {
                self.respond("NO", None, &format!("Unsupported SASL mechanism {mechanism}; use PLAIN."));
                None
            }
        }
    }

    /// RFC 5804 1.7: the capability lines.
    fn capabilities(&mut self) {
        let sasl = if self.cfg.tls || self.cfg.plaintext { "PLAIN" } else { "" };
        let mut lines = vec![
            ("IMPLEMENTATION", "carrier".to_string()),
            ("SASL", sasl.to_string()),
            ("SIEVE", self.cfg.extensions.clone()),
            ("MAXREDIRECTS", self.cfg.max_redirects.to_string()),
        ];
        if !self.cfg.tls && self.cfg.starttls {
            lines.push(("STARTTLS", String::new()));
        }
        lines.push(("VERSION", "1.0".to_string()));
        for (name, value) in lines {
            string(&mut self.output, name.as_bytes());
            if name != "STARTTLS" {
                self.output.push(b' ');
                string(&mut self.output, value.as_bytes());
            }
            self.output.extend_from_slice(b"\r\n");
        }
    }

    fn error(&mut self, why: &str) {
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.respond("BYE", None, "Too many errors.");
            self.phase = Phase::Closed;
        } else {
            self.respond("NO", None, why);
        }
    }

    /// `OK`, `NO` or `BYE`, a response code in parentheses, and the text (RFC 5804 4).
    fn respond(&mut self, kind: &str, code: Option<&str>, text: &str) {
        self.output.extend_from_slice(kind.as_bytes());
        if let Some(code) = code {
            self.output.extend_from_slice(format!(" ({code})").as_bytes());
        }
        self.output.push(b' ');
        string(&mut self.output, text.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }
}

fn done_text(request: &Request) -> &'static str {
    match request {
        Request::HaveSpace { .. } => "Putscript would succeed.",
        Request::Put { .. } => "Putscript completed.",
        Request::SetActive { .. } => "Setactive completed.",
        Request::Delete { .. } => "Deletescript completed.",
        Request::Rename { .. } => "Renamescript completed.",
        Request::Check { .. } => "Script is valid.",
        Request::List | Request::Get { .. } => "Completed.",
    }
}

/// RFC 5804 1.6: names are UTF-8 without control characters; also none that could be a
/// path or a hidden file, and none absurdly long.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return Some("it holds control characters");
    }
    if name.contains('/') || name.starts_with('.') {
        return Some("it may not contain `/` or start with `.`");
    }
    if name.chars().count() > 128 {
        return Some("it is longer than 128 characters");
    }
    None
}

/// A string as RFC 5804 4 writes it: quoted when it can be, else a literal.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 1024 && !s.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// `{n}` CRLF and the octets (a server-to-client literal, RFC 5804 4).
fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}
