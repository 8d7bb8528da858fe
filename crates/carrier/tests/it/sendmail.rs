//! The sendmail personality through a symlink named `sendmail`: with the daemon up (control
//! socket), down (pickup directory, taken in at start), `-bs`, s-nail, and bad input.

use crate::common::{Server, is_root, require};
use std::process::Command;

const MESSAGE: &[u8] = b"Subject: hello from cron\n\nline one\nline two\n";

#[test]
fn daemon_up_the_message_goes_through_the_control_socket() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let (code, out, err) = server.run(&sendmail, &["-v", "bob@example.com"], MESSAGE);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("queued as"), "-v reports the queue id: {err}");
    // Issue 15.1: the file in force comes first.
    assert_eq!(err.lines().next(), Some(format!("sendmail: configuration {}", server.config.display()).as_str()));
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert_eq!(msgs.len(), 1, "{}", server.log());
    let m = &msgs[0];
    // The caller's login name at our host name is the sender (here the test runs as some user).
    let login = whoami();
    assert!(m.starts_with(&format!("Return-Path: <{login}@mx.example.com>\n")), "{m}");
    assert!(m.contains("Received: from localhost (uid "), "{m}");
    assert!(m.contains(" with local id "), "{m}");
    for field in ["From: ", "Date: ", "Message-ID: <", "Subject: hello from cron\n\nline one\nline two\n"] {
        assert!(m.contains(field), "{field} missing: {m}");
    }
    assert!(server.pickup_files().is_empty());
    assert!(server.log().contains("proto=local, uid="), "{}", server.log());
}

#[test]
fn daemon_down_the_message_waits_in_pickup_until_the_daemon_starts() {
    let mut server = Server::start();
    server.kill9(); // its control socket stays behind, answering nothing
    let sendmail = server.personality("sendmail");
    let (code, _, err) = server.run(&sendmail, &["-v", "-f", "cron@example.com", "alice@example.com"], MESSAGE);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pickup directory"), "{err}");
    let waiting = server.pickup_files();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(!waiting[0].starts_with('.'), "only the finished file is left: {waiting:?}");
    assert!(server.messages("example.com", "alice").is_empty());
    // Issue 15.8: mailq said "Mail queue is empty" while the message waited here.
    let mailq = server.personality("mailq");
    let (code, out, err) = server.run(&mailq, &[], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 message waits in the pickup directory until the daemon runs"), "{out}");
    assert!(out.contains(&waiting[0]) && out.contains("<cron@example.com>"), "{out}");
    assert!(out.contains("    alice@example.com: waiting in pickup"), "{out}");
    server.spawn();
    let msgs = server.wait_messages("example.com", "alice", 1);
    assert_eq!(msgs.len(), 1, "{}", server.log());
    assert!(msgs[0].starts_with("Return-Path: <cron@example.com>\n"), "{}", msgs[0]);
    server.wait_log("picked up", 1);
    assert!(server.pickup_files().is_empty(), "{:?}", server.pickup_files());
}

#[test]
fn an_unknown_recipient_in_a_pickup_file_is_bounced_to_the_sender() {
    let mut server = Server::start();
    server.kill9();
    let sendmail = server.personality("sendmail");
    let (code, _, err) =
        server.run(&sendmail, &["-f", "alice@example.com", "bob@example.com", "ghost@example.com"], MESSAGE);
    assert_eq!(code, 0, "nobody is there to be told now: {err}");
    server.spawn();
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1, "{}", server.log());
    let bounce = server.wait_messages("example.com", "alice", 1);
    assert_eq!(bounce.len(), 1, "{}", server.log());
    assert!(
        bounce[0].contains("Final-Recipient: rfc822; ghost@example.com\nAction: failed\nStatus: 5.1.1"),
        "{}",
        bounce[0]
    );
    server.wait_log("to=<ghost@example.com>, relay=local", 1);
}

#[test]
fn pickup_directory_missing_or_unwritable_is_a_clear_failure() {
    // Never started: no pickup directory exists yet.
    let server = Server::configure(crate::common::Options::default());
    let sendmail = server.personality("sendmail");
    let (code, _, err) = server.run(&sendmail, &["bob@example.com"], MESSAGE);
    assert_eq!(code, 73, "EX_CANTCREAT: {err}");
    assert!(err.contains("the daemon is not running") && err.contains("pickup"), "{err}");
    assert!(err.contains("carrier serve"), "says how to fix it: {err}");
    // Something that is not a directory (root ignores permission bits, so a file stands in
    // for a directory nobody may write).
    std::fs::write(server.data_dir().join("pickup"), "").unwrap();
    let (code, _, err) = server.run(&sendmail, &["bob@example.com"], MESSAGE);
    assert_eq!(code, 73, "{err}");
    assert!(err.contains("pickup"), "{err}");
}

#[test]
fn recipients_from_headers_with_bcc_removed() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let msg = b"To: Bob <bob@example.com>\nBcc: alice@example.com\nSubject: t\n\nbody\n";
    let (code, _, err) = server.run(&sendmail, &["-t", "-i"], msg);
    assert_eq!(code, 0, "{err}");
    for user in ["bob", "alice"] {
        let msgs = server.wait_messages("example.com", user, 1);
        assert_eq!(msgs.len(), 1, "{user}: {}", server.log());
        assert!(!msgs[0].contains("Bcc") && !msgs[0].contains("alice@example.com\n\n"), "{}", msgs[0]);
        assert!(msgs[0].contains("To: Bob <bob@example.com>\n"), "{}", msgs[0]);
    }
}

/// Issue 15.4: one unknown recipient cost every other recipient their copy (exit 67,
/// nothing sent). As with sendmail and Postfix, the known ones get it, the unknown one is
/// named on stderr and bounced to the sender, and the exit is 0.
#[test]
fn an_unknown_recipient_among_known_ones_is_bounced_and_the_rest_delivered() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let (code, _, err) =
        server.run(&sendmail, &["-f", "alice@example.com", "bob@example.com", "departed@example.com"], MESSAGE);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("<departed@example.com>: User unknown; returned to the sender"), "{err}");
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    let bounce = &server.wait_messages("example.com", "alice", 1)[0];
    assert!(bounce.contains("Final-Recipient: rfc822; departed@example.com"), "{bounce}");
    // With nobody known there is nobody to deliver to: refused as before, nothing queued.
    let (code, _, err) = server.run(&sendmail, &["departed@example.com"], MESSAGE);
    assert_eq!(code, 67, "EX_NOUSER: {err}");
}

#[test]
fn no_recipients_unknown_users_and_bad_data_are_refused_with_sysexits() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let (code, _, err) = server.run(&sendmail, &["-t"], b"Subject: nobody\n\nx\n");
    assert_eq!(code, 64, "EX_USAGE: {err}");
    assert!(err.contains("no recipients") && err.contains("To:"), "{err}");
    let (code, _, err) = server.run(&sendmail, &[], MESSAGE);
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = server.run(&sendmail, &["nosuchuser@example.com"], MESSAGE);
    assert_eq!(code, 67, "EX_NOUSER: {err}");
    assert!(err.contains("<nosuchuser@example.com>: User unknown"), "{err}");
    let (code, _, err) = server.run(&sendmail, &["bob@example.com"], b"Subject: s\n\nnul\0here\n");
    assert_eq!(code, 65, "EX_DATAERR: {err}");
    assert!(err.contains("line 3 contains a NUL byte"), "{err}");
    let (code, _, err) = server.run(&sendmail, &["-Z"], MESSAGE);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("unknown option -Z") && err.contains("usage:"), "{err}");
    // Nothing of these was queued, delivered or left in pickup.
    assert!(server.pickup_files().is_empty());
    assert!(server.messages("example.com", "bob").is_empty());
    assert!(!server.log().contains("from=<"), "{}", server.log());
}

#[test]
fn a_missing_empty_line_and_eight_bit_data_are_handled() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let (code, _, err) = server.run(&sendmail, &["bob@example.com"], b"Subject: s\nthis starts the body\n");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: line 2 does not look like a header field"), "{err}");
    let body = ["Subject: caf\u{e9}\n\nna\u{ef}ve \u{2603} ".as_bytes(), b"\xe9\n"].concat();
    let (code, _, err) = server.run(&sendmail, &["-oi", "-oem", "alice@example.com"], &body);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: option -oem has no effect"), "{err}");
    let bob = server.wait_messages("example.com", "bob", 1);
    assert!(bob[0].contains("Subject: s\n\nthis starts the body\n"), "{}", bob[0]);
    let alice = server.wait_messages("example.com", "alice", 1);
    assert!(alice[0].contains("Subject: caf\u{e9}\n\nna\u{ef}ve \u{2603} \u{fffd}\n"), "latin-1 kept: {}", alice[0]);
}

#[test]
fn a_broken_config_is_ex_config_with_file_and_line() {
    let server = Server::configure(crate::common::Options::default());
    std::fs::write(&server.config, "hostname = \"mx.example.com\"\n[smtp]\nmax_recipents = 5\n").unwrap();
    let (code, _, err) = server.run(&server.personality("sendmail"), &["bob@example.com"], MESSAGE);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("carrier.toml:3") && err.contains("max_recipents"), "{err}");
}

#[test]
fn smtp_on_stdin_with_bs() {
    let server = Server::start();
    let sendmail = server.personality("sendmail");
    let session = b"EHLO me.example\r\nMAIL FROM:<al@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: bs\r\n\r\nover stdio\r\n.\r\n\
                    MAIL FROM:<al@example.org>\r\nRCPT TO:<ghost@example.com>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n";
    let (code, out, err) = server.run(&sendmail, &["-bs"], session);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("220 mx.example.com"), "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    assert!(out.contains("550 5.1.1 <ghost@example.com>: User unknown"), "{out}");
    assert!(out.ends_with("221 2.0.0 Bye\r\n") || out.contains("221 "), "{out}");
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert!(msgs[0].contains("Received: from me.example (uid "), "{}", msgs[0]);
    assert!(msgs[0].contains("with ESMTP id"), "{}", msgs[0]);
}

#[test]
fn carrier_sendmail_subcommand_and_newaliases() {
    let mut server = Server::configure(crate::common::Options {
        top: "aliases = \"aliases\"".into(),
        ..crate::common::Options::default()
    });
    std::fs::write(server.dir.path().join("aliases"), "team: bob, alice\n").unwrap();
    server.spawn();
    let (code, _, err) = server.cli(&["sendmail", "-i", "team@example.com"], std::str::from_utf8(MESSAGE).unwrap());
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    assert_eq!(server.wait_messages("example.com", "alice", 1).len(), 1);
    let (code, out, err) = server.run(&server.personality("newaliases"), &[], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 aliases, no loops"), "{out}");
    std::fs::write(server.dir.path().join("aliases"), "a: b\nb: a\n").unwrap();
    let (code, _, err) = server.run(&server.personality("sendmail"), &["-bi"], b"");
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("loop"), "{err}");
}

#[test]
fn s_nail_sends_through_the_sendmail_symlink() {
    require("s-nail");
    let mut server = Server::start();
    let sendmail = server.personality("sendmail");
    let mta = format!("mta={}", sendmail.display());
    let (config, home) = (server.config.clone(), server.dir.path().to_path_buf());
    let send = |subject: &str| {
        use std::io::Write;
        let mut child = Command::new("s-nail")
            .args(["-:/", "-S", &mta, "-S", "sendwait", "-s", subject, "bob@example.com"])
            .env("CARRIER_CONFIG", &config)
            .env("HOME", &home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"written with s-nail\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "s-nail failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    send("daemon up");
    let msgs = server.wait_messages("example.com", "bob", 1);
    assert!(msgs[0].contains("Subject: daemon up") && msgs[0].contains("written with s-nail"), "{}", msgs[0]);
    server.kill9();
    send("daemon down");
    assert_eq!(server.pickup_files().len(), 1);
    server.spawn();
    let msgs = server.wait_messages("example.com", "bob", 2);
    assert_eq!(msgs.len(), 2, "{}", server.log());
    assert!(msgs.iter().any(|m| m.contains("Subject: daemon down")), "{msgs:?}");
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// carrier under `name` (`carrier`, `mailq`, `sendmail`) where nobody may run it: the build
/// directory can sit below one only root may enter, so a copy goes into the test directory.
fn nobody_bin(server: &Server, name: &str) -> std::path::PathBuf {
    let dir = server.dir.path().join("nobody-bin");
    crate::common::binary_copy(&dir);
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink("carrier", &link).unwrap();
    }
    link
}

/// Runs `program args...` as the unprivileged user nobody, with this server's config; the
/// test directory is opened up so that nobody can reach the config and the control socket.
fn run_as_nobody(server: &Server, program: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let out =
        Command::new(program).args(args).env("CARRIER_CONFIG", &server.config).uid(65534).gid(65534).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Issue 14.4: every local user could list the queue (everyone's senders and recipients),
/// flush it and read the status through the daemon. Now only root, carrier's user and
/// `authorized_mailq_users` may; sending stays open to all.
#[test]
fn only_authorized_users_may_see_the_queue_through_the_daemon() {
    if !is_root() {
        eprintln!("only_authorized_users_may_see_the_queue_through_the_daemon: skipped, needs root to run as nobody");
        return;
    }
    let server = Server::start();
    let mailq = nobody_bin(&server, "mailq");
    let (code, _, err) = run_as_nobody(&server, &mailq, &[]);
    assert_eq!(code, 77, "{err}");
    assert!(err.contains("authorized_mailq_users"), "{err}");
    let (code, _, err) = run_as_nobody(&server, &nobody_bin(&server, "carrier"), &["status"]);
    assert_eq!(code, 77, "{err}");
    let (code, _, err) = run_as_nobody(&server, &nobody_bin(&server, "sendmail"), &["-q"]);
    assert_eq!(code, 77, "{err}");
    server.wait_log("LIST refused to uid 65534", 1);
    // root may.
    let (code, out, err) = server.run(&mailq, &[], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Mail queue is empty"), "{out}");

    let server = Server::start_with(crate::common::Options {
        top: "authorized_mailq_users = [\"nobody\"]".into(),
        ..crate::common::Options::default()
    });
    let (code, out, err) = run_as_nobody(&server, &nobody_bin(&server, "mailq"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Mail queue is empty"), "{out}");
}

/// Issue 14.3: a local user could make the daemon buffer any number of payloads. Now one
/// uid holds at most 16 control connections, and payloads share `smtp.max_message_memory`.
#[test]
fn a_local_user_cannot_exhaust_the_daemon_through_the_control_socket() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let server = Server::start_with(crate::common::Options {
        sections:
            "[smtp]\nmax_message_size = \"512K\"\nmax_message_memory = \"1M\"\n[imap]\nmax_message_size = \"512K\"\n"
                .into(),
        ..crate::common::Options::default()
    });
    let socket = server.data_dir().join("control");
    // One submission holds 600 KB of the 1 MiB while its payload trickles in...
    let mut first = UnixStream::connect(&socket).unwrap();
    first.write_all(b"SUBMIT 600000\n").unwrap();
    first.write_all(&[b'x'; 1000]).unwrap();
    // (a settling wait so the daemon has read the request line; nothing is timed)
    std::thread::sleep(std::time::Duration::from_millis(500));
    // ...so a second one does not fit: it is read, dropped and answered "try again later",
    // and sendmail would leave it in the pickup directory.
    let mut second = UnixStream::connect(&socket).unwrap();
    second.write_all(b"SUBMIT 600000\n").unwrap();
    second.write_all(&vec![b'y'; 600_000]).unwrap();
    let mut answer = [0u8; 200];
    let n = second.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("ERR 75 the server is short of memory"), "{answer}");
    drop(first);

    if !is_root() {
        eprintln!(
            "a_local_user_cannot_exhaust_the_daemon_through_the_control_socket: per-uid part skipped, needs root"
        );
        return;
    }
    // nobody's 17th connection is turned away; each of the 16 is known to be held because
    // it was answered (FLUSH is refused to nobody, which keeps the connection open).
    let script = r#"
import socket, sys
held = []
for i in range(16):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)
    s.sendall(b"FLUSH\n"); assert s.recv(200).startswith(b"ERR 77"), i
    held.append(s)
x = socket.socket(socket.AF_UNIX); x.connect(sys.argv[1]); x.settimeout(30)
print(x.recv(200).decode())
"#;
    let (code, out, err) =
        run_as_nobody(&server, std::path::Path::new("python3"), &["-c", script, socket.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ERR 75 uid 65534 has 16 connections open"), "{out}");
    server.wait_log("control socket: uid 65534 already has 16 connections; refused", 1);
}

/// Issue 15.9: `sendmail -bv` says what each recipient resolves to (mailbox, alias, MX) and
/// `-bt` prints the route, both without sending anything; -bv exits as sendmail does.
#[test]
fn bv_verifies_and_bt_prints_routes_without_sending() {
    let dns = crate::common::dns::FakeDns::start();
    dns.mx("remote.example", 10, "mx1.remote.example");
    dns.mx("remote.example", 20, "mx2.remote.example");
    dns.a("mx1.remote.example", "192.0.2.1");
    dns.a("mx2.remote.example", "192.0.2.2");
    dns.null_mx("nomail.example");
    let server = Server::configure(crate::common::Options {
        top: "aliases = \"aliases\"".into(),
        sections: dns.config(),
        ..crate::common::Options::default()
    });
    std::fs::write(server.dir.path().join("aliases"), "team: bob, carol@remote.example\na: b\nb: a\n").unwrap();
    let sendmail = server.personality("sendmail");
    let maildir = server.maildir("example.com", "bob");
    let (code, out, err) = server.run(&sendmail, &["-bv", "team@example.com", "alice+lists@example.com"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "team@example.com... aliased to bob@example.com, carol@remote.example\n\
             bob@example.com... deliverable: mailer local, user bob@example.com, maildir {}\n\
             carol@remote.example... deliverable: mailer esmtp, host mx1.remote.example, user carol@remote.example\n\
             alice+lists@example.com... deliverable: mailer local, user alice@example.com, maildir {}\n",
            maildir.display(),
            server.maildir("example.com", "alice").display()
        )
    );
    // The worst verdict is the exit status: a user nobody has is 67 (EX_NOUSER).
    let (code, out, err) =
        server.run(&sendmail, &["-bv", "ghost@example.com", "a@example.com", "x@nomail.example"], b"");
    assert_eq!(code, 67, "{out}{err}");
    assert!(out.contains("ghost@example.com... User unknown\n"), "{out}");
    assert!(out.contains("a@example.com... alias loop: a -> b -> a\n"), "{out}");
    assert!(out.contains("x@nomail.example... Host unknown: Domain nomail.example does not accept mail (null MX)"));
    let (code, _, _) = server.run(&sendmail, &["-bv", "x@nomail.example"], b"");
    assert_eq!(code, 68, "EX_NOHOST");

    // -bt: addresses from stdin (a sendmail ruleset list in front is skipped), every host in order.
    let (code, out, err) = server.run(&sendmail, &["-bt"], b"3,0 team@example.com\n\n# a comment\nbob\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "team@example.com\n  alias, expands to bob@example.com, carol@remote.example\n  \
             bob@example.com: local delivery into {m}\n  \
             carol@remote.example: relay over SMTP, port 25, trying in order:\n    \
             mx1.remote.example [192.0.2.1]\n    mx2.remote.example [192.0.2.2]\n\
             bob@mx.example.com\n  bob@example.com: local delivery into {m}\n",
            m = maildir.display()
        )
    );
    // Nothing was queued or delivered.
    assert!(server.pickup_files().is_empty() && !server.data_dir().join("spool").exists());
}
