//! The SMTP server session: any bytes, in any split, never panic, and every reply is a
//! well-formed reply line. Decisions come from the input too, so every path is reachable.
#![no_main]

use carrier_smtp::{Event, Reply, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let mut session = Session::new(SessionConfig {
        hostname: "mx.example.com".into(),
        max_message_size: 4096,
        max_recipients: 5,
        max_errors: 50,
        starttls: true,
        tls: flags & 1 != 0,
        auth: flags & 2 != 0,
        auth_required: flags & 4 != 0,
        auth_plaintext: flags & 8 != 0,
        max_auth_failures: 3,
    });
    let chunk = 1 + (flags as usize >> 4);
    let mut decide = 0usize;
    'feed: for piece in input.chunks(chunk) {
        session.feed(piece);
        loop {
            decide += 1;
            let yes = input.get(decide % input.len().max(1)).is_some_and(|b| b & 1 == 0);
            match session.next_event() {
                Event::NeedInput => {
                    // As the driver does when memory for messages runs out.
                    if !yes && session.held() > 1024 {
                        session.shed();
                        assert_eq!(session.held(), 0);
                    }
                    break;
                }
                Event::Close => break 'feed,
                Event::Mail { .. } | Event::Rcpt { .. } => {
                    session.answer(if yes { Ok(()) } else { Err(Reply::new(550, "5.7.1", "no")) })
                }
                Event::Message(_) => session.queued(Ok("Q1".into())),
                Event::StartTls => session.tls_established(),
                Event::Auth { .. } => {
                    session.authenticated(if yes { Ok("u@x".into()) } else { Err(Reply::new(535, "5.7.8", "no")) })
                }
            }
            check(&session.take_output());
        }
        check(&session.take_output());
    }
});

fn check(out: &[u8]) {
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit), "bad reply {line:?}");
        assert!(matches!(line[3], b' ' | b'-'), "bad reply {line:?}");
        assert!(line.ends_with(b"\r"), "reply without CRLF {line:?}");
    }
}
