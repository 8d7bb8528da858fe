//! Parser micro-benchmarks: SMTP commands, a whole SMTP session's worth of input through the
//! sans-IO core (commands and a 1 KiB DATA), POP3 commands and POP3's message encoding, IMAP
//! commands and the MIME structure IMAP computes for ENVELOPE, BODYSTRUCTURE and SEARCH.
//! `cargo bench --manifest-path bench/Cargo.toml --bench parsers`.

use carrier_smtp::{Event, Session, SessionConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn smtp_config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.example.com".into(),
        max_message_size: 25 << 20,
        max_recipients: 100,
        max_errors: 20,
        starttls: true,
        tls: false,
        auth: false,
        auth_required: false,
        auth_plaintext: false,
        max_auth_failures: 3,
    }
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: <a@client.example>\r\nTo: <bob@example.com>\r\nSubject: hello\r\n\r\n".to_vec();
    while m.len() < size {
        m.extend_from_slice(b"line of text that is about seventy characters long for the benchmark ok\r\n");
    }
    m.extend_from_slice(b".\r\n");
    m
}

/// Drives a session through one pipelined transaction, accepting every decision.
fn transaction(input: &[u8]) -> usize {
    let mut s = Session::new(smtp_config());
    s.feed(input);
    let mut messages = 0;
    loop {
        match s.next_event() {
            Event::NeedInput | Event::Close => break,
            Event::Mail { .. } | Event::Rcpt { .. } => s.answer(Ok(())),
            Event::Message(tx) => {
                messages += tx.message.len();
                s.queued(Ok("Q1".into()));
            }
            Event::Auth { .. } | Event::StartTls => break,
        }
    }
    black_box(s.take_output());
    messages
}

fn smtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp");
    for line in
        [&b"MAIL FROM:<sender@client.example> SIZE=1024 BODY=8BITMIME\r\n"[..], b"RCPT TO:<bob@example.com>\r\n"]
    {
        let name = String::from_utf8_lossy(&line[..4]).to_lowercase();
        g.bench_function(format!("parse {name}"), |b| b.iter(|| carrier_smtp::command::parse(black_box(line))));
    }
    let mut input =
        b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n".to_vec();
    input.extend_from_slice(&message(1024));
    input.extend_from_slice(b"QUIT\r\n");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("session: EHLO, MAIL, RCPT, DATA 1 KiB, QUIT", |b| b.iter(|| transaction(black_box(&input))));
    let mut big =
        b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n".to_vec();
    big.extend_from_slice(&message(1 << 20));
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("session: DATA 1 MiB", |b| b.iter(|| transaction(black_box(&big))));
    g.finish();
}

fn pop3(c: &mut Criterion) {
    let mut g = c.benchmark_group("pop3");
    g.bench_function("parse RETR", |b| b.iter(|| carrier_pop3::command::parse(black_box(b"RETR 4321\r\n"))));
    let stored: Vec<u8> = message(1024).into_iter().filter(|&b| b != b'\r').collect();
    g.throughput(Throughput::Bytes(stored.len() as u64));
    g.bench_function("encode 1 KiB message for RETR", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(2048);
            carrier_pop3::body::encode(black_box(&stored), None, &mut out);
            out
        })
    });
    g.finish();
}

fn imap(c: &mut Criterion) {
    let mut g = c.benchmark_group("imap");
    for line in [
        &b"a3 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])\r\n"[..],
        b"a4 UID SEARCH SUBJECT \"bench message\" SINCE 1-Jan-2025 NOT DELETED\r\n",
        b"a5 SELECT INBOX (CONDSTORE)\r\n",
    ] {
        let name = String::from_utf8_lossy(&line[3..line.len() - 2]).split(' ').take(2).collect::<Vec<_>>().join(" ");
        g.bench_function(format!("parse {name}"), |b| b.iter(|| carrier_imap::parser::parse(black_box(line))));
    }
    let msg = message(4096);
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("MIME structure of a 4 KiB message", |b| {
        b.iter(|| carrier_imap::structure::parse(black_box(&msg)))
    });
    g.finish();
}

criterion_group!(benches, smtp, pop3, imap);
criterion_main!(benches);
