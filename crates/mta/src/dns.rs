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

/// Absolute form, so the resolver does not try search domains.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') { name.to_string() } else { format!("{name}.") }
}

/// Lower-case, without the root dot.
fn name(text: &str) -> String {
    text.trim_end_matches('.').to_ascii_lowercase()
}
