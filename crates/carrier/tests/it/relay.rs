//! Outbound relay against a fake DNS server and SMTP sinks on other loopback addresses:
//! MX routing, fallbacks, failover, retries, expiry, bounces and loops.

use crate::common::dns::FakeDns;
use crate::common::sink::{Sink, common_port};
use crate::common::{Options, Server};
use std::time::Duration;

/// A carrier that relays for loopback clients, resolves through `dns`, reaches MX hosts on
/// `port`, and retries after a second.
fn relay_server(dns: &FakeDns, port: u16, delivery: &str) -> Server {
    Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n{delivery}\n", dns.config()),
        ..Options::default()
    })
}

/// `domain`'s one MX host, `mx.<domain>`, at `ip`.
fn mx_at(dns: &FakeDns, domain: &str, ip: &str) {
    dns.mx(domain, 10, &format!("mx.{domain}"));
    dns.a(&format!("mx.{domain}"), ip);
}

/// A port on `ip` where nothing listens: a remote that is down (for now).
fn down_port(ip: &str) -> u16 {
    common_port(&[ip]).0
}

/// A sink listening on `ip`, and its port.
fn sink_at(ip: &str) -> (Sink, u16) {
    let (port, mut listeners) = common_port(&[ip]);
    (Sink::on(listeners.remove(0)), port)
}

const MESSAGE: &str = "From: alice@example.com\r\nSubject: relay test\r\n\r\nHello over there.\r\n";

/// The DSN in alice's mailbox, once it arrives.
fn bounce_for_alice(server: &Server) -> String {
    let msgs = server.wait_messages("example.com", "alice", 1);
    assert_eq!(msgs.len(), 1, "no bounce arrived; log:\n{}", server.log());
    msgs[0].clone()
}

#[test]
fn two_recipients_of_one_domain_travel_in_one_transaction() {
    let dns = FakeDns::start();
    let (sink, port) = sink_at("127.0.0.2");
    mx_at(&dns, "remote.example", "127.0.0.2");
    let server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["bob@remote.example", "carol@remote.example"], MESSAGE).expect(250);
    let got = sink.wait(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    assert_eq!(got[0].from, "alice@example.com");
    assert_eq!(got[0].to, ["bob@remote.example", "carol@remote.example"]);
    assert!(got[0].data.starts_with("Received: from client.example"), "{}", got[0].data);
    assert!(got[0].data.contains("by mx.example.com (carrier) with ESMTP id"));
    assert!(got[0].data.ends_with("Hello over there.\r\n"));
    server.wait_log("relay=mx.remote.example[127.0.0.2]:", 2);
    server.wait_log("stat=Sent (250 2.0.0 Ok: queued as SINK1)", 2);
    server.wait_log(": removed", 1);
    // A second message reuses the connection kept from the first.
    server.send_mail("alice@example.com", &["bob@remote.example"], MESSAGE).expect(250);
    let got = sink.wait(2);
    assert_eq!(got.len(), 2);
    assert_eq!(sink.connections(), 1, "the idle connection was not reused");
}

#[test]
fn a_domain_without_mx_is_reached_at_its_address() {
    let dns = FakeDns::start();
    let (sink, port) = sink_at("127.0.0.2");
    dns.a("plain.example", "127.0.0.2");
    let server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["dan@plain.example"], MESSAGE).expect(250);
    assert_eq!(sink.wait(1).len(), 1, "{}", server.log());
    server.wait_log("relay=plain.example[127.0.0.2]:", 1);
}

#[test]
fn null_mx_bounces_at_once() {
    let dns = FakeDns::start();
    dns.null_mx("nomail.example");
    let server = relay_server(&dns, 25, "");
    server.send_mail("alice@example.com", &["x@nomail.example"], MESSAGE).expect(250);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Action: failed\nStatus: 5.1.10\n"), "{dsn}");
    assert!(dsn.contains("does not accept mail (null MX)"), "{dsn}");
    assert!(dsn.contains("Return-Path: <>"), "{dsn}");
    server.wait_log("dsn=5.1.10, stat=Bounced: Domain nomail.example does not accept mail (null MX)", 1);
    server.wait_log("sender non-delivery notification:", 1);
}

#[test]
fn an_unknown_domain_bounces_and_a_dns_failure_defers() {
    let dns = FakeDns::start();
    dns.servfail("broken.example");
    let server = relay_server(&dns, 25, "");
    server.send_mail("alice@example.com", &["x@nowhere.example"], MESSAGE).expect(250);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Status: 5.1.2"), "{dsn}");
    assert!(dsn.contains("Host or domain name not found"), "{dsn}");
    server.send_mail("alice@example.com", &["y@broken.example"], MESSAGE).expect(250);
    server.wait_log("dsn=4.4.3, stat=Deferred: Host or domain name not found", 1);
}

#[test]
fn the_next_mx_is_tried_when_the_best_is_down_and_equal_ones_share_the_load() {
    let dns = FakeDns::start();
    let (port, listeners) = common_port(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    let mut listeners = listeners.into_iter();
    let (a, b) = (Sink::on(listeners.next().unwrap()), Sink::on(listeners.next().unwrap()));
    drop(listeners); // nothing listens on 127.0.0.4: connection refused
    dns.mx("failover.example", 10, "dead.failover.example");
    dns.mx("failover.example", 20, "busy.failover.example");
    dns.mx("failover.example", 30, "live.failover.example");
    dns.a("dead.failover.example", "127.0.0.4");
    // busy's name is a CNAME (followed by the resolver) to a host that greets with 421.
    dns.cname("busy.failover.example", "b.hosting.example");
    dns.a("b.hosting.example", "127.0.0.3");
    dns.cname("live.failover.example", "a.hosting.example");
    dns.a("a.hosting.example", "127.0.0.2");
    dns.mx("shared.example", 10, "one.shared.example");
    dns.mx("shared.example", 10, "two.shared.example");
    dns.a("one.shared.example", "127.0.0.2");
    dns.a("two.shared.example", "127.0.0.3");
    let server = relay_server(&dns, port, "");
    b.script(|s| s.greeting = Some("421 4.3.2 busy.failover.example Service not available".into()));
    server.send_mail("alice@example.com", &["x@failover.example"], MESSAGE).expect(250);
    assert_eq!(a.wait(1).len(), 1, "{}", server.log());
    server.wait_log("relay=live.failover.example[127.0.0.2]:", 1);
    b.script(|s| s.greeting = None);
    for _ in 0..30 {
        server.send_mail("alice@example.com", &["y@shared.example"], MESSAGE).expect(250);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while a.delivered().len() + b.delivered().len() < 31 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (na, nb) = (a.delivered().len() - 1, b.delivered().len());
    assert_eq!(na + nb, 30, "{}", server.log());
    assert!(na > 0 && nb > 0, "equal-preference MX hosts were not both used: {na} and {nb}");
}

#[test]
fn deferred_mail_goes_out_when_the_remote_comes_up() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "later.example", "127.0.0.2");
    let server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["x@later.example"], MESSAGE).expect(250);
    server.wait_log(
        &format!("dsn=4.4.1, stat=Deferred: connect to mx.later.example[127.0.0.2]:{port}: Connection refused"),
        1,
    );
    let sink = Sink::start(&format!("127.0.0.2:{port}"));
    assert_eq!(sink.wait(1).len(), 1, "{}", server.log());
    server.wait_log("tries=2, dsn=2.0.0, stat=Sent", 1);
    assert!(server.messages("example.com", "alice").is_empty(), "no bounce for a delivered message");
}

#[test]
fn a_temporary_rcpt_refusal_is_retried_and_a_permanent_one_bounced() {
    let dns = FakeDns::start();
    let (sink, port) = sink_at("127.0.0.2");
    sink.script(|s| {
        s.rcpt.insert("busy@remote.example".into(), "450 4.2.0 Mailbox busy".into());
        s.rcpt.insert("gone@remote.example".into(), "550 5.1.1 <gone@remote.example>: User unknown".into());
    });
    mx_at(&dns, "remote.example", "127.0.0.2");
    let server = relay_server(&dns, port, "");
    let to = ["ok@remote.example", "busy@remote.example", "gone@remote.example"];
    server.send_mail("alice@example.com", &to, MESSAGE).expect(250);
    assert_eq!(sink.wait(1)[0].to, ["ok@remote.example"]);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Final-Recipient: rfc822; gone@remote.example\nAction: failed\nStatus: 5.1.1\n"), "{dsn}");
    assert!(dsn.contains("Remote-MTA: dns; mx.remote.example\n"), "{dsn}");
    assert!(dsn.contains("Diagnostic-Code: smtp; 550 5.1.1 <gone@remote.example>: User unknown"), "{dsn}");
    assert!(dsn.contains("(in reply to RCPT TO command)"), "{dsn}");
    assert!(dsn.contains("Subject: relay test"), "the original header is attached: {dsn}");
    assert!(!dsn.contains("busy@remote.example"), "a deferred recipient is not bounced: {dsn}");
    server.wait_log("to=<busy@remote.example>, relay=mx.remote.example[127.0.0.2]", 1);
    server.wait_log("dsn=4.2.0, stat=Deferred: host mx.remote.example[127.0.0.2] said: 450 4.2.0 Mailbox busy", 1);
    // The mailbox frees up: the retry delivers to busy@ alone.
    sink.script(|s| {
        s.rcpt.remove("busy@remote.example");
    });
    let got = sink.wait(2);
    assert_eq!(got.len(), 2, "{}", server.log());
    assert_eq!(got[1].to, ["busy@remote.example"]);
}

#[test]
fn mail_that_cannot_be_delivered_in_time_bounces() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "down.example", "127.0.0.2");
    let server = relay_server(&dns, port, "max_queue_time = \"2s\"\n");
    server.send_mail("alice@example.com", &["x@down.example"], MESSAGE).expect(250);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Action: failed\nStatus: 4.4.7\n"), "{dsn}");
    assert!(dsn.contains("message expired after"), "{dsn}");
    assert!(dsn.contains("Connection refused"), "the last error is named: {dsn}");
    server.wait_log(": removed", 1);
}

#[test]
fn a_bounce_is_never_bounced() {
    let dns = FakeDns::start();
    dns.null_mx("nomail.example");
    let server = relay_server(&dns, 25, "");
    server.send_mail("", &["x@nomail.example"], MESSAGE).expect(250);
    server.wait_log("sender is <>: no non-delivery notification", 1);
    server.wait_log(": removed", 1);
}

#[test]
fn an_mx_pointing_back_here_is_a_loop_not_a_retry_storm() {
    let dns = FakeDns::start();
    let (port, listeners) = common_port(&["127.0.0.1"]);
    drop(listeners);
    mx_at(&dns, "loop.example", "127.0.0.1");
    let server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        smtp: format!("127.0.0.1:{port}"),
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1s\"]\n", dns.config()),
        ..Options::default()
    });
    server.send_mail("alice@example.com", &["x@loop.example"], MESSAGE).expect(250);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Status: 5.4.6"), "{dsn}");
    assert!(dsn.contains("mail for loop.example loops back to me (MX problem?)"), "{dsn}");
    server.wait_log("add loop.example to `domains` in carrier.toml", 1);
}

#[test]
fn a_remote_greeting_with_our_name_is_a_loop() {
    let dns = FakeDns::start();
    let (sink, port) = sink_at("127.0.0.2");
    sink.script(|s| s.name = Some("mx.example.com".into()));
    mx_at(&dns, "mirror.example", "127.0.0.2");
    let server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["x@mirror.example"], MESSAGE).expect(250);
    let dsn = bounce_for_alice(&server);
    assert!(dsn.contains("Status: 5.4.6"), "{dsn}");
    assert!(dsn.contains("greeted me with my own hostname mx.example.com"), "{dsn}");
    assert!(sink.delivered().is_empty());
}

#[test]
fn too_many_received_fields_is_a_loop() {
    let server = Server::start();
    let mut message = String::new();
    for i in 0..31 {
        message.push_str(&format!(
            "Received: from hop{i}.example by hop{}.example; Tue, 1 Dec 2026 10:00:00 +0000\r\n",
            i + 1
        ));
    }
    message.push_str("Subject: looping\r\n\r\nround and round\r\n");
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    c.cmd("MAIL FROM:<someone@elsewhere.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data(&message).expect_status(554, "5.4.6");
    // The session goes on: a message with fewer hops is accepted.
    c.cmd("MAIL FROM:<someone@elsewhere.example>").expect(250);
    c.cmd("RCPT TO:<bob@example.com>").expect(250);
    c.cmd("DATA").expect(354);
    c.data("Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000\r\nSubject: ok\r\n\r\nfine\r\n").expect(250);
}

#[test]
fn a_message_settled_before_a_crash_but_not_removed_is_removed_at_restart() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "later.example", "127.0.0.2");
    let mut server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["x@later.example"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: connect to", 1);
    server.kill9();
    // As if the remote had accepted it and the kill came between the record and the removal.
    let id = server.queued_ids("alice@example.com").pop().unwrap();
    let path = server.data_dir().join("spool/queue").join(&id);
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, b"0 delivered 250%20ok\n").unwrap();
    server.spawn();
    server.wait_queue_empty(Duration::from_secs(20));
    server.wait_log(&format!("{id}: removed"), 1);
}

#[test]
fn a_restart_during_a_deferral_resumes_it() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "later.example", "127.0.0.2");
    let mut server = relay_server(&dns, port, "");
    server.send_mail("alice@example.com", &["x@later.example", "y@later.example"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: connect to", 2);
    server.restart();
    server.wait_log("recovering 1 queued message(s)", 1);
    let sink = Sink::start(&format!("127.0.0.2:{port}"));
    server.wait_log(": removed", 1);
    std::thread::sleep(Duration::from_millis(1500));
    // Usually one transaction; two if the kill fell between the two recipients' records.
    let mut to: Vec<String> = sink.delivered().into_iter().flat_map(|d| d.to).collect();
    to.sort();
    assert_eq!(to, ["x@later.example", "y@later.example"], "each recipient exactly once:\n{}", server.log());
}

#[test]
fn the_queue_can_be_listed_shown_deleted_and_flushed() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "later.example", "127.0.0.2");
    let mut server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1h\"]\n", dns.config()),
        ..Options::default()
    });
    let (_, empty, _) = server.cli(&["queue", "list"], "");
    assert_eq!(empty, "Mail queue is empty\n");
    server.send_mail("alice@example.com", &["x@later.example"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: connect to", 1);
    // No host of later.example answered: the next message does not knock again for now
    // (Postfix's "delivery temporarily suspended").
    server.send_mail("alice@example.com", &["y@later.example"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: delivery temporarily suspended: connect to", 1);
    let ids = server.queued_ids("alice@example.com");
    assert_eq!(ids.len(), 2, "{}", server.log());

    let (code, list, err) = server.cli(&["queue", "list"], "");
    assert_eq!(code, 0, "{err}");
    for id in &ids {
        assert!(list.contains(id.as_str()), "{list}");
    }
    assert!(list.contains("<alice@example.com>"), "{list}");
    let refused = format!(
        "x@later.example: deferred after 1 attempt, next try in 59m: connect to mx.later.example[127.0.0.2]:{port}: Connection refused"
    );
    assert!(list.contains(&refused), "{list}");
    assert!(list.contains("in 2 messages"), "{list}");
    let (code, mailq, _) = server.run(&server.personality("mailq"), &[], b"");
    assert_eq!((code, mailq.lines().count()), (0, list.lines().count()), "mailq prints the same: {mailq}");
    let (_, bp, _) = server.run(&server.personality("sendmail"), &["-bp"], b"");
    assert_eq!(bp.lines().next(), list.lines().next());

    let (code, show, _) = server.cli(&["queue", "show", &ids[0]], "");
    assert_eq!(code, 0);
    for part in
        ["Sender:    <alice@example.com>", "x@later.example [remote]: deferred", "History:", "Subject: relay test"]
    {
        assert!(show.contains(part), "{part:?} missing in\n{show}");
    }
    let (code, _, err) = server.cli(&["queue", "show", "0G7Q3V8M2K4A01"], "");
    assert_eq!(code, 67, "{err}");
    assert!(err.contains("no such message in the queue"), "{err}");
    let (code, _, err) = server.cli(&["queue", "show", "../etc"], "");
    assert_eq!(code, 64, "{err}");

    let (code, out, _) = server.cli(&["queue", "delete", &ids[0]], "");
    assert_eq!((code, out.trim()), (0, format!("{}: deleted", ids[0]).as_str()));
    // Issue 15.8: the daemon did it, so its log tells the message's whole story.
    let (uid, _) = carrier_accounts::passwd::caller();
    server.wait_log(&format!("{}: removed by queue delete (uid {uid})", ids[0]), 1);
    let (code, _, err) = server.cli(&["queue", "delete", &ids[0]], "");
    assert_eq!(code, 67, "{err}");
    assert!(err.contains(&format!("{}: no such message in the queue", ids[0])), "{err}");
    let (_, list, _) = server.cli(&["queue", "list"], "");
    assert!(!list.contains(ids[0].as_str()) && list.contains(ids[1].as_str()), "{list}");

    // The remote comes back; without a flush the retry would wait an hour.
    let sink = Sink::start(&format!("127.0.0.2:{port}"));
    let (code, out, err) = server.cli(&["queue", "flush"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retried now"), "{out}");
    let got = sink.wait(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    assert_eq!(got[0].to, ["y@later.example"], "the deleted message stays deleted");
    server.wait_log(&format!("{}: removed", ids[1]), 1);

    // delete --all, with the daemon stopped; flush then says the daemon is down.
    mx_at(&dns, "down.example", "127.0.0.3");
    server.send_mail("alice@example.com", &["z@down.example"], MESSAGE).expect(250);
    server.wait_log("to=<z@down.example>", 1);
    server.kill9();
    let (code, out, err) = server.cli(&["queue", "delete", "--all"], "");
    assert_eq!((code, out.trim()), (0, "deleted 1 message(s)"));
    assert!(err.contains(": removed by queue delete (uid ") && err.contains("the daemon is not running"), "{err}");
    let (_, list, _) = server.cli(&["queue", "list"], "");
    assert_eq!(list, "Mail queue is empty\n");
    let (code, _, err) = server.cli(&["queue", "flush"], "");
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("daemon is not running"), "{err}");
}

#[test]
fn the_sender_is_warned_once_of_a_delay() {
    let dns = FakeDns::start();
    let port = down_port("127.0.0.2");
    mx_at(&dns, "slow.example", "127.0.0.2");
    let server = relay_server(&dns, port, "delay_warning = \"1s\"\n");
    server.send_mail("alice@example.com", &["x@slow.example"], MESSAGE).expect(250);
    let warning = bounce_for_alice(&server);
    assert!(warning.contains("Subject: Delayed Mail (still being retried)"), "{warning}");
    assert!(warning.contains("Action: delayed\nStatus: 4.4.7\n"), "{warning}");
    assert!(warning.contains("Connection refused"), "{warning}");
    server.wait_log("stat=Deferred", 3);
    assert_eq!(server.messages("example.com", "alice").len(), 1, "warned only once");
    let sink = Sink::start(&format!("127.0.0.2:{port}"));
    assert_eq!(sink.wait(1).len(), 1, "{}", server.log());
}

#[test]
fn a_destination_whose_hosts_do_not_answer_is_suspended_until_retry_or_flush() {
    let dns = FakeDns::start();
    let (sink, port) = sink_at("127.0.0.2");
    sink.script(|s| s.greeting = Some("421 4.3.2 Service not available, try later".into()));
    mx_at(&dns, "busy.example", "127.0.0.2");
    let server = Server::start_with(Options {
        relay_networks: vec!["127.0.0.0/8".into()],
        sections: format!("{}\n[delivery]\nremote_port = {port}\nretry = [\"1h\"]\n", dns.config()),
        ..Options::default()
    });
    server.send_mail("alice@example.com", &["a@busy.example"], MESSAGE).expect(250);
    server.wait_log("stat=Deferred: host mx.busy.example[127.0.0.2] said: 421 4.3.2", 1);
    assert_eq!(sink.connections(), 1);
    // Until the first retry, other messages to it are deferred without a connection.
    for rcpt in ["b@busy.example", "c@busy.example"] {
        server.send_mail("alice@example.com", &[rcpt], MESSAGE).expect(250);
    }
    server.wait_log("stat=Deferred: delivery temporarily suspended: host mx.busy.example[127.0.0.2] said: 421", 2);
    assert_eq!(sink.connections(), 1, "a suspended destination is not tried");
    // A flush tries it again at once (the administrator may have fixed something).
    sink.script(|s| s.greeting = None);
    let (code, _, err) = server.cli(&["queue", "flush"], "");
    assert_eq!(code, 0, "{err}");
    let mut to: Vec<String> = sink.wait(3).into_iter().flat_map(|d| d.to).collect();
    to.sort();
    assert_eq!(to, ["a@busy.example", "b@busy.example", "c@busy.example"], "{}", server.log());
}

#[test]
fn mail_piling_up_for_a_dead_destination_does_not_hold_up_other_mail() {
    let dns = FakeDns::start();
    let (port, mut listeners) = common_port(&["127.0.0.2", "127.0.0.3"]);
    let alive = Sink::on(listeners.remove(0));
    // dead.example's MX accepts connections and never says a word.
    let silent = listeners.remove(0);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            held.push(conn);
        }
    });
    mx_at(&dns, "alive.example", "127.0.0.2");
    mx_at(&dns, "dead.example", "127.0.0.3");
    let server = relay_server(&dns, port, "");
    // More messages than the relay has slots: before, those waiting for one of dead.example's
    // ten connections kept every slot, and nothing else went out until its timeouts.
    let mut c = server.connect();
    c.cmd("EHLO client.example").expect(250);
    for i in 0..80 {
        c.cmd("MAIL FROM:<alice@example.com>").expect(250);
        c.cmd(&format!("RCPT TO:<m{i}@dead.example>")).expect(250);
        c.cmd("DATA").expect(354);
        c.data(MESSAGE).expect(250);
    }
    server.wait_log("connect from", 1);
    server.send_mail("alice@example.com", &["someone@alive.example"], MESSAGE).expect(250);
    let got = alive.wait(1);
    assert_eq!(got.len(), 1, "mail for alive.example waited behind dead.example:\n{}", server.log());
}
