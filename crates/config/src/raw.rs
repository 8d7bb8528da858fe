//! The file as serde sees it, and its conversion into a validated [`Config`].
//! Values that need checking are kept `Spanned` so errors can name their line.

use crate::error::ConfigError;
use crate::model::{
    Antispam, AuthSource, Authentication, Config, Delivery, Disposition, Dkim, DkimKey, Dns, DnsList, Imap, Listen,
    Log, LogFormat, LogTarget, Mailbox, Milter, MilterDefault, MilterSocket, Pop3, Relay, Sieve, Smarthost, Smtp,
    SpamRule, Submission, Tls,
};
use crate::values::{self, login_name};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    hostname: Option<S<String>>,
    data_dir: Option<S<String>>,
    domains: Option<S<Vec<S<String>>>>,
    aliases: Option<S<String>>,
    auth: Option<S<String>>,
    user: Option<S<String>>,
    #[serde(default)]
    authorized_mailq_users: Vec<S<String>>,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    listen: RawListen,
    tls: Option<S<RawTls>>,
    #[serde(default)]
    relay: RawRelay,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    smtp: RawSmtp,
    #[serde(default)]
    submission: RawSubmission,
    #[serde(default)]
    pop3: RawPop3,
    #[serde(default)]
    imap: RawImap,
    #[serde(default)]
    mailbox: RawMailbox,
    #[serde(default)]
    sieve: RawSieve,
    #[serde(default)]
    dkim: RawDkim,
    #[serde(default)]
    authentication: RawAuthentication,
    #[serde(default)]
    milter: Vec<S<RawMilter>>,
    #[serde(default)]
    antispam: RawAntispam,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAntispam {
    #[serde(default)]
    dnsbl: Vec<S<String>>,
    dnsbl_threshold: Option<i32>,
    greylisting: Option<bool>,
    greylist_delay: Option<S<toml::Value>>,
    spam_headers: Option<Vec<S<String>>>,
    messages_per_hour_per_ip: Option<u32>,
    recipients_per_hour_per_ip: Option<u32>,
    messages_per_hour_per_user: Option<u32>,
    recipients_per_hour_per_user: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMilter {
    socket: String,
    listeners: Option<Vec<String>>,
    timeout: Option<toml::Value>,
    default_action: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    target: Option<S<String>>,
    format: Option<S<String>>,
    socket: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDkim {
    sign: Option<bool>,
    #[serde(default)]
    keys: Vec<S<RawDkimKey>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDkimKey {
    domain: String,
    selector: String,
    private_key: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAuthentication {
    verify: Option<bool>,
    dmarc_reject: Option<S<String>>,
    dmarc_quarantine: Option<S<String>>,
    spf_fail: Option<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPop3 {
    timeout: Option<S<toml::Value>>,
    login_timeout: Option<S<toml::Value>>,
    max_connections: Option<S<usize>>,
    max_connections_per_ip: Option<usize>,
    max_connections_per_user_ip: Option<usize>,
    max_errors: Option<S<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawImap {
    timeout: Option<S<toml::Value>>,
    login_timeout: Option<S<toml::Value>>,
    max_connections: Option<S<usize>>,
    max_connections_per_ip: Option<usize>,
    max_connections_per_user_ip: Option<usize>,
    max_errors: Option<S<u32>>,
    max_message_size: Option<S<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSieve {
    max_script_size: Option<S<toml::Value>>,
    max_scripts: Option<S<usize>>,
    max_redirects: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    quota: Option<S<toml::Value>>,
    quota_messages: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSubmission {
    max_auth_failures: Option<S<u32>>,
    auth_failure_delay: Option<S<toml::Value>>,
    auth_ip_limit: Option<S<u32>>,
    auth_ip_window: Option<S<toml::Value>>,
    plaintext_loopback: Option<bool>,
    any_sender: Option<Vec<String>>,
    shadow_file: Option<String>,
    login_cache: Option<S<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawListen {
    #[serde(default)]
    smtp: Vec<S<String>>,
    #[serde(default)]
    submission: Vec<S<String>>,
    #[serde(default)]
    smtps: Vec<S<String>>,
    #[serde(default)]
    pop3: Vec<S<String>>,
    #[serde(default)]
    pop3s: Vec<S<String>>,
    #[serde(default)]
    imap: Vec<S<String>>,
    #[serde(default)]
    imaps: Vec<S<String>>,
    #[serde(default)]
    managesieve: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRelay {
    networks: Option<Vec<S<String>>>,
    smarthost: Option<S<String>>,
    user: Option<S<String>>,
    password: Option<S<String>>,
    smarthost_ca: Option<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDns {
    #[serde(default)]
    nameservers: Vec<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    remote_port: Option<S<u16>>,
    retry: Option<S<Vec<S<toml::Value>>>>,
    max_queue_time: Option<S<toml::Value>>,
    delay_warning: Option<S<toml::Value>>,
    mta_sts: Option<bool>,
    dane: Option<bool>,
    srs: Option<bool>,
    tls_reports: Option<bool>,
    mta_sts_port: Option<S<u16>>,
    ca_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    max_message_size: Option<S<toml::Value>>,
    max_recipients: Option<S<usize>>,
    max_errors: Option<S<u32>>,
    max_connections: Option<S<usize>>,
    max_connections_per_ip: Option<usize>,
    connection_rate_limit: Option<usize>,
    max_message_memory: Option<S<toml::Value>>,
    timeout: Option<S<toml::Value>>,
    data_timeout: Option<S<toml::Value>>,
    greet_pause: Option<S<toml::Value>>,
    check_sender_domain: Option<bool>,
}

/// Turns spans into lines and builds errors that name the key.
struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn err(&self, span: std::ops::Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: Some(self.path.to_path_buf()),
            line: Some(self.line(span.start)),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    fn check<T, U>(&self, v: &S<T>, key: &str, f: impl FnOnce(&T) -> Result<U, String>) -> Result<U, ConfigError> {
        f(v.get_ref()).map_err(|m| self.err(v.span(), key, m))
    }

    /// The dotted key at a byte offset: the last `[section]` above it plus the key on its line.
    fn key_at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = &self.text[line_start..];
        let line = line.lines().next().unwrap_or("");
        let key = line.split('=').next().unwrap_or("").trim().trim_matches(['[', ']']).trim();
        let section = before[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && !l.contains('='))
            .map(|l| l.trim_matches(['[', ']']).trim().to_string());
        match section {
            Some(s) if !key.is_empty() && key != s => format!("{s}.{key}"),
            Some(s) if key.is_empty() => s,
            _ => key.to_string(),
        }
    }
}

/// Parses and validates the whole file.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let ctx = Ctx { text, path };
    let raw: Raw = toml::from_str(text).map_err(|e| syntax_error(&ctx, &e))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let hostname = match &raw.hostname {
        Some(h) => ctx.check(h, "hostname", |h| values::hostname(h))?,
        None => system_hostname().map_err(|m| ConfigError {
            path: Some(path.to_path_buf()),
            line: None,
            key: Some("hostname".into()),
            message: m,
        })?,
    };
    let domains = match &raw.domains {
        Some(list) if list.get_ref().is_empty() => {
            return Err(ctx.err(list.span(), "domains", "list at least one local domain, e.g. [\"example.com\"]"));
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for d in list.get_ref() {
                let name = ctx.check(d, "domains", |d| values::dns_name(d))?;
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            out
        }
        None => vec![hostname.clone()],
    };
    let data_dir = match &raw.data_dir {
        Some(d) => absolute(&base, d.get_ref()),
        None => PathBuf::from("/var/lib/carrier"),
    };
    let config = Config {
        hostname,
        data_dir,
        domains,
        aliases: raw.aliases.as_ref().map(|a| absolute(&base, a.get_ref())),
        auth: match &raw.auth {
            None => AuthSource::Carrier,
            Some(a) => ctx.check(a, "auth", |a| match a.as_str() {
                "carrier" => Ok(AuthSource::Carrier),
                "system" => Ok(AuthSource::System),
                other => Err(format!("expected \"carrier\" (carrier's own accounts) or \"system\" (the host's login accounts), found {other:?}")),
            })?,
        },
        user: match &raw.user {
            None => None,
            Some(u) => Some(ctx.check(u, "user", |u| login_name(u))?),
        },
        authorized_mailq_users: list(&ctx, &raw.authorized_mailq_users, "authorized_mailq_users", |u| match u {
            "*" => Ok(u.to_string()),
            _ => login_name(u).map_err(|e| format!("{e} (or \"*\" for everyone)")),
        })?,
        log: log(&ctx, &raw.log, &base)?,
        listen: listen(&ctx, &raw.listen)?,
        tls: tls(&ctx, raw.tls.as_ref(), &base)?,
        relay: relay(&ctx, &raw.relay, &base)?,
        dns: Dns { nameservers: list(&ctx, &raw.dns.nameservers, "dns.nameservers", values::nameserver)? },
        delivery: delivery(&ctx, &raw.delivery, &base)?,
        smtp: smtp(&ctx, &raw.smtp)?,
        submission: submission(&ctx, &raw.submission)?,
        pop3: pop3(&ctx, &raw.pop3)?,
        imap: imap(&ctx, &raw.imap)?,
        mailbox: mailbox(&ctx, &raw.mailbox)?,
        sieve: sieve(&ctx, &raw.sieve)?,
        dkim: dkim(&ctx, &raw.dkim, &base)?,
        authentication: authentication(&ctx, &raw.authentication)?,
        milters: raw.milter.iter().map(|m| milter(&ctx, m, &base)).collect::<Result<_, _>>()?,
        antispam: antispam(&ctx, &raw.antispam)?,
        source: Some(path.to_path_buf()),
    };
    memory_fits(&ctx, &raw, &config)?;
    Ok(config)
}

fn syntax_error(ctx: &Ctx, e: &toml::de::Error) -> ConfigError {
    let message = plain_words(e.message().trim());
    let (line, key) = match e.span() {
        Some(span) => (Some(ctx.line(span.start)), Some(ctx.key_at(span.start))),
        None => (None, None),
    };
    let hint = if message.starts_with("unknown field") {
        "; remove it or fix its spelling (docs/config.md lists every key)"
    } else {
        ""
    };
    ConfigError {
        path: Some(ctx.path.to_path_buf()),
        line,
        key: key.filter(|k| !k.is_empty()),
        message: format!("{message}{hint}"),
    }
}

/// serde's type errors in the words of the other messages, with an example of what fits:
/// `invalid type: string "lots", expected usize` becomes `expected a whole number such as
/// 100, found the string "lots"`.
fn plain_words(message: &str) -> String {
    let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|m| m.split_once(", expected "))
    else {
        return message.to_string();
    };
    let wanted = match expected {
        "usize" | "u16" | "u32" | "u64" | "i64" => "a whole number such as 100",
        "a sequence" => "a list in brackets such as [\"example.com\"]",
        "a boolean" => "true or false",
        "a string" => "a string in quotes such as \"example.com\"",
        e if e.starts_with("struct ") || e == "a map" => "a table: a [section] heading with its keys below it",
        e => e,
    };
    let found = found.replace("string ", "the string ").replace("integer ", "the number ").replace("boolean ", "");
    format!("expected {wanted}, found {found}")
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() { p } else { base.join(p) }
}

/// The kernel's host name, when it is fully qualified.
fn system_hostname() -> Result<String, String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    values::hostname(name).map_err(|_| {
        format!(
            "not set, and the system host name `{name}` is not fully qualified; set `hostname = \"mail.example.com\"` \
             in carrier.toml (the name this server's MX record points at)"
        )
    })
}

fn list<T>(ctx: &Ctx, items: &[S<String>], key: &str, f: fn(&str) -> Result<T, String>) -> Result<Vec<T>, ConfigError> {
    items.iter().map(|i| ctx.check(i, key, |s| f(s))).collect()
}

fn listen(ctx: &Ctx, raw: &RawListen) -> Result<Listen, ConfigError> {
    let services = [
        ("smtp", &raw.smtp),
        ("submission", &raw.submission),
        ("smtps", &raw.smtps),
        ("pop3", &raw.pop3),
        ("pop3s", &raw.pop3s),
        ("imap", &raw.imap),
        ("imaps", &raw.imaps),
        ("managesieve", &raw.managesieve),
    ];
    let mut seen: Vec<(SocketAddr, &str)> = Vec::new();
    let mut parsed = Vec::new();
    for (name, items) in services {
        let key = format!("listen.{name}");
        let mut addrs = Vec::new();
        for item in items.iter() {
            let addr = ctx.check(item, &key, |s| values::socket_addr(s))?;
            // Port 0 asks the kernel for any free port, so it never collides.
            if let Some((_, other)) = seen.iter().find(|(a, _)| *a == addr && addr.port() != 0) {
                let msg = format!("{addr} is also listed under listen.{other}; each address can serve one protocol");
                return Err(ctx.err(item.span(), &key, msg));
            }
            seen.push((addr, name));
            addrs.push(addr);
        }
        parsed.push(addrs);
    }
    let mut it = parsed.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(Listen {
        smtp: next(),
        submission: next(),
        smtps: next(),
        pop3: next(),
        pop3s: next(),
        imap: next(),
        imaps: next(),
        managesieve: next(),
    })
}

fn log(ctx: &Ctx, raw: &RawLog, base: &Path) -> Result<Log, ConfigError> {
    let target = match &raw.target {
        None => LogTarget::Stderr,
        Some(t) => ctx.check(t, "log.target", |t| match t.as_str() {
            "stderr" => Ok(LogTarget::Stderr),
            "syslog" => Ok(LogTarget::Syslog),
            "journald" => Ok(LogTarget::Journald),
            other => Err(format!(
                "expected \"stderr\" (the journal under systemd), \"syslog\" (the mail facility: /var/log/mail.log) \
                 or \"journald\", found {other:?}"
            )),
        })?,
    };
    let format = match &raw.format {
        None => LogFormat::Text,
        Some(f) => ctx.check(f, "log.format", |f| values::log_format(f))?,
    };
    Ok(Log { target, format, socket: raw.socket.as_ref().map(|s| absolute(base, s)) })
}

fn tls(ctx: &Ctx, raw: Option<&S<RawTls>>, base: &Path) -> Result<Option<Tls>, ConfigError> {
    let Some(t) = raw else { return Ok(None) };
    match (&t.get_ref().cert, &t.get_ref().key) {
        (Some(cert), Some(key)) => Ok(Some(Tls { cert: absolute(base, cert), key: absolute(base, key) })),
        _ => Err(ctx.err(
            t.span(),
            "tls",
            "[tls] needs both `cert` and `key` (PEM files); remove the section to use a generated self-signed certificate",
        )),
    }
}

fn relay(ctx: &Ctx, raw: &RawRelay, base: &Path) -> Result<Relay, ConfigError> {
    let networks = match &raw.networks {
        Some(items) => list(ctx, items, "relay.networks", values::network)?,
        None => Relay::default().networks,
    };
    let smarthost = match &raw.smarthost {
        Some(s) => {
            let (host, port) = ctx.check(s, "relay.smarthost", |s| values::host_port(s))?;
            let user = raw.user.as_ref().map(|u| u.get_ref().clone());
            let password = raw.password.as_ref().map(|p| p.get_ref().clone());
            if user.is_some() != password.is_some() {
                let span = raw.user.as_ref().or(raw.password.as_ref()).map(|v| v.span()).unwrap_or(s.span());
                return Err(ctx.err(
                    span,
                    "relay.user",
                    "set both `user` and `password` for the smarthost, or neither",
                ));
            }
            let ca_file = raw.smarthost_ca.as_ref().map(|c| absolute(base, c.get_ref()));
            Some(Smarthost { host, port, user, password, ca_file })
        }
        None => {
            if let Some(v) = raw.user.as_ref().or(raw.password.as_ref()) {
                return Err(ctx.err(v.span(), "relay.user", "`user` and `password` only make sense with `smarthost`"));
            }
            if let Some(v) = &raw.smarthost_ca {
                return Err(ctx.err(
                    v.span(),
                    "relay.smarthost_ca",
                    "`smarthost_ca` only makes sense with `smarthost`",
                ));
            }
            None
        }
    };
    Ok(Relay { networks, smarthost })
}

fn duration_value(ctx: &Ctx, v: &S<toml::Value>, key: &str) -> Result<Duration, ConfigError> {
    ctx.check(v, key, |v| match v {
        toml::Value::String(s) => values::duration(s),
        toml::Value::Integer(i) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
        other => Err(format!("expected a duration such as \"30s\" or \"5m\", found {other}")),
    })
}

fn delivery(ctx: &Ctx, raw: &RawDelivery, base: &Path) -> Result<Delivery, ConfigError> {
    let mut d = Delivery::default();
    if let Some(v) = raw.dane {
        d.dane = v;
    }
    if let Some(v) = raw.srs {
        d.srs = v;
    }
    if let Some(v) = raw.mta_sts {
        d.mta_sts = v;
    }
    if let Some(v) = raw.tls_reports {
        d.tls_reports = v;
    }
    if let Some(p) = &raw.mta_sts_port {
        d.mta_sts_port = ctx.check(p, "delivery.mta_sts_port", |p| nonzero(*p as u64).map(|_| *p))?;
    }
    d.ca_file = raw.ca_file.as_ref().map(|f| absolute(base, f));
    if let Some(p) = &raw.remote_port {
        d.remote_port = ctx.check(p, "delivery.remote_port", |p| nonzero(*p as u64).map(|_| *p))?;
    }
    if let Some(r) = &raw.retry {
        if r.get_ref().is_empty() {
            return Err(ctx.err(
                r.span(),
                "delivery.retry",
                "list at least one interval, e.g. [\"1m\", \"5m\", \"1h\"]",
            ));
        }
        d.retry = r.get_ref().iter().map(|v| duration_value(ctx, v, "delivery.retry")).collect::<Result<_, _>>()?;
    }
    if let Some(v) = &raw.max_queue_time {
        d.max_queue_time = duration_value(ctx, v, "delivery.max_queue_time")?;
    }
    if let Some(v) = &raw.delay_warning {
        let warn = duration_value(ctx, v, "delivery.delay_warning")?;
        d.delay_warning = Some(warn).filter(|w| !w.is_zero());
    }
    Ok(d)
}

fn nonzero(n: u64) -> Result<u64, String> {
    if n == 0 { Err("must be greater than zero".into()) } else { Ok(n) }
}

fn submission(ctx: &Ctx, raw: &RawSubmission) -> Result<Submission, ConfigError> {
    let mut s = Submission::default();
    if let Some(v) = &raw.max_auth_failures {
        s.max_auth_failures = ctx.check(v, "submission.max_auth_failures", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.auth_failure_delay {
        s.auth_failure_delay = duration_value(ctx, v, "submission.auth_failure_delay")?;
    }
    if let Some(v) = &raw.auth_ip_limit {
        s.auth_ip_limit = ctx.check(v, "submission.auth_ip_limit", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.auth_ip_window {
        s.auth_ip_window = duration_value(ctx, v, "submission.auth_ip_window")?;
    }
    if let Some(v) = raw.plaintext_loopback {
        s.plaintext_loopback = v;
    }
    if let Some(v) = &raw.login_cache {
        s.login_cache = duration_value(ctx, v, "submission.login_cache")?;
    }
    if let Some(path) = &raw.shadow_file {
        s.shadow_file = PathBuf::from(path);
    }
    if let Some(users) = &raw.any_sender {
        s.any_sender = users.iter().map(|u| u.to_lowercase()).collect();
    }
    Ok(s)
}

fn dkim(ctx: &Ctx, raw: &RawDkim, base: &Path) -> Result<Dkim, ConfigError> {
    let mut keys = Vec::new();
    for key in &raw.keys {
        let k = key.get_ref();
        let domain = ctx.check(key, "dkim.keys", |k| {
            values::dns_name(&k.domain).map_err(|e| format!("domain {:?}: {e}", k.domain))
        })?;
        ctx.check(key, "dkim.keys", |k| {
            match carrier_syntax::domain::is_dns_name(&format!("{}.{domain}", k.selector)) {
                true if !k.selector.is_empty() => Ok(()),
                _ => Err(format!("selector {:?} is not a DNS name such as \"mail\" or \"2026a\"", k.selector)),
            }
        })?;
        keys.push(DkimKey {
            domain,
            selector: k.selector.to_ascii_lowercase(),
            private_key: absolute(base, &k.private_key),
        });
    }
    Ok(Dkim { sign: raw.sign.unwrap_or(true), keys })
}

fn antispam(ctx: &Ctx, raw: &RawAntispam) -> Result<Antispam, ConfigError> {
    let dnsbl = list(ctx, &raw.dnsbl, "antispam.dnsbl", |entry| {
        let (zone, weight) = match entry.split_once('*') {
            Some((zone, w)) => (zone, w.parse::<i32>().map_err(|_| format!("weight {w:?} is not a whole number"))?),
            None => (entry, 1),
        };
        let zone = values::dns_name(zone)
            .map_err(|e| format!("{entry:?}: {e} (a list looks like \"zen.spamhaus.org\" or \"list.dnswl.org*-5\")"))?;
        Ok(DnsList { zone, weight })
    })?;
    let delay = match &raw.greylist_delay {
        Some(v) => duration_value(ctx, v, "antispam.greylist_delay")?,
        None => Duration::from_secs(300),
    };
    Ok(Antispam {
        dnsbl,
        dnsbl_threshold: raw.dnsbl_threshold.unwrap_or(1),
        greylisting: raw.greylisting.unwrap_or(false).then_some(delay),
        spam_rules: match &raw.spam_headers {
            Some(rules) => list(ctx, rules, "antispam.spam_headers", spam_rule)?,
            None => SpamRule::defaults(),
        },
        messages_per_hour_per_ip: raw.messages_per_hour_per_ip.unwrap_or(0),
        recipients_per_hour_per_ip: raw.recipients_per_hour_per_ip.unwrap_or(0),
        messages_per_hour_per_user: raw.messages_per_hour_per_user.unwrap_or(0),
        recipients_per_hour_per_user: raw.recipients_per_hour_per_user.unwrap_or(0),
    })
}

/// `"X-Spam: yes"` or `"X-Spam-Score >= 5"`.
fn spam_rule(text: &str) -> Result<SpamRule, String> {
    let bad = || format!("{text:?} is not a rule such as \"X-Spam: yes\" or \"X-Spam-Score >= 5\"");
    if let Some((field, score)) = text.split_once(">=") {
        let score = score.trim().parse::<f64>().map_err(|_| bad())?;
        let field = field.trim();
        return if field.is_empty() { Err(bad()) } else { Ok(SpamRule::AtLeast { field: field.into(), score }) };
    }
    let (field, prefix) = text.split_once(':').ok_or_else(bad)?;
    let (field, prefix) = (field.trim(), prefix.trim());
    if field.is_empty() || prefix.is_empty() {
        return Err(bad());
    }
    Ok(SpamRule::Starts { field: field.into(), prefix: prefix.into() })
}

fn milter(ctx: &Ctx, raw: &S<RawMilter>, base: &Path) -> Result<Milter, ConfigError> {
    let m = raw.get_ref();
    let socket = ctx.check(raw, "milter.socket", |m| milter_socket(&m.socket, base))?;
    let listeners = m.listeners.clone().unwrap_or_else(|| vec!["smtp".into(), "submission".into(), "sendmail".into()]);
    if let Some(bad) = listeners.iter().find(|l| !["smtp", "submission", "sendmail"].contains(&l.as_str())) {
        return Err(ctx.err(
            raw.span(),
            "milter.listeners",
            format!("{bad:?} is not \"smtp\", \"submission\" or \"sendmail\""),
        ));
    }
    let timeout = match &m.timeout {
        Some(toml::Value::String(t)) => ctx.check(raw, "milter.timeout", |_| values::duration(t))?,
        Some(_) => return Err(ctx.err(raw.span(), "milter.timeout", "expected a duration such as \"30s\"")),
        None => Duration::from_secs(30),
    };
    let default_action = match m.default_action.as_deref() {
        None | Some("tempfail") => MilterDefault::Tempfail,
        Some("accept") => MilterDefault::Accept,
        Some("reject") => MilterDefault::Reject,
        Some(other) => {
            return Err(ctx.err(
                raw.span(),
                "milter.default_action",
                format!("expected \"tempfail\", \"accept\" or \"reject\", found {other:?}"),
            ));
        }
    };
    Ok(Milter { socket, listeners, timeout, default_action })
}

/// Postfix's `inet:host:port` and `unix:/path`, and sendmail's and OpenDKIM's `inet:port@host`.
fn milter_socket(text: &str, base: &Path) -> Result<MilterSocket, String> {
    let bad = || {
        format!(
            "{text:?} is not a milter socket such as \"inet:127.0.0.1:8891\" or \"unix:/run/opendkim/opendkim.sock\""
        )
    };
    if let Some(path) = text.strip_prefix("unix:").or_else(|| text.strip_prefix("local:")) {
        return Ok(MilterSocket::Unix(absolute(base, path)));
    }
    let rest = text.strip_prefix("inet:").ok_or_else(bad)?;
    let (host, port) = match rest.split_once('@') {
        Some((port, host)) => (host, port),
        None => rest.rsplit_once(':').ok_or_else(bad)?,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(MilterSocket::Inet(host.to_string(), port))
}

fn authentication(ctx: &Ctx, raw: &RawAuthentication) -> Result<Authentication, ConfigError> {
    let mut a = Authentication { verify: raw.verify.unwrap_or(true), ..Authentication::default() };
    let disposition = |v: &S<String>, key: &str| {
        ctx.check(v, key, |v| match v.as_str() {
            "reject" => Ok(Disposition::Reject),
            "quarantine" => Ok(Disposition::Quarantine),
            "none" => Ok(Disposition::Deliver),
            other => Err(format!(
                "expected \"reject\" (refuse with 550), \"quarantine\" (deliver to Junk) or \"none\" (deliver), found {other:?}"
            )),
        })
    };
    if let Some(v) = &raw.dmarc_reject {
        a.dmarc_reject = disposition(v, "authentication.dmarc_reject")?;
    }
    if let Some(v) = &raw.dmarc_quarantine {
        a.dmarc_quarantine = disposition(v, "authentication.dmarc_quarantine")?;
    }
    if let Some(v) = &raw.spf_fail {
        a.spf_fail = disposition(v, "authentication.spf_fail")?;
    }
    Ok(a)
}

/// A positive size: "25M", "1G" or a number of octets.
fn size_value(ctx: &Ctx, v: &S<toml::Value>, key: &str) -> Result<u64, ConfigError> {
    ctx.check(v, key, |v| match v {
        toml::Value::String(t) => values::size(t).and_then(nonzero),
        toml::Value::Integer(i) if *i > 0 => Ok(*i as u64),
        other => Err(format!("expected a size such as \"25M\" or a number of octets, found {other}")),
    })
}

fn pop3(ctx: &Ctx, raw: &RawPop3) -> Result<Pop3, ConfigError> {
    let mut p = Pop3::default();
    for (v, key, field) in [
        (&raw.timeout, "pop3.timeout", &mut p.timeout),
        (&raw.login_timeout, "pop3.login_timeout", &mut p.login_timeout),
    ] {
        if let Some(v) = v {
            *field = duration_value(ctx, v, key)?;
            if field.is_zero() {
                return Err(ctx.err(v.span(), key, "must be greater than zero (RFC 1939 asks for 10 minutes)"));
            }
        }
    }
    if let Some(v) = &raw.max_connections {
        p.max_connections = ctx.check(v, "pop3.max_connections", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.max_errors {
        p.max_errors = ctx.check(v, "pop3.max_errors", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    p.max_connections_per_user_ip = raw.max_connections_per_user_ip.unwrap_or(p.max_connections_per_user_ip);
    p.max_connections_per_ip = raw.max_connections_per_ip.unwrap_or(p.max_connections_per_ip);
    Ok(p)
}

/// SMTP messages and IMAP APPENDs share `smtp.max_message_memory`: the largest of either must
/// fit in it, or it could never be received.
fn memory_fits(ctx: &Ctx, raw: &Raw, config: &Config) -> Result<(), ConfigError> {
    let (smtp, imap) = (&config.smtp, &config.imap);
    let (memory, size) = (smtp.max_message_memory, smtp.max_message_size.max(imap.max_message_size));
    let keys = [&raw.smtp.max_message_memory, &raw.smtp.max_message_size, &raw.imap.max_message_size];
    // The defaults fit, so a shortfall always comes from a key in the file.
    let Some(key) = keys.into_iter().flatten().next().filter(|_| memory < size) else { return Ok(()) };
    Err(ctx.err(
        key.span(),
        "smtp.max_message_memory",
        format!(
            "{memory} octets is less than one message of `max_message_size` ({size}, in [smtp] or [imap]), which \
             could then never be received; raise it or lower `max_message_size`"
        ),
    ))
}

fn imap(ctx: &Ctx, raw: &RawImap) -> Result<Imap, ConfigError> {
    let mut i = Imap::default();
    for (v, key, field) in [
        (&raw.timeout, "imap.timeout", &mut i.timeout),
        (&raw.login_timeout, "imap.login_timeout", &mut i.login_timeout),
    ] {
        if let Some(v) = v {
            *field = duration_value(ctx, v, key)?;
            if field.is_zero() {
                return Err(ctx.err(
                    v.span(),
                    key,
                    "must be greater than zero (RFC 3501 5.4 asks for at least 30 minutes)",
                ));
            }
        }
    }
    if let Some(v) = &raw.max_connections {
        i.max_connections = ctx.check(v, "imap.max_connections", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.max_errors {
        i.max_errors = ctx.check(v, "imap.max_errors", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.max_message_size {
        i.max_message_size = size_value(ctx, v, "imap.max_message_size")?;
    }
    i.max_connections_per_user_ip = raw.max_connections_per_user_ip.unwrap_or(i.max_connections_per_user_ip);
    i.max_connections_per_ip = raw.max_connections_per_ip.unwrap_or(i.max_connections_per_ip);
    Ok(i)
}

fn sieve(ctx: &Ctx, raw: &RawSieve) -> Result<Sieve, ConfigError> {
    let mut s = Sieve::default();
    if let Some(v) = &raw.max_script_size {
        s.max_script_size = size_value(ctx, v, "sieve.max_script_size")?;
    }
    if let Some(v) = &raw.max_scripts {
        s.max_scripts = ctx.check(v, "sieve.max_scripts", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    s.max_redirects = raw.max_redirects.unwrap_or(s.max_redirects);
    Ok(s)
}

fn mailbox(ctx: &Ctx, raw: &RawMailbox) -> Result<Mailbox, ConfigError> {
    let quota = match &raw.quota {
        Some(v) if v.get_ref().as_str() == Some("unlimited") => None,
        Some(v) => Some(size_value(ctx, v, "mailbox.quota")?),
        None => None,
    };
    Ok(Mailbox { quota, quota_messages: raw.quota_messages })
}

fn smtp(ctx: &Ctx, raw: &RawSmtp) -> Result<Smtp, ConfigError> {
    let mut s = Smtp::default();
    if let Some(v) = &raw.max_message_size {
        s.max_message_size = size_value(ctx, v, "smtp.max_message_size")?;
    }
    if let Some(v) = &raw.max_recipients {
        s.max_recipients = ctx.check(v, "smtp.max_recipients", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.max_errors {
        s.max_errors = ctx.check(v, "smtp.max_errors", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    if let Some(v) = &raw.max_connections {
        s.max_connections = ctx.check(v, "smtp.max_connections", |n| nonzero(*n as u64).map(|_| *n))?;
    }
    s.max_connections_per_ip = raw.max_connections_per_ip.unwrap_or(s.max_connections_per_ip);
    s.connection_rate_limit = raw.connection_rate_limit.unwrap_or(s.connection_rate_limit);
    if let Some(v) = &raw.timeout {
        s.timeout = duration_value(ctx, v, "smtp.timeout")?;
    }
    if let Some(v) = &raw.data_timeout {
        s.data_timeout = duration_value(ctx, v, "smtp.data_timeout")?;
    }
    if let Some(v) = &raw.greet_pause {
        s.greet_pause = duration_value(ctx, v, "smtp.greet_pause")?;
    }
    if let Some(v) = raw.check_sender_domain {
        s.check_sender_domain = v;
    }
    if let Some(v) = &raw.max_message_memory {
        s.max_message_memory = size_value(ctx, v, "smtp.max_message_memory")?;
    }
    if s.timeout.is_zero() || s.data_timeout.is_zero() {
        return Err(ConfigError {
            path: Some(ctx.path.to_path_buf()),
            line: None,
            key: Some("smtp.timeout".into()),
            message: "timeouts must be greater than zero".into(),
        });
    }
    Ok(s)
}
