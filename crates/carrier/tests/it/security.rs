//! Hostile input that a mail server on the open internet meets every day: open-relay tricks,
//! SMTP smuggling, header injection through sendmail, and STARTTLS command injection.
//! (Mailbox-name traversal is tested in crates/store; AUTH brute force in submission.rs;
//! IMAP literal bombs in imap.rs.)

use crate::common::{Client, Options, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// Every way of asking an MTA to relay that has ever worked somewhere; none may work here.
#[test]
fn the_open_relay_matrix() {
    let server = Server::start_with(Options { sections: "[smtp]\nmax_errors = 500\n".into(), ..Options::default() });
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    for from in ["a@remote.example", "", "bob@example.com", "postmaster@example.com"] {
        c.cmd(&format!("MAIL FROM:<{from}>")).expect(250);
        for rcpt in [
            "victim@elsewhere.example",
            "victim@ELSEWHERE.EXAMPLE",
            "victim@elsewhere.example.",
            "VICTIM@Elsewhere.Example",
            "victim%elsewhere.example@example.com",
            "victim%elsewhere.example@EXAMPLE.COM",
            "elsewhere.example!victim@example.com",
            "elsewhere.example!victim",
            "\"victim@elsewhere.example\"@example.com",
            "\"victim%elsewhere.example\"@example.com",
            "victim@elsewhere.example@example.com",
            "@example.com:victim@elsewhere.example",
            "@example.com,@mx.example.com:victim@elsewhere.example",
            "victim@[192.0.2.1]",
            "victim@[IPv6:2001:db8::1]",
            "victim@[127.0.0.1]",
            "victim@example.com.elsewhere.example",
            "victim@elsewhere.example%example.com",
            "victim@localhost.elsewhere.example",
        ] {
            let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
            assert!(r.code >= 500, "MAIL FROM:<{from}> RCPT TO:<{rcpt}> was accepted: {}", r.text);
        }
        // RSET starts over, and relaying is not allowed after it either.
        c.cmd("RSET").expect(250);
    }
    c.cmd("MAIL FROM:<a@remote.example>").expect(250);
    c.cmd("RCPT TO:<victim@elsewhere.example>").expect_status(550, "5.7.1");
    // Nothing was accepted, so DATA has no recipient to go to.
    c.cmd("DATA").expect_status(554, "5.5.1");
    // VRFY and EXPN neither confirm addresses nor expand anything (RFC 5321 3.5.3, 7.3).
    let vrfy = c.cmd("VRFY victim@elsewhere.example");
    assert_eq!(vrfy.code, 252, "{}", vrfy.text);
    let expn = c.cmd("EXPN bob");
    assert!(expn.code == 502 || expn.code == 252, "{}", expn.text);
    c.cmd("QUIT").expect(221);
    std::thread::sleep(Duration::from_millis(200));
    let (_, queue, _) = server.cli(&["queue", "list"], "");
    assert_eq!(queue, "Mail queue is empty\n", "nothing may have been queued for relay");
}

/// The SMTP smuggling end-of-data variants (SEC Consult, 2023): each sends a fake end of data
/// followed by a second, forged transaction. Exactly one message may come out of each, for
/// bob, or the message is refused; alice never gets the forged one.
#[test]
fn smtp_smuggling_variants_never_split_a_message() {
    let server = Server::start();
    let variants: [&[u8]; 7] = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\r\n\0.\r\n"];
    let mut delivered = 0;
    for (i, fake_end) in variants.iter().enumerate() {
        let mut c = server.connect();
        c.cmd("EHLO client.example").expect(250);
        c.cmd("MAIL FROM:<a@remote.example>").expect(250);
        c.cmd("RCPT TO:<bob@example.com>").expect(250);
        c.cmd("DATA").expect(354);
        let mut body = format!("Subject: variant {i}\r\n\r\nbefore").into_bytes();
        body.extend_from_slice(fake_end);
        body.extend_from_slice(b"MAIL FROM:<forged@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
        body.extend_from_slice(b"Subject: smuggled\r\n\r\nevil\r\n.\r\n");
        c.raw(&body);
        let reply = c.reply();
        assert!(reply.code == 250 || reply.code == 554, "variant {i}: {}", reply.text);
        if reply.code == 250 {
            delivered += 1;
        }
        // One reply only: the forged commands were content (or refused with the message).
        c.cmd("NOOP").expect(250);
        c.cmd("QUIT").expect(221);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.messages("example.com", "bob").len(), delivered);
    assert!(server.messages("example.com", "alice").is_empty(), "a smuggled message was delivered");
}

/// Header injection through sendmail's arguments: a full name or sender with a line break
/// must not add header fields (a classic way to add Bcc: from web forms).
#[test]
fn sendmail_arguments_cannot_inject_header_fields() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let message = b"To: bob@example.com\nSubject: contact form\n\nhello\n";
    let (code, _, err) =
        server.run(&sendmail, &["-F", "Mallory\r\nBcc: alice@example.com", "bob@example.com"], message);
    assert_eq!(code, 0, "{err}");
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert_eq!(msgs.len(), 1, "{}", server.log());
    assert!(!msgs[0].contains("\nBcc:"), "{}", msgs[0]);
    let from = msgs[0].lines().find(|l| l.starts_with("From:")).unwrap_or("");
    assert!(
        from.contains("Mallory") && from.contains("Bcc: alice@example.com"),
        "the name stays on one line: {from:?}"
    );
    let (code, _, err) =
        server.run(&sendmail, &["-f", "x@example.com\nBcc: alice@example.com", "bob@example.com"], message);
    assert_eq!(code, 64, "a sender with a line break is refused: {err}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.messages("example.com", "alice").is_empty(), "Bcc: was injected");
}

/// CVE-2011-0411 style: commands pipelined after STARTTLS, in the plain-text part, must be
/// thrown away, never answered inside the TLS session.
#[test]
fn commands_injected_before_the_tls_handshake_are_discarded() {
    let server = Server::start();
    let tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut plain = BufReader::new(tcp);
    let mut line = String::new();
    plain.read_line(&mut line).unwrap();
    plain.get_mut().write_all(b"EHLO client.example\r\n").unwrap();
    loop {
        line.clear();
        plain.read_line(&mut line).unwrap();
        if line.starts_with("250 ") {
            break;
        }
    }
    plain.get_mut().write_all(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@example.com>\r\n").unwrap();
    line.clear();
    plain.read_line(&mut line).unwrap();
    assert!(line.starts_with("220"), "{line}");
    assert!(plain.buffer().is_empty(), "the server answered the injected commands in plain text");
    let mut tls = tls_client(&server, plain.into_inner());
    tls.write_all(b"EHLO client.example\r\n").unwrap();
    let reply = read_reply(&mut tls);
    assert!(reply.starts_with("250-mx.example.com"), "the first TLS reply must answer EHLO: {reply}");
    tls.write_all(b"MAIL FROM:<a@remote.example>\r\n").unwrap();
    let reply = read_reply(&mut tls);
    assert!(reply.starts_with("250 2.1.0"), "no transaction may have been started by injection: {reply}");
}

fn tls_client(server: &Server, tcp: TcpStream) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.cert_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("mx.example.com").unwrap();
    rustls::StreamOwned::new(rustls::ClientConnection::new(Arc::new(config), name).unwrap(), tcp)
}

fn read_reply(r: &mut impl Read) -> String {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        r.read_exact(&mut byte).unwrap();
        text.push(byte[0]);
        if text.ends_with(b"\r\n") {
            let last = text[..text.len() - 2].rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
            if last.len() >= 4 && last[3] == b' ' {
                return String::from_utf8_lossy(&text).into_owned();
            }
        }
    }
}

/// Relaying from a trusted network still never interprets routing tricks: they are local
/// parts nobody has.
#[test]
fn trusted_clients_cannot_use_tricks_either() {
    let server = Server::start_with(Options { relay_networks: vec!["127.0.0.0/8".into()], ..Options::default() });
    let mut c: Client = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<a@example.com>").expect(250);
    for trick in ["victim%elsewhere.example@example.com", "elsewhere.example!victim@example.com"] {
        c.cmd(&format!("RCPT TO:<{trick}>")).expect_status(550, "5.1.1");
    }
}
