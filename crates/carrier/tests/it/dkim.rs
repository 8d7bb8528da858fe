//! DKIM signing (issue 16.1), judged by an independent verifier: dkimpy (Debian's
//! python3-dkim) checks every signature carrier puts on mail leaving through submission,
//! the sendmail path and the relay, with keys read from `carrier dns-records`.

use crate::common::dns::FakeDns;
use crate::common::sink::{Sink, common_port};
use crate::common::{Client, Options, Server, require, run_cli};
use std::path::Path;
use std::process::Command;

/// /usr/bin/python3, where Debian's python3-dkim is (a pyenv python3 earlier on PATH lacks it).
const PYTHON: &str = "/usr/bin/python3";

fn dkimpy_script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/py/dkimpy.py")
}

/// Fails with the install hint when dkimpy is missing.
pub fn require_dkimpy() {
    let found = Command::new(PYTHON).args(["-c", "import dkim"]).output().is_ok_and(|o| o.status.success());
    assert!(found, "dkimpy is not installed; run ./test.sh (it installs it) or: apt-get install python3-dkim");
}

/// Runs dkimpy.py with `args`; its standard output.
pub fn dkimpy(args: &[&str]) -> String {
    let out = Command::new(PYTHON).arg(dkimpy_script()).args(args).output().unwrap();
    assert!(out.status.success(), "dkimpy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DKIM key records `carrier dns-records` prints, as "name value" lines (the quoted
/// strings of one record joined, RFC 1035 3.3.14).
pub fn dkim_records(server: &Server) -> String {
    let (code, out, err) = run_cli(&server.config, &["dns-records"], "");
    assert_eq!(code, 0, "{err}");
    let mut records = String::new();
    for line in out.lines().filter(|l| l.contains("._domainkey.") && !l.starts_with(';')) {
        let name = line.split_whitespace().next().unwrap();
        let value: String = line.split('"').skip(1).step_by(2).collect();
        records.push_str(&format!("{name} {value}\n"));
    }
    records
}

/// Publishes the server's DKIM key records in `dns`.
pub fn publish_dkim(dns: &FakeDns, server: &Server) {
    for line in dkim_records(server).lines() {
        let (name, value) = line.split_once(' ').unwrap();
        dns.txt(name, value);
    }
}

/// What dkimpy says of each signature of `message`.
pub fn verify(server: &Server, message: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (msg, recs) = (dir.path().join("message"), dir.path().join("records"));
    std::fs::write(&msg, message.replace("\r\n", "\n").replace('\n', "\r\n")).unwrap();
    std::fs::write(&recs, dkim_records(server)).unwrap();
    dkimpy(&["verify", msg.to_str().unwrap(), recs.to_str().unwrap()])
}

/// A carrier resolving through `dns`, reaching MX hosts on `port`, taking AUTH on plain
/// loopback connections so its users' mail can be sent without TLS.
pub fn submitting_server(dns: &FakeDns, port: u16, extra: &str) -> Server {
    Server::start_with(Options {
        sections: format!(
            "{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n[submission]\nplaintext_loopback = true\n{extra}",
            dns.config()
        ),
        ..Options::default()
    })
}

/// A carrier whose users' mail to remote.example goes to a sink.
fn relaying_server(dns: &FakeDns, extra: &str) -> (Server, Sink) {
    let (port, mut listeners) = common_port(&["127.0.0.2"]);
    let sink = Sink::on(listeners.remove(0));
    dns.mx("remote.example", 10, "mx.remote.example");
    dns.a("mx.remote.example", "127.0.0.2");
    (submitting_server(dns, port, extra), sink)
}

/// bob@example.com sends `message` to `to` through submission.
pub fn submit_as_bob(server: &Server, to: &str, message: &str, eight_bit: bool) {
    use base64::Engine;
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    let login = base64::engine::general_purpose::STANDARD.encode("\0bob@example.com\0bob-secret");
    c.cmd(&format!("AUTH PLAIN {login}")).expect(235);
    let body = if eight_bit { " BODY=8BITMIME" } else { "" };
    c.cmd(&format!("MAIL FROM:<bob@example.com>{body}")).expect(250);
    c.cmd(&format!("RCPT TO:<{to}>")).expect(250);
    c.cmd("DATA").expect(354);
    c.data(message).expect(250);
}

fn submit(server: &Server, message: &str, eight_bit: bool) {
    submit_as_bob(server, "carol@remote.example", message, eight_bit);
}

#[test]
fn submitted_mail_leaves_signed_with_ed25519_and_rsa_and_dkimpy_verifies_both() {
    require_dkimpy();
    let dns = FakeDns::start();
    let (server, sink) = relaying_server(&dns, "");
    let long_to = (0..12).map(|i| format!("\"Person {i}\" <p{i}@remote.example>")).collect::<Vec<_>>().join(",\r\n ");
    let messages = [
        // Plain.
        ("From: Bob <bob@example.com>\r\nTo: carol@remote.example\r\nSubject: plain\r\n\r\nHello.\r\n", false),
        // 8-bit body (RFC 6152), a folded long header, trailing blank lines (RFC 6376 3.4.4 ignores them).
        (
            &*format!(
                "From: bob@example.com\r\nTo: {long_to}\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
                 Grüße aus Köln, ça va? 日本語\r\n  trailing space  \r\n\r\n\r\n\r\n"
            ),
            true,
        ),
    ];
    for (message, eight_bit) in &messages {
        submit(&server, message, *eight_bit);
    }
    let got = sink.wait(2);
    assert_eq!(got.len(), 2, "{}", server.log());
    for delivered in &got {
        let verdicts = verify(&server, &delivered.data);
        let lines: Vec<&str> = verdicts.lines().collect();
        assert_eq!(lines.len(), 2, "two signatures expected:\n{verdicts}\n{}", delivered.data);
        assert!(lines.iter().any(|l| l.contains("a=ed25519-sha256") && l.ends_with("pass")), "{verdicts}");
        assert!(lines.iter().any(|l| l.contains("a=rsa-sha256") && l.ends_with("pass")), "{verdicts}");
        assert!(lines.iter().all(|l| l.starts_with("d=example.com ")), "{verdicts}");
        // RFC 6376 5.4: From, To and Subject listed once more than they occur.
        let signature = delivered.data.split("DKIM-Signature:").nth(1).unwrap();
        let h: String = signature.split("h=").nth(1).unwrap().split(';').next().unwrap().split_whitespace().collect();
        assert_eq!(h.matches("From").count(), 2, "{h}");
        assert_eq!(h.matches("Subject").count(), 2, "{h}");
        assert!(h.contains("Message-ID") && h.contains("Date"), "{h}");
    }
    // A changed body no longer verifies: the verdicts above are not a formality.
    let plain = got.iter().find(|d| d.data.contains("Hello.")).expect("the plain message");
    let tampered = plain.data.replace("Hello.", "Hullo.");
    assert!(verify(&server, &tampered).lines().all(|l| l.ends_with("fail")), "{tampered}");
}

#[test]
fn sendmail_and_relay_network_mail_is_signed_but_mail_from_other_servers_is_not() {
    require_dkimpy();
    let dns = FakeDns::start();
    let (server, sink) = relaying_server(&dns, "");
    let sendmail = server.personality("sendmail");
    let message = "From: alice@example.com\nTo: carol@remote.example\nSubject: from cron\n\nnightly report\n";
    let (code, _, err) =
        server.run(&sendmail, &["-f", "alice@example.com", "carol@remote.example"], message.as_bytes());
    assert_eq!(code, 0, "{err}");
    let got = sink.wait(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    assert_eq!(verify(&server, &got[0].data).matches(" pass").count(), 2, "{}", got[0].data);
    // Port 25 from a client outside the relay networks: a message claiming our domain is
    // someone else's, and carrier does not sign it.
    server
        .send_mail("mallory@elsewhere.example", &["alice@example.com"], "From: bob@example.com\r\n\r\nhi\r\n")
        .expect(250);
    let msgs = server.wait_messages("example.com", "alice", 1);
    assert!(!msgs[0].contains("DKIM-Signature:"), "{}", msgs[0]);
}

#[test]
fn rotation_signs_with_the_new_keys_and_keeps_the_old_published_until_retired() {
    require_dkimpy();
    let dns = FakeDns::start();
    let (server, sink) = relaying_server(&dns, "");
    let before = dkim_records(&server);
    assert_eq!(before.lines().count(), 4, "two keys for each of example.com and example.net:\n{before}");
    let (code, out, err) = run_cli(&server.config, &["dkim", "rotate", "example.com"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the running daemon signs with them from now on"), "{out}");
    let new: Vec<String> = out
        .split("New DKIM keys for example.com: ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .split(" and ")
        .map(str::to_string)
        .collect();
    assert_eq!(new.len(), 2, "{out}");
    submit(&server, "From: bob@example.com\r\nSubject: after rotation\r\n\r\nx\r\n", false);
    let got = sink.wait(1);
    let verdicts = verify(&server, &got[0].data);
    for selector in &new {
        assert!(verdicts.contains(&format!("s={selector} ")), "{verdicts}");
    }
    assert_eq!(verdicts.matches(" pass").count(), 2, "{verdicts}");
    let after = dkim_records(&server);
    assert_eq!(after.lines().count(), 6, "old keys still published:\n{after}");
    let old =
        before.lines().find(|l| l.contains("._domainkey.example.com.")).unwrap().split('.').next().unwrap().to_string();
    let (code, _, err) = run_cli(&server.config, &["dkim", "retire", "example.com", &new[0]], "");
    assert!(code != 0 && err.contains("still signs"), "{err}");
    let (code, out, err) = run_cli(&server.config, &["dkim", "retire", "example.com", &old], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("remove its TXT record"), "{out}");
    assert_eq!(dkim_records(&server).lines().count(), 5);
    let (_, list, _) = run_cli(&server.config, &["dkim", "list"], "");
    let retired = list.lines().any(|l| l.starts_with("example.com ") && l.contains(&format!(" {old} ")));
    assert!(list.contains("published, not signing") && !retired, "{list}");
}

#[test]
fn an_opendkim_key_file_signs_in_place_of_generated_keys() {
    require_dkimpy();
    require("opendkim-genkey");
    let dns = FakeDns::start();
    let keys = tempfile::tempdir().unwrap();
    let made = Command::new("opendkim-genkey")
        .args(["-b", "2048", "-d", "example.com", "-s", "mail", "-D"])
        .arg(keys.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let private = keys.path().join("mail.private");
    let extra = format!(
        "[[dkim.keys]]\ndomain = \"example.com\"\nselector = \"mail\"\nprivate_key = \"{}\"\n",
        private.display()
    );
    let (server, sink) = relaying_server(&dns, &extra);
    submit(&server, "From: bob@example.com\r\nSubject: opendkim key\r\n\r\nx\r\n", false);
    let got = sink.wait(1);
    // dkimpy checks it against the record opendkim-genkey wrote, not carrier's rendering of it.
    let record = std::fs::read_to_string(keys.path().join("mail.txt")).unwrap();
    let value: String = record.split('"').skip(1).step_by(2).collect();
    let dir = tempfile::tempdir().unwrap();
    let (msg, recs) = (dir.path().join("m"), dir.path().join("r"));
    std::fs::write(&msg, &got[0].data).unwrap();
    std::fs::write(&recs, format!("mail._domainkey.example.com {value}\n")).unwrap();
    let verdict = dkimpy(&["verify", msg.to_str().unwrap(), recs.to_str().unwrap()]);
    assert_eq!(verdict.trim(), "d=example.com s=mail a=rsa-sha256 pass", "{}", got[0].data);
    assert!(!server.data_dir().join("dkim/example.com").exists(), "no key made for a configured domain");
    assert!(Path::new(&private).exists());
}
