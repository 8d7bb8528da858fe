//! Users' Sieve scripts at delivery (issue 19.1), over SMTP: fileinto with flags and
//! `:create`, vacation once per period and never to lists, reject as a DSN to the sender,
//! discard, redirect with SRS checked by a second carrier, and a script that fails at run
//! time keeping the message in INBOX.

use crate::common::Server;
use crate::forwarding::{return_path, setup};
use std::path::PathBuf;

/// Stores `script` as the active script of `address` where ManageSieve would.
pub fn activate(server: &Server, address: &str, script: &str) {
    let (local, domain) = address.split_once('@').unwrap();
    let dir = server.maildir(domain, local).join("sieve");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.sieve"), script).unwrap();
    let _ = std::fs::remove_file(dir.join(".active"));
    std::os::unix::fs::symlink("rules.sieve", dir.join(".active")).unwrap();
}

/// Files (names) in one of bob's folders' cur/ and new/.
fn files(server: &Server, folder: &str) -> Vec<String> {
    let root: PathBuf = server.maildir("example.com", "bob").join(folder);
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
            out.extend(entries.map(|e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy())));
        }
    }
    out
}

#[test]
fn fileinto_creates_the_folder_sets_flags_and_edits_headers() {
    let server = Server::start();
    activate(
        &server,
        "bob@example.com",
        "require [\"fileinto\", \"mailbox\", \"imap4flags\", \"editheader\"];\r\n\
         if header :contains \"List-Id\" \"rust.example.org\" {\r\n\
           addheader \"X-Filed\" \"by carrier\";\r\n\
           fileinto :create :flags [\"\\\\Flagged\", \"$Rust\"] \"Lists/rust\";\r\n\
         }\r\n",
    );
    let list = "List-Id: <rust.example.org>\r\nSubject: [rust] 1.99\r\n\r\nreleased\r\n";
    server.send_mail("alice@example.org", &["bob@example.com"], list).expect(250);
    server.send_mail("alice@example.org", &["bob@example.com"], "Subject: hi\r\n\r\nplain\r\n").expect(250);
    server.wait_log("sieve: <bob@example.com>: script \"rules\": keep", 1);
    server.wait_log("sieve: <bob@example.com>: script \"rules\": fileinto \"Lists/rust\"", 1);
    server.wait_log("to=<bob@example.com>, relay=local", 2); // both stored
    let filed = files(&server, ".Lists.rust");
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert!(filed[0].starts_with("cur/") && filed[0].ends_with(":2,Fa"), "{filed:?}");
    let folder = server.maildir("example.com", "bob").join(".Lists.rust");
    let text = std::fs::read_to_string(folder.join(&filed[0])).unwrap();
    assert!(text.contains("X-Filed: by carrier\n"), "{text}");
    assert_eq!(std::fs::read_to_string(folder.join("dovecot-keywords")).unwrap(), "0 $Rust\n");
    // The new folder is subscribed, so mail clients show it.
    let subscriptions = std::fs::read_to_string(server.maildir("example.com", "bob").join("subscriptions")).unwrap();
    assert!(subscriptions.lines().any(|l| l == "Lists/rust"), "{subscriptions}");
    // The other message took the implicit keep.
    let inbox = server.wait_messages("example.com", "bob", 1);
    assert!(inbox[0].contains("Subject: hi"), "{inbox:?}");
}

#[test]
fn fileinto_a_missing_folder_without_create_keeps_the_message_in_inbox() {
    let server = Server::start();
    activate(&server, "bob@example.com", "require \"fileinto\";\r\nfileinto \"Nowhere\";\r\n");
    server.send_mail("alice@example.org", &["bob@example.com"], "Subject: lost?\r\n\r\nno\r\n").expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    server.wait_log("fileinto \"Nowhere\": mailbox \"Nowhere\" does not exist; kept in INBOX", 1);
}

#[test]
fn vacation_replies_once_per_period_and_never_to_lists() {
    let server = Server::start();
    activate(
        &server,
        "bob@example.com",
        "require \"vacation\";\r\nvacation :days 7 :subject \"Away until Monday\" \"I am away; back on Monday.\";\r\n",
    );
    let mail = "From: alice@example.com\r\nTo: Bob <bob@example.com>\r\nSubject: lunch?\r\nMessage-ID: <lunch@example.com>\r\n\r\nhungry\r\n";
    server.send_mail("alice@example.com", &["bob@example.com"], mail).expect(250);
    let replies = server.wait_messages("example.com", "alice", 1);
    let reply = replies.first().unwrap_or_else(|| panic!("no vacation reply:\n{}", server.log()));
    assert_eq!(return_path(reply), "", "replies go out with the null sender (RFC 3834 3.3)");
    for field in [
        "Subject: Away until Monday\n",
        "From: <bob@example.com>\n",
        "To: <alice@example.com>\n",
        "In-Reply-To: <lunch@example.com>\n",
        "Auto-Submitted: auto-replied (vacation)\n",
    ] {
        assert!(reply.contains(field), "missing {field:?} in\n{reply}");
    }
    assert!(reply.contains("I am away; back on Monday."), "{reply}");
    // A second message within the period gets no second reply; a list message never one.
    server
        .send_mail(
            "alice@example.com",
            &["bob@example.com"],
            "To: bob@example.com\r\nSubject: again\r\n\r\nstill hungry\r\n",
        )
        .expect(250);
    let list = "From: carol@example.com\r\nTo: bob@example.com\r\nList-Id: <food.example.com>\r\nSubject: menu\r\n\r\nsoup\r\n";
    server.send_mail("carol@example.com", &["bob@example.com"], list).expect(250);
    server.wait_messages("example.com", "bob", 3);
    server.wait_log("sieve: <bob@example.com>: script \"rules\": keep", 2);
    server.wait_queue_empty(std::time::Duration::from_secs(10));
    assert_eq!(server.messages("example.com", "alice").len(), 1, "one reply per sender per period");
    assert_eq!(server.log().matches("vacation reply from <bob@example.com>").count(), 1, "{}", server.log());
    // What was remembered survives a restart.
    let mut server = server;
    server.restart();
    server
        .send_mail("alice@example.com", &["bob@example.com"], "To: bob@example.com\r\nSubject: third\r\n\r\nhi\r\n")
        .expect(250);
    server.wait_messages("example.com", "bob", 4);
    server.wait_queue_empty(std::time::Duration::from_secs(10));
    assert_eq!(server.messages("example.com", "alice").len(), 1);
}

#[test]
fn reject_sends_the_reason_to_the_sender_in_a_dsn() {
    let server = Server::start();
    activate(
        &server,
        "bob@example.com",
        "require \"reject\";\r\nif header :contains \"Subject\" \"offer\" { reject \"I do not buy from strangers.\"; }\r\n",
    );
    let offer = "From: alice@example.com\r\nSubject: special offer\r\n\r\nbuy\r\n";
    server.send_mail("alice@example.com", &["bob@example.com"], offer).expect(250);
    let dsn = &server.wait_messages("example.com", "alice", 1)[0];
    for text in [
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Final-Recipient: rfc822; bob@example.com",
        "Action: failed",
        "Status: 5.7.1",
        "I do not buy from strangers.",
    ] {
        assert!(dsn.contains(text), "missing {text:?} in\n{dsn}");
    }
    assert!(server.messages("example.com", "bob").is_empty(), "a rejected message is not stored");
    assert!(files(&server, "").is_empty());
}

#[test]
fn discard_stores_nothing_and_a_failing_script_keeps() {
    let server = Server::start();
    activate(&server, "bob@example.com", "if header :is \"X-Spam\" \"yes\" { discard; }\r\n");
    server
        .send_mail("alice@example.org", &["bob@example.com"], "X-Spam: yes\r\nSubject: spam\r\n\r\nx\r\n")
        .expect(250);
    server.wait_log("sieve: <bob@example.com>: script \"rules\": discard", 1);
    server.wait_queue_empty(std::time::Duration::from_secs(10));
    assert!(server.messages("example.com", "bob").is_empty());
    assert!(server.log().contains("stat=Sent (discarded by the recipient's Sieve script)"), "{}", server.log());
    // More redirects than [sieve] max_redirects (4) is a run-time error: the implicit keep.
    let many: String = (1..=5).map(|n| format!("redirect :copy \"r{n}@example.org\";\r\n")).collect();
    activate(&server, "bob@example.com", &format!("require \"copy\";\r\n{many}"));
    server.send_mail("alice@example.org", &["bob@example.com"], "Subject: many\r\n\r\nx\r\n").expect(250);
    let inbox = server.wait_messages("example.com", "bob", 1);
    assert!(inbox[0].contains("Subject: many"));
    server.wait_log("sieve: script \"rules\" of <bob@example.com> failed", 1);
}

#[test]
fn redirect_to_another_domain_goes_with_srs_and_passes_spf_there() {
    let s = setup(true);
    activate(&s.a, "bob@example.com", "redirect \"dora@final.test\";\r\n");
    let mail = "From: alice@sender.example\r\nTo: bob@example.com\r\nSubject: for dora\r\n\r\nHello.\r\n";
    s.a.send_mail("alice@sender.example", &["bob@example.com"], mail).expect(250);
    let got = s.b.wait_messages("final.test", "dora", 1);
    let sender = return_path(&got[0]);
    assert!(sender.starts_with("SRS0=") && sender.ends_with("=sender.example=alice@mx.example.com"), "{sender}");
    let results = crate::authentication::results_of(&got[0], "mx.final.test");
    assert!(results.contains("spf=pass (mx.final.test: "), "{results}");
    assert!(got[0].contains("Subject: for dora"), "{}", got[0]);
    // Our Received: field for bob counts the hop.
    assert!(got[0].contains("for <bob@example.com>"), "{}", got[0]);
    s.a.wait_log("sieve: <bob@example.com> redirected to <dora@final.test>: queued as", 1);
    assert!(s.a.messages("example.com", "bob").is_empty(), "redirect without :copy cancels the keep");
}
