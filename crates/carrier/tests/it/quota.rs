//! `[mailbox] quota`: a full mailbox gets `452 4.2.2` at RCPT, a message that could never
//! fit `552 5.2.2`; making room over POP3 lets mail in again.

use crate::common::pop3::Pop3;
use crate::common::{Options, Server};

fn server(aliases: Option<&std::path::Path>) -> Server {
    Server::start_with(Options {
        top: aliases.map(|p| format!("aliases = {:?}", p.display().to_string())).unwrap_or_default(),
        sections: "[mailbox]\nquota = \"2K\"\n".into(),
        ..Options::default()
    })
}

/// Fills bob's mailbox past 2 KiB.
fn fill(server: &Server) {
    let big = format!("Subject: big\r\n\r\n{}", format!("{}\r\n", "x".repeat(70)).repeat(30));
    server.send_mail("alice@example.org", &["bob@example.com"], &big).expect(250);
    server.wait_messages("example.com", "bob", 1);
}

#[test]
fn full_mailboxes_are_refused_at_rcpt_until_there_is_room() {
    let server = server(None);
    // SIZE above the whole quota: it could never fit, for anyone (permanent).
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<alice@example.org> SIZE=5000").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect_status(552, "5.2.2");
    c.cmd("RSET").expect(250);
    // Within the quota: accepted.
    c.cmd("MAIL FROM:<alice@example.org> SIZE=1000").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("QUIT");
    fill(&server);
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<alice@example.org>").expect(250);
    let reply = c.cmd("RCPT TO:<bob@example.com>").expect_status(452, "4.2.2");
    assert!(reply.text.contains("<bob@example.com>: Mailbox full"), "{}", reply.text);
    // Other recipients in the same transaction are unaffected.
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("QUIT");
    server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 452 4.2.2 <bob@example.com>: Mailbox full", 1);
    // Bob was told when the big message took his mailbox past 90 % of its quota.
    let msgs = server.wait_messages("example.com", "bob", 2);
    let warning = msgs.iter().find(|m| m.contains("Subject: Your mailbox is")).expect("a quota warning");
    assert!(warning.contains("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>"), "{warning}");
    server.wait_log("quota warning to <bob@example.com>", 1);
    // Bob deletes his mail over POP3: mail is accepted again.
    let mut pop = Pop3::connect_tls(server.pop3s_port, &server.cert_path());
    assert_eq!(pop.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    for n in 1..=msgs.len() {
        pop.cmd(&format!("DELE {n}"));
    }
    assert_eq!(pop.cmd("QUIT"), format!("+OK Logging out, {} messages deleted.", msgs.len()));
    server.send_mail("alice@example.org", &["bob@example.com"], "Subject: small\r\n\r\nhi\r\n").expect(250);
}

#[test]
fn a_list_is_refused_only_when_every_member_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let aliases = dir.path().join("aliases");
    std::fs::write(&aliases, "team: bob, alice\nbobby: bob\n").unwrap();
    let server = server(Some(&aliases));
    fill(&server);
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<carol@example.org>").expect(250);
    c.cmd("RCPT TO:<team@example.com>").expect(250);
    c.cmd("RCPT TO:<bobby@example.com>").expect_status(452, "4.2.2");
    c.cmd("DATA").expect(354);
    c.data("Subject: to the team\r\n\r\nhello\r\n").expect(250);
    c.cmd("QUIT");
    // Mail accepted for a list is delivered to every member, the full one too: a 250 is a promise.
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1);
    // The big message, the quota warning and the team's.
    assert_eq!(server.wait_messages("example.com", "bob", 3).len(), 3);
}

#[test]
fn imap_reports_the_storage_quota_of_rfc_9208() {
    let server = server(None);
    fill(&server);
    let mut imap = crate::common::imap::Imap::connect(server.imap_port, &server.cert_path());
    imap.starttls();
    let caps = imap.cmd("CAPABILITY").expect("OK");
    assert!(caps.lines("CAPABILITY")[0].contains(" QUOTA QUOTA=RES-STORAGE"), "{:?}", caps.lines(""));
    imap.login("bob@example.com", "bob-secret").expect("OK");
    let root = imap.cmd("GETQUOTAROOT INBOX").expect("OK");
    assert_eq!(root.lines("QUOTAROOT"), ["QUOTAROOT INBOX \"\""]);
    // 2 KiB of quota, more than that used (the mailbox was filled past it).
    let quota = root.lines("QUOTA ")[0].to_string();
    let used: u64 = quota.split("STORAGE ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(quota.ends_with(" 2)") && used >= 2, "{quota}");
    assert_eq!(imap.cmd("GETQUOTA \"\"").expect("OK").lines("QUOTA "), [quota.as_str()]);
    let r = imap.cmd("GETQUOTA \"other\"").expect("NO");
    assert!(r.done.contains("[NONEXISTENT]"), "{}", r.done);
    let r = imap.cmd("SETQUOTA \"\" (STORAGE 99999)").expect("NO");
    assert!(r.done.contains("[NOPERM]"), "{}", r.done);
    let r = imap.cmd("GETQUOTAROOT Nowhere").expect("NO");
    assert!(r.done.contains("[NONEXISTENT]"), "{}", r.done);
}

/// `carrier user quota`: one account's own limits, set while the daemon runs, win over
/// `[mailbox] quota`: bob is freed from it, alice may hold one message; SMTP, IMAP APPEND and
/// GETQUOTA all follow, and the warning speaks of messages.
#[test]
fn accounts_own_limits_are_set_by_the_cli_and_followed_at_once() {
    let server = server(None);
    let carrier = std::path::Path::new(crate::common::carrier_bin());
    let quota = |args: &[&str]| {
        let mut all = vec!["user", "quota"];
        all.extend_from_slice(args);
        server.run(carrier, &all, b"")
    };
    let (code, out, err) = quota(&["bob@example.com"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("storage   0 octets used of 2048 octets (from [mailbox] quota)"), "{out}");
    assert!(out.contains("messages  0 messages used of unlimited (from [mailbox] quota_messages)"), "{out}");
    let (code, out, err) = quota(&["bob", "--storage", "unlimited"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("storage   0 octets used of unlimited (this account's own)"), "{out}");
    let (code, _, err) = quota(&["alice@example.com", "--messages", "1", "--storage", "1M"]);
    assert_eq!(code, 0, "{err}");
    // Bad values and unknown accounts are refused with what to type instead.
    for (args, says) in [
        (&["alice", "--storage", "lots"][..], "--storage lots: expected a size"),
        (&["alice", "--messages", "0"][..], "a limit of 0 takes no mail"),
        (&["alice", "--messages", "3x"][..], "give a value, \"unlimited\" or \"default\""),
        (&["nobody@example.com", "--messages", "3"][..], "no account nobody@example.com"),
    ] {
        let (code, _, err) = quota(args);
        assert!(code != 0 && err.contains(says), "{args:?}: {err}");
    }

    // Bob, unlimited, takes mail past the 2 KiB every other account has, and hears nothing.
    fill(&server);
    server.send_mail("carol@example.org", &["bob@example.com"], "Subject: more\r\n\r\nhi\r\n").expect(250);
    let msgs = server.wait_messages("example.com", "bob", 2);
    assert!(msgs.iter().all(|m| !m.contains("Subject: Your mailbox is")), "no warning without a limit");

    // Alice holds one message: the first takes her to 100 % (and warns), then RCPT says full.
    server.send_mail("carol@example.org", &["alice@example.com"], "Subject: one\r\n\r\nhi\r\n").expect(250);
    let warning =
        server.wait_messages("example.com", "alice", 2).into_iter().find(|m| m.contains("Subject: Your mailbox is"));
    let warning = warning.expect("a quota warning for alice");
    assert!(warning.contains("holds 1 of the 1 messages it may hold (100%)"), "{warning}");
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<carol@example.org>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect_status(452, "4.2.2");
    c.cmd("QUIT");

    let mut imap = crate::common::imap::Imap::connect(server.imap_port, &server.cert_path());
    imap.starttls();
    imap.login("alice@example.com", "alice-pw").expect("OK");
    let root = imap.cmd("GETQUOTAROOT INBOX").expect("OK");
    let line = root.lines("QUOTA ")[0].to_string();
    assert!(line.starts_with("QUOTA \"\" (STORAGE ") && line.ends_with(" 1024 MESSAGE 2 1)"), "{line}");
    let r = imap.cmd("APPEND INBOX {2+}\r\nhi").expect("NO");
    assert!(r.done.contains("[OVERQUOTA]") && r.done.contains("2 of 1 messages"), "{}", r.done);
    // Messages back to the default (unlimited): only her own 1 MiB is left, with room.
    let (code, _, err) = quota(&["alice", "--messages", "default"]);
    assert_eq!(code, 0, "{err}");
    let line = imap.cmd("GETQUOTA \"\"").expect("OK").lines("QUOTA ")[0].to_string();
    assert!(line.ends_with(" 1024)") && !line.contains("MESSAGE"), "{line}");
    imap.cmd("APPEND INBOX {2+}\r\nhi").expect("OK");
    // Storage back to the default, the 2 KiB she is now past.
    let (code, out, err) = quota(&["alice", "--storage", "default"]);
    assert!(code == 0 && out.contains("of 2048 octets (from [mailbox] quota)"), "{out}{err}");
    let r = imap.cmd("APPEND INBOX {2+}\r\nhi").expect("NO");
    assert!(r.done.contains("[OVERQUOTA]") && r.done.contains("of 2048 octets"), "{}", r.done);
}
