//! Greylisting (as postgrey, RFC 6647): the first time a (client network, sender, recipient)
//! triplet is seen on port 25, RCPT gets `451 4.7.1`; a real MTA retries, and once the delay
//! has passed the triplet is let through and its client network is trusted from then on,
//! while most spam engines never come back. State is kept in `data_dir/greylist`, so a
//! restart does not greylist everyone again; the time is passed in, so tests can move it.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::warn;

/// How long a first attempt waits for its retry (postgrey's retry window is two days).
const RETRY_WINDOW: Duration = Duration::from_secs(2 * 86_400);
/// Waiting triplets past which expired ones are swept from memory.
const MAX_WAITING: usize = 100_000;
/// How long a passed triplet or a trusted network is remembered without new mail
/// (postgrey's max-age).
const REMEMBER: Duration = Duration::from_secs(35 * 86_400);

/// The answer for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Pass,
    /// Try again after this long.
    Wait(Duration),
}

#[derive(Default)]
struct State {
    /// Triplet to when it was first seen (waiting) or last passed.
    first_seen: HashMap<String, u64>,
    passed: HashMap<String, u64>,
    /// Client networks trusted after a pass, to when last seen.
    networks: HashMap<String, u64>,
}

/// The greylist of one server.
pub struct Greylist {
    delay: Duration,
    path: PathBuf,
    state: Mutex<State>,
}

impl Greylist {
    /// Reads what `data_dir/greylist` remembers, dropping what has expired.
    pub fn open(data_dir: &Path, delay: Duration, now: SystemTime) -> Greylist {
        let path = data_dir.join("greylist");
        let mut state = State::default();
        let now = secs(now);
        for line in fs::read_to_string(&path).unwrap_or_default().lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(kind), Some(Ok(at)), Some(key)) =
                (parts.next(), parts.next().map(str::parse::<u64>), parts.next())
            else {
                continue;
            };
            let map = match kind {
                "F" if now < at + RETRY_WINDOW.as_secs() => &mut state.first_seen,
                "P" if now < at + REMEMBER.as_secs() => &mut state.passed,
                "N" if now < at + REMEMBER.as_secs() => &mut state.networks,
                _ => continue,
            };
            map.insert(key.to_string(), at);
        }
        let list = Greylist { delay, path, state: Mutex::new(state) };
        list.rewrite();
        list
    }

    /// The answer for one recipient of a message from `ip` with this sender.
    pub fn check(&self, ip: IpAddr, sender: &str, recipient: &str, now: SystemTime) -> Answer {
        let now = secs(now);
        let network = network(ip);
        let triplet = format!("{network} <{}> <{}>", sender.to_ascii_lowercase(), recipient.to_ascii_lowercase());
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.first_seen.len() > MAX_WAITING {
            // A flood of one-off triplets (spam runs): forget those whose window has passed.
            state.first_seen.retain(|_, at| now < *at + RETRY_WINDOW.as_secs());
        }
        if state.networks.contains_key(&network) || state.passed.contains_key(&triplet) {
            // Kept to the day, in memory and in the file, not written for every message.
            let seen = state.networks.get(&network).copied();
            if seen.is_none_or(|at| now >= at + 86_400) {
                state.networks.insert(network.clone(), now);
                drop(state);
                self.append("N", now, &network);
            }
            return Answer::Pass;
        }
        match state.first_seen.get(&triplet).copied() {
            Some(first) if now >= first + self.delay.as_secs() && now < first + RETRY_WINDOW.as_secs() => {
                state.first_seen.remove(&triplet);
                state.passed.insert(triplet.clone(), now);
                state.networks.insert(network.clone(), now);
                drop(state);
                self.append("P", now, &triplet);
                self.append("N", now, &network);
                Answer::Pass
            }
            Some(first) if now < first + self.delay.as_secs() => {
                Answer::Wait(Duration::from_secs(first + self.delay.as_secs() - now))
            }
            _ => {
                state.first_seen.insert(triplet.clone(), now);
                drop(state);
                self.append("F", now, &triplet);
                Answer::Wait(self.delay)
            }
        }
    }

    /// One event, appended; a lost line costs at most one more delay, so no fsync.
    fn append(&self, kind: &str, at: u64, key: &str) {
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(format!("{kind} {at} {key}\n").as_bytes()));
        if let Err(e) = written {
            warn!("greylist: cannot write {}: {e}", self.path.display());
        }
    }

    /// The file again, with only what is remembered (at start, so it does not grow forever).
    fn rewrite(&self) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        for (kind, map) in [("F", &state.first_seen), ("P", &state.passed), ("N", &state.networks)] {
            for (key, at) in map {
                text.push_str(&format!("{kind} {at} {key}\n"));
            }
        }
        let tmp = self.path.with_extension("tmp");
        if let Err(e) = fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, &self.path)) {
            warn!("greylist: cannot write {}: {e}", self.path.display());
        }
    }
}

/// The client's network: mail servers retry from another address of the same farm, so an
/// IPv4 /24 or IPv6 /64 stands for the client, as postgrey does.
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        IpAddr::V6(v6) => network(IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))),
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_the_delay_passes_and_the_network_is_trusted_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_796_428_800);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let list = Greylist::open(dir.path(), Duration::from_secs(300), t0);
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(list.check(ip, "a@x.example", "bob@example.com", t0), Answer::Wait(Duration::from_secs(300)));
        assert_eq!(list.check(ip, "a@x.example", "bob@example.com", at(100)), Answer::Wait(Duration::from_secs(200)));
        // Another address of the same /24 retries: the same triplet.
        let other: IpAddr = "192.0.2.77".parse().unwrap();
        assert_eq!(list.check(other, "A@X.example", "bob@example.com", at(300)), Answer::Pass);
        // From now on the network passes, for any sender and recipient.
        assert_eq!(list.check(ip, "z@y.example", "alice@example.com", at(301)), Answer::Pass);
        let far: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(matches!(list.check(far, "a@x.example", "bob@example.com", at(302)), Answer::Wait(_)));
        // A restart remembers.
        let again = Greylist::open(dir.path(), Duration::from_secs(300), at(400));
        assert_eq!(again.check(ip, "new@y.example", "bob@example.com", at(400)), Answer::Pass);
        assert!(
            matches!(again.check(far, "a@x.example", "bob@example.com", at(401)), Answer::Wait(d) if d.as_secs() == 201)
        );
        // A first attempt that is never retried within the window starts over.
        let later = Greylist::open(dir.path(), Duration::from_secs(300), at(3 * 86_400));
        assert_eq!(
            later.check(far, "a@x.example", "bob@example.com", at(3 * 86_400)),
            Answer::Wait(Duration::from_secs(300))
        );
    }

    #[test]
    fn networks_are_a_24_or_a_64() {
        assert_eq!(network("192.0.2.10".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network("::ffff:192.0.2.10".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network("2001:db8:1:2:3::4".parse().unwrap()), "2001:db8:1:2::/64");
    }
}
