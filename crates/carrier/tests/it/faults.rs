//! Faults: a full disk, and kill -9 while relaying (at random, and in the middle of a remote
//! transaction). Nothing acknowledged may be lost, and the queue ends empty.

use crate::common::dns::FakeDns;
use crate::common::sink::{Sink, common_port};
use crate::common::{Options, Server};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small tmpfs mounted over a directory, unmounted when dropped. Needs root.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        assert!(ok, "this test mounts a small tmpfs and needs root: {out:?}");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes into `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![b'x'; 64 * 1024];
    loop {
        match f.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("{e}"),
        }
    }
    // Then the last few bytes, so not even a small file fits.
    while f.write_all(b"x").is_ok() {}
}

#[test]
fn a_full_disk_gives_452_loses_nothing_and_recovers() {
    let mut server = Server::configure(Options::default());
    let _fs = Tmpfs::mount(&server.data_dir(), "4m");
    server.add_user("bob@example.com", "bob-secret");
    server.spawn();
    let body = "Subject: before\r\n\r\nfits\r\n";
    server.send_mail("a@elsewhere.example", &["bob@example.com"], body).expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    // Its queue file goes after the delivery: wait, or the room it frees lets one more in.
    server.wait_log(": removed", 1);

    let filler = server.data_dir().join("filler");
    fill(&filler);
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    for _ in 0..3 {
        c.cmd("MAIL FROM:<a@elsewhere.example>").expect(250);
        c.cmd("RCPT TO:<bob@example.com>").expect(250);
        c.cmd("DATA").expect(354);
        c.data("Subject: no room\r\n\r\nno room\r\n").expect_status(452, "4.3.1");
    }
    // The session and the server go on.
    c.cmd("NOOP").expect(250);
    server.wait_log("cannot store message", 3);

    std::fs::remove_file(&filler).unwrap();
    c.cmd("MAIL FROM:<a@elsewhere.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Subject: after\r\n\r\nroom again\r\n").expect(250);
    c.cmd("QUIT").expect(221);
    let msgs = server.wait_messages("example.com", "bob", 2);
    assert_eq!(msgs.len(), 2, "{}", server.log());
    assert!(msgs.iter().any(|m| m.contains("Subject: before")) && msgs.iter().any(|m| m.contains("Subject: after")));
    assert!(!msgs.iter().any(|m| m.contains("no room")), "refused messages are not half-delivered");
    server.kill9();
}

#[test]
fn a_full_disk_during_delivery_defers_and_the_message_arrives_later() {
    let mut server =
        Server::configure(Options { sections: "[delivery]\nretry = [\"1s\"]\n".into(), ..Options::default() });
    let _fs = Tmpfs::mount(&server.data_dir(), "4m");
    server.add_user("bob@example.com", "bob-secret");
    server.spawn();
    server.send_mail("a@elsewhere.example", &["bob@example.com"], "Subject: one\r\n\r\n1\r\n").expect(250);
    server.wait_messages("example.com", "bob", 1);
    // Full, then one page free: enough for the queue file, not for the mailbox's copy too.
    let filler = server.data_dir().join("filler");
    fill(&filler);
    let len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&filler).unwrap().set_len(len - 4096).unwrap();
    server.send_mail("a@elsewhere.example", &["bob@example.com"], "Subject: two\r\n\r\n2\r\n").expect(250);
    server.wait_log("dsn=4.3.0, stat=Deferred: cannot write to mailbox", 1);
    assert_eq!(server.messages("example.com", "bob").len(), 1);
    std::fs::remove_file(&filler).unwrap();
    let msgs = server.wait_messages("example.com", "bob", 2);
    assert_eq!(msgs.len(), 2, "{}", server.log());
    server.kill9();
}

/// Sends `count` messages from one thread; records the tags the server acknowledged.
fn relay_sender(port: u16, worker: usize, count: usize, acked: Arc<Mutex<Vec<String>>>) {
    for i in 0..count {
        let tag = format!("w{worker}m{i}");
        let Some(mut c) = crate::common::Client::try_connect(([127, 0, 0, 1], port).into()) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let ok = (|| {
            c.try_cmd("EHLO client.example")?;
            c.try_cmd("MAIL FROM:<alice@example.com>")?;
            c.try_cmd(&format!("RCPT TO:<{tag}@remote.example>")).filter(|r| r.code == 250)?;
            c.try_cmd("DATA").filter(|r| r.code == 354)?;
            c.try_data(&format!("Subject: {tag}\r\n\r\n{tag}\r\n")).filter(|r| r.code == 250)
        })();
        if ok.is_some() {
            acked.lock().unwrap().push(tag);
        }
    }
}

#[test]
fn kill_9_while_relaying_loses_nothing_acknowledged() {
    let dns = FakeDns::start();
    let (port, mut listeners) = common_port(&["127.0.0.2"]);
    let sink = Sink::on(listeners.remove(0));
    dns.mx("remote.example", 10, "mx.remote.example");
    dns.a("mx.remote.example", "127.0.0.2");
    let mut server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n", dns.config()),
        ..Options::default()
    });
    let acked = Arc::new(Mutex::new(Vec::new()));
    let kills = 4;
    for round in 0..kills {
        let senders: Vec<_> = (0..4)
            .map(|w| {
                let (port, acked) = (server.port, acked.clone());
                std::thread::spawn(move || relay_sender(port, round * 10 + w, 15, acked))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 100 * round as u64));
        server.restart();
        for s in senders {
            s.join().unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "too few messages got through to test anything: {}", acked.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for d in sink.delivered() {
            for to in d.to {
                *counts.entry(to.trim_end_matches("@remote.example").to_string()).or_default() += 1;
            }
        }
        if acked.iter().all(|t| counts.contains_key(t)) || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let missing: Vec<&String> = acked.iter().filter(|t| !counts.contains_key(*t)).collect();
    assert!(missing.is_empty(), "acknowledged but never relayed: {missing:?}\n{}", server.log());
    // RFC 5321 6.1: a kill between the remote's 250 and our record of it sends that message
    // again; at most the messages in flight at each kill (10 connections) can be repeated.
    let repeated = counts.values().filter(|&&n| n > 1).count();
    assert!(repeated <= kills * 10, "{repeated} messages were relayed twice");
    server.wait_queue_empty(Duration::from_secs(30));
}

#[test]
fn a_kill_in_the_middle_of_a_remote_transaction_delivers_each_recipient_once() {
    let dns = FakeDns::start();
    let (port, mut listeners) = common_port(&["127.0.0.2", "127.0.0.3"]);
    let fast = Sink::on(listeners.remove(0));
    let slow = Sink::on(listeners.remove(0));
    slow.script(|s| s.hold_data = Some(Duration::from_secs(60)));
    for (domain, ip) in [("fast.example", "127.0.0.2"), ("slow.example", "127.0.0.3")] {
        dns.mx(domain, 10, &format!("mx.{domain}"));
        dns.a(&format!("mx.{domain}"), ip);
    }
    let mut server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n", dns.config()),
        ..Options::default()
    });
    let message = "Subject: two destinations\r\n\r\nhello\r\n";
    server.send_mail("alice@example.com", &["a@fast.example", "b@slow.example"], message).expect(250);
    assert_eq!(fast.wait(1).len(), 1, "{}", server.log());
    // The fast destination's success is on disk while the slow one still waits for its 354.
    let id = server.queued_ids("alice@example.com").pop().expect("queue id in the log");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, show, _) = server.cli(&["queue", "show", &id], "");
        if show.contains("a@fast.example [remote]: delivered") {
            break;
        }
        assert!(Instant::now() < deadline, "the fast success was not recorded:\n{show}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(slow.connections(), 1);
    server.kill9();
    slow.script(|s| s.hold_data = None);
    server.spawn();
    assert_eq!(slow.wait(1).len(), 1, "{}", server.log());
    server.wait_queue_empty(Duration::from_secs(20));
    let to = |sink: &Sink| sink.delivered().into_iter().flat_map(|d| d.to).collect::<Vec<_>>();
    assert_eq!(to(&fast), ["a@fast.example"], "the recorded success is not sent again");
    assert_eq!(to(&slow), ["b@slow.example"], "the interrupted transaction delivered nothing; the retry once");
}
