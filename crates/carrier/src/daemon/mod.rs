//! `carrier serve`, the daemon: opens the stores, binds the listeners, wires the mail path
//! (carrier-mta) together and starts delivery. Everything under `daemon/` runs in this
//! process only; the CLI never imports it.

mod conn;
mod control;
mod imap;
mod limits;
mod login;
mod managesieve;
mod memory;
mod pickup;
mod pop3;
mod shared;
mod smtp;
mod status;

use crate::privileges;
use carrier_accounts::{Directory, UserDb, generate_password};
use carrier_config::Config;
use carrier_mailauth::{Keyring, Signer, Verifier, keys};
use carrier_mta::greylist::Greylist;
use carrier_mta::recent::Recent;
use carrier_mta::relay::Relay;
use carrier_mta::{Intake, MailAuth, SharedDirectory, dns, handoff, jobs, runner};
use carrier_spool::Spool;
use carrier_store::{Maildir, Quota};
pub use memory::return_large_frees_to_the_system;
use shared::Server;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// Runs the daemon until it is killed or gets SIGTERM/SIGINT.
pub async fn serve(cfg: Config) -> Result<(), String> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
        format!("cannot create data_dir {}: {e}; create it or set `data_dir` in carrier.toml", cfg.data_dir.display())
    })?;
    let switch_to = privileges::target(&cfg)?;
    // The control socket first: a second daemon on the same data_dir stops here, by name.
    let control = control::bind(&cfg.data_dir)?;
    handoff::pickup::create(&cfg.data_dir).map_err(|e| {
        format!("cannot create the pickup directory {}: {e}", handoff::pickup::dir(&cfg.data_dir).display())
    })?;
    let directory = open_directory(&cfg)?;
    let spool = Spool::open(&cfg.data_dir.join("spool"))
        .map_err(|e| format!("cannot open the queue in {}: {e}", cfg.data_dir.join("spool").display()))?;
    let configured = cfg.tls.as_ref().map(|t| (t.cert.as_path(), t.key.as_path()));
    let (tls, source) =
        carrier_tls::Reloadable::new(&cfg.hostname, &cfg.data_dir, configured).map_err(|e| e.to_string())?;
    info!("TLS certificate: {source}");
    let open_files = limits::raise_open_files();
    // Each connection holds a descriptor; keep some for the spool, mailboxes and the resolver.
    let wanted = (cfg.smtp.max_connections + cfg.pop3.max_connections + cfg.imap.max_connections) as u64 + 256;
    if open_files < wanted {
        warn!(
            "only {open_files} open files are allowed; with the configured connection limits carrier may need \
             {wanted}: raise the limit (LimitNOFILE= in the systemd unit, or ulimit -n)"
        );
    }
    let signer = Arc::new(dkim_signer(&cfg)?);
    let listeners = bind(&cfg).await?;
    // Everything that needs root is done: ports bound, certificate and keys read, files created.
    if let Some(target) = &switch_to {
        privileges::own_data_dir(&cfg.data_dir, target)?;
        privileges::drop_to(target)?;
    }
    let delivered = Arc::new(Recent::default());
    let smtp_addrs = listeners
        .iter()
        .filter(|(_, service)| matches!(service, Service::Smtp(smtp::Service::Smtp)))
        .filter_map(|(l, _)| l.local_addr().ok())
        .collect();
    let resolver = dns::resolver(&cfg)?;
    let relay = Relay::new(&cfg, resolver.clone(), smtp_addrs);
    let directory = Arc::new(SharedDirectory::new(directory));
    let quota = Quota { storage: cfg.mailbox.quota, messages: cfg.mailbox.quota_messages };
    let store =
        Maildir::new(cfg.data_dir.join("mail"), &cfg.hostname).with_quota(quota).with_quota_source(directory.clone());
    let (jobs, inbox) = jobs::channel();
    let verifier = match cfg.authentication.verify {
        true => Some(Verifier::new(resolver.clone(), &cfg.hostname, cfg.authentication.clone())),
        false => None,
    };
    let intake = Intake::new(cfg.clone(), spool, directory.clone(), jobs, MailAuth { signer, verifier });
    let context = runner::Context {
        cfg: cfg.clone(),
        intake: intake.clone(),
        store: store.clone(),
        relay: Arc::new(relay),
        directory: directory.clone(),
        delivered: delivered.clone(),
    };
    runner::start(context, inbox);
    let server = Arc::new(Server {
        rates: shared::Rates::new(&cfg.antispam),
        login_cache: Arc::new(carrier_accounts::LoginCache::new(cfg.submission.login_cache)),
        greylist: cfg.antispam.greylisting.map(|delay| Greylist::open(&cfg.data_dir, delay, SystemTime::now())),
        connections: Arc::new(Semaphore::new(cfg.smtp.max_connections)),
        message_memory: Arc::new(Semaphore::new((cfg.smtp.max_message_memory / 1024) as usize)),
        pop3_connections: Arc::new(Semaphore::new(cfg.pop3.max_connections)),
        imap_connections: Arc::new(Semaphore::new(cfg.imap.max_connections)),
        store,
        cfg,
        intake,
        directory,
        tls,
        throttle: limits::Throttle::default(),
        clients: limits::Limiter::default(),
        control_clients: limits::Limiter::default(),
        prelogin_pop3: limits::Limiter::default(),
        prelogin_imap: limits::Limiter::default(),
        user_ips: limits::Limiter::default(),
        listeners: listeners.iter().filter_map(|(l, s)| Some((s.name(), l.local_addr().ok()?))).collect(),
        delivered,
        started: SystemTime::now(),
        resolver,
    });
    recover(&server)?;
    for (listener, service) in listeners {
        match service {
            Service::Smtp(s) => tokio::spawn(smtp::listen(server.clone(), listener, s)),
            Service::Pop3(s) => tokio::spawn(pop3::listen(server.clone(), listener, s)),
            Service::Imap(s) => tokio::spawn(imap::listen(server.clone(), listener, s)),
            Service::ManageSieve => tokio::spawn(managesieve::listen(server.clone(), listener)),
        };
    }
    tokio::spawn(control::serve(server.clone(), control));
    tokio::spawn(pickup::run(server.clone()));
    tokio::spawn(memory::trim_periodically());
    if server.cfg.delivery.tls_reports {
        let (intake, cfg, resolver) = (server.intake.clone(), server.cfg.clone(), server.resolver.clone());
        tokio::spawn(carrier_mta::relay::tls_report::run_daily(intake, cfg, resolver));
    }
    info!("carrier {} ready as {}", env!("CARGO_PKG_VERSION"), server.cfg.hostname);
    run_until_stopped(&server).await;
    info!("shutting down");
    Ok(())
}

/// The DKIM keys: made for the local domains that have none (first start), then read.
fn dkim_signer(cfg: &Config) -> Result<Signer, String> {
    let created = keys::ensure(cfg, SystemTime::now()).map_err(|e| format!("DKIM keys: {e}"))?;
    for path in &created {
        privileges::own(cfg, path)?;
    }
    let keyring = Keyring::load(cfg).map_err(|e| format!("cannot read the DKIM keys: {e}"))?;
    if !created.is_empty() {
        info!("DKIM: made new keys in {}; publish them: carrier dns-records", cfg.data_dir.join("dkim").display());
    }
    log_keys(&keyring, cfg);
    Ok(Signer::new(keyring))
}

fn log_keys(keyring: &Keyring, cfg: &Config) {
    if !cfg.dkim.sign {
        return info!("DKIM: signing is off ([dkim] sign = false)");
    }
    for key in keyring.keys().iter().filter(|k| k.signing) {
        info!("DKIM: signing mail of {} with {} ({})", key.domain, key.record_name(), key.kind.tag());
    }
}

fn open_directory(cfg: &Config) -> Result<Directory, String> {
    if cfg.delivery.srs {
        let secret = carrier_accounts::srs::secret_path(&cfg.data_dir);
        carrier_accounts::Srs::create_secret(&cfg.data_dir)
            .map_err(|e| format!("cannot make the SRS secret {}: {e}", secret.display()))?;
        privileges::own(cfg, &secret)?;
    }
    let directory = carrier_mta::directory::open(cfg)?;
    for problem in directory.alias_loops() {
        warn!("aliases: {problem}");
    }
    for problem in directory.shadowed_aliases() {
        warn!("aliases: {problem}; delete the account or rename the alias if that is not what you want");
    }
    Ok(directory)
}

/// What a listener serves.
#[derive(Debug, Clone, Copy)]
enum Service {
    Smtp(smtp::Service),
    Pop3(pop3::Service),
    Imap(imap::Service),
    ManageSieve,
}

impl Service {
    /// The name in logs and in `carrier status`.
    fn name(self) -> &'static str {
        match self {
            Service::Smtp(s) => s.name(),
            Service::Pop3(s) => s.name(),
            Service::Imap(s) => s.name(),
            Service::ManageSieve => "managesieve",
        }
    }
}

async fn bind(cfg: &Config) -> Result<Vec<(TcpListener, Service)>, String> {
    let mut listeners = Vec::new();
    for (service, addrs) in [
        (Service::Smtp(smtp::Service::Smtp), &cfg.listen.smtp),
        (Service::Smtp(smtp::Service::Submission), &cfg.listen.submission),
        (Service::Smtp(smtp::Service::Smtps), &cfg.listen.smtps),
        (Service::Pop3(pop3::Service::Pop3), &cfg.listen.pop3),
        (Service::Pop3(pop3::Service::Pop3s), &cfg.listen.pop3s),
        (Service::Imap(imap::Service::Imap), &cfg.listen.imap),
        (Service::Imap(imap::Service::Imaps), &cfg.listen.imaps),
        (Service::ManageSieve, &cfg.listen.managesieve),
    ] {
        let name = service.name();
        for addr in addrs {
            let listener = TcpListener::bind(addr).await.map_err(|e| bind_error(addr, &e))?;
            // The bound address, not the configured one: port 0 picks a free port.
            let bound = listener.local_addr().map_err(|e| bind_error(addr, &e))?;
            info!("listening for {name} on {bound}");
            listeners.push((listener, service));
        }
    }
    if !listeners.iter().any(|(_, s)| matches!(s, Service::Smtp(_))) {
        warn!(
            "no [listen] smtp, submission or smtps address is configured: carrier will accept no mail over the network"
        );
    }
    Ok(listeners)
}

fn bind_error(addr: &std::net::SocketAddr, e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another program (sendmail, postfix, exim?) is listening there; stop it or change [listen]"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need root; run as root or use a port above 1024 in [listen]"
        }
        _ => "check the address in [listen]",
    };
    format!("cannot listen on {addr}: {e}; {hint}")
}

/// Hands every message left in the queue by a previous run back to delivery.
fn recover(server: &Server) -> Result<(), String> {
    let queued = server.spool().list().map_err(|e| format!("cannot list the queue: {e}"))?;
    if !queued.is_empty() {
        info!("recovering {} queued message(s)", queued.len());
    }
    for q in queued {
        server.intake.jobs().submit(q.id, true);
    }
    Ok(())
}

/// First run on development defaults: make an account so the server is usable at once.
pub fn first_run_account(cfg: &Config) -> Result<(), String> {
    let mut users = UserDb::open(&cfg.data_dir).map_err(|e| format!("cannot open the user database: {e}"))?;
    if !users.list().is_empty() {
        return Ok(());
    }
    let address = format!("postmaster@{}", cfg.domains[0]);
    let password = generate_password();
    users.add(&address, &password).map_err(|e| e.to_string())?;
    eprintln!("carrier: first run: created the account {address} with password {password}");
    eprintln!("carrier: (shown only this once; change it with `carrier user passwd {address}`)");
    Ok(())
}

/// Serves until SIGTERM or SIGINT. SIGHUP, or a changed certificate file (checked every
/// 30 seconds), reloads the TLS certificate, as administrators expect after renewing it.
async fn run_until_stopped(server: &Server) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let mut check = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                reload_tls(server, "SIGHUP");
                reload_dkim(server);
            }
            _ = check.tick() => {
                if server.tls.changed_on_disk() {
                    reload_tls(server, "certificate file changed");
                }
            }
        }
    }
}

/// After `carrier dkim rotate`: the new keys sign from now on.
fn reload_dkim(server: &Server) {
    match server.intake.signer().reload(&server.cfg) {
        Ok(_) => log_keys(&server.intake.signer().keyring(), &server.cfg),
        Err(e) => warn!("DKIM keys not reloaded (SIGHUP): {e}; the previous keys stay in use"),
    }
}

fn reload_tls(server: &Server, why: &str) {
    match server.tls.reload() {
        Ok(source) => info!("TLS certificate reloaded ({why}): {source}"),
        Err(e) => warn!("TLS certificate not reloaded ({why}): {e}; the previous certificate stays in use"),
    }
}
