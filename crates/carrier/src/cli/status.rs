//! `carrier status`: asks the running daemon for its report over the control socket
//! (STATUS) and renders it for people.

use carrier_config::Config;
use carrier_mta::handoff::control::{self, Answer};
use carrier_smtp::trace::rfc5322_date;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Exit status when the daemon is not running (LSB's "program is not running", as systemctl).
const NOT_RUNNING: u8 = 3;

pub fn run(cfg: &Config) -> ExitCode {
    match control::request(&cfg.data_dir, "STATUS", b"", Duration::from_secs(30)) {
        Ok(Answer::Body(body)) => {
            if let Some(file) = &cfg.source {
                println!("configuration: {}", file.display());
            }
            print!("{}", render(&String::from_utf8_lossy(&body), SystemTime::now()));
            ExitCode::SUCCESS
        }
        Ok(Answer::Err(code, text)) => {
            eprintln!("carrier: {text}");
            ExitCode::from(code)
        }
        Ok(other) => {
            eprintln!("carrier: the daemon gave an unexpected answer to STATUS: {other:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "carrier: the daemon is not running (no answer on {}: {e}); start it with `systemctl start carrier` or `carrier serve`",
                control::socket_path(&cfg.data_dir).display()
            );
            ExitCode::from(NOT_RUNNING)
        }
    }
}

/// The report in words.
fn render(report: &str, now: SystemTime) -> String {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for line in report.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        fields.push((key, value));
    }
    let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map_or("?", |(_, v)| *v);
    let time =
        |v: &str| v.parse::<u64>().map(|s| rfc5322_date(UNIX_EPOCH + Duration::from_secs(s))).unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "carrier {} on {}: running (pid {}) since {}",
        get("version"),
        get("hostname"),
        get("pid"),
        time(get("started"))
    );
    let _ = writeln!(out, "listening:");
    for (_, v) in fields.iter().filter(|(k, _)| *k == "listener") {
        let (service, addr) = v.split_once(' ').unwrap_or((v, ""));
        let _ = writeln!(out, "  {service:<12} {addr}");
    }
    let queue = |state: &str| {
        fields.iter().find(|(k, v)| *k == "queue" && v.starts_with(state)).map_or("?", |(_, v)| &v[state.len() + 1..])
    };
    match fields.iter().find(|(k, _)| *k == "queue-error") {
        Some((_, e)) => {
            let _ = writeln!(out, "queue: cannot be read: {e}");
        }
        None => {
            let _ = writeln!(
                out,
                "queue: {} messages; recipients {} pending, {} deferred",
                queue("messages"),
                queue("pending"),
                queue("deferred")
            );
        }
    }
    // Up for less than an hour, "the last hour" would claim more than was counted.
    let started = UNIX_EPOCH + Duration::from_secs(get("started").parse().unwrap_or(0));
    let up = now.duration_since(started).unwrap_or_default();
    match up < Duration::from_secs(3600) {
        true => {
            let minutes = up.as_secs() / 60;
            let _ = writeln!(out, "delivered since the start ({minutes} min ago): {}", get("delivered_last_hour"));
        }
        false => {
            let _ = writeln!(out, "delivered in the last hour: {}", get("delivered_last_hour"));
        }
    }
    let signing: Vec<String> = fields
        .iter()
        .filter(|(k, _)| *k == "dkim")
        .map(|(_, v)| {
            let parts: Vec<&str> = v.split(' ').collect();
            format!(
                "{} ({} {})",
                parts.first().unwrap_or(&"?"),
                parts.get(1).unwrap_or(&"?"),
                parts.get(2).unwrap_or(&"?")
            )
        })
        .collect();
    if !signing.is_empty() {
        let _ = writeln!(out, "DKIM signing: {}", signing.join(", "));
    }
    let milters: Vec<&str> = fields.iter().filter(|(k, _)| *k == "milter").map(|(_, v)| *v).collect();
    if !milters.is_empty() {
        let _ = writeln!(out, "content filters: {}", milters.join(", "));
    }
    match fields.iter().find(|(k, _)| *k == "certificate") {
        Some((_, v)) => {
            let (expiry, path) = v.split_once(' ').unwrap_or((v, ""));
            let secs = expiry.parse::<u64>().unwrap_or(0);
            let left = (UNIX_EPOCH + Duration::from_secs(secs)).duration_since(now).map_or(0, |d| d.as_secs() / 86_400);
            let _ = writeln!(out, "TLS certificate: {path}, expires {} ({left} days left)", time(expiry));
        }
        None => {
            let _ = writeln!(out, "TLS certificate: {}", get("certificate-error"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_report_for_people() {
        let report = "version 0.1.0\nhostname mx.example.com\npid 42\nstarted 0\nlistener SMTP 127.0.0.1:25\n\
                      listener submission 127.0.0.1:587\nqueue messages 3\nqueue pending 2\nqueue deferred 1\n\
                      delivered_last_hour 7\ndkim example.com 20261205e ed25519\ndkim example.com 20261205r rsa\n\
                      milter inet:127.0.0.1:8891\ncertificate 864000 /var/lib/carrier/tls/cert.pem\n";
        let two_hours = UNIX_EPOCH + Duration::from_secs(7200);
        let text = render(report, two_hours);
        assert_eq!(
            text,
            "carrier 0.1.0 on mx.example.com: running (pid 42) since Thu, 1 Jan 1970 00:00:00 +0000\n\
             listening:\n  SMTP         127.0.0.1:25\n  submission   127.0.0.1:587\n\
             queue: 3 messages; recipients 2 pending, 1 deferred\ndelivered in the last hour: 7\n\
             DKIM signing: example.com (20261205e ed25519), example.com (20261205r rsa)\n\
             content filters: inet:127.0.0.1:8891\n\
             TLS certificate: /var/lib/carrier/tls/cert.pem, expires Sun, 11 Jan 1970 00:00:00 +0000 (9 days left)\n"
        );
    }

    /// Issue 15.12: up for 20 minutes, "in the last hour" claimed more than was counted.
    #[test]
    fn a_daemon_up_for_less_than_an_hour_says_since_the_start() {
        let report = "started 0\ndelivered_last_hour 4\n";
        let text = render(report, UNIX_EPOCH + Duration::from_secs(20 * 60));
        assert!(text.contains("delivered since the start (20 min ago): 4\n"), "{text}");
    }
}
