//! DNS block and allow lists (RFC 5782) for clients on port 25, weighed as Postfix's
//! postscreen does: each list that names the client adds its weight (allow lists have a
//! negative one), and a client whose sum reaches the threshold is refused before the
//! greeting. Answers are cached by the resolver for their TTL.

use crate::dns::{self, Resolver};
use carrier_config::DnsList;
use std::net::IpAddr;

/// A list that names the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub zone: String,
    pub weight: i32,
    /// The list's explanation (its TXT record), if it gives one.
    pub text: Option<String>,
}

/// The name to look up for `ip` in `zone` (RFC 5782 2.1: the IPv4 octets reversed; 2.4:
/// the IPv6 nibbles reversed).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let reversed = match ip {
        IpAddr::V4(v4) => v4.octets().iter().rev().map(u8::to_string).collect::<Vec<_>>().join("."),
        IpAddr::V6(v6) => {
            let nibbles: Vec<String> =
                v6.octets().iter().flat_map(|b| [b >> 4, b & 0xf]).rev().map(|n| format!("{n:x}")).collect();
            nibbles.join(".")
        }
    };
    format!("{reversed}.{zone}")
}

/// True for an answer that says "listed": an address in 127.0.0.0/8 (RFC 5782 2.1), but not
/// 127.255.255.x, which lists such as Spamhaus use to say the query itself was refused.
fn listed(answer: &IpAddr) -> bool {
    matches!(answer, IpAddr::V4(v4) if v4.octets()[0] == 127 && v4.octets()[1..3] != [255, 255])
}

/// The lists that name `ip`, and their summed weight.
pub async fn check(resolver: &Resolver, lists: &[DnsList], ip: IpAddr) -> (i32, Vec<Listing>) {
    let mut score = 0;
    let mut found = Vec::new();
    for list in lists {
        let name = query_name(ip, &list.zone);
        let Ok(answers) = dns::addresses(resolver, &name).await else { continue };
        if !answers.iter().any(listed) {
            continue;
        }
        let text = match list.weight > 0 {
            true => dns::txt(resolver, &name).await.ok().and_then(|t| t.into_iter().next()),
            false => None,
        };
        score += list.weight;
        found.push(Listing { zone: list.zone.clone(), weight: list.weight, text });
    }
    (score, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_of_rfc_5782() {
        assert_eq!(query_name("192.0.2.99".parse().unwrap(), "bl.example"), "99.2.0.192.bl.example");
        assert_eq!(query_name("::ffff:192.0.2.99".parse().unwrap(), "bl.example"), "99.2.0.192.bl.example");
        assert_eq!(
            query_name("2001:db8:1:2:3:4:567:89ab".parse().unwrap(), "bl.example"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
        assert!(listed(&"127.0.0.2".parse().unwrap()) && listed(&"127.0.0.10".parse().unwrap()));
        assert!(!listed(&"127.255.255.254".parse().unwrap()) && !listed(&"192.0.2.1".parse().unwrap()));
    }
}
