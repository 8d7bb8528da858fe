//! DNS for `carrier check` and outbound relay: one resolver built from `[dns] nameservers`
//! (tests point it at a fake server on a loopback port), else the system's /etc/resolv.conf.

use carrier_config::Config;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use std::net::IpAddr;
use std::time::Duration;

/// The resolver type carrier uses.
pub type Resolver = TokioResolver;

/// Builds the resolver (needs a tokio runtime to run queries).
pub fn resolver(cfg: &Config) -> Result<Resolver, String> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    let builder = if cfg.dns.nameservers.is_empty() {
        Resolver::builder_tokio().map_err(|e| {
            format!("cannot read the system resolver configuration (/etc/resolv.conf): {e}; set [dns] nameservers")
        })?
    } else {
        let servers = cfg
            .dns
            .nameservers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for conn in &mut ns.connections {
                    conn.port = addr.port();
                }
                ns
            })
            .collect();
        // Configured servers are the whole truth: /etc/hosts is not consulted.
        opts.use_hosts_file = ResolveHosts::Never;
        Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), TokioRuntimeProvider::default())
    };
    builder.with_options(opts).build().map_err(|e| format!("cannot set up DNS resolution: {e}"))
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The name or the record does not exist (NXDOMAIN or no data).
    NotFound,
    /// No usable answer from the name servers (no network, timeout, SERVFAIL).
    Unreachable(String),
}

fn failure(e: NetError) -> Failure {
    if e.is_no_records_found() { Failure::NotFound } else { Failure::Unreachable(e.to_string()) }
}

/// MX records of a domain as (preference, exchange), lowest preference first.
pub async fn mx(resolver: &Resolver, domain: &str) -> Result<Vec<(u16, String)>, Failure> {
    let lookup = resolver.mx_lookup(fqdn(domain)).await.map_err(failure)?;
    let mut out: Vec<(u16, String)> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((mx.preference, name(&mx.exchange.to_ascii()))),
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

/// A and AAAA addresses of a host.
pub async fn addresses(resolver: &Resolver, host: &str) -> Result<Vec<IpAddr>, Failure> {
    let lookup = resolver.lookup_ip(fqdn(host)).await.map_err(failure)?;
    Ok(lookup.iter().collect())
}

/// PTR names of an address (reverse DNS).
pub async fn ptr(resolver: &Resolver, ip: IpAddr) -> Result<Vec<String>, Failure> {
    let lookup = resolver.reverse_lookup(ip).await.map_err(failure)?;
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::PTR(p) => Some(name(&p.0.to_ascii())),
            _ => None,
        })
        .collect())
}

/// The TXT records of a name, each record's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2).
pub async fn txt(resolver: &Resolver, name: &str) -> Result<Vec<String>, Failure> {
    let lookup = resolver.txt_lookup(fqdn(name)).await.map_err(failure)?;
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect()),
            _ => None,
        })
        .collect())
}

/// The TLSA records at `name` (RFC 6698), such as `_25._tcp.mx.example.com`.
pub async fn tlsa(resolver: &Resolver, name: &str) -> Result<Vec<carrier_tls::dane::Tlsa>, Failure> {
    let lookup = resolver.lookup(fqdn(name), hickory_resolver::proto::rr::RecordType::TLSA).await.map_err(failure)?;
    Ok(lookup.answers().iter().filter_map(|r| tlsa_of(&r.data)).collect())
}

/// A TLSA record's fields, if `data` is one.
pub fn tlsa_of(data: &RData) -> Option<carrier_tls::dane::Tlsa> {
    match data {
        RData::TLSA(t) => Some(carrier_tls::dane::Tlsa {
            usage: t.cert_usage.into(),
            selector: t.selector.into(),
            matching: t.matching.into(),
            data: t.cert_data.clone(),
        }),
        _ => None,
    }
}

/// What a client's address says about its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientName {
    /// A PTR name whose addresses include the client's (forward-confirmed).
    Confirmed(String),
    /// A PTR name that does not resolve back to the client: anyone may publish any PTR name
    /// for their own addresses (sendmail's "IP name possibly forged").
    Unconfirmed(String),
    /// No PTR record, or no answer.
    Unknown,
}

impl ClientName {
    /// The name logs and Received: fields show: only a confirmed one, else "unknown", as
    /// Postfix does.
    pub fn shown(&self) -> &str {
        match self {
            ClientName::Confirmed(name) => name,
            _ => "unknown",
        }
    }
}

/// Forward-confirmed reverse DNS (RFC 8601 3, "iprev"): the client's PTR names, the first
/// two of which are looked up again. A loopback client is this host, `localhost` (RFC 6761
/// 6.3; the resolver answers so for all of 127/8 without asking).
pub async fn client_name(resolver: &Resolver, ip: IpAddr) -> ClientName {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return ClientName::Confirmed("localhost".into());
    }
    let names = match ptr(resolver, ip).await {
        Ok(names) if !names.is_empty() => names,
        _ => return ClientName::Unknown,
    };
    for name in names.iter().take(2) {
        if addresses(resolver, name).await.is_ok_and(|found| found.contains(&ip)) {
            return ClientName::Confirmed(name.clone());
        }
    }
    ClientName::Unconfirmed(names[0].clone())
}

/// Whether mail can be returned to a domain: it has MX records, or else addresses (RFC 5321
/// 5.1's implicit MX). A null MX (RFC 7505) counts as existing: the domain is real, it only
/// takes no mail.
pub async fn domain_exists(resolver: &Resolver, domain: &str) -> Result<bool, Failure> {
    match mx(resolver, domain).await {
        Ok(records) if !records.is_empty() => return Ok(true),
        Ok(_) | Err(Failure::NotFound) => {}
        Err(e) => return Err(e),
    }
    match addresses(resolver, domain).await {
        Ok(found) => Ok(!found.is_empty()),
        Err(Failure::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Absolute form, so the resolver does not try search domains.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') { name.to_string() } else { format!("{name}.") }
}

/// Lower-case, without the root dot.
fn name(text: &str) -> String {
    text.trim_end_matches('.').to_ascii_lowercase()
}
