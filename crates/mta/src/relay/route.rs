//! Where mail for a domain goes (RFC 5321 5.1): its MX hosts by preference, equal
//! preferences in random order, the domain's own address when it has no MX, nowhere for a
//! null MX (RFC 7505); and never back to this server.

use crate::outcome::Failure;
use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};

/// One host to try, with its addresses in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// What identifies this server: its name and the addresses its SMTP listeners are bound to.
#[derive(Debug, Clone)]
pub struct Me {
    pub hostname: String,
    pub listeners: Vec<SocketAddr>,
    /// The port we would connect to (`[delivery] remote_port`).
    pub port: u16,
}

impl Me {
    /// True when connecting to `ip` on our delivery port would reach one of our listeners.
    pub fn is_me(&self, ip: IpAddr) -> bool {
        self.listeners
            .iter()
            .any(|l| l.port() == self.port && (l.ip() == ip || (l.ip().is_unspecified() && is_local_address(ip))))
    }

    fn is_my_name(&self, name: &str) -> bool {
        name.trim_end_matches('.').eq_ignore_ascii_case(&self.hostname)
    }
}

/// The hosts for `domain`, best first. Only hosts better than ourselves are kept: when we
/// are an MX for the domain ourselves, the lower-preference ones would send it back to us.
pub async fn resolve(resolver: &TokioResolver, domain: &str, me: &Me) -> Result<Vec<Hop>, Failure> {
    if let Some(ip) = address_literal(domain) {
        return Ok(vec![Hop { name: format!("[{ip}]"), addrs: vec![ip] }]);
    }
    let fqdn = format!("{}.", domain.trim_end_matches('.'));
    let mut mx: Vec<(u16, String)> = match resolver.mx_lookup(fqdn.as_str()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                _ => None,
            })
            .collect(),
        Err(e) if e.is_nx_domain() => return Err(not_found(domain, "MX", "Host not found")),
        Err(e) if e.is_no_records_found() => Vec::new(),
        Err(e) => return Err(dns_trouble(domain, "MX", &e)),
    };
    // RFC 7505 3: a single MX of "." says the domain accepts no mail.
    if mx.len() == 1 && mx[0].1.trim_end_matches('.').is_empty() {
        return Err(Failure::permanent("5.1.10", format!("Domain {domain} does not accept mail (null MX)")));
    }
    mx.retain(|(_, name)| !name.trim_end_matches('.').is_empty());
    if mx.is_empty() {
        // RFC 5321 5.1: no MX means the domain itself is the host, at preference 0.
        let addrs = lookup_addresses(resolver, domain).await?;
        if addrs.is_empty() {
            return Err(Failure::permanent(
                "5.4.4",
                format!("Host or domain name not found. Name service error for name={domain} type=A: no address"),
            ));
        }
        return without_me(domain, me, vec![(0, Hop { name: domain.trim_end_matches('.').to_string(), addrs })]);
    }
    order_by_preference(&mut mx);
    let mut hops = Vec::new();
    let mut last_error = None;
    for (pref, name) in mx {
        match lookup_addresses(resolver, &name).await {
            Ok(addrs) if !addrs.is_empty() => {
                hops.push((pref, Hop { name: name.trim_end_matches('.').to_string(), addrs }))
            }
            Ok(_) => last_error = Some(format!("MX host {name} has no address")),
            Err(f) => last_error = Some(f.text),
        }
    }
    if hops.is_empty() {
        let why = last_error.unwrap_or_default();
        return Err(Failure::temporary("4.4.3", format!("no MX host of {domain} could be resolved: {why}")));
    }
    without_me(domain, me, hops)
}

/// Drops ourselves and every host not better than us; nothing left is a mail loop.
fn without_me(domain: &str, me: &Me, hops: Vec<(u16, Hop)>) -> Result<Vec<Hop>, Failure> {
    let mine = hops.iter().filter(|(_, h)| me.is_my_name(&h.name) || h.addrs.iter().any(|&ip| me.is_me(ip)));
    let my_pref = mine.map(|(p, _)| *p).min();
    let (kept, dropped): (Vec<_>, Vec<_>) = hops.into_iter().partition(|(p, _)| my_pref.is_none_or(|mine| *p < mine));
    if kept.is_empty() {
        let host = dropped.first().map(|(_, h)| format!("{} {:?}", h.name, h.addrs)).unwrap_or_default();
        return Err(Failure::permanent(
            "5.4.6",
            format!(
                "mail for {domain} loops back to me (MX problem?): its mail host {host} is this server; add \
                 {domain} to `domains` in carrier.toml if it is a local domain, or correct its MX record"
            ),
        ));
    }
    Ok(kept.into_iter().map(|(_, h)| h).collect())
}

/// Sorts by preference, shuffling hosts of equal preference (RFC 5321 5.1: spread the load).
fn order_by_preference(mx: &mut [(u16, String)]) {
    let random = RandomState::new();
    mx.sort_by_key(|(pref, name)| (*pref, random.hash_one(name)));
}

/// IPv4 and IPv6 addresses of a host, IPv4 first (what most hosts reach best).
async fn lookup_addresses(resolver: &TokioResolver, host: &str) -> Result<Vec<IpAddr>, Failure> {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    match resolver.lookup_ip(fqdn.as_str()).await {
        Ok(lookup) => {
            let mut addrs: Vec<IpAddr> = lookup.iter().collect();
            addrs.sort_by_key(|a| a.is_ipv6());
            addrs.dedup();
            Ok(addrs)
        }
        Err(e) if e.is_nx_domain() => Err(not_found(host, "A", "Host not found")),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(dns_trouble(host, "A", &e)),
    }
}

fn not_found(name: &str, kind: &str, why: &str) -> Failure {
    Failure::permanent(
        "5.1.2",
        format!("Host or domain name not found. Name service error for name={name} type={kind}: {why}"),
    )
}

/// A DNS timeout or SERVFAIL: maybe the name exists, so try again later.
fn dns_trouble(name: &str, kind: &str, e: &NetError) -> Failure {
    Failure::temporary(
        "4.4.3",
        format!("Host or domain name not found. Name service error for name={name} type={kind}: {e}, try again"),
    )
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 4.1.3).
fn address_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..].parse().ok().filter(IpAddr::is_ipv6),
        _ => inner.parse().ok().filter(IpAddr::is_ipv4),
    }
}

/// True for loopback and the addresses of this host's network interfaces.
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || interface_addresses().contains(&ip)
}

fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below with freeifaddrs;
    // each ifa_addr is null or points at a sockaddr of the family it names.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(v6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Me {
        Me { hostname: "mx.example.com".into(), listeners: vec!["127.0.0.1:2525".parse().unwrap()], port: 2525 }
    }

    fn hop(name: &str, ip: &str) -> Hop {
        Hop { name: name.into(), addrs: vec![ip.parse().unwrap()] }
    }

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("[192.0.2.1]"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(address_literal("[IPv6:2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(address_literal("[2001:db8::1]"), None);
        assert_eq!(address_literal("[IPv6:192.0.2.1]"), None);
        assert_eq!(address_literal("example.com"), None);
    }

    #[test]
    fn our_listeners_are_recognised() {
        let m = me();
        assert!(m.is_me("127.0.0.1".parse().unwrap()));
        assert!(!m.is_me("127.0.0.2".parse().unwrap()));
        let any = Me { listeners: vec!["0.0.0.0:2525".parse().unwrap()], ..me() };
        assert!(any.is_me("127.0.0.9".parse().unwrap()));
        assert!(!any.is_me("192.0.2.1".parse().unwrap()));
        let other_port = Me { port: 25, ..me() };
        assert!(!other_port.is_me("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn hosts_not_better_than_us_are_dropped() {
        let hops = vec![
            (10, hop("a.example", "127.0.0.2")),
            (20, hop("mx.example.com", "127.0.0.3")),
            (30, hop("c.example", "127.0.0.4")),
        ];
        let kept = without_me("example.org", &me(), hops).unwrap();
        assert_eq!(kept, vec![hop("a.example", "127.0.0.2")]);
        // Our address under another name counts as us too.
        let hops = vec![(10, hop("other.example", "127.0.0.1")), (20, hop("c.example", "127.0.0.4"))];
        let err = without_me("loop.example", &me(), hops).unwrap_err();
        assert!(err.permanent);
        assert_eq!(err.dsn, "5.4.6");
        assert!(err.text.contains("mail for loop.example loops back to me (MX problem?)"), "{}", err.text);
    }

    #[test]
    fn equal_preferences_are_shuffled_and_ordered() {
        let mut seen_first = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut mx = vec![(20, "c".to_string()), (10, "a".to_string()), (10, "b".to_string())];
            order_by_preference(&mut mx);
            assert_eq!(mx[2].1, "c");
            seen_first.insert(mx[0].1.clone());
        }
        assert_eq!(seen_first.len(), 2, "both equal-preference hosts come first sometimes");
    }

    #[test]
    fn interfaces_include_loopback() {
        assert!(interface_addresses().contains(&"127.0.0.1".parse().unwrap()));
    }
}
