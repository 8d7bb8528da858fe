//! carrier: one mail server in place of sendmail + dovecot.
//!
//! The binary is split by who runs it: `daemon/` is `carrier serve`; `cli/` are the
//! administrator's commands; `sendmail/` is the sendmail personality any user runs. The mail
//! path itself is the carrier-mta library.

mod cli;
mod daemon;
mod logging;
mod privileges;
mod sendmail;

use carrier_mta::sysexits;
use clap::{Parser, Subcommand};
use cli::{check, dkim, init, queue, records, status, tls_reports, users};
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
    /// The daemon's log lines as `text` or `json` (one object per line, for log shippers); else [log] format.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = carrier_config::log_format)]
    log_format: Option<carrier_config::LogFormat>,
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
    /// Inspect and manage the mail queue.
    Queue {
        #[command(subcommand)]
        action: queue::Action,
    },
    /// Check the configuration and the host (DNS, ports, certificate, permissions); exit 1 on problems.
    Check(check::Options),
    /// Set up a new server: configuration, postmaster account, certificate, systemd unit.
    Init(init::Options),
    /// Show what the running daemon is doing: listeners, queue, deliveries, certificate.
    Status,
    /// Print the DNS records to publish for the local domains (zone-file syntax).
    DnsRecords,
    /// Send the TLS reports (RFC 8460) now: those of finished days and today's so far.
    TlsReports,
    /// Manage the DKIM keys that sign outgoing mail.
    Dkim {
        #[command(subcommand)]
        action: dkim::Action,
    },
    /// Send a message as sendmail does (also: the binary invoked as `sendmail`, `mailq`, `newaliases`).
    #[command(disable_help_flag = true)]
    Sendmail {
        /// sendmail's flags (-t -i -f ADDR -F NAME -bs -bp -bi -q -v ...) and recipients.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Names under which carrier behaves as the classic commands (a symlink or a copy).
const PERSONALITIES: [&str; 3] = ["sendmail", "mailq", "newaliases"];

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let invoked = argv.first().and_then(|a| std::path::Path::new(a).file_name()).and_then(|n| n.to_str());
    if let Some(name) = invoked.filter(|n| PERSONALITIES.contains(n)) {
        return sendmail::main(name, argv[1..].to_vec(), None);
    }
    let cli = Cli::parse();
    // These report configuration errors in their own way.
    match &cli.command {
        Command::Sendmail { args } => return sendmail::main("sendmail", args.clone(), cli.config.as_deref()),
        Command::Check(opts) => return check::run(cli.config.as_deref(), opts),
        Command::Init(opts) => return finish(init::run(&carrier_config::config_path(cli.config.as_deref()), opts)),
        _ => {}
    }
    // Only `serve` may run on development defaults; the other commands act on an installed
    // server, and must not quietly work on ./carrier-data when its configuration is elsewhere.
    let located = match cli.command {
        Command::Serve => carrier_config::locate(cli.config.as_deref()),
        _ => carrier_config::locate_file(cli.config.as_deref()),
    };
    let cfg = match located {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("carrier: {e}");
            return ExitCode::from(sysexits::CONFIG);
        }
    };
    if let Command::Queue { action } = cli.command {
        return match queue::run(&cfg, action) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("carrier: {}", f.text);
                ExitCode::from(f.code)
            }
        };
    }
    let result = match cli.command {
        Command::Serve => serve(cfg, cli.log_format),
        Command::User { action } => users::run(&cfg, action),
        Command::Status => return status::run(&cfg),
        Command::DnsRecords => records::print(&cfg),
        Command::Dkim { action } => dkim::run(&cfg, action),
        Command::TlsReports => tls_reports::run(&cfg),
        Command::Sendmail { .. } | Command::Queue { .. } | Command::Check(_) | Command::Init(_) => {
            unreachable!("handled above")
        }
    };
    finish(result)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carrier: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cfg: carrier_config::Config, log_format: Option<carrier_config::LogFormat>) -> Result<(), String> {
    logging::init(&cfg.log, log_format);
    if cfg.source.is_none() {
        eprintln!(
            "carrier: no configuration file found; running on development defaults (data in {})",
            cfg.data_dir.display()
        );
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| format!("cannot create {}: {e}", cfg.data_dir.display()))?;
        daemon::first_run_account(&cfg)?;
    }
    daemon::return_large_frees_to_the_system();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(daemon::serve(cfg))
}
