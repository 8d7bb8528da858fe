//! Load and floods: many connections held open, per-address limits, and the server still
//! serving newcomers.

use crate::common::imap::Imap;
use crate::common::{Client, Options, Server};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Lets this test process hold as many sockets as the hard limit allows.
fn raise_open_files() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain calls on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    assert!(lim.rlim_cur >= 2200, "this test needs 2,200 open files; the hard limit is {}", lim.rlim_max);
}

fn greeting(stream: &TcpStream) -> String {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn a_thousand_idle_connections_cost_little_and_newcomers_are_served() {
    raise_open_files();
    let server = Server::start_with(Options {
        sections: "[smtp]\nmax_connections = 1100\nmax_connections_per_ip = 0\n".into(),
        ..Options::default()
    });
    let before = rss_kib(server.pid());
    let mut held = Vec::new();
    for i in 0..1000 {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let line = greeting(&stream);
        assert!(line.starts_with("220 "), "connection {i}: {line}");
        held.push(stream);
    }
    let after = rss_kib(server.pid());
    let per_connection = (after.saturating_sub(before)) * 1024 / 1000;
    assert!(per_connection < 16 * 1024, "{per_connection} bytes of RSS per idle connection ({before} -> {after} KiB)");
    // The 1,001st client gets a normal session and its mail is delivered.
    server
        .send_mail("someone@elsewhere.example", &["bob@example.com"], "Subject: still here\r\n\r\nhi\r\n")
        .expect(250);
    assert_eq!(server.wait_messages("example.com", "bob", 1).len(), 1);
    drop(held);
    server.wait_log("disconnect from localhost[127.0.0.1]", 1000);
}

#[test]
fn one_address_may_not_hold_too_many_connections() {
    let server =
        Server::start_with(Options { sections: "[smtp]\nmax_connections_per_ip = 3\n".into(), ..Options::default() });
    let held: Vec<Client> = (0..3).map(|_| server.connect()).collect();
    let extra = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let line = greeting(&extra);
    assert!(
        line.starts_with("421 4.7.0 mx.example.com Too many connections from your address (3 connections)"),
        "{line}"
    );
    server.wait_log("(smtp.max_connections_per_ip); refused", 1);
    // Closing them frees the slots (once the server has seen the connections end).
    drop(held);
    server.wait_log("disconnect from localhost[127.0.0.1]", 3);
    server.send_mail("someone@elsewhere.example", &["bob@example.com"], "Subject: x\r\n\r\nx\r\n").expect(250);
}

#[test]
fn one_address_may_not_open_connections_too_fast() {
    let server =
        Server::start_with(Options { sections: "[smtp]\nconnection_rate_limit = 5\n".into(), ..Options::default() });
    for _ in 0..5 {
        let mut c = server.connect();
        c.cmd("QUIT").expect(221);
    }
    let extra = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let line = greeting(&extra);
    assert!(line.starts_with("421 4.7.0"), "{line}");
    assert!(line.contains("5 connections in the last minute"), "{line}");
    server.wait_log("(smtp.connection_rate_limit); refused", 1);
}

#[test]
fn relay_networks_are_exempt_from_the_per_address_limits() {
    let server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: "[smtp]\nmax_connections_per_ip = 1\nconnection_rate_limit = 1\n".into(),
        ..Options::default()
    });
    let _held: Vec<Client> = (0..3).map(|_| server.connect()).collect();
    server.send_mail("someone@example.com", &["bob@example.com"], "Subject: x\r\n\r\nx\r\n").expect(250);
}

/// A flood of deliveries into one mailbox does not starve a user reading it: every command of
/// an IMAP session working through the flood is answered, and the session ends up seeing
/// every message. (No timing is asserted: the client's 30-second read timeout is the bound.)
#[test]
fn imap_stays_responsive_while_a_mailbox_is_flooded() {
    let server =
        Server::start_with(Options { sections: "[smtp]\nmax_connections_per_ip = 0\n".into(), ..Options::default() });
    let (senders, each) = (4, 40);
    let mut imap = Imap::connect_tls(server.imaps_port, &server.cert_path());
    imap.login("bob@example.com", "bob-secret").expect("OK");
    imap.cmd("SELECT INBOX").expect("OK");
    let port = server.port;
    let flood: Vec<_> = (0..senders)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.cmd("EHLO flood.example").expect(250);
                for i in 0..each {
                    c.cmd("MAIL FROM:<flood@elsewhere.example>").expect(250);
                    c.cmd("RCPT TO:<bob@example.com>").expect(250);
                    c.cmd("DATA").expect(354);
                    c.data(&format!("Subject: flood {t}-{i}\r\n\r\nbody\r\n")).expect(250);
                }
            })
        })
        .collect();
    let mut rounds = 0;
    while flood.iter().any(|f| !f.is_finished()) {
        imap.cmd("NOOP").expect("OK");
        imap.cmd("UID FETCH 1:* (FLAGS)").expect("OK");
        imap.cmd("SEARCH UNSEEN").expect("OK");
        rounds += 1;
    }
    for f in flood {
        f.join().unwrap();
    }
    assert!(rounds > 0);
    let total = senders * each;
    server.wait_messages("example.com", "bob", total);
    let status = imap.cmd("STATUS INBOX (MESSAGES)").expect("OK");
    assert!(status.lines("STATUS").iter().any(|l| l.contains(&format!("MESSAGES {total}"))), "{status:?}");
    let fetch = imap.cmd("FETCH 1:* (UID)").expect("OK");
    assert_eq!(fetch.lines("").iter().filter(|l| l.contains("FETCH")).count(), total, "{:?}", fetch.untagged.len());
}

/// `n` octets of message content in lines of 1,000 (CRLF included).
fn content(n: usize) -> String {
    let line = "x".repeat(998) + "\r\n";
    let mut body = "Subject: big\r\n\r\n".to_string();
    while body.len() + line.len() <= n {
        body.push_str(&line);
    }
    body
}

fn start_transaction(c: &mut crate::common::Client, to: &str) {
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<alice@example.com>").expect(250);
    c.cmd(&format!("RCPT TO:<{to}>")).expect(250);
}

#[test]
fn messages_arriving_at_once_cannot_take_more_memory_than_allowed() {
    // IMAP APPENDs share the cap, so theirs must fit in it too.
    let sections =
        "[smtp]\nmax_message_size = \"1M\"\nmax_message_memory = \"1M\"\n[imap]\nmax_message_size = \"1M\"\n";
    let server = Server::start_with(Options { sections: sections.into(), ..Options::default() });
    let big = content(900_000);
    // A holds 900 KB: its first BDAT chunk is answered only once the server has read it all.
    let mut a = server.connect();
    start_transaction(&mut a, "bob@example.com");
    a.raw(format!("BDAT {}\r\n{big}", big.len()).as_bytes());
    a.reply().expect(250);
    // B's message does not fit beside it: read to the end, refused for now, nothing stored.
    let mut b = server.connect();
    start_transaction(&mut b, "bob@example.com");
    b.cmd("DATA").expect(354);
    let refused = b.data(&big).expect_status(452, "4.3.1");
    assert!(refused.text.contains("try again later"), "{}", refused.text);
    // Nor by BDAT.
    b.cmd("MAIL FROM:<alice@example.com>").expect(250);
    b.cmd("RCPT TO:<bob@example.com>").expect(250);
    b.raw(format!("BDAT {} LAST\r\n{big}", big.len()).as_bytes());
    b.reply().expect_status(452, "4.3.1");
    server.wait_log("(smtp.max_message_memory); refusing the one from localhost[127.0.0.1] with 452 4.3.1", 2);
    // A finishes; its memory is free again, and B's retry in the same session is accepted.
    a.cmd("BDAT 0 LAST").expect(250);
    b.cmd("MAIL FROM:<alice@example.com>").expect(250);
    b.cmd("RCPT TO:<bob@example.com>").expect(250);
    b.cmd("DATA").expect(354);
    b.data(&big).expect(250);
    let delivered = server.wait_messages("example.com", "bob", 2);
    assert_eq!(delivered.len(), 2, "exactly the two accepted messages arrived");
    assert!(delivered.iter().all(|m| m.len() > 880_000), "both whole");
}

#[test]
fn an_imap_append_shares_the_memory_cap_with_smtp() {
    let sections =
        "[smtp]\nmax_message_size = \"1M\"\nmax_message_memory = \"1M\"\n[imap]\nmax_message_size = \"1M\"\n";
    let server = Server::start_with(Options { sections: sections.into(), ..Options::default() });
    let big = content(900_000);
    // An SMTP client holds 900 KB (its BDAT chunk is answered once the server has it all).
    let mut smtp = server.connect();
    start_transaction(&mut smtp, "bob@example.com");
    smtp.raw(format!("BDAT {}\r\n{big}", big.len()).as_bytes());
    smtp.reply().expect(250);
    // An APPEND of the same size does not fit beside it: refused for now, the session goes on.
    let mut imap = Imap::connect_tls(server.imaps_port, &server.cert_path());
    imap.login("bob@example.com", "bob-secret").expect("OK");
    let append = |imap: &mut Imap| {
        let tag = imap.tag();
        imap.raw(format!("{tag} APPEND INBOX {{{}}}\r\n", big.len()).as_bytes());
        let go = imap.line().unwrap();
        assert!(go.starts_with('+'), "{go}");
        imap.raw(format!("{big}\r\n").as_bytes());
        imap.read(&tag)
    };
    let refused = append(&mut imap).expect("NO");
    assert!(refused.done.starts_with("NO [UNAVAILABLE] Too many messages arriving at once"), "{refused:?}");
    imap.cmd("NOOP").expect("OK");
    server.wait_log("(smtp.max_message_memory); refusing an APPEND", 1);
    // Once the SMTP message is in, the APPEND fits.
    smtp.cmd("BDAT 0 LAST").expect(250);
    append(&mut imap).expect("OK");
    server.wait_messages("example.com", "bob", 1);
    let status = imap.cmd("STATUS INBOX (MESSAGES)").expect("OK");
    assert_eq!(status.untagged, ["* STATUS INBOX (MESSAGES 2)"], "the SMTP message and the APPEND, nothing else");
}

/// A TCP connection to `port` on 127.0.0.1 from the source address `from` (another loopback
/// "host").
fn connect_from(from: &str, port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    stream
}

/// Issue 14.2: 1,000 connections from one address that never log in took every IMAP and POP3
/// slot, locking everyone else out. Now each address holds at most `max_connections_per_ip`
/// connections that have not logged in, and a second address is served.
#[test]
fn a_flood_from_one_address_does_not_lock_out_another() {
    raise_open_files();
    let server = Server::start_with(Options {
        sections: "[imap]\nmax_connections = 1000\n[pop3]\nmax_connections = 1000\n".into(),
        ..Options::default()
    });
    for (port, ok, refused) in [
        (server.imap_port, "* OK", "* BYE [UNAVAILABLE] Too many connections from your address"),
        (server.pop3_port, "+OK", "-ERR [SYS/TEMP] Too many connections from your address"),
    ] {
        let mut held = Vec::new();
        let (mut admitted, mut turned_away) = (0, 0);
        for i in 0..1000 {
            let stream = connect_from("127.0.0.1", port);
            let line = greeting(&stream);
            match line {
                _ if line.starts_with(ok) => admitted += 1,
                _ if line.starts_with(refused) => turned_away += 1,
                _ => panic!("connection {i}: {line}"),
            }
            held.push(stream);
        }
        // The default imap/pop3.max_connections_per_ip.
        assert_eq!((admitted, turned_away), (50, 950));
        let newcomer = connect_from("127.0.0.2", port);
        assert!(greeting(&newcomer).starts_with(ok));
    }
    server.wait_log("(imap.max_connections_per_ip); refused", 1);
    server.wait_log("(pop3.max_connections_per_ip); refused", 1);
}

/// Issue 14.2: `login_timeout` ran from the last byte received, so a client sending one byte
/// now and then kept its connection forever. It now runs from the connection.
#[test]
fn a_client_trickling_bytes_is_still_cut_off_at_the_login_deadline() {
    let server = Server::start_with(Options {
        sections: "[imap]\nlogin_timeout = \"2s\"\n[pop3]\nlogin_timeout = \"2s\"\n".into(),
        ..Options::default()
    });
    for port in [server.imap_port, server.pop3_port] {
        let mut stream = connect_from("127.0.0.1", port);
        greeting(&stream);
        let mut closed = false;
        // Ten seconds of a byte every half second: five times the deadline, as an upper bound.
        for _ in 0..20 {
            if std::io::Write::write_all(&mut stream, b"x").is_err() {
                closed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut rest);
        assert!(closed || rest.contains("BYE") || rest.contains("-ERR"), "still open: {rest:?}");
    }
}

/// Issue 14.2: on 993 and 995 nothing may be said before the TLS handshake: a connection
/// over the per-address limit is closed without a word in plain text.
#[test]
fn implicit_tls_ports_refuse_without_a_plain_text_word() {
    let server = Server::start_with(Options {
        sections: "[imap]\nmax_connections_per_ip = 2\n[pop3]\nmax_connections_per_ip = 2\n".into(),
        ..Options::default()
    });
    for (plain, tls) in [(server.imap_port, server.imaps_port), (server.pop3_port, server.pop3s_port)] {
        let held: Vec<TcpStream> = (0..2).map(|_| connect_from("127.0.0.1", plain)).collect();
        // Greeted: both hold their places before the next connection arrives.
        held.iter().for_each(|c| assert!(!greeting(c).is_empty()));
        let mut extra = connect_from("127.0.0.1", tls);
        let mut said = Vec::new();
        // Closed at once: end of stream, not the 30-second read timeout.
        std::io::Read::read_to_end(&mut extra, &mut said).expect("closed without a word");
        assert!(said.is_empty(), "said before the handshake: {:?}", String::from_utf8_lossy(&said));
    }
}
