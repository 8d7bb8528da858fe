//! DKIM keys (RFC 6376 3.6): one Ed25519 (RFC 8463) and one RSA-2048 key per local domain,
//! made at the first start and by `carrier dkim rotate`, kept as PEM files in
//! `data_dir/dkim/<domain>/<selector>.key`. The selectors listed in
//! `data_dir/dkim/<domain>/signing` sign; the others stay published (so mail signed before a
//! rotation still verifies) until `carrier dkim retire` moves them to `retired/`. A domain
//! with `[[dkim.keys]]` entries (OpenDKIM's key files, say) uses those instead.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use carrier_config::Config;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::generate::DkimKeyPair;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The signature algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ed25519-sha256 (RFC 8463).
    Ed25519,
    /// rsa-sha256 (RFC 6376 3.3.2, RFC 8301).
    Rsa,
}

impl Kind {
    /// The `k=` tag of the key record.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Ed25519 => "ed25519",
            Kind::Rsa => "rsa",
        }
    }

    /// The last letter of a generated selector.
    fn letter(self) -> char {
        match self {
            Kind::Ed25519 => 'e',
            Kind::Rsa => 'r',
        }
    }
}

/// One key of one domain.
pub struct Key {
    /// The signing domain (d=).
    pub domain: String,
    /// The selector (s=).
    pub selector: String,
    pub kind: Kind,
    /// The PEM file.
    pub path: PathBuf,
    /// True when it signs; false when it is only kept published until it is retired.
    pub signing: bool,
    /// The public key as published in `p=`.
    public: Vec<u8>,
    pub(crate) secret: DkimKey,
}

impl Key {
    /// Where the key record is published.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record (RFC 6376 3.6.1).
    pub fn record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.kind.tag(), B64.encode(&self.public))
    }
}

/// Every key carrier publishes, for every domain.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// Reads the keys of `[[dkim.keys]]` and of `data_dir/dkim`.
    pub fn load(cfg: &Config) -> Result<Keyring, String> {
        let mut keys = Vec::new();
        for k in &cfg.dkim.keys {
            let (kind, public, secret) = read_key(&k.private_key)?;
            keys.push(Key {
                domain: k.domain.clone(),
                selector: k.selector.clone(),
                kind,
                path: k.private_key.clone(),
                signing: true,
                public,
                secret,
            });
        }
        for domain in generated_domains(cfg) {
            let dir = domain_dir(cfg, &domain);
            let signing = signing_selectors(&dir)?;
            for selector in selectors_in(&dir)? {
                let path = dir.join(format!("{selector}.key"));
                let (kind, public, secret) = read_key(&path)?;
                let signing = signing.contains(&selector);
                keys.push(Key { domain: domain.clone(), selector, kind, path, signing, public, secret });
            }
        }
        Ok(Keyring { keys })
    }

    /// All keys, signing or only published.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The keys of one domain.
    pub fn of<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| k.domain.eq_ignore_ascii_case(domain))
    }
}

/// The local domains whose keys carrier makes itself (those without `[[dkim.keys]]`).
fn generated_domains(cfg: &Config) -> Vec<String> {
    cfg.domains.iter().filter(|d| !cfg.dkim.keys.iter().any(|k| &k.domain == *d)).cloned().collect()
}

/// `data_dir/dkim/<domain>`.
pub fn domain_dir(cfg: &Config, domain: &str) -> PathBuf {
    cfg.data_dir.join("dkim").join(domain)
}

/// Makes keys for every local domain that has none; returns the files and directories it
/// created (so a caller running as root can give them to the daemon's user).
pub fn ensure(cfg: &Config, now: SystemTime) -> Result<Vec<PathBuf>, String> {
    let mut created = Vec::new();
    if !cfg.dkim.sign {
        return Ok(created);
    }
    for domain in generated_domains(cfg) {
        if signing_selectors(&domain_dir(cfg, &domain))?.is_empty() {
            created.extend(rotate(cfg, &domain, now)?.1);
        }
    }
    Ok(created)
}

/// Makes a new pair of keys (Ed25519 and RSA) for `domain` with selectors named by the date,
/// and makes them the signing keys; the old ones stay published. Returns the new selectors
/// and the paths created.
pub fn rotate(cfg: &Config, domain: &str, now: SystemTime) -> Result<(Vec<String>, Vec<PathBuf>), String> {
    if !cfg.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(format!("{domain} is not one of the local domains in carrier.toml (domains = [...])"));
    }
    if cfg.dkim.keys.iter().any(|k| k.domain.eq_ignore_ascii_case(domain)) {
        return Err(format!(
            "{domain} signs with the keys of [[dkim.keys]] in carrier.toml; rotate those where they were made, \
             or remove the entries to let carrier make its own"
        ));
    }
    let dir = domain_dir(cfg, domain);
    let mut created = Vec::new();
    for d in [cfg.data_dir.join("dkim"), dir.clone()] {
        if !d.is_dir() {
            fs::DirBuilder::new().mode(0o700).recursive(true).create(&d).map_err(|e| io_error(&d, &e))?;
            created.push(d);
        }
    }
    let stem = free_stem(&dir, now);
    let mut selectors = Vec::new();
    for kind in [Kind::Ed25519, Kind::Rsa] {
        let selector = format!("{stem}{}", kind.letter());
        let path = dir.join(format!("{selector}.key"));
        write_private(&path, &generate(kind)?)?;
        created.push(path);
        selectors.push(selector);
    }
    let signing = dir.join("signing");
    write_atomic(&signing, selectors.iter().map(|s| format!("{s}\n")).collect::<String>().as_bytes())?;
    created.push(signing);
    Ok((selectors, created))
}

/// Stops publishing a key that no longer signs: its file moves to `retired/`.
pub fn retire(cfg: &Config, domain: &str, selector: &str) -> Result<PathBuf, String> {
    let dir = domain_dir(cfg, domain);
    let path = dir.join(format!("{selector}.key"));
    if !selectors_in(&dir)?.iter().any(|s| s == selector) {
        return Err(format!("{domain} has no key with selector {selector} in {}", dir.display()));
    }
    if signing_selectors(&dir)?.iter().any(|s| s == selector) {
        return Err(format!(
            "{selector} still signs {domain}'s mail; run `carrier dkim rotate {domain}` first, wait until mail \
             signed with it has been delivered (a few days), then retire it"
        ));
    }
    let retired = dir.join("retired");
    fs::DirBuilder::new().mode(0o700).recursive(true).create(&retired).map_err(|e| io_error(&retired, &e))?;
    let to = retired.join(format!("{selector}.key"));
    fs::rename(&path, &to).map_err(|e| io_error(&path, &e))?;
    Ok(to)
}

/// The date part of new selectors, e.g. `20261205`, with `-2`, `-3`... on a second rotation
/// the same day.
fn free_stem(dir: &Path, now: SystemTime) -> String {
    let (y, m, d) = carrier_syntax::date::utc_date(now);
    let date = format!("{y:04}{m:02}{d:02}");
    let taken =
        |stem: &str| [Kind::Ed25519, Kind::Rsa].iter().any(|k| dir.join(format!("{stem}{}.key", k.letter())).exists());
    let mut stem = date.clone();
    let mut n = 2;
    while taken(&stem) {
        stem = format!("{date}-{n}");
        n += 1;
    }
    stem
}

/// A new private key as PEM.
fn generate(kind: Kind) -> Result<String, String> {
    let failed = |e: mail_auth::Error| format!("cannot generate a DKIM key: {e}");
    Ok(match kind {
        Kind::Ed25519 => pem("PRIVATE KEY", &Ed25519Key::generate_pkcs8().map_err(failed)?),
        // RFC 8301 3.2: at least 1024 bits, 2048 recommended; 2048 still fits one TXT string set.
        Kind::Rsa => pem("RSA PRIVATE KEY", DkimKeyPair::generate_rsa(2048).map_err(failed)?.private_key()),
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads a PEM private key: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
fn read_key(path: &Path) -> Result<(Kind, Vec<u8>, DkimKey), String> {
    let text = fs::read(path).map_err(|e| io_error(path, &e))?;
    let bad = |why: String| format!("DKIM key {}: {why}", path.display());
    let der = PrivateKeyDer::from_pem_slice(&text)
        .map_err(|e| bad(format!("not a PEM private key ({e}); expected `-----BEGIN PRIVATE KEY-----`")))?;
    let rsa = |der: PrivateKeyDer<'_>| {
        RsaKey::<Sha256>::from_key_der(der).map(|k| (Kind::Rsa, spki_rsa(&k.public_key()), DkimKey::Rsa(k)))
    };
    match der {
        PrivateKeyDer::Pkcs1(_) => rsa(der).map_err(|e| bad(rsa_problem(&e))),
        PrivateKeyDer::Pkcs8(ref pkcs8) => {
            let ed = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der());
            match ed {
                Ok(k) => Ok((Kind::Ed25519, k.public_key(), DkimKey::Ed25519(k))),
                Err(_) => rsa(der.clone_key()).map_err(|e| bad(rsa_problem(&e))),
            }
        }
        _ => Err(bad("an elliptic-curve (SEC1) key; DKIM signs with RSA or Ed25519 keys".into())),
    }
}

fn rsa_problem(e: &mail_auth::Error) -> String {
    format!(
        "cannot use it as an RSA or Ed25519 key ({e}); RSA keys must have 2048 to 8192 bits (RFC 8301: keys \
         under 2048 bits are weak; make a new one with `openssl genrsa 2048`)"
    )
}

/// An RSAPublicKey (PKCS#1) wrapped as the SubjectPublicKeyInfo that DKIM records carry
/// (RFC 6376 3.6.1: `p=` holds the DER of the key as OpenSSL writes it).
fn spki_rsa(pkcs1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
    const ALGORITHM: [u8; 15] =
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bits = vec![0u8]; // no unused bits
    bits.extend_from_slice(pkcs1);
    let mut inner = ALGORITHM.to_vec();
    inner.extend(der(0x03, &bits));
    der(0x30, &inner)
}

/// One DER tag-length-value.
fn der(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// The selectors that sign, from `<dir>/signing`; none when the file is absent.
fn signing_selectors(dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join("signing");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(&path, &e)),
    }
}

/// The selectors with a key file in `dir`, sorted.
fn selectors_in(dir: &Path) -> Result<Vec<String>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, &e)),
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".key").map(str::to_string))
        .collect();
    out.sort();
    Ok(out)
}

/// A private key file: readable by its owner only, durable before it is used.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    write_atomic(path, text.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
    };
    write().map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn config(dir: &Path) -> Config {
        let mut cfg = Config::development();
        cfg.data_dir = dir.to_path_buf();
        cfg.domains = vec!["example.com".into()];
        cfg
    }

    const DEC_5_2026: u64 = 1_796_428_800;

    #[test]
    fn first_start_makes_a_pair_named_by_the_date() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let now = UNIX_EPOCH + Duration::from_secs(DEC_5_2026);
        let created = ensure(&cfg, now).unwrap();
        assert!(created.iter().any(|p| p.ends_with("example.com/20261205e.key")), "{created:?}");
        assert!(ensure(&cfg, now).unwrap().is_empty(), "keys are made once");
        let ring = Keyring::load(&cfg).unwrap();
        let names: Vec<_> = ring.of("example.com").map(|k| (k.selector.as_str(), k.kind, k.signing)).collect();
        assert_eq!(names, [("20261205e", Kind::Ed25519, true), ("20261205r", Kind::Rsa, true)]);
        let mode = fs::metadata(dir.path().join("dkim/example.com/20261205r.key")).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        let ed = ring.of("example.com").next().unwrap();
        assert_eq!(ed.record_name(), "20261205e._domainkey.example.com");
        assert!(ed.record().starts_with("v=DKIM1; k=ed25519; p="), "{}", ed.record());
    }

    #[test]
    fn rotation_keeps_the_old_keys_published_until_retired() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let now = UNIX_EPOCH + Duration::from_secs(DEC_5_2026);
        ensure(&cfg, now).unwrap();
        let (new, _) = rotate(&cfg, "example.com", now).unwrap();
        assert_eq!(new, ["20261205-2e", "20261205-2r"]);
        assert!(retire(&cfg, "example.com", "20261205-2e").unwrap_err().contains("still signs"));
        retire(&cfg, "example.com", "20261205e").unwrap();
        let ring = Keyring::load(&cfg).unwrap();
        let all: Vec<_> = ring.of("example.com").map(|k| (k.selector.as_str(), k.signing)).collect();
        assert_eq!(all, [("20261205-2e", true), ("20261205-2r", true), ("20261205r", false)]);
        assert!(rotate(&cfg, "example.org", now).unwrap_err().contains("not one of the local domains"));
    }

    #[test]
    fn keys_from_elsewhere_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        let file = dir.path().join("mail.private");
        fs::write(&file, generate(Kind::Rsa).unwrap()).unwrap();
        cfg.dkim.keys.push(carrier_config::DkimKey {
            domain: "example.com".into(),
            selector: "mail".into(),
            private_key: file.clone(),
        });
        assert!(ensure(&cfg, SystemTime::now()).unwrap().is_empty(), "no keys made for a configured domain");
        let ring = Keyring::load(&cfg).unwrap();
        let key = ring.of("example.com").next().unwrap();
        assert_eq!((key.selector.as_str(), key.kind), ("mail", Kind::Rsa));
        // A 2048-bit SubjectPublicKeyInfo is 294 octets.
        assert_eq!(key.public.len(), 294);
        fs::write(&file, "not a key").unwrap();
        let err = Keyring::load(&cfg).err().unwrap();
        assert!(err.contains("mail.private") && err.contains("not a PEM private key"), "{err}");
    }
}
