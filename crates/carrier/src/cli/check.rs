//! `carrier check`: the configuration and the host, each finding with how to fix it (an
//! unqualified name, a missing MX or A record, a blocked port 25, a mail loop). Exit 1 when
//! anything is wrong. What cannot be checked (no network, no DNS answer) is said, not
//! counted as wrong.

use carrier_accounts::passwd;
use carrier_config::Config;
use carrier_mta::dns;
use carrier_mta::handoff::{control, pickup};
use carrier_tls::certinfo::CertInfo;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
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
    check_dane(cfg, resolver, r).await;
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
    let sts = carrier_mta::relay::mta_sts::Sts::new(cfg, resolver.clone());
    for domain in &cfg.domains {
        check_domain(host, domain, &ours, resolver, r).await;
        check_authentication(cfg, domain, &ours, &keys, resolver, r).await;
        check_mta_sts(host, domain, &sts, r).await;
    }
}

/// RFC 8461: a domain's MTA-STS policy must name this server, or senders that enforce it keep
/// its mail; a record whose policy cannot be fetched is a problem too (RFC 8461 3.3).
async fn check_mta_sts(host: &str, domain: &str, sts: &carrier_mta::relay::mta_sts::Sts, r: &mut Report) {
    let policy_url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    match sts.published(domain).await {
        Ok(None) => r.ok(format!("{domain}: no MTA-STS policy (optional)")),
        Err(e) => r.problem(
            format!("{domain}: `_mta-sts.{domain}` is published but its policy cannot be fetched: {e}"),
            format!("serve the policy at {policy_url} (carrier dns-records shows one), or remove the record"),
        ),
        Ok(Some(p)) if p.mode == carrier_mta::relay::mta_sts::Mode::None || p.matches(host) => {
            r.ok(format!("{domain}: MTA-STS policy (mode {:?}) names this server", p.mode))
        }
        Ok(Some(p)) => r.problem(
            format!(
                "{domain}: its MTA-STS policy (mode {:?}) names mx {}, not {host}; senders that enforce it will not deliver here",
                p.mode,
                p.mx.join(", ")
            ),
            format!("add `mx: {host}` to the policy at {policy_url}, then change the id in `_mta-sts.{domain}`"),
        ),
    }
}

/// RFC 7672: TLSA records that match no certificate of ours make every sender that checks
/// DANE keep our mail in its queue; none at all is fine (DANE is optional).
async fn check_dane(cfg: &Config, resolver: &dns::Resolver, r: &mut Report) {
    let host = &cfg.hostname;
    let name = format!("_25._tcp.{host}");
    let records = match dns::tlsa(resolver, &name).await {
        Ok(records) if !records.is_empty() => records,
        Ok(_) | Err(dns::Failure::NotFound) => return r.ok(format!("DANE: no TLSA records at {name} (optional)")),
        Err(dns::Failure::Unreachable(e)) => return r.not_checked(format!("DANE: the TLSA records at {name} ({e})")),
    };
    let cert_file = cfg.tls.as_ref().map_or_else(|| cfg.data_dir.join("tls/cert.pem"), |t| t.cert.clone());
    let chain: Vec<Vec<u8>> = std::fs::read(&cert_file)
        .map(|pem| {
            use rustls_pki_types::pem::PemObject;
            rustls_pki_types::CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok).map(|c| c.to_vec()).collect()
        })
        .unwrap_or_default();
    // DANE-EE names the server's own certificate, DANE-TA one of the chain it sends.
    let matches = records.iter().filter(|t| t.is_usable()).any(|t| match t.usage {
        3 => chain.first().is_some_and(|ee| t.matches(ee)),
        _ => chain.iter().skip(1).any(|c| t.matches(c)),
    });
    if matches {
        return r.ok(format!("DANE: a TLSA record at {name} matches the certificate"));
    }
    let fix = match chain.first().and_then(|ee| carrier_tls::dane::Tlsa::end_entity(ee)) {
        Some(tlsa) => format!("publish `{name}. IN TLSA {tlsa}` (carrier dns-records), then remove the old records"),
        None => format!("remove the TLSA records at {name}, or make {} readable", cert_file.display()),
    };
    r.problem(
        format!(
            "DANE: none of the {} TLSA records at {name} matches the certificate {}; senders that check DANE will not deliver to this server",
            records.len(),
            cert_file.display()
        ),
        fix,
    );
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

/// Who the daemon runs as: `user` (the unit starts it so; `serve` started as root becomes
/// it), else whoever starts it, taken to be whoever runs check.
struct RunsAs {
    name: String,
    uid: u32,
    groups: Vec<u32>,
}

impl RunsAs {
    fn find(cfg: &Config, r: &mut Report) -> Option<RunsAs> {
        let account = match &cfg.user {
            Some(name) => match passwd::by_name(name) {
                Some(account) => account,
                None => {
                    r.problem(
                        format!("user: the account {name:?} does not exist, so the daemon cannot run as it"),
                        format!(
                            "make it: useradd --system --user-group --no-create-home --shell /usr/sbin/nologin {name} \
                             (or change `user`)"
                        ),
                    );
                    return None;
                }
            },
            None => passwd::by_uid(passwd::caller().0)?,
        };
        let groups = passwd::groups_of(&account);
        Some(RunsAs { name: account.name, uid: account.uid, groups })
    }

    /// True when the permission bits `want` (4 read, 2 write, 1 search) of `meta` are this
    /// account's, as the kernel decides: owner's bits, else the group's, else others'.
    fn may(&self, meta: &std::fs::Metadata, want: u32) -> bool {
        let mode = meta.mode();
        let bits = match () {
            _ if self.uid == 0 => 7,
            _ if meta.uid() == self.uid => mode >> 6,
            _ if self.groups.contains(&meta.gid()) => mode >> 3,
            _ => mode,
        };
        bits & want == want
    }
}

/// What the daemon will do with data_dir (issue 15.7): make it below directories that exist
/// (none of them a file), and write in it as the account it runs as. `serve` started as
/// root gives data_dir to `user`, but the unit `carrier init` writes starts it as `user`
/// from the beginning, so data_dir must be that account's already.
fn check_data_dir(cfg: &Config, r: &mut Report) -> bool {
    let dir = &cfg.data_dir;
    let Some(who) = RunsAs::find(cfg, r) else { return false };
    let name = &who.name;
    let chown = format!("chown -R {name}: {}", dir.display());
    let mut existing = Path::new("/");
    for path in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => {
                r.problem(
                    format!("data_dir {}: {} is a file, not a directory", dir.display(), path.display()),
                    format!("move {} away, or set `data_dir` to a directory", path.display()),
                );
                return false;
            }
            Ok(meta) if path != dir && !who.may(&meta, 1) => {
                r.problem(
                    format!("data_dir {}: {name} may not enter {}", dir.display(), path.display()),
                    format!("chmod o+x {} (or choose a data_dir {name} can reach)", path.display()),
                );
                return false;
            }
            Ok(_) => existing = path,
            Err(_) => break,
        }
    }
    if existing != dir.as_path() {
        let can_make = std::fs::metadata(existing).is_ok_and(|m| who.may(&m, 3));
        if can_make || who.uid == 0 || cfg.user.is_none() {
            r.ok(format!("data_dir {} does not exist yet; `carrier serve` creates it", dir.display()));
            return true;
        }
        r.problem(
            format!(
                "data_dir {} does not exist, and {name} may not create it in {}",
                dir.display(),
                existing.display()
            ),
            format!("mkdir -p {} && {chown} (carrier init does both)", dir.display()),
        );
        return false;
    }
    let entries = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_else(|_| vec![]);
    let mut denied: Vec<String> = Vec::new();
    for path in std::iter::once(dir.clone()).chain(entries) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        // A directory must be searchable and writable, a file readable and writable.
        let want = if meta.is_dir() { 3 } else { 6 };
        if !meta.file_type().is_symlink() && !who.may(&meta, want) {
            denied.push(path.display().to_string());
        }
    }
    if denied.is_empty() {
        r.ok(format!("data_dir {} is writable by {name}, who runs the daemon", dir.display()));
        return true;
    }
    r.problem(format!("{name}, who runs the daemon, may not write {}", denied.join(", ")), chown);
    false
}

/// data_dir and what is in it: nothing world-writable, secrets private.
fn check_permissions(cfg: &Config, r: &mut Report) {
    let dir = &cfg.data_dir;
    if !check_data_dir(cfg, r) {
        return;
    }
    let Ok(meta) = std::fs::metadata(dir) else { return };
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

/// Many providers block outgoing port 25; relay would then only ever defer. The probe looks
/// its target up with the relay agent's own resolver (`[dns] nameservers`), so a DNS failure
/// is named as one and not blamed on port 25 (issue 15.7).
async fn check_outbound(cfg: &Config, opts: &Options, r: &mut Report) {
    if opts.no_outbound {
        return r.not_checked("outgoing SMTP (--no-outbound)");
    }
    let target = match (&opts.outbound_probe, &cfg.relay.smarthost) {
        (Some(t), _) => t.clone(),
        (None, Some(s)) => format!("{}:{}", s.host, s.port),
        (None, None) => DEFAULT_PROBE.to_string(),
    };
    let Some((host, port)) = split_host_port(&target) else {
        return r.problem(
            format!("--outbound-probe {target}: not HOST:PORT"),
            "give it as mx.example.net:25 or 192.0.2.1:25",
        );
    };
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            let resolver = match dns::resolver(cfg) {
                Ok(resolver) => resolver,
                Err(e) => return r.not_checked(format!("outgoing SMTP to {target}: {e}")),
            };
            match dns::addresses(&resolver, host).await {
                Ok(addrs) if !addrs.is_empty() => addrs,
                Ok(_) | Err(dns::Failure::NotFound) => {
                    return r.problem(
                        format!(
                            "outgoing SMTP to {target}: the name servers say {host} does not exist, so port {port} \
                             was not tried; relaying would fail the same way"
                        ),
                        format!("check the name servers carrier asks ({})", resolver_name(cfg)),
                    );
                }
                Err(dns::Failure::Unreachable(e)) => {
                    return r.not_checked(format!(
                        "outgoing SMTP to {target}: cannot look up {host}: no answer from the name servers ({e}); \
                         port {port} was not tried"
                    ));
                }
            }
        }
    };
    let answer = tokio::task::spawn_blocking(move || banner(&addrs, port))
        .await
        .unwrap_or_else(|e| Err(Unreached::Other(e.to_string())));
    match answer {
        Ok((ip, line)) if line.starts_with("220") => {
            r.ok(format!("outgoing SMTP to {target} ({ip}) works ({})", line.trim_end()))
        }
        Ok((ip, line)) => r.problem(
            format!("outgoing SMTP to {target} ({ip}): unexpected greeting {:?}", line.trim_end()),
            "something between this host and the internet intercepts port 25; ask your provider",
        ),
        Err(why) => {
            let (what, fix) = why.explain(port);
            r.problem(format!("outgoing SMTP to {target}: {what}"), fix)
        }
    }
}

/// Which name servers carrier asks, for messages.
fn resolver_name(cfg: &Config) -> String {
    match cfg.dns.nameservers.as_slice() {
        [] => "the system's, in /etc/resolv.conf; or set [dns] nameservers".into(),
        servers => {
            format!("[dns] nameservers = {}", servers.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "))
        }
    }
}

/// `host:port`, `1.2.3.4:port` or `[::1]:port`.
fn split_host_port(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((host, port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
}

/// Why no greeting came.
#[derive(Debug)]
enum Unreached {
    /// No answer to the connection attempt: what a provider's block looks like.
    TimedOut(IpAddr),
    /// The host (or a firewall on the way) answered with a reset.
    Refused(IpAddr),
    /// This host has no route to the address.
    NoRoute(IpAddr, String),
    /// Connected, but nothing was said.
    Silent(IpAddr),
    Other(String),
}

impl Unreached {
    fn classify(ip: IpAddr, e: &std::io::Error) -> Unreached {
        use std::io::ErrorKind::*;
        match e.kind() {
            TimedOut | WouldBlock => Unreached::TimedOut(ip),
            ConnectionRefused => Unreached::Refused(ip),
            NetworkUnreachable | HostUnreachable => Unreached::NoRoute(ip, e.to_string()),
            _ => Unreached::Other(format!("{ip}: {e}")),
        }
    }

    /// What happened and what to do, in words.
    fn explain(&self, port: u16) -> (String, String) {
        let smarthost = "or send through your provider's smarthost ([relay] smarthost = \"smtp.provider.net:587\" \
                         with user and password)";
        match self {
            Unreached::TimedOut(ip) => (
                format!("connecting to {ip} port {port} got no answer within 10 s: outgoing port {port} is blocked"),
                format!("many providers block port 25 outbound: ask yours to open it, {smarthost}"),
            ),
            Unreached::Refused(ip) => (
                format!("{ip} refused the connection on port {port}: nothing listens there, or a firewall rejects it"),
                format!(
                    "if the probe's target is right, a firewall on the way rejects port {port}: ask your provider, {smarthost}"
                ),
            ),
            Unreached::NoRoute(ip, e) => (
                format!("no route to {ip} ({e})"),
                "this host cannot reach that network at all (IPv6 without a route?); check its network set-up".into(),
            ),
            Unreached::Silent(ip) => (
                format!("{ip} accepted the connection but sent no greeting within 10 s"),
                "something between this host and the internet intercepts port 25; ask your provider".into(),
            ),
            Unreached::Other(e) => (e.clone(), format!("check the network, {smarthost}")),
        }
    }
}

/// The greeting of the first address that answers. After a timeout the others are not
/// tried: a blocked port times out on every one of them.
fn banner(addrs: &[IpAddr], port: u16) -> Result<(IpAddr, String), Unreached> {
    use std::io::{BufRead, BufReader};
    let mut last = Unreached::Other("no address".into());
    for &ip in addrs {
        let stream = match TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(10)) {
            Ok(stream) => stream,
            Err(e) => {
                last = Unreached::classify(ip, &e);
                if matches!(last, Unreached::TimedOut(_)) {
                    break;
                }
                continue;
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| Unreached::Other(e.to_string()))?;
        let mut line = String::new();
        return match BufReader::new(stream).read_line(&mut line) {
            Ok(_) => Ok((ip, line)),
            Err(_) => Err(Unreached::Silent(ip)),
        };
    }
    Err(last)
}

fn list(addrs: &[IpAddr]) -> String {
    addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_targets_are_split_into_host_and_port() {
        assert_eq!(split_host_port("gmail-smtp-in.l.google.com:25"), Some(("gmail-smtp-in.l.google.com", 25)));
        assert_eq!(split_host_port("192.0.2.1:2525"), Some(("192.0.2.1", 2525)));
        assert_eq!(split_host_port("[2001:db8::1]:25"), Some(("2001:db8::1", 25)));
        for bad in ["mx.example.net", ":25", "mx.example.net:smtp", "mx.example.net:70000"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }

    /// A timeout is what a provider's block looks like; a reset is not.
    #[test]
    fn connection_failures_are_named_by_their_cause() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let kind = |k| Unreached::classify(ip, &std::io::Error::from(k)).explain(25);
        let (what, fix) = kind(std::io::ErrorKind::TimedOut);
        assert!(what.contains("no answer within 10 s: outgoing port 25 is blocked"), "{what}");
        assert!(fix.contains("ask yours to open it") && fix.contains("smarthost"), "{fix}");
        let (what, _) = kind(std::io::ErrorKind::ConnectionRefused);
        assert!(what.contains("refused the connection") && !what.contains("blocked"), "{what}");
        let (what, fix) = kind(std::io::ErrorKind::NetworkUnreachable);
        assert!(what.starts_with("no route to 192.0.2.1") && fix.contains("network"), "{what}");
    }
}
