//! Random input, deterministic seeds: the session never panics, every response line is
//! well formed, and it ends only by closing. A cheap stand-in for fuzzing.

use carrier_imap::{AuthError, Config, Event, MemoryStore, Session};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"a LOGIN bob secret\r\n",
    b"a AUTHENTICATE PLAIN\r\n",
    b"AGJvYgBzZWNyZXQ=\r\n",
    b"s SELECT INBOX\r\n",
    b"e EXAMINE INBOX\r\n",
    b"f FETCH 1:* (FLAGS BODY[] BODYSTRUCTURE ENVELOPE BODY.PEEK[1.MIME]<0.10>)\r\n",
    b"u UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)\r\n",
    b"t STORE 1 +FLAGS (\\Deleted)\r\n",
    b"x EXPUNGE\r\n",
    b"q SEARCH OR BODY x NOT SEEN\r\n",
    b"q SEARCH RETURN (ALL COUNT) UID 1:*\r\n",
    b"c COPY 1:* Other\r\n",
    b"m UID MOVE 1:* Other\r\n",
    b"n CREATE Other\r\n",
    b"l LIST \"\" *\r\n",
    b"p APPEND INBOX {20}\r\n",
    b"p APPEND INBOX {5+}\r\nhello\r\n",
    b"i IDLE\r\n",
    b"DONE\r\n",
    b"z STARTTLS\r\n",
    b"o LOGOUT\r\n",
    b"{3}\r\n",
    b"{99999999+}\r\n",
    b"\"unterminated",
    b"(((((",
    b"\r\n",
    b"\n",
    b"\0",
    b"\xff\xfe",
    b"*\r\n",
];

fn check(out: &[u8]) {
    let mut i = 0;
    while i < out.len() {
        let end = out[i..].windows(2).position(|w| w == b"\r\n").map(|p| i + p).expect("CRLF-terminated output");
        let line = &out[i..end];
        assert!(line.first().is_some_and(u8::is_ascii_graphic) && line.contains(&b' '), "{line:?}");
        i = end + 2;
        // Skip a literal announced at the end of the line.
        if let Some(open) = line.iter().rposition(|&b| b == b'{') {
            if line.ends_with(b"}") {
                let n: usize = std::str::from_utf8(&line[open + 1..line.len() - 1]).unwrap().parse().unwrap();
                i += n;
            }
        }
    }
}

#[test]
fn random_bytes_never_break_the_session() {
    for seed in 1..=1500u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let store = MemoryStore::new();
        store.deliver("INBOX", b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n");
        store.deliver("INBOX", b"Subject: two\n\nbody\n");
        let mut cfg = Config::new("mx.example.com");
        cfg.tls = rng.below(2) == 0;
        cfg.max_bad = 50;
        let mut session = Session::new(cfg);
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(4) == 0 {
                let n = rng.below(300);
                input.extend((0..n).map(|_| rng.next() as u8));
            } else {
                input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
        }
        let mut pos = 0;
        let mut steps = 0;
        check(&session.take_output());
        'session: while pos <= input.len() {
            let end = (pos + 1 + rng.below(64)).min(input.len());
            session.feed(&input[pos..end]);
            pos = end + usize::from(end == input.len());
            loop {
                steps += 1;
                assert!(steps < 100_000, "seed {seed}: no progress");
                let event = session.next_event();
                check(&session.take_output());
                match event {
                    Event::NeedInput => break,
                    Event::Close => break 'session,
                    Event::Flush => {}
                    Event::StartTls => session.tls_established(),
                    Event::Auth { .. } => {
                        let ok = rng.below(2) == 0;
                        session.authenticated(if ok {
                            Ok(("bob".into(), store.clone()))
                        } else {
                            Err(AuthError::Invalid)
                        });
                        check(&session.take_output());
                    }
                }
                if rng.below(8) == 0 {
                    store.deliver("INBOX", b"Subject: new\n\nnew\n");
                    session.mailbox_changed();
                    check(&session.take_output());
                }
            }
        }
    }
}
