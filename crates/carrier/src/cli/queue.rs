//! `carrier queue list|show|delete|flush` and `mailq`: the queue as the administrator sees
//! it. They read the spool directly, with the daemon running or not; `flush` asks the
//! running daemon through the control socket, and `list` does too when the caller may not
//! read the spool (an ordinary user's `mailq`).

use crate::logging;
use carrier_config::Config;
use carrier_mta::handoff::control::{self, Answer};
use carrier_mta::handoff::{self, pickup};
use carrier_mta::mailq::{self, Delete, age, listing, state};
use carrier_mta::sysexits::{self, Failure};
use carrier_spool::{QueueId, Record, Spool};
use clap::Subcommand;
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime};

/// What to do with the queue.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// List queued messages with each recipient's state and last error (also: `mailq`).
    List,
    /// Show one message: envelope, header, and the history of its delivery attempts.
    Show { id: String },
    /// Delete one message, or every message with --all.
    Delete {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Retry every deferred message now (also: `sendmail -q`).
    Flush,
}

fn fail(code: u8, text: impl Into<String>) -> Failure {
    Failure::new(code, text)
}

/// Runs one queue command, printing its result on stdout.
pub fn run(cfg: &Config, action: Action) -> Result<(), Failure> {
    match action {
        Action::List => print!("{}", list(cfg)?),
        Action::Show { id } => print!("{}", show(&open(cfg)?, &parse_id(&id)?)?),
        Action::Delete { id: Some(id), .. } => {
            let id = parse_id(&id)?;
            delete(cfg, &Delete::One(id.clone()))?;
            println!("{id}: deleted");
        }
        Action::Delete { id: None, .. } => {
            let removed = delete(cfg, &Delete::All)?;
            println!("deleted {removed} message(s)");
        }
        Action::Flush => println!("{}", flush(cfg)?),
    }
    Ok(())
}

/// The listing: from the spool, or from the daemon when the spool is not ours to read.
pub fn list(cfg: &Config) -> Result<String, Failure> {
    match Spool::open(&spool_dir(cfg)) {
        Ok(spool) => {
            // Also what waits in the pickup directory for a daemon that is not running.
            let max = handoff::max_submission(cfg.smtp.max_message_size);
            let waiting = pickup::waiting(&cfg.data_dir, max).unwrap_or_default();
            listing(&spool, &waiting).map_err(|e| fail(sysexits::IOERR, e.to_string()))
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            match control::request(&cfg.data_dir, "LIST", b"", Duration::from_secs(30)) {
                Ok(Answer::Body(text)) => Ok(String::from_utf8_lossy(&text).into_owned()),
                Ok(Answer::Err(code, text)) => Err(fail(code, text)),
                _ => Err(denied(cfg, e)),
            }
        }
        Err(e) => Err(fail(sysexits::IOERR, format!("cannot open the queue in {}: {e}", spool_dir(cfg).display()))),
    }
}

/// Removes queued mail through the running daemon, so that its log has the line
/// `QID: removed by queue delete` (issue 15.8); with the daemon down, directly, and the line
/// goes to stderr. Returns how many messages were removed.
fn delete(cfg: &Config, what: &Delete) -> Result<usize, Failure> {
    match control::request(&cfg.data_dir, &what.request(), b"", Duration::from_secs(60)) {
        Ok(Answer::Ok(n)) => return Ok(n.parse().unwrap_or(0)),
        Ok(Answer::Err(code, text)) => return Err(fail(code, text)),
        Ok(Answer::Body(_)) => return Err(fail(sysexits::IOERR, "unexpected answer from the daemon")),
        Err(_) => {} // not running: the spool is ours alone
    }
    let removed = mailq::delete(&open(cfg)?, what).map_err(|e| match what {
        Delete::One(id) => missing(id, e),
        Delete::All => fail(sysexits::IOERR, format!("cannot list the queue: {e}")),
    })?;
    // The line goes where the daemon's lines go when that is a log daemon ([log] target).
    let (uid, _) = carrier_accounts::passwd::caller();
    let (log, note) = logging::Sink::open(&cfg.log, None);
    if let Some(note) = note {
        eprintln!("carrier: {note}");
    }
    for id in &removed {
        match log.is_stderr() {
            true => {
                eprintln!("{} (the daemon is not running; this line is not in its log)", mailq::deleted_line(id, uid))
            }
            false => log.write(tracing::Level::INFO, &mailq::deleted_line(id, uid)),
        }
    }
    Ok(removed.len())
}

/// Asks the daemon to retry everything now.
pub fn flush(cfg: &Config) -> Result<String, Failure> {
    match control::request(&cfg.data_dir, "FLUSH", b"", Duration::from_secs(30)) {
        Ok(Answer::Ok(text)) => Ok(text),
        Ok(Answer::Err(code, text)) => Err(fail(code, text)),
        Ok(Answer::Body(_)) => Err(fail(sysexits::IOERR, "unexpected answer from the daemon")),
        Err(_) => Err(fail(
            sysexits::UNAVAILABLE,
            "the carrier daemon is not running, so nothing can be delivered now; start it (`carrier serve` or \
             `systemctl start carrier`) and queued mail goes out at once",
        )),
    }
}

fn spool_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.data_dir.join("spool")
}

fn open(cfg: &Config) -> Result<Spool, Failure> {
    Spool::open(&spool_dir(cfg)).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => denied(cfg, e),
        _ => fail(sysexits::IOERR, format!("cannot open the queue in {}: {e}", spool_dir(cfg).display())),
    })
}

fn denied(cfg: &Config, e: io::Error) -> Failure {
    fail(
        sysexits::NOPERM,
        format!("cannot open the queue in {}: {e}; run this as root or as carrier's user", spool_dir(cfg).display()),
    )
}

fn parse_id(id: &str) -> Result<QueueId, Failure> {
    id.parse().map_err(|_| fail(sysexits::USAGE, format!("{id:?} is not a queue id (they look like 0G7Q3V8M2K4A01)")))
}

fn missing(id: &QueueId, e: io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::NotFound => fail(sysexits::NOUSER, mailq::not_queued(id)),
        _ => fail(sysexits::IOERR, format!("{id}: {e}")),
    }
}

/// One message in full.
fn show(spool: &Spool, id: &QueueId) -> Result<String, Failure> {
    let (env, message) = spool.load(id).map_err(|e| missing(id, e))?;
    let history = spool.history(id).map_err(|e| missing(id, e))?;
    let now = SystemTime::now();
    let mut out = String::new();
    let _ = writeln!(out, "Queue ID:  {id}");
    let _ = writeln!(
        out,
        "Arrived:   {} ({} ago)",
        carrier_smtp::trace::rfc5322_date(env.received),
        age(now, env.received)
    );
    let _ = writeln!(out, "Sender:    <{}>", env.sender);
    let client = env.client_ip.map_or("local".to_string(), |ip| format!("{}[{ip}]", env.client_name));
    let _ = writeln!(out, "From:      {client}, helo=<{}>, proto={}", env.helo, env.proto);
    let _ = writeln!(out, "Size:      {} octets", message.len());
    let _ = writeln!(out, "Recipients:");
    for r in &env.recipients {
        let orig = if r.orig.eq_ignore_ascii_case(&r.address) { String::new() } else { format!(" (for <{}>)", r.orig) };
        let kind = if r.local { "local" } else { "remote" };
        let _ = writeln!(out, "    {} [{kind}]{orig}: {}", r.address, state(&r.status, now));
    }
    let _ = writeln!(out, "History:");
    if history.is_empty() {
        let _ = writeln!(out, "    (no delivery attempt recorded yet)");
    }
    for record in history {
        let line = match record {
            Record::Warned => "the sender was told of the delay".to_string(),
            Record::Status(i, status) => {
                let who = env.recipients.get(i).map_or("?", |r| r.address.as_str());
                format!("{who}: {}", state(&status, now))
            }
        };
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "Header:");
    let end = message.windows(4).position(|w| w == b"\r\n\r\n").map_or(message.len(), |p| p + 2);
    for line in String::from_utf8_lossy(&message[..end]).lines() {
        let _ = writeln!(out, "    {line}");
    }
    Ok(out)
}
