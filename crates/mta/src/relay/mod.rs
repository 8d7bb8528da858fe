//! Remote delivery: mail for other domains goes to their MX hosts, or everything through
//! the smarthost. One call delivers one message to the recipients of one destination in a
//! single transaction; connections are kept a few seconds for the next message.

pub mod client;
pub mod dane;
pub mod mta_sts;
pub mod route;
pub mod tls_report;

use crate::outcome::{Failure, Outcome};
use carrier_config::Config;
use carrier_tls::dane::Tlsa;
use client::{Connection, Credentials, Mail, Mandate, OpenError, Peer, Setup, TlsPolicy};
use dane::{Dane, HostTls};
use hickory_resolver::TokioResolver;
use mta_sts::Policy;
use route::{Hop, Me};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tls_report::{Result as TlsResult, Session};
use tracing::info;

/// Addresses tried for one delivery before giving up for now (Postfix's smtp_mx_address_limit).
const MAX_ADDRESSES: usize = 5;
/// How long an idle connection is kept for the next message to the same host.
const KEEP_IDLE: Duration = Duration::from_secs(5);

/// The result of one delivery attempt for a destination.
pub struct Attempt {
    /// The host that answered last, for `relay=` in the log; None when none was reached.
    pub relay: Option<Peer>,
    /// One per recipient, in order.
    pub outcomes: Vec<Outcome>,
}

/// The message and envelope to deliver.
pub struct Message<'a> {
    pub sender: &'a str,
    pub recipients: Vec<String>,
    pub bytes: &'a [u8],
    pub eight_bit: bool,
    pub smtputf8: bool,
}

/// The remote delivery agent's shared state.
pub struct Relay {
    resolver: TokioResolver,
    me: Me,
    smarthost: Option<Smarthost>,
    opportunistic: Arc<rustls::ClientConfig>,
    pool: Pool,
    /// Destinations none of whose hosts could be reached, until when (Postfix's dead
    /// destinations): other messages to them are deferred at once instead of each waiting
    /// out the same connect timeouts.
    suspended: Mutex<HashMap<String, Suspension>>,
    /// How long a destination stays suspended: the first retry interval.
    suspend_for: Duration,
    /// The receiving domains' MTA-STS policies; None when `[delivery] mta_sts = false`.
    sts: Option<mta_sts::Sts>,
    /// Where sessions with MX hosts are recorded for TLS reports (RFC 8460).
    reports: Option<tls_report::Recorder>,
    /// Secure lookups of TLSA records; None when `[delivery] dane = false`.
    dane: Option<Dane>,
}

/// Why and until when a destination is not tried.
struct Suspension {
    until: Instant,
    relay: Option<Peer>,
    failure: Failure,
}

struct Smarthost {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    tls: Result<Arc<rustls::ClientConfig>, String>,
}

impl Relay {
    /// Sets up from the configuration; `listeners` are the bound SMTP addresses (loop checks).
    pub fn new(cfg: &Config, resolver: TokioResolver, listeners: Vec<std::net::SocketAddr>) -> Relay {
        let smarthost = cfg.relay.smarthost.as_ref().map(|s| Smarthost {
            host: s.host.clone(),
            port: s.port,
            credentials: s.user.clone().zip(s.password.clone()).map(|(user, password)| Credentials { user, password }),
            tls: carrier_tls::verifying_client_config(
                s.ca_file.as_deref().unwrap_or(Path::new(carrier_tls::SYSTEM_CA_FILE)),
                "`smarthost_ca` under [relay]",
            )
            .map_err(|e| e.to_string()),
        });
        if let Some(Smarthost { tls: Err(e), .. }) = &smarthost {
            tracing::warn!("smarthost: {e}; mail for other domains will wait in the queue");
        }
        Relay {
            sts: cfg.delivery.mta_sts.then(|| mta_sts::Sts::new(cfg, resolver.clone())),
            reports: cfg.delivery.tls_reports.then(|| tls_report::Recorder::new(&cfg.data_dir)),
            dane: cfg.delivery.dane.then(|| Dane::new(cfg)),
            resolver,
            me: Me { hostname: cfg.hostname.clone(), listeners, port: cfg.delivery.remote_port },
            smarthost,
            opportunistic: carrier_tls::insecure_client_config(),
            pool: Pool::default(),
            suspended: Mutex::default(),
            suspend_for: cfg.delivery.retry[0],
        }
    }

    /// Tries suspended destinations again with the next message (`carrier queue flush`:
    /// the administrator may have fixed the network).
    pub fn resume_all(&self) {
        self.suspended.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Postfix's "delivery temporarily suspended": the failure that suspended `destination`,
    /// while it lasts.
    fn suspension(&self, destination: &str) -> Option<(Option<Peer>, Failure)> {
        let mut suspended = self.suspended.lock().unwrap_or_else(|e| e.into_inner());
        let s = suspended.get(destination)?;
        if s.until <= Instant::now() {
            suspended.remove(destination);
            return None;
        }
        let mut failure = s.failure.clone();
        failure.text = format!("delivery temporarily suspended: {}", failure.text);
        Some((s.relay.clone(), failure))
    }

    fn suspend(&self, destination: &str, relay: Option<Peer>, failure: Failure) {
        let mut suspended = self.suspended.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if suspended.len() > 1000 {
            suspended.retain(|_, s| s.until > now);
        }
        let until = now + self.suspend_for;
        suspended.insert(destination.to_string(), Suspension { until, relay, failure });
    }

    /// The destination a recipient belongs to: its domain, or everything to the smarthost.
    pub fn destination(&self, address: &str) -> String {
        match &self.smarthost {
            Some(s) => format!("[{}]:{}", s.host, s.port),
            None => address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase(),
        }
    }

    /// Delivers `msg` to its recipients, all of one destination, trying its hosts in order.
    pub async fn deliver(&self, destination: &str, msg: &Message<'_>) -> Attempt {
        if let Some((relay, failure)) = self.suspension(destination) {
            return all(relay, msg, failure);
        }
        let (hops, policy, auth, port, sts) = match self.plan(destination).await {
            Ok(plan) => plan,
            Err(failure) => return all(None, msg, failure),
        };
        // Sessions with a domain's MX hosts are what TLS reports count; a smarthost is not one.
        let report = |result: TlsResult, peer: &Peer, tlsa: Option<&[Tlsa]>| {
            if let Some(recorder) = self.reports.as_ref().filter(|_| self.smarthost.is_none()) {
                let mx = Some((peer.name.as_str(), peer.ip));
                recorder.record(&Session { domain: destination, policy: sts.as_ref(), tlsa, result, mx });
            }
        };
        let secure = match self.dane_applies(destination).await {
            Ok(secure) => secure,
            Err(failure) => return all(None, msg, failure),
        };
        let mut dane_of: HashMap<String, Result<HostTls, Failure>> = HashMap::new();
        let mail = Mail {
            sender: msg.sender,
            recipients: &msg.recipients,
            message: msg.bytes,
            eight_bit: msg.eight_bit,
            smtputf8: msg.smtputf8,
        };
        let mut last: Option<(Option<Peer>, Failure)> = None;
        let mut addresses: Vec<(String, IpAddr)> = Vec::new();
        for hop in hops {
            addresses.extend(hop.addrs.into_iter().map(|ip| (hop.name.clone(), ip)));
        }
        addresses.truncate(MAX_ADDRESSES);
        let mut reached = false;
        for (name, ip) in addresses {
            let host_tls = match dane_of.get(&name) {
                Some(known) => known.clone(),
                None => {
                    let found = match (secure, &self.dane) {
                        (true, Some(dane)) => dane.host(&name, port).await,
                        _ => Ok(HostTls::None),
                    };
                    dane_of.insert(name.clone(), found.clone());
                    found
                }
            };
            let peer = Peer { name, ip, port };
            // RFC 8461 2: where DANE applies, it is used instead of MTA-STS.
            let (hop_policy, tlsa) = match host_tls {
                Ok(HostTls::None) => (policy.clone(), None),
                Ok(HostTls::Verify(records)) => {
                    let config = carrier_tls::dane::client_config(records.clone(), &peer.name);
                    (TlsPolicy::Required(config, Mandate::Dane), Some(records))
                }
                Ok(HostTls::Encrypt) => (TlsPolicy::Required(self.opportunistic.clone(), Mandate::DaneEncrypt), None),
                // RFC 7672 2.2.2: a host whose TLSA records cannot be looked up is not used.
                Err(f) => {
                    last = Some((Some(peer), f));
                    continue;
                }
            };
            let setup = Setup { helo: &self.me.hostname, tls: &hop_policy, auth: auth.as_ref() };
            let mut tls = None;
            let opened = self.connect(peer.clone(), &setup, &mut tls).await;
            if let Some(result) = tls {
                report(result, &peer, tlsa.as_deref());
            }
            let mut conn = match opened {
                Ok(conn) => {
                    reached = true;
                    conn
                }
                Err(f) if f.permanent => return all(Some(peer), msg, f),
                Err(f) => {
                    last = Some((Some(peer), f));
                    continue;
                }
            };
            match conn.send(&mail).await {
                Ok(outcomes) => {
                    self.pool.keep(conn);
                    return Attempt { relay: Some(peer), outcomes };
                }
                Err(f) if f.permanent => {
                    conn.quit().await;
                    return all(Some(peer), msg, f);
                }
                // A 4xx to MAIL or a lost connection: the next host may do better (RFC 5321 5.1).
                Err(f) => last = Some((Some(peer), f)),
            }
        }
        let (relay, failure) = last.unwrap_or((None, Failure::temporary("4.4.1", "no host to try")));
        if !reached {
            // No host answered: the next messages would only wait out the same timeouts.
            self.suspend(destination, relay.clone(), failure.clone());
        }
        all(relay, msg, failure)
    }

    /// RFC 7672 2.2.1: whether DANE applies to the destination's MX hosts (their MX records,
    /// or the domain's own address, are DNSSEC-secure). Never for a smarthost or an address.
    async fn dane_applies(&self, destination: &str) -> Result<bool, Failure> {
        match &self.dane {
            Some(dane) if self.smarthost.is_none() && !destination.starts_with('[') => {
                dane.domain_is_secure(destination).await
            }
            _ => Ok(false),
        }
    }

    /// The hosts to try, the TLS policy, the credentials and the port for a destination, and
    /// the domain's MTA-STS policy in force.
    async fn plan(&self, destination: &str) -> Result<Plan, Failure> {
        let Some(s) = &self.smarthost else {
            let hops = route::resolve(&self.resolver, destination, &self.me).await?;
            let (hops, policy, sts) = self.mta_sts(destination, hops).await?;
            return Ok((hops, policy, None, self.me.port, sts));
        };
        let config = s
            .tls
            .clone()
            .map_err(|e| Failure::temporary("4.7.5", format!("cannot verify the smarthost's certificate: {e}")))?;
        // RFC 8314 3.3: port 465 is TLS from the first byte; other ports use STARTTLS.
        let policy = if s.port == 465 { TlsPolicy::Implicit(config) } else { TlsPolicy::StartTls(config) };
        let addrs = match s.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.smarthost_addresses(&s.host).await?,
        };
        Ok((vec![Hop { name: s.host.clone(), addrs }], policy, s.credentials.clone(), s.port, None))
    }

    /// The hosts and TLS an MX delivery uses under the domain's MTA-STS policy (RFC 8461 5):
    /// enforced, only the hosts it names, over verified TLS, and deferred when none is left.
    async fn mta_sts(
        &self,
        destination: &str,
        hops: Vec<Hop>,
    ) -> Result<(Vec<Hop>, TlsPolicy, Option<Policy>), Failure> {
        let opportunistic = TlsPolicy::Opportunistic { config: self.opportunistic.clone(), plain: false };
        let Some(sts) = &self.sts else { return Ok((hops, opportunistic, None)) };
        let policy = match sts.policy(destination).await {
            Some(p) if p.mode == mta_sts::Mode::Enforce => p,
            testing => return Ok((hops, opportunistic, testing)),
        };
        let config = sts.verifying().map_err(|e| {
            Failure::temporary("4.7.5", format!("{destination} requires verified TLS (MTA-STS), but {e}"))
        })?;
        let allowed: Vec<Hop> = hops.iter().filter(|h| policy.matches(&h.name)).cloned().collect();
        if allowed.is_empty() {
            if let Some(recorder) = &self.reports {
                for hop in &hops {
                    let mx = hop.addrs.first().map(|ip| (hop.name.as_str(), *ip));
                    let session = Session {
                        domain: destination,
                        policy: Some(&policy),
                        tlsa: None,
                        result: TlsResult::MxNotInPolicy,
                        mx,
                    };
                    recorder.record(&session);
                }
            }
            return Err(Failure::temporary(
                "4.7.5",
                format!("no MX host of {destination} is one its MTA-STS policy names (mx: {})", policy.mx.join(", ")),
            ));
        }
        Ok((allowed, TlsPolicy::Required(config, Mandate::MtaSts), Some(policy)))
    }

    async fn smarthost_addresses(&self, host: &str) -> Result<Vec<IpAddr>, Failure> {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match self.resolver.lookup_ip(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) => Err(Failure::temporary(
                "4.4.3",
                format!("cannot find the address of the smarthost {host}: {e}; check `smarthost` under [relay]"),
            )),
        }
    }

    /// A kept connection to `peer` that still answers RSET, or a new one. An opportunistic
    /// TLS handshake that fails is retried once in plain text, as Postfix does. `tls` is set
    /// to how TLS went on a new connection, for the TLS reports.
    async fn connect(&self, peer: Peer, setup: &Setup<'_>, tls: &mut Option<TlsResult>) -> Result<Connection, Failure> {
        // A kept connection was opened under some other policy; verified TLS starts afresh.
        let reuse = !matches!(setup.tls, TlsPolicy::Required(..));
        while reuse && let Some(mut conn) = self.pool.take(&peer) {
            if conn.reset().await {
                return Ok(conn);
            }
        }
        match Connection::open(peer.clone(), setup).await {
            Ok(conn) => {
                log_tls(&conn, setup.tls);
                *tls = Some(if conn.tls.is_some() { TlsResult::Success } else { TlsResult::StartTlsNotSupported });
                Ok(conn)
            }
            Err(OpenError::Failed(f)) => Err(f),
            Err(OpenError::Insecure(f, result)) => {
                *tls = Some(result);
                Err(f)
            }
            Err(OpenError::TlsFailed(f, result)) => {
                *tls = Some(result);
                info!("{}; trying again without TLS", f.text);
                let plain = TlsPolicy::Opportunistic { config: self.opportunistic.clone(), plain: true };
                let retry = Setup { tls: &plain, ..*setup };
                Connection::open(peer, &retry).await.map_err(|e| match e {
                    OpenError::Failed(f) | OpenError::TlsFailed(f, _) | OpenError::Insecure(f, _) => f,
                })
            }
        }
    }
}

/// What `plan` decides: hosts, TLS, credentials, port, and the MTA-STS policy in force.
type Plan = (Vec<Hop>, TlsPolicy, Option<Credentials>, u16, Option<Policy>);

/// Postfix's wording: "Untrusted" for unverified (MX) TLS, "Verified" for the smarthost,
/// MTA-STS and DANE.
fn log_tls(conn: &Connection, policy: &TlsPolicy) {
    let Some(tls) = &conn.tls else { return };
    let peer = conn.peer.describe();
    match policy {
        TlsPolicy::Opportunistic { .. } | TlsPolicy::Required(_, Mandate::DaneEncrypt) => {
            info!("Untrusted TLS connection established to {peer}: {tls}")
        }
        TlsPolicy::Required(_, Mandate::Dane) => info!("Verified TLS connection established to {peer}: {tls} (DANE)"),
        _ => info!("Verified TLS connection established to {peer}: {tls}"),
    }
}

/// The same outcome for every recipient.
fn all(relay: Option<Peer>, msg: &Message<'_>, failure: Failure) -> Attempt {
    Attempt { relay, outcomes: msg.recipients.iter().map(|_| failure.clone().into_outcome()).collect() }
}

/// Idle connections to one peer, each with an id for its expiry timer.
type Idle = Vec<(u64, Connection)>;

/// Idle connections by peer, each closed with QUIT when not reused within `KEEP_IDLE`.
#[derive(Default, Clone)]
struct Pool {
    idle: Arc<Mutex<HashMap<Peer, Idle>>>,
    next_id: Arc<AtomicU64>,
}

impl Pool {
    fn keep(&self, conn: Connection) {
        if conn.broken {
            return;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let peer = conn.peer.clone();
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).entry(peer.clone()).or_default().push((id, conn));
        let pool = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(KEEP_IDLE).await;
            if let Some(conn) = pool.remove(&peer, id) {
                conn.quit().await;
            }
        });
    }

    fn take(&self, peer: &Peer) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.get_mut(peer)?;
        let conn = conns.pop().map(|(_, c)| c);
        if conns.is_empty() {
            idle.remove(peer);
        }
        conn
    }

    fn remove(&self, peer: &Peer, id: u64) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.get_mut(peer)?;
        let at = conns.iter().position(|(i, _)| *i == id)?;
        let (_, conn) = conns.remove(at);
        if conns.is_empty() {
            idle.remove(peer);
        }
        Some(conn)
    }
}
