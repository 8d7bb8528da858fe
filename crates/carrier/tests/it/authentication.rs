//! Checks of mail from other servers (issue 16.2): SPF, DKIM, ARC, DMARC and iprev against a
//! DNS server on loopback, with messages signed by dkimpy and the RFC 8463 test vectors;
//! one Authentication-Results field, forged ones removed, and the DMARC policy applied.

use crate::common::dns::FakeDns;
use crate::common::sink::{Sink, common_port};
use crate::common::{Client, Options, Server};
use crate::dkim::{dkimpy, require_dkimpy, submit_as_bob, submitting_server};
use std::process::Command;

/// A carrier checking what arrives on port 25 from 127.0.0.1 (not a relay network).
fn checking_server(dns: &FakeDns, authentication: &str) -> Server {
    Server::start_with(Options {
        sections: format!("{}\n[authentication]\nverify = true\n{authentication}", dns.config()),
        ..Options::default()
    })
}

/// `sender.example`: its client at 127.0.0.1 named client.sender.example (forward-confirmed),
/// SPF allowing that address, and a DMARC policy.
fn sender_domain(dns: &FakeDns, dmarc: &str) {
    dns.ptr("127.0.0.1", "client.sender.example");
    dns.a("client.sender.example", "127.0.0.1");
    dns.txt("sender.example", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("_dmarc.sender.example", dmarc);
}

/// An Ed25519 key made by dkimpy's dknewkey, published at `selector._domainkey.domain`;
/// returns the private key file.
fn dkimpy_key(dns: &FakeDns, dir: &std::path::Path, domain: &str, selector: &str) -> std::path::PathBuf {
    let made = Command::new("dknewkey").args(["--ktype", "ed25519"]).arg(dir.join(selector)).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let record = std::fs::read_to_string(dir.join(format!("{selector}.dns"))).unwrap();
    dns.txt(&format!("{selector}._domainkey.{domain}"), record.trim());
    dir.join(format!("{selector}.key"))
}

/// `message` with a DKIM-Signature made by dkimpy.
fn signed_by_dkimpy(message: &str, key: &std::path::Path, domain: &str, selector: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    std::fs::write(&path, message).unwrap();
    let args = [path.to_str().unwrap(), key.to_str().unwrap(), domain, selector, "ed25519-sha256"];
    dkimpy(&[&["sign"][..], &args].concat())
}

/// Sends one message from `from` at `helo`; the reply to the end of DATA.
fn deliver(server: &Server, helo: &str, from: &str, message: &str) -> crate::common::Reply {
    let mut c = Client::connect(server.port);
    c.cmd(&format!("EHLO {helo}")).expect(250);
    c.cmd(&format!("MAIL FROM:<{from}>")).expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data(message)
}

/// The Authentication-Results field carrier added, unfolded.
fn results(message: &str) -> String {
    let start = message.find("Authentication-Results: mx.example.com").expect("no Authentication-Results of ours");
    let mut field = String::new();
    for (i, line) in message[start..].lines().enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        field.push_str(line.trim());
        field.push(' ');
    }
    field
}

#[test]
fn aligned_signed_mail_passes_every_check_and_a_forged_verdict_is_removed() {
    require_dkimpy();
    let dns = FakeDns::start();
    sender_domain(&dns, "v=DMARC1; p=reject");
    let keys = tempfile::tempdir().unwrap();
    let key = dkimpy_key(&dns, keys.path(), "sender.example", "s1");
    let server = checking_server(&dns, "");
    let message = "From: News <news@sender.example>\r\nTo: alice@example.com\r\nSubject: hello\r\n\
                   Date: Sat, 5 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\n\r\nSigned.\r\n";
    let signed = signed_by_dkimpy(message, &key, "sender.example", "s1");
    // A sender's own claim in our name, outside the signature: it must not reach alice.
    let forged = format!("Authentication-Results: mx.example.com; dkim=pass header.d=bank.example\r\n{signed}");
    deliver(&server, "client.sender.example", "news@sender.example", &forged).expect(250);
    let got = &server.wait_messages("example.com", "alice", 1)[0];
    assert_eq!(got.matches("Authentication-Results:").count(), 1, "{got}");
    let ar = results(got);
    for part in ["dkim=pass", "header.i=@sender.example", "spf=pass", "smtp.mailfrom=", "dmarc=pass", "iprev=pass"] {
        assert!(ar.contains(part), "{part} missing from {ar}");
    }
    assert!(!ar.contains("bank.example"), "{ar}");
    server.wait_log("dkim=pass spf=pass dmarc=pass arc=none iprev=pass", 1);
    let log = server.log();
    let id = log.lines().find(|l| l.contains("from=<news@sender.example>")).unwrap().split(": from=").next().unwrap();
    let id = id.rsplit(' ').next().unwrap();
    assert!(
        log.contains(&format!("{id}: dkim=pass spf=pass dmarc=pass")),
        "the verdict is logged under the queue id:\n{log}"
    );
}

#[test]
fn the_rfc_8463_vectors_verify_for_ed25519_and_rsa() {
    let dns = FakeDns::start();
    dns.txt(
        "brisbane._domainkey.football.example.com",
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    );
    dns.txt(
        "test._domainkey.football.example.com",
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY\
         /J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTI\
         KT+l/K4w3QIDAQAB",
    );
    let server = checking_server(&dns, "");
    // RFC 8463 appendix A.3, signed with both of A.2's keys.
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; \
                   i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : \
                   date : message-id : from : subject : date;\r\n \
                   bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n \
                   b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n\
                   DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=football.example.com; \
                   i=@football.example.com;\r\n q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n date : \
                   message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n \
                   b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n \
                   DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n \
                   dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n\
                   From: Joe SixPack <joe@football.example.com>\r\nTo: Suzie Q <suzie@shopping.example.net>\r\n\
                   Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
                   Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\r\nHi.\r\n\r\n\
                   We lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
    deliver(&server, "mail.football.example.com", "joe@football.example.com", message).expect(250);
    let got = server.wait_messages("example.com", "alice", 1);
    let ar = results(&got[0]);
    assert_eq!(ar.matches("dkim=pass").count(), 2, "{ar}");
    assert!(ar.contains("header.s=brisbane") && ar.contains("header.s=test"), "{ar}");
    // One octet changed in the body: both fail, and the message is still delivered (no
    // DMARC policy for football.example.com asks otherwise).
    deliver(&server, "mail.football.example.com", "joe@football.example.com", &message.replace("Joe.", "Jon."))
        .expect(250);
    let msgs = server.wait_messages("example.com", "alice", 2);
    let tampered = msgs.iter().find(|m| m.contains("Jon.")).unwrap();
    assert_eq!(results(tampered).matches("dkim=fail").count(), 2, "{}", results(tampered));
}

/// RFC 6376 appendix A.2, signed c=simple/simple with appendix C's 1024-bit key (RFC 8301
/// still lets verifiers accept 1024 bits); the Received field is signed too.
#[test]
fn the_rfc_6376_example_verifies_with_simple_canonicalization() {
    let dns = FakeDns::start();
    dns.txt(
        "brisbane._domainkey.example.com",
        "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jY\
         fcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB",
    );
    let server = checking_server(&dns, "");
    let message = "DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n      c=simple/simple; \
                   q=dns/txt; i=joe@football.example.com;\r\n      h=Received : From : To : Subject : Date : \
                   Message-ID;\r\n      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n      \
                   b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n      \
                   4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n      \
                   KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n      4bmp/YzhwvcubU4=;\r\n\
                   Received: from client1.football.example.com  [192.0.2.1]\r\n      by submitserver.example.com \
                   with SUBMISSION;\r\n      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n\
                   From: Joe SixPack <joe@football.example.com>\r\nTo: Suzie Q <suzie@shopping.example.net>\r\n\
                   Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
                   Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\r\nHi.\r\n\r\n\
                   We lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n";
    deliver(&server, "mail.football.example.com", "joe@football.example.com", message).expect(250);
    let got = server.wait_messages("example.com", "alice", 1);
    let ar = results(&got[0]);
    assert!(ar.contains("dkim=pass header.i=joe@football.example.com header.s=brisbane"), "{ar}");
    // Simple canonicalization: one more space inside the signed Subject breaks it.
    let spaced = message.replace("Subject: Is dinner", "Subject: Is  dinner");
    deliver(&server, "mail.football.example.com", "joe@football.example.com", &spaced).expect(250);
    let msgs = server.wait_messages("example.com", "alice", 2);
    let broken = msgs.iter().find(|m| m.contains("Is  dinner")).unwrap();
    assert!(results(broken).contains("dkim=fail"), "{}", results(broken));
}

#[test]
fn a_forged_from_of_a_reject_domain_is_refused_and_quarantine_goes_to_junk() {
    let dns = FakeDns::start();
    dns.txt("bank.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.bank.example", "v=DMARC1; p=reject");
    dns.txt("shop.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.shop.example", "v=DMARC1; p=quarantine");
    let server = checking_server(&dns, "");
    let mut c = Client::connect(server.port);
    c.cmd("EHLO mallory.example").expect(250);
    c.cmd("MAIL FROM:<ceo@bank.example>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    let reply = c.data("From: The Bank <ceo@bank.example>\r\nSubject: verify your account\r\n\r\nclick\r\n");
    let reply = reply.expect_status(550, "5.7.1");
    assert!(reply.text.contains("DMARC policy of bank.example"), "{}", reply.text);
    // The session goes on: the next message in it is taken.
    c.cmd("MAIL FROM:<ceo@shop.example>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: ceo@shop.example\r\nSubject: offer\r\n\r\nbuy\r\n").expect(250);
    let junk = server.maildir("example.com", "alice").join(".Junk/new");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_dir(&junk).map_or(0, |d| d.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing in Junk:\n{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(server.messages("example.com", "alice").is_empty(), "quarantined mail is not in INBOX");
    server.wait_log("to Junk: DMARC policy of shop.example (p=quarantine)", 1);
    server.wait_log("NOQUEUE: reject: DATA from localhost[127.0.0.1]: 550 5.7.1", 1);
    // And the IMAP user sees it there.
    let mut imap = crate::common::imap::Imap::connect(server.imap_port, &server.cert_path());
    imap.starttls();
    imap.login("alice@example.com", "alice-pw").expect("OK");
    let status = imap.cmd("STATUS Junk (MESSAGES)").expect("OK");
    assert!(status.lines("STATUS")[0].contains("MESSAGES 1"), "{:?}", status.lines(""));
}

#[test]
fn dmarc_reject_can_be_set_to_quarantine_or_none() {
    let dns = FakeDns::start();
    dns.txt("_dmarc.bank.example", "v=DMARC1; p=reject");
    for (setting, junk) in [("quarantine", true), ("none", false)] {
        let server = checking_server(&dns, &format!("dmarc_reject = \"{setting}\"\n"));
        deliver(&server, "mallory.example", "x@mallory.example", "From: ceo@bank.example\r\n\r\nhi\r\n").expect(250);
        let folder = if junk { ".Junk/new" } else { "new" };
        let dir = server.maildir("example.com", "alice").join(folder);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_dir(&dir).map_or(0, |d| d.count()) == 0 {
            assert!(std::time::Instant::now() < deadline, "{setting}: nothing in {folder}:\n{}", server.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn a_dns_failure_defers_only_when_the_policy_needs_the_answer() {
    require_dkimpy();
    let dns = FakeDns::start();
    let keys = tempfile::tempdir().unwrap();
    let mut signed = Vec::new();
    for (domain, policy) in [("strict.example", "p=reject"), ("lax.example", "p=none")] {
        let dir = keys.path().join(domain);
        std::fs::create_dir(&dir).unwrap();
        let key = dkimpy_key(&dns, &dir, domain, "s1");
        // The key's name server is broken: DKIM cannot be checked.
        dns.servfail(&format!("s1._domainkey.{domain}"));
        dns.txt(&format!("_dmarc.{domain}"), &format!("v=DMARC1; {policy}"));
        signed.push(signed_by_dkimpy(&format!("From: a@{domain}\r\nSubject: x\r\n\r\nbody\r\n"), &key, domain, "s1"));
    }
    let server = checking_server(&dns, "");
    deliver(&server, "mx.strict.example", "a@strict.example", &signed[0]).expect_status(451, "4.7.5");
    deliver(&server, "mx.lax.example", "a@lax.example", &signed[1]).expect(250);
    let ar = results(&server.wait_messages("example.com", "alice", 1)[0]);
    assert!(ar.contains("dkim=temperror"), "{ar}");
}

#[test]
fn forwarded_mail_is_arc_sealed_and_dkimpy_validates_the_chain() {
    forwarded_and_sealed("forwarder@example.com", None);
}

/// A user's Sieve `redirect` (issue 19.3) is sealed as an alias's forward is.
#[test]
fn mail_a_sieve_script_redirects_is_arc_sealed_too() {
    forwarded_and_sealed("bob@example.com", Some("redirect \"carol@remote.example\";\r\n"));
}

/// Mail from sender.example (DKIM-signed, DMARC p=reject) to `rcpt`, which an alias or
/// `script` sends on to carol@remote.example: the copy carries an ARC set that dkimpy
/// validates, and the sender's signature still verifies.
fn forwarded_and_sealed(rcpt: &str, script: Option<&str>) {
    require_dkimpy();
    let dns = FakeDns::start();
    sender_domain(&dns, "v=DMARC1; p=reject");
    let keys = tempfile::tempdir().unwrap();
    let key = dkimpy_key(&dns, keys.path(), "sender.example", "s1");
    let (port, mut listeners) = common_port(&["127.0.0.2"]);
    let sink = Sink::on(listeners.remove(0));
    dns.mx("remote.example", 10, "mx.remote.example");
    dns.a("mx.remote.example", "127.0.0.2");
    let aliases = keys.path().join("aliases");
    std::fs::write(&aliases, "forwarder: carol@remote.example\n").unwrap();
    let server = Server::start_with(Options {
        top: format!("aliases = {:?}", aliases.display().to_string()),
        sections: format!(
            "{}\n[authentication]\nverify = true\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n",
            dns.config()
        ),
        ..Options::default()
    });
    if let Some(script) = script {
        crate::sieve::activate(&server, rcpt, script);
    }
    let message = format!("From: news@sender.example\r\nTo: {rcpt}\r\nSubject: forwarded\r\n\r\nkeep me\r\n");
    let signed = signed_by_dkimpy(&message, &key, "sender.example", "s1");
    let mut c = Client::connect(server.port);
    c.cmd("EHLO client.sender.example").expect(250);
    c.cmd("MAIL FROM:<news@sender.example>").expect(250);
    c.cmd(&format!("RCPT TO:<{rcpt}>")).expect(250);
    c.cmd("DATA").expect(354);
    c.data(&signed).expect(250);
    let got = sink.wait(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    let data = &got[0].data;
    for field in ["ARC-Seal: i=1; a=rsa-sha256", "ARC-Message-Signature: i=1;", "ARC-Authentication-Results: i=1;"] {
        assert!(data.contains(field), "{field} missing:\n{data}");
    }
    assert!(data.contains("cv=none"), "the first set has no chain before it:\n{data}");
    // The next hop's view: our seal and the sender's signature, both verified by dkimpy.
    let mut records = crate::dkim::dkim_records(&server);
    records.push_str(&format!("s1._domainkey.sender.example {}\n", dkimpy_record(keys.path(), "s1")));
    let dir = tempfile::tempdir().unwrap();
    let (msg, recs) = (dir.path().join("m"), dir.path().join("r"));
    std::fs::write(&msg, data).unwrap();
    std::fs::write(&recs, records).unwrap();
    let arc = dkimpy(&["arc", msg.to_str().unwrap(), recs.to_str().unwrap()]);
    assert!(arc.starts_with("arc pass"), "{arc}\n{data}");
    let dkim = dkimpy(&["verify", msg.to_str().unwrap(), recs.to_str().unwrap()]);
    assert_eq!(dkim.trim(), "d=sender.example s=s1 a=ed25519-sha256 pass", "the sender's signature survives");
}

/// The record dknewkey wrote for `selector`.
fn dkimpy_record(dir: &std::path::Path, selector: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{selector}.dns"))).unwrap().trim().to_string()
}

#[test]
fn two_carriers_sign_and_verify_each_other_and_a_forged_sender_is_refused() {
    let dns = FakeDns::start();
    let (port, mut listeners) = common_port(&["127.0.0.3"]);
    drop(listeners.remove(0)); // B binds it
    // A: example.com, sends for its users to other.example's MX, B.
    dns.mx("other.example", 10, "mx.other.example");
    dns.a("mx.other.example", "127.0.0.3");
    let a = submitting_server(&dns, port, "");
    // A's published records: its DKIM keys, SPF for its address, DMARC p=reject, and a
    // forward-confirmed reverse name.
    crate::dkim::publish_dkim(&dns, &a);
    dns.txt("example.com", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject");
    dns.ptr("127.0.0.1", "mx.example.com");
    dns.a("mx.example.com", "127.0.0.1");
    let b = Server::start_with(Options {
        hostname: "mx.other.example".into(),
        domains: vec!["other.example".into()],
        users: vec![("carol@other.example".into(), "carol-pw".into())],
        smtp: format!("127.0.0.3:{port}"),
        sections: format!("{}\n[authentication]\nverify = true\n", dns.config()),
        ..Options::default()
    });
    let message = "From: Bob <bob@example.com>\r\nTo: carol@other.example\r\nSubject: hello B\r\n\r\nfrom A\r\n";
    submit_as_bob(&a, "carol@other.example", message, false);
    let got = b.wait_messages("other.example", "carol", 1);
    assert_eq!(got.len(), 1, "A:\n{}\nB:\n{}", a.log(), b.log());
    let ar = results_of(&got[0], "mx.other.example");
    assert_eq!(ar.matches("dkim=pass").count(), 2, "both of A's signatures pass: {ar}");
    for part in ["spf=pass", "dmarc=pass", "iprev=pass"] {
        assert!(ar.contains(part), "{part} missing from {ar}");
    }
    b.wait_log("dkim=pass spf=pass dmarc=pass arc=none iprev=pass", 1);
    // Someone else writing as bob@example.com, straight to B with their own envelope: not
    // signed by example.com, SPF for another domain, so DMARC fails and p=reject applies.
    let mut m = Client::connect_to(std::net::SocketAddr::new(b.smtp_ip, b.port));
    m.cmd("EHLO mallory.example").expect(250);
    m.cmd("MAIL FROM:<mallory@mallory.example>").expect(250);
    m.cmd("RCPT TO:<carol@other.example>").expect(250);
    m.cmd("DATA").expect(354);
    m.data("From: Bob <bob@example.com>\r\nSubject: wire money\r\n\r\nnow\r\n").expect_status(550, "5.7.1");
}

/// The Authentication-Results field of host `authserv`, unfolded.
pub fn results_of(message: &str, authserv: &str) -> String {
    results(&message.replace(&format!("Authentication-Results: {authserv}"), "Authentication-Results: mx.example.com"))
}

#[test]
fn bad_records_and_dead_name_servers_are_answered_per_the_rfcs_without_stalling() {
    let dns = FakeDns::start();
    // RFC 7208 4.6.4: an include loop, and more than 10 lookups, are permerrors.
    dns.txt("loop.example", "v=spf1 include:loop2.example -all");
    dns.txt("loop2.example", "v=spf1 include:loop.example -all");
    let includes: Vec<String> = (0..11).map(|i| format!("include:i{i}.many.example")).collect();
    dns.txt("many.example", &format!("v=spf1 {} -all", includes.join(" ")));
    for i in 0..11 {
        dns.txt(&format!("i{i}.many.example"), "v=spf1 ?all");
    }
    // A key record of absurd size (a 36000-bit "key"), and a signature that is no tag list.
    dns.txt("huge._domainkey.huge.example", &format!("v=DKIM1; k=rsa; p={}", "A".repeat(6000)));
    // A name server that never answers for this sender's domain.
    dns.silent("dead.example");
    dns.silent("_dmarc.dead.example");
    let server = checking_server(&dns, "");
    let mut c = Client::connect(server.port);
    c.cmd("EHLO client.example").expect(250);
    let cases = [
        ("a@loop.example", "From: a@loop.example\r\n\r\nx\r\n", "spf=permerror"),
        ("a@many.example", "From: a@many.example\r\n\r\nx\r\n", "spf=permerror"),
        (
            "a@huge.example",
            "DKIM-Signature: v=1; a=rsa-sha256; d=huge.example; s=huge; h=from; bh=AAAA; b=AAAA\r\n\
             From: a@huge.example\r\n\r\nx\r\n",
            "dkim=",
        ),
        ("a@broken.example", "DKIM-Signature: this is not a tag list\r\nFrom: a@broken.example\r\n\r\nx\r\n", "dkim="),
        ("a@plain.example", "From: a@plain.example\r\n\r\nx\r\n", "dkim=none"),
        ("a@dead.example", "From: a@dead.example\r\n\r\nx\r\n", "spf=temperror"),
    ];
    let started = std::time::Instant::now();
    for (sender, message, _) in &cases {
        c.cmd(&format!("MAIL FROM:<{sender}>")).expect(250);
        c.cmd("RCPT TO:<alice@example.com>").expect(250);
        c.cmd("DATA").expect(354);
        c.data(message).expect(250);
    }
    // The dead name server costs at most the checks' bound, well inside the session timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    let msgs = server.wait_messages("example.com", "alice", cases.len());
    for (sender, _, expected) in &cases {
        let m = msgs.iter().find(|m| m.contains(&format!("smtp.mailfrom={sender}"))).expect(sender);
        let ar = results(m);
        assert!(ar.contains(expected) && !ar.contains("dkim=pass"), "{sender}: {expected} missing from {ar}");
    }
    c.cmd("NOOP").expect(250);
}
