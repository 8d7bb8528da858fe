//! The sendmail personality: `carrier sendmail ...`, or the binary invoked as `sendmail`,
//! `mailq` or `newaliases`. A message read from stdin (or over SMTP on stdin with `-bs`) is
//! handed to the running daemon through the control socket, or, when the daemon is down,
//! left in the pickup directory. Either way the exit status is 0 only once it is durable.

pub mod args;
mod hand_over;
mod stdio;

use crate::cli::queue;
use args::{Args, Mode};
use carrier_accounts::passwd;
use carrier_config::Config;
use carrier_mta::handoff::{Submission, message};
use carrier_mta::sysexits::{self, Failure};
use carrier_mta::verify;
use carrier_smtp::address::parse_path;
use carrier_smtp::headers;
use carrier_smtp::trace::rfc5322_date;
use carrier_spool::QueueId;
use hand_over::{Handed, hand_over};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

/// Runs the personality `name` ("sendmail", "mailq", "newaliases") with its arguments;
/// `config` is carrier's own `-c`, if it was given.
pub fn main(name: &str, argv: Vec<String>, config: Option<&Path>) -> ExitCode {
    let parsed = match args::parse(argv) {
        Ok(mut a) => {
            match name {
                "mailq" => a.mode = Mode::ListQueue,
                "newaliases" => a.mode = Mode::Newaliases,
                _ => {}
            }
            a
        }
        Err(e) => {
            eprintln!(
                "{name}: {e}; usage: sendmail [-t] [-i] [-f sender] [-F name] [-bs|-bp|-bi|-bv|-bt|-q] [recipient ...]"
            );
            return ExitCode::from(sysexits::USAGE);
        }
    };
    for option in &parsed.ignored {
        eprintln!("{name}: note: option {option} has no effect in carrier and was ignored");
    }
    let cfg = match carrier_config::locate_file(parsed.config.as_deref().or(config)) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(sysexits::CONFIG);
        }
    };
    if parsed.verbose
        && let Some(file) = &cfg.source
    {
        // Issue 15.1: with the file at a non-default path, which one is in force is the
        // first question when something goes wrong.
        eprintln!("{name}: configuration {}", file.display());
    }
    let result = match parsed.mode {
        Mode::Deliver => deliver(&cfg, &parsed, name),
        Mode::Smtp => stdio::run(&cfg),
        Mode::Newaliases => newaliases(&cfg),
        Mode::ListQueue => queue::list(&cfg).map(|text| print!("{text}")),
        Mode::Flush => queue::flush(&cfg).map(|text| println!("{text}")),
        Mode::Verify | Mode::Test => verify(&cfg, &parsed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{name}: {}", f.text);
            ExitCode::from(f.code)
        }
    }
}

/// The default mode: a message on stdin.
fn deliver(cfg: &Config, a: &Args, name: &str) -> Result<(), Failure> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| Failure::new(sysexits::IOERR, format!("cannot read the message: {e}")))?;
    let (uid, login) = passwd::caller();
    let sender = match &a.sender {
        Some(s) => envelope_sender(s)?,
        None => format!("{login}@{}", cfg.hostname),
    };
    let full_name = a.full_name.clone().or_else(|| passwd::by_uid(uid).map(|acct| acct.full_name)).unwrap_or_default();
    let defaults = message::Defaults {
        from: from_field(&full_name, if sender.is_empty() { &login } else { &sender }),
        date: rfc5322_date(SystemTime::now()),
        message_id: format!("<{}@{}>", QueueId::generate(), cfg.hostname),
    };
    let opts =
        message::Options { ignore_dots: a.ignore_dots, extract: a.from_headers, max_size: cfg.smtp.max_message_size };
    let prepared = message::prepare(&input, &opts, &defaults)?;
    for note in &prepared.notes {
        eprintln!("{name}: note: {note}");
    }
    let mut recipients = Vec::new();
    for arg in &a.recipients {
        recipients.extend(argument_recipients(cfg, arg)?);
    }
    for r in &prepared.recipients {
        recipients.push(checked(cfg, r, "in the message header")?);
    }
    recipients.dedup();
    if recipients.is_empty() {
        let text = if a.from_headers {
            "no recipients: the message has no To:, Cc: or Bcc: address; add one, or name recipients as arguments"
        } else {
            "no recipients: name them as arguments (sendmail bob@example.com), or use -t to take them from To:/Cc:/Bcc:"
        };
        return Err(Failure::new(sysexits::USAGE, text));
    }
    let sub = Submission {
        sender,
        recipients,
        message: prepared.message,
        eight_bit: prepared.eight_bit || a.body_8bit,
        helo: None,
        proto: "local".into(),
    };
    let queued = hand_over(cfg, &sub)?;
    if let Handed::Queued { warning: Some(warning), .. } = &queued {
        eprintln!("{name}: {warning}");
    }
    if a.verbose {
        eprintln!("{name}: {queued}");
    }
    Ok(())
}

/// `-f`: `<>` or an empty string is the null sender; angle brackets are optional.
fn envelope_sender(s: &str) -> Result<String, Failure> {
    let bare = s.trim().trim_start_matches('<').trim_end_matches('>');
    if bare.is_empty() {
        return Ok(String::new());
    }
    match parse_path(&format!("<{bare}>"), false) {
        Ok(_) => Ok(bare.to_string()),
        Err(_) => Err(Failure::new(sysexits::USAGE, format!("-f {s}: not a valid address; use user@domain or <>"))),
    }
}

/// `Full Name <address>`, quoting the name when RFC 5322 3.2.3 requires it.
fn from_field(full_name: &str, address: &str) -> String {
    // A line break in -F (or a GECOS field) must not start a new header field: injection.
    let name: String = full_name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let name = name.trim();
    if name.is_empty() {
        return address.to_string();
    }
    let atext = |c: char| c.is_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if name.chars().all(atext) {
        format!("{name} <{address}>")
    } else {
        format!("\"{}\" <{address}>", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The addresses in one argument: a list like `a@x, Bob <b@y>`, or bare user names.
fn argument_recipients(cfg: &Config, arg: &str) -> Result<Vec<String>, Failure> {
    let found = headers::addresses(arg);
    let items: Vec<String> = if found.is_empty() {
        arg.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    } else {
        found
    };
    if items.is_empty() {
        return Err(Failure::new(sysexits::USAGE, format!("{arg:?} is not a recipient address")));
    }
    items.iter().map(|r| checked(cfg, r, "on the command line")).collect()
}

/// A recipient, qualified with our host name when it is a bare user name, and checked.
fn checked(cfg: &Config, rcpt: &str, place: &str) -> Result<String, Failure> {
    let full = if rcpt.contains('@') { rcpt.to_string() } else { format!("{rcpt}@{}", cfg.hostname) };
    match parse_path(&format!("<{full}>"), false) {
        Ok(_) => Ok(full),
        Err(_) => Err(Failure::new(sysexits::USAGE, format!("recipient {rcpt:?} {place} is not a valid address"))),
    }
}

/// `-bv` and `-bt`: what each recipient resolves to, as the daemon would resolve it, with
/// nothing sent. `-bt` reads addresses from stdin when none are arguments, one per line, as
/// sendmail's address test mode does (a leading ruleset list such as `3,0` is skipped).
fn verify(cfg: &Config, a: &Args) -> Result<(), Failure> {
    let mut addresses = Vec::new();
    for arg in &a.recipients {
        addresses.extend(argument_recipients(cfg, arg)?);
    }
    if addresses.is_empty() && a.mode == Mode::Test {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Failure::new(sysexits::IOERR, format!("cannot read the addresses: {e}")))?;
        for line in input.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let address = match words.as_slice() {
                [rules, address] if rules.bytes().all(|b| b.is_ascii_digit() || b == b',') => address,
                [address] => address,
                _ => return Err(Failure::new(sysexits::USAGE, format!("{line:?}: expected one address per line"))),
            };
            addresses.push(checked(cfg, address, "on standard input")?);
        }
    }
    if addresses.is_empty() {
        return Err(Failure::new(
            sysexits::USAGE,
            "no addresses: name them as arguments (sendmail -bv bob@example.com)",
        ));
    }
    users(cfg)?; // says why an ordinary user cannot
    let dir = carrier_mta::directory::open(cfg).map_err(|e| Failure::new(sysexits::CONFIG, e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(sysexits::IOERR, format!("cannot start the runtime: {e}")))?;
    let resolver = carrier_mta::dns::resolver(cfg).map_err(|e| Failure::new(sysexits::CONFIG, e))?;
    let resolved: Vec<verify::Resolved> = runtime.block_on(async {
        let mut out = Vec::new();
        for address in &addresses {
            out.push(verify::resolve(cfg, &dir, &resolver, address).await);
        }
        out
    });
    for r in &resolved {
        print!("{}", if a.mode == Mode::Test { verify::route_text(r) } else { verify::verdicts(r) });
    }
    match verify::exit_code(&resolved) {
        // -bt only shows; like sendmail's address test mode it succeeds once it has answered.
        code if code != 0 && a.mode == Mode::Verify => Err(Failure::new(code, "not every address is deliverable now")),
        _ => Ok(()),
    }
}

/// `-bi` / `newaliases`: carrier reads the aliases file directly, so there is nothing to
/// rebuild; check it and report, as an administrator running newaliases expects.
fn newaliases(cfg: &Config) -> Result<(), Failure> {
    let Some(path) = &cfg.aliases else {
        println!("newaliases: no aliases file is configured (set `aliases` in carrier.toml); nothing to do");
        return Ok(());
    };
    let file = carrier_accounts::AliasFile::open(path).map_err(|e| Failure::new(sysexits::DATAERR, e))?;
    for warning in file.warnings() {
        eprintln!("newaliases: warning: {warning}");
    }
    let dir = carrier_accounts::Directory::new(cfg.domains.clone(), users(cfg)?, Some(file));
    let loops = dir.alias_loops();
    for problem in &loops {
        eprintln!("newaliases: {problem}");
    }
    let count = dir.alias_file().map_or(0, |f| f.aliases().len());
    println!(
        "{}: {count} aliases{}; carrier re-reads the file by itself, nothing needs rebuilding",
        path.display(),
        if loops.is_empty() { ", no loops" } else { "" }
    );
    if loops.is_empty() { Ok(()) } else { Err(Failure::new(sysexits::DATAERR, "fix the alias loops above")) }
}

/// Loop detection follows aliases to accounts, so it reads the user table (root or the
/// carrier user may; others get the reason).
fn users(cfg: &Config) -> Result<carrier_accounts::UserDb, Failure> {
    carrier_accounts::UserDb::open(&cfg.data_dir).map_err(|e| {
        Failure::new(
            sysexits::NOPERM,
            format!("cannot read the user database in {}: {e}; run this as root", cfg.data_dir.display()),
        )
    })
}
