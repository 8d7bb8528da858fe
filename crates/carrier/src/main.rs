//! carrier: one mail server in place of sendmail + dovecot.

mod auth;
mod conn;
mod delivery;
mod inbound;
mod policy;
mod pop3;
mod server;
mod tls;
mod users;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "carrier",
    version,
    about = "A mail server: SMTP, local delivery, queue, POP3 and IMAP in one program"
)]
struct Cli {
    /// Configuration file (else $CARRIER_CONFIG, else /etc/carrier/carrier.toml, else development defaults).
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the mail server in the foreground.
    Serve,
    /// Manage mail accounts.
    User {
        #[command(subcommand)]
        action: users::Action,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match carrier_config::locate(cli.config.as_deref()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("carrier: {e}");
            return ExitCode::from(78); // EX_CONFIG (sysexits.h)
        }
    };
    let result = match cli.command {
        Command::Serve => serve(cfg),
        Command::User { action } => users::run(&cfg, action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carrier: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cfg: carrier_config::Config) -> Result<(), String> {
    use std::io::IsTerminal;
    // Colours only on a terminal: logs in files and the journal stay plain text for grep.
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    if cfg.source.is_none() {
        eprintln!(
            "carrier: no configuration file found; running on development defaults (data in {})",
            cfg.data_dir.display()
        );
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| format!("cannot create {}: {e}", cfg.data_dir.display()))?;
        server::first_run_account(&cfg)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(server::serve(cfg))
}
