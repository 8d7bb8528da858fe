//! DANE for SMTP (RFC 7672): checking an MX host's certificate against its TLSA records
//! (RFC 6698) instead of certificate authorities, and the TLSA record of our own certificate
//! for `carrier dns-records`.

use crate::certinfo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::fmt;
use std::sync::Arc;

/// One TLSA record: `usage selector matching-type data` (RFC 6698 2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

/// RFC 7218 names: DANE-TA(2) and DANE-EE(3), the usages SMTP uses (RFC 7672 3.1).
const DANE_TA: u8 = 2;
const DANE_EE: u8 = 3;

impl Tlsa {
    /// RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP, as are selectors
    /// and matching types this implementation does not know, and a digest of the wrong size.
    pub fn is_usable(&self) -> bool {
        let size_ok = match self.matching {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        matches!(self.usage, DANE_TA | DANE_EE) && self.selector <= 1 && size_ok
    }

    /// True when `cert` (DER) is the one this record describes (RFC 6698 2.1.2, 2.1.3).
    pub fn matches(&self, cert: &[u8]) -> bool {
        let selected = match self.selector {
            0 => cert,
            1 => match certinfo::spki(cert) {
                Some(spki) => spki,
                None => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => ring::digest::digest(&ring::digest::SHA256, selected).as_ref() == self.data.as_slice(),
            2 => ring::digest::digest(&ring::digest::SHA512, selected).as_ref() == self.data.as_slice(),
            _ => false,
        }
    }

    /// The `3 1 1` record of a certificate: DANE-EE, its public key, SHA-256 (RFC 7671 5.1,
    /// the choice that survives renewals with the same key).
    pub fn end_entity(cert: &[u8]) -> Option<Tlsa> {
        let digest = ring::digest::digest(&ring::digest::SHA256, certinfo::spki(cert)?);
        Some(Tlsa { usage: DANE_EE, selector: 1, matching: 1, data: digest.as_ref().to_vec() })
    }
}

/// Presentation format: `3 1 1 0a1b...` (RFC 6698 2.2).
impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} ", self.usage, self.selector, self.matching)?;
        self.data.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A client configuration that accepts the server only if its certificate matches one of
/// the usable `records` of `host` (the TLSA base domain).
pub fn client_config(records: Vec<Tlsa>, host: &str) -> Arc<rustls::ClientConfig> {
    let verifier = DaneVerifier { records: records.into_iter().filter(Tlsa::is_usable).collect(), host: host.into() };
    let config = rustls::ClientConfig::builder_with_provider(crate::provider())
        .with_protocol_versions(&[&TLS13, &TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct DaneVerifier {
    records: Vec<Tlsa>,
    host: String,
}

impl DaneVerifier {
    /// RFC 7672 3.1.1: a DANE-EE match authenticates the server by itself; names and dates
    /// in the certificate do not count.
    fn end_entity_matches(&self, cert: &CertificateDer<'_>) -> bool {
        self.records.iter().any(|r| r.usage == DANE_EE && r.matches(cert))
    }

    /// RFC 7672 3.1.2: a DANE-TA record names a certificate of the chain the server sent,
    /// which then serves as the only trust anchor; the chain must lead to it and the
    /// certificate must be valid for the TLSA base domain (RFC 7672 3.2.2) and not expired.
    fn trust_anchor_verifies(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<bool, rustls::Error> {
        let anchors = intermediates.iter().filter(|c| self.records.iter().any(|r| r.usage == DANE_TA && r.matches(c)));
        let mut roots = rustls::RootCertStore::empty();
        for anchor in anchors {
            // An anchor rustls cannot use as a root is simply not one.
            let _ = roots.add(anchor.clone().into_owned());
        }
        if roots.is_empty() {
            return Ok(false);
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::provider())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|_| rustls::Error::General(format!("{} is not a host name", self.host)))?;
        verifier.verify_server_cert(end_entity, intermediates, &name, &[], now)?;
        Ok(true)
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.end_entity_matches(end_entity) || self.trust_anchor_verifies(end_entity, intermediates, now)? {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::General(format!(
            "the certificate matches none of the TLSA records of _25._tcp.{} (DANE, RFC 7672)",
            self.host
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crate::AcceptAnyCertificate.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crate::AcceptAnyCertificate.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        crate::AcceptAnyCertificate.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn now() -> UnixTime {
        UnixTime::since_unix_epoch(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap())
    }

    fn self_signed(name: &str) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(vec![name.into()]).unwrap().self_signed(&key).unwrap().der().clone()
    }

    /// A CA and a server certificate it issued for `name`: (server, ca).
    fn issued(name: &str) -> (CertificateDer<'static>, CertificateDer<'static>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Test TA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec![name.into()]).unwrap().signed_by(&key, &issuer).unwrap();
        (server.der().clone(), ca.der().clone())
    }

    fn verifier(records: Vec<Tlsa>, host: &str) -> DaneVerifier {
        DaneVerifier { records, host: host.into() }
    }

    fn verify(v: &DaneVerifier, ee: &CertificateDer<'_>, chain: &[CertificateDer<'_>]) -> Result<(), rustls::Error> {
        let any = ServerName::try_from("ignored.example").unwrap();
        v.verify_server_cert(ee, chain, &any, &[], now()).map(|_| ())
    }

    #[test]
    fn every_selector_and_matching_type_of_dane_ee_matches_and_names_do_not_count() {
        let cert = self_signed("other.example");
        let spki = certinfo::spki(&cert).unwrap().to_vec();
        assert_eq!(spki[0], 0x30, "a SEQUENCE");
        let sha256 = |d: &[u8]| ring::digest::digest(&ring::digest::SHA256, d).as_ref().to_vec();
        let sha512 = |d: &[u8]| ring::digest::digest(&ring::digest::SHA512, d).as_ref().to_vec();
        for (selector, matching, data) in [
            (0, 0, cert.to_vec()),
            (0, 1, sha256(&cert)),
            (0, 2, sha512(&cert)),
            (1, 0, spki.clone()),
            (1, 1, sha256(&spki)),
            (1, 2, sha512(&spki)),
        ] {
            let record = Tlsa { usage: 3, selector, matching, data };
            assert!(record.is_usable() && record.matches(&cert), "3 {selector} {matching}");
            verify(&verifier(vec![record], "mx.example.net"), &cert, &[]).unwrap();
        }
        let own = Tlsa::end_entity(&cert).unwrap();
        assert_eq!(
            own.to_string(),
            format!("3 1 1 {}", sha256(&spki).iter().map(|b| format!("{b:02x}")).collect::<String>())
        );
    }

    #[test]
    fn a_certificate_matching_no_record_is_refused_with_the_reason() {
        let cert = self_signed("mx.example.net");
        let other = Tlsa::end_entity(&self_signed("mx.example.net")).unwrap();
        let e = verify(&verifier(vec![other], "mx.example.net"), &cert, &[]).unwrap_err();
        assert!(e.to_string().contains("matches none of the TLSA records of _25._tcp.mx.example.net"), "{e}");
    }

    #[test]
    fn unusable_records_are_recognised() {
        let good = Tlsa { usage: 3, selector: 1, matching: 1, data: vec![0; 32] };
        assert!(good.is_usable());
        for bad in [
            Tlsa { usage: 1, ..good.clone() },                  // PKIX-EE: not for SMTP
            Tlsa { usage: 0, ..good.clone() },                  // PKIX-TA
            Tlsa { selector: 2, ..good.clone() },               // unknown selector
            Tlsa { matching: 3, ..good.clone() },               // unknown matching type
            Tlsa { data: vec![0; 31], ..good.clone() },         // a SHA-256 of the wrong size
            Tlsa { matching: 2, ..good.clone() },               // SHA-512 needs 64 octets
            Tlsa { matching: 0, data: vec![], ..good.clone() }, // nothing to compare
        ] {
            assert!(!bad.is_usable(), "{bad}");
        }
        // client_config keeps only the usable ones: a PKIX-EE record that matches is ignored.
        let cert = self_signed("mx.example.net");
        let pkix = Tlsa { usage: 1, ..Tlsa::end_entity(&cert).unwrap() };
        let v = DaneVerifier { records: vec![pkix].into_iter().filter(Tlsa::is_usable).collect(), host: "x".into() };
        assert!(verify(&v, &cert, &[]).is_err());
    }

    #[test]
    fn dane_ta_needs_the_anchor_in_the_chain_and_a_name_match() {
        let (server, ca) = issued("mx.example.net");
        let ta = Tlsa {
            usage: 2,
            selector: 0,
            matching: 1,
            data: ring::digest::digest(&ring::digest::SHA256, &ca).as_ref().to_vec(),
        };
        verify(&verifier(vec![ta.clone()], "mx.example.net"), &server, std::slice::from_ref(&ca)).unwrap();
        // The TLSA base domain is the reference identifier (RFC 7672 3.2.2).
        let e =
            verify(&verifier(vec![ta.clone()], "other.example.net"), &server, std::slice::from_ref(&ca)).unwrap_err();
        assert!(
            matches!(e, rustls::Error::InvalidCertificate(_)) && e.to_string().contains("not valid for name"),
            "{e}"
        );
        // The server did not send the anchor: no match.
        assert!(verify(&verifier(vec![ta.clone()], "mx.example.net"), &server, &[]).is_err());
        // A DANE-TA record does not match the server's own certificate as an end entity.
        let as_ta = Tlsa { usage: 2, ..Tlsa::end_entity(&server).unwrap() };
        assert!(verify(&verifier(vec![as_ta], "mx.example.net"), &server, &[ca]).is_err());
    }
}
