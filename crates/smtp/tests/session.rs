//! Session behaviour driven byte by byte, with a scripted policy standing in for the server.

use carrier_smtp::{Event, Reply, Session, SessionConfig, Transaction};

fn config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.example.com".into(),
        max_message_size: 1000,
        max_recipients: 3,
        max_errors: 10,
        starttls: true,
        tls: false,
        auth: false,
        auth_required: false,
        auth_plaintext: false,
        max_auth_failures: 3,
    }
}

/// A submission port: AUTH after TLS, required before MAIL.
fn submission() -> SessionConfig {
    SessionConfig { auth: true, auth_required: true, ..config() }
}

/// Drives a session like the network layer does; recipients ending in "@example.com" other than
/// unknown@ are accepted; messages are queued as Q1, Q2, ...
struct Driver {
    session: Session,
    output: String,
    messages: Vec<Transaction>,
    events: Vec<String>,
    closed: bool,
}

impl Driver {
    fn new(cfg: SessionConfig) -> Driver {
        let mut session = Session::new(cfg);
        let output = String::from_utf8(session.take_output()).unwrap();
        Driver { session, output, messages: vec![], events: vec![], closed: false }
    }

    /// Sends bytes and returns the replies they produced.
    fn send(&mut self, bytes: &[u8]) -> String {
        self.output.clear();
        self.session.feed(bytes);
        self.run();
        std::mem::take(&mut self.output)
    }

    fn run(&mut self) {
        loop {
            let event = self.session.next_event();
            match event {
                Event::NeedInput => break,
                Event::Close => {
                    self.closed = true;
                    break;
                }
                Event::Mail { from, .. } => {
                    self.events.push(format!("mail {from}"));
                    let answer = if from == "blocked@bad.example" {
                        Err(Reply::new(550, "5.7.1", "Sender refused"))
                    } else {
                        Ok(())
                    };
                    self.session.answer(answer);
                }
                Event::Rcpt { to } => {
                    let addr = to.address();
                    self.events.push(format!("rcpt {addr}"));
                    let answer = if addr.ends_with("@example.com") && !addr.starts_with("unknown@") {
                        Ok(())
                    } else {
                        Err(Reply::new(550, "5.1.1", "User unknown"))
                    };
                    self.session.answer(answer);
                }
                Event::Message(tx) => {
                    self.messages.push(tx);
                    let id = format!("Q{}", self.messages.len());
                    self.session.queued(Ok(id));
                }
                Event::StartTls => {
                    self.events.push("starttls".into());
                    self.session.tls_established();
                }
                Event::Auth { mechanism, login, password } => {
                    self.events.push(format!("auth {mechanism} {login}"));
                    let result = if password == "right" {
                        Ok(format!("{}@example.com", login.trim_end_matches("@example.com")))
                    } else {
                        Err(Reply::new(535, "5.7.8", "Authentication credentials invalid"))
                    };
                    self.session.authenticated(result);
                }
            }
            self.output.push_str(&String::from_utf8(self.session.take_output()).unwrap());
        }
        self.output.push_str(&String::from_utf8(self.session.take_output()).unwrap());
    }
}

fn codes(replies: &str) -> Vec<String> {
    replies
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| l.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

fn ready() -> Driver {
    let mut d = Driver::new(config());
    d.send(b"EHLO client.example\r\n");
    d
}

#[test]
fn greeting_and_ehlo() {
    let mut d = Driver::new(config());
    assert_eq!(d.output, "220 mx.example.com ESMTP carrier\r\n");
    let r = d.send(b"EHLO client.example\r\n");
    assert!(r.starts_with("250-mx.example.com Hello client.example\r\n"));
    for ext in ["PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"] {
        assert!(r.contains(&format!("250-{ext}\r\n")) || r.contains(&format!("250 {ext}\r\n")), "{ext} in {r}");
    }
    assert!(r.ends_with("250 HELP\r\n"));
}

#[test]
fn helo_has_no_extensions() {
    let mut d = Driver::new(config());
    assert_eq!(d.send(b"HELO client.example\r\n"), "250 mx.example.com Hello client.example\r\n");
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example> SIZE=10\r\n")), ["555 5.5.4"]);
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example>\r\n")), ["250 2.1.0"]);
}

#[test]
fn a_whole_transaction() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"MAIL FROM:<alice@remote.example>\r\n")), ["250 2.1.0"]);
    assert_eq!(codes(&d.send(b"RCPT TO:<bob@example.com>\r\n")), ["250 2.1.5"]);
    assert_eq!(d.send(b"DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_eq!(d.send(b"Subject: hi\r\n\r\n..dot\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
    let tx = &d.messages[0];
    assert_eq!(tx.from, "alice@remote.example");
    assert_eq!(tx.recipients, ["bob@example.com"]);
    assert_eq!(tx.message, b"Subject: hi\r\n\r\n.dot\r\n");
    assert_eq!(tx.proto, "ESMTP");
    assert_eq!(tx.helo, "client.example");
    assert_eq!(codes(&d.send(b"QUIT\r\n")), ["221 2.0.0"]);
    assert!(d.closed);
}

#[test]
fn pipelined_transaction_in_one_packet() {
    let mut d = ready();
    let r = d.send(
        b"MAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<unknown@example.com>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n",
    );
    assert_eq!(codes(&r), ["250 2.1.0", "250 2.1.5", "550 5.1.1", "354 End", "250 2.0.0", "221 2.0.0"]);
    assert_eq!(d.messages[0].recipients, ["bob@example.com"]);
}

#[test]
fn sequence_errors() {
    let mut d = Driver::new(config());
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example>\r\n")), ["503 5.5.1"]);
    d.send(b"EHLO c.example\r\n");
    assert_eq!(codes(&d.send(b"RCPT TO:<bob@example.com>\r\n")), ["503 5.5.1"]);
    assert_eq!(codes(&d.send(b"DATA\r\n")), ["503 5.5.1"]);
    d.send(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example>\r\n")), ["503 5.5.1"]);
    assert_eq!(codes(&d.send(b"DATA\r\n")), ["554 5.5.1"]);
    assert_eq!(codes(&d.send(b"RSET\r\n")), ["250 2.0.0"]);
    assert_eq!(codes(&d.send(b"RCPT TO:<bob@example.com>\r\n")), ["503 5.5.1"]);
}

#[test]
fn unknown_and_malformed_commands_keep_session_usable() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"FOO bar\r\n")), ["500 5.5.1"]);
    assert_eq!(codes(&d.send(b"MAIL FROM:bob\r\n")), ["501 5.1.7"]);
    assert_eq!(codes(&d.send(b"HELO a\0b\r\n")), ["500 5.5.2"]);
    assert_eq!(codes(&d.send(b"NOOP\r\n")), ["250 2.0.0"]);
    // Counted for the closing log line (issue 15.10); the NOOP is not.
    assert_eq!(d.session.errors(), 3);
}

#[test]
fn long_command_line() {
    let mut d = ready();
    let mut line = b"NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 600));
    line.extend_from_slice(b"\r\n");
    assert_eq!(codes(&d.send(&line)), ["500 5.5.2"]);
    assert_eq!(codes(&d.send(b"NOOP\r\n")), ["250 2.0.0"]);
    // Exactly 512 octets with CRLF is allowed (RFC 5321 4.5.3.1.4).
    let mut line = b"NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 505));
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 512);
    assert_eq!(codes(&d.send(&line)), ["250 2.0.0"]);
    // A long line arriving in pieces gets exactly one reply.
    let mut r = String::new();
    for _ in 0..10 {
        r.push_str(&d.send(&[b'y'; 300]));
    }
    r.push_str(&d.send(b"\r\nNOOP\r\n"));
    assert_eq!(codes(&r), ["500 5.5.2", "250 2.0.0"]);
}

#[test]
fn too_many_recipients() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\n");
    for i in 0..3 {
        assert_eq!(codes(&d.send(format!("RCPT TO:<u{i}@example.com>\r\n").as_bytes())), ["250 2.1.5"]);
    }
    assert_eq!(codes(&d.send(b"RCPT TO:<u4@example.com>\r\n")), ["452 4.5.3"]);
    d.send(b"DATA\r\nx\r\n.\r\n");
    assert_eq!(d.messages[0].recipients.len(), 3);
}

#[test]
fn size_declared_too_big() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example> SIZE=1001\r\n")), ["552 5.3.4"]);
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example> SIZE=1000\r\n")), ["250 2.1.0"]);
}

#[test]
fn message_too_big_is_refused_whole() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    let mut body = Vec::new();
    for _ in 0..20 {
        body.extend_from_slice(&[b'x'; 98]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    assert_eq!(codes(&d.send(&body)), ["552 5.3.4"]);
    assert!(d.messages.is_empty());
    // The session goes on: a new transaction works.
    let r = d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nsmall\r\n.\r\n");
    assert_eq!(codes(&r), ["250 2.1.0", "250 2.1.5", "354 End", "250 2.0.0"]);
}

#[test]
fn smuggling_is_impossible() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    let r = d.send(b"hi\n.\nMAIL FROM:<evil@x.example>\nRCPT TO:<victim@example.com>\nDATA\nforged\n.\n\r\n.\r\n");
    // One message, with the would-be second transaction inside it as text.
    assert_eq!(codes(&r), ["250 2.0.0"]);
    assert_eq!(d.messages.len(), 1);
    assert_eq!(
        d.messages[0].message,
        b"hi\r\n.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nforged\r\n.\r\n\r\n"
    );
    assert!(!d.events.iter().any(|e| e.contains("evil") || e.contains("victim")), "{:?}", d.events);
    // With bare CRs the message is refused, and still nothing runs as a command.
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    let r = d.send(b"hi\r.\rMAIL FROM:<evil@x.example>\r\n.\r\n");
    assert_eq!(codes(&r), ["554 5.6.0"]);
    assert_eq!(d.messages.len(), 1);
    assert!(!d.events.iter().any(|e| e.contains("evil")), "{:?}", d.events);
}

#[test]
fn mail_and_rcpt_decisions() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"MAIL FROM:<blocked@bad.example>\r\n")), ["550 5.7.1"]);
    // A refused MAIL leaves no transaction open.
    assert_eq!(codes(&d.send(b"RCPT TO:<bob@example.com>\r\n")), ["503 5.5.1"]);
    d.send(b"MAIL FROM:<>\r\n");
    assert_eq!(codes(&d.send(b"RCPT TO:<x@elsewhere.example>\r\n")), ["550 5.1.1"]);
    assert_eq!(codes(&d.send(b"RCPT TO:<Postmaster>\r\n")), ["550 5.1.1"]);
    assert!(d.events.contains(&"rcpt Postmaster".to_string()));
}

#[test]
fn smtputf8_required_for_utf8_addresses() {
    let mut d = ready();
    assert_eq!(codes(&d.send("MAIL FROM:<jöran@b.example>\r\n".as_bytes())), ["553 5.6.7"]);
    d.send(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(codes(&d.send("RCPT TO:<jöran@example.com>\r\n".as_bytes())), ["553 5.6.7"]);
    d.send(b"RSET\r\n");
    d.send("MAIL FROM:<jöran@b.example> SMTPUTF8\r\n".as_bytes());
    assert_eq!(codes(&d.send("RCPT TO:<jöran@example.com>\r\n".as_bytes())), ["250 2.1.5"]);
}

#[test]
fn vrfy_expn_help() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"VRFY bob\r\n")), ["252 2.5.0"]);
    assert_eq!(codes(&d.send(b"EXPN staff\r\n")), ["502 5.5.1"]);
    assert_eq!(codes(&d.send(b"HELP\r\n")), ["214 2.0.0"]);
    assert_eq!(codes(&d.send(b"AUTH PLAIN AGJvYgBwdw==\r\n")), ["503 5.5.1"]);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut d = ready();
    let mut r = String::new();
    for _ in 0..10 {
        r.push_str(&d.send(b"BOGUS\r\n"));
    }
    assert!(r.ends_with("421 4.7.0 mx.example.com Too many errors, closing connection\r\n"), "{r}");
    assert!(d.closed);
}

#[test]
fn starttls_discards_pipelined_commands() {
    let mut d = ready();
    // CVE-2011-0411: commands sent in the clear after STARTTLS must not run inside TLS.
    let r = d.send(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n");
    assert_eq!(codes(&r), ["220 2.0.0"]);
    assert_eq!(d.events, ["starttls"]);
    // After TLS, EHLO is needed again and STARTTLS is no longer offered.
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example>\r\n")), ["503 5.5.1"]);
    let r = d.send(b"EHLO c.example\r\n");
    assert!(!r.contains("STARTTLS"));
    assert_eq!(codes(&d.send(b"STARTTLS\r\n")), ["503 5.5.1"]);
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(d.messages[0].proto, "ESMTPS");
}

#[test]
fn starttls_unavailable() {
    let mut d = Driver::new(SessionConfig { starttls: false, ..config() });
    let r = d.send(b"EHLO c.example\r\n");
    assert!(!r.contains("STARTTLS"));
    assert_eq!(codes(&d.send(b"STARTTLS\r\n")), ["502 5.5.1"]);
}

#[test]
fn bdat_chunks() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\n");
    assert_eq!(d.send(b"BDAT 14\r\nSubject: x\r\n\r\n"), "250 2.0.0 14 octets received\r\n");
    // A chunk may arrive in pieces and hold bytes that look like commands.
    assert_eq!(d.send(b"BDAT 13 LAST\r\nQUIT\r\n"), "");
    assert_eq!(codes(&d.send(b"hello\r\n")), ["250 2.0.0"]);
    assert_eq!(d.messages[0].message, b"Subject: x\r\n\r\nQUIT\r\nhello\r\n");
    assert!(!d.closed);
}

#[test]
fn bdat_refused_chunk_is_consumed() {
    let mut d = ready();
    // No transaction: the 21 octets are read and thrown away, not run as commands.
    let r = d.send(b"BDAT 21 LAST\r\nQUIT\r\nQUIT\r\nQUIT\r\nX\r\nNOOP\r\n");
    assert_eq!(codes(&r), ["503 5.5.1", "250 2.0.0"]);
    assert!(!d.closed);
}

#[test]
fn bdat_then_data_is_refused() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nBDAT 3\r\nab\n");
    assert_eq!(codes(&d.send(b"DATA\r\n")), ["503 5.5.1"]);
    assert_eq!(codes(&d.send(b"BDAT 0 LAST\r\n")), ["554 5.6.0"]);
}

#[test]
fn early_talker_and_timeout() {
    let mut d = Driver::new(config());
    d.session.early_talker();
    assert_eq!(codes(&String::from_utf8(d.session.take_output()).unwrap()), ["554 5.5.1"]);
    assert_eq!(d.session.next_event(), Event::Close);

    let mut d = ready();
    d.session.timeout();
    assert_eq!(codes(&String::from_utf8(d.session.take_output()).unwrap()), ["421 4.4.2"]);
    assert_eq!(d.session.next_event(), Event::Close);
}

#[test]
fn bare_lf_commands_are_accepted() {
    let mut d = ready();
    assert_eq!(codes(&d.send(b"NOOP\nNOOP\r\n")), ["250 2.0.0", "250 2.0.0"]);
}

#[test]
fn every_byte_split_gives_the_same_result() {
    let script: &[u8] = b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nline1\r\n..x\r\n.\r\nBDAT 5\r\n";
    let mut whole = Driver::new(config());
    let all = whole.send(script);
    let mut bytewise = Driver::new(config());
    let mut out = String::new();
    for b in script {
        out.push_str(&bytewise.send(&[*b]));
    }
    assert_eq!(all, out);
    assert_eq!(whole.messages, bytewise.messages);
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn tls_submission() -> Driver {
    let mut d = Driver::new(submission());
    d.send(b"EHLO c.example\r\nSTARTTLS\r\n");
    d.send(b"EHLO c.example\r\n");
    d
}

#[test]
fn port_25_offers_no_auth() {
    let mut d = ready();
    assert!(!d.send(b"EHLO c.example\r\n").contains("AUTH"));
    assert_eq!(codes(&d.send(b"AUTH PLAIN AGJvYgBwdw==\r\n")), ["503 5.5.1"]);
    assert_eq!(codes(&d.send(b"MAIL FROM:<a@b.example>\r\n")), ["250 2.1.0"]);
}

#[test]
fn submission_needs_tls_before_auth_and_auth_before_mail() {
    let mut d = Driver::new(submission());
    let ehlo = d.send(b"EHLO c.example\r\n");
    assert!(!ehlo.contains("AUTH"), "AUTH offered in plaintext: {ehlo}");
    assert_eq!(codes(&d.send(b"AUTH PLAIN AGJvYgByaWdodA==\r\n")), ["538 5.7.11"]);
    assert_eq!(codes(&d.send(b"MAIL FROM:<bob@example.com>\r\n")), ["530 5.7.0"]);
    d.send(b"STARTTLS\r\n");
    let ehlo = d.send(b"EHLO c.example\r\n");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    assert_eq!(codes(&d.send(b"MAIL FROM:<bob@example.com>\r\n")), ["530 5.7.0"]);
}

#[test]
fn auth_plain_then_mail() {
    let mut d = tls_submission();
    let r = d.send(format!("AUTH PLAIN {}\r\n", b64("\0bob\0right")).as_bytes());
    assert_eq!(codes(&r), ["235 2.7.0"]);
    assert_eq!(d.session.user(), Some("bob@example.com"));
    assert_eq!(codes(&d.send(b"AUTH PLAIN AGJvYgByaWdodA==\r\n")), ["503 5.5.1"]);
    d.send(b"MAIL FROM:<bob@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n");
    let tx = &d.messages[0];
    assert_eq!((tx.proto, tx.user.as_deref()), ("ESMTPSA", Some("bob@example.com")));
}

#[test]
fn auth_plain_with_challenge_and_login() {
    let mut d = tls_submission();
    assert_eq!(d.send(b"AUTH PLAIN\r\n"), "334 \r\n");
    assert_eq!(codes(&d.send(format!("{}\r\n", b64("\0bob\0right")).as_bytes())), ["235 2.7.0"]);

    let mut d = tls_submission();
    assert_eq!(d.send(b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(d.send(format!("{}\r\n", b64("bob")).as_bytes()), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(codes(&d.send(format!("{}\r\n", b64("right")).as_bytes())), ["235 2.7.0"]);
    assert!(d.events.contains(&"auth LOGIN bob".to_string()));
}

#[test]
fn auth_bad_input() {
    let mut d = tls_submission();
    assert_eq!(codes(&d.send(b"AUTH CRAM-MD5\r\n")), ["504 5.5.4"]);
    assert_eq!(codes(&d.send(b"AUTH PLAIN not*base64\r\n")), ["501 5.5.2"]);
    let mut d = tls_submission();
    d.send(b"AUTH LOGIN\r\n");
    assert_eq!(codes(&d.send(b"*\r\n")), ["501 5.0.0"]);
    // The session goes on after a cancelled exchange.
    assert_eq!(codes(&d.send(b"NOOP\r\n")), ["250 2.0.0"]);
    assert_eq!(codes(&d.send(format!("AUTH PLAIN {}\r\n", b64("\0bob\0right")).as_bytes())), ["235 2.7.0"]);
}

#[test]
fn auth_not_during_a_transaction_on_a_plaintext_exception_port() {
    let mut d = Driver::new(SessionConfig { auth: true, auth_plaintext: true, ..config() });
    assert!(d.send(b"EHLO c.example\r\n").contains("AUTH PLAIN LOGIN"));
    d.send(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(codes(&d.send(b"AUTH PLAIN AGJvYgByaWdodA==\r\n")), ["503 5.5.1"]);
}

#[test]
fn too_many_auth_failures_close_the_session() {
    let mut d = tls_submission();
    let mut r = String::new();
    for _ in 0..3 {
        r.push_str(&d.send(format!("AUTH PLAIN {}\r\n", b64("\0bob\0wrong")).as_bytes()));
    }
    assert_eq!(codes(&r), ["535 5.7.8", "535 5.7.8", "535 5.7.8", "421 4.7.0"]);
    assert!(d.closed);
}

#[test]
fn overlong_sasl_response_is_refused() {
    let mut d = tls_submission();
    d.send(b"AUTH PLAIN\r\n");
    let r = d.send(&vec![b'A'; 13_000]);
    assert_eq!(codes(&r), ["500 5.5.6"]);
    d.send(b"AAAA\r\n");
    assert_eq!(codes(&d.send(b"NOOP\r\n")), ["250 2.0.0"]);
    // The same when the whole line, line end included, arrives at once.
    d.send(b"AUTH PLAIN\r\n");
    let line = [vec![b'A'; 13_000], b"\r\n".to_vec()].concat();
    assert_eq!(codes(&d.send(&line)), ["500 5.5.6"]);
    assert_eq!(codes(&d.send(b"NOOP\r\n")), ["250 2.0.0"]);
}

#[test]
fn an_empty_password_is_refused_without_counting_as_a_failed_login() {
    let mut d = tls_submission();
    for _ in 0..4 {
        assert_eq!(codes(&d.send(format!("AUTH PLAIN {}\r\n", b64("\0bob\0")).as_bytes())), ["501 5.5.2"]);
    }
    assert!(!d.closed);
    assert!(!d.events.iter().any(|e| e.starts_with("auth")), "{:?}", d.events);
}

#[test]
fn shed_content_is_refused_with_452_and_the_session_goes_on() {
    let mut d = ready();
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: x\r\n\r\nfirst half\r\n");
    assert!(d.session.held() > 0, "DATA content is held");
    d.session.shed();
    assert_eq!(d.session.held(), 0, "shedding frees it");
    let r = d.send(b"second half\r\n.\r\n");
    assert_eq!(codes(&r), ["452 4.3.1"]);
    assert!(r.contains("try again later"), "{r}");
    assert!(d.messages.is_empty());
    // The next transaction is stored normally.
    let r = d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: y\r\n\r\nok\r\n.\r\n");
    assert_eq!(codes(&r), ["250 2.1.0", "250 2.1.5", "354 End", "250 2.0.0"]);
    assert_eq!(d.messages.len(), 1);
    // BDAT content between chunks counts and can be shed too.
    d.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.com>\r\nBDAT 14\r\nSubject: z\r\n\r\n");
    assert_eq!(d.session.held(), 14);
    d.session.shed();
    assert_eq!(codes(&d.send(b"BDAT 4 LAST\r\nbody")), ["452 4.3.1"]);
    assert_eq!(d.session.held(), 0);
    assert_eq!(d.messages.len(), 1);
}
