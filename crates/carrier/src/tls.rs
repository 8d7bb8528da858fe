//! TLS for the listeners: the configured PEM certificate, or a self-signed one generated
//! on first start (DESIGN §1.6). TLS 1.2 and 1.3 only; the ring provider is named
//! explicitly so nothing depends on a process-wide default.

use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Where the certificate came from, for logs and `carrier check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// From `[tls]` in the configuration.
    Configured { cert: PathBuf, key: PathBuf },
    /// Generated in `data_dir/tls`; `created` on this start.
    SelfSigned { cert: PathBuf, key: PathBuf, created: bool },
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

/// The server configuration for STARTTLS and implicit-TLS listeners.
pub fn server_config(
    hostname: &str,
    data_dir: &Path,
    configured: Option<(&Path, &Path)>,
) -> Result<(Arc<ServerConfig>, CertSource), TlsError> {
    let (cert, key, source) = match configured {
        Some((cert, key)) => {
            let source = CertSource::Configured { cert: cert.to_path_buf(), key: key.to_path_buf() };
            (cert.to_path_buf(), key.to_path_buf(), source)
        }
        None => {
            let dir = data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let created = ensure_self_signed(hostname, &dir, &cert, &key)?;
            (cert.clone(), key.clone(), CertSource::SelfSigned { cert, key, created })
        }
    };
    let chain = load_certs(&cert)?;
    let private_key = load_key(&key)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .map_err(|e| TlsError(format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            TlsError(format!(
                "the TLS key {} does not fit the certificate {}: {e}; make sure both files belong together",
                key.display(),
                cert.display()
            ))
        })?;
    Ok((Arc::new(config), source))
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
    let (CertSource::Configured { cert, key } | CertSource::SelfSigned { cert, key, .. }) = source;
    modified(cert).zip(modified(key))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |e: &dyn fmt::Display| {
        TlsError(format!(
            "cannot read TLS certificate {}: {e}; set [tls] cert to a PEM file, or remove the [tls] section to use a \
             generated self-signed certificate",
            path.display()
        ))
    };
    fs::metadata(path).map_err(|e| unreadable(&e))?;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(&e))?;
    if certs.is_empty() {
        return Err(TlsError(format!("{} holds no certificate (expected a PEM 'CERTIFICATE' block)", path.display())));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    fs::metadata(path).map_err(|e| {
        TlsError(format!(
            "cannot read TLS key {}: {e}; set [tls] key to a PEM file, or remove the [tls] section to use a generated \
             self-signed certificate",
            path.display()
        ))
    })?;
    PrivateKeyDer::from_pem_file(path)
        .map_err(|_| TlsError(format!("{} holds no private key (expected a PEM 'PRIVATE KEY' block)", path.display())))
}

/// Makes `cert.pem`/`key.pem` for `hostname` unless they exist; true when it made them.
fn ensure_self_signed(hostname: &str, dir: &Path, cert: &Path, key: &Path) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let failed =
        |e: &dyn fmt::Display| TlsError(format!("cannot create a self-signed certificate in {}: {e}", dir.display()));
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| failed(&e))?;
    let key_pair = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()]).map_err(|e| failed(&e))?;
    // Clients show the subject to users deciding whether to trust it: name the host.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, hostname);
    let generated = params.self_signed(&key_pair).map_err(|e| failed(&e))?;
    write_private(key, key_pair.serialize_pem().as_bytes()).map_err(|e| failed(&e))?;
    write_private(cert, generated.pem().as_bytes()).map_err(|e| failed(&e))?;
    Ok(true)
}

/// Writes via a temporary name so a crash never leaves half a file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

/// A client configuration that does not verify certificates: opportunistic TLS between
/// MTAs (RFC 7435), and tests against the self-signed certificate.
#[cfg(test)]
pub fn insecure_client_config() -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
        .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
#[derive(Debug)]
struct AcceptAnyCertificate;

#[cfg(test)]
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn generates_once_then_reuses() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = server_config("mx.example.com", dir.path(), None).unwrap();
        assert!(matches!(first, CertSource::SelfSigned { created: true, .. }));
        let key = dir.path().join("tls/key.pem");
        assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let cert_bytes = fs::read(dir.path().join("tls/cert.pem")).unwrap();
        let (_, second) = server_config("mx.example.com", dir.path(), None).unwrap();
        assert!(matches!(second, CertSource::SelfSigned { created: false, .. }));
        assert_eq!(fs::read(dir.path().join("tls/cert.pem")).unwrap(), cert_bytes);
    }

    #[test]
    fn configured_files_load_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        server_config("mx.example.com", dir.path(), None).unwrap();
        let (cert, key) = (dir.path().join("tls/cert.pem"), dir.path().join("tls/key.pem"));
        let (_, source) = server_config("mx.example.com", dir.path(), Some((&cert, &key))).unwrap();
        assert!(matches!(source, CertSource::Configured { .. }));

        let missing = dir.path().join("nope.pem");
        let e = server_config("mx.example.com", dir.path(), Some((&missing, &key))).unwrap_err();
        assert!(e.0.contains("nope.pem") && e.0.contains("remove the [tls] section"), "{e}");
        let e = server_config("mx.example.com", dir.path(), Some((&cert, &cert))).unwrap_err();
        assert!(e.0.contains("holds no private key"), "{e}");

        let other = tempfile::tempdir().unwrap();
        server_config("other.example.com", other.path(), None).unwrap();
        let e =
            server_config("mx.example.com", dir.path(), Some((&cert, &other.path().join("tls/key.pem")))).unwrap_err();
        assert!(e.0.contains("does not fit"), "{e}");
    }

    async fn handshake(client: rustls::ClientConfig) -> rustls::ProtocolVersion {
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = server_config("mx.example.com", dir.path(), None).unwrap();
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let server_side = tokio::spawn(async move {
            let mut s = acceptor.accept(a).await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        });
        let name = rustls_pki_types::ServerName::try_from("mx.example.com").unwrap();
        let mut c = connector.connect(name, b).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        let version = c.get_ref().1.protocol_version().unwrap();
        server_side.await.unwrap();
        version
    }

    #[tokio::test]
    async fn tls13_and_tls12_clients_connect() {
        let v = handshake((*insecure_client_config()).clone()).await;
        assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
        let tls12_only = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
            .with_no_client_auth();
        assert_eq!(handshake(tls12_only).await, rustls::ProtocolVersion::TLSv1_2);
    }
}
