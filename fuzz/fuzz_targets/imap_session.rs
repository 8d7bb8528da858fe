//! The IMAP session over the in-memory store: any bytes, in any split, never panic, and
//! new mail arriving mid-session is reported without breaking the output.
#![no_main]

use carrier_imap::{AuthError, Config, Event, MemoryStore, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let store = MemoryStore::new();
    store.deliver("INBOX", b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n");
    store.deliver("INBOX", b"Subject: two\n\nbody\n");
    let mut cfg = Config::new("mx.example.com");
    cfg.tls = flags & 1 != 0;
    cfg.max_bad = 50;
    let mut session = Session::new(cfg);
    let _ = session.take_output();
    'feed: for (n, piece) in input.chunks(1 + (flags as usize >> 3)).enumerate() {
        session.feed(piece);
        loop {
            match session.next_event() {
                Event::NeedInput => {
                    // As the driver does when memory for messages runs out.
                    if flags & 4 != 0 && session.held() > 512 {
                        session.shed();
                        assert_eq!(session.held(), 0);
                    }
                    break;
                }
                Event::Close => break 'feed,
                Event::Flush => {}
                Event::StartTls => session.tls_established(),
                Event::Auth { .. } => session.authenticated(if flags & 2 == 0 {
                    Ok(("bob".into(), store.clone()))
                } else {
                    Err(AuthError::Invalid)
                }),
            }
            let out = session.take_output();
            assert!(out.is_empty() || out.ends_with(b"\r\n"), "unterminated output");
        }
        if n % 5 == 4 {
            store.deliver("INBOX", b"Subject: new\n\nnew\n");
            session.mailbox_changed();
            let _ = session.take_output();
        }
    }
});
