//! carrier-bench: runs the same loads against carrier and against Debian's Postfix (SMTP) and
//! Dovecot (POP3, IMAP), alternating between them, and prints medians and ratios.
//!
//! `bench/compare.sh` builds carrier and this program and runs `carrier-bench compare`; see
//! bench/README.md for what each load does exactly.

mod client;
mod compare;
mod dns;
mod loads;
mod mailgen;
mod mem;
mod peers;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The carrier binary (a release build).
    pub carrier: PathBuf,
    /// Repetitions of every load on each side.
    pub reps: usize,
    /// Messages per SMTP run, and in the POP3/IMAP mailbox.
    pub messages: usize,
    /// Concurrent smtp-source sessions.
    pub sessions: usize,
    /// Message payload in octets (smtp-source -l).
    pub size: usize,
    /// Messages per second for the latency load.
    pub rate: usize,
    /// Seconds the latency load runs.
    pub latency_secs: u64,
    /// Concurrent IDLE sessions.
    pub idlers: usize,
    /// Connections held open for the memory measurement.
    pub connections: usize,
    /// Where the servers' data goes (created, and removed at the end unless --keep).
    pub workdir: PathBuf,
    /// Keep the work directory (logs, configs) after the run.
    pub keep: bool,
    /// The Markdown report is also written here.
    pub out: Option<PathBuf>,
    /// Only these loads (smtp, latency, relay, pop3, imap, idle, memory); all when empty.
    pub only: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            carrier: PathBuf::from("target/release/carrier"),
            reps: 3,
            messages: 5000,
            sessions: 20,
            size: 1024,
            rate: 500,
            latency_secs: 10,
            idlers: 50,
            connections: 1000,
            workdir: std::env::temp_dir().join(format!("carrier-bench-{}", std::process::id())),
            keep: false,
            out: None,
            only: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--keep" {
                o.keep = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = || value.parse::<usize>().map_err(|_| format!("{flag}: `{value}` is not a number"));
            match flag.as_str() {
                "--carrier" => o.carrier = PathBuf::from(value),
                "--reps" => o.reps = num()?.max(1),
                "--messages" => o.messages = num()?.max(1),
                "--sessions" => o.sessions = num()?.max(1),
                "--size" => o.size = num()?,
                "--rate" => o.rate = num()?.max(1),
                "--latency-secs" => o.latency_secs = num()?.max(1) as u64,
                "--idlers" => o.idlers = num()?.max(1),
                "--connections" => o.connections = num()?,
                "--workdir" => o.workdir = PathBuf::from(value),
                "--out" => o.out = Some(PathBuf::from(value)),
                "--only" => o.only = value.split(',').map(str::to_string).collect(),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(o)
    }

    /// True when `load` is to be run.
    pub fn wants(&self, load: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|l| l == load)
    }
}

const USAGE: &str = "usage: carrier-bench compare [--carrier PATH] [--reps N] [--messages N] [--sessions N] \
[--size BYTES] [--rate MSGS_PER_SEC] [--latency-secs N] [--idlers N] [--connections N] [--workdir DIR] [--keep] \
[--out FILE.md] [--only smtp,latency,relay,pop3,imap,idle,checks,memory]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("compare") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let opts = match Options::parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("carrier-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match compare::run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carrier-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
