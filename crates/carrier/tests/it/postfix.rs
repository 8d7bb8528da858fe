//! Interoperation with a real Postfix (Debian's), started by the test on a loopback address:
//! carrier relays to it as an MX, and it relays to carrier as its relayhost.

use crate::common::dns::FakeDns;
use crate::common::opendkim::OpenDkim;
use crate::common::postfix::{Postfix, Setup};
use crate::common::sink::common_port;
use crate::common::{Client, Options, Server};

#[test]
fn carrier_relays_to_postfix_and_postfix_to_carrier() {
    let dns = FakeDns::start();
    let (port, listeners) = common_port(&["127.0.0.9"]);
    drop(listeners);
    let mut server = Server::configure(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n", dns.config()),
        ..Options::default()
    });
    server.spawn();
    let postfix = Postfix::start(&Setup {
        ip: "127.0.0.9",
        port,
        domain: "pf.test",
        users: &["paul"],
        relayhost: &format!("[127.0.0.1]:{}", server.port),
        milter: None,
    });
    dns.mx("pf.test", 10, "mx.pf.test");
    dns.a("mx.pf.test", "127.0.0.9");

    // carrier -> Postfix, as its MX.
    let body = "From: alice@example.com\r\nSubject: to postfix\r\n\r\n.leading dot\r\nHello Postfix.\r\n";
    server.send_mail("alice@example.com", &["paul@pf.test"], body).expect(250);
    let got = postfix.wait_messages("pf.test", "paul", 1);
    assert_eq!(got.len(), 1, "carrier:\n{}\npostfix:\n{}", server.log(), postfix.log());
    assert!(got[0].contains("Subject: to postfix"), "{}", got[0]);
    assert!(got[0].contains("\n.leading dot\n"), "dot-stuffing undone: {}", got[0]);
    assert!(got[0].contains("by mx.example.com (carrier)"), "{}", got[0]);
    server.wait_log(&format!("relay=mx.pf.test[127.0.0.9]:{port}"), 1);

    // Postfix -> carrier, as its relayhost.
    let mut c = Client::connect_to(format!("127.0.0.9:{port}").parse().unwrap());
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<paul@pf.test>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: paul@pf.test\r\nSubject: from postfix\r\n\r\nHello carrier.\r\n").expect(250);
    c.cmd("QUIT");
    let got = server.wait_messages("example.com", "bob", 1);
    assert_eq!(got.len(), 1, "carrier:\n{}\npostfix:\n{}", server.log(), postfix.log());
    assert!(got[0].contains("Subject: from postfix"), "{}", got[0]);
    assert!(got[0].contains("by postfix.test (Postfix)"), "{}", got[0]);
    assert!(got[0].starts_with("Return-Path: <paul@pf.test>\n"), "{}", got[0]);
    assert!(postfix.log().contains("status=sent (250 2.0.0 Ok: queued as"), "{}", postfix.log());
}

#[test]
fn postfix_signing_through_opendkim_and_carrier_verify_each_other() {
    crate::dkim::require_dkimpy();
    let dns = FakeDns::start();
    let (port, listeners) = common_port(&["127.0.0.10"]);
    drop(listeners);
    let opendkim = OpenDkim::start("pf.test", "pf");
    dns.txt("pf._domainkey.pf.test", &opendkim.record);
    dns.txt("pf.test", "v=spf1 ip4:127.0.0.0/8 -all");
    dns.txt("_dmarc.pf.test", "v=DMARC1; p=reject");
    dns.mx("pf.test", 10, "mx.pf.test");
    dns.a("mx.pf.test", "127.0.0.10");
    let server = crate::dkim::submitting_server(&dns, port, "[authentication]\nverify = true\n");
    let milter = format!("inet:127.0.0.1:{}", opendkim.port);
    let postfix = Postfix::start(&Setup {
        ip: "127.0.0.10",
        port,
        domain: "pf.test",
        users: &["paul"],
        relayhost: &format!("[127.0.0.1]:{}", server.port),
        milter: Some(&milter),
    });

    // Postfix -> carrier, signed by OpenDKIM on its way out: carrier finds DKIM, SPF and
    // DMARC all passing.
    let mut c = Client::connect_to(format!("127.0.0.10:{port}").parse().unwrap());
    c.cmd("EHLO client.pf.test").expect(250);
    c.cmd("MAIL FROM:<paul@pf.test>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: Paul <paul@pf.test>\r\nTo: bob@example.com\r\nSubject: signed by opendkim\r\n\r\nHello.\r\n")
        .expect(250);
    let got = server.wait_messages("example.com", "bob", 1);
    assert_eq!(got.len(), 1, "carrier:\n{}\npostfix:\n{}", server.log(), postfix.log());
    assert!(got[0].contains("DKIM-Signature:") && got[0].contains("s=pf;"), "{}", got[0]);
    server.wait_log("dkim=pass spf=pass dmarc=pass", 1);

    // carrier -> Postfix: what Postfix delivers still carries carrier's two signatures, and
    // dkimpy verifies both.
    let message = "From: Bob <bob@example.com>\r\nTo: paul@pf.test\r\nSubject: signed by carrier\r\n\r\nHi Paul.\r\n";
    crate::dkim::submit_as_bob(&server, "paul@pf.test", message, false);
    let got = postfix.wait_messages("pf.test", "paul", 1);
    assert_eq!(got.len(), 1, "carrier:\n{}\npostfix:\n{}", server.log(), postfix.log());
    let verdicts = crate::dkim::verify(&server, &got[0]);
    assert_eq!(verdicts.matches(" pass").count(), 2, "{verdicts}\n{}", got[0]);
}
