//! Just enough X.509 (RFC 5280 4.1) for `carrier check` and `carrier status`: a certificate's
//! expiry and the DNS names it is valid for. A small DER walk instead of a full X.509 crate:
//! the certificate was already accepted by rustls; here it is only read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What `check` and `status` need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The end of its validity period (notAfter).
    pub not_after: SystemTime,
    /// subjectAltName dNSName entries (RFC 5280 4.2.1.6), lower-case.
    pub dns_names: Vec<String>,
}

impl CertInfo {
    /// Reads the first certificate of a PEM file; None if there is none.
    pub fn from_pem(pem: &[u8]) -> Option<CertInfo> {
        CertInfo::parse(&first_certificate(pem)?)
    }

    /// Reads a DER certificate; None if it is not one.
    pub fn parse(der: &[u8]) -> Option<CertInfo> {
        let (cert, _) = tlv(der, 0x30)?;
        let (tbs, _) = tlv(cert, 0x30)?;
        let mut rest = tbs;
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest, 0xa0)?.1; // [0] version
        }
        for tag in [0x02, 0x30, 0x30] {
            rest = tlv(rest, tag)?.1; // serialNumber, signature, issuer
        }
        let (validity, mut rest) = tlv(rest, 0x30)?;
        let not_before_rest = skip_any(validity)?;
        let not_after = time(not_before_rest)?;
        rest = tlv(rest, 0x30)?.1; // subject
        rest = tlv(rest, 0x30)?.1; // subjectPublicKeyInfo
        let mut dns_names = Vec::new();
        while !rest.is_empty() {
            let tag = rest[0];
            let (value, after) = tlv(rest, tag)?;
            if tag == 0xa3 {
                dns_names = san_dns_names(tlv(value, 0x30)?.0)?;
            }
            rest = after;
        }
        Some(CertInfo { not_after, dns_names })
    }

    /// True when the certificate names `host`, exactly or by a wildcard for its first label
    /// (RFC 6125 6.4.3).
    pub fn valid_for(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.dns_names.iter().any(|name| match name.strip_prefix("*.") {
            Some(parent) => host.split_once('.').is_some_and(|(_, rest)| rest == parent),
            None => *name == host,
        })
    }
}

/// The subjectPublicKeyInfo of a DER certificate, tag and length included (what DANE's
/// selector 1 hashes, RFC 6698 2.1.2).
pub fn spki(der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = tlv(der, 0x30)?;
    let (tbs, _) = tlv(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0)?.1; // [0] version
    }
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        rest = tlv(rest, tag)?.1; // serialNumber, signature, issuer, validity, subject
    }
    let after = tlv(rest, 0x30)?.1;
    Some(&rest[..rest.len() - after.len()])
}

/// Splits one TLV with the expected tag: (value, what follows).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let len = input.get(2..2 + n)?.iter().fold(0usize, |acc, b| acc << 8 | *b as usize);
        (len, 2 + n)
    };
    let value = input.get(header..header + len)?;
    Some((value, &input[header + len..]))
}

fn skip_any(input: &[u8]) -> Option<&[u8]> {
    tlv(input, *input.first()?).map(|(_, rest)| rest)
}

/// UTCTime (YYMMDDHHMMSSZ, RFC 5280 4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSSZ).
fn time(input: &[u8]) -> Option<SystemTime> {
    let (text, year) = match input.first()? {
        0x17 => {
            let (v, _) = tlv(input, 0x17)?;
            let yy: i64 = std::str::from_utf8(v.get(..2)?).ok()?.parse().ok()?;
            (&v[2..], if yy < 50 { 2000 + yy } else { 1900 + yy })
        }
        0x18 => {
            let (v, _) = tlv(input, 0x18)?;
            (&v[4..], std::str::from_utf8(v.get(..4)?).ok()?.parse().ok()?)
        }
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { std::str::from_utf8(text.get(i..i + 2)?).ok()?.parse().ok() };
    let month = u32::try_from(field(0)?).ok()?;
    let day = u32::try_from(field(2)?).ok()?;
    let days = carrier_syntax::date::days_from_civil(year, month, day);
    let secs = days * 86_400 + field(4)? * 3600 + field(6)? * 60 + field(8)?;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// The dNSName entries of the subjectAltName extension (OID 2.5.29.17) in `extensions`.
fn san_dns_names(mut extensions: &[u8]) -> Option<Vec<String>> {
    const SAN: &[u8] = &[0x55, 0x1d, 0x11];
    let mut names = Vec::new();
    while !extensions.is_empty() {
        let (ext, rest) = tlv(extensions, 0x30)?;
        extensions = rest;
        let (oid, mut body) = tlv(ext, 0x06)?;
        if oid != SAN {
            continue;
        }
        if body.first() == Some(&0x01) {
            body = tlv(body, 0x01)?.1; // critical
        }
        let (octets, _) = tlv(body, 0x04)?;
        let (mut general_names, _) = tlv(octets, 0x30)?;
        while !general_names.is_empty() {
            let tag = general_names[0];
            let (value, rest) = tlv(general_names, tag)?;
            if tag == 0x82 {
                names.push(String::from_utf8_lossy(value).to_ascii_lowercase());
            }
            general_names = rest;
        }
    }
    Some(names)
}

/// The DER of the first CERTIFICATE block in a PEM file.
pub fn first_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem).next()?.ok().map(|c| c.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(names: &[&str], not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_expiry_and_names() {
        let info = CertInfo::parse(&make(&["mx.example.com", "*.example.org"], (2031, 3, 15))).unwrap();
        assert_eq!(info.not_after, UNIX_EPOCH + Duration::from_secs(1_931_299_200));
        assert_eq!(info.dns_names, ["mx.example.com", "*.example.org"]);
        assert!(info.valid_for("MX.example.com"));
        assert!(info.valid_for("mail.example.org"));
        assert!(!info.valid_for("a.b.example.org"), "a wildcard covers one label");
        assert!(!info.valid_for("example.com"));
        // GeneralizedTime is used from 2050 on (RFC 5280 4.1.2.5).
        let late = CertInfo::parse(&make(&["x.example"], (2051, 1, 1))).unwrap();
        assert_eq!(late.not_after, UNIX_EPOCH + Duration::from_secs(2_556_144_000));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(CertInfo::parse(b"").is_none());
        assert!(CertInfo::parse(&[0x30, 0x82, 0xff]).is_none());
        let mut der = make(&["x.example"], (2030, 1, 1));
        der.truncate(der.len() / 2);
        assert!(CertInfo::parse(&der).is_none());
    }
}
