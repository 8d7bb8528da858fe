//! The ManageSieve session on any bytes, split anyhow: never panics, every line it writes
//! ends in CRLF, and every request reaches the driver only after login with a safe name.
#![no_main]

use carrier_managesieve::{Config, Event, LoginFailure, Request, Response, Session, name_problem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let mut session = Session::new(Config {
        extensions: "fileinto vacation".into(),
        tls: flags & 1 != 0,
        starttls: true,
        plaintext: flags & 2 != 0,
        max_script_size: 4096,
        max_redirects: 4,
        max_errors: 20,
        max_auth_failures: 3,
    });
    'feed: for piece in input.chunks(1 + (flags as usize >> 2)) {
        session.feed(piece);
        loop {
            match session.next_event() {
                Event::NeedInput => break,
                Event::Close => break 'feed,
                Event::StartTls => session.tls_established(),
                Event::Auth { password, .. } => {
                    session.login(if password == "right" { Ok(()) } else { Err(LoginFailure::Credentials) })
                }
                Event::Request(request) => {
                    assert!(session.authenticated(), "{request:?} before login");
                    let names = match &request {
                        Request::Put { name, script } => {
                            assert!(script.len() <= 4096);
                            vec![name.clone()]
                        }
                        Request::HaveSpace { name, .. } | Request::Get { name } | Request::Delete { name } => {
                            vec![name.clone()]
                        }
                        Request::Rename { old, new } => vec![old.clone(), new.clone()],
                        _ => vec![],
                    };
                    for name in names {
                        assert_eq!(name_problem(&name), None, "{name:?}");
                    }
                    session.answer(match request {
                        Request::List => Response::Scripts(vec![("a".into(), true)]),
                        Request::Get { .. } => Response::Script(b"keep;\r\n".to_vec()),
                        _ => Response::Done(None),
                    });
                }
            }
            let out = session.take_output();
            assert!(out.is_empty() || out.ends_with(b"\r\n"), "{out:?}");
        }
    }
});
