//! Relay to real servers: a second carrier as the remote MX (opportunistic STARTTLS) and as
//! an authenticating smarthost on its submission port (STARTTLS) and on port 465 (TLS).

use crate::common::dns::FakeDns;
use crate::common::{Options, Server};

const MESSAGE: &str = "From: alice@example.com\r\nSubject: through the smarthost\r\n\r\nHello.\r\n";

/// The remote side: `final.test` is its domain, `relay@final.test` may send as anyone.
fn remote(hostname: &str, ip: &str, smtps: &str) -> Server {
    Server::start_with(Options {
        hostname: hostname.into(),
        domains: vec!["final.test".into()],
        users: vec![("relay@final.test".into(), "relay-secret".into()), ("dora@final.test".into(), "x".into())],
        smtp: format!("{ip}:0"),
        submission: format!("{ip}:0"),
        smtps: smtps.into(),
        top: String::new(),
        sections: "[submission]\nany_sender = [\"relay@final.test\"]\n".into(),
        ..Options::default()
    })
}

/// The sending side, relaying everything through `smarthost` (a "host:port").
fn sender(dns: &FakeDns, relay: String) -> Server {
    Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        relay,
        sections: dns.config(),
        ..Options::default()
    })
}

fn smarthost_relay(port: u16, remote: &Server, password: &str) -> String {
    let ca = remote.data_dir().join("tls/cert.pem");
    format!(
        "smarthost = \"smarthost.test:{port}\"\nuser = \"relay@final.test\"\npassword = \"{password}\"\nsmarthost_ca = \"{}\"\n",
        ca.display()
    )
}

#[test]
fn mail_reaches_a_real_mx_over_starttls() {
    let dns = FakeDns::start();
    let mx = remote("mx.final.test", "127.0.0.5", "127.0.0.5:0");
    dns.mx("final.test", 10, "mx.final.test");
    dns.a("mx.final.test", "127.0.0.5");
    let server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {}\n", dns.config(), mx.port),
        ..Options::default()
    });
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    let got = mx.wait_messages("final.test", "dora", 1);
    assert_eq!(got.len(), 1, "sender log:\n{}\nmx log:\n{}", server.log(), mx.log());
    assert!(got[0].contains("by mx.example.com (carrier) with ESMTP"), "{}", got[0]);
    assert!(got[0].contains("by mx.final.test (carrier) with ESMTPS"), "the hop was encrypted: {}", got[0]);
    server.wait_log(&format!("relay=mx.final.test[127.0.0.5]:{}", mx.port), 1);
    mx.wait_log("TLS established from localhost[127.0.0.1]", 1);
    server
        .wait_log(&format!("Untrusted TLS connection established to mx.final.test[127.0.0.5]:{}: TLSv1_3", mx.port), 1);
}

#[test]
fn a_smarthost_on_the_submission_port_gets_starttls_and_auth() {
    let dns = FakeDns::start();
    let smarthost = remote("smarthost.test", "127.0.0.6", "127.0.0.6:0");
    dns.a("smarthost.test", "127.0.0.6");
    let server = sender(&dns, smarthost_relay(smarthost.submission_port, &smarthost, "relay-secret"));
    server.send_mail("alice@example.com", &["dora@final.test", "eve@elsewhere.example"], MESSAGE).expect(250);
    let got = smarthost.wait_messages("final.test", "dora", 1);
    assert_eq!(got.len(), 1, "{}\n{}", server.log(), smarthost.log());
    assert!(got[0].contains("with ESMTPSA"), "authenticated over TLS: {}", got[0]);
    smarthost.wait_log("sasl_username=relay@final.test", 1);
    server.wait_log(&format!("relay=smarthost.test[127.0.0.6]:{}", smarthost.submission_port), 2);
}

#[test]
fn a_smarthost_on_port_465_gets_tls_from_the_first_byte() {
    let dns = FakeDns::start();
    let smarthost = remote("smarthost.test", "127.0.0.7", "127.0.0.7:465");
    dns.a("smarthost.test", "127.0.0.7");
    let server = sender(&dns, smarthost_relay(465, &smarthost, "relay-secret"));
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    let got = smarthost.wait_messages("final.test", "dora", 1);
    assert_eq!(got.len(), 1, "{}\n{}", server.log(), smarthost.log());
    assert!(got[0].contains("with ESMTPSA"), "{}", got[0]);
    server.wait_log("relay=smarthost.test[127.0.0.7]:465", 1);
    server.wait_log("Verified TLS connection established to smarthost.test[127.0.0.7]:465", 1);
}

#[test]
fn smarthost_trouble_defers_with_the_fix_named() {
    let dns = FakeDns::start();
    let smarthost = remote("smarthost.test", "127.0.0.8", "127.0.0.8:0");
    dns.a("smarthost.test", "127.0.0.8");
    // A wrong password: deferred (not bounced), and the log says which setting to fix.
    let server = sender(&dns, smarthost_relay(smarthost.submission_port, &smarthost, "wrong"));
    server.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: host smarthost.test[127.0.0.8] said: 535 5.7.8", 1);
    server.wait_log("check `user` and `password` under [relay]", 1);
    assert!(server.messages("example.com", "alice").is_empty(), "no bounce for a configuration problem");
    // A certificate nobody vouches for: no password is sent, the mail waits.
    let relay = format!(
        "smarthost = \"smarthost.test:{}\"\nuser = \"relay@final.test\"\npassword = \"relay-secret\"\nsmarthost_ca = \"{}\"\n",
        smarthost.submission_port,
        server.data_dir().join("tls/cert.pem").display()
    );
    let untrusting = sender(&dns, relay);
    untrusting.send_mail("alice@example.com", &["dora@final.test"], MESSAGE).expect(250);
    untrusting.wait_log("stat=Deferred: TLS handshake with smarthost.test[127.0.0.8] failed", 1);
    untrusting.wait_log("set `smarthost_ca` under [relay]", 1);
    assert!(smarthost.messages("final.test", "dora").is_empty());
}
