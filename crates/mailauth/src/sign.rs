//! DKIM signing of the mail our users send (RFC 6376 5): every signing key of the From:
//! domain signs, relaxed/relaxed, over the header fields RFC 6376 5.4.1 recommends that the
//! message has, with From, To and Subject over-signed so no second one can be added.

use crate::keys::{Key, Keyring, Kind};
use carrier_config::Config;
use carrier_smtp::headers;
use mail_auth::common::crypto::{Algorithm, DkimKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::common::headers::Writable;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use std::sync::{Arc, RwLock};

/// RFC 6376 5.4.1: the fields a signature should cover, when the message has them.
const SIGNED: [&str; 24] = [
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// RFC 6376 8.15: listed once more than they occur, so a copy added later breaks the signature.
const OVERSIGNED: [&str; 3] = ["From", "To", "Subject"];

/// The keys in force; reloaded after `carrier dkim rotate`.
pub struct Signer {
    keys: RwLock<Arc<Keyring>>,
}

impl Signer {
    pub fn new(keys: Keyring) -> Signer {
        Signer { keys: RwLock::new(Arc::new(keys)) }
    }

    /// Re-reads the keys; on an error the old ones stay in force.
    pub fn reload(&self, cfg: &Config) -> Result<usize, String> {
        let keys = Keyring::load(cfg)?;
        let count = keys.keys().iter().filter(|k| k.signing).count();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(count)
    }

    /// The keys in force.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key that seals forwarded mail (RFC 8617 5.1): the RSA signing key of the first
    /// local domain that has one (rsa-sha256 is the one algorithm every ARC verifier knows).
    pub fn arc_key(&self, domains: &[String]) -> Option<(Arc<Keyring>, usize)> {
        let keys = self.keyring();
        let index = domains.iter().find_map(|d| {
            keys.keys().iter().position(|k| k.signing && k.kind == Kind::Rsa && k.domain.eq_ignore_ascii_case(d))
        })?;
        Some((keys, index))
    }

    /// The DKIM-Signature fields to put on top of `message` (CRLF line ends), and the domain
    /// that signed; None when no key signs for its From: domain.
    pub fn sign(&self, message: &[u8]) -> Result<Option<(String, String)>, String> {
        let Some(author) = author_domain(message) else { return Ok(None) };
        let keys = self.keyring();
        let Some(domain) = signing_domain(&keys, &author) else { return Ok(None) };
        let names = signed_names(message);
        let mut fields = String::new();
        for key in keys.of(&domain).filter(|k| k.signing) {
            fields.push_str(&sign_with(key, &names, message)?);
        }
        Ok(Some((fields, domain)))
    }
}

/// The domain of the From: address; None without one, or when From: names addresses of
/// several domains (DMARC has no answer for those, RFC 7489 6.6.1).
fn author_domain(message: &[u8]) -> Option<String> {
    let fields = headers::fields(message);
    let (_, from) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case("From"))?;
    let domains: Vec<String> = headers::addresses(from)
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase()))
        .collect();
    let first = domains.first()?;
    domains.iter().all(|d| d == first).then(|| first.clone())
}

/// The author's domain, or the nearest parent with signing keys: `d=example.com` on mail
/// from `news.example.com` still aligns under DMARC's relaxed rule (RFC 7489 3.1.1).
fn signing_domain(keys: &Keyring, author: &str) -> Option<String> {
    let mut candidate = author;
    loop {
        if keys.of(candidate).any(|k| k.signing) {
            return Some(candidate.to_string());
        }
        candidate = candidate.split_once('.')?.1;
        if !candidate.contains('.') {
            return None; // never a top-level domain
        }
    }
}

/// The `h=` list for this message (also the ARC-Message-Signature's).
pub(crate) fn signed_names(message: &[u8]) -> Vec<String> {
    let present = headers::fields(message);
    let mut names: Vec<String> = SIGNED.iter().filter(|n| headers::has(&present, n)).map(|n| n.to_string()).collect();
    // mail-auth lists every occurrence of a name, then once more each name of the list it did
    // not find: a second entry is never "found", so it adds exactly one empty instance.
    for name in OVERSIGNED {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        names.push(name.to_string());
    }
    names
}

fn sign_with(key: &Key, names: &[String], message: &[u8]) -> Result<String, String> {
    let signature = DkimSigner::from_key(Borrowed(&key.secret))
        .domain(&key.domain)
        .selector(&key.selector)
        .headers(names.iter().cloned())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(message)
        .map_err(|e| format!("DKIM signing with {} failed: {e}", key.record_name()))?;
    Ok(signature.to_header())
}

/// A key lent to one signature: mail-auth's signer owns its key, and the `h=` list differs
/// from message to message, while parsing a key again for each would cost more than signing.
pub(crate) struct Borrowed<'k>(pub(crate) &'k DkimKey);

impl SigningKey for Borrowed<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}
