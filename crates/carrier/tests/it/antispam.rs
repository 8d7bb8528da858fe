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
