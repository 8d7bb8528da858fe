//! Per-client connection limits (Postfix's anvil): how many connections one address may
//! hold open at once, and how many it may open per minute. Clients in `relay.networks` are
//! exempt, as Postfix exempts `mynetworks`. The same counter, keyed by protocol, user and
//! address, limits the sessions one user holds from one address (Dovecot's
//! `mail_max_userip_connections`). Failed logins are counted per address too, across all
//! protocols.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The window of the connection rate limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Failed logins per client address within a window.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// True when `ip` has failed `limit` times within `window`.
    pub fn blocked(&self, ip: IpAddr, limit: u32, window: Duration) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some((_, since)) if since.elapsed() > window => {
                map.remove(&ip);
                false
            }
            Some((count, _)) => *count >= limit,
            None => false,
        }
    }

    /// Records a failure from `ip`; forgets stale entries so the map cannot grow without bound.
    pub fn failed(&self, ip: IpAddr, window: Duration) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (_, since)| since.elapsed() <= window);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() > window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The address already holds this many connections.
    Concurrency(usize),
    /// The address opened this many connections within the last minute.
    Rate(usize),
}

#[derive(Default)]
struct Client {
    open: usize,
    /// Start of the current window and connections opened in it.
    window: Option<(Instant, usize)>,
}

/// A logged-in mailbox session: protocol ("imap", "pop3"), user and client address.
pub type UserIp = (&'static str, String, IpAddr);

/// Counts per key (a client address for SMTP, a [`UserIp`] for POP3 and IMAP).
#[derive(Clone)]
pub struct Limiter<K = IpAddr> {
    clients: Arc<Mutex<HashMap<K, Client>>>,
}

impl<K> Default for Limiter<K> {
    fn default() -> Self {
        Limiter { clients: Arc::default() }
    }
}

/// Held while a connection is open; dropping it frees the slot.
pub struct Slot<K: Hash + Eq = IpAddr> {
    limiter: Limiter<K>,
    key: K,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// Takes a slot for a new connection of `key`, or says which limit it broke. A limit of 0
    /// is no limit.
    pub fn admit(&self, key: K, max_open: usize, max_per_minute: usize) -> Result<Slot<K>, Refused> {
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() > 10_000 {
            // Forget idle addresses so the table cannot grow without bound under a scan.
            clients.retain(|_, c| c.open > 0 || c.window.is_some_and(|(at, _)| now - at < RATE_WINDOW));
        }
        let c = clients.entry(key.clone()).or_default();
        if max_open > 0 && c.open >= max_open {
            return Err(Refused::Concurrency(c.open));
        }
        let (start, count) = match c.window {
            Some((start, count)) if now - start < RATE_WINDOW => (start, count),
            _ => (now, 0),
        };
        if max_per_minute > 0 && count >= max_per_minute {
            return Err(Refused::Rate(count));
        }
        c.window = Some((start, count + 1));
        c.open += 1;
        Ok(Slot { limiter: self.clone(), key })
    }
}

/// Admits one more logged-in session of `user` from `ip` over `proto` ("imap", "pop3"), or
/// says why not in words for the client that name the setting, as Dovecot does.
pub fn admit_session(
    limiter: &Limiter<UserIp>,
    proto: &'static str,
    user: &str,
    ip: IpAddr,
    max: usize,
) -> Result<Slot<UserIp>, String> {
    limiter.admit((proto, user.to_string(), ip), max, 0).map_err(|_| {
        tracing::warn!(
            "{proto}({user}): refused: {max} sessions from rip={ip} already ({proto}.max_connections_per_user_ip)"
        );
        format!("Maximum number of connections from user+IP exceeded ({proto}.max_connections_per_user_ip = {max})")
    })
}

impl<K: Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut clients = self.limiter.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get_mut(&self.key) {
            c.open = c.open.saturating_sub(1);
        }
    }
}

/// A session's share of `smtp.max_message_memory` (a semaphore of KiB), kept equal to the
/// message content it holds: SMTP DATA and BDAT, IMAP APPEND.
#[derive(Default)]
pub struct MemoryShare(Option<tokio::sync::OwnedSemaphorePermit>);

impl MemoryShare {
    /// Grows (or frees) the share to cover `held` octets. False when the budget cannot: the
    /// share is then given back and the caller sheds the content.
    pub fn cover(&mut self, budget: &Arc<tokio::sync::Semaphore>, held: usize) -> bool {
        if held == 0 {
            self.0 = None;
            return true;
        }
        let have = self.0.as_ref().map_or(0, |p| p.num_permits());
        let need = held.div_ceil(1024);
        if need <= have {
            return true;
        }
        let more = u32::try_from(need - have).unwrap_or(u32::MAX);
        match (budget.clone().try_acquire_many_owned(more), &mut self.0) {
            (Ok(more), Some(share)) => share.merge(more),
            (Ok(more), None) => self.0 = Some(more),
            (Err(_), _) => {
                self.0 = None;
                return false;
            }
        }
        true
    }
}

/// Raises the soft limit on open files to the hard limit: every connection is a descriptor,
/// and the usual soft limit of 1024 would cap carrier below `smtp.max_connections`. Returns
/// the limit now in force.
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn throttle_counts_per_address_within_the_window() {
        let t = Throttle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!t.blocked(a, 3, Duration::from_secs(60)));
            t.failed(a, Duration::from_secs(60));
        }
        assert!(t.blocked(a, 3, Duration::from_secs(60)));
        assert!(!t.blocked(b, 3, Duration::from_secs(60)));
        // Past the window the address is free again.
        assert!(!t.blocked(a, 3, Duration::ZERO));
    }

    #[test]
    fn concurrency_is_per_address_and_freed_on_close() {
        let l = Limiter::default();
        let first = l.admit(A, 2, 0).unwrap();
        let _second = l.admit(A, 2, 0).unwrap();
        assert_eq!(l.admit(A, 2, 0).err(), Some(Refused::Concurrency(2)));
        assert!(l.admit(B, 2, 0).is_ok(), "another address is not affected");
        drop(first);
        assert!(l.admit(A, 2, 0).is_ok());
    }

    #[test]
    fn rate_counts_connections_opened_in_the_window() {
        let l = Limiter::default();
        for _ in 0..3 {
            drop(l.admit(A, 0, 3).unwrap());
        }
        assert_eq!(l.admit(A, 0, 3).err(), Some(Refused::Rate(3)));
        assert!(l.admit(B, 0, 3).is_ok());
    }

    #[test]
    fn sessions_are_counted_per_protocol_user_and_address() {
        let l: Limiter<UserIp> = Limiter::default();
        let key = |proto, user: &str, ip| (proto, user.to_string(), ip);
        let first = l.admit(key("imap", "bob", A), 1, 0).unwrap();
        assert_eq!(l.admit(key("imap", "bob", A), 1, 0).err(), Some(Refused::Concurrency(1)));
        for other in [key("pop3", "bob", A), key("imap", "carol", A), key("imap", "bob", B)] {
            assert!(l.admit(other, 1, 0).is_ok());
        }
        drop(first);
        assert!(l.admit(key("imap", "bob", A), 1, 0).is_ok());
    }

    #[test]
    fn zero_is_no_limit() {
        let l = Limiter::default();
        let slots: Vec<Slot> = (0..100).map(|_| l.admit(A, 0, 0).unwrap()).collect();
        assert_eq!(slots.len(), 100);
    }
}
