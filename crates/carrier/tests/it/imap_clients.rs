//! Real IMAP clients from outside the project: Python's imaplib (every command and extension
//! carrier advertises) and Debian's s-nail reading and changing a mailbox over IMAPS.

use crate::common::imap::Imap;
use crate::common::{Server, require};
use std::path::Path;
use std::process::{Command, Stdio};

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn python_imaplib_client() {
    require("python3");
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/imaplib_client.py");
    let (ok, text) = output(Command::new("python3").arg(script).args([
        server.port.to_string(),
        server.imap_port.to_string(),
        server.imaps_port.to_string(),
        server.cert_path().display().to_string(),
    ]));
    assert!(ok, "{text}\nserver log:\n{}", server.log());
    assert!(text.contains("imaplib: all checks passed"), "{text}");
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS", 1);
    server.wait_log("imap(bob@example.com): Disconnected: Logged out in=", 3);
}

/// s-nail in batch mode on an IMAPS folder, with commands on stdin.
fn s_nail(server: &Server, home: &Path, commands: &str) -> String {
    let url = format!("imaps://bob%40example.com@127.0.0.1:{}/INBOX", server.imaps_port);
    let mut child = Command::new("s-nail")
        .args(["-#", "-n", "-N", "-S", "v15-compat", "-S", "datefield=%Y"])
        .args(["-S", "password=bob-secret"])
        .args(["-S", &format!("tls-ca-file={}", server.cert_path().display()), "-S", "tls-ca-no-defaults"])
        // The certificate names mx.example.com, which does not resolve here: check the chain only.
        .args(["-S", "tls-verify=warn", "-f", &url])
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), commands.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\nserver log:\n{}", server.log());
    text
}

#[test]
fn s_nail_reads_and_deletes_over_imaps() {
    require("s-nail");
    let server = Server::start();
    for (i, subject) in ["imap-1", "imap-2", "imap-3"].iter().enumerate() {
        let body = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n");
        server.send_mail("alice@example.org", &["bob@example.com"], &body).expect(250);
        server.wait_log("stat=Sent (delivered to maildir)", i + 1);
    }
    let home = tempfile::tempdir().unwrap();
    let headers = s_nail(&server, home.path(), "headers\nquit\n");
    assert_eq!(headers.matches("imap-").count(), 3, "{headers}");
    let shown = s_nail(&server, home.path(), "type 1\ndelete 2\nquit\n");
    assert!(shown.contains("body of imap-1"), "{shown}");
    // What s-nail did is what another IMAP client sees: 1 read, 2 gone, 3 untouched.
    let mut c = Imap::connect_tls(server.imaps_port, &server.cert_path());
    c.login("bob@example.com", "bob-secret").expect("OK");
    c.cmd("SELECT INBOX").expect("OK");
    let r = c.cmd("FETCH 1:* (UID FLAGS)").expect("OK");
    assert_eq!(r.untagged.len(), 2, "{r:?}");
    assert!(r.untagged[0].starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen"), "{r:?}");
    assert!(r.untagged[1].starts_with("* 2 FETCH (UID 3 FLAGS ("), "{r:?}");
    assert!(!r.untagged[1].contains("\\Seen"), "{r:?}");
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=", 3);
}
