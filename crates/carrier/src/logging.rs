//! Where log lines go (`[log]` in docs/config.md): stderr, as plain lines (under systemd the
//! journal takes them) or JSON objects for log shippers; syslog's mail facility over
//! /dev/log, so /var/log/mail.log keeps working; or the journal's native protocol. Used by
//! `serve`, and by the commands that act in the daemon's place while it is stopped (`queue
//! delete`), so that `grep QID` finds their lines in the same log.
//!
//! The syslog and journal messages are written by hand: each is one datagram of a few lines
//! of text (RFC 3164 4.1, systemd's native journal protocol), smaller than any crate for it.

use carrier_config::{Log, LogFormat, LogTarget};
use carrier_spool::QueueId;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Level, Metadata, Subscriber};

/// The standard sockets of the two datagram targets.
const SYSLOG_SOCKET: &str = "/dev/log";
const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";
/// RFC 5424 6.2.1 facility numbers (RFC 3164 4.1.1 has the same): 2 is mail.
const MAIL_FACILITY: u8 = 2;
/// rsyslog's default maxMessageSize is 8 KiB; a longer line is cut rather than lost.
const MAX_DATAGRAM: usize = 8000;

/// One destination for log lines.
pub struct Sink {
    format: LogFormat,
    target: Target,
}

enum Target {
    Stderr,
    /// A datagram socket: syslog (`journal` false) or the journal.
    Socket {
        path: PathBuf,
        journal: bool,
        socket: Mutex<Option<UnixDatagram>>,
    },
}

impl Sink {
    /// Opens `[log]`'s target; `format` overrides `[log] format` (`--log-format`). When the
    /// socket is not there, the lines go to stderr and the returned note says why.
    pub fn open(log: &Log, format: Option<LogFormat>) -> (Sink, Option<String>) {
        let format = format.unwrap_or(log.format);
        let (journal, standard, name) = match log.target {
            LogTarget::Stderr => return (Sink { format, target: Target::Stderr }, None),
            LogTarget::Syslog => (false, SYSLOG_SOCKET, "syslog"),
            LogTarget::Journald => (true, JOURNALD_SOCKET, "journald"),
        };
        let path = log.socket.clone().unwrap_or_else(|| PathBuf::from(standard));
        match connect(&path) {
            Ok(socket) => {
                let target = Target::Socket { path, journal, socket: Mutex::new(Some(socket)) };
                (Sink { format, target }, None)
            }
            Err(e) => {
                let why = match journal {
                    true => {
                        "is systemd's journal running? Or set [log] target = \"stderr\", which the journal also takes"
                    }
                    false => "is a syslog daemon (rsyslog) running? Or set [log] target = \"stderr\"",
                };
                let note = format!(
                    "[log] target = \"{name}\": cannot reach {} ({e}); {why}; logging to stderr instead",
                    path.display()
                );
                (Sink { format, target: Target::Stderr }, Some(note))
            }
        }
    }

    /// True when lines go to stderr (where a command's own output goes too).
    pub fn is_stderr(&self) -> bool {
        matches!(self.target, Target::Stderr)
    }

    /// Writes one line.
    pub fn write(&self, level: Level, message: &str) {
        let now = SystemTime::now();
        let text = match self.format {
            LogFormat::Text => message.to_string(),
            LogFormat::Json => json(now, level, message),
        };
        match &self.target {
            Target::Stderr => {
                let line = match self.format {
                    LogFormat::Text => format!("{} {:>5} {text}\n", rfc3339(now), level.as_str()),
                    LogFormat::Json => format!("{text}\n"),
                };
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Target::Socket { path, journal, socket } => {
                let datagram = match journal {
                    true => journal_fields(level, message),
                    false => syslog_line(now, level, &text),
                };
                if let Err(e) = send(path, socket, &datagram) {
                    let _ = writeln!(std::io::stderr(), "{} (not logged to {}: {e})", message, path.display());
                }
            }
        }
    }
}

fn connect(path: &Path) -> std::io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    // A stalled log daemon must not stall mail for long; the line then goes to stderr.
    socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    Ok(socket)
}

/// Sends one datagram, connecting again once when the log daemon was restarted.
fn send(path: &Path, socket: &Mutex<Option<UnixDatagram>>, datagram: &[u8]) -> std::io::Result<()> {
    let mut socket = socket.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = socket.as_ref()
        && s.send(datagram).is_ok()
    {
        return Ok(());
    }
    let fresh = connect(path);
    *socket = fresh.as_ref().ok().and_then(|s| s.try_clone().ok());
    fresh?.send(datagram).map(|_| ())
}

/// RFC 3164 4.1: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`, the form glibc's syslog(3) sends to
/// /dev/log (and what rsyslog and journald's syslog socket read); PRI is facility × 8 +
/// severity (4.1.1), the time local (4.1.2).
fn syslog_line(now: SystemTime, level: Level, text: &str) -> Vec<u8> {
    let pri = MAIL_FACILITY * 8 + severity(level);
    let tm = broken_down(now, true);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS[tm.tm_mon.clamp(0, 11) as usize];
    let head = format!(
        "<{pri}>{month} {:>2} {:02}:{:02}:{:02} carrier[{}]: ",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        std::process::id()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(cut(text, MAX_DATAGRAM - out.len()).as_bytes());
    out
}

/// The journal's native protocol: `KEY=value` lines; a value with a line break is sent as
/// `KEY`, a newline, its length as 64-bit little-endian, the value and a newline.
fn journal_fields(level: Level, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |key: &str, value: &str| {
        if value.contains('\n') {
            out.extend_from_slice(format!("{key}\n").as_bytes());
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        } else {
            out.extend_from_slice(format!("{key}={value}\n").as_bytes());
        }
    };
    field("MESSAGE", cut(message, 48 * 1024));
    field("PRIORITY", &severity(level).to_string());
    field("SYSLOG_FACILITY", &MAIL_FACILITY.to_string());
    field("SYSLOG_IDENTIFIER", "carrier");
    field("SYSLOG_PID", &std::process::id().to_string());
    if let Some(id) = queue_id(message) {
        // `journalctl CARRIER_QUEUE_ID=...` finds a message's whole story.
        field("CARRIER_QUEUE_ID", id);
    }
    out
}

/// RFC 5424 6.2.1 severities.
fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// One JSON object: time, level, message, and the queue id when the line is about a message.
fn json(now: SystemTime, level: Level, message: &str) -> String {
    let mut out = format!("{{\"time\":\"{}\",\"level\":\"{}\",", rfc3339(now), level.as_str().to_ascii_lowercase());
    if let Some(id) = queue_id(message) {
        let _ = write!(out, "\"qid\":\"{id}\",");
    }
    out.push_str("\"message\":\"");
    for c in message.chars() {
        // RFC 8259 7: quotation mark, reverse solidus and the control characters are escaped.
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push_str("\"}");
    out
}

/// The queue id a line starts with (`0G7Q3V8M2K4A01: to=<...>`).
fn queue_id(message: &str) -> Option<&str> {
    let (first, _) = message.split_once(": ")?;
    first.parse::<QueueId>().ok().map(|_| first)
}

/// At most `max` octets, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn broken_down(t: SystemTime, local: bool) -> libc::tm {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: tm is plain data that the call fills in; both calls are the thread-safe forms.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if local {
            libc::localtime_r(&secs, &mut tm);
        } else {
            libc::gmtime_r(&secs, &mut tm);
        }
        tm
    }
}

/// `2026-12-05T11:38:39.123Z` (RFC 3339, UTC).
fn rfc3339(t: SystemTime) -> String {
    let tm = broken_down(t, false);
    let millis = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_millis());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Sets up the daemon's logging: plain stderr as before (colours only on a terminal), else
/// a [`Sink`]. A target that cannot be reached is said on stderr, and stderr is used.
pub fn init(log: &Log, format: Option<LogFormat>) {
    let (sink, note) = Sink::open(log, format);
    if let Some(note) = note {
        eprintln!("carrier: {note}");
    }
    if sink.is_stderr() && sink.format == LogFormat::Text {
        tracing_subscriber::fmt()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
        return;
    }
    // Only fails when a subscriber is set already, which init is the first to do.
    let _ = tracing::subscriber::set_global_default(Lines(sink));
}

/// A subscriber that writes each event as one line to a [`Sink`]; carrier logs no spans.
struct Lines(Sink);

impl Subscriber for Lines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        self.0.write(*event.metadata().level(), &text.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// An event's message, then any other fields as ` key=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            self.0 = format!("{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_escape_and_name_the_queue_id() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_532_581_042);
        let line = json(t, Level::INFO, "0G7Q3V8M2K4A01: to=<a@b>, stat=Sent (\"ok\"\\\u{1})");
        assert_eq!(
            line,
            "{\"time\":\"2026-11-24T15:03:01.042Z\",\"level\":\"info\",\"qid\":\"0G7Q3V8M2K4A01\",\
             \"message\":\"0G7Q3V8M2K4A01: to=<a@b>, stat=Sent (\\\"ok\\\"\\\\\\u0001)\"}"
        );
        assert!(!json(t, Level::WARN, "NOQUEUE: reject: x").contains("qid"));
    }

    #[test]
    fn syslog_lines_are_rfc_3164_in_the_mail_facility() {
        let line = syslog_line(SystemTime::now(), Level::WARN, "hello");
        let text = String::from_utf8(line).unwrap();
        // mail (2) × 8 + warning (4)
        assert!(text.starts_with("<20>"), "{text}");
        assert!(text.ends_with(&format!(" carrier[{}]: hello", std::process::id())), "{text}");
        // "<20>Mmm dd hh:mm:ss " is 20 characters.
        assert_eq!(&text[10..11], " ");
        assert_eq!(text.as_bytes()[13], b':');
        let long = "é".repeat(MAX_DATAGRAM);
        assert!(syslog_line(SystemTime::now(), Level::INFO, &long).len() <= MAX_DATAGRAM);
    }

    #[test]
    fn journal_fields_use_the_binary_form_for_line_breaks() {
        let datagram = journal_fields(Level::ERROR, "two\nlines");
        let mut expected = b"MESSAGE\n".to_vec();
        expected.extend_from_slice(&9u64.to_le_bytes());
        expected.extend_from_slice(b"two\nlines\nPRIORITY=3\nSYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=carrier\n");
        assert!(datagram.starts_with(&expected), "{:?}", String::from_utf8_lossy(&datagram));
    }
}
