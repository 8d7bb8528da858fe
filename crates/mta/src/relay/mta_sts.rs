//! Outbound MTA-STS (RFC 8461): a receiving domain that publishes `_mta-sts.<domain>` TXT
//! and a policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` tells senders which MX
//! hosts are its own and that they must be reached over verified TLS. With `mode: enforce`,
//! carrier delivers only to MX hosts the policy names, only over STARTTLS with a certificate
//! valid for that name, and defers otherwise; `mode: testing` changes nothing yet (its
//! failures are for TLS reports, RFC 8460).
//!
//! Policies are cached in memory and in `data_dir/mta-sts/<domain>` until their `max_age`,
//! and fetched again when the TXT record's `id` changes (RFC 8461 5.1), so a DNS or HTTPS
//! outage, or an attacker stripping the TXT record, does not turn an enforced policy off.

use crate::dns::{self, Resolver};
use carrier_config::Config;
use rustls_pki_types::ServerName;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing::{info, warn};

/// RFC 8461 3.2: a policy body is at most 64 KiB.
const MAX_POLICY: usize = 64 * 1024;
/// Room for the response's status line and header fields.
const MAX_HEAD: usize = 16 * 1024;
/// RFC 8461 3.3 asks for a short timeout on the fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// RFC 8461 3.2: max_age is at most a year.
const MAX_AGE: u64 = 31_557_600;

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only the named MX hosts, only over verified TLS.
    Enforce,
    /// Deliver as usual; report failures (RFC 8460).
    Testing,
    /// The domain has withdrawn its policy.
    None,
}

/// A domain's policy (RFC 8461 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The TXT record's `id` it was fetched for.
    pub id: String,
    pub mode: Mode,
    /// MX patterns: `mx.example.com` or `*.example.com`.
    pub mx: Vec<String>,
    /// Seconds it may be cached.
    pub max_age: u64,
    /// When it was fetched (seconds since the epoch).
    pub fetched: u64,
}

impl Policy {
    /// Parses a policy body: `key: value` lines (LF or CRLF), `version: STSv1` first.
    pub fn parse(body: &str, id: &str, fetched: u64) -> Result<Policy, String> {
        let mut fields = body.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
        let pair = |line: &str| line.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()));
        if fields.next().and_then(pair) != Some(("version".into(), "STSv1".into())) {
            return Err("the policy does not start with `version: STSv1`".into());
        }
        let (mut mode, mut mx, mut max_age) = (None, Vec::new(), None);
        for line in fields {
            let Some((key, value)) = pair(line) else {
                return Err(format!("the policy line {line:?} is not `key: value`"));
            };
            match key.as_str() {
                "mode" => {
                    mode = Some(match value.as_str() {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(format!("unknown mode {other:?}")),
                    })
                }
                "mx" => mx.push(value.to_ascii_lowercase().trim_end_matches('.').to_string()),
                "max_age" => max_age = value.parse::<u64>().ok(),
                _ => {} // RFC 8461 3.2: unknown fields are ignored
            }
        }
        let mode = mode.ok_or("the policy has no `mode`")?;
        let max_age = max_age.ok_or("the policy has no valid `max_age`")?.min(MAX_AGE);
        if mx.is_empty() && mode != Mode::None {
            return Err("the policy names no `mx`".into());
        }
        Ok(Policy { id: id.to_string(), mode, mx, max_age, fetched })
    }

    /// RFC 8461 4.1: the MX host is named, or matches `*.` plus one more label.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(parent) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => *pattern == host,
        })
    }

    fn expired(&self, now: u64) -> bool {
        now >= self.fetched.saturating_add(self.max_age)
    }

    fn save_text(&self, body: &str) -> String {
        format!("carrier-mta-sts 1\nfetched {}\nid {}\n\n{body}", self.fetched, self.id)
    }

    fn from_saved(text: &str) -> Option<Policy> {
        let (head, body) = text.split_once("\n\n")?;
        let mut lines = head.lines();
        (lines.next()? == "carrier-mta-sts 1").then_some(())?;
        let fetched = lines.next()?.strip_prefix("fetched ")?.parse().ok()?;
        let id = lines.next()?.strip_prefix("id ")?;
        Policy::parse(body, id, fetched).ok()
    }
}

/// The `id` of the one `v=STSv1` record among a name's TXT records (RFC 8461 3.1: none, or
/// more than one, means no policy is announced).
fn record_id(records: &[String]) -> Option<String> {
    let sts: Vec<&String> = records.iter().filter(|r| r.starts_with("v=STSv1")).collect();
    let [record] = sts[..] else { return None };
    record.split(';').map(str::trim).find_map(|f| f.strip_prefix("id=")).map(str::to_string).filter(|id| !id.is_empty())
}

/// Policies and how to fetch them.
pub struct Sts {
    resolver: Resolver,
    /// Verifies the policy servers and the MX hosts of enforced policies.
    verifying: Result<Arc<rustls::ClientConfig>, String>,
    port: u16,
    dir: PathBuf,
    cache: Mutex<HashMap<String, Policy>>,
    /// One fetch per domain at a time: deliveries that start together share its result.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Sts {
    pub fn new(cfg: &Config, resolver: Resolver) -> Sts {
        let ca = cfg.delivery.ca_file.clone().unwrap_or_else(|| PathBuf::from(carrier_tls::SYSTEM_CA_FILE));
        let verifying =
            carrier_tls::verifying_client_config(&ca, "`ca_file` under [delivery]").map_err(|e| e.to_string());
        if let Err(e) = &verifying {
            warn!("MTA-STS: {e}; mail to domains that enforce MTA-STS will wait in the queue");
        }
        Sts {
            resolver,
            verifying,
            port: cfg.delivery.mta_sts_port,
            dir: cfg.data_dir.join("mta-sts"),
            cache: Mutex::default(),
            fetching: Mutex::default(),
        }
    }

    /// The client configuration that verifies certificates.
    pub fn verifying(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.verifying.clone()
    }

    /// The policy to apply to mail for `domain` now; None when it has none in force.
    pub async fn policy(&self, domain: &str) -> Option<Policy> {
        let now = now();
        let cached = self.cached(domain).filter(|p| !p.expired(now));
        let id = match dns::txt(&self.resolver, &format!("_mta-sts.{domain}")).await {
            Ok(records) => record_id(&records),
            Err(dns::Failure::NotFound) => None,
            // RFC 8461 5.1: without an answer, a cached policy stays in force.
            Err(dns::Failure::Unreachable(_)) => return cached.filter(|p| p.mode != Mode::None),
        };
        let policy = match (id, cached) {
            // RFC 8461 3.1: a cached policy is used until it expires, even without the record.
            (None, cached) => cached,
            (Some(id), Some(cached)) if cached.id == id => Some(cached),
            (Some(id), cached) => self.refresh(domain, &id, now).await.or(cached),
        };
        policy.filter(|p| p.mode != Mode::None)
    }

    /// What `domain` publishes now, fetched afresh and kept nowhere (for `carrier check`):
    /// None without an `_mta-sts` record.
    pub async fn published(&self, domain: &str) -> Result<Option<Policy>, String> {
        let records = match dns::txt(&self.resolver, &format!("_mta-sts.{domain}")).await {
            Ok(records) => records,
            Err(dns::Failure::NotFound) => return Ok(None),
            Err(dns::Failure::Unreachable(e)) => return Err(format!("no answer for _mta-sts.{domain}: {e}")),
        };
        let Some(id) = record_id(&records) else { return Ok(None) };
        let body = self.fetch(domain).await?;
        Policy::parse(&body, &id, now()).map(Some)
    }

    /// Fetches the policy for `id`, unless a delivery that started first just did.
    async fn refresh(&self, domain: &str, id: &str, now: u64) -> Option<Policy> {
        let lock =
            self.fetching.lock().unwrap_or_else(|e| e.into_inner()).entry(domain.to_string()).or_default().clone();
        let _turn = lock.lock().await;
        if let Some(p) = self.cached(domain).filter(|p| p.id == id && !p.expired(now)) {
            return Some(p);
        }
        match self.fetch(domain).await.and_then(|body| self.store(domain, id, &body, now)) {
            Ok(policy) => {
                let mode = format!("{:?}", policy.mode).to_lowercase(); // RFC 8461 3.2 names: enforce, testing, none
                info!("MTA-STS: {domain} policy id {id}: mode {mode}, mx {}", policy.mx.join(", "));
                Some(policy)
            }
            Err(e) => {
                warn!("MTA-STS: cannot fetch the policy of {domain}: {e}");
                None
            }
        }
    }

    fn cached(&self, domain: &str) -> Option<Policy> {
        if let Some(p) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(domain) {
            return Some(p.clone());
        }
        let text = std::fs::read_to_string(self.path(domain)).ok()?;
        let policy = Policy::from_saved(&text)?;
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(domain.to_string(), policy.clone());
        Some(policy)
    }

    fn store(&self, domain: &str, id: &str, body: &str, now: u64) -> Result<Policy, String> {
        let policy = Policy::parse(body, id, now)?;
        // The file is a cache: losing it only means fetching again.
        let saved = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let tmp = self.path(domain).with_extension("tmp");
            std::fs::write(&tmp, policy.save_text(body))?;
            std::fs::rename(&tmp, self.path(domain))
        });
        if let Err(e) = saved {
            warn!("MTA-STS: cannot keep the policy of {domain} in {}: {e}", self.dir.display());
        }
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(domain.to_string(), policy.clone());
        Ok(policy)
    }

    fn path(&self, domain: &str) -> PathBuf {
        self.dir.join(domain.replace(['/', '\0'], "_"))
    }

    /// GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3).
    async fn fetch(&self, domain: &str) -> Result<String, String> {
        let host = format!("mta-sts.{domain}");
        let config = self.verifying.clone()?;
        let addrs = dns::addresses(&self.resolver, &host).await.map_err(|e| match e {
            dns::Failure::NotFound => format!("{host} does not exist in DNS"),
            dns::Failure::Unreachable(e) => format!("no DNS answer for {host}: {e}"),
        })?;
        let ip = *addrs.first().ok_or(format!("{host} has no address"))?;
        let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
        let get = async {
            let tcp = TcpStream::connect(SocketAddr::new(ip, self.port)).await.map_err(|e| e.to_string())?;
            let mut tls =
                tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| e.to_string())?;
            let request = format!(
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: carrier\r\nAccept: text/plain\r\n\
                 Connection: close\r\n\r\n"
            );
            tls.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
            read_limited(&mut tls, MAX_HEAD + MAX_POLICY).await
        };
        let response = timeout(FETCH_TIMEOUT, get).await.map_err(|_| "timed out".to_string())??;
        http_body(&response).map_err(|e| format!("https://{host}/.well-known/mta-sts.txt: {e}"))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads until the peer closes, at most `limit` octets. A close without TLS's close_notify
/// after a complete response is common and harmless here: the body's length is checked.
async fn read_limited(io: &mut (impl AsyncReadExt + Unpin), limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match io.read(&mut buf).await {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
        if out.len() > limit {
            return Err(format!("the response is larger than {limit} octets"));
        }
    }
}

/// The body of an HTTP/1.1 response that must be `200` with `Content-Type: text/plain`
/// (RFC 8461 3.3; redirects are not followed), sized by Content-Length or chunked
/// (RFC 9112 6, 7.1).
pub fn http_body(response: &[u8]) -> Result<String, String> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of the response header")?;
    let head = std::str::from_utf8(&response[..split]).map_err(|_| "the response header is not text")?;
    let mut body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with("HTTP/1.") || code != "200" {
        return Err(format!("the server answered {status:?}, not 200 (redirects are not followed)"));
    }
    let field = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
        })
    };
    if !field("Content-Type").is_some_and(|t| t.starts_with("text/plain")) {
        return Err("the policy is not served as text/plain".into());
    }
    let decoded;
    if field("Transfer-Encoding").is_some_and(|t| t.contains("chunked")) {
        decoded = dechunk(body)?;
        body = &decoded;
    } else if let Some(length) = field("Content-Length") {
        let length: usize = length.parse().map_err(|_| "a bad Content-Length")?;
        body = body.get(..length).ok_or("the response ended before its Content-Length")?;
    }
    if body.len() > MAX_POLICY {
        return Err(format!("the policy is larger than {MAX_POLICY} octets"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "the policy is not UTF-8".into())
}

/// RFC 9112 7.1: `size CRLF data CRLF` ... `0 CRLF CRLF`.
fn dechunk(mut input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = input.windows(2).position(|w| w == b"\r\n").ok_or("a chunk size line without its end")?;
        let line = std::str::from_utf8(&input[..end]).map_err(|_| "a bad chunk size")?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|_| "a bad chunk size")?;
        input = &input[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_POLICY || input.len() < size + 2 {
            return Err("a chunk larger than the response".into());
        }
        out.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
        if out.len() > MAX_POLICY {
            return Err(format!("the policy is larger than {MAX_POLICY} octets"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grammar_of_rfc_8461_3_2() {
        let body = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.NET\r\nmax_age: 86400\r\n\
                    future: ignored\r\n";
        let p = Policy::parse(body, "20160831085700Z", 1000).unwrap();
        assert_eq!((p.mode, p.max_age, p.mx.len()), (Mode::Enforce, 86_400, 2));
        assert!(p.matches("mail.example.com") && p.matches("MAIL.example.com."));
        assert!(p.matches("mx1.example.net") && !p.matches("a.b.example.net") && !p.matches("example.net"));
        assert!(!p.matches("mail.example.com.evil.example"));
        assert!(!p.expired(1000 + 86_399) && p.expired(1000 + 86_400));
        assert_eq!(
            Policy::parse("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 99999999999\n", "x", 0)
                .unwrap()
                .max_age,
            MAX_AGE
        );
        for bad in [
            "mode: enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a.example\n",
            "version: STSv1\nnot a field\n",
        ] {
            assert!(Policy::parse(bad, "x", 0).is_err(), "{bad}");
        }
        let saved = p.save_text(body);
        assert_eq!(Policy::from_saved(&saved), Some(p));
    }

    #[test]
    fn the_txt_record_announces_one_policy_id() {
        let r = |list: &[&str]| record_id(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["v=STSv1; id=20160831085700Z;"]), Some("20160831085700Z".into()));
        assert_eq!(r(&["v=spf1 -all", "v=STSv1;id=abc"]), Some("abc".into()));
        assert_eq!(r(&["v=STSv1; id=a", "v=STSv1; id=b"]), None);
        assert_eq!(r(&["v=STSv1;"]), None);
        assert_eq!(r(&[]), None);
    }

    #[test]
    fn responses_are_read_strictly() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\n\r\nversion: STSv1\nTRAILING";
        assert_eq!(http_body(ok).unwrap(), "version: STSv1\n");
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nversion\r\n8;x=y\r\n: STSv1\n\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), "version: STSv1\n");
        let redirect = b"HTTP/1.1 301 Moved\r\nLocation: https://evil.example/\r\nContent-Type: text/plain\r\n\r\n";
        assert!(http_body(redirect).unwrap_err().contains("not 200"));
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>";
        assert!(http_body(html).unwrap_err().contains("text/plain"));
        let short = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\nversion";
        assert!(http_body(short).is_err());
        let bad_chunk =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nx";
        assert!(http_body(bad_chunk).is_err());
    }
}
