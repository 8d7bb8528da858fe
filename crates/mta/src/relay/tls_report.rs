//! SMTP TLS reporting (RFC 8460): the relay agent records how each session with a receiving
//! domain's MX host went (TLS or not, and why not), one line per session in
//! `data_dir/tls-rpt/<YYYY-MM-DD>`; once a UTC day is over, every domain that publishes
//! `_smtp._tls.<domain>` with a `mailto:` address gets that day's aggregate report (4.4),
//! gzipped JSON in a `multipart/report; report-type="tlsrpt"` message (5.3), which goes out
//! through the intake like any mail of ours (so it is DKIM-signed).

use super::mta_sts::{Mode, Policy};
use crate::dns::{self, Resolver};
use crate::intake::{Intake, Message, Origin, Unknown};
use base64::Engine;
use carrier_config::Config;
use carrier_tls::dane::Tlsa;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;
use tracing::{info, warn};

/// How one session with an MX host went, in RFC 8460 4.3's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Result {
    /// TLS was negotiated (and verified, under an enforced policy).
    Success,
    /// The host offered no STARTTLS (4.3.1).
    StartTlsNotSupported,
    /// The certificate does not name the host (4.3.2).
    CertificateHostMismatch,
    CertificateExpired,
    CertificateNotTrusted,
    /// Any other failure to negotiate or validate (4.3.2).
    ValidationFailure,
    /// No MX host is one the MTA-STS policy names (4.3.4, `sts-policy-invalid` is for the
    /// policy itself; a host outside it is a validation failure of that host).
    MxNotInPolicy,
}

impl Result {
    fn word(self) -> &'static str {
        match self {
            Result::Success => "success",
            Result::StartTlsNotSupported => "starttls-not-supported",
            Result::CertificateHostMismatch => "certificate-host-mismatch",
            Result::CertificateExpired => "certificate-expired",
            Result::CertificateNotTrusted => "certificate-not-trusted",
            Result::ValidationFailure | Result::MxNotInPolicy => "validation-failure",
        }
    }

    /// The failure a rustls handshake error stands for.
    pub fn of_tls_error(e: &std::io::Error) -> Result {
        use rustls::CertificateError as C;
        match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
                Result::CertificateHostMismatch
            }
            Some(rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. })) => {
                Result::CertificateExpired
            }
            Some(rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => {
                Result::CertificateNotTrusted
            }
            _ => Result::ValidationFailure,
        }
    }
}

/// One session, as recorded.
pub struct Session<'a> {
    /// The recipient domain (the policy domain).
    pub domain: &'a str,
    /// Its MTA-STS policy in force, if any.
    pub policy: Option<&'a Policy>,
    /// The host's TLSA records, when DANE applied (it then takes the place of MTA-STS).
    pub tlsa: Option<&'a [Tlsa]>,
    pub result: Result,
    /// The MX host and address the session was with (none when no host was eligible).
    pub mx: Option<(&'a str, IpAddr)>,
}

/// Appends sessions to the day's file.
pub struct Recorder {
    dir: PathBuf,
    /// Serialises appends, so lines never interleave.
    lock: Mutex<()>,
}

impl Recorder {
    pub fn new(data_dir: &Path) -> Recorder {
        Recorder { dir: dir(data_dir), lock: Mutex::new(()) }
    }

    /// Records one session; a statistics file, so it is not fsynced, and a failure to write
    /// it only costs a report line.
    pub fn record(&self, s: &Session<'_>) {
        // RFC 8460 4.4: a TLSA policy is reported as its records.
        let (policy_type, policy) = match (s.tlsa, s.policy) {
            (Some(records), _) => ("tlsa", records.iter().map(ToString::to_string).collect::<Vec<_>>().join("|")),
            (None, Some(p)) => ("sts", policy_lines(p).join("|")),
            (None, None) => ("no-policy-found", String::new()),
        };
        let (mx, ip) = s.mx.map_or((String::new(), String::new()), |(h, ip)| (h.to_string(), ip.to_string()));
        let line = format!("{}\t{policy_type}\t{policy}\t{}\t{mx}\t{ip}\n", s.domain, s.result.word());
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.dir.join(day(SystemTime::now()));
        let written = fs::create_dir_all(&self.dir)
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&path))
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            warn!("TLS report: cannot record a session in {}: {e}", path.display());
        }
    }
}

/// `data_dir/tls-rpt`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls-rpt")
}

/// The UTC day of a moment, `YYYY-MM-DD`: the name of its file.
pub fn day(t: SystemTime) -> String {
    let (y, m, d) = carrier_syntax::date::utc_date(t);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 8460 4.4: an STS policy is reported as its lines.
fn policy_lines(p: &Policy) -> Vec<String> {
    let mode = match p.mode {
        Mode::Enforce => "enforce",
        Mode::Testing => "testing",
        Mode::None => "none",
    };
    let mut lines = vec!["version: STSv1".to_string(), format!("mode: {mode}")];
    lines.extend(p.mx.iter().map(|mx| format!("mx: {mx}")));
    lines.push(format!("max_age: {}", p.max_age));
    lines
}

/// One report to send: its message and its recipients.
pub struct Report {
    pub domain: String,
    pub recipients: Vec<String>,
    pub message: Vec<u8>,
}

/// The sessions of one policy of one domain.
#[derive(Default)]
struct Tally {
    successes: u64,
    /// (result-type, mx host, address) to count.
    failures: BTreeMap<(String, String, String), u64>,
}

/// The reports for the day in `file` (named `YYYY-MM-DD`), one per domain that asks for
/// them by mail (RFC 8460 3: `_smtp._tls` TXT, `v=TLSRPTv1; rua=mailto:...`).
pub async fn reports(cfg: &Config, resolver: &Resolver, file: &Path) -> std::io::Result<Vec<Report>> {
    let date = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let text = fs::read_to_string(file)?;
    let mut by_domain: BTreeMap<String, BTreeMap<(String, String), Tally>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [domain, policy_type, policy, result, mx, ip] = f[..] else { continue };
        let tally = by_domain.entry(domain.into()).or_default().entry((policy_type.into(), policy.into())).or_default();
        match result {
            "success" => tally.successes += 1,
            failure => *tally.failures.entry((failure.into(), mx.into(), ip.into())).or_default() += 1,
        }
    }
    let mut out = Vec::new();
    for (domain, policies) in by_domain {
        let recipients = match dns::txt(resolver, &format!("_smtp._tls.{domain}")).await {
            Ok(records) => carrier_mailauth::tls_report_addresses(&records),
            Err(_) => continue,
        };
        if recipients.is_empty() {
            continue;
        }
        let json = report_json(cfg, &domain, &date, &policies);
        out.push(Report { message: message(cfg, &domain, &date, &json, &recipients), domain, recipients });
    }
    Ok(out)
}

/// The JSON report of RFC 8460 4.4.
fn report_json(cfg: &Config, domain: &str, date: &str, policies: &BTreeMap<(String, String), Tally>) -> String {
    let policies: Vec<serde_json::Value> = policies
        .iter()
        .map(|((policy_type, policy), tally)| {
            let lines: Vec<&str> = policy.split('|').filter(|l| !l.is_empty()).collect();
            let mx: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("mx: ")).collect();
            let failures: Vec<serde_json::Value> = tally
                .failures
                .iter()
                .map(|((result, host, ip), count)| {
                    json!({"result-type": result, "receiving-mx-hostname": host, "receiving-ip": ip, "failed-session-count": count})
                })
                .collect();
            let mut policy = json!({"policy-type": policy_type, "policy-domain": domain});
            if policy_type != "no-policy-found" {
                policy["policy-string"] = json!(lines);
            }
            if policy_type == "sts" {
                policy["mx-host"] = json!(mx);
            }
            json!({
                "policy": policy,
                "summary": {
                    "total-successful-session-count": tally.successes,
                    "total-failure-session-count": tally.failures.values().sum::<u64>(),
                },
                "failure-details": failures,
            })
        })
        .collect();
    let report = json!({
        "organization-name": cfg.hostname,
        "date-range": {"start-datetime": format!("{date}T00:00:00Z"), "end-datetime": format!("{date}T23:59:59Z")},
        "contact-info": format!("postmaster@{}", cfg.hostname),
        "report-id": report_id(cfg, domain, date),
        "policies": policies,
    });
    report.to_string()
}

fn report_id(cfg: &Config, domain: &str, date: &str) -> String {
    format!("{date}.{domain}@{}", cfg.hostname)
}

/// RFC 8460 5.3: the report as a gzipped attachment of a multipart/report message.
fn message(cfg: &Config, domain: &str, date: &str, json: &str, recipients: &[String]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let _ = gz.write_all(json.as_bytes());
    let zipped = gz.finish().unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(zipped);
    let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let submitter = &cfg.hostname;
    let id = report_id(cfg, domain, date);
    let boundary = format!("tlsrpt-{}", carrier_spool::QueueId::generate());
    let (start, end) = day_bounds(date);
    let now = carrier_smtp::trace::rfc5322_date(SystemTime::now());
    format!(
        "From: TLS reports <postmaster@{submitter}>\r\nTo: {to}\r\nDate: {now}\r\n\
         Subject: Report Domain: {domain} Submitter: {submitter} Report-ID: <{id}>\r\n\
         Message-ID: <{id}>\r\nTLS-Report-Domain: {domain}\r\nTLS-Report-Submitter: {submitter}\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is the aggregate TLS report (RFC 8460) of {submitter} for mail to {domain} on {date}.\r\n\r\n\
         --{boundary}\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"{submitter}!{domain}!{start}!{end}.json.gz\"\r\n\r\n\
         {body}\r\n--{boundary}--\r\n",
        to = recipients.join(", "),
        body = lines.join("\r\n"),
    )
    .into_bytes()
}

/// The day's first and last second, as Unix times (RFC 8460 5.3's file name).
fn day_bounds(date: &str) -> (u64, u64) {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().unwrap_or(1));
    let (y, m, d) = (parts.next().unwrap_or(1970), parts.next().unwrap_or(1), parts.next().unwrap_or(1));
    let start = carrier_syntax::date::days_from_civil(i64::from(y), m, d).max(0) as u64 * 86_400;
    (start, start + 86_399)
}

/// Queues the reports of the days that are over (and of today so far, when `today`), then
/// removes their files; returns how many reports were queued.
pub async fn send(intake: &Intake, cfg: &Config, resolver: &Resolver, today: bool) -> std::io::Result<usize> {
    let now = SystemTime::now();
    let mut files = finished_days(&cfg.data_dir, now);
    let current = dir(&cfg.data_dir).join(day(now));
    if today && current.exists() {
        files.push(current);
    }
    let mut sent = 0;
    for file in files {
        for report in reports(cfg, resolver, &file).await? {
            let message = Message {
                // A report is never bounced back to us (RFC 8460 5.3 leaves the sender to the
                // reporter; the null sender keeps a broken address from looping).
                sender: String::new(),
                recipients: report.recipients.clone(),
                content: report.message,
                origin: Origin::Notification,
                body_8bit: false,
                smtputf8: false,
            };
            match intake.accept(message, Unknown::Fail).await {
                Ok(accepted) => {
                    info!("{}: TLS report for {} to {}", accepted.id, report.domain, report.recipients.join(", "));
                    sent += 1;
                }
                Err(r) => warn!("TLS report for {} not queued: {}", report.domain, r.text()),
            }
        }
        fs::remove_file(&file)?;
    }
    Ok(sent)
}

/// Sends the reports of each day once it is over, checking every hour.
pub async fn run_daily(intake: Intake, cfg: Config, resolver: Resolver) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        if let Err(e) = send(&intake, &cfg, &resolver, false).await {
            warn!("TLS reports: {e}");
        }
    }
}

/// The files of days before today, ready to be reported.
pub fn finished_days(data_dir: &Path, now: SystemTime) -> Vec<PathBuf> {
    let today = day(now);
    let Ok(entries) = fs::read_dir(dir(data_dir)) else { return Vec::new() };
    let mut days: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.len() == 10 && n < today.as_str()))
        .collect();
    days.sort();
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn days_and_their_bounds() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_428_800 + 3600);
        assert_eq!(day(t), "2026-12-05");
        assert_eq!(day_bounds("2026-12-05"), (1_796_428_800, 1_796_428_800 + 86_399));
    }

    #[test]
    fn the_report_follows_rfc_8460_4_4() {
        let mut cfg = Config::development();
        cfg.hostname = "mx.example.com".into();
        let policy = Policy {
            id: "1".into(),
            mode: Mode::Enforce,
            mx: vec!["mx.final.test".into()],
            max_age: 86400,
            fetched: 0,
        };
        let mut policies = BTreeMap::new();
        let mut tally = Tally { successes: 3, ..Tally::default() };
        tally.failures.insert(("certificate-expired".into(), "mx.final.test".into(), "192.0.2.5".into()), 2);
        policies.insert(("sts".to_string(), policy_lines(&policy).join("|")), tally);
        let json: serde_json::Value =
            serde_json::from_str(&report_json(&cfg, "final.test", "2026-12-05", &policies)).unwrap();
        assert_eq!(json["date-range"]["start-datetime"], "2026-12-05T00:00:00Z");
        let p = &json["policies"][0];
        assert_eq!(p["policy"]["policy-type"], "sts");
        assert_eq!(p["policy"]["policy-string"][1], "mode: enforce");
        assert_eq!(p["policy"]["mx-host"][0], "mx.final.test");
        assert_eq!(p["summary"]["total-successful-session-count"], 3);
        assert_eq!(p["summary"]["total-failure-session-count"], 2);
        assert_eq!(p["failure-details"][0]["result-type"], "certificate-expired");
    }
}
