//! The SMTP listener end to end: real server, real sockets, real Maildir.

use crate::common::{Options, Server};

#[test]
fn delivers_to_local_maildir_with_trace_headers() {
    let server = Server::start();
    let mut c = server.connect();
    assert!(c.greeting.text.starts_with("220 mx.example.com ESMTP"), "{}", c.greeting.text);
    let ehlo = c.cmd("EHLO client.example").expect(250);
    for ext in ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING"] {
        assert!(ehlo.text.contains(ext), "{ext} missing from {}", ehlo.text);
    }
    c.cmd("MAIL FROM:<sender@remote.example>").expect_status(250, "2.1.0");
    c.cmd("RCPT TO:<Bob@Example.COM>").expect_status(250, "2.1.5");
    c.cmd("DATA").expect(354);
    let reply = c.data("Subject: hello\r\n\r\nHi Bob.\r\n.leading dot\r\n").expect_status(250, "2.0.0");
    let qid = reply.text.trim().rsplit(' ').next().unwrap().to_string();
    c.cmd("QUIT").expect(221);

    let msgs = server.wait_messages("example.com", "bob", 1);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert!(m.starts_with("Return-Path: <sender@remote.example>\n"), "{m}");
    assert!(m.contains(&format!("by mx.example.com (carrier) with ESMTP id {qid}")), "{m}");
    assert!(m.contains("for <Bob@Example.COM>"), "{m}");
    assert!(m.ends_with("Subject: hello\n\nHi Bob.\n.leading dot\n"), "{m:?}");
    // Files are private to the mail system.
    let entry = std::fs::read_dir(server.maildir("example.com", "bob").join("new")).unwrap().next().unwrap().unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(entry.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    // The log tells the story by queue id.
    server.wait_log(&format!("{qid}: removed"), 1);
    let log = server.log();
    assert!(log.contains(&format!("{qid}: from=<sender@remote.example>, size=")), "{log}");
    assert!(log.contains(&format!("{qid}: to=<bob@example.com>")) && log.contains("stat=Sent"), "{log}");
    assert!(log.contains("nrcpts=1"), "{log}");
}

#[test]
fn unknown_local_user_is_refused_with_5_1_1() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<nobody@example.com>").expect_status(550, "5.1.1");
    // The session stays usable.
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Subject: x\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
}

#[test]
fn all_local_domains_share_one_namespace() {
    let server = Server::start();
    server.send_mail("a@remote.example", &["bob@example.net"], "Subject: x\r\n\r\nx\r\n");
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
}

#[test]
fn postmaster_is_always_accepted() {
    // RFC 5321 4.5.1: postmaster MUST be accepted, even with no such account or alias.
    let server = Server::start();
    server.send_mail("a@remote.example", &["PostMaster@mx.example.com"], "Subject: pm\r\n\r\nx\r\n");
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<postmaster>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Subject: pm2\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "postmaster", 2).len(), 2);
}

#[test]
fn relaying_is_denied_to_strangers_including_trick_addresses() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<victim@elsewhere.example>").expect_status(550, "5.7.1");
    for trick in [
        "victim%elsewhere.example@example.com",
        "elsewhere.example!victim@example.com",
        "\"victim@elsewhere.example\"@example.com",
        "victim@elsewhere.example@example.com",
    ] {
        let r = c.cmd(&format!("RCPT TO:<{trick}>"));
        assert!(r.code >= 500, "{trick} was accepted: {}", r.text);
    }
    // A source route is ignored, leaving the remote address: still denied.
    c.cmd("RCPT TO:<@example.com:victim@elsewhere.example>").expect_status(550, "5.7.1");
    c.cmd("RCPT TO:<victim@[192.0.2.1]>").expect_status(550, "5.7.1");
    c.cmd("RCPT TO:<victim@ELSEWHERE.example>").expect_status(550, "5.7.1");
    let log = server.log();
    assert!(log.contains("Relaying denied; helo=<client.example>"), "{log}");
    assert!(!log.contains("\u{1b}["), "colour codes in a log file");
}

#[test]
fn relaying_is_allowed_from_relay_networks() {
    let server = Server::start_with(Options { relay_networks: vec!["127.0.0.0/8".into()], ..Options::default() });
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@example.com>").expect(250);
    c.cmd("RCPT TO:<someone@elsewhere.example>").expect_status(250, "2.1.5");
    // Trick addresses never turn into relaying, even from a trusted network: they are unknown local users.
    c.cmd("RCPT TO:<victim%elsewhere.example@example.com>").expect_status(550, "5.1.1");
    c.cmd("RCPT TO:<elsewhere.example!victim@example.com>").expect_status(550, "5.1.1");
    c.cmd("DATA").expect(354);
    c.data("Subject: out\r\n\r\nx\r\n").expect(250);
    // The remote recipient waits in the queue for the relay agent.
    let (code, out, _) = server.cli(&["user", "list"], "");
    assert_eq!(code, 0);
    assert!(out.contains("bob@example.com"));
}

#[test]
fn aliases_expand_and_reload_when_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let aliases = dir.path().join("aliases");
    std::fs::write(&aliases, "# comment\npostmaster: root\nroot: bob\nteam: bob,\n  alice\n").unwrap();
    let server = Server::start_with(Options { top: format!("aliases = {:?}", aliases), ..Options::default() });
    server.send_mail("a@remote.example", &["team@example.com"], "Subject: team\r\n\r\nx\r\n");
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1);
    server.send_mail("a@remote.example", &["postmaster@example.com"], "Subject: pm\r\n\r\nx\r\n");
    assert_eq!(server.wait_messages("example.com", "bob", 2).len(), 2);

    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<sales@example.com>").expect_status(550, "5.1.1");
    // Make sure the mtime changes even on coarse-grained file systems.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&aliases, "sales: alice\nloop1: loop2\nloop2: loop1\n").unwrap();
    c.cmd("RCPT TO:<sales@example.com>").expect(250);
    c.cmd("RCPT TO:<loop1@example.com>").expect_status(550, "5.4.6");
    c.cmd("DATA").expect(354);
    c.data("Subject: sales\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "alice", 2).len(), 2);
}

#[test]
fn users_added_while_running_are_seen() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<carol@example.com>").expect_status(550, "5.1.1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    server.add_user("carol@example.com", "carol-pw");
    c.cmd("RCPT TO:<carol@example.com>").expect(250);
}

#[test]
fn bad_input_gets_precise_replies_and_the_session_survives() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("MAIL FROM:<a@remote.example>").expect_status(503, "5.5.1");
    c.cmd("EHLO client.example").expect(250);
    c.cmd("FROBNICATE").expect_status(500, "5.5.1");
    c.cmd(&format!("NOOP {}", "x".repeat(600))).expect_status(500, "5.5.2");
    c.cmd("MAIL FROM:bob").expect_status(501, "5.1.7");
    c.cmd("RCPT TO:<bob@example.com>").expect_status(503, "5.5.1");
    c.cmd("DATA").expect_status(503, "5.5.1");
    c.cmd("VRFY bob").expect_status(252, "2.5.0");
    c.raw(b"HELO nul\0byte\r\n");
    c.reply().expect_status(500, "5.5.2");
    c.cmd("MAIL FROM:<a@remote.example> SIZE=999999999999").expect_status(552, "5.3.4");
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data(&format!("Subject: long\r\n\r\n{}\r\n", "y".repeat(1200))).expect_status(554, "5.6.0");
    c.cmd("RSET").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.raw(b"Subject: nul\r\n\r\nnul \0 byte\r\n.\r\n");
    c.reply().expect_status(554, "5.6.0");
    c.cmd("HELP").expect_status(214, "2.0.0");
    c.cmd("HELO plain.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example> BODY=8BITMIME").expect_status(555, "5.5.4");
    c.cmd("NOOP").expect_status(250, "2.0.0");
    c.cmd("QUIT").expect_status(221, "2.0.0");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(server.messages("example.com", "bob").is_empty(), "a refused message was delivered");
}

#[test]
fn smuggled_end_of_data_is_not_honoured() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.raw(b"Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<forged@example.com>\nRCPT TO:<alice@example.com>\nDATA\nSubject: smuggled\n\nevil\n.\n");
    c.raw(b"\r\n.\r\n");
    // Exactly one reply for exactly one message: the fake end and commands are content.
    c.reply().expect_status(250, "2.0.0");
    c.cmd("NOOP").expect(250);
    let bob = server.wait_messages("example.com", "bob", 1);
    assert_eq!(bob.len(), 1);
    assert!(bob[0].contains("\nMAIL FROM:<forged@example.com>\n"), "{:?}", bob[0]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.messages("example.com", "alice").is_empty());
    assert_eq!(server.messages("example.com", "bob").len(), 1);

    // Bare CR variants are refused outright; the session stays usable.
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.raw(b"Subject: two\r\n\r\nx\r.\rMAIL FROM:<forged@example.com>\r\n.\r\n");
    c.reply().expect_status(554, "5.6.0");
    c.cmd("NOOP").expect(250);
}

#[test]
fn message_over_size_limit_is_refused_without_partial_delivery() {
    let server =
        Server::start_with(Options { sections: "[smtp]\nmax_message_size = 2048\n".into(), ..Options::default() });
    let mut c = server.connect();
    let ehlo = c.cmd("EHLO client.example").expect(250);
    assert!(ehlo.text.contains("SIZE 2048"), "{}", ehlo.text);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    let body = "z".repeat(70) + "\r\n";
    c.data(&format!("Subject: big\r\n\r\n{}", body.repeat(100))).expect_status(552, "5.3.4");
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Subject: small\r\n\r\nok\r\n").expect(250);
    let msgs = server.wait_messages("example.com", "bob", 1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(server.messages("example.com", "bob").len(), 1);
    assert!(msgs[0].contains("Subject: small"));
}

#[test]
fn too_many_recipients_get_452() {
    let server = Server::start_with(Options { sections: "[smtp]\nmax_recipients = 2\n".into(), ..Options::default() });
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("RCPT TO:<postmaster@example.com>").expect_status(452, "4.5.3");
    c.cmd("DATA").expect(354);
    c.data("Subject: two\r\n\r\nx\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1);
}

#[test]
fn pipelined_commands_in_one_write() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.raw(b"MAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n");
    c.reply().expect(250);
    c.reply().expect(250);
    c.reply().expect_status(550, "5.1.1");
    c.reply().expect(354);
    c.raw(b"Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n");
    c.reply().expect(250);
    c.reply().expect(221);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
}

#[test]
fn bdat_chunking() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.raw(b"BDAT 18\r\nSubject: chunk\r\n\r\n");
    c.reply().expect_status(250, "2.0.0");
    c.raw(b"BDAT 6 LAST\r\nbody\r\n");
    c.reply().expect_status(250, "2.0.0");
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert!(msgs[0].ends_with("Subject: chunk\n\nbody\n"), "{:?}", msgs[0]);
}

#[test]
fn idle_clients_time_out_with_421() {
    let server = Server::start_with(Options { sections: "[smtp]\ntimeout = \"1s\"\n".into(), ..Options::default() });
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.reply().expect_status(421, "4.4.2");
    assert!(c.is_closed());
    // The server is still fine.
    server.connect().cmd("NOOP").expect(250);
}

#[test]
fn clients_that_talk_before_the_greeting_are_refused() {
    let server =
        Server::start_with(Options { sections: "[smtp]\ngreet_pause = \"700ms\"\n".into(), ..Options::default() });
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.write_all(b"EHLO eager.example\r\n").unwrap();
    let mut out = String::new();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("554 5.5.1"), "{out}");
    assert!(!out.contains("220"), "{out}");
    // A patient client is served.
    let mut c = server.connect();
    assert_eq!(c.greeting.code, 220);
    c.cmd("EHLO patient.example").expect(250);
}

#[test]
fn too_many_errors_close_the_connection() {
    let server = Server::start_with(Options { sections: "[smtp]\nmax_errors = 3\n".into(), ..Options::default() });
    let mut c = server.connect();
    c.cmd("BAD1").expect(500);
    c.cmd("BAD2").expect(500);
    c.cmd("BAD3").expect(500);
    c.reply().expect_status(421, "4.7.0");
    assert!(c.is_closed());
}

#[test]
fn connection_limit_answers_421() {
    let server = Server::start_with(Options { sections: "[smtp]\nmax_connections = 2\n".into(), ..Options::default() });
    let _a = server.connect();
    let _b = server.connect();
    let mut c = std::io::BufReader::new(std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    let mut line = String::new();
    use std::io::BufRead;
    c.read_line(&mut line).unwrap();
    assert!(line.starts_with("421 4.3.2"), "{line}");
}

#[test]
fn the_client_name_is_forward_confirmed_and_a_forged_one_is_not_believed() {
    use carrier_mta::dns::{ClientName, client_name, resolver};
    // Only loopback addresses exist here, and a loopback client is always "localhost"; the
    // lookups themselves are asked of carrier's resolver against a DNS server on loopback.
    let dns = crate::common::dns::FakeDns::start();
    dns.ptr("192.0.2.7", "good.client.example");
    dns.a("good.client.example", "192.0.2.7");
    dns.ptr("192.0.2.8", "bank.example");
    dns.a("bank.example", "198.51.100.1");
    dns.ptr("2001:db8::9", "six.client.example");
    dns.a("six.client.example", "192.0.2.99");
    let mut cfg = carrier_config::Config::development();
    cfg.dns.nameservers = vec![dns.addr];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let resolver = resolver(&cfg).unwrap();
    let name = |ip: &str| rt.block_on(client_name(&resolver, ip.parse().unwrap()));
    assert_eq!(name("192.0.2.7"), ClientName::Confirmed("good.client.example".into()));
    assert_eq!(name("::ffff:192.0.2.7"), ClientName::Confirmed("good.client.example".into()));
    assert_eq!(name("192.0.2.8"), ClientName::Unconfirmed("bank.example".into()));
    assert_eq!(name("192.0.2.8").shown(), "unknown");
    assert_eq!(name("2001:db8::9"), ClientName::Unconfirmed("six.client.example".into()));
    assert_eq!(name("192.0.2.200"), ClientName::Unknown);
    assert_eq!(name("127.0.0.5"), ClientName::Confirmed("localhost".into()));
    // Over SMTP the name is logged as host[ip] and written into Received:.
    let server = Server::start();
    server.send_mail("a@elsewhere.example", &["bob@example.com"], "Subject: x\r\n\r\nx\r\n").expect(250);
    server.wait_log("connect from localhost[127.0.0.1] to SMTP", 1);
    server.wait_log("relay=localhost[127.0.0.1]", 1);
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert!(msgs[0].contains("from client.example (localhost [127.0.0.1])"), "{}", msgs[0]);
}

#[test]
fn a_sender_domain_that_does_not_exist_is_refused_and_a_dns_failure_deferred() {
    let dns = crate::common::dns::FakeDns::start();
    dns.mx("mx-only.example", 10, "mail.mx-only.example");
    dns.a("a-only.example", "192.0.2.7");
    dns.servfail("broken.example");
    let server = Server::start_with(Options {
        sections: format!("{}\n[smtp]\ncheck_sender_domain = true\n", dns.config()),
        ..Options::default()
    });
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    // RFC 3463 5.1.8: bad sender's system address; nothing could ever be returned to it.
    let r = c.cmd("MAIL FROM:<someone@no-such-domain.example>").expect_status(553, "5.1.8");
    assert!(r.text.contains("Domain of sender address does not exist"), "{}", r.text);
    c.cmd("MAIL FROM:<someone@broken.example>").expect_status(451, "4.1.8");
    // The session is still usable, and real domains, the null sender and our own pass.
    for sender in ["a@mx-only.example", "a@a-only.example", "", "alice@example.com"] {
        c.cmd(&format!("MAIL FROM:<{sender}>")).expect(250);
        c.cmd("RSET").expect(250);
    }
    server.wait_log("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 553 5.1.8", 1);
    // An authenticated user's sender is judged by ownership instead, and [smtp]
    // check_sender_domain = false turns the check off (the test harness's default).
    let relaxed = Server::start_with(Options { sections: dns.config(), ..Options::default() });
    let mut c = relaxed.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<someone@no-such-domain.example>").expect(250);
}
