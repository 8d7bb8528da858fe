//! carrier's TLS set-up. For the listeners: the configured PEM certificate, or a
//! self-signed one generated on first start, so that STARTTLS, SMTPS, POP3S and IMAPS work
//! out of the box. For the relay: opportunistic and verifying client configurations. TLS 1.2
//! and 1.3 only; the ring provider is named explicitly so nothing depends on a process-wide
//! default.

pub mod certinfo;
pub mod dane;

use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How long a generated certificate stays valid: ten years.
const SELF_SIGNED_LIFETIME: Duration = Duration::from_secs(3652 * 24 * 60 * 60);
/// A generated certificate is valid from a day before it was made, so a client whose clock
/// runs a little behind does not reject it as "not yet valid".
const CLOCK_SKEW: Duration = Duration::from_secs(24 * 60 * 60);

/// Where the certificate came from, for logs and `carrier check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// From `[tls]` in the configuration.
    Configured { cert: PathBuf, key: PathBuf },
    /// Generated in `data_dir/tls`; `created` on this call.
    SelfSigned { cert: PathBuf, key: PathBuf, created: bool },
}

impl CertSource {
    /// The certificate and key files.
    fn paths(&self) -> (&Path, &Path) {
        let (CertSource::Configured { cert, key } | CertSource::SelfSigned { cert, key, .. }) = self;
        (cert, key)
    }

    /// What the operator should do when the `which` ("cert" or "key") file does not load.
    fn remedy(&self, which: &str) -> String {
        match self {
            CertSource::Configured { .. } => format!(
                "set [tls] {which} to a PEM file, or remove the [tls] section to use a generated self-signed certificate"
            ),
            CertSource::SelfSigned { cert, key, .. } => format!(
                "delete {} and {} to have a new self-signed certificate generated",
                cert.display(),
                key.display()
            ),
        }
    }
}

/// For logs: where the certificate is, in words.
impl fmt::Display for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertSource::Configured { cert, key } => write!(f, "{} (key {}, from [tls])", cert.display(), key.display()),
            CertSource::SelfSigned { cert, created: true, .. } => {
                write!(f, "{} (self-signed, made now; set [tls] for a trusted one)", cert.display())
            }
            CertSource::SelfSigned { cert, created: false, .. } => {
                write!(f, "{} (self-signed; set [tls] for a trusted one)", cert.display())
            }
        }
    }
}

/// A TLS set-up problem, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration for STARTTLS and implicit-TLS listeners: the `[tls]` files when
/// `configured`, else `data_dir/tls/{cert,key}.pem`, generated self-signed for `hostname` if absent.
pub fn server_config(
    hostname: &str,
    data_dir: &Path,
    configured: Option<(&Path, &Path)>,
) -> Result<(Arc<ServerConfig>, CertSource), TlsError> {
    let source = match configured {
        Some((cert, key)) => CertSource::Configured { cert: cert.to_path_buf(), key: key.to_path_buf() },
        None => {
            let dir = data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let created = ensure_self_signed(hostname, &dir, &cert, &key)?;
            CertSource::SelfSigned { cert, key, created }
        }
    };
    let (cert, key) = source.paths();
    let chain = load_certs(cert, &source)?;
    let private_key = load_key(key, &source)?;
    // Only TLS 1.3 and 1.2 are offered; rustls implements nothing older. No ALPN: SMTP, POP3
    // and IMAP over TLS do not negotiate one.
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .map_err(|e| TlsError(format!("TLS set-up failed: the ring provider refused TLS 1.2/1.3: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| unusable_pair(&source, e))?;
    Ok((Arc::new(config), source))
}

/// Explains why rustls refused a certificate and key that both parsed.
fn unusable_pair(source: &CertSource, e: rustls::Error) -> TlsError {
    let (cert, key) = source.paths();
    let fix = match source {
        CertSource::Configured { .. } => "set [tls] key to the key the certificate was issued for".to_string(),
        CertSource::SelfSigned { .. } => source.remedy("key"),
    };
    TlsError(match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            format!("the TLS key {} does not belong to the certificate {}; {fix}", key.display(), cert.display())
        }
        e => format!("cannot use the TLS certificate {} with the key {}: {e}; {fix}", cert.display(), key.display()),
    })
}

/// The listeners' TLS set-up, replaceable while running: SIGHUP or a changed certificate
/// file loads the new one; if it does not load, the old one stays in force.
pub struct Reloadable {
    hostname: String,
    data_dir: PathBuf,
    configured: Option<(PathBuf, PathBuf)>,
    current: RwLock<(tokio_rustls::TlsAcceptor, Option<(SystemTime, SystemTime)>)>,
}

impl Reloadable {
    /// Loads (or generates) the certificate for the first time.
    pub fn new(
        hostname: &str,
        data_dir: &Path,
        configured: Option<(&Path, &Path)>,
    ) -> Result<(Reloadable, CertSource), TlsError> {
        let configured = configured.map(|(c, k)| (c.to_path_buf(), k.to_path_buf()));
        let (config, source) =
            server_config(hostname, data_dir, configured.as_ref().map(|(c, k)| (c.as_path(), k.as_path())))?;
        let stamp = file_times(&source);
        let current = RwLock::new((tokio_rustls::TlsAcceptor::from(config), stamp));
        Ok((
            Reloadable { hostname: hostname.to_string(), data_dir: data_dir.to_path_buf(), configured, current },
            source,
        ))
    }

    /// The acceptor for a new handshake.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// Loads the certificate again. On an error the previous one stays in force.
    pub fn reload(&self) -> Result<CertSource, TlsError> {
        let configured = self.configured.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
        let (config, source) = server_config(&self.hostname, &self.data_dir, configured)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            (tokio_rustls::TlsAcceptor::from(config), file_times(&source));
        Ok(source)
    }

    /// True when the certificate or key file changed since it was loaded.
    pub fn changed_on_disk(&self) -> bool {
        let (cert, key) = match &self.configured {
            Some((c, k)) => (c.clone(), k.clone()),
            None => (self.data_dir.join("tls/cert.pem"), self.data_dir.join("tls/key.pem")),
        };
        let now = modified(&cert).zip(modified(&key));
        now.is_some() && now != self.current.read().unwrap_or_else(|e| e.into_inner()).1
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn file_times(source: &CertSource) -> Option<(SystemTime, SystemTime)> {
    let (cert, key) = source.paths();
    modified(cert).zip(modified(key))
}

/// The certificate chain in `path`, end-entity certificate first.
fn load_certs(path: &Path, source: &CertSource) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path).and_then(|items| items.collect::<Result<Vec<_>, _>>());
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) | Err(pem::Error::NoItemsFound) => Err(TlsError(format!(
            "{} holds no certificate (expected a PEM 'CERTIFICATE' block); {}",
            path.display(),
            source.remedy("cert")
        ))),
        Err(e) => Err(pem_error(path, "certificate", e, source.remedy("cert"))),
    }
}

/// The first private key in `path` (PKCS#8, PKCS#1 or SEC1).
fn load_key(path: &Path, source: &CertSource) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_file(path) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let text = fs::read(path).unwrap_or_default();
            let encrypted = text.windows(9).any(|w| w == b"ENCRYPTED");
            let fix = match encrypted {
                // carrier starts unattended, so there is nobody to type a passphrase.
                true => format!(
                    "it is encrypted: decrypt it (`openssl pkey -in {0} -out {0}.plain`) and set [tls] key to the result",
                    path.display()
                ),
                false => source.remedy("key"),
            };
            Err(TlsError(format!(
                "{} holds no private key (expected a PEM 'PRIVATE KEY' block); {fix}",
                path.display()
            )))
        }
        Err(e) => Err(pem_error(path, "key", e, source.remedy("key"))),
    }
}

/// A PEM file that could not be read or parsed: the cause, then the fix.
fn pem_error(path: &Path, what: &str, e: pem::Error, fix: String) -> TlsError {
    TlsError(match e {
        pem::Error::Io(e) => format!("cannot read TLS {what} {}: {e}; {fix}", path.display()),
        e => format!("TLS {what} {} is not valid PEM ({e}); {fix}", path.display()),
    })
}

/// Makes `cert.pem`/`key.pem` for `hostname` unless both exist; true when it made them.
fn ensure_self_signed(hostname: &str, dir: &Path, cert: &Path, key: &Path) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let failed = |e: io::Error| {
        TlsError(format!(
            "cannot write a self-signed TLS certificate to {}: {e}; let carrier write to data_dir, or set [tls] cert \
             and key",
            dir.display()
        ))
    };
    create_private_dir(dir).map_err(failed)?;
    // `carrier serve` and `carrier check` may start together: one generates, the other waits
    // and then uses that pair, so neither writes a key that does not match the other's certificate.
    let _lock = lock(dir).map_err(failed)?;
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let (cert_pem, key_pem) = self_signed(hostname, SystemTime::now())?;
    // Key first: a crash before cert.pem is in place leaves no certificate, so the next
    // start makes a fresh pair instead of pairing an old certificate with a new key.
    write_atomically(key, key_pem.as_bytes(), 0o600).map_err(failed)?;
    write_atomically(cert, cert_pem.as_bytes(), 0o644).map_err(failed)?;
    // The renames are durable only once the directory itself reaches the disk.
    File::open(dir).and_then(|d| d.sync_all()).map_err(failed)?;
    Ok(true)
}

/// A self-signed certificate and its ECDSA P-256 key for `hostname`, both PEM.
fn self_signed(hostname: &str, now: SystemTime) -> Result<(String, String), TlsError> {
    let unfit = |e: rcgen::Error| {
        TlsError(format!(
            "cannot make a self-signed TLS certificate for the host name {hostname:?}: {e}; set hostname to the \
             server's DNS name (ASCII, e.g. mail.example.com) or set [tls] cert and key"
        ))
    };
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| TlsError(format!("cannot generate an ECDSA P-256 key for the TLS certificate: {e}")))?;
    // The host name alone: it is the name other MTAs and mail clients connect to.
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()]).map_err(unfit)?;
    // Clients show the subject to users deciding whether to trust it: name the host.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, hostname);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut params, now);
    let cert = params.self_signed(&key_pair).map_err(unfit)?;
    Ok((cert.pem(), key_pair.serialize_pem()))
}

/// Valid from a day before `now` for ten years (rcgen's default is 1975 to 4096).
fn set_validity(params: &mut rcgen::CertificateParams, now: SystemTime) {
    let since_epoch = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch.saturating_sub(CLOCK_SKEW);
    params.not_after = epoch + since_epoch + SELF_SIGNED_LIFETIME;
}

/// Creates `dir` (mode 0700: it holds the private key) and any missing parents (default mode).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        result => result,
    }
}

/// An exclusive `flock(2)` on `dir`, held until the returned file is dropped.
fn lock(dir: &Path) -> io::Result<File> {
    let file = File::open(dir)?;
    loop {
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(file);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Writes `path` through a temporary name in the same directory, then renames it, so a
/// crash leaves either no file or the whole file, never half of one.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = path.with_extension("pem.tmp");
    // A leftover from a crash may have another mode; start afresh so `mode` applies.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A client configuration that does not verify certificates: opportunistic TLS between
/// MTAs (RFC 7435 and RFC 3207 4.1: an MX's certificate is rarely valid for its name, and
/// refusing to deliver would only push the mail to plain text).
pub fn insecure_client_config() -> Arc<rustls::ClientConfig> {
    Arc::new(insecure_client(&[&TLS13, &TLS12]))
}

/// A certificate-ignoring client offering only `versions`.
fn insecure_client(versions: &[&'static rustls::SupportedProtocolVersion]) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
        .with_no_client_auth()
}

/// The system's bundle of certificate authorities (Debian's ca-certificates).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A client configuration that verifies the server's certificate against the authorities in
/// `ca_file` (PEM): for smarthosts (we send them a password, so they must prove who they
/// are), MTA-STS policy servers and MX hosts whose domain requires verified TLS. `setting`
/// names the key that chooses another file, for the error.
pub fn verifying_client_config(ca_file: &Path, setting: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let fix =
        format!("install ca-certificates, or set {setting} to a PEM file of the certificate authorities to trust");
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| TlsError(format!("cannot read the CA file {}: {e}; {fix}", ca_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        let cert = cert.map_err(|e| TlsError(format!("{} is not a PEM file: {e}; {fix}", ca_file.display())))?;
        // One unusable certificate in a system bundle should not disable all the others.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsError(format!("{} holds no certificate; {fix}", ca_file.display())));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .map_err(|e| TlsError(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts any certificate, but still checks the handshake signatures, so the peer must
/// hold the key of the certificate it sent (RFC 7435: encryption without authentication).
#[derive(Debug)]
pub(crate) struct AcceptAnyCertificate;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls_pki_types::{ServerName, UnixTime};
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HOST: &str = "mx.example.com";
    const YEAR: u64 = 365 * 24 * 60 * 60;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Generates a self-signed pair under `data_dir` and returns its (cert, key) paths.
    fn generated(data_dir: &Path) -> (PathBuf, PathBuf) {
        server_config(HOST, data_dir, None).unwrap();
        (data_dir.join("tls/cert.pem"), data_dir.join("tls/key.pem"))
    }

    fn configured_error(cert: &Path, key: &Path) -> String {
        let data_dir = tempfile::tempdir().unwrap();
        server_config(HOST, data_dir.path(), Some((cert, key))).unwrap_err().to_string()
    }

    fn first_cert(path: &Path) -> CertificateDer<'static> {
        CertificateDer::pem_file_iter(path).unwrap().next().unwrap().unwrap()
    }

    #[test]
    fn first_call_generates_a_private_key_and_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (_, source) = server_config(HOST, dir.path(), None).unwrap();
        let tls = dir.path().join("tls");
        let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
        assert_eq!(source, CertSource::SelfSigned { cert: cert.clone(), key: key.clone(), created: true });
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&tls), 0o700);
        let mut names: Vec<_> = fs::read_dir(&tls).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["cert.pem", "key.pem"], "no temporary file is left behind");
    }

    /// Issue 15.10: the log said `SelfSigned { cert: "...", key: "...", created: true }`.
    #[test]
    fn a_certificate_source_reads_as_words() {
        let (cert, key) = (PathBuf::from("/d/tls/cert.pem"), PathBuf::from("/d/tls/key.pem"));
        let made = CertSource::SelfSigned { cert: cert.clone(), key: key.clone(), created: true };
        assert_eq!(made.to_string(), "/d/tls/cert.pem (self-signed, made now; set [tls] for a trusted one)");
        let configured = CertSource::Configured { cert, key };
        assert_eq!(configured.to_string(), "/d/tls/cert.pem (key /d/tls/key.pem, from [tls])");
    }

    #[test]
    fn second_call_reuses_the_generated_files() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated(dir.path());
        let (cert_bytes, key_bytes) = (fs::read(&cert).unwrap(), fs::read(&key).unwrap());
        let (_, source) = server_config(HOST, dir.path(), None).unwrap();
        assert_eq!(source, CertSource::SelfSigned { cert: cert.clone(), key: key.clone(), created: false });
        assert_eq!(fs::read(&cert).unwrap(), cert_bytes);
        assert_eq!(fs::read(&key).unwrap(), key_bytes);
    }

    #[test]
    fn half_a_generated_pair_is_replaced_by_a_new_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated(dir.path());
        let old_key = fs::read(&key).unwrap();
        fs::remove_file(&cert).unwrap();
        let (_, source) = server_config(HOST, dir.path(), None).unwrap();
        assert!(matches!(source, CertSource::SelfSigned { created: true, .. }));
        assert_ne!(fs::read(&key).unwrap(), old_key);
    }

    #[test]
    fn an_existing_data_dir_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        generated(dir.path());
        assert_eq!(mode(dir.path()), 0o750);
    }

    #[test]
    fn generated_key_is_ecdsa_p256() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = generated(dir.path());
        let PrivateKeyDer::Pkcs8(der) = PrivateKeyDer::from_pem_file(&key).unwrap() else {
            panic!("expected a PKCS#8 key");
        };
        // OID 1.2.840.10045.3.1.7, secp256r1 (RFC 5480 2.1.1.1).
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert!(der.secret_pkcs8_der().windows(p256.len()).any(|w| w == p256));
    }

    /// Verifies the generated certificate as its own trust anchor, for `name` at `at`.
    fn verify(cert: &CertificateDer<'static>, name: &str, at: SystemTime) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build().unwrap();
        let since_epoch = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier.verify_server_cert(cert, &[], &name, &[], UnixTime::since_unix_epoch(since_epoch)).map(|_| ())
    }

    #[test]
    fn generated_certificate_names_the_host_only_and_lasts_ten_years() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = generated(dir.path());
        let cert = first_cert(&cert);
        let now = SystemTime::now();
        verify(&cert, HOST, now).unwrap();
        assert!(verify(&cert, "localhost", now).is_err(), "SAN is the host name only");
        verify(&cert, HOST, now + Duration::from_secs(9 * YEAR)).unwrap();
        assert!(verify(&cert, HOST, now + Duration::from_secs(11 * YEAR)).is_err(), "expires after ten years");
        verify(&cert, HOST, now - Duration::from_secs(12 * 60 * 60)).unwrap();
        assert!(verify(&cert, HOST, now - Duration::from_secs(2 * 24 * 60 * 60)).is_err());
    }

    #[test]
    fn validity_runs_from_a_day_before_for_ten_years() {
        let mut params = rcgen::CertificateParams::default();
        set_validity(&mut params, SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert_eq!(params.not_before.unix_timestamp(), 1_700_000_000 - 86_400);
        assert_eq!(params.not_after.unix_timestamp(), 1_700_000_000 + 3652 * 86_400);
    }

    #[test]
    fn configured_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated(dir.path());
        let elsewhere = tempfile::tempdir().unwrap();
        let (_, source) = server_config(HOST, elsewhere.path(), Some((&cert, &key))).unwrap();
        assert_eq!(source, CertSource::Configured { cert, key });
        assert!(!elsewhere.path().join("tls").exists(), "nothing is generated when [tls] is set");
    }

    #[test]
    fn one_file_with_both_certificate_and_key_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated(dir.path());
        let both = dir.path().join("both.pem");
        fs::write(&both, [fs::read(&cert).unwrap(), fs::read(&key).unwrap()].concat()).unwrap();
        server_config(HOST, dir.path(), Some((&both, &both))).unwrap();
    }

    #[test]
    fn missing_certificate_names_the_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = generated(dir.path());
        let e = configured_error(&dir.path().join("nope.pem"), &key);
        assert!(e.starts_with(&format!("cannot read TLS certificate {}/nope.pem: ", dir.path().display())), "{e}");
        assert!(e.contains("set [tls] cert to a PEM file, or remove the [tls] section"), "{e}");
    }

    #[test]
    fn missing_key_names_the_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = generated(dir.path());
        let e = configured_error(&cert, &dir.path().join("nokey.pem"));
        assert!(e.starts_with(&format!("cannot read TLS key {}/nokey.pem: ", dir.path().display())), "{e}");
        assert!(e.contains("set [tls] key to a PEM file"), "{e}");
    }

    #[test]
    fn key_file_without_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = generated(dir.path());
        let e = configured_error(&cert, &cert);
        let expected = format!("{} holds no private key (expected a PEM 'PRIVATE KEY' block)", cert.display());
        assert!(e.starts_with(&expected), "{e}");
    }

    #[test]
    fn encrypted_key_says_to_decrypt_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = generated(dir.path());
        let key = dir.path().join("encrypted.pem");
        fs::write(&key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n").unwrap();
        let e = configured_error(&cert, &key);
        assert!(e.contains("holds no private key") && e.contains("it is encrypted: decrypt it"), "{e}");
    }

    #[test]
    fn certificate_file_without_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = generated(dir.path());
        let e = configured_error(&key, &key);
        let expected = format!("{} holds no certificate (expected a PEM 'CERTIFICATE' block)", key.display());
        assert!(e.starts_with(&expected), "{e}");
    }

    #[test]
    fn truncated_pem_is_reported_as_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated(dir.path());
        let truncated = dir.path().join("truncated.pem");
        fs::write(&truncated, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        let e = configured_error(&truncated, &key);
        assert!(e.starts_with(&format!("TLS certificate {} is not valid PEM (", truncated.display())), "{e}");
        fs::write(&truncated, "-----BEGIN PRIVATE KEY-----\nMIIB\n").unwrap();
        let e = configured_error(&cert, &truncated);
        assert!(e.starts_with(&format!("TLS key {} is not valid PEM (", truncated.display())), "{e}");
    }

    #[test]
    fn a_certificate_that_is_not_x509_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = generated(dir.path());
        let junk = dir.path().join("junk.pem");
        fs::write(&junk, "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n").unwrap();
        let e = configured_error(&junk, &key);
        assert!(e.starts_with(&format!("cannot use the TLS certificate {}", junk.display())), "{e}");
    }

    #[test]
    fn mismatched_certificate_and_key() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ((cert, _), (_, other_key)) = (generated(a.path()), generated(b.path()));
        let e = configured_error(&cert, &other_key);
        let expected = format!(
            "the TLS key {} does not belong to the certificate {}; set [tls] key to the key the certificate was issued for",
            other_key.display(),
            cert.display()
        );
        assert_eq!(e, expected);
    }

    #[test]
    fn mismatched_generated_pair_says_to_delete_it() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ((_, key), (_, other_key)) = (generated(a.path()), generated(b.path()));
        fs::copy(&other_key, &key).unwrap();
        let e = server_config(HOST, a.path(), None).unwrap_err().to_string();
        assert!(
            e.contains("does not belong to") && e.contains("to have a new self-signed certificate generated"),
            "{e}"
        );
    }

    #[test]
    fn host_name_unfit_for_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let e = server_config("mäil.example.com", dir.path(), None).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot make a self-signed TLS certificate for the host name \"mäil.example.com\""),
            "{e}"
        );
        assert!(!dir.path().join("tls/key.pem").exists(), "no key without a certificate");
    }

    #[test]
    fn data_dir_that_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "").unwrap();
        let e = server_config(HOST, &file, None).unwrap_err().to_string();
        let expected = format!("cannot write a self-signed TLS certificate to {}/tls: ", file.display());
        assert!(
            e.starts_with(&expected) && e.ends_with("let carrier write to data_dir, or set [tls] cert and key"),
            "{e}"
        );
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_pair() {
        let dir = tempfile::tempdir().unwrap();
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let data_dir = dir.path().to_path_buf();
                std::thread::spawn(move || server_config(HOST, &data_dir, None).map(|(_, source)| source))
            })
            .collect();
        let created = starts
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .filter(|s| matches!(s, CertSource::SelfSigned { created: true, .. }))
            .count();
        assert_eq!(created, 1);
        server_config(HOST, dir.path(), None).unwrap();
    }

    /// What a client saw of a handshake.
    struct Seen {
        version: rustls::ProtocolVersion,
        alpn: Option<Vec<u8>>,
        cert: CertificateDer<'static>,
    }

    /// Connects `client` to `acceptor` over an in-memory pipe and echoes a few bytes through.
    async fn handshake(acceptor: tokio_rustls::TlsAcceptor, client: rustls::ClientConfig) -> Seen {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server_side = tokio::spawn(async move {
            let mut s = acceptor.accept(a).await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        });
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let mut c = connector.connect(ServerName::try_from(HOST).unwrap(), b).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server_side.await.unwrap();
        let session = c.get_ref().1;
        Seen {
            version: session.protocol_version().unwrap(),
            alpn: session.alpn_protocol().map(<[u8]>::to_vec),
            cert: session.peer_certificates().unwrap()[0].clone().into_owned(),
        }
    }

    #[tokio::test]
    async fn default_client_negotiates_tls13_with_the_generated_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = server_config(HOST, dir.path(), None).unwrap();
        let seen = handshake(server.into(), (*insecure_client_config()).clone()).await;
        assert_eq!(seen.version, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(seen.alpn, None);
        assert_eq!(seen.cert, first_cert(&dir.path().join("tls/cert.pem")));
    }

    #[tokio::test]
    async fn tls12_only_client_connects() {
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = server_config(HOST, dir.path(), None).unwrap();
        let seen = handshake(server.into(), insecure_client(&[&TLS12])).await;
        assert_eq!(seen.version, rustls::ProtocolVersion::TLSv1_2);
    }

    /// Copies a generated pair over `cert`/`key`, stamping them `at` so the change is seen
    /// even where file times are coarse.
    fn install(from: &Path, cert: &Path, key: &Path, at: SystemTime) {
        for (name, to) in [("tls/cert.pem", cert), ("tls/key.pem", key)] {
            fs::copy(from.join(name), to).unwrap();
            File::options().write(true).open(to).unwrap().set_modified(at).unwrap();
        }
    }

    #[tokio::test]
    async fn reload_serves_a_new_certificate_and_keeps_the_old_one_when_broken() {
        let (old, new, live) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generated(old.path());
        generated(new.path());
        let (cert, key) = (live.path().join("cert.pem"), live.path().join("key.pem"));
        let start = SystemTime::now();
        install(old.path(), &cert, &key, start);
        let (tls, source) = Reloadable::new(HOST, live.path(), Some((&cert, &key))).unwrap();
        assert_eq!(source, CertSource::Configured { cert: cert.clone(), key: key.clone() });
        assert!(!tls.changed_on_disk());
        let old_cert = first_cert(&cert);

        fs::write(&cert, "not a certificate").unwrap();
        File::options().write(true).open(&cert).unwrap().set_modified(start + Duration::from_secs(10)).unwrap();
        assert!(tls.changed_on_disk());
        assert!(tls.reload().unwrap_err().to_string().contains("holds no certificate"));
        assert_eq!(handshake(tls.acceptor(), (*insecure_client_config()).clone()).await.cert, old_cert);
        assert!(tls.changed_on_disk(), "a failed reload is tried again");

        install(new.path(), &cert, &key, start + Duration::from_secs(20));
        tls.reload().unwrap();
        assert!(!tls.changed_on_disk());
        let new_cert = first_cert(&cert);
        assert_ne!(new_cert, old_cert);
        assert_eq!(handshake(tls.acceptor(), (*insecure_client_config()).clone()).await.cert, new_cert);
    }

    #[test]
    fn reload_regenerates_a_deleted_self_signed_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (tls, source) = Reloadable::new(HOST, dir.path(), None).unwrap();
        assert!(matches!(source, CertSource::SelfSigned { created: true, .. }));
        let (cert, key) = (dir.path().join("tls/cert.pem"), dir.path().join("tls/key.pem"));
        fs::remove_file(&cert).unwrap();
        fs::remove_file(&key).unwrap();
        assert!(!tls.changed_on_disk(), "missing files are not a change to load");
        assert!(matches!(tls.reload().unwrap(), CertSource::SelfSigned { created: true, .. }));
        assert!(cert.exists() && key.exists());
    }
}
