//! Cuts the client's byte stream into whole commands (RFC 3501 2.2, 7.5; RFC 7888).
//!
//! A command is one or more lines: a line ending in a literal header `{n}` (synchronizing:
//! the server answers `+` before the client sends the octets) or `{n+}` (LITERAL+) is
//! followed by n octets and the rest of the command. Limits are checked on the header,
//! before any octet of the literal is read: a refused synchronizing literal is never sent by
//! the client, and the octets of a refused non-synchronizing one are skipped.

/// Sizes the framer enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line outside literals, CRLF included.
    pub max_line: usize,
    /// Largest literal in commands other than APPEND, and largest such command in total.
    pub max_literal: u64,
    /// Largest APPEND message (advertised as APPENDLIMIT, RFC 7889), after login; before,
    /// APPEND is held to `max_literal` like every other command.
    pub max_append: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        // 64 KiB lines as Dovecot (RFC 7162 3.2.5 wants at least 8192 octets).
        Limits { max_line: 65_536, max_literal: 65_536, max_append: 50 * 1024 * 1024 }
    }
}

/// Why a command was refused before it was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A line longer than `max_line`.
    LineTooLong(usize),
    /// A literal over its limit.
    LiteralTooBig {
        /// The announced size.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
        /// Whether the command is APPEND (the limit is APPENDLIMIT).
        append: bool,
    },
    /// The server had no memory to spare for the command (see [`Framer::shed`]).
    Shed,
}

/// What the framer has for the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// More input is needed.
    NeedInput,
    /// The command so far ends with an accepted synchronizing literal: send a continuation
    /// request (`+ ...`), then poll again.
    Continue,
    /// A complete command, in wire form (literal headers and octets included).
    Command(Vec<u8>),
    /// The command is refused; its tag if one could be read. Any remaining octets of it
    /// are skipped by the framer.
    Refused {
        /// The tag, when the command started with one.
        tag: Option<String>,
        /// What was too big.
        why: Refusal,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Line,
    Literal(u64),
}

/// The incremental command framer.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    input: Vec<u8>,
    pos: usize,
    cmd: Vec<u8>,
    line_start: usize,
    line_len: usize,
    /// The current command was refused: keep reading its parts but drop them.
    discard: bool,
    /// The end of the current line while discarding (enough to see a literal header).
    tail: Vec<u8>,
    state: State,
    /// After login: APPEND may carry a message of up to `max_append`.
    authenticated: bool,
    /// The refusal of a command shed while it was being read, to report at the next poll.
    shed: Option<Frame>,
}

const TAIL: usize = 32;

impl Framer {
    /// A framer with these limits.
    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            input: Vec::new(),
            pos: 0,
            cmd: Vec::new(),
            line_start: 0,
            line_len: 0,
            discard: false,
            tail: Vec::new(),
            state: State::Line,
            authenticated: false,
            shed: None,
        }
    }

    /// Octets of the command being assembled, literals included (what shedding would free).
    pub fn held(&self) -> usize {
        self.cmd.len()
    }

    /// Drops the command being assembled: the rest of it is read and skipped like a refused
    /// one's, and the next poll reports it refused ([`Refusal::Shed`]).
    pub fn shed(&mut self) {
        if self.cmd.is_empty() || self.discard {
            return;
        }
        let tag = self.tag();
        if self.state == State::Line {
            // Keep the end of the current line, where a literal header may still come.
            self.tail = self.cmd.split_off(self.line_start);
            let cut = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..cut);
        }
        self.cmd = Vec::new();
        self.discard = true;
        self.shed = Some(Frame::Refused { tag, why: Refusal::Shed });
    }

    /// The client has logged in: from now on APPEND may carry a whole message.
    pub fn set_authenticated(&mut self) {
        self.authenticated = true;
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes received.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Drops everything buffered (after STARTTLS, RFC 3501 6.2.1: nothing pipelined survives).
    pub fn clear(&mut self) {
        *self = Framer { authenticated: self.authenticated, ..Framer::new(self.limits) };
    }

    /// Takes one raw line (for SASL responses and IDLE's DONE), without its line end.
    /// `None` until a whole line is buffered; an over-long line is returned truncated.
    pub fn line(&mut self) -> Option<Vec<u8>> {
        let pending = &self.input[self.pos..];
        let lf = pending.iter().position(|&b| b == b'\n')?;
        let mut line = pending[..lf].to_vec();
        self.pos += lf + 1;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(line)
    }

    /// Advances as far as the buffered input allows.
    pub fn poll(&mut self) -> Frame {
        if let Some(refused) = self.shed.take() {
            return refused;
        }
        loop {
            match self.state {
                State::Literal(remaining) => {
                    let available = (self.input.len() - self.pos) as u64;
                    let take = remaining.min(available) as usize;
                    if !self.discard {
                        self.cmd.extend_from_slice(&self.input[self.pos..self.pos + take]);
                    }
                    self.pos += take;
                    if (take as u64) < remaining {
                        self.state = State::Literal(remaining - take as u64);
                        return Frame::NeedInput;
                    }
                    self.start_line();
                }
                State::Line => {
                    if let Some(frame) = self.step_line() {
                        return frame;
                    }
                }
            }
        }
    }

    fn start_line(&mut self) {
        self.state = State::Line;
        self.line_start = self.cmd.len();
        self.line_len = 0;
        self.tail.clear();
    }

    fn reset(&mut self) {
        self.cmd.clear();
        self.discard = false;
        self.start_line();
    }

    /// Reads line bytes; `None` to continue the loop.
    fn step_line(&mut self) -> Option<Frame> {
        let pending = &self.input[self.pos..];
        let (chunk, complete) = match pending.iter().position(|&b| b == b'\n') {
            Some(lf) => (&pending[..=lf], true),
            None => (pending, false),
        };
        let n = chunk.len();
        self.line_len += n;
        if self.discard {
            self.tail.extend_from_slice(chunk);
            let cut = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..cut);
        } else {
            self.cmd.extend_from_slice(chunk);
        }
        self.pos += n;
        let mut refused = None;
        if !self.discard && self.line_len > self.limits.max_line {
            // RFC 4469 TOOBIG; the rest of the line (and of the command) is skipped.
            refused = Some(Frame::Refused { tag: self.tag(), why: Refusal::LineTooLong(self.line_len) });
            self.discard = true;
            self.tail = self.cmd.split_off(self.line_start);
        }
        if !complete {
            return Some(refused.unwrap_or(Frame::NeedInput));
        }
        let line = if self.discard { &self.tail[..] } else { &self.cmd[self.line_start..] };
        let Some((size, sync)) = literal_header(line) else {
            if self.discard {
                self.reset();
                return refused;
            }
            let cmd = std::mem::take(&mut self.cmd);
            self.reset();
            return Some(Frame::Command(cmd));
        };
        if self.discard {
            // A refused command's synchronizing literal is never sent: the command ends.
            if sync {
                self.reset();
            } else {
                self.state = State::Literal(size);
            }
            return refused;
        }
        // Before login nothing may buffer more than `max_literal`: an APPEND there is refused
        // anyway, and must not make an anonymous client's command grow to APPENDLIMIT.
        let append = self.authenticated && self.is_append();
        let (limit, slack) = match append {
            // Room for the mailbox name, flags and date beside the message.
            true => (self.limits.max_append, self.limits.max_line as u64),
            false => (self.limits.max_literal, 0),
        };
        // The command in total, not each literal alone: many literals cannot add up past it.
        let total = size.saturating_add(self.cmd.len() as u64);
        if size > limit || total > limit.saturating_add(slack) {
            let tag = self.tag();
            let why = Refusal::LiteralTooBig { size, limit, append };
            self.discard = true;
            if sync {
                self.reset();
            } else {
                self.state = State::Literal(size);
            }
            return Some(Frame::Refused { tag, why });
        }
        self.state = State::Literal(size);
        if sync { Some(Frame::Continue) } else { None }
    }

    /// The command's tag, when it starts with a valid one.
    fn tag(&self) -> Option<String> {
        let end = self.cmd.iter().position(|&b| b == b' ')?;
        let tag = &self.cmd[..end];
        (!tag.is_empty() && tag.iter().all(|&b| super::lexer::is_tag_char(b)))
            .then(|| String::from_utf8_lossy(tag).into_owned())
    }

    /// Whether the command is APPEND, whose literal is the message (RFC 3501 6.3.11).
    fn is_append(&self) -> bool {
        let mut words = self.cmd.split(|&b| b == b' ');
        words.next();
        words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
    }
}

/// The literal header at the end of a line: `{n}` or `{n+}` before CRLF (or a bare LF).
/// Returns (size, synchronizing). A size too large for u64 is reported as u64::MAX.
pub fn literal_header(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let (line, sync) = match line.strip_suffix(b"+") {
        Some(l) => (l, false),
        None => (line, true),
    };
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // RFC 3501 9 / RFC 7888: a literal8 `~{n}` is not supported (no BINARY); it is framed
    // the same way so that its octets are not taken for commands.
    let size = digits.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')));
    Some((size.unwrap_or(u64::MAX), sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framer() -> Framer {
        Framer::new(Limits { max_line: 100, max_literal: 50, max_append: 1000 })
    }

    #[test]
    fn simple_and_split_lines() {
        let mut f = framer();
        f.feed(b"a1 NOOP\r\na2 CAP");
        assert_eq!(f.poll(), Frame::Command(b"a1 NOOP\r\n".to_vec()));
        assert_eq!(f.poll(), Frame::NeedInput);
        f.feed(b"ABILITY\r\n");
        assert_eq!(f.poll(), Frame::Command(b"a2 CAPABILITY\r\n".to_vec()));
        assert_eq!(f.poll(), Frame::NeedInput);
    }

    #[test]
    fn synchronizing_literal() {
        let mut f = framer();
        f.feed(b"a LOGIN {3}\r\n");
        assert_eq!(f.poll(), Frame::Continue);
        assert_eq!(f.poll(), Frame::NeedInput);
        f.feed(b"b\r\n");
        assert_eq!(f.poll(), Frame::NeedInput);
        f.feed(b" pw\r\n");
        assert_eq!(f.poll(), Frame::Command(b"a LOGIN {3}\r\nb\r\n pw\r\n".to_vec()));
    }

    #[test]
    fn non_synchronizing_literal() {
        let mut f = framer();
        f.feed(b"a LOGIN {3+}\r\nbob {2+}\r\npw\r\n");
        assert_eq!(f.poll(), Frame::Command(b"a LOGIN {3+}\r\nbob {2+}\r\npw\r\n".to_vec()));
    }

    #[test]
    fn refused_synchronizing_literal_is_not_read() {
        let mut f = framer();
        f.feed(b"t1 LOGIN {51}\r\nt2 NOOP\r\n");
        let why = Refusal::LiteralTooBig { size: 51, limit: 50, append: false };
        assert_eq!(f.poll(), Frame::Refused { tag: Some("t1".into()), why });
        assert_eq!(f.poll(), Frame::Command(b"t2 NOOP\r\n".to_vec()));
    }

    #[test]
    fn refused_non_synchronizing_literal_is_skipped() {
        let mut f = framer();
        let body = vec![b'x'; 60];
        f.feed(b"t1 LOGIN {60+}\r\n");
        f.feed(&body);
        f.feed(b" {3+}\r\nabc\r\nt2 NOOP\r\n");
        assert!(matches!(f.poll(), Frame::Refused { .. }));
        assert_eq!(f.poll(), Frame::Command(b"t2 NOOP\r\n".to_vec()));
    }

    fn logged_in() -> Framer {
        let mut f = framer();
        f.set_authenticated();
        f
    }

    #[test]
    fn append_has_its_own_limit() {
        let mut f = logged_in();
        f.feed(b"A1 append INBOX {900}\r\n");
        assert_eq!(f.poll(), Frame::Continue);
        let mut f = logged_in();
        f.feed(b"A1 APPEND INBOX {1001}\r\n");
        let why = Refusal::LiteralTooBig { size: 1001, limit: 1000, append: true };
        assert_eq!(f.poll(), Frame::Refused { tag: Some("A1".into()), why });
        let mut f = logged_in();
        f.feed(b"A1 APPEND INBOX {99999999999999999999999}\r\n");
        assert!(matches!(f.poll(), Frame::Refused { why: Refusal::LiteralTooBig { size: u64::MAX, .. }, .. }));
    }

    #[test]
    fn before_login_append_is_held_to_the_small_limit() {
        let mut f = framer();
        f.feed(b"A1 APPEND INBOX {51}\r\nA2 NOOP\r\n");
        let why = Refusal::LiteralTooBig { size: 51, limit: 50, append: false };
        assert_eq!(f.poll(), Frame::Refused { tag: Some("A1".into()), why });
        assert_eq!(f.poll(), Frame::Command(b"A2 NOOP\r\n".to_vec()));
        // STARTTLS clears the framer but not the login (it cannot come after one anyway).
        let mut f = logged_in();
        f.clear();
        f.feed(b"A1 APPEND INBOX {900}\r\n");
        assert_eq!(f.poll(), Frame::Continue);
    }

    #[test]
    fn literals_of_one_append_cannot_add_up_past_the_limit() {
        let mut f = logged_in();
        let mut refused = None;
        // Each literal is under the limit; together they would be ten times it.
        f.feed(b"A1 APPEND INBOX");
        for _ in 0..10 {
            f.feed(b" {400+}\r\n");
            f.feed(&[b'x'; 400]);
            while let frame @ Frame::Refused { .. } = f.poll() {
                refused.get_or_insert(frame);
            }
        }
        f.feed(b"\r\nA2 NOOP\r\n");
        let refused = refused.expect("the command was refused once it passed the limit");
        assert!(matches!(
            refused,
            Frame::Refused { why: Refusal::LiteralTooBig { size: 400, limit: 1000, append: true }, .. }
        ));
        assert_eq!(f.poll(), Frame::Command(b"A2 NOOP\r\n".to_vec()));
        assert!(f.cmd.len() <= 1100, "the refused command was not kept: {}", f.cmd.len());
    }

    #[test]
    fn a_command_shed_mid_literal_is_refused_and_its_rest_skipped() {
        let mut f = logged_in();
        f.feed(b"A1 APPEND INBOX {900+}\r\n");
        f.feed(&[b'x'; 400]);
        assert_eq!(f.poll(), Frame::NeedInput);
        assert!(f.held() > 400);
        f.shed();
        assert_eq!(f.held(), 0);
        assert_eq!(f.poll(), Frame::Refused { tag: Some("A1".into()), why: Refusal::Shed });
        f.feed(&[b'x'; 500]);
        f.feed(b" {3+}\r\nabc\r\nA2 NOOP\r\n");
        assert_eq!(f.poll(), Frame::Command(b"A2 NOOP\r\n".to_vec()));
        assert_eq!(f.held(), 0);
        // Shedding between commands does nothing.
        f.shed();
        f.feed(b"A3 NOOP\r\n");
        assert_eq!(f.poll(), Frame::Command(b"A3 NOOP\r\n".to_vec()));
    }

    #[test]
    fn long_line_is_refused_and_skipped() {
        let mut f = framer();
        f.feed(b"x1 ");
        f.feed(&[b'a'; 120]);
        assert_eq!(f.poll(), Frame::Refused { tag: Some("x1".into()), why: Refusal::LineTooLong(123) });
        f.feed(&[b'a'; 500]);
        assert_eq!(f.poll(), Frame::NeedInput);
        f.feed(b"{4+}\r\nab\r\n\r\nx2 NOOP\r\n");
        assert_eq!(f.poll(), Frame::Command(b"x2 NOOP\r\n".to_vec()));
    }

    #[test]
    fn long_complete_line_ending_in_a_literal() {
        let mut f = framer();
        let mut line = b"x1 ".to_vec();
        line.extend_from_slice(&[b'a'; 120]);
        line.extend_from_slice(b" {3+}\r\nabc\r\nx2 NOOP\r\n");
        f.feed(&line);
        assert!(matches!(f.poll(), Frame::Refused { why: Refusal::LineTooLong(_), .. }));
        assert_eq!(f.poll(), Frame::Command(b"x2 NOOP\r\n".to_vec()));
    }

    #[test]
    fn literal_headers() {
        assert_eq!(literal_header(b"a {12}\r\n"), Some((12, true)));
        assert_eq!(literal_header(b"a {0+}\n"), Some((0, false)));
        assert_eq!(literal_header(b"a {}\r\n"), None);
        assert_eq!(literal_header(b"a {1 }\r\n"), None);
        assert_eq!(literal_header(b"a {x}\r\n"), None);
        assert_eq!(literal_header(b"a 12}\r\n"), None);
    }
}
