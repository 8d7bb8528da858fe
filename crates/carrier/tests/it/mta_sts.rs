//! Outbound MTA-STS (issue 16.4, RFC 8461) against a receiving carrier and a policy server
//! on loopback: an enforced policy sends mail only to the MX hosts it names, only over TLS
//! verified against the MX name, and defers otherwise; policies are fetched once per id.

use crate::common::dns::FakeDns;
use crate::common::https::Https;
use crate::common::sink::common_port;
use crate::common::{Options, Server};

const MESSAGE: &str = "From: alice@example.com\r\nSubject: sts\r\n\r\nHello.\r\n";

/// The receiving side: final.test's MX, a carrier with a self-signed certificate for
/// mx.final.test, and its policy server at mta-sts.final.test.
struct Remote {
    mx: Server,
    policy: Https,
    https_port: u16,
}

/// A carrier at 127.0.0.5 named mx.final.test, for dora@final.test, with `sections` (the
/// DANE tests give it `[tls]`).
pub fn final_mx(sections: &str) -> Server {
    Server::start_with(Options {
        hostname: "mx.final.test".into(),
        domains: vec!["final.test".into()],
        users: vec![("dora@final.test".into(), "x".into())],
        smtp: "127.0.0.5:0".into(),
        submission: "127.0.0.5:0".into(),
        smtps: "127.0.0.5:0".into(),
        sections: sections.into(),
        ..Options::default()
    })
}

fn receiver(dns: &FakeDns, policy: &str) -> Remote {
    let mx = final_mx("");
    let (https_port, mut listeners) = common_port(&["127.0.0.6"]);
    let policy = Https::start(listeners.remove(0), "mta-sts.final.test", policy);
    dns.mx("final.test", 10, "mx.final.test");
    dns.a("mx.final.test", "127.0.0.5");
    dns.a("mta-sts.final.test", "127.0.0.6");
    dns.txt("_mta-sts.final.test", "v=STSv1; id=20261205T000000;");
    Remote { mx, policy, https_port }
}

/// The sending side; it trusts the policy server's certificate, and the MX's when `trust_mx`.
fn sender(dns: &FakeDns, remote: &Remote, trust_mx: bool) -> Server {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut cas = remote.policy.cert_pem.clone();
    if trust_mx {
        cas.push_str(&std::fs::read_to_string(remote.mx.data_dir().join("tls/cert.pem")).unwrap());
    }
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, cas).unwrap();
    Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!(
            "{}\n[delivery]\nremote_port = {}\nmta_sts_port = {}\nca_file = {:?}\nretry = [\"1s\"]\n",
            dns.config(),
            remote.mx.port,
            remote.https_port,
            ca_file.display().to_string()
        ),
        ..Options::default()
    })
}

const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mx.final.test\nmax_age: 86400\n";

#[test]
fn an_enforced_policy_delivers_over_verified_tls_and_is_fetched_once() {
    let dns = FakeDns::start();
    dns.ttl(1); // so the sender sees the TXT record change below
    let remote = receiver(&dns, ENFORCE);
    let server = sender(&dns, &remote, true);
    for _ in 0..2 {
        server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    }
    let got = remote.mx.wait_messages("final.test", "dora", 2);
    assert_eq!(got.len(), 2, "sender:\n{}\nmx:\n{}", server.log(), remote.mx.log());
    server.wait_log("MTA-STS: final.test policy id 20261205T000000: mode enforce, mx mx.final.test", 1);
    server.wait_log("Verified TLS connection established to mx.final.test[127.0.0.5]", 1);
    assert_eq!(remote.policy.requests(), 1, "the cached policy is used while its id stands");
    // Kept on disk, so a restart does not depend on the policy server being up.
    assert!(server.data_dir().join("mta-sts/final.test").exists());
    // A new id: fetched again, and the new policy (naming another MX) applies at once.
    remote.policy.set_body("version: STSv1\nmode: enforce\nmx: other.final.test\nmax_age: 86400\n");
    dns.set_txt("_mta-sts.final.test", "v=STSv1; id=20261206T000000;");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("no MX host of final.test is one its MTA-STS policy names (mx: other.final.test)", 1);
    assert_eq!(remote.policy.requests(), 2);
}

#[test]
fn an_enforced_policy_defers_when_no_mx_is_named_or_the_certificate_is_not_trusted() {
    let dns = FakeDns::start();
    let remote = receiver(&dns, "version: STSv1\nmode: enforce\nmx: other.final.test\nmax_age: 86400\n");
    let server = sender(&dns, &remote, true);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("no MX host of final.test is one its MTA-STS policy names (mx: other.final.test)", 1);
    server.wait_log("dsn=4.7.5, stat=Deferred", 1);
    assert!(remote.mx.messages("final.test", "dora").is_empty());

    // The MX is named, but its certificate is not one the sender trusts: deferred, and never
    // sent in plain text instead (as opportunistic TLS would).
    let dns = FakeDns::start();
    let remote = receiver(&dns, ENFORCE);
    let server = sender(&dns, &remote, false);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("TLS handshake with mx.final.test[127.0.0.5] failed", 1);
    server.wait_log("dsn=4.7.5, stat=Deferred", 1);
    assert!(!server.log().contains("trying again without TLS"), "{}", server.log());
    assert!(remote.mx.messages("final.test", "dora").is_empty());
}

#[test]
fn a_testing_policy_changes_nothing() {
    let dns = FakeDns::start();
    let remote = receiver(&dns, "version: STSv1\nmode: testing\nmx: other.final.test\nmax_age: 86400\n");
    let server = sender(&dns, &remote, false);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    assert_eq!(remote.mx.wait_messages("final.test", "dora", 1).len(), 1, "{}", server.log());
    server.wait_log("mode testing", 1);
    server.wait_log("Untrusted TLS connection established to mx.final.test", 1);
}

/// The JSON of the one TLS report in `message`: its base64 attachment, gunzipped.
fn report_json(message: &str) -> serde_json::Value {
    use base64::Engine;
    use std::io::Read;
    let part = message.split("Content-Type: application/tlsrpt+gzip").nth(1).expect("a tlsrpt+gzip part");
    let body = part.split("\n\n").nth(1).unwrap().split("--").next().unwrap();
    let b64: String = body.split_whitespace().collect();
    let zipped = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&zipped[..]).read_to_string(&mut json).unwrap();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn tls_reports_count_sessions_by_policy_and_failure_and_go_to_the_domain_that_asks() {
    let dns = FakeDns::start();
    let remote = receiver(&dns, ENFORCE);
    // final.test wants its reports at alice@example.com (a mailbox on the sending side, so
    // the report is read without another network hop).
    dns.txt("_smtp._tls.final.test", "v=TLSRPTv1; rua=mailto:alice@example.com");
    let server = sender(&dns, &remote, false); // the MX's certificate is not trusted
    server.send_mail("bob@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("TLS handshake with mx.final.test[127.0.0.5] failed", 1);
    let (code, out, err) = server.cli(&["tls-reports"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1 TLS report(s) queued");
    let msgs = server.wait_messages("example.com", "alice", 1);
    let report = &msgs[0];
    for field in ["TLS-Report-Domain: final.test", "TLS-Report-Submitter: mx.example.com", "report-type=\"tlsrpt\""] {
        assert!(report.contains(field), "{field} missing:\n{report}");
    }
    assert!(report.contains("DKIM-Signature:"), "reports are signed like all our mail");
    let json = report_json(report);
    let policy = &json["policies"][0];
    assert_eq!(policy["policy"]["policy-type"], "sts");
    assert_eq!(policy["policy"]["policy-domain"], "final.test");
    assert_eq!(policy["policy"]["mx-host"][0], "mx.final.test");
    assert_eq!(policy["summary"]["total-successful-session-count"], 0);
    assert!(policy["summary"]["total-failure-session-count"].as_u64().unwrap() >= 1, "{json}");
    let failure = &policy["failure-details"][0];
    assert_eq!(failure["result-type"], "certificate-not-trusted", "{json}");
    assert_eq!(failure["receiving-mx-hostname"], "mx.final.test");
    assert_eq!(failure["receiving-ip"], "127.0.0.5");
    // Sent once: the day's record is gone.
    let (_, out, _) = server.cli(&["tls-reports"], "");
    assert_eq!(out.trim(), "0 TLS report(s) queued");
}

#[test]
fn a_cached_enforced_policy_holds_when_the_record_and_the_policy_server_are_gone() {
    let dns = FakeDns::start();
    dns.ttl(1);
    let remote = receiver(&dns, ENFORCE);
    let mut server = sender(&dns, &remote, true);
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    remote.mx.wait_messages("final.test", "dora", 1);
    // An attacker strips the TXT record and the policy server goes away; carrier restarts.
    dns.set_txt("_mta-sts.final.test", "v=spf1 -all");
    let Remote { mx, policy, .. } = remote;
    drop(policy);
    server.kill9();
    server.restart();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    assert_eq!(mx.wait_messages("final.test", "dora", 2).len(), 2, "{}", server.log());
    // Still only over verified TLS to the named MX: the policy came from data_dir.
    server.wait_log("Verified TLS connection established to mx.final.test[127.0.0.5]", 2);
}
