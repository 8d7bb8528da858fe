//! A short memory of successful logins (Dovecot's auth_cache): mail clients reconnect every
//! few seconds, and each argon2id check costs tens of milliseconds of CPU. A login whose
//! password was verified less than `ttl` ago, against the same stored hash, passes without
//! hashing again. Only successes are kept, under a salted digest of login and password (never
//! the password), so a wrong password always pays the full price, and a password change (a new
//! stored hash) or a deleted account ends the entry at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; past that, expired ones are swept.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    account: String,
    /// The stored hash the password was verified against.
    hash: String,
    until: Instant,
}

/// The cache; one per daemon.
pub struct LoginCache {
    ttl: Duration,
    /// Random per process: digests are useless outside it.
    salt: Vec<u8>,
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl LoginCache {
    /// `ttl` zero keeps nothing.
    pub fn new(ttl: Duration) -> LoginCache {
        let salt = [argon2::password_hash::generate_salt(), argon2::password_hash::generate_salt()].concat();
        LoginCache { ttl, salt, entries: Mutex::default() }
    }

    fn key(&self, login: &str, password: &str) -> Vec<u8> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&self.salt);
        // Lengths first, so no two (login, password) pairs feed the same bytes.
        ctx.update(&(login.len() as u64).to_be_bytes());
        ctx.update(login.to_lowercase().as_bytes());
        ctx.update(password.as_bytes());
        ctx.finish().as_ref().to_vec()
    }

    /// The account, when this login and password passed against `hash` within the ttl.
    pub fn get(&self, login: &str, password: &str, hash: &str, now: Instant) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&self.key(login, password))?;
        (entry.hash == hash && now < entry.until).then(|| entry.account.clone())
    }

    /// Remembers a verified login.
    pub fn put(&self, login: &str, password: &str, hash: &str, account: &str, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now < e.until);
        }
        if entries.len() < MAX_ENTRIES {
            let entry = Entry { account: account.to_string(), hash: hash.to_string(), until: now + self.ttl };
            entries.insert(self.key(login, password), entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_login_is_remembered_until_its_hash_changes_or_time_passes() {
        let cache = LoginCache::new(Duration::from_secs(300));
        let t0 = Instant::now();
        assert_eq!(cache.get("bob@example.com", "pw", "$hash1", t0), None);
        cache.put("bob@example.com", "pw", "$hash1", "bob@example.com", t0);
        assert_eq!(cache.get("Bob@Example.com", "pw", "$hash1", t0).as_deref(), Some("bob@example.com"));
        assert_eq!(cache.get("bob@example.com", "pw2", "$hash1", t0), None, "another password");
        assert_eq!(cache.get("bob@example.com", "pw", "$hash2", t0), None, "the password was changed");
        assert_eq!(cache.get("bob@example.com", "pw", "$hash1", t0 + Duration::from_secs(300)), None, "expired");
        // The boundary between login and password is part of the digest.
        cache.put("ab", "c", "$h", "ab", t0);
        assert_eq!(cache.get("a", "bc", "$h", t0), None);
        let off = LoginCache::new(Duration::ZERO);
        off.put("bob@example.com", "pw", "$hash1", "bob@example.com", t0);
        assert_eq!(off.get("bob@example.com", "pw", "$hash1", t0), None);
    }
}
