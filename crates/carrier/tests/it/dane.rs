//! Outbound DANE (issue 16.4, RFC 7672) against a receiving carrier on loopback, with a
//! DNS server that marks signed names secure (the AD bit a validating resolver sets): a host
//! with secure TLSA records gets mail only over TLS with a matching certificate; without
//! DNSSEC the records mean nothing; a TLSA lookup that fails keeps the mail waiting.

use crate::common::dns::FakeDns;
use crate::common::sink::Sink;
use crate::common::{Options, Server, carrier_bin};
use std::path::Path;

const MESSAGE: &str = "From: alice@example.com\r\nSubject: dane\r\n\r\nHello.\r\n";

/// final.test's MX: a carrier at 127.0.0.5 named mx.final.test (self-signed certificate,
/// or the `[tls]` section given).
fn receiver(dns: &FakeDns, tls: &str) -> Server {
    let mx = crate::mta_sts::final_mx(tls);
    dns.mx("final.test", 10, "mx.final.test");
    dns.a("mx.final.test", "127.0.0.5");
    mx
}

/// The zone is signed: the MX, the host's address and its TLSA records are secure.
fn sign(dns: &FakeDns, port: u16) {
    for name in ["final.test", "mx.final.test", &tlsa_name(port)] {
        dns.secure(name);
    }
}

/// Where RFC 7672 puts the records for this port: `_25._tcp.mx.final.test` on port 25.
fn tlsa_name(port: u16) -> String {
    format!("_{port}._tcp.mx.final.test")
}

fn sender(dns: &FakeDns, port: u16) -> Server {
    Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n", dns.config()),
        ..Options::default()
    })
}

/// The TLSA record `carrier dns-records` prints for the receiver: (usage, selector,
/// matching, data).
fn published_record(mx: &Server) -> (u8, u8, u8, Vec<u8>) {
    let (code, out, err) = mx.run(Path::new(carrier_bin()), &["dns-records"], b"");
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("_25._tcp.mx.final.test.")).expect("a TLSA record");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1..4], ["3600", "IN", "TLSA"], "{line}");
    let hex = fields[7];
    let data = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    (fields[4].parse().unwrap(), fields[5].parse().unwrap(), fields[6].parse().unwrap(), data)
}

/// Postfix's "Verified" line, saying DANE verified it.
fn verified_by_dane(server: &Server) {
    server.wait_log("Verified TLS connection established to mx.final.test[127.0.0.5]", 1);
    let log = server.log();
    let line = log.lines().find(|l| l.contains("Verified TLS connection")).unwrap();
    assert!(line.ends_with(" (DANE)"), "{line}");
}

#[test]
fn the_record_dns_records_prints_is_verified_and_the_mail_flows() {
    let dns = FakeDns::start();
    let mx = receiver(&dns, "");
    let (usage, selector, matching, data) = published_record(&mx);
    assert_eq!((usage, selector, matching, data.len()), (3, 1, 1, 32));
    dns.tlsa(&tlsa_name(mx.port), usage, selector, matching, &data);
    sign(&dns, mx.port);
    let server = sender(&dns, mx.port);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    assert_eq!(mx.wait_messages("final.test", "dora", 1).len(), 1, "{}", server.log());
    verified_by_dane(&server);
    // The TLS report counts the session under the host's TLSA policy (RFC 8460 4.4).
    let day = std::fs::read_dir(server.data_dir().join("tls-rpt")).unwrap().next().unwrap().unwrap().path();
    let sessions = std::fs::read_to_string(day).unwrap();
    assert!(sessions.starts_with("final.test\ttlsa\t3 1 1 ") && sessions.contains("\tsuccess\t"), "{sessions}");
}

#[test]
fn a_certificate_matching_no_record_gets_no_mail_not_even_in_plain_text() {
    let dns = FakeDns::start();
    let mx = receiver(&dns, "");
    dns.tlsa(&tlsa_name(mx.port), 3, 1, 1, &[0x5a; 32]);
    sign(&dns, mx.port);
    let server = sender(&dns, mx.port);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("the certificate matches none of the TLSA records of _", 1);
    server.wait_log("dsn=4.7.5, stat=Deferred", 1);
    assert!(!server.log().contains("trying again without TLS"), "{}", server.log());
    assert!(mx.messages("final.test", "dora").is_empty());
}

#[test]
fn without_dnssec_the_records_mean_nothing() {
    let dns = FakeDns::start();
    let mx = receiver(&dns, "");
    dns.tlsa(&tlsa_name(mx.port), 3, 1, 1, &[0x5a; 32]);
    // The host's records are signed, but its domain's MX records are not (RFC 7672 2.2.1).
    dns.secure("mx.final.test");
    dns.secure(&tlsa_name(mx.port));
    let server = sender(&dns, mx.port);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    assert_eq!(mx.wait_messages("final.test", "dora", 1).len(), 1, "{}", server.log());
    server.wait_log("Untrusted TLS connection established to mx.final.test", 1);
}

#[test]
fn a_host_without_starttls_or_whose_tlsa_lookup_fails_gets_no_mail() {
    // A secure TLSA record, even one no client can use, means TLS is required (RFC 7672
    // 2.2, 3.1.3); this host offers none.
    let dns = FakeDns::start();
    let (port, mut listeners) = crate::common::sink::common_port(&["127.0.0.5"]);
    let sink = Sink::on(listeners.remove(0));
    dns.mx("final.test", 10, "mx.final.test");
    dns.a("mx.final.test", "127.0.0.5");
    dns.tlsa(&tlsa_name(port), 1, 1, 1, &[0x5a; 32]);
    sign(&dns, port);
    let server = sender(&dns, port);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("offers no STARTTLS, but its DNSSEC-signed TLSA records (DANE) require TLS", 1);
    server.wait_log("dsn=4.7.5, stat=Deferred", 1);
    assert!(sink.delivered().is_empty());

    // A TLSA lookup that fails: the host may not be used (RFC 7672 2.2.2).
    let dns = FakeDns::start();
    let mx = receiver(&dns, "");
    sign(&dns, mx.port);
    dns.servfail(&tlsa_name(mx.port));
    let server = sender(&dns, mx.port);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("DANE: cannot look up TLSA records of _", 1);
    server.wait_log("dsn=4.7.5, stat=Deferred", 1);
    assert!(mx.messages("final.test", "dora").is_empty());
}

/// A certificate authority and a certificate it issued for `name`, as `[tls]` files in
/// `dir` (the chain file holds both, as servers must send a DANE-TA anchor, RFC 7672 3.1.2);
/// returns the `[tls]` section and the authority's DER.
fn issued(dir: &Path, name: &str) -> (String, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "final.test private CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.into()]).unwrap().signed_by(&key, &issuer).unwrap();
    let (cert_file, key_file) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, format!("{}{}", cert.pem(), ca.pem())).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let section =
        format!("[tls]\ncert = {:?}\nkey = {:?}\n", cert_file.display().to_string(), key_file.display().to_string());
    (section, ca.der().to_vec())
}

#[test]
fn a_dane_ta_record_needs_the_chain_to_lead_to_it_and_the_name_to_match() {
    for (name, delivered) in [("mx.final.test", true), ("other.final.test", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (tls, ca) = issued(dir.path(), name);
        let dns = FakeDns::start();
        let mx = receiver(&dns, &tls);
        dns.tlsa(&tlsa_name(mx.port), 2, 0, 0, &ca); // DANE-TA, the whole certificate
        sign(&dns, mx.port);
        let server = sender(&dns, mx.port);
        server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
        if delivered {
            assert_eq!(mx.wait_messages("final.test", "dora", 1).len(), 1, "{}", server.log());
            verified_by_dane(&server);
        } else {
            server.wait_log("TLS handshake with mx.final.test[127.0.0.5] failed", 1);
            server.wait_log("dsn=4.7.5, stat=Deferred", 1);
            assert!(server.log().contains("not valid for name"), "{}", server.log());
            assert!(mx.messages("final.test", "dora").is_empty());
        }
    }
}
