//! The Sender Rewriting Scheme (Shevek's SRS, as libsrs2 and postsrsd implement it): mail
//! that an alias forwards to another domain leaves with an envelope sender in our domain, so
//! SPF (RFC 7208) passes at the next hop, and a bounce sent to that address finds its way
//! back to the original sender, through us.
//!
//! `alice@example.org`, forwarded by us, becomes `SRS0=HHHHHH=TT=example.org=alice@OURS`;
//! an address already rewritten by another forwarder `fw.example`
//! (`SRS0=...@fw.example`) becomes `SRS1=HHHHHH=fw.example==...@OURS`, so a bounce goes
//! back through that forwarder. HHHHHH authenticates the rest with a secret of ours (HMAC),
//! TT is the day, so nobody can use us to send mail to addresses we did not forward from,
//! and our addresses expire after [`MAX_AGE_DAYS`].

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How long a rewritten address takes bounces (libsrs2's default is 21 days too).
pub const MAX_AGE_DAYS: u64 = 21;
/// Characters of the authenticating hash: 30 bits, in a case-insensitive alphabet.
const HASH_LEN: usize = 6;
/// RFC 4648 base32: letters and digits that survive a change of case.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Why an SRS address was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrsError {
    /// Not in the SRS0 or SRS1 form.
    Malformed,
    /// The hash does not match: made by someone else, or altered.
    BadHash,
    /// Older than [`MAX_AGE_DAYS`].
    Expired,
}

/// The secret and the domain our rewritten addresses are in.
#[derive(Clone)]
pub struct Srs {
    key: ring::hmac::Key,
    domain: String,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Srs({})", self.domain)
    }
}

/// `data_dir/srs-secret`: 32 random octets, made once, readable by the daemon only.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("srs-secret")
}

impl Srs {
    pub fn new(secret: &[u8], domain: &str) -> Srs {
        Srs {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret),
            domain: domain.to_ascii_lowercase(),
        }
    }

    /// The secret in `data_dir`, if it has been made (the daemon makes it at start).
    pub fn load(data_dir: &Path, domain: &str) -> Option<Srs> {
        fs::read(secret_path(data_dir)).ok().filter(|s| s.len() >= 16).map(|s| Srs::new(&s, domain))
    }

    /// Makes the secret unless it exists; an existing one is kept, so addresses already
    /// handed out keep working across restarts.
    pub fn create_secret(data_dir: &Path) -> io::Result<()> {
        let path = secret_path(data_dir);
        if path.exists() {
            return Ok(());
        }
        let mut secret = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .map_err(|_| io::Error::other("no random numbers from the system"))?;
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(&secret)?;
        file.sync_all()
    }

    /// The domain of our rewritten addresses.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True for a local part in SRS form (either kind).
    pub fn is_srs(local: &str) -> bool {
        let head = local.get(..5).unwrap_or_default();
        head.eq_ignore_ascii_case("SRS0=") || head.eq_ignore_ascii_case("SRS1=")
    }

    /// The address forwarded mail from `sender` leaves with on `day` (days since 1970).
    pub fn forward(&self, sender: &str, day: u64) -> String {
        let Some((local, host)) = sender.rsplit_once('@') else { return sender.to_string() };
        if host.eq_ignore_ascii_case(&self.domain) && Srs::is_srs(local) {
            return sender.to_string(); // ours already: a bounce would come back here anyway
        }
        if local.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("SRS1=")) {
            // SRS1=HHH=first==inner@host: keep the first forwarder, vouch for it ourselves.
            if let Some((first, inner)) = local[5..].split_once('=').and_then(|(_, r)| r.split_once("==")) {
                return self.srs1(first, inner);
            }
        }
        if local.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("SRS0=")) {
            return self.srs1(host, &local[5..]); // inner: "HHH=TT=host=local"
        }
        let tt = timestamp(day);
        format!("SRS0={}={tt}={host}={local}@{}", self.hash(&[&tt, host, local]), self.domain)
    }

    /// `SRS1=HHH=forwarder==inner@ours`, leading back to `SRS0=inner@forwarder`.
    fn srs1(&self, forwarder: &str, inner: &str) -> String {
        format!("SRS1={}={forwarder}=={inner}@{}", self.hash(&[forwarder, "=", inner]), self.domain)
    }

    /// Where a bounce to our SRS `address` goes: the original sender (SRS0), or the
    /// previous forwarder's SRS0 address (SRS1).
    pub fn reverse(&self, address: &str, day: u64) -> Result<String, SrsError> {
        let (local, _) = address.rsplit_once('@').ok_or(SrsError::Malformed)?;
        let (kind, rest) = (local.get(..5).ok_or(SrsError::Malformed)?, &local[5..]);
        if kind.eq_ignore_ascii_case("SRS0=") {
            let mut fields = rest.splitn(4, '=');
            let (hash, tt, host, user) = (fields.next(), fields.next(), fields.next(), fields.next());
            let (Some(hash), Some(tt), Some(host), Some(user)) = (hash, tt, host, user) else {
                return Err(SrsError::Malformed);
            };
            if host.is_empty() || user.is_empty() {
                return Err(SrsError::Malformed);
            }
            self.check(hash, &[tt, host, user])?;
            let age = day.wrapping_sub(days_of(tt).ok_or(SrsError::Malformed)?) % 1024;
            if age > MAX_AGE_DAYS {
                return Err(SrsError::Expired);
            }
            return Ok(format!("{user}@{host}"));
        }
        if kind.eq_ignore_ascii_case("SRS1=") {
            let (hash, after) = rest.split_once('=').ok_or(SrsError::Malformed)?;
            let (host, inner) = after.split_once("==").ok_or(SrsError::Malformed)?;
            if host.is_empty() || inner.is_empty() {
                return Err(SrsError::Malformed);
            }
            self.check(hash, &[host, "=", inner])?;
            return Ok(format!("SRS0={inner}@{host}"));
        }
        Err(SrsError::Malformed)
    }

    /// The first characters of the HMAC of the parts, lower-cased first (a relay that
    /// changes the case of a local part must not break the address).
    fn hash(&self, parts: &[&str]) -> String {
        let data: String = parts.concat().to_ascii_lowercase();
        let tag = ring::hmac::sign(&self.key, data.as_bytes());
        base32(tag.as_ref()).into_iter().take(HASH_LEN).map(char::from).collect()
    }

    fn check(&self, hash: &str, parts: &[&str]) -> Result<(), SrsError> {
        // Compared in constant time: the hash is what keeps us from being an open relay.
        let want = self.hash(parts);
        let got = hash.to_ascii_uppercase();
        let differ = want.bytes().zip(got.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if want.len() == got.len() && differ == 0 { Ok(()) } else { Err(SrsError::BadHash) }
    }
}

/// Days since 1970 of a moment.
pub fn day_of(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400)
}

/// The day modulo 1024, as two base32 characters.
fn timestamp(day: u64) -> String {
    let d = (day % 1024) as usize;
    [BASE32[d >> 5], BASE32[d & 31]].iter().map(|&b| char::from(b)).collect()
}

/// The day modulo 1024 a timestamp stands for.
fn days_of(tt: &str) -> Option<u64> {
    let value = |c: u8| BASE32.iter().position(|&b| b == c.to_ascii_uppercase()).map(|p| p as u64);
    match tt.as_bytes() {
        [a, b] => Some(value(*a)? << 5 | value(*b)?),
        _ => None,
    }
}

/// RFC 4648 6 base32, without padding.
fn base32(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &byte in data {
        buffer = buffer << 8 | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[(buffer >> bits & 31) as usize]);
        }
    }
    if bits > 0 {
        out.push(BASE32[(buffer << (5 - bits) & 31) as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 20_427; // 2025-12-05

    fn ours() -> Srs {
        Srs::new(b"a secret of at least sixteen octets", "mx.example.com")
    }

    #[test]
    fn a_forwarded_sender_comes_back_from_a_bounce() {
        let srs = ours();
        let rewritten = srs.forward("Alice@Example.org", DAY);
        assert!(
            rewritten.starts_with("SRS0=") && rewritten.ends_with("=Example.org=Alice@mx.example.com"),
            "{rewritten}"
        );
        assert_eq!(srs.reverse(&rewritten, DAY), Ok("Alice@Example.org".into()));
        // Some relays change the case of local parts; the address still works.
        assert_eq!(srs.reverse(&rewritten.to_ascii_lowercase(), DAY), Ok("alice@example.org".into()));
        assert_eq!(srs.reverse(&rewritten, DAY + MAX_AGE_DAYS), Ok("Alice@Example.org".into()));
        assert_eq!(srs.reverse(&rewritten, DAY + MAX_AGE_DAYS + 1), Err(SrsError::Expired));
        // The timestamp wraps every 1024 days.
        let late = srs.forward("a@b.example", 1023);
        assert_eq!(srs.reverse(&late, 1024 + 3), Ok("a@b.example".into()));
    }

    #[test]
    fn addresses_not_made_by_us_are_refused() {
        let srs = ours();
        let rewritten = srs.forward("alice@example.org", DAY);
        let other = Srs::new(b"someone else's secret, sixteen+", "mx.example.com");
        assert_eq!(other.reverse(&rewritten, DAY), Err(SrsError::BadHash));
        let retargeted = rewritten.replace("=alice@", "=mallory@");
        assert_eq!(srs.reverse(&retargeted, DAY), Err(SrsError::BadHash));
        for bad in ["SRS0=abc@mx.example.com", "SRS0=@x", "SRS2=a=b=c=d@x", "SRS1=abc=host@x", "bob@x", "SRS0", "@"] {
            assert_eq!(srs.reverse(bad, DAY), Err(SrsError::Malformed), "{bad}");
        }
        assert_eq!(srs.reverse("SRS0=ABCDEF=ZZ=example.org=a@x", DAY), Err(SrsError::BadHash));
    }

    #[test]
    fn an_address_already_rewritten_elsewhere_becomes_srs1_and_leads_back_through_its_forwarder() {
        let first = Srs::new(b"the first forwarder's own secret", "fw.example");
        let srs0 = first.forward("alice@example.org", DAY);
        let srs = ours();
        let srs1 = srs.forward(&srs0, DAY);
        assert!(
            srs1.starts_with("SRS1=") && srs1.contains("=fw.example==") && srs1.ends_with("@mx.example.com"),
            "{srs1}"
        );
        assert_eq!(srs.reverse(&srs1, DAY), Ok(srs0.clone()));
        assert_eq!(first.reverse(&srs0, DAY), Ok("alice@example.org".into()));
        // A third forwarder keeps the first one in the address and vouches for it itself.
        let third = Srs::new(b"a third forwarder, sixteen octets", "fw3.example");
        let again = third.forward(&srs1, DAY);
        assert!(again.starts_with("SRS1=") && again.contains("=fw.example==") && again.ends_with("@fw3.example"));
        assert_eq!(third.reverse(&again, DAY), Ok(srs0));
        // Our own SRS address is not rewritten again.
        assert_eq!(srs.forward(&srs1, DAY), srs1);
    }

    #[test]
    fn the_secret_is_made_once_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(Srs::load(dir.path(), "mx.example.com").is_none());
        Srs::create_secret(dir.path()).unwrap();
        let secret = fs::read(secret_path(dir.path())).unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(fs::metadata(secret_path(dir.path())).unwrap().permissions().mode() & 0o777, 0o600);
        Srs::create_secret(dir.path()).unwrap();
        assert_eq!(fs::read(secret_path(dir.path())).unwrap(), secret);
        let a = Srs::load(dir.path(), "mx.example.com").unwrap();
        assert_eq!(a.reverse(&a.forward("x@y.example", DAY), DAY), Ok("x@y.example".into()));
    }

    #[test]
    fn base32_and_timestamps_round_trip() {
        assert_eq!(base32(b"foobar"), b"MZXW6YTBOI".to_vec()); // RFC 4648 10
        for day in [0, 1, 31, 32, 1023, 1024, DAY] {
            assert_eq!(days_of(&timestamp(day)), Some(day % 1024));
        }
    }
}
