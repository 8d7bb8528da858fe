//! The cheap defences (issue 17.3, 17.4): DNS block and allow lists against a DNS server on
//! loopback, and hourly limits per client address and per authenticated user.

use crate::common::dns::FakeDns;
use crate::common::{Client, Options, Server};
use std::io::{BufRead, BufReader};

/// The greeting a new connection gets, and whether the server then closed it.
fn greeting(server: &Server) -> String {
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

fn listing(dns: &FakeDns) {
    // RFC 5782 2.1: 127.0.0.1 looked up as 1.0.0.127.<zone>.
    dns.a("1.0.0.127.bl.example", "127.0.0.2");
    dns.txt("1.0.0.127.bl.example", "Listed for sending spam; see https://bl.example/lookup?127.0.0.1");
    dns.a("1.0.0.127.wl.example", "127.0.10.3");
}

#[test]
fn a_listed_client_is_refused_with_the_lists_words_unless_allow_lists_outweigh_it() {
    let dns = FakeDns::start();
    listing(&dns);
    let server = Server::start_with(Options {
        sections: format!("{}\n[antispam]\ndnsbl = [\"bl.example\", \"clean.example\"]\n", dns.config()),
        ..Options::default()
    });
    let line = greeting(&server);
    assert!(
        line.starts_with("554 5.7.1 mx.example.com Service unavailable; client [127.0.0.1] blocked using bl.example; Listed for sending spam"),
        "{line}"
    );
    server.wait_log("reject: localhost[127.0.0.1] is listed by bl.example (score 1, threshold 1); refused", 1);
    // Weighed: an allow list that names the client outweighs the block list.
    let server = Server::start_with(Options {
        sections: format!("{}\n[antispam]\ndnsbl = [\"bl.example*2\", \"wl.example*-5\"]\n", dns.config()),
        ..Options::default()
    });
    assert!(greeting(&server).starts_with("220 "));
    // Relay networks are never asked about.
    let server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[antispam]\ndnsbl = [\"bl.example\"]\n", dns.config()),
        ..Options::default()
    });
    assert!(greeting(&server).starts_with("220 "));
}

#[test]
fn hourly_limits_per_client_address_and_per_user_answer_451() {
    use base64::Engine;
    let server = Server::start_with(Options {
        sections: "[submission]\nplaintext_loopback = true\n\
                   [antispam]\nmessages_per_hour_per_ip = 2\nrecipients_per_hour_per_user = 3\n"
            .into(),
        ..Options::default()
    });
    // Port 25: two messages from this address in the hour, then 451 4.7.1 at MAIL.
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    for _ in 0..2 {
        c.cmd("MAIL FROM:<a@elsewhere.example>").expect(250);
        c.cmd("RSET").expect(250);
    }
    let r = c.cmd("MAIL FROM:<a@elsewhere.example>").expect_status(451, "4.7.1");
    assert!(r.text.contains("Too many messages from this address"), "{}", r.text);
    server.wait_log("rate limit: address 127.0.0.1 has sent its messages for this hour", 1);
    // A user: three recipients in the hour, across messages, then 451 at RCPT; the
    // session and the other limit are unaffected.
    let mut c = Client::connect(server.submission_port);
    c.cmd("EHLO client.example").expect(250);
    let login = base64::engine::general_purpose::STANDARD.encode("\0bob@example.com\0bob-secret");
    c.cmd(&format!("AUTH PLAIN {login}")).expect(235);
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    for rcpt in ["alice@example.com", "bob@example.com"] {
        c.cmd(&format!("RCPT TO:<{rcpt}>")).expect(250);
    }
    c.cmd("RSET").expect(250);
    c.cmd("MAIL FROM:<bob@example.com>").expect(250);
    c.cmd("RCPT TO:<carol@remote.example>").expect(250);
    c.cmd("RCPT TO:<dave@remote.example>").expect_status(451, "4.7.1");
    c.cmd("NOOP").expect(250);
    server.wait_log("rate limit: user bob@example.com has sent its recipients for this hour", 1);
}

#[test]
fn greylisting_delays_a_first_sender_and_remembers_a_passed_network_across_a_restart() {
    let mut server = Server::start_with(Options {
        sections: "[antispam]\ngreylisting = true\ngreylist_delay = \"1s\"\n".into(),
        ..Options::default()
    });
    let attempt = |server: &Server, sender: &str| {
        let mut c = server.connect();
        c.cmd("EHLO client.example").expect(250);
        c.cmd(&format!("MAIL FROM:<{sender}>")).expect(250);
        c.cmd("RCPT TO:<bob@example.com>")
    };
    let first = attempt(&server, "a@elsewhere.example").expect_status(451, "4.7.1");
    assert!(first.text.contains("Greylisted"), "{}", first.text);
    // Too soon: still waiting.
    attempt(&server, "a@elsewhere.example").expect_status(451, "4.7.1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    attempt(&server, "a@elsewhere.example").expect(250);
    // The network is trusted now, also after a crash and restart.
    server.kill9();
    server.restart();
    attempt(&server, "someone-new@other.example").expect(250);
}
