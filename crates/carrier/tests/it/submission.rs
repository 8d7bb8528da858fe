//! Submission for mail clients: 587 with STARTTLS, 465 with implicit TLS, SMTP AUTH.

use crate::common::{Client, Options, Server, require};
use std::process::Command;

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// AUTH without TLS allowed from loopback, so policy can be tested over plain sockets.
fn plaintext_server(extra: &str) -> Server {
    Server::start_with(Options {
        sections: format!("[submission]\nplaintext_loopback = true\nauth_failure_delay = \"0s\"\n{extra}"),
        ..Options::default()
    })
}

fn logged_in(server: &Server, login: &str, password: &str) -> Client {
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd(&format!("AUTH PLAIN {}", b64(&format!("\0{login}\0{password}")))).expect_status(235, "2.7.0");
    c
}

#[test]
fn python_smtplib_on_587_and_465() {
    require("python3");
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/submission_client.py");
    let (ok, text) = output(
        Command::new("python3").arg(script).arg(server.submission_port.to_string()).arg(server.smtps_port.to_string()),
    );
    assert!(ok, "{text}\nserver log:\n{}", server.log());
    let msgs = server.wait_messages("example.com", "alice", 2);
    assert_eq!(msgs.len(), 2);
    let via587 = msgs.iter().find(|m| m.contains("Subject: via 587")).expect("message via 587");
    assert!(via587.contains("with ESMTPSA id"), "{via587}");
    assert!(!via587.contains("bob-secret"), "credentials leaked into the message");
    let log = server.log();
    assert!(log.contains("sasl_username=bob@example.com"), "{log}");
    assert!(log.contains("auth failed: PLAIN login <bob@example.com> from unknown[127.0.0.1]"), "{log}");
}

#[test]
fn swaks_with_starttls_and_implicit_tls() {
    require("swaks");
    let server = Server::start();
    let swaks = |port: u16, tls: &str, mech: &str, subject: &str| {
        output(Command::new("swaks").args([
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            tls,
            "--auth",
            mech,
            "--auth-user",
            "bob@example.com",
            "--auth-password",
            "bob-secret",
            "--from",
            "bob@example.com",
            "--to",
            "alice@example.com",
            "--header",
            &format!("Subject: {subject}"),
            "--timeout",
            "20",
        ]))
    };
    let (ok, out) = swaks(server.submission_port, "--tls", "PLAIN", "swaks 587");
    assert!(ok && out.contains("235 2.7.0"), "{out}");
    let (ok, out) = swaks(server.smtps_port, "--tlsc", "LOGIN", "swaks 465");
    assert!(ok && out.contains("235 2.7.0"), "{out}");
    assert_eq!(server.wait_messages("example.com", "alice", 2).len(), 2);
}

#[test]
fn openssl_shows_modern_tls_and_old_clients_are_refused() {
    require("openssl");
    let server = Server::start();
    let s_client = |args: &[&str]| {
        let mut child = Command::new("openssl")
            .args(["s_client", "-ign_eof"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(b"QUIT\r\n");
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let starttls = s_client(&["-connect", &format!("127.0.0.1:{}", server.submission_port), "-starttls", "smtp"]);
    assert!(starttls.contains("TLSv1.3"), "{starttls}");
    let implicit = s_client(&["-connect", &format!("127.0.0.1:{}", server.smtps_port)]);
    assert!(implicit.contains("TLSv1.3") && implicit.contains("220 mx.example.com"), "{implicit}");
    assert!(implicit.contains("CN = mx.example.com"), "the generated certificate should name the host: {implicit}");
    // TLS 1.1 is never negotiated (the client's own security level is lowered so that it is
    // the server that refuses).
    let old = s_client(&[
        "-connect",
        &format!("127.0.0.1:{}", server.smtps_port),
        "-tls1_1",
        "-cipher",
        "DEFAULT:@SECLEVEL=0",
    ]);
    assert!(old.contains("Cipher is (NONE)") && old.contains("alert"), "{old}");
    assert!(!old.contains("220 mx.example.com"), "{old}");
    server.connect().cmd("NOOP").expect(250);
}

#[test]
fn auth_is_required_and_needs_tls() {
    let server = Server::start();
    let mut c = Client::connect(server.submission_port);
    let ehlo = c.cmd("EHLO client.example").expect(250);
    assert!(ehlo.text.contains("STARTTLS") && !ehlo.text.contains("AUTH"), "{}", ehlo.text);
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0bob-secret"))).expect_status(538, "5.7.11");
    c.cmd("MAIL FROM:<bob@example.com>").expect_status(530, "5.7.0");
    // Port 25 offers no AUTH at all.
    let mut c = server.connect();
    assert!(!c.cmd("EHLO client.example").expect(250).text.contains("AUTH"));
    c.cmd("AUTH PLAIN AGJvYgBib2Itc2VjcmV0").expect_status(503, "5.5.1");
}

#[test]
fn bad_auth_input_gets_precise_replies() {
    let server = plaintext_server("");
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd("AUTH DIGEST-MD5").expect_status(504, "5.5.4");
    c.cmd("AUTH PLAIN %%%notbase64").expect_status(501, "5.5.2");
    c.cmd("AUTH LOGIN").expect(334);
    c.cmd("*").expect_status(501, "5.0.0");
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0bob-secret"))).expect_status(235, "2.7.0");
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0bob-secret"))).expect_status(503, "5.5.1");
    c.cmd("NOOP").expect(250);
}

#[test]
fn sender_and_from_header_must_belong_to_the_user() {
    let aliases = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(aliases.path(), "info: bob\n").unwrap();
    let server = Server::start_with(Options {
        top: format!("aliases = {:?}", aliases.path()),
        sections: "[submission]\nplaintext_loopback = true\nauth_failure_delay = \"0s\"\n".into(),
        ..Options::default()
    });
    let mut c = logged_in(&server, "bob@example.com", "bob-secret");
    c.cmd("MAIL FROM:<alice@example.com>").expect_status(553, "5.7.1");
    // Own address, an alias of the user, a subaddress and the null sender are fine.
    for ok in ["Bob@Example.com", "info@example.com", "bob+lists@example.com", ""] {
        c.cmd(&format!("MAIL FROM:<{ok}>")).expect(250);
        c.cmd("RSET").expect(250);
    }
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: Alice <alice@example.com>\r\nSubject: forged\r\n\r\nx\r\n").expect_status(550, "5.7.1");
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("RCPT TO:<someone@elsewhere.example>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("From: \"Bob\" <info@example.com>\r\nSubject: fine\r\n\r\nx\r\n").expect(250);
    let msgs = server.wait_messages("example.com", "alice", 1);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("Subject: fine"));
    // The client forgot Message-ID and Date: the server adds them (RFC 6409 8.2, 8.3).
    assert!(msgs[0].contains("\nMessage-ID: <") && msgs[0].contains("@mx.example.com>\n"), "{}", msgs[0]);
    assert!(msgs[0].contains("\nDate: "), "{}", msgs[0]);
    assert!(msgs[0].contains("with ESMTPA id"), "{}", msgs[0]);
}

/// Sends `header` + a body as bob; the reply after DATA.
fn submit_as_bob(c: &mut Client, header: &str) -> crate::common::Reply {
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data(&format!("{header}\r\nSubject: t\r\n\r\nx\r\n"))
}

/// Issue 14.1: forms of From: that showed another user's address and were accepted.
#[test]
fn no_rfc_5322_form_lets_a_user_send_as_someone_else() {
    let server = plaintext_server("");
    let mut c = logged_in(&server, "bob@example.com", "bob-secret");
    for header in [
        r#"From: "\"" <alice@example.com>"#,
        r#"From: "b\"<bob@example.com>" <alice@example.com>"#,
        r#"From: (b\) <bob@example.com>) alice@example.com"#,
        "From: =?utf-8?q?bob=40example.com?= <alice@example.com>",
        "From: team: bob@example.com, alice@example.com;",
        "From: bob@example.com,\r\n alice@example.com",
        "From: bob@example.com\r\nSender: alice@example.com",
    ] {
        submit_as_bob(&mut c, header).expect_status(550, "5.7.1");
    }
    for header in [
        "From: bob",
        "From: undisclosed-recipients:;",
        "From: bob@example.com\r\nFrom: alice@example.com",
        "not a header line\r\nFrom: alice@example.com",
    ] {
        submit_as_bob(&mut c, header).expect_status(550, "5.6.0");
    }
    // The session goes on, and the user's own address in any form is fine.
    submit_as_bob(&mut c, r#"From: "Bob \"B\" Example" <bob@example.com> (home)"#).expect(250);
    submit_as_bob(&mut c, "From: =?utf-8?q?B=C3=B6b?=\r\n <BOB@example.com>").expect(250);
    assert_eq!(server.wait_messages("example.com", "alice", 2).len(), 2);
}

/// A message without From: gets one naming the user (as Gmail does).
#[test]
fn a_missing_from_names_the_user() {
    let server = plaintext_server("");
    let mut c = logged_in(&server, "bob@example.com", "bob-secret");
    submit_as_bob(&mut c, "To: alice@example.com").expect(250);
    let msgs = server.wait_messages("example.com", "alice", 1);
    assert!(msgs[0].contains("\nFrom: <bob@example.com>\n"), "{}", msgs[0]);
}

#[test]
fn any_sender_users_may_send_as_anyone() {
    let server = plaintext_server("any_sender = [\"bob@example.com\"]\n");
    let mut c = logged_in(&server, "bob", "bob-secret");
    c.cmd("MAIL FROM:<noreply@example.org>").expect(250);
    let mut c = logged_in(&server, "alice@example.com", "alice-pw");
    c.cmd("MAIL FROM:<noreply@example.org>").expect_status(553, "5.7.1");
}

#[test]
fn existing_message_id_and_date_are_kept() {
    let server = plaintext_server("");
    let mut c = logged_in(&server, "bob@example.com", "bob-secret");
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<alice@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Message-ID: <own@client.example>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: kept\r\n\r\nx\r\n")
        .expect(250);
    let m = &server.wait_messages("example.com", "alice", 1)[0];
    assert_eq!(m.matches("\nMessage-ID:").count(), 1, "{m}");
    assert_eq!(m.matches("\nDate:").count(), 1, "{m}");
}

#[test]
fn brute_force_is_slowed_cut_off_and_throttled() {
    let server = plaintext_server("auth_ip_limit = 4\n");
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    for _ in 0..3 {
        c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0guess"))).expect_status(535, "5.7.8");
    }
    c.reply().expect_status(421, "4.7.0");
    assert!(c.is_closed());
    // One more failure reaches the per-address limit; then even the right password is refused for a while.
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0guess"))).expect_status(535, "5.7.8");
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0bob-secret"))).expect_status(454, "4.7.0");
    let log = server.log();
    assert!(log.contains("auth refused: too many failed logins from unknown[127.0.0.1]"), "{log}");
    // Mail from other servers on port 25 is not affected.
    server.send_mail("a@remote.example", &["bob@example.com"], "Subject: x\r\n\r\nx\r\n").expect(250);
}

#[test]
fn plaintext_and_stalled_clients_on_the_tls_port_do_not_hurt_the_server() {
    use std::io::{Read, Write};
    let server = Server::start();
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", server.smtps_port)).unwrap();
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", server.smtps_port)).unwrap();
    plain.write_all(b"EHLO plaintext.example\r\n").unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("220"), "plaintext got an SMTP greeting on the TLS port");
    // While one client stalls its handshake, others are served.
    server.connect().cmd("EHLO client.example").expect(250);
    let mut c = Client::connect(server.submission_port);
    c.cmd("NOOP").expect(250);
    let _ = stalled.write_all(b"");
    // The log line may follow the closed connection by a moment.
    server.wait_log("TLS handshake failed from localhost[127.0.0.1] on smtps", 1);
}

fn certificate_subject(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or("").to_string()
}

#[test]
fn certificate_is_reloaded_on_sighup_and_a_broken_one_is_refused() {
    require("openssl");
    let server = Server::start();
    assert!(certificate_subject(server.smtps_port).contains("CN = mx.example.com"));
    let tls = server.data_dir().join("tls");
    let (ok, out) = output(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=renewed.example.com",
        "-keyout",
        tls.join("key.pem").to_str().unwrap(),
        "-out",
        tls.join("cert.pem").to_str().unwrap(),
    ]));
    assert!(ok, "{out}");
    Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    server.wait_log("TLS certificate reloaded (SIGHUP)", 1);
    assert!(certificate_subject(server.smtps_port).contains("CN = renewed.example.com"));

    std::fs::write(tls.join("cert.pem"), "not a certificate\n").unwrap();
    Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    server.wait_log("TLS certificate not reloaded (SIGHUP)", 1);
    assert!(certificate_subject(server.smtps_port).contains("CN = renewed.example.com"));
}

#[test]
fn system_accounts_log_in_with_their_shadow_password() {
    require("openssl");
    let (ok, hash) = output(Command::new("openssl").args(["passwd", "-6", "-salt", "saltsalt", "sys-secret"]));
    assert!(ok, "{hash}");
    let shadow = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(shadow.path(), format!("root:*:19000:0:99999:7:::\nsysuser:{}:19000:0:99999:7:::\n", hash.trim()))
        .unwrap();
    let server = Server::start_with(Options {
        top: "auth = \"system\"".into(),
        sections: format!(
            "[submission]\nplaintext_loopback = true\nauth_failure_delay = \"0s\"\nshadow_file = {:?}\n",
            shadow.path()
        ),
        ..Options::default()
    });
    let mut c = logged_in(&server, "sysuser", "sys-secret");
    c.cmd("MAIL FROM:<bob@example.com>").expect_status(553, "5.7.1");
    c.cmd("MAIL FROM:<sysuser@example.com>").expect(250);
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    c.cmd(&format!("AUTH PLAIN {}", b64("\0sysuser@example.com\0wrong"))).expect_status(535, "5.7.8");
    // carrier's own accounts do not log in when the host's accounts are the source.
    c.cmd(&format!("AUTH PLAIN {}", b64("\0bob@example.com\0bob-secret"))).expect_status(535, "5.7.8");
    // A locked account (root:*) never logs in; that third failure ends the session.
    c.cmd(&format!("AUTH PLAIN {}", b64("\0root\0*"))).expect_status(535, "5.7.8");
    c.reply().expect_status(421, "4.7.0");
}

#[test]
fn a_remembered_login_ends_when_the_password_changes() {
    let server = plaintext_server("");
    let auth = |password: &str| {
        let mut c = Client::connect(server.submission_port);
        c.cmd("EHLO client.example").expect(250);
        c.cmd(&format!("AUTH PLAIN {}", b64(&format!("\0bob@example.com\0{password}"))))
    };
    // The second login is answered from the login cache ([submission] login_cache).
    auth("bob-secret").expect_status(235, "2.7.0");
    auth("bob-secret").expect_status(235, "2.7.0");
    auth("wrong").expect_status(535, "5.7.8");
    let (code, _, err) = server.cli(&["user", "passwd", "bob@example.com", "--password-stdin"], "new-secret\n");
    assert_eq!(code, 0, "{err}");
    // At once, though the old password was verified a moment ago.
    auth("bob-secret").expect_status(535, "5.7.8");
    auth("new-secret").expect_status(235, "2.7.0");
}
