//! The comparison run: starts every server, runs each load on both sides alternately (carrier
//! first in odd repetitions, the peer first in even ones, so drift in the machine's load hits
//! both alike), and prints the table.

use crate::loads::{self, IMAP_PHASES};
use crate::mem::Sampler;
use crate::peers::{Carrier, Dovecot, Peer, Postfix, Server, Sink};
use crate::report::{Better, Row, Target, markdown};
use crate::{Options, client::fail};
use std::io;
use std::process::Command;
use std::time::Duration;

const NOT_YET: &str = "not yet available";

pub fn run(o: &Options) -> Result<(), String> {
    for tool in ["smtp-source", "smtp-sink", "/usr/sbin/postfix", "dovecot"] {
        if Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map_or(true, |o| !o.status.success())
        {
            return Err(format!("{tool} is missing; run bench/compare.sh, which installs postfix and dovecot"));
        }
    }
    if !o.carrier.is_file() {
        return Err(format!("{} not found; build it with `cargo build --release -p carrier`", o.carrier.display()));
    }
    std::fs::create_dir_all(&o.workdir).map_err(|e| format!("{}: {e}", o.workdir.display()))?;
    let result = measure(o).map_err(|e| format!("{e} (logs in {})", o.workdir.display()));
    if result.is_ok() && !o.keep {
        let _ = std::fs::remove_dir_all(&o.workdir);
    }
    let text = result?;
    println!("{text}");
    if let Some(out) = &o.out {
        std::fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn measure(o: &Options) -> io::Result<String> {
    let header = describe(o);
    eprintln!("{header}");
    let sink = Sink::start()?;
    let carrier = Carrier::start(&o.carrier, &o.workdir)?;
    let postfix = Postfix::start(&o.workdir)?;
    let dovecot = Dovecot::start(&o.workdir, &o.workdir.join("postfix/mail"), &carrier.hashes)?;
    let peer = Peer { postfix, dovecot };
    let sides: [&dyn Server; 2] = [&carrier, &peer];
    for s in sides {
        loads::prepare_reader(s, o.messages, o.size)?;
    }
    peer.own_mail()?;
    // First logins (untimed) build each server's index and mark the messages seen, so the
    // timed runs all see the same steady state.
    for s in sides {
        loads::pop3(s.pop3().expect("both serve POP3"), o.messages)?;
        if let Some(imap) = s.imap() {
            loads::imap(imap, o.messages)?;
        }
    }
    let sampler = Sampler::start(
        vec![
            ("carrier".into(), carrier.pid()),
            ("Postfix".into(), peer.postfix.pid()),
            ("Dovecot".into(), peer.dovecot_pid()),
        ],
        Duration::from_millis(500),
    );
    let checking = match o.wants("checks") {
        true => Some(Carrier::start_checking(&o.carrier, &o.workdir, checks_dns())?),
        false => None,
    };
    let mut rows = Rows::new(o, carrier.imap().is_some());
    for rep in 0..o.reps {
        let order: [&dyn Server; 2] = if rep % 2 == 0 { [&carrier, &peer] } else { [&peer, &carrier] };
        for s in order {
            rows.one_of_each(o, s, &sink, rep, checking.as_ref())?;
        }
    }
    let peaks = sampler.finish();
    let mut table = rows.list;
    for peer_name in ["Postfix", "Dovecot"] {
        let mut row = Row::new(
            &format!("peak memory during the loads (PSS; vs {peer_name})"),
            "MiB",
            Better::Lower,
            leak(peer_name),
        );
        row.carrier.push(peaks.get("carrier").map_or(0.0, |u| u.pss_kib as f64 / 1024.0));
        row.peer.push(peaks.get(peer_name).map_or(0.0, |u| u.pss_kib as f64 / 1024.0));
        table.push(row);
        let mut row = Row::new(
            &format!("peak memory during the loads (RSS summed; vs {peer_name})"),
            "MiB",
            Better::Lower,
            leak(peer_name),
        );
        row.carrier.push(peaks.get("carrier").map_or(0.0, |u| u.rss_kib as f64 / 1024.0));
        row.peer.push(peaks.get(peer_name).map_or(0.0, |u| u.rss_kib as f64 / 1024.0));
        table.push(row);
    }
    if o.wants("memory") && o.connections > 0 {
        table.extend(memory(o, &carrier, &peer)?);
    }
    let mut text = header;
    text.push_str(&format!("load average after the run: {}\n\n", loadavg()));
    text.push_str(&markdown(&table));
    Ok(text)
}

/// The DNS answers the checks of the load's mail need: smtp-source's sender domain exists,
/// publishes SPF for loopback and a DMARC policy; everything else is NXDOMAIN (cached).
fn checks_dns() -> std::net::SocketAddr {
    use crate::dns::{Rec, serve};
    let domain = "client.bench.test";
    let mut records = std::collections::HashMap::new();
    records.insert(
        domain.to_string(),
        vec![Rec::A(std::net::Ipv4Addr::LOCALHOST), Rec::Txt("v=spf1 ip4:127.0.0.0/8 -all".into())],
    );
    records.insert(format!("_dmarc.{domain}"), vec![Rec::Txt("v=DMARC1; p=none".into())]);
    serve(records)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The rows filled by the repeated loads.
struct Rows {
    list: Vec<Row>,
    carrier_imap: bool,
}

const SMTP_ACCEPT: usize = 0;
const SMTP_STORED: usize = 1;
const LAT_P50: usize = 2;
const LAT_P99: usize = 3;
const LAT_MAX: usize = 4;
const RELAY: usize = 5;
const POP3: usize = 6;
const IMAP0: usize = 7;
const IDLE: usize = IMAP0 + IMAP_PHASES.len();
const CHECKS: usize = IDLE + 1;

impl Rows {
    fn new(o: &Options, carrier_imap: bool) -> Rows {
        let n = o.messages;
        let rate = o.rate;
        let mut list = vec![
            Row::new(
                &format!("SMTP accepted ({n} × {} B, {} sessions)", o.size, o.sessions),
                "msg/s",
                Better::Higher,
                "Postfix",
            ),
            Row::new(&format!("SMTP → Maildir, all {n} in the mailbox"), "msg/s", Better::Higher, "Postfix")
                .target(Target::Ratio(2.0)),
            Row::new(&format!("accept latency p50 at {rate} msg/s"), "ms", Better::Lower, "Postfix"),
            Row::new(&format!("accept latency p99 at {rate} msg/s"), "ms", Better::Lower, "Postfix")
                .target(Target::Below(20.0)),
            Row::new(&format!("accept latency max at {rate} msg/s"), "ms", Better::Lower, "Postfix"),
            Row::new(&format!("relay {n} to smtp-sink"), "msg/s", Better::Higher, "Postfix"),
            Row::new(&format!("POP3 login + RETR all {n}"), "s", Better::Lower, "Dovecot").target(Target::Ratio(1.0)),
        ];
        for phase in IMAP_PHASES {
            let mut row = Row::new(&format!("IMAP {phase} ({n} messages)"), "s", Better::Lower, "Dovecot");
            if phase.starts_with("FETCH") {
                row = row.target(Target::Ratio(1.0));
            }
            if !carrier_imap {
                row.carrier_missing = Some(NOT_YET);
            }
            list.push(row);
        }
        let mut idle = Row::new(
            &format!("IMAP IDLE: {} sessions notified of a delivery", o.idlers),
            "ms",
            Better::Lower,
            "Dovecot",
        );
        if !carrier_imap {
            idle.carrier_missing = Some(NOT_YET);
        }
        list.push(idle);
        list.push(
            Row::new(
                &format!(
                    "SMTP accepted, carrier checking every message (SPF, DKIM, DMARC...), Postfix not ({n} × {} B)",
                    o.size
                ),
                "msg/s",
                Better::Higher,
                "Postfix",
            )
            .target(Target::Ratio(1.8)),
        );
        Rows { list, carrier_imap }
    }

    fn push(&mut self, row: usize, s: &dyn Server, value: f64) {
        let r = &mut self.list[row];
        eprintln!("  {:<16} {:<55} {value:>10.3} {}", s.name(), r.name, r.unit);
        if s.name() == "carrier" { r.carrier.push(value) } else { r.peer.push(value) }
    }

    /// Every wanted load once on `s`; `checking` is the carrier that checks incoming mail.
    fn one_of_each(
        &mut self,
        o: &Options,
        s: &dyn Server,
        sink: &Sink,
        rep: usize,
        checking: Option<&Carrier>,
    ) -> io::Result<()> {
        eprintln!("repetition {} on {}:", rep + 1, s.name());
        let n = o.messages as f64;
        if o.wants("smtp") {
            let (accepted, stored) = loads::smtp_maildir(o, s)?;
            self.push(SMTP_ACCEPT, s, n / accepted);
            self.push(SMTP_STORED, s, n / stored);
        }
        if o.wants("latency") {
            let (p50, p99, max) = loads::latency(o, s)?;
            self.push(LAT_P50, s, p50);
            self.push(LAT_P99, s, p99);
            self.push(LAT_MAX, s, max);
        }
        if o.wants("relay") {
            let secs = loads::relay(o, s, sink)?;
            self.push(RELAY, s, n / secs);
        }
        if o.wants("pop3") {
            let secs = loads::pop3(s.pop3().ok_or_else(|| fail("no POP3"))?, o.messages)?;
            self.push(POP3, s, secs);
        }
        let imap_here = s.name() != "carrier" || self.carrier_imap;
        if o.wants("imap") && imap_here {
            let times = loads::imap(s.imap().ok_or_else(|| fail("no IMAP"))?, o.messages)?;
            for (i, t) in times.into_iter().enumerate() {
                self.push(IMAP0 + i, s, t);
            }
        }
        if o.wants("idle") && imap_here {
            let ms = loads::idle(o, s)?;
            self.push(IDLE, s, ms);
        }
        if o.wants("checks") {
            match (s.name(), checking) {
                ("carrier", Some(c)) => {
                    let (accepted, _) = loads::smtp_maildir(o, c)?;
                    self.push(CHECKS, c, n / accepted);
                }
                ("carrier", None) => {}
                // Postfix without checks: its plain SMTP number of this repetition.
                _ => {
                    let rate = match self.list[SMTP_ACCEPT].peer.last() {
                        Some(&rate) if o.wants("smtp") => rate,
                        _ => n / loads::smtp_maildir(o, s)?.0,
                    };
                    self.push(CHECKS, s, rate);
                }
            }
        }
        Ok(())
    }
}

/// Memory with no client and with `connections` open, SMTP (vs Postfix) and POP3 (vs Dovecot).
fn memory(o: &Options, carrier: &Carrier, peer: &Peer) -> io::Result<Vec<Row>> {
    let n = o.connections;
    let mut rows = Vec::new();
    let cases = [
        ("SMTP", "Postfix", carrier.smtp(), peer.smtp(), peer.postfix.pid()),
        ("POP3", "Dovecot", carrier.pop3(), peer.pop3(), peer.dovecot_pid()),
    ];
    for (proto, peer_name, mine, theirs, peer_pid) in cases {
        let mut idle =
            Row::new(&format!("memory idle, no clients (PSS; vs {peer_name})"), "MiB", Better::Lower, peer_name);
        let mut held =
            Row::new(&format!("memory with {n} open {proto} connections (PSS)"), "MiB", Better::Lower, peer_name);
        let mut held_rss = Row::new(
            &format!("memory with {n} open {proto} connections (RSS summed)"),
            "MiB",
            Better::Lower,
            peer_name,
        );
        for (addr, pid, is_carrier) in [(mine, carrier.pid(), true), (theirs, peer_pid, false)] {
            let (before, with) = loads::held_connections(n, addr.ok_or_else(|| fail("no address"))?, pid)?;
            eprintln!(
                "  {proto} {n} connections, {}: {before:?} -> {with:?}",
                if is_carrier { "carrier" } else { peer_name }
            );
            let mib = |k: u64| k as f64 / 1024.0;
            for (row, v) in
                [(&mut idle, mib(before.pss_kib)), (&mut held, mib(with.pss_kib)), (&mut held_rss, mib(with.rss_kib))]
            {
                if is_carrier { row.carrier.push(v) } else { row.peer.push(v) }
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        rows.extend([idle, held, held_rss]);
    }
    Ok(rows)
}

/// The machine, versions, date and parameters, as the report's header.
fn describe(o: &Options) -> String {
    let sh = |cmd: &str| {
        Command::new("sh")
            .args(["-c", cmd])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let carrier_version = sh(&format!("{} --version 2>/dev/null || echo unknown", o.carrier.display()));
    let commit = sh("git rev-parse --short HEAD 2>/dev/null");
    format!(
        "date: {}\nmachine: {} ({} cores), {} MiB RAM, kernel {}, {}\nfile system of the work directory: {}\n\
         carrier: {carrier_version} (commit {commit}, release build)\nPostfix: {}\nDovecot: {}\n\
         load average before the run: {}\nparameters: {} repetitions; {} messages of {} B from {} smtp-source sessions; \
         latency at {} msg/s for {} s; {} IDLE sessions; {} held connections\n",
        sh("date -u '+%Y-%m-%d %H:%M UTC'"),
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        sh("nproc"),
        sh("free -m | awk '/Mem:/ {print $2}'"),
        sh("uname -r"),
        sh(". /etc/os-release && echo $PRETTY_NAME"),
        sh(&format!("df -T {} | awk 'NR==2 {{print $2\" on \"$1}}'", o.workdir.display())),
        sh("postconf -d mail_version 2>/dev/null | cut -d' ' -f3"),
        sh("dovecot --version"),
        loadavg(),
        o.reps,
        o.messages,
        o.size,
        o.sessions,
        o.rate,
        o.latency_secs,
        o.idlers,
        o.connections,
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
