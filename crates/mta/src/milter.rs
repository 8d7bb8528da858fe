//! Content filters over the milter protocol (`[[milter]]`, codec in carrier-milter): at the
//! end of DATA the intake runs the message through each filter configured for where it came
//! from, in order, as one conversation: connect, HELO, MAIL, RCPT, the header fields, the
//! body, the end of message; then it carries out what the filter asked (add, insert, change
//! or delete header fields, replace the body, add or remove recipients, change the sender,
//! quarantine) or its verdict (reject, tempfail, discard, a reply of its own).
//!
//! Unlike Postfix, which talks to filters step by step while the client sends, carrier holds
//! the whole conversation at the end of DATA: a refusal at MAIL or RCPT is given then. What
//! filters see and decide is the same; the SMTP session is simpler, and local submissions
//! (`sendmail`) pass the same filters as SMTP ones.

use carrier_config::{Milter, MilterDefault, MilterSocket, SpamRule};
use carrier_milter::{Command, Negotiated, Reader, Reply, action, packet, protocol};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use tracing::{info, warn};

/// Changes one filter may ask for one message.
const MAX_CHANGES: usize = 1_000;

/// How long connecting to a filter may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a filter decided about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (with its changes applied).
    Continue,
    /// Go on without this filter: it could not be asked (`default_action = "accept"`).
    Skipped,
    /// Accept now; later filters are not asked.
    Accept,
    /// Tell the client it was accepted, and drop it.
    Discard,
    /// Refuse with this reply: code, enhanced status, text.
    Refuse(u16, String, String),
    /// Deliver it into the recipients' Junk folders (the filter's quarantine).
    Quarantine(String),
}

/// Who sent the message, as filters learn it.
pub struct Client<'a> {
    /// None for a local submission.
    pub ip: Option<std::net::IpAddr>,
    /// Its confirmed name, or "unknown" / "localhost".
    pub name: &'a str,
    pub helo: &'a str,
    /// The authenticated user.
    pub user: Option<&'a str>,
    /// The id the message will have in the queue (the `i` macro).
    pub queue_id: String,
}

/// The message as filters see and change it.
pub struct Message<'a> {
    pub client: Client<'a>,
    pub sender: &'a mut String,
    pub recipients: &'a mut Vec<String>,
    /// CRLF line ends.
    pub content: &'a mut Vec<u8>,
    /// `[smtp] max_message_size`: with the message's own size, bounds what filters add.
    pub max_size: usize,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Runs `msg` through one filter; `hostname` is ours (the `j` macro). A filter that cannot
/// be reached, or breaks the protocol, gets its `default_action`.
pub async fn run(filter: &Milter, hostname: &str, msg: &mut Message<'_>) -> Verdict {
    match converse(filter, hostname, msg).await {
        Ok(verdict) => verdict,
        Err(e) => {
            let name = describe(&filter.socket);
            match filter.default_action {
                MilterDefault::Accept => {
                    warn!("milter {name}: {e}; the message goes on without it (default_action = \"accept\")");
                    Verdict::Skipped
                }
                MilterDefault::Tempfail => {
                    warn!("milter {name}: {e}; the message is deferred (default_action = \"tempfail\")");
                    Verdict::Refuse(451, "4.7.1".into(), "Service unavailable - try again later".into())
                }
                MilterDefault::Reject => {
                    warn!("milter {name}: {e}; the message is refused (default_action = \"reject\")");
                    Verdict::Refuse(550, "5.7.1".into(), "Command rejected".into())
                }
            }
        }
    }
}

/// The milter socket as an administrator wrote it.
pub fn describe(socket: &MilterSocket) -> String {
    match socket {
        MilterSocket::Inet(host, port) => format!("inet:{host}:{port}"),
        MilterSocket::Unix(path) => format!("unix:{}", path.display()),
    }
}

async fn connect(socket: &MilterSocket) -> Result<Box<dyn Io>, String> {
    let conn: Result<Box<dyn Io>, std::io::Error> = match socket {
        MilterSocket::Inet(host, port) => {
            timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), *port)))
                .await
                .map_err(|_| std::io::Error::other("connection timed out"))
                .and_then(|r| r)
                .map(|s| Box::new(s) as Box<dyn Io>)
        }
        MilterSocket::Unix(path) => timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path))
            .await
            .map_err(|_| std::io::Error::other("connection timed out"))
            .and_then(|r| r)
            .map(|s| Box::new(s) as Box<dyn Io>),
    };
    conn.map_err(|e| format!("cannot connect: {e}"))
}

/// One conversation with a filter.
struct Session {
    io: Box<dyn Io>,
    reader: Reader,
    limit: Duration,
    agreed: Negotiated,
}

impl Session {
    async fn send(&mut self, cmd: &Command<'_>) -> Result<(), String> {
        let bytes = packet(cmd);
        timeout(self.limit, self.io.write_all(&bytes))
            .await
            .map_err(|_| "timed out writing".to_string())?
            .map_err(|e| format!("write failed: {e}"))
    }

    /// The next reply; `progress` packets only extend the wait.
    async fn reply(&mut self) -> Result<Reply, String> {
        let mut buf = [0u8; 8192];
        loop {
            match self.reader.next_reply().map_err(|e| format!("protocol error: {e}"))? {
                Some(Reply::Progress) => continue,
                Some(reply) => return Ok(reply),
                None => {}
            }
            let n = timeout(self.limit, self.io.read(&mut buf))
                .await
                .map_err(|_| format!("no answer within {:?}", self.limit))?
                .map_err(|e| format!("read failed: {e}"))?;
            if n == 0 {
                return Err("the filter closed the connection".into());
            }
            self.reader.feed(&buf[..n]);
        }
    }

    /// Sends a step unless the filter skips it; returns its answer unless it gives none.
    async fn step(&mut self, cmd: Command<'_>, skip: u32, silent: u32) -> Result<Option<Reply>, String> {
        if self.agreed.has(skip) {
            return Ok(None);
        }
        self.send(&cmd).await?;
        if self.agreed.has(silent) { Ok(None) } else { self.reply().await.map(Some) }
    }
}

/// What an answer to a step means: go on, or this verdict.
fn answer(reply: Option<Reply>) -> Result<Option<Verdict>, String> {
    match reply {
        None | Some(Reply::Continue) => Ok(None),
        Some(Reply::Accept) => Ok(Some(Verdict::Accept)),
        Some(Reply::Discard) => Ok(Some(Verdict::Discard)),
        Some(Reply::Reject) => Ok(Some(Verdict::Refuse(550, "5.7.1".into(), "Command rejected".into()))),
        Some(Reply::Tempfail) => {
            Ok(Some(Verdict::Refuse(451, "4.7.1".into(), "Service unavailable - try again later".into())))
        }
        Some(Reply::ReplyCode(text)) => Ok(Some(reply_code(&text))),
        Some(other) => Err(format!("unexpected reply {other:?}")),
    }
}

/// A filter's own SMTP reply, `550 5.7.1 text`; only 4xx and 5xx codes are taken (libmilter
/// enforces the same), anything else is a tempfail.
fn reply_code(text: &str) -> Verdict {
    let mut parts = text.splitn(3, ' ');
    let code = parts.next().and_then(|c| c.parse::<u16>().ok()).filter(|c| (400..600).contains(c));
    let Some(code) = code else {
        return Verdict::Refuse(451, "4.7.1".into(), "Service unavailable - try again later".into());
    };
    let class = if code >= 500 { '5' } else { '4' };
    let (status, rest) = match parts.next() {
        Some(s) if s.starts_with(class) && s.matches('.').count() == 2 => {
            (s.to_string(), parts.next().unwrap_or_default())
        }
        Some(s) => (format!("{class}.7.1"), &text[text.find(s).unwrap_or(0)..]),
        None => (format!("{class}.7.1"), ""),
    };
    let rest = if rest.is_empty() { "Command rejected" } else { rest };
    Verdict::Refuse(code, status, rest.to_string())
}

async fn converse(filter: &Milter, hostname: &str, msg: &mut Message<'_>) -> Result<Verdict, String> {
    let io = connect(&filter.socket).await?;
    let mut s = Session {
        io,
        reader: Reader::default(),
        limit: filter.timeout,
        agreed: Negotiated { actions: 0, protocol: 0 },
    };
    s.send(&Command::Negotiate { actions: action::ALL, protocol: protocol::OFFERED }).await?;
    s.agreed = Negotiated::from_reply(&s.reply().await?).map_err(|e| e.0)?;
    let verdict = conversation(&mut s, hostname, msg).await;
    let _ = s.send(&Command::Quit).await;
    verdict
}

async fn conversation(s: &mut Session, hostname: &str, msg: &mut Message<'_>) -> Result<Verdict, String> {
    let (ip, name, helo) = (msg.client.ip, msg.client.name.to_string(), msg.client.helo.to_string());
    let user = msg.client.user.map(str::to_string);
    let mut macros = vec![("j".to_string(), hostname.to_string()), ("{daemon_name}".into(), "carrier".into())];
    if let Some(ip) = ip {
        macros.push(("{client_addr}".into(), ip.to_string()));
        macros.push(("{client_name}".into(), name.clone()));
    }
    macro_step(s, b'C', &macros).await?;
    let connect = Command::Connect { hostname: &name, ip, port: 0 };
    if let Some(v) = answer(s.step(connect, protocol::NO_CONNECT, protocol::NR_CONNECT).await?)? {
        return Ok(v);
    }
    if let Some(v) = answer(s.step(Command::Helo(&helo), protocol::NO_HELO, protocol::NR_HELO).await?)? {
        return Ok(v);
    }
    let mut mail_macros =
        vec![("{mail_addr}".to_string(), msg.sender.to_string()), ("i".into(), msg.client.queue_id.clone())];
    if let Some(user) = &user {
        mail_macros.push(("{auth_authen}".into(), user.clone()));
        mail_macros.push(("{auth_type}".into(), "PLAIN".into()));
    }
    macro_step(s, b'M', &mail_macros).await?;
    let from = [format!("<{}>", msg.sender)];
    if let Some(v) = answer(s.step(Command::Mail(&from), protocol::NO_MAIL, protocol::NR_MAIL).await?)? {
        return Ok(v);
    }
    for rcpt in msg.recipients.clone() {
        macro_step(s, b'R', &[("{rcpt_addr}".to_string(), rcpt.clone())]).await?;
        let to = [format!("<{rcpt}>")];
        if let Some(v) = answer(s.step(Command::Rcpt(&to), protocol::NO_RCPT, protocol::NR_RCPT).await?)? {
            return Ok(v);
        }
    }
    if let Some(v) = answer(s.step(Command::Data, protocol::NO_DATA, protocol::NR_DATA).await?)? {
        return Ok(v);
    }
    let (head, body) = split(msg.content);
    let leading_space = s.agreed.has(protocol::HEADER_LEADING_SPACE);
    for (name, value) in fields(head) {
        let value = if leading_space { value.clone() } else { value.strip_prefix(' ').unwrap_or(&value).to_string() };
        let header = Command::Header { name: &name, value: &value };
        if let Some(v) = answer(s.step(header, protocol::NO_HEADERS, protocol::NR_HEADER).await?)? {
            return Ok(v);
        }
    }
    if let Some(v) = answer(s.step(Command::EndOfHeaders, protocol::NO_EOH, protocol::NR_EOH).await?)? {
        return Ok(v);
    }
    if !s.agreed.has(protocol::NO_BODY) {
        for chunk in body.chunks(carrier_milter::BODY_CHUNK) {
            let reply = s.step(Command::Body(chunk), 0, protocol::NR_BODY).await?;
            if reply == Some(Reply::Skip) {
                break;
            }
            if let Some(v) = answer(reply)? {
                return Ok(v);
            }
        }
    }
    s.send(&Command::EndOfMessage).await?;
    end_of_message(s, msg).await
}

/// Macros for a step, when the filter is to see that step.
async fn macro_step(s: &mut Session, cmd: u8, pairs: &[(String, String)]) -> Result<(), String> {
    s.send(&Command::Macros { cmd, pairs }).await
}

/// The filter's changes, then its verdict.
async fn end_of_message(s: &mut Session, msg: &mut Message<'_>) -> Result<Verdict, String> {
    let mut body: Option<Vec<u8>> = None;
    let mut quarantine = None;
    // A filter is trusted with the message, not with the server's memory: what it may add
    // is bounded like what a client may send.
    let (mut changes, limit) = (0usize, msg.max_size.max(msg.content.len()));
    loop {
        let reply = s.reply().await?;
        changes += 1;
        let grown = msg.content.len() + body.as_ref().map_or(0, Vec::len);
        if changes > MAX_CHANGES || grown > limit.saturating_mul(2) {
            return Err(format!("the filter's changes exceed {MAX_CHANGES} or twice the message size limit"));
        }
        let allowed =
            |flag: u32| if s.agreed.may(flag) { Ok(()) } else { Err(format!("{reply:?} was not negotiated")) };
        match &reply {
            Reply::AddHeader { name, value } => {
                allowed(action::ADD_HEADERS)?;
                add_header(msg, None, name, value);
            }
            Reply::InsertHeader { index, name, value } => {
                allowed(action::ADD_HEADERS)?;
                add_header(msg, Some(*index as usize), name, value);
            }
            Reply::ChangeHeader { index, name, value } => {
                allowed(action::CHANGE_HEADERS)?;
                change_header(msg, *index as usize, name, value);
            }
            Reply::ReplaceBody(chunk) => {
                allowed(action::CHANGE_BODY)?;
                body.get_or_insert_with(Vec::new).extend_from_slice(chunk);
            }
            Reply::AddRecipient(rcpt) => {
                allowed(action::ADD_RCPT)?;
                let rcpt = unbracket(rcpt);
                if !msg.recipients.iter().any(|r| r.eq_ignore_ascii_case(&rcpt)) {
                    msg.recipients.push(rcpt);
                }
            }
            Reply::DeleteRecipient(rcpt) => {
                allowed(action::DELETE_RCPT)?;
                let rcpt = unbracket(rcpt);
                msg.recipients.retain(|r| !r.eq_ignore_ascii_case(&rcpt));
            }
            Reply::ChangeFrom(from) => {
                allowed(action::CHANGE_FROM)?;
                *msg.sender = unbracket(from.split(' ').next().unwrap_or_default());
            }
            Reply::Quarantine(reason) => {
                allowed(action::QUARANTINE)?;
                quarantine = Some(reason.clone());
            }
            _ => {
                let verdict = answer(Some(reply))?.unwrap_or(Verdict::Continue);
                if let Some(new_body) = body {
                    let (head, _) = split(msg.content);
                    let mut content = head.to_vec();
                    content.extend_from_slice(b"\r\n");
                    carrier_syntax::lines::write_crlf(&mut content, &new_body);
                    *msg.content = content;
                }
                return Ok(match (verdict, quarantine) {
                    (Verdict::Continue | Verdict::Accept, Some(reason)) => {
                        info!("milter quarantined the message from <{}>: {reason}", msg.sender);
                        Verdict::Quarantine(reason)
                    }
                    (verdict, _) => verdict,
                });
            }
        }
    }
}

/// True when a header field meets one of `[antispam] spam_headers` (by default rspamd's
/// `X-Spam: Yes` and SpamAssassin's `X-Spam-Flag: YES`), which filters add to mail they
/// judge to be spam but do not refuse.
pub fn marked_as_spam(content: &[u8], rules: &[SpamRule]) -> bool {
    fields(split(content).0).iter().any(|(name, value)| rules.iter().any(|r| r.matches(name, value)))
}

/// The filters' verdict in percent for Sieve's spamtest (RFC 5235): the number in a score
/// rule's field against the rule's threshold (the threshold is 100 %, as Pigeonhole reads
/// SpamAssassin's `required=`), else 100 for a message marked as spam and 0 for one that is
/// not.
pub fn spam_percent(content: &[u8], rules: &[SpamRule]) -> u8 {
    let fields = fields(split(content).0);
    for rule in rules {
        let SpamRule::AtLeast { field, score: threshold } = rule else { continue };
        let found = fields.iter().find(|(name, _)| name.eq_ignore_ascii_case(field));
        if let Some(score) = found.and_then(|(_, value)| SpamRule::number(value))
            && *threshold > 0.0
        {
            return (score / threshold * 100.0).clamp(0.0, 100.0).round() as u8;
        }
    }
    if marked_as_spam(content, rules) { 100 } else { 0 }
}

fn unbracket(addr: &str) -> String {
    addr.trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

/// The header section (each line with its CRLF) and the body after the empty line.
fn split(content: &[u8]) -> (&[u8], &[u8]) {
    match content.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&content[..at + 2], &content[at + 4..]),
        None if content.starts_with(b"\r\n") => (&[], &content[2..]),
        None => (content, &[]),
    }
}

/// The header fields as (name, value), a folded value keeping its line breaks as LF (as
/// Postfix passes them).
fn fields(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// A field as the filter gave it: value without its leading space unless it has one, folds
/// as CRLF.
fn field_text(name: &str, value: &str) -> String {
    let value = value.replace("\r\n", "\n").replace('\n', "\r\n");
    let sep = if value.starts_with([' ', '\t']) { ":" } else { ": " };
    format!("{name}{sep}{value}\r\n")
}

/// Adds a field at the end of the header section, or at position `index` (0 is the top).
fn add_header(msg: &mut Message<'_>, index: Option<usize>, name: &str, value: &str) {
    let text = field_text(name, value);
    let starts = field_starts(msg.content);
    let at = match index {
        Some(i) => starts.get(i).copied().unwrap_or_else(|| header_end(msg.content)),
        None => header_end(msg.content),
    };
    msg.content.splice(at..at, text.into_bytes());
}

/// Changes the `index`th (from 1) field called `name`; an empty value deletes it; a field
/// that is not there is added (libmilter's smfi_chgheader).
fn change_header(msg: &mut Message<'_>, index: usize, name: &str, value: &str) {
    let starts = field_starts(msg.content);
    let end_of_head = header_end(msg.content);
    let found = starts
        .iter()
        .enumerate()
        .filter(|(_, at)| {
            let line = &msg.content[**at..];
            line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && line[name.len()] == b':'
        })
        .nth(index.max(1) - 1)
        .map(|(i, &at)| (at, starts.get(i + 1).copied().unwrap_or(end_of_head)));
    match found {
        Some((from, to)) if value.is_empty() => {
            msg.content.drain(from..to);
        }
        Some((from, to)) => {
            msg.content.splice(from..to, field_text(name, value).into_bytes());
        }
        None if !value.is_empty() => add_header(msg, None, name, value),
        None => {}
    }
}

/// Where each header field starts.
fn field_starts(content: &[u8]) -> Vec<usize> {
    let end = header_end(content);
    let mut starts = Vec::new();
    let mut at = 0;
    while at < end {
        if !matches!(content[at], b' ' | b'\t') {
            starts.push(at);
        }
        at += content[at..].iter().position(|&b| b == b'\n').map_or(end - at, |p| p + 1);
    }
    starts
}

/// Where the header section ends (before its empty line).
fn header_end(content: &[u8]) -> usize {
    split(content).0.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_changes_land_where_libmilter_puts_them() {
        let (mut sender, mut recipients) = ("a@example.com".to_string(), vec!["b@example.org".to_string()]);
        let mut content = b"Subject: one\r\nX-A: 1\r\nX-A: 2\r\n folded\r\n\r\nbody\r\n".to_vec();
        let client = Client { ip: None, name: "localhost", helo: "localhost", user: None, queue_id: "Q".into() };
        let mut m =
            Message { client, sender: &mut sender, recipients: &mut recipients, content: &mut content, max_size: 1024 };
        add_header(&mut m, None, "X-Spam", "yes");
        add_header(&mut m, Some(0), "X-Top", " first");
        change_header(&mut m, 2, "X-A", "two");
        change_header(&mut m, 1, "X-A", "");
        change_header(&mut m, 1, "X-New", "added");
        assert_eq!(
            String::from_utf8(content).unwrap(),
            "X-Top: first\r\nSubject: one\r\nX-A: two\r\nX-Spam: yes\r\nX-New: added\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn folded_fields_go_to_the_filter_as_one_value() {
        let f = fields(b"Subject: a\r\n b\r\nTo: c\r\n");
        assert_eq!(f, [("Subject".to_string(), " a\n b".to_string()), ("To".to_string(), " c".to_string())]);
        assert_eq!(field_text("DKIM-Signature", "v=1;\n\tb=x"), "DKIM-Signature: v=1;\r\n\tb=x\r\n");
    }

    /// A filter that negotiates everything, answers each step with `continue`, and at the end
    /// of the message sends `flood` (a hostile or broken filter).
    async fn hostile_filter(flood: Vec<u8>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65_536];
            let mut pending = Vec::new();
            loop {
                let Ok(n) = conn.read(&mut buf).await else { return };
                if n == 0 {
                    return;
                }
                pending.extend_from_slice(&buf[..n]);
                while pending.len() >= 5 {
                    let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
                    if pending.len() < 4 + len {
                        break;
                    }
                    let cmd = pending[4];
                    pending.drain(..4 + len);
                    let answer: Vec<u8> = match cmd {
                        b'O' => [
                            &[0, 0, 0, 13, b'O'][..],
                            &6u32.to_be_bytes(),
                            &0x1FFu32.to_be_bytes(),
                            &0u32.to_be_bytes(),
                        ]
                        .concat(),
                        b'D' => continue,
                        b'E' => flood.clone(),
                        _ => vec![0, 0, 0, 1, b'c'],
                    };
                    if conn.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn a_filter_that_asks_too_much_gets_its_default_action() {
        let one = b"\0\0\0\x0chX-Spam\0yes\0".to_vec();
        let flood: Vec<u8> = one.iter().copied().cycle().take(one.len() * (MAX_CHANGES + 10)).collect();
        let port = hostile_filter(flood).await;
        let filter = Milter {
            socket: MilterSocket::Inet("127.0.0.1".into(), port),
            listeners: vec!["smtp".into()],
            timeout: Duration::from_secs(10),
            default_action: MilterDefault::Tempfail,
        };
        let (mut sender, mut recipients) = ("a@example.com".to_string(), vec!["b@example.org".to_string()]);
        let mut content = b"Subject: x\r\n\r\nbody\r\n".to_vec();
        let client = Client { ip: None, name: "localhost", helo: "localhost", user: None, queue_id: "Q".into() };
        let mut m = Message {
            client,
            sender: &mut sender,
            recipients: &mut recipients,
            content: &mut content,
            max_size: 1 << 20,
        };
        let verdict = run(&filter, "mx.example.com", &mut m).await;
        assert_eq!(verdict, Verdict::Refuse(451, "4.7.1".into(), "Service unavailable - try again later".into()));
        assert!(content.len() < 1 << 21, "the flood was stopped ({} octets)", content.len());
    }

    #[test]
    fn a_spam_header_is_a_verdict() {
        let rules = SpamRule::defaults();
        assert!(marked_as_spam(b"Subject: x\r\nX-Spam: Yes\r\n\r\nbody\r\n", &rules));
        assert!(marked_as_spam(b"X-Spam-Flag: YES\r\n\r\n", &rules));
        assert!(!marked_as_spam(b"X-Spam: No\r\n\r\nX-Spam: yes\r\n", &rules), "the body is not the header");
        assert!(!marked_as_spam(b"X-Spam-Status: yes\r\n\r\n", &rules));
        let score = [SpamRule::AtLeast { field: "X-Spam-Score".into(), score: 5.0 }];
        assert!(marked_as_spam(b"X-Spam-Score: 7.3\r\n\r\n", &score));
        assert!(!marked_as_spam(b"X-Spam-Score: 4.9 (low)\r\n\r\n", &score));
        assert!(!marked_as_spam(b"X-Spam-Score: -12\r\n\r\n", &score));
        assert_eq!(spam_percent(b"X-Spam-Score: 4.0 (low)\r\n\r\n", &score), 80);
        assert_eq!(spam_percent(b"X-Spam-Score: -12\r\n\r\n", &score), 0);
        assert_eq!(spam_percent(b"X-Spam-Score: 12\r\n\r\n", &score), 100);
        assert_eq!(spam_percent(b"X-Spam: Yes\r\n\r\n", &rules), 100);
        assert_eq!(spam_percent(b"X-Spam: No\r\n\r\n", &rules), 0);
    }

    #[test]
    fn a_filters_reply_code_is_taken_only_as_a_refusal() {
        assert_eq!(reply_code("554 5.7.1 Spam detected"), Verdict::Refuse(554, "5.7.1".into(), "Spam detected".into()));
        assert_eq!(reply_code("450 try later"), Verdict::Refuse(450, "4.7.1".into(), "try later".into()));
        assert_eq!(
            reply_code("250 ok"),
            Verdict::Refuse(451, "4.7.1".into(), "Service unavailable - try again later".into())
        );
    }
}
