//! Forwarding with SRS (issue 19.3): mail an alias sends to another domain leaves with a
//! sender in our domain, so SPF passes at a second carrier; a bounce to that address goes
//! back to the original sender; addresses we did not make are refused.

use crate::common::dns::FakeDns;
use crate::common::sink::{Sink, common_port};
use crate::common::{Options, Server};

const MESSAGE: &str = "From: alice@sender.example\r\nTo: fwd@example.com\r\nSubject: forwarded\r\n\r\nHello.\r\n";

/// A forwards `fwd@example.com` to dora@final.test, whose MX is B at 127.0.0.5; the
/// original sender's domain, sender.example, has its MX (a sink) at 127.0.0.2; everything
/// on one port, A's `remote_port`.
pub struct Setup {
    pub a: Server,
    pub b: Server,
    pub origin: Sink,
    _dns: FakeDns,
}

pub fn setup(srs: bool) -> Setup {
    let dns = FakeDns::start();
    let (port, mut listeners) = common_port(&["127.0.0.5", "127.0.0.2"]);
    drop(listeners.remove(0)); // B binds it
    let origin = Sink::on(listeners.remove(0));
    dns.mx("final.test", 10, "mx.final.test");
    dns.a("mx.final.test", "127.0.0.5");
    dns.mx("sender.example", 10, "mx.sender.example");
    dns.a("mx.sender.example", "127.0.0.2");
    // Only this server may send for its host name (what `dns-records` asks for); the
    // original sender publishes nothing.
    dns.txt("mx.example.com", "v=spf1 ip4:127.0.0.0/8 -all");
    let dir = tempfile::tempdir().unwrap().keep();
    let aliases = dir.join("aliases");
    std::fs::write(&aliases, "fwd: dora@final.test\n").unwrap();
    let a = Server::start_with(Options {
        top: format!("aliases = {:?}", aliases.display().to_string()),
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\nsrs = {srs}\n", dns.config()),
        ..Options::default()
    });
    let b = Server::start_with(Options {
        hostname: "mx.final.test".into(),
        domains: vec!["final.test".into()],
        users: vec![("dora@final.test".into(), "x".into())],
        smtp: format!("127.0.0.5:{port}"),
        submission: "127.0.0.5:0".into(),
        smtps: "127.0.0.5:0".into(),
        sections: dns.config(),
        ..Options::default()
    });
    Setup { a, b, origin, _dns: dns }
}

/// `Return-Path:` of a delivered message.
pub fn return_path(message: &str) -> String {
    let line = message.lines().find(|l| l.starts_with("Return-Path: <")).expect("a Return-Path");
    line["Return-Path: <".len()..line.len() - 1].to_string()
}

#[test]
fn forwarded_mail_passes_spf_at_the_next_hop_and_its_bounce_finds_the_sender() {
    let s = setup(true);
    s.a.send_mail("alice@sender.example", &["fwd@example.com"], MESSAGE).expect(250);
    let got = s.b.wait_messages("final.test", "dora", 1);
    let srs = return_path(&got[0]);
    assert!(srs.starts_with("SRS0=") && srs.ends_with("=sender.example=alice@mx.example.com"), "{srs}");
    let results = crate::authentication::results_of(&got[0], "mx.final.test");
    assert!(results.contains("spf=pass (mx.final.test: "), "{results}");
    // RFC 8601 2.2: "=" is not a token character, so the address is quoted.
    assert!(results.contains(&format!("smtp.mailfrom=\"{srs}\"")), "{results}");
    s.a.wait_log(&format!("forwarded with sender <{srs}> (SRS for <alice@sender.example>)"), 1);

    // B (or anyone later) bounces to that address: A sends it on to alice's domain.
    let mut c = s.a.connect();
    c.cmd("EHLO mx.final.test").expect(250);
    c.cmd("MAIL FROM:<>").expect(250);
    c.cmd(&format!("RCPT TO:<{srs}>")).expect(250);
    // Some relays change the case of local parts: still ours.
    c.cmd(&format!("RCPT TO:<{}>", srs.to_ascii_lowercase())).expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: MAILER-DAEMON@mx.final.test\r\nSubject: Undelivered Mail\r\n\r\nbounced\r\n").expect(250);
    let bounced = s.origin.wait(1);
    assert_eq!(bounced[0].from, "");
    assert_eq!(bounced[0].to, ["alice@sender.example"], "{}", s.a.log());

    // An address we did not make, or one altered to reach someone else, is no one here.
    let forged = srs.replace("=alice@", "=mallory@");
    let mut c = s.a.connect();
    c.cmd("EHLO mx.final.test").expect(250);
    c.cmd("MAIL FROM:<>").expect(250);
    c.cmd(&format!("RCPT TO:<{forged}>")).expect_status(550, "5.1.1");
    c.cmd("RCPT TO:<SRS0=AAAAAA=AA=sender.example=alice@mx.example.com>").expect_status(550, "5.1.1");
    c.cmd("RCPT TO:<SRS0=garbage@mx.example.com>").expect_status(550, "5.1.1");
    c.cmd("QUIT");
}

#[test]
fn without_srs_the_original_sender_is_kept() {
    let s = setup(false);
    s.a.send_mail("alice@sender.example", &["fwd@example.com"], MESSAGE).expect(250);
    let got = s.b.wait_messages("final.test", "dora", 1);
    assert_eq!(return_path(&got[0]), "alice@sender.example");
    let results = crate::authentication::results_of(&got[0], "mx.final.test");
    assert!(results.contains("spf=none"), "{results}");
    assert!(!s.a.data_dir().join("srs-secret").exists(), "no secret is made when SRS is off");
}
