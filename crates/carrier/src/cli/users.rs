//! `carrier user add|del|passwd|list|quota`.

use carrier_accounts::{AliasFile, Cap, Directory, UserDb};
use carrier_config::Config;
use carrier_store::Maildir;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal, Write};

/// What to do with accounts.
#[derive(Subcommand)]
pub enum Action {
    /// Create an account (ADDRESS, or a bare name in the first local domain).
    Add {
        address: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account (its mailbox is kept on disk).
    Del { address: String },
    /// Change an account's password.
    Passwd {
        address: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Show an account's limits and usage, or set them (as `[mailbox] quota` and
    /// `quota_messages` do for every account).
    Quota {
        address: String,
        /// Storage: a size such as "2G", "unlimited", or "default" for `[mailbox] quota`.
        #[arg(long)]
        storage: Option<String>,
        /// Messages: a count, "unlimited", or "default" for `[mailbox] quota_messages`.
        #[arg(long)]
        messages: Option<String>,
    },
}

/// Runs one user command against the database in `data_dir`.
pub fn run(cfg: &Config, action: Action) -> Result<(), String> {
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("cannot create data_dir {}: {e}", cfg.data_dir.display()))?;
    let mut db = UserDb::open(&cfg.data_dir)
        .map_err(|e| format!("cannot open the user database in {}: {e}", cfg.data_dir.display()))?;
    match action {
        Action::Add { address, password_stdin } => {
            let address = qualify(cfg, &address);
            warn_if_not_local(cfg, &address);
            let password = read_password(password_stdin)?;
            db.add(&address, &password).map_err(|e| e.to_string())?;
            println!("added {address}");
            warn_if_hiding_an_alias(cfg, &address);
        }
        Action::Del { address } => {
            let address = qualify(cfg, &address);
            db.delete(&address).map_err(|e| e.to_string())?;
            println!("deleted {address} (its mailbox stays on disk)");
        }
        Action::Passwd { address, password_stdin } => {
            let address = qualify(cfg, &address);
            let password = read_password(password_stdin)?;
            db.set_password(&address, &password).map_err(|e| e.to_string())?;
            println!("password changed for {address}");
        }
        Action::List => {
            for user in db.list() {
                println!("{user}");
            }
            return Ok(());
        }
        Action::Quota { address, storage, messages } => {
            let address = qualify(cfg, &address);
            if !db.contains(&address) {
                return Err(format!("no account {address}; `carrier user list` shows the accounts"));
            }
            if storage.is_none() && messages.is_none() {
                return show_quota(cfg, &db, &address);
            }
            let mut limit = db.limit(&address);
            if let Some(text) = storage {
                limit.storage = cap(&text, "--storage", carrier_config::size)?;
            }
            if let Some(text) = messages {
                limit.messages = cap(&text, "--messages", |t| t.parse::<u64>().map_err(|_| "not a number".into()))?;
            }
            db.set_limit(&address, limit).map_err(|e| e.to_string())?;
            show_quota(cfg, &db, &address)?;
        }
    }
    // Run as root, the new file is root's: give it to the daemon's user so it can re-read it.
    crate::privileges::own(cfg, &cfg.data_dir.join("users"))
}

/// One resource's setting from the command line: "default", "unlimited" or a value.
fn cap(text: &str, flag: &str, value: impl Fn(&str) -> Result<u64, String>) -> Result<Cap, String> {
    match text {
        "default" => Ok(Cap::Default),
        "unlimited" => Ok(Cap::Unlimited),
        t => match value(t) {
            Ok(0) => Err(format!("{flag} {t}: a limit of 0 takes no mail; use a positive value or \"unlimited\"")),
            Ok(n) => Ok(Cap::At(n)),
            Err(e) => Err(format!("{flag} {t}: {e}; give a value, \"unlimited\" or \"default\"")),
        },
    }
}

/// Prints an account's limits, where each comes from, and what it uses now.
fn show_quota(cfg: &Config, db: &UserDb, address: &str) -> Result<(), String> {
    let store = Maildir::new(cfg.data_dir.join("mail"), &cfg.hostname);
    let used = store.account(address).usage().unwrap_or_default();
    let own = db.limit(address);
    let lines = [
        ("storage", own.storage, cfg.mailbox.quota, used.octets, "octets", "[mailbox] quota"),
        ("messages", own.messages, cfg.mailbox.quota_messages, used.messages, "messages", "[mailbox] quota_messages"),
    ];
    println!("{address}");
    for (name, cap, default, used, unit, key) in lines {
        let limit = match cap.apply(default) {
            Some(n) => format!("{n} {unit}"),
            None => "unlimited".into(),
        };
        let source = if cap == Cap::Default { format!("from {key}") } else { "this account's own".into() };
        println!("  {name:<9} {used} {unit} used of {limit} ({source})");
    }
    Ok(())
}

/// A bare name means that name in the first local domain; the result is canonical (lower-case).
fn qualify(cfg: &Config, name: &str) -> String {
    let full = if name.contains('@') { name.to_string() } else { format!("{name}@{}", cfg.domains[0]) };
    carrier_accounts::address::normalize(&full)
}

/// An account hides the alias of its name (the account wins; docs/config.md): say so now,
/// not when the alias's members wonder where their mail went.
fn warn_if_hiding_an_alias(cfg: &Config, address: &str) {
    let Some(path) = &cfg.aliases else { return };
    let (Ok(aliases), Ok(users)) = (AliasFile::open(path), UserDb::open(&cfg.data_dir)) else { return };
    let dir = Directory::new(cfg.domains.clone(), users, Some(aliases));
    for problem in dir.shadowed_aliases().iter().filter(|p| p.starts_with(&format!("the account {address} "))) {
        eprintln!("carrier: warning: {problem}; delete the account again or rename the alias in {}", path.display());
    }
}

fn warn_if_not_local(cfg: &Config, address: &str) {
    if let Some((_, domain)) = address.rsplit_once('@')
        && !cfg.is_local_domain(domain)
    {
        eprintln!(
            "carrier: warning: {domain} is not a local domain (domains = {:?}); mail for {address} will not be accepted until you add it to `domains` in carrier.toml",
            cfg.domains
        );
    }
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for the password; pipe it in with --password-stdin".into());
    }
    let first = prompt_hidden("Password: ")?;
    let second = prompt_hidden("Again: ")?;
    if first != second {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}

/// Reads a line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<String, String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it and we restore it below.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    let have_tty = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    if have_tty {
        let mut quiet = term;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    eprintln!();
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
