//! ManageSieve (RFC 5804) on `[listen] managesieve`: Debian's `sieve-connect` uploads,
//! lists, activates, downloads and deletes scripts over STARTTLS with the account's
//! password; bad scripts are refused with the line of the error; bad input on the wire
//! gets precise answers and leaves the server usable.

use crate::common::line::LineConn;
use crate::common::{Server, require};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs sieve-connect as bob against the server; returns (success, stdout + stderr).
fn sieve_connect(server: &Server, args: &[&str]) -> (bool, String) {
    let port = server.managesieve_port.to_string();
    let cafile = server.cert_path();
    let mut child = Command::new("sieve-connect")
        .args(["--server", "127.0.0.1", "--port", &port, "--user", "bob@example.com", "--passwordfd", "0"])
        .args(["--tlscafile", cafile.to_str().unwrap(), "--tlshostname", "mx.example.com", "--noclearchan"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sieve-connect runs");
    child.stdin.take().unwrap().write_all(b"bob-secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn scripts_dir(server: &Server) -> std::path::PathBuf {
    server.maildir("example.com", "bob").join("sieve")
}

#[test]
fn sieve_connect_uploads_lists_activates_and_deletes_over_starttls() {
    require("sieve-connect");
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("lists.sieve");
    let script = "require [\"fileinto\", \"mailbox\"];\r\nif header :contains \"list-id\" \"carrier\" {\r\n  fileinto :create \"Lists\";\r\n}\r\n";
    std::fs::write(&local, script).unwrap();
    let local = local.to_str().unwrap();

    let (ok, out) = sieve_connect(&server, &["--localsieve", local, "--remotesieve", "lists", "--upload"]);
    assert!(ok, "upload: {out}");
    assert_eq!(std::fs::read_to_string(scripts_dir(&server).join("lists.sieve")).unwrap(), script);

    let (ok, out) = sieve_connect(&server, &["--list"]);
    assert!(ok, "list: {out}");
    assert!(out.lines().any(|l| l.trim() == "\"lists\""), "{out}");

    let (ok, out) = sieve_connect(&server, &["--remotesieve", "lists", "--activate"]);
    assert!(ok, "activate: {out}");
    let (_, out) = sieve_connect(&server, &["--list"]);
    assert!(out.lines().any(|l| l.trim() == "\"lists\" ACTIVE"), "{out}");
    let active = std::fs::read_link(scripts_dir(&server).join(".active")).unwrap();
    assert_eq!(active.to_str().unwrap(), "lists.sieve");

    let back = dir.path().join("back.sieve");
    let (ok, out) =
        sieve_connect(&server, &["--remotesieve", "lists", "--localsieve", back.to_str().unwrap(), "--download"]);
    assert!(ok, "download: {out}");
    assert_eq!(std::fs::read_to_string(&back).unwrap(), script);

    // The active script cannot be deleted (RFC 5804 2.10); after deactivating it can.
    let (ok, _) = sieve_connect(&server, &["--remotesieve", "lists", "--delete"]);
    assert!(!ok, "the active script was deleted");
    let (ok, out) = sieve_connect(&server, &["--deactivate"]);
    assert!(ok, "deactivate: {out}");
    let (ok, out) = sieve_connect(&server, &["--remotesieve", "lists", "--delete"]);
    assert!(ok, "delete: {out}");
    assert!(!scripts_dir(&server).join("lists.sieve").exists());
    server.wait_log("managesieve(bob@example.com): Disconnected", 1);
}

#[test]
fn a_script_with_an_error_is_refused_with_its_line() {
    require("sieve-connect");
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("bad.sieve");
    std::fs::write(&local, "require \"fileinto\";\r\nif header :is \"subject\" \"x\" {\r\n  fileinto;\r\n}\r\n")
        .unwrap();
    let (ok, out) =
        sieve_connect(&server, &["--localsieve", local.to_str().unwrap(), "--remotesieve", "bad", "--upload"]);
    assert!(!ok, "a broken script was stored: {out}");
    assert!(out.contains("line 3"), "{out}");
    assert!(!scripts_dir(&server).join("bad.sieve").exists());
}

/// One ManageSieve connection spoken by hand.
struct Raw(LineConn);

impl Raw {
    fn connect(server: &Server) -> (Raw, Vec<String>) {
        let mut c = Raw(LineConn::connect(server.managesieve_port, &server.cert_path()));
        let greeting = c.response();
        (c, greeting)
    }

    /// Lines up to and including the OK/NO/BYE that ends a response.
    fn response(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.0.line().expect("a response before the connection closed");
            let end = ["OK", "NO", "BYE"].iter().any(|w| line == *w || line.starts_with(&format!("{w} ")));
            lines.push(line);
            if end {
                return lines;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> Vec<String> {
        self.0.raw(format!("{line}\r\n").as_bytes());
        self.response()
    }

    fn last(&mut self, line: &str) -> String {
        self.cmd(line).pop().unwrap()
    }
}

#[test]
fn bad_input_gets_precise_answers_and_the_server_stays_usable() {
    let server = Server::start();
    let (mut c, greeting) = Raw::connect(&server);
    let sieve = greeting.iter().find(|l| l.starts_with("\"SIEVE\" \"")).expect("a SIEVE capability");
    for extension in ["fileinto", "vacation", "imap4flags", "editheader", "duplicate"] {
        assert!(sieve.split(['"', ' ']).any(|e| e == extension), "{sieve}");
    }
    assert!(greeting.contains(&"\"STARTTLS\"".to_string()), "{greeting:?}");
    assert!(greeting.iter().any(|l| l == "\"IMPLEMENTATION\" \"carrier\""), "{greeting:?}");
    assert_eq!(greeting.last().unwrap(), "OK \"carrier ManageSieve ready.\"");

    // Before login only the unauthenticated commands are allowed (RFC 5804 2).
    assert_eq!(c.last("LISTSCRIPTS"), "NO \"Authenticate first\"");
    assert_eq!(c.last("FROBNICATE"), "NO \"unknown command FROBNICATE\"");
    assert_eq!(c.last("HAVESPACE"), "NO \"wrong number of arguments for HAVESPACE\"");
    // Passwords only over TLS (RFC 5804 1.3, ENCRYPT-NEEDED); after STARTTLS the server
    // sends its capabilities again, without STARTTLS (RFC 5804 2.2).
    let wrong = base64(b"\0bob@example.com\0nope");
    let auth_wrong = format!("AUTHENTICATE \"PLAIN\" \"{wrong}\"");
    assert_eq!(c.last(&auth_wrong), "NO (ENCRYPT-NEEDED) \"Use STARTTLS before authenticating.\"");
    assert_eq!(c.last("STARTTLS"), "OK \"Begin TLS negotiation now.\"");
    c.0.upgrade();
    let again = c.response();
    assert!(!again.contains(&"\"STARTTLS\"".to_string()), "{again:?}");
    assert!(again.contains(&"\"SASL\" \"PLAIN\"".to_string()), "{again:?}");
    // A wrong password is refused without saying which part was wrong.
    assert_eq!(c.last(&auth_wrong), "NO \"Authentication failed.\"");
    // A line longer than any command is refused and the connection closed.
    // (The server may close before it has read the rest, and the BYE can then be lost to
    // the connection's reset.)
    c.0.try_raw(format!("NOOP \"{}\"\r\n", "x".repeat(70_000)).as_bytes());
    if let Some(line) = c.0.line() {
        assert_eq!(line, "BYE \"Line too long.\"");
    }
    assert!(c.0.is_closed());

    // A fresh connection logs in.
    let (mut c, _) = Raw::connect(&server);
    c.last("STARTTLS");
    c.0.upgrade();
    c.response();
    let good = base64(b"\0bob@example.com\0bob-secret");
    assert_eq!(c.last(&format!("AUTHENTICATE \"PLAIN\" \"{good}\"")), "OK \"Logged in.\"");
    // A literal with the script; a script that does not compile gets the place of the error.
    let bad = "if true {\r\n";
    let reply = c.last(&format!("PUTSCRIPT \"x\" {{{}+}}\r\n{bad}", bad.len()));
    assert!(reply.starts_with("NO "), "{reply}");
    assert!(reply.contains("line 2"), "{reply}");
    let good = "keep;\r\n";
    assert_eq!(c.last(&format!("PUTSCRIPT \"x\" {{{}+}}\r\n{good}", good.len())), "OK \"Putscript completed.\"");
    assert_eq!(c.cmd("LISTSCRIPTS"), vec!["\"x\"", "OK \"Listscripts completed.\""]);
    // Names are checked: no slashes or control characters (RFC 5804 1.6).
    let reply = c.last(&format!("PUTSCRIPT \"a/b\" {{{}+}}\r\n{good}", good.len()));
    assert!(reply.starts_with("NO "), "{reply}");
    assert_eq!(c.last("SETACTIVE \"missing\""), "NO (NONEXISTENT) \"There is no script by that name.\"");
    assert_eq!(c.last("LOGOUT"), "OK \"Logout completed.\"");
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
