//! `carrier check`: the configuration and the host, each finding with how to fix it (an
//! unqualified name, a missing MX or A record, a blocked port 25, a mail loop). Exit 1 when
//! anything is wrong. What cannot be checked (no network, no DNS answer) is said, not
//! counted as wrong.

use carrier_config::Config;
use carrier_mta::dns;
use carrier_mta::handoff::{control, pickup};
use carrier_tls::certinfo::CertInfo;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// A certificate expiring sooner than this is a problem.
const EXPIRY_MARGIN: Duration = Duration::from_secs(14 * 86_400);
/// The outbound probe's target when none is given: a large provider's MX (port 25).
const DEFAULT_PROBE: &str = "gmail-smtp-in.l.google.com:25";

/// `carrier check` options.
#[derive(clap::Args, Debug, Default)]
pub struct Options {
    /// Do not test whether outgoing connections to port 25 are possible (no traffic leaves the host).
    #[arg(long)]
    pub no_outbound: bool,
    /// Test outgoing SMTP against HOST:PORT instead of a large provider's MX (or the smarthost).
    #[arg(long, value_name = "HOST:PORT")]
    pub outbound_probe: Option<String>,
}

/// One finding.
enum Finding {
    Ok(String),
    Problem { what: String, fix: String },
    NotChecked(String),
}

#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
}

impl Report {
    fn ok(&mut self, what: impl Into<String>) {
        self.findings.push(Finding::Ok(what.into()));
    }

    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding::Problem { what: what.into(), fix: fix.into() });
    }

    fn not_checked(&mut self, what: impl Into<String>) {
        self.findings.push(Finding::NotChecked(what.into()));
    }

    fn problems(&self) -> usize {
        self.findings.iter().filter(|f| matches!(f, Finding::Problem { .. })).count()
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = match f {
                Finding::Ok(what) => writeln!(out, "ok:          {what}"),
                Finding::Problem { what, fix } => writeln!(out, "PROBLEM:     {what}\n  fix:       {fix}"),
                Finding::NotChecked(what) => writeln!(out, "not checked: {what}"),
            };
        }
        let n = self.problems();
        let _ = if n == 0 {
            writeln!(out, "\nno problems found")
        } else {
            writeln!(out, "\n{n} problem{} found", if n == 1 { "" } else { "s" })
        };
        out
    }
}

/// Runs every check and prints the report; exit 1 when something is wrong.
pub fn run(config: Option<&Path>, opts: &Options) -> ExitCode {
    let mut report = Report::default();
    match carrier_config::locate(config) {
        Ok(cfg) => {
            check_config(&cfg, &mut report);
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(check_host(&cfg, opts, &mut report)),
                Err(e) => report.not_checked(format!("DNS and network: cannot start the runtime: {e}")),
            }
        }
        Err(e) => report.problem(
            format!("the configuration does not load: {e}"),
            "correct the file as the message says; docs/config.md lists every key",
        ),
    }
    print!("{}", report.render());
    if report.problems() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn check_config(cfg: &Config, r: &mut Report) {
    match &cfg.source {
        Some(path) => r.ok(format!("configuration {} is valid", path.display())),
        None => r.problem(
            "no configuration file: carrier runs on development defaults",
            "run `carrier init --domain example.com` or write /etc/carrier/carrier.toml",
        ),
    }
    if cfg.hostname == "localhost" || !cfg.hostname.contains('.') {
        r.problem(
            format!("hostname `{}` is not a fully qualified domain name", cfg.hostname),
            "set `hostname = \"mail.example.com\"` (the name your MX record points at) in carrier.toml",
        );
    } else {
        r.ok(format!("hostname {} is fully qualified", cfg.hostname));
    }
    check_tls(cfg, r);
    check_permissions(cfg, r);
    check_aliases(cfg, r);
    check_ports(cfg, r);
}

async fn check_host(cfg: &Config, opts: &Options, r: &mut Report) {
    match dns::resolver(cfg) {
        Ok(resolver) => check_dns(cfg, &resolver, r).await,
        Err(e) => r.not_checked(format!("DNS: {e}")),
    }
    check_outbound(cfg, opts, r).await;
}

/// Forward and reverse DNS of the host name, and every local domain's MX (or A).
async fn check_dns(cfg: &Config, resolver: &dns::Resolver, r: &mut Report) {
    let host = &cfg.hostname;
    let ours = match dns::addresses(resolver, host).await {
        Ok(addrs) if !addrs.is_empty() => {
            r.ok(format!("hostname {host} resolves to {}", list(&addrs)));
            addrs
        }
        Ok(_) | Err(dns::Failure::NotFound) => {
            r.problem(
                format!("hostname {host} has no A or AAAA record"),
                format!("publish `{host}. IN A <this server's public address>` in your DNS zone"),
            );
            Vec::new()
        }
        Err(dns::Failure::Unreachable(e)) => {
            return r.not_checked(format!("DNS (forward, reverse, MX): no answer from the name servers ({e})"));
        }
    };
    for ip in &ours {
        check_reverse(host, *ip, resolver, r).await;
    }
    let keys = match carrier_mailauth::Keyring::load(cfg) {
        Ok(keys) => keys,
        Err(e) => {
            r.problem(
                format!("DKIM keys cannot be read: {e}"),
                "restore the key files, or `carrier dkim rotate DOMAIN`",
            );
            carrier_mailauth::Keyring::default()
        }
    };
    for domain in &cfg.domains {
        check_domain(host, domain, &ours, resolver, r).await;
        check_authentication(cfg, domain, &ours, &keys, resolver, r).await;
    }
}

/// What receivers find when they check the domain's mail: the DKIM keys carrier signs with
/// (RFC 6376 3.6.2.2), an SPF policy that lets this server send (RFC 7208), and a DMARC
/// policy (RFC 7489 6.1). Each missing record is a problem: large mailbox providers refuse or
/// file away mail without them.
async fn check_authentication(
    cfg: &Config,
    domain: &str,
    ours: &[IpAddr],
    keys: &carrier_mailauth::Keyring,
    resolver: &dns::Resolver,
    r: &mut Report,
) {
    let printed = "publish the record `carrier dns-records` prints for it";
    for key in keys.of(domain).filter(|k| k.signing && cfg.dkim.sign) {
        let name = key.record_name();
        match dns::txt(resolver, &name).await {
            Ok(found) if found.iter().any(|t| key_of(t) == key_of(&key.record())) => {
                r.ok(format!("{domain}: DKIM key {name} is published"))
            }
            Ok(found) if !found.is_empty() => {
                r.problem(format!("{name} publishes another key than the one carrier signs with"), printed)
            }
            Ok(_) | Err(dns::Failure::NotFound) => r.problem(
                format!("{domain}: DKIM key {name} is not published, so receivers cannot check the signatures"),
                printed,
            ),
            Err(dns::Failure::Unreachable(e)) => r.not_checked(format!("DKIM key {name}: {e}")),
        }
    }
    check_spf(cfg, domain, ours, resolver, r).await;
    let dmarc = format!("_dmarc.{domain}");
    match dns::txt(resolver, &dmarc).await {
        Ok(found) if found.iter().any(|t| t.starts_with("v=DMARC1")) => {
            let record = found.iter().find(|t| t.starts_with("v=DMARC1")).cloned().unwrap_or_default();
            r.ok(format!("{domain}: DMARC record \"{record}\""))
        }
        Ok(_) | Err(dns::Failure::NotFound) => r.problem(
            format!("{domain} publishes no DMARC policy (RFC 7489); large providers expect one"),
            format!("publish `{dmarc}. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"`"),
        ),
        Err(dns::Failure::Unreachable(e)) => r.not_checked(format!("DMARC record of {domain}: {e}")),
    }
}

/// One SPF record (RFC 7208 4.5: two are a permanent error), letting each of our addresses send.
async fn check_spf(cfg: &Config, domain: &str, ours: &[IpAddr], resolver: &dns::Resolver, r: &mut Report) {
    let fix = format!("publish `{domain}. IN TXT \"v=spf1 mx -all\"` (the domain's MX hosts send its mail)");
    let records = match dns::txt(resolver, domain).await {
        Ok(found) => found.into_iter().filter(|t| t.to_ascii_lowercase().starts_with("v=spf1")).collect(),
        Err(dns::Failure::NotFound) => Vec::new(),
        Err(dns::Failure::Unreachable(e)) => return r.not_checked(format!("SPF of {domain}: {e}")),
    };
    match records.len() {
        0 => {
            return r
                .problem(format!("{domain} has no SPF record, so receivers cannot tell who may send its mail"), fix);
        }
        1 => {}
        n => {
            return r.problem(
                format!("{domain} has {n} SPF records; receivers treat that as an error (RFC 7208 4.5)"),
                "merge them into one",
            );
        }
    }
    for ip in ours {
        match carrier_mailauth::verify::spf_result(resolver, *ip, domain, &cfg.hostname).await {
            "pass" => r.ok(format!("{domain}: SPF lets this server ({ip}) send")),
            "temperror" => r.not_checked(format!("SPF of {domain}: no answer from the name servers")),
            result => r.problem(
                format!("{domain}: SPF says {result} for this server's address {ip} (\"{}\")", records[0]),
                format!("add `ip{}:{ip}` or `mx` to it before its `all`", if ip.is_ipv4() { 4 } else { 6 }),
            ),
        }
    }
}

/// The `p=` of a DKIM key record, without white space.
fn key_of(record: &str) -> String {
    let tag = record.split(';').map(str::trim).find(|t| t.starts_with("p=")).unwrap_or_default();
    tag.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn check_reverse(host: &str, ip: IpAddr, resolver: &dns::Resolver, r: &mut Report) {
    let fix =
        format!("ask whoever runs the address {ip} (your hosting provider) to set its reverse DNS (PTR) to {host}");
    match dns::ptr(resolver, ip).await {
        Ok(names) if names.iter().any(|n| n == host) => r.ok(format!("reverse DNS of {ip} is {host}")),
        Ok(names) if !names.is_empty() => r.problem(
            format!("reverse DNS of {ip} is {}, not {host}; many receivers refuse such mail", names.join(", ")),
            fix,
        ),
        Ok(_) | Err(dns::Failure::NotFound) => {
            r.problem(format!("{ip} has no reverse DNS (PTR) record; many receivers refuse mail from it"), fix)
        }
        Err(dns::Failure::Unreachable(e)) => r.not_checked(format!("reverse DNS of {ip}: {e}")),
    }
}

/// RFC 5321 5.1: mail goes to the MX hosts, or to the domain's own address when it has none.
async fn check_domain(host: &str, domain: &str, ours: &[IpAddr], resolver: &dns::Resolver, r: &mut Report) {
    let fix = format!("publish `{domain}. IN MX 10 {host}.` in the zone of {domain}");
    match dns::mx(resolver, domain).await {
        Ok(mx) if !mx.is_empty() => {
            let targets: Vec<&str> = mx.iter().map(|(_, t)| t.as_str()).collect();
            for target in &targets {
                let here = *target == host
                    || dns::addresses(resolver, target).await.is_ok_and(|a| a.iter().any(|ip| ours.contains(ip)));
                if here {
                    return r.ok(format!("{domain}: MX {target} points here"));
                }
            }
            r.problem(format!("{domain}: MX points at {}, which is not this server ({host})", targets.join(", ")), fix);
        }
        Ok(_) | Err(dns::Failure::NotFound) => match dns::addresses(resolver, domain).await {
            Ok(addrs) if addrs.iter().any(|ip| ours.contains(ip)) => r.ok(format!(
                "{domain}: no MX record, but its A/AAAA record points here (RFC 5321 5.1); an MX is still better"
            )),
            Err(dns::Failure::Unreachable(e)) => r.not_checked(format!("{domain}: {e}")),
            _ => r.problem(format!("{domain} has no MX record and no address record pointing here"), fix),
        },
        Err(dns::Failure::Unreachable(e)) => r.not_checked(format!("MX of {domain}: {e}")),
    }
}

/// Every configured address can be listened on, or the running daemon holds it.
fn check_ports(cfg: &Config, r: &mut Report) {
    if control::request(&cfg.data_dir, "STATUS", b"", Duration::from_secs(5)).is_ok() {
        return r.ok("the daemon is running (its control socket answers) and holds its listening ports");
    }
    for (name, addrs) in cfg.listen.services() {
        for addr in addrs.iter().filter(|a| a.port() != 0) {
            match TcpListener::bind(addr) {
                Ok(_) => r.ok(format!("listen.{name}: {addr} is free")),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => r.problem(
                    format!("listen.{name}: {addr} is in use by another program"),
                    format!(
                        "find it with `ss -ltnp 'sport = :{}'` and stop it (sendmail, postfix, exim?)",
                        addr.port()
                    ),
                ),
                Err(e) => r.problem(
                    format!("listen.{name}: cannot listen on {addr}: {e}"),
                    "ports below 1024 need root: start carrier as root (it then drops to `user`)",
                ),
            }
        }
    }
}

/// The certificate loads, matches the key, names the host and does not expire soon.
fn check_tls(cfg: &Config, r: &mut Report) {
    let (cert, configured) = match &cfg.tls {
        Some(t) => (t.cert.clone(), Some((t.cert.as_path(), t.key.as_path()))),
        None => (cfg.data_dir.join("tls/cert.pem"), None),
    };
    if configured.is_none() && !cert.exists() {
        return r
            .ok("TLS: no [tls] section; a self-signed certificate will be made at first start (clients will warn)");
    }
    if let Some((c, k)) = configured {
        for (path, key) in [(c, "cert"), (k, "key")] {
            if !path.exists() {
                return r.problem(
                    format!("TLS: [tls] {key} {} does not exist", path.display()),
                    format!(
                        "get a certificate (e.g. `certbot certonly --standalone -d {}`) and set [tls] cert and key to its files, \
                         or remove [tls] to use a self-signed one",
                        cfg.hostname
                    ),
                );
            }
        }
    }
    if let Err(e) = carrier_tls::server_config(&cfg.hostname, &cfg.data_dir, configured) {
        return r.problem(format!("TLS: {e}"), "see the message above");
    }
    let info = std::fs::read(&cert).ok().and_then(|pem| CertInfo::from_pem(&pem));
    let Some(info) = info else {
        return r.problem(format!("TLS: cannot read {}", cert.display()), "point [tls] cert at a PEM certificate");
    };
    if !info.valid_for(&cfg.hostname) {
        r.problem(
            format!(
                "TLS: the certificate {} is for {}, not {}",
                cert.display(),
                info.dns_names.join(", "),
                cfg.hostname
            ),
            format!("get a certificate that names {}", cfg.hostname),
        );
    }
    let left = info.not_after.duration_since(SystemTime::now()).unwrap_or_default();
    if left < EXPIRY_MARGIN {
        r.problem(
            format!("TLS: the certificate {} expires in {} days", cert.display(), left.as_secs() / 86_400),
            "renew it (certbot renew); carrier reloads a changed certificate by itself",
        );
    } else {
        r.ok(format!("TLS: certificate valid for {} for {} more days", cfg.hostname, left.as_secs() / 86_400));
    }
}

/// data_dir and what is in it: nothing world-writable, secrets private.
fn check_permissions(cfg: &Config, r: &mut Report) {
    let dir = &cfg.data_dir;
    let Ok(meta) = std::fs::metadata(dir) else {
        return r.ok(format!("data_dir {} does not exist yet; `carrier serve` creates it", dir.display()));
    };
    let mode = |p: &Path| std::fs::symlink_metadata(p).ok().map(|m| (m.permissions().mode() & 0o7777, m.uid()));
    let mut fine = true;
    let mut bad = |r: &mut Report, what: String, fix: String| {
        fine = false;
        r.problem(what, fix);
    };
    if meta.permissions().mode() & 0o002 != 0 {
        bad(r, format!("data_dir {} is writable by everyone", dir.display()), format!("chmod o-w {}", dir.display()));
    }
    for (name, most) in [("spool", 0o700), ("users", 0o600), ("tls/key.pem", 0o600), ("mail", 0o755)] {
        let path = dir.join(name);
        if let Some((m, _)) = mode(&path)
            && m & !most != 0
        {
            bad(
                r,
                format!("{} has mode {m:o}; it must not be open beyond {most:o}", path.display()),
                format!("chmod {most:o} {}", path.display()),
            );
        }
    }
    let pickup = pickup::dir(dir);
    if let Some((m, _)) = mode(&pickup)
        && m != pickup::MODE
    {
        let fix = format!("chmod {:o} {} (or start `carrier serve`, which sets it)", pickup::MODE, pickup.display());
        bad(r, format!("{} has mode {m:o}, not {:o}", pickup.display(), pickup::MODE), fix);
    }
    if fine {
        r.ok(format!("data_dir {} permissions", dir.display()));
    }
}

fn check_aliases(cfg: &Config, r: &mut Report) {
    let Some(path) = &cfg.aliases else { return };
    let file = match carrier_accounts::AliasFile::open(path) {
        Ok(file) => file,
        Err(e) => return r.problem(format!("aliases: {e}"), "correct the line it names"),
    };
    for warning in file.warnings() {
        r.problem(format!("aliases: {warning}"), "correct or remove that entry");
    }
    let users = match carrier_accounts::UserDb::open(&cfg.data_dir) {
        Ok(users) => users,
        Err(e) => return r.not_checked(format!("alias loops: cannot read the user database: {e}")),
    };
    let count = file.aliases().len();
    let dir = carrier_accounts::Directory::new(cfg.domains.clone(), users, Some(file));
    let loops = dir.alias_loops();
    for problem in &loops {
        r.problem(format!("aliases: {problem}"), format!("break the circle in {}", path.display()));
    }
    let shadowed = dir.shadowed_aliases();
    for problem in &shadowed {
        r.problem(
            format!("aliases: {problem}"),
            format!("delete the account (`carrier user del ...`) or rename the alias in {}", path.display()),
        );
    }
    if loops.is_empty() && shadowed.is_empty() {
        r.ok(format!("aliases {}: {count} entries, no loops", path.display()));
    }
}

/// Many providers block outgoing port 25; relay would then only ever defer.
async fn check_outbound(cfg: &Config, opts: &Options, r: &mut Report) {
    if opts.no_outbound {
        return r.not_checked("outgoing SMTP (--no-outbound)");
    }
    let target = match (&opts.outbound_probe, &cfg.relay.smarthost) {
        (Some(t), _) => t.clone(),
        (None, Some(s)) => format!("{}:{}", s.host, s.port),
        (None, None) => DEFAULT_PROBE.to_string(),
    };
    let probe = target.clone();
    let answer = tokio::task::spawn_blocking(move || banner(&probe)).await.unwrap_or_else(|e| Err(e.to_string()));
    match answer {
        Ok(line) if line.starts_with("220") => r.ok(format!("outgoing SMTP to {target} works ({})", line.trim_end())),
        Ok(line) => r.problem(
            format!("outgoing SMTP to {target}: unexpected greeting {:?}", line.trim_end()),
            "something between this host and the internet intercepts port 25; ask your provider",
        ),
        Err(e) => r.problem(
            format!("outgoing SMTP to {target} failed: {e}"),
            "many providers block port 25 outbound: ask yours to open it, or send through a smarthost \
             ([relay] smarthost = \"smtp.provider.net:587\" with user and password)",
        ),
    }
}

fn banner(target: &str) -> Result<String, String> {
    use std::io::{BufRead, BufReader};
    let addrs: Vec<SocketAddr> = target.to_socket_addrs().map_err(|e| e.to_string())?.collect();
    let addr = addrs.first().ok_or("no address")?;
    let stream = TcpStream::connect_timeout(addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line)
}

fn list(addrs: &[IpAddr]) -> String {
    addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}
