//! Real clients from outside the project: swaks (Debian) and Python's smtplib.

use crate::common::{Server, require};
use std::process::Command;

fn swaks(server: &Server, args: &[&str]) -> (bool, String) {
    require("swaks");
    let port = server.port.to_string();
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port, "--helo", "swaks.example", "--timeout", "20"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn swaks_delivers_plain_and_over_starttls() {
    let server = Server::start();
    let (ok, out) =
        swaks(&server, &["--from", "s@remote.example", "--to", "bob@example.com", "--header", "Subject: swaks plain"]);
    assert!(ok, "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    let (ok, out) = swaks(
        &server,
        &["--tls", "--from", "s@remote.example", "--to", "bob@example.com", "--header", "Subject: swaks tls"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("TLS started"), "{out}");
    let msgs = server.wait_messages("example.com", "bob", 2);
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().any(|m| m.contains("with ESMTPS id")), "{msgs:?}");
}

#[test]
fn swaks_pipelining_and_chunking() {
    let server = Server::start();
    let (ok, out) =
        swaks(&server, &["--pipeline", "--from", "s@remote.example", "--to", "bob@example.com,alice@example.com"]);
    assert!(ok, "{out}");
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
}

#[test]
fn swaks_sees_unknown_user_and_relay_denied() {
    let server = Server::start();
    let (ok, out) = swaks(&server, &["--from", "s@remote.example", "--to", "nobody@example.com"]);
    assert!(!ok);
    assert!(out.contains("550 5.1.1"), "{out}");
    let (ok, out) = swaks(&server, &["--from", "s@remote.example", "--to", "x@elsewhere.example"]);
    assert!(!ok);
    assert!(out.contains("550 5.7.1"), "{out}");
}

#[test]
fn python_smtplib_client() {
    let server = Server::start();
    require("python3");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/smtplib_client.py");
    let out = Command::new("python3").arg(script).arg(server.port.to_string()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\nserver log:\n{}", server.log());
    let msgs = server.wait_messages("example.com", "bob", 4);
    assert_eq!(msgs.len(), 4, "{msgs:?}");
}
