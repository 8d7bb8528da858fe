//! Where a recipient's mail would go, without sending anything: `sendmail -bv` (verify, with
//! sendmail's verdict lines and exit code) and `sendmail -bt` (the route, in full). Both ask
//! what the intake and the delivery agents ask: the directory (accounts, aliases) for local
//! domains, the relay's routing (MX, the smarthost, loops back to us) for the others.

use crate::relay::route::{self, Hop, Me};
use crate::sysexits;
use carrier_accounts::{Directory, Lookup, Route};
use carrier_config::Config;
use carrier_store::Maildir;
use hickory_resolver::TokioResolver;
use std::fmt::Write as _;

/// What one address resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The address as looked up (qualified with our host name when it had no domain).
    pub address: String,
    /// The alias expansion, when the address is an alias: its final destinations.
    pub aliased: Option<Vec<String>>,
    /// One entry per final destination; one `Unknown`/`Loop` when there is none.
    pub destinations: Vec<Destination>,
}

/// One final destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local account's Maildir.
    Mailbox { address: String, path: String },
    /// Another domain's mail host(s), best first, on `port`.
    Hosts { address: String, hosts: Vec<Hop>, port: u16 },
    /// Everything goes through the smarthost.
    Smarthost { address: String, host: String, port: u16 },
    /// The route cannot be found now (DNS trouble): the message would wait in the queue.
    Later { address: String, why: String },
    /// The route does not exist (no such domain, a null MX, a loop back to us).
    Unroutable { address: String, why: String },
    /// A local domain without such a user or alias.
    Unknown { address: String },
    /// The aliases go round in a circle.
    Loop { address: String, chain: String },
}

/// Resolves one address as a local submission would: every domain may be relayed to.
pub async fn resolve(cfg: &Config, dir: &Directory, resolver: &TokioResolver, address: &str) -> Resolved {
    let address = if address.contains('@') { address.to_string() } else { format!("{address}@{}", cfg.hostname) };
    let store = Maildir::new(cfg.data_dir.join("mail"), &cfg.hostname);
    let (aliased, routes) = match dir.resolve(&address) {
        Lookup::Deliver(routes) => {
            // The account itself (also as `user+tag`, or in another local domain): no alias.
            let local = |a: &str| a.rsplit_once('@').map_or(a, |(l, _)| l).to_lowercase();
            let base = local(&address).split('+').next().unwrap_or_default().to_string();
            let plain =
                matches!(routes.as_slice(), [Route::Mailbox(m)] if local(m) == local(&address) || local(m) == base);
            let names = routes.iter().map(|r| match r {
                Route::Mailbox(a) | Route::Remote(a) => a.clone(),
            });
            ((!plain).then(|| names.collect()), routes)
        }
        Lookup::NotLocal => (None, vec![Route::Remote(address.clone())]),
        Lookup::UnknownUser => {
            let destinations = vec![Destination::Unknown { address: address.clone() }];
            return Resolved { address, aliased: None, destinations };
        }
        Lookup::Loop(chain) => {
            let destinations = vec![Destination::Loop { address: address.clone(), chain }];
            return Resolved { address, aliased: None, destinations };
        }
    };
    let mut destinations = Vec::new();
    for r in routes {
        destinations.push(match r {
            Route::Mailbox(a) => Destination::Mailbox { path: store.path_for(&a).display().to_string(), address: a },
            Route::Remote(a) => remote(cfg, resolver, a).await,
        });
    }
    Resolved { address, aliased, destinations }
}

/// The relay's route for an address in another domain (RFC 5321 5.1, as `relay::route`).
async fn remote(cfg: &Config, resolver: &TokioResolver, address: String) -> Destination {
    if let Some(s) = &cfg.relay.smarthost {
        return Destination::Smarthost { address, host: s.host.clone(), port: s.port };
    }
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
    let me = Me { hostname: cfg.hostname.clone(), listeners: cfg.listen.smtp.clone(), port: cfg.delivery.remote_port };
    match route::resolve(resolver, &domain, &me).await {
        Ok(hosts) => Destination::Hosts { address, hosts, port: cfg.delivery.remote_port },
        Err(f) if f.permanent => Destination::Unroutable { address, why: f.text },
        Err(f) => Destination::Later { address, why: f.text },
    }
}

/// sendmail's exit status for `-bv`: the worst verdict (67 unknown user, 68 host unknown, 75
/// try later), 0 when everything is deliverable.
pub fn exit_code(all: &[Resolved]) -> u8 {
    let verdicts = all.iter().flat_map(|r| &r.destinations);
    let rank = |d: &Destination| match d {
        Destination::Unknown { .. } | Destination::Loop { .. } => 3,
        Destination::Unroutable { .. } => 2,
        Destination::Later { .. } => 1,
        _ => 0,
    };
    match verdicts.map(rank).max().unwrap_or(0) {
        3 => sysexits::NOUSER,
        2 => sysexits::NOHOST,
        1 => sysexits::TEMPFAIL,
        _ => 0,
    }
}

/// `-bv`'s lines, as sendmail 8 prints them (`address... deliverable: mailer local, ...`).
pub fn verdicts(r: &Resolved) -> String {
    let mut out = String::new();
    if let Some(targets) = &r.aliased {
        let _ = writeln!(out, "{}... aliased to {}", r.address, targets.join(", "));
    }
    // Not an alias: the line names the address asked about (`bob+tag`), its user the mailbox.
    let label = |a: &str| if r.aliased.is_none() { r.address.clone() } else { a.to_string() };
    for d in &r.destinations {
        let _ = match d {
            Destination::Mailbox { address, path } => {
                writeln!(out, "{}... deliverable: mailer local, user {address}, maildir {path}", label(address))
            }
            Destination::Hosts { address, hosts, .. } => {
                let host = hosts.first().map_or("", |h| h.name.as_str());
                writeln!(out, "{address}... deliverable: mailer esmtp, host {host}, user {address}")
            }
            Destination::Smarthost { address, host, port } => {
                writeln!(
                    out,
                    "{address}... deliverable: mailer esmtp, relay [{host}]:{port} (smarthost), user {address}"
                )
            }
            Destination::Later { address, why } => writeln!(out, "{address}... deliverable later: {why}"),
            Destination::Unroutable { address, why } => writeln!(out, "{address}... Host unknown: {why}"),
            Destination::Unknown { address } => writeln!(out, "{address}... User unknown"),
            Destination::Loop { address, chain } => writeln!(out, "{address}... {chain}"),
        };
    }
    out
}

/// `-bt`'s text: the whole route of one address, every host with its addresses in the order
/// they would be tried.
pub fn route_text(r: &Resolved) -> String {
    let mut out = format!("{}\n", r.address);
    if let Some(targets) = &r.aliased {
        let _ = writeln!(out, "  alias, expands to {}", targets.join(", "));
    }
    for d in &r.destinations {
        let _ = match d {
            Destination::Mailbox { address, path } => writeln!(out, "  {address}: local delivery into {path}"),
            Destination::Hosts { address, hosts, port } => {
                let _ = writeln!(out, "  {address}: relay over SMTP, port {port}, trying in order:");
                for h in hosts {
                    let addrs: Vec<String> = h.addrs.iter().map(|a| a.to_string()).collect();
                    let _ = writeln!(out, "    {} [{}]", h.name, addrs.join(", "));
                }
                Ok(())
            }
            Destination::Smarthost { address, host, port } => {
                writeln!(out, "  {address}: relay through the smarthost {host} port {port}")
            }
            Destination::Later { address, why } => {
                writeln!(out, "  {address}: no route now, the message would wait in the queue: {why}")
            }
            Destination::Unroutable { address, why } => writeln!(out, "  {address}: undeliverable: {why}"),
            Destination::Unknown { address } => {
                writeln!(out, "  {address}: undeliverable: no such user or alias in a local domain")
            }
            Destination::Loop { address, chain } => writeln!(out, "  {address}: undeliverable: {chain}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn one(d: Destination) -> Resolved {
        Resolved { address: "x@example.com".into(), aliased: None, destinations: vec![d] }
    }

    #[test]
    fn the_worst_verdict_sets_the_exit_code() {
        let ok = one(Destination::Mailbox { address: "a@example.com".into(), path: "/m/a".into() });
        let later = one(Destination::Later { address: "b@x.example".into(), why: "SERVFAIL".into() });
        let nohost = one(Destination::Unroutable { address: "c@y.example".into(), why: "null MX".into() });
        let unknown = one(Destination::Unknown { address: "d@example.com".into() });
        assert_eq!(exit_code(std::slice::from_ref(&ok)), 0);
        assert_eq!(exit_code(&[ok.clone(), later.clone()]), sysexits::TEMPFAIL);
        assert_eq!(exit_code(&[later.clone(), nohost.clone()]), sysexits::NOHOST);
        assert_eq!(exit_code(&[nohost, unknown, later, ok]), sysexits::NOUSER);
    }

    #[test]
    fn verdicts_and_routes_read_like_sendmails() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let r = Resolved {
            address: "team@example.com".into(),
            aliased: Some(vec!["bob@example.com".into(), "carol@remote.example".into()]),
            destinations: vec![
                Destination::Mailbox { address: "bob@example.com".into(), path: "/var/mail/bob".into() },
                Destination::Hosts {
                    address: "carol@remote.example".into(),
                    hosts: vec![Hop { name: "mx.remote.example".into(), addrs: vec![ip] }],
                    port: 25,
                },
            ],
        };
        assert_eq!(
            verdicts(&r),
            "team@example.com... aliased to bob@example.com, carol@remote.example\n\
             bob@example.com... deliverable: mailer local, user bob@example.com, maildir /var/mail/bob\n\
             carol@remote.example... deliverable: mailer esmtp, host mx.remote.example, user carol@remote.example\n"
        );
        assert_eq!(
            route_text(&r),
            "team@example.com\n  alias, expands to bob@example.com, carol@remote.example\n  \
             bob@example.com: local delivery into /var/mail/bob\n  \
             carol@remote.example: relay over SMTP, port 25, trying in order:\n    mx.remote.example [192.0.2.7]\n"
        );
    }
}
