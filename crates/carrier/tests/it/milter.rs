//! Content filters over the milter protocol (issue 17.1) with a real one: OpenDKIM from
//! Debian, started privately, signs through carrier's milter client and dkimpy verifies the
//! result; a filter that is down gets its `default_action`.

use crate::common::dns::FakeDns;
use crate::common::opendkim::OpenDkim;
use crate::common::sink::{Sink, common_port};
use crate::dkim::{dkimpy, require_dkimpy, submit_as_bob, submitting_server};

/// A carrier sending its users' mail for remote.example to a sink, with these milters.
fn with_milters(dns: &FakeDns, milters: &str) -> (crate::common::Server, Sink) {
    let (port, mut listeners) = common_port(&["127.0.0.2"]);
    let sink = Sink::on(listeners.remove(0));
    dns.mx("remote.example", 10, "mx.remote.example");
    dns.a("mx.remote.example", "127.0.0.2");
    (submitting_server(dns, port, milters), sink)
}

#[test]
fn opendkim_signs_through_the_milter_and_dkimpy_verifies_it() {
    require_dkimpy();
    let opendkim = OpenDkim::start("example.com", "odk");
    let dns = FakeDns::start();
    let milter = format!(
        "[dkim]\nsign = false\n[[milter]]\nsocket = \"inet:{}@127.0.0.1\"\nlisteners = [\"submission\"]\n",
        opendkim.port
    );
    let (server, sink) = with_milters(&dns, &milter);
    let message = "From: Bob <bob@example.com>\r\nTo: carol@remote.example\r\nSubject: via opendkim\r\n\
                   Date: Sat, 5 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\r\nSigned by the filter.\r\n";
    submit_as_bob(&server, "carol@remote.example", message, false);
    let got = sink.wait(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    let data = &got[0].data;
    assert_eq!(data.matches("DKIM-Signature:").count(), 1, "only OpenDKIM signed:\n{data}");
    assert!(data.contains("s=odk;"), "{data}");
    let dir = tempfile::tempdir().unwrap();
    let (msg, recs) = (dir.path().join("m"), dir.path().join("r"));
    std::fs::write(&msg, data).unwrap();
    std::fs::write(&recs, format!("odk._domainkey.example.com {}\n", opendkim.record)).unwrap();
    let verdict = dkimpy(&["verify", msg.to_str().unwrap(), recs.to_str().unwrap()]);
    assert_eq!(verdict.trim(), "d=example.com s=odk a=rsa-sha256 pass", "{data}");
}

#[test]
fn a_filter_that_is_down_gets_its_default_action() {
    let dns = FakeDns::start();
    // A port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let message = "From: bob@example.com\r\nSubject: x\r\n\r\nx\r\n";
    let (server, sink) = with_milters(&dns, &format!("[[milter]]\nsocket = \"inet:127.0.0.1:{dead}\"\n"));
    let mut c = crate::common::Client::connect(server.port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@elsewhere.example>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    // Postfix's milter_default_action = tempfail: the client keeps the message and retries.
    c.data(message).expect_status(451, "4.7.1");
    c.cmd("NOOP").expect(250);
    server.wait_log(&format!("milter inet:127.0.0.1:{dead}: cannot connect"), 1);
    drop(sink);
    let milter = format!("[[milter]]\nsocket = \"inet:127.0.0.1:{dead}\"\ndefault_action = \"accept\"\n");
    let (server, sink) = with_milters(&dns, &milter);
    submit_as_bob(&server, "carol@remote.example", message, false);
    assert_eq!(sink.wait(1).len(), 1, "{}", server.log());
}

/// The GTUBE line: every spam filter rejects a message carrying it.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

#[test]
fn rspamd_rejects_gtube_marks_clean_mail_and_when_it_stops_the_default_action_applies() {
    let mut rspamd = crate::common::rspamd::Rspamd::start(false);
    let dns = FakeDns::start();
    let milter = format!(
        "[[milter]]\nsocket = \"unix:{}\"\nlisteners = [\"smtp\"]\ndefault_action = \"accept\"\ntimeout = \"60s\"\n",
        rspamd.socket().display()
    );
    let (server, _sink) = with_milters(&dns, &milter);
    let send = |subject: &str, body: &str| {
        let mut c = crate::common::Client::connect(server.port);
        c.cmd("EHLO client.example").expect(250);
        c.cmd("MAIL FROM:<a@elsewhere.example>").expect(250);
        c.cmd("RCPT TO:<alice@example.com>").expect(250);
        c.cmd("DATA").expect(354);
        c.data(&format!(
            "From: a@elsewhere.example\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\
             Message-ID: <{subject}@elsewhere.example>\r\nDate: Sat, 5 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
        ))
    };
    let spam = send("gtube", GTUBE);
    assert!(spam.code >= 500 && spam.text.contains("5.7.1"), "{}\nrspamd:\n{}", spam.text, rspamd.log());
    server.wait_log("milter-reject:", 1);
    // Alice's Sieve script sees rspamd's verdict (spamtest, RFC 5235): 1 to 10 once a filter
    // has looked at the message, 0 when none did.
    crate::sieve::activate(
        &server,
        "alice@example.com",
        "require [\"spamtest\", \"relational\", \"comparator-i;ascii-numeric\", \"fileinto\", \"mailbox\"];\r\n\
         if spamtest :value \"ge\" :comparator \"i;ascii-numeric\" \"1\" { fileinto :create \"Scanned\"; }\r\n",
    );
    send("clean", "Hello Alice, lunch on Friday?").expect(250);
    server.wait_log("sieve: <alice@example.com>: script \"rules\": fileinto \"Scanned\"", 1);
    server.wait_log("to=<alice@example.com>, relay=local", 1); // stored after the script's line
    let scanned = crate::common::read_maildir(&server.maildir("example.com", "alice").join(".Scanned"));
    assert_eq!(scanned.len(), 1, "{}", server.log());
    assert!(
        scanned[0].contains("X-Spamd-Result:") || scanned[0].contains("X-Rspamd"),
        "rspamd's headers:\n{}",
        scanned[0]
    );
    // rspamd goes away mid-test: with default_action = "accept" mail keeps flowing, and is
    // not scanned: spamtest says 0 and the message stays in INBOX.
    rspamd.stop();
    send("after", "Still here?").expect(250);
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1, "{}", server.log());
    server.wait_log("sieve: <alice@example.com>: script \"rules\": keep", 1);
}

#[test]
fn mail_rspamd_quarantines_or_marks_as_spam_goes_to_junk() {
    let rspamd = crate::common::rspamd::Rspamd::start(true);
    let dns = FakeDns::start();
    let milter = format!("[[milter]]\nsocket = \"unix:{}\"\ntimeout = \"60s\"\n", rspamd.socket().display());
    let (server, _sink) = with_milters(&dns, &milter);
    server
        .send_mail(
            "a@elsewhere.example",
            &["alice@example.com"],
            &format!("From: a@elsewhere.example\r\nSubject: gtube\r\n\r\n{GTUBE}\r\n"),
        )
        .expect(250);
    let junk = server.maildir("example.com", "alice").join(".Junk/new");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(&junk).map_or(0, |d| d.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing in Junk:\n{}\nrspamd:\n{}", server.log(), rspamd.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(server.messages("example.com", "alice").is_empty(), "not in INBOX");
    server.wait_log("milter quarantined the message", 1);
}
