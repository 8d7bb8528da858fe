//! `carrier user add|del|passwd|list`.

use carrier_accounts::{AliasFile, Directory, UserDb};
use carrier_config::Config;
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
    }
    // Run as root, the new file is root's: give it to the daemon's user so it can re-read it.
    crate::privileges::own(cfg, &cfg.data_dir.join("users"))
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
