//! Real POP3 clients and Maildir readers from outside the project: Python's poplib,
//! fetchmail over POP3S, and s-nail reading the very Maildir carrier serves.

use crate::common::pop3::Pop3;
use crate::common::{Server, require};
use std::path::Path;
use std::process::Command;

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn deliver(server: &Server, subjects: &[&str]) {
    let before = server.log().matches("delivered to maildir").count();
    for subject in subjects {
        let body = format!("Subject: {subject}\r\n\r\n.starts with a dot\r\nbody of {subject}\r\n");
        server.send_mail("alice@example.org", &["bob@example.com"], &body).expect(250);
    }
    server.wait_log("delivered to maildir", before + subjects.len());
}

fn uidls(server: &Server) -> Vec<String> {
    let mut c = Pop3::connect_tls(server.pop3s_port, &server.cert_path());
    assert_eq!(c.login("bob@example.com", "bob-secret"), "+OK Logged in.");
    let (_, list) = c.multi("UIDL");
    c.cmd("QUIT");
    list.into_iter().map(|l| l.split_once(' ').unwrap().1.to_string()).collect()
}

#[test]
fn python_poplib_client() {
    require("python3");
    let server = Server::start();
    deliver(&server, &["one", "two"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/poplib_client.py");
    let (ok, text) = output(Command::new("python3").arg(script).args([
        server.pop3_port.to_string(),
        server.pop3s_port.to_string(),
        server.cert_path().display().to_string(),
    ]));
    assert!(ok, "{text}\nserver log:\n{}", server.log());
    assert!(text.contains("poplib: all checks passed"), "{text}");
}

/// Runs fetchmail once against pop3s, verifying the server's certificate by its name, with
/// messages handed to an MDA that appends them to `out` (nothing leaves the machine).
fn fetchmail(server: &Server, home: &Path, out: &Path, keep: bool) -> (i32, String) {
    let rc = home.join("fetchmailrc");
    let text = format!(
        "set no syslog\n\
         poll mx.example.com via 127.0.0.1 with proto POP3 service {port} auth password uidl\n\
         \tuser \"bob@example.com\" there with password \"bob-secret\"\n\
         \toptions ssl sslcertck sslcertfile \"{cert}\" sslcommonname \"mx.example.com\" {keep} mda \"cat >> {out}\"\n",
        port = server.pop3s_port,
        cert = server.cert_path().display(),
        keep = if keep { "keep" } else { "nokeep" },
        out = out.display(),
    );
    std::fs::write(&rc, text).unwrap();
    // fetchmail refuses a run control file others can read.
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let result = Command::new("fetchmail")
        .args(["-f", rc.to_str().unwrap(), "--idfile", home.join("fetchids").to_str().unwrap(), "-v", "--nosyslog"])
        .env("HOME", home)
        .env("FETCHMAILHOME", home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&result.stdout).into_owned() + &String::from_utf8_lossy(&result.stderr);
    (result.status.code().unwrap_or(-1), text)
}

#[test]
fn fetchmail_over_pop3s_with_uidl() {
    require("fetchmail");
    let server = Server::start();
    deliver(&server, &["fetch-1", "fetch-2"]);
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("fetched");
    let count = |subject: &str| std::fs::read_to_string(&out).unwrap_or_default().matches(subject).count();
    // fetchmail exits 0 when it fetched mail, 1 when there was none.
    let (code, text) = fetchmail(&server, home.path(), &out, true);
    assert_eq!(code, 0, "{text}\nserver log:\n{}", server.log());
    assert_eq!((count("Subject: fetch-1"), count("Subject: fetch-2")), (1, 1), "{text}");
    // Dot-stuffing undone by the client: the line is as it was sent.
    assert!(std::fs::read_to_string(&out).unwrap().contains("\n.starts with a dot\n"));
    // Kept on the server; stable UIDLs let fetchmail skip what it already has.
    let (code, text) = fetchmail(&server, home.path(), &out, true);
    assert_eq!(code, 1, "{text}");
    assert_eq!(count("Subject: fetch-"), 2, "{text}");
    deliver(&server, &["fetch-3"]);
    let (code, text) = fetchmail(&server, home.path(), &out, false);
    assert_eq!(code, 0, "{text}");
    assert_eq!(count("Subject: fetch-3"), 1, "{text}");
    // Only the newly fetched message was deleted (fetchmail's "nokeep" deletes what it fetched).
    assert_eq!(uidls(&server).len(), 2);
    server.wait_log("pop3-login: Login: user=<bob@example.com>, method=USER, rip=127.0.0.1, lip=127.0.0.1, TLS", 3);
}

/// s-nail in batch mode on a Maildir, with commands on stdin.
fn s_nail(maildir: &Path, home: &Path, commands: &str) -> String {
    let mut child = Command::new("s-nail")
        .args(["-#", "-n", "-N", "-S", "datefield=%Y", "-f"])
        .arg(maildir)
        .env("HOME", home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), commands.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn s_nail_reads_the_same_maildir_and_pop3_sees_its_changes() {
    require("s-nail");
    let server = Server::start();
    deliver(&server, &["maildir-1", "maildir-2", "maildir-3"]);
    let before = uidls(&server);
    // A POP3 session reads the first message and deletes the second.
    let mut c = Pop3::connect_tls(server.pop3s_port, &server.cert_path());
    c.login("bob@example.com", "bob-secret");
    c.multi("RETR 1");
    c.cmd("DELE 2");
    assert_eq!(c.cmd("QUIT"), "+OK Logging out, 1 messages deleted.");
    let home = tempfile::tempdir().unwrap();
    let maildir = server.maildir("example.com", "bob");
    let headers = s_nail(&maildir, home.path(), "headers\nquit\n");
    assert_eq!(headers.matches("maildir-").count(), 2, "{headers}");
    assert!(!headers.contains("maildir-2"), "{headers}");
    // s-nail's status letter and number of the message with `subject`.
    let entry = |subject: &str| -> (char, String) {
        let line = headers.lines().find(|l| l.contains(subject)).unwrap();
        let mut words = line.trim_start_matches(['▸', '>']).split_whitespace();
        (words.next().unwrap().chars().next().unwrap(), words.next().unwrap().to_string())
    };
    // Message 1 was read over POP3: s-nail does not show it as new or unread; message 3 is unread.
    let (read, number) = entry("maildir-1");
    assert!(!matches!(read, 'N' | 'U'), "{headers}");
    assert!(matches!(entry("maildir-3").0, 'N' | 'U'), "{headers}");
    // s-nail deletes message 1; POP3 sees one message left, with its old unique id.
    s_nail(&maildir, home.path(), &format!("delete {number}\nquit\n"));
    assert_eq!(uidls(&server), [before[2].clone()]);
}
