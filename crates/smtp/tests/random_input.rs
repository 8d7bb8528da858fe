//! Random input, deterministic seeds: the session never panics, every reply is well formed,
//! and it ends only by closing. A cheap stand-in for fuzzing that runs with every test.

use carrier_smtp::{Event, Session, SessionConfig};

/// xorshift64*: small, deterministic, good enough to shake a parser.
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
    b"EHLO x.example\r\n",
    b"HELO y\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<>\r\n",
    b"RCPT TO:<bob@example.com>\r\n",
    b"RCPT TO:<postmaster>\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"STARTTLS\r\n",
    b"QUIT\r\n",
    b"VRFY x\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r",
    b"\n",
    b"\0",
    b"..",
    b"\xff\xfe",
    b"SIZE=99999999999",
    b"MAIL FROM:<\"a\\\"b\"@[IPv6:::1]> SMTPUTF8 BODY=8BITMIME\r\n",
    b"AUTH PLAIN AGJvYgByaWdodA==\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH PLAIN\r\n",
    b"*\r\n",
    b"Ym9i\r\n",
    b"RCPT TO:<@a,@b:c@d>\r\n",
];

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..rng.below(40) {
        if rng.below(4) == 0 {
            let n = rng.below(700);
            input.extend((0..n).map(|_| rng.next() as u8));
        } else {
            input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    input
}

fn check_replies(out: &[u8]) {
    let text = String::from_utf8(out.to_vec()).expect("replies are UTF-8");
    for line in text.split_terminator("\r\n") {
        let code = &line.as_bytes()[..3];
        assert!(code.iter().all(u8::is_ascii_digit), "bad reply line {line:?}");
        assert!(matches!(line.as_bytes()[3], b' ' | b'-'), "bad reply line {line:?}");
    }
    assert!(text.is_empty() || text.ends_with("\r\n"));
}

#[test]
fn random_bytes_never_break_the_session() {
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut session = Session::new(SessionConfig {
            hostname: "mx.example.com".into(),
            max_message_size: 2000,
            max_recipients: 5,
            max_errors: 50,
            starttls: true,
            tls: false,
            auth: true,
            auth_required: rng.below(2) == 0,
            auth_plaintext: rng.below(2) == 0,
            max_auth_failures: 3,
        });
        let input = random_input(&mut rng);
        let mut pos = 0;
        let mut steps = 0;
        'session: while pos <= input.len() {
            let n = 1 + rng.below(64);
            let end = (pos + n).min(input.len());
            session.feed(&input[pos..end]);
            pos = end + usize::from(end == input.len());
            loop {
                steps += 1;
                assert!(steps < 100_000, "seed {seed}: no progress");
                match session.next_event() {
                    Event::NeedInput => break,
                    Event::Close => break 'session,
                    Event::Mail { .. } | Event::Rcpt { .. } => {
                        let ok = rng.below(3) > 0;
                        session.answer(if ok { Ok(()) } else { Err(carrier_smtp::Reply::new(550, "5.7.1", "no")) });
                    }
                    Event::Message(_) => session.queued(Ok("Q".into())),
                    Event::StartTls => session.tls_established(),
                    Event::Auth { .. } => {
                        let ok = rng.below(2) == 0;
                        session.authenticated(if ok {
                            Ok("u@x".into())
                        } else {
                            Err(carrier_smtp::Reply::new(535, "5.7.8", "no"))
                        });
                    }
                }
                check_replies(&session.take_output());
            }
            check_replies(&session.take_output());
        }
    }
}
