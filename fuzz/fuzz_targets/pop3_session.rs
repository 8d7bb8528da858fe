//! The POP3 session on any bytes: never panics, every line it writes ends in CRLF.
#![no_main]

use carrier_pop3::{Config, Event, Message, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let mut session = Session::new(Config {
        hostname: "mx.example.com".into(),
        tls: flags & 1 != 0,
        starttls: true,
        plaintext: flags & 2 != 0,
        max_errors: 20,
        max_auth_failures: 3,
    });
    let maildrop = vec![
        Message { uid: 1, size: 20, uidl: "a1".into() },
        Message { uid: 2, size: 30, uidl: "a2".into() },
    ];
    'feed: for piece in input.chunks(1 + (flags as usize >> 2)) {
        session.feed(piece);
        loop {
            match session.next_event() {
                Event::NeedInput => break,
                Event::Close => break 'feed,
                Event::StartTls => session.tls_established(),
                Event::Auth { password, .. } => session.login(if password == "right" {
                    Ok(maildrop.clone())
                } else {
                    Err(carrier_pop3::LoginFailure::Credentials)
                }),
                Event::Retrieve { .. } => session.message(Ok(b"Subject: x\n\n.line\nbody\n".to_vec())),
                Event::Commit { .. } => session.committed(Ok(())),
            }
            let out = session.take_output();
            assert!(out.is_empty() || out.ends_with(b"\r\n"), "{out:?}");
        }
    }
});
