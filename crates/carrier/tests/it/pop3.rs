//! POP3 over real sockets: pop3s (implicit TLS) and pop3 with STLS, every command, every bad
//! input, logins, deletions at QUIT, UIDLs across restarts, and mail arriving meanwhile.

use crate::common::pop3::Pop3;
use crate::common::{Client, Options, Server};

const BODY_1: &str = "Subject: first\r\n\r\nHello Bob.\r\n.leading dot\r\n";
const BODY_2: &str = "Subject: second\r\n\r\nline 1\r\nline 2\r\nline 3\r\n";

/// A server with two messages for bob, delivered over SMTP.
fn server_with_mail(opts: Options) -> Server {
    let server = Server::start_with(opts);
    server.send_mail("alice@example.org", &["bob@example.com"], BODY_1).expect(250);
    server.wait_messages("example.com", "bob", 1);
    server.send_mail("alice@example.org", &["bob@example.com"], BODY_2).expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 2).len(), 2);
    server
}

fn fast_failures() -> Options {
    Options { sections: "[submission]\nauth_failure_delay = \"0s\"\n".into(), ..Options::default() }
}

fn pop3s(server: &Server) -> Pop3 {
    Pop3::connect_tls(server.pop3s_port, &server.cert_path())
}

fn logged_in(server: &Server) -> Pop3 {
    let mut c = pop3s(server);
    assert_eq!(c.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    c
}

#[test]
fn every_command_over_pop3s() {
    let server = server_with_mail(Options::default());
    let mut c = pop3s(&server);
    assert_eq!(c.greeting, "+OK mx.example.com POP3 carrier ready.");
    let (_, capa) = c.multi("CAPA");
    assert_eq!(
        capa,
        ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN", "IMPLEMENTATION carrier"]
    );
    assert_eq!(c.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    let stat = c.cmd("STAT");
    let (_, list) = c.multi("LIST");
    assert_eq!(list.len(), 2);
    let sizes: Vec<u64> = list.iter().map(|l| l.split(' ').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(stat, format!("+OK 2 {}", sizes[0] + sizes[1]));
    assert_eq!(c.cmd("LIST 2"), format!("+OK 2 {}", sizes[1]));
    let (_, uidl) = c.multi("UIDL");
    assert_eq!(uidl.len(), 2);
    assert!(uidl[0].starts_with("1 00000001") && uidl[1].starts_with("2 00000002"), "{uidl:?}");
    assert_eq!(c.cmd("UIDL 1"), format!("+OK {}", uidl[0]));
    // RETR: the message as delivered (Return-Path and Received added), CRLF, dot-stuffed.
    let (first, lines) = c.multi("RETR 1");
    assert_eq!(first, format!("+OK {} octets", sizes[0]));
    let wire: usize = lines.iter().map(|l| l.len() + 2).sum::<usize>() - 1; // minus the stuffed dot
    assert_eq!(wire as u64, sizes[0], "the announced size is what is sent");
    assert!(lines[0].starts_with("Return-Path: <alice@example.org>"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("Received: from client.example")));
    assert_eq!(&lines[lines.len() - 2..], ["Hello Bob.", "..leading dot"]);
    // TOP n 0: the header and the empty line after it, exactly as in RETR.
    let (_, head) = c.multi("TOP 1 0");
    let blank = lines.iter().position(|l| l.is_empty()).unwrap();
    assert_eq!(head, lines[..=blank]);
    let (_, top) = c.multi("TOP 2 1");
    assert_eq!(top.last().unwrap(), "line 1");
    assert_eq!(top[top.len() - 2], "");
    assert_eq!(c.cmd("DELE 1"), "+OK Message 1 marked to be deleted.");
    assert_eq!(c.cmd("STAT"), format!("+OK 1 {}", sizes[1]));
    assert_eq!(c.cmd("RSET"), format!("+OK Maildrop has 2 messages ({} octets).", sizes[0] + sizes[1]));
    assert_eq!(c.cmd("NOOP"), "+OK");
    assert_eq!(c.cmd("DELE 2"), "+OK Message 2 marked to be deleted.");
    assert_eq!(c.cmd("QUIT"), "+OK Logging out, 1 messages deleted.");
    assert!(c.is_closed());
    // The next session sees the deletion; the remaining message keeps its UIDL.
    let mut c = logged_in(&server);
    let (_, uidl_after) = c.multi("UIDL");
    assert_eq!(uidl_after, [uidl[0].clone()]);
    c.cmd("QUIT");
    server.wait_log("pop3(bob@example.com): Disconnected: Logged out", 2);
}

#[test]
fn stls_then_auth_plain_on_110() {
    let server = server_with_mail(Options::default());
    let mut c = Pop3::connect(server.pop3_port, &server.cert_path());
    let (_, capa) = c.multi("CAPA");
    assert!(capa.contains(&"STLS".to_string()) && !capa.contains(&"USER".to_string()), "{capa:?}");
    assert_eq!(
        c.cmd("USER bob@example.com"),
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first."
    );
    assert!(c.cmd("AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBib2Itc2VjcmV0").starts_with("-ERR [AUTH] Plaintext"));
    c.stls();
    let (_, capa) = c.multi("CAPA");
    assert!(capa.contains(&"SASL PLAIN".to_string()) && !capa.contains(&"STLS".to_string()), "{capa:?}");
    // AUTH PLAIN with a continuation; "\0bob@example.com\0bob-secret".
    assert_eq!(c.cmd("AUTH PLAIN"), "+ ");
    assert_eq!(c.cmd("AGJvYkBleGFtcGxlLmNvbQBib2Itc2VjcmV0"), "+OK Logged in.");
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
    c.cmd("QUIT");
    server.wait_log("pop3-login: Login: user=<bob@example.com>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS", 1);
}

#[test]
fn auth_plain_with_initial_response_and_bare_login_name() {
    let server = server_with_mail(Options::default());
    let mut c = pop3s(&server);
    // "\0bob\0bob-secret": the bare name works as with SMTP AUTH.
    assert_eq!(c.cmd("AUTH PLAIN AGJvYgBib2Itc2VjcmV0"), "+OK Logged in.");
    c.cmd("QUIT");
    let mut c = pop3s(&server);
    assert_eq!(c.login("BOB@Example.COM", "bob-secret"), "+OK Logged in.");
    c.cmd("QUIT");
    server.wait_log("pop3-login: Login: user=<bob@example.com>, method=USER", 1);
}

#[test]
fn plaintext_login_only_from_loopback_when_configured() {
    let server = Server::start_with(Options {
        sections: "[submission]\nplaintext_loopback = true\n".into(),
        ..Options::default()
    });
    let mut c = Pop3::connect(server.pop3_port, &server.cert_path());
    let (_, capa) = c.multi("CAPA");
    assert!(capa.contains(&"USER".to_string()) && capa.contains(&"STLS".to_string()), "{capa:?}");
    assert_eq!(c.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    assert_eq!(c.cmd("STAT"), "+OK 0 0");
    c.cmd("QUIT");
    server.wait_log("pop3-login: Login: user=<bob@example.com>, method=USER, rip=127.0.0.1, lip=127.0.0.1\n", 1);
}

#[test]
fn wrong_passwords_are_refused_limited_and_logged() {
    let server = Server::start_with(fast_failures());
    let mut c = pop3s(&server);
    assert_eq!(c.login("bob@example.com", "wrong"), "-ERR [AUTH] Authentication failed.");
    assert_eq!(c.login("nobody@example.com", "x"), "-ERR [AUTH] Authentication failed.");
    assert_eq!(
        c.login("bob@example.com", "still wrong"),
        "-ERR [AUTH] Authentication failed; too many failures, closing connection."
    );
    assert!(c.is_closed());
    server.wait_log("pop3-login: auth failed: user=<bob@example.com>, method=USER, rip=127.0.0.1", 2);
    assert!(!server.log().contains("still wrong"), "passwords never reach the log");
    // The server and the account are fine.
    let mut c = logged_in(&server);
    c.cmd("QUIT");
}

#[test]
fn the_address_throttle_is_shared_with_smtp_auth() {
    let server = Server::start_with(Options {
        sections: "[submission]\nauth_failure_delay = \"0s\"\nauth_ip_limit = 2\nplaintext_loopback = true\n".into(),
        ..Options::default()
    });
    for _ in 0..2 {
        let mut c = pop3s(&server);
        assert_eq!(c.login("bob@example.com", "wrong"), "-ERR [AUTH] Authentication failed.");
    }
    let mut c = pop3s(&server);
    assert_eq!(
        c.login("bob@example.com", "bob-secret"),
        "-ERR [SYS/TEMP] Too many failed logins from your address; try again later."
    );
    assert!(c.is_closed());
    let mut smtp = Client::connect(server.submission_port);
    smtp.cmd("EHLO client.example").expect(250);
    // base64("\0bob@example.com\0bob-secret")
    smtp.cmd("AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBib2Itc2VjcmV0").expect_status(454, "4.7.0");
}

#[test]
fn bad_input_gets_precise_errors_and_the_session_goes_on() {
    let server = server_with_mail(Options { sections: "[pop3]\nmax_errors = 18\n".into(), ..Options::default() });
    let mut c = pop3s(&server);
    assert_eq!(c.cmd("STAT"), "-ERR Not logged in: use USER and PASS, or AUTH, first.");
    assert_eq!(c.cmd("PASS x"), "-ERR Send USER first.");
    assert_eq!(c.cmd("FROB"), "-ERR Unknown command: FROB");
    assert_eq!(c.cmd("AUTH CRAM-MD5"), "-ERR Unsupported authentication mechanism; use AUTH PLAIN.");
    assert_eq!(c.cmd("STLS"), "-ERR TLS is already active.");
    assert_eq!(c.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    assert_eq!(c.cmd("USER bob"), "-ERR Already logged in.");
    assert_eq!(c.cmd("RETR 3"), "-ERR No such message: 3 (the maildrop has 2 messages).");
    assert_eq!(c.cmd("RETR 0"), "-ERR No such message: 0 (the maildrop has 2 messages).");
    assert_eq!(c.cmd("RETR one"), "-ERR Invalid message number: one");
    assert_eq!(c.cmd("RETR"), "-ERR Syntax: RETR message");
    assert_eq!(c.cmd("TOP 1"), "-ERR Syntax: TOP message lines");
    assert_eq!(c.cmd("LIST 1 2"), "-ERR Syntax: LIST [message]");
    assert_eq!(c.cmd(""), "-ERR Empty command line");
    c.raw(b"NO\0OP\r\n");
    assert_eq!(c.line().unwrap(), "-ERR Invalid character (NUL) in command");
    c.raw(b"\xff\xfe\xfd\r\n");
    assert_eq!(c.line().unwrap(), "-ERR Command is not valid UTF-8 text");
    c.raw(format!("NOOP {}\r\n", "x".repeat(1000)).as_bytes());
    assert_eq!(c.line().unwrap(), "-ERR Line too long (at most 255 octets)");
    // Still usable after sixteen errors; the eighteenth closes (`[pop3] max_errors`).
    assert_eq!(c.cmd("NOOP"), "+OK");
    assert_eq!(c.cmd("DELE 1"), "+OK Message 1 marked to be deleted.");
    assert_eq!(c.cmd("DELE 1"), "-ERR Message 1 is deleted.");
    assert_eq!(c.cmd("BOGUS"), "-ERR Unknown command: BOGUS");
    assert_eq!(c.line().unwrap(), "-ERR Too many errors, closing connection.");
    assert!(c.is_closed());
    // Closed without QUIT: nothing was deleted (RFC 1939 6).
    let mut c = logged_in(&server);
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
}

#[test]
fn plain_text_on_the_tls_port_and_a_silent_client_do_not_hurt() {
    let server = Server::start_with(Options { sections: "[pop3]\ntimeout = \"1s\"\n".into(), ..Options::default() });
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", server.pop3s_port)).unwrap();
    std::io::Write::write_all(&mut raw, b"USER bob\r\n").unwrap();
    let mut buf = [0u8; 64];
    raw.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let n = std::io::Read::read(&mut raw, &mut buf).unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("+OK"), "no POP3 without TLS on pop3s");
    // An idle client is told and disconnected (`[pop3] timeout`).
    let mut idle = pop3s(&server);
    assert_eq!(idle.line().unwrap(), "-ERR Disconnected for inactivity.");
    assert!(idle.is_closed());
    server.wait_log("pop3-login: Disconnected (Disconnected for inactivity)", 1);
    let mut c = logged_in(&server);
    c.cmd("QUIT");
}

#[test]
fn uidls_survive_a_restart() {
    let mut server = server_with_mail(Options::default());
    let mut c = logged_in(&server);
    let (_, before) = c.multi("UIDL");
    c.cmd("QUIT");
    server.restart();
    let mut c = logged_in(&server);
    let (_, after) = c.multi("UIDL");
    assert_eq!(before, after);
}

#[test]
fn mail_delivered_during_a_session_appears_in_the_next_one() {
    let server = server_with_mail(Options::default());
    let mut c = logged_in(&server);
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
    server.send_mail("carol@example.org", &["bob@example.com"], "Subject: third\r\n\r\nlate\r\n").expect(250);
    server.wait_log("delivered to maildir", 3);
    // The maildrop of this session stays as it was (RFC 1939 8: a fixed view).
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
    assert_eq!(c.cmd("RETR 3"), "-ERR No such message: 3 (the maildrop has 2 messages).");
    c.cmd("DELE 1");
    assert_eq!(c.cmd("QUIT"), "+OK Logging out, 1 messages deleted.");
    let mut c = logged_in(&server);
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
    let (_, lines) = c.multi("RETR 2");
    assert!(lines.contains(&"Subject: third".to_string()), "{lines:?}");
}

#[test]
fn retrieved_messages_become_seen_in_the_maildir_and_logs_count_them() {
    let server = server_with_mail(Options::default());
    let mut c = logged_in(&server);
    c.multi("RETR 1");
    c.multi("TOP 2 0");
    c.cmd("DELE 2");
    c.cmd("QUIT");
    server.wait_log("pop3(bob@example.com): Disconnected: Logged out top=1/", 1);
    let log = server.log();
    let line = log.lines().find(|l| l.contains("pop3(bob@example.com): Disconnected")).unwrap();
    assert!(line.contains(", retr=1/") && line.contains(", del=1/2, size="), "{line}");
    // Seen by a session: in cur/ with the S flag, as mutt and Dovecot expect.
    let cur: Vec<String> = std::fs::read_dir(server.maildir("example.com", "bob").join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cur.len(), 1, "{cur:?}");
    assert!(cur[0].ends_with(":2,S"), "{cur:?}");
    assert!(server.messages("example.com", "bob").is_empty(), "new/ is empty");
    // The special-use folders exist for IMAP clients.
    assert!(server.maildir("example.com", "bob").join(".Sent/cur").is_dir());
}

#[test]
fn pipelined_session() {
    let server = server_with_mail(Options::default());
    let mut c = pop3s(&server);
    c.raw(b"USER bob@example.com\r\nPASS bob-secret\r\nSTAT\r\nUIDL 1\r\nQUIT\r\n");
    assert_eq!(c.line().unwrap(), "+OK Send your password.");
    assert_eq!(c.line().unwrap(), "+OK Logged in.");
    assert!(c.line().unwrap().starts_with("+OK 2 "));
    assert!(c.line().unwrap().starts_with("+OK 1 00000001"));
    assert_eq!(c.line().unwrap(), "+OK Logging out, 0 messages deleted.");
    assert!(c.is_closed());
}

#[test]
fn one_user_from_one_address_may_hold_only_so_many_sessions() {
    let server = server_with_mail(Options {
        sections: "[pop3]\nmax_connections_per_user_ip = 1\n".into(),
        ..Options::default()
    });
    let mut first = logged_in(&server);
    let mut second = pop3s(&server);
    assert_eq!(
        second.login("bob@example.com", "bob-secret"),
        "-ERR [SYS/TEMP] Maximum number of connections from user+IP exceeded (pop3.max_connections_per_user_ip = 1)"
    );
    // The refused session can still log in as someone else; the first one goes on.
    assert_eq!(second.login("alice@example.com", "alice-pw"), "+OK Logged in.");
    assert!(first.cmd("STAT").starts_with("+OK 2 "));
    assert!(first.cmd("QUIT").starts_with("+OK Logging out"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut again = pop3s(&server);
        if again.login("bob@example.com", "bob-secret") == "+OK Logged in." {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the ended session's place was never freed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
