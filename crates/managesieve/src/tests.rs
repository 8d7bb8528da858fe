//! The session against RFC 5804's rules, with a driver played by the test.

use super::*;

fn config(tls: bool) -> Config {
    Config {
        extensions: "fileinto vacation".into(),
        tls,
        starttls: true,
        plaintext: false,
        max_script_size: 100,
        max_redirects: 4,
        max_errors: 4,
        max_auth_failures: 3,
    }
}

fn text(s: &mut Session) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

/// Feeds `input` and returns the first event and what was written.
fn send(s: &mut Session, input: &str) -> (Event, String) {
    s.feed(input.as_bytes());
    let event = s.next_event();
    (event, text(s))
}

fn logged_in() -> Session {
    let mut s = Session::new(config(true));
    text(&mut s);
    let (event, _) = send(&mut s, "AUTHENTICATE \"PLAIN\" \"AGJvYgBzZWNyZXQ=\"\r\n");
    assert_eq!(event, Event::Auth { mechanism: "PLAIN", login: "bob".into(), password: "secret".into() });
    s.login(Ok(()));
    assert_eq!(text(&mut s), "OK \"Logged in.\"\r\n");
    s
}

#[test]
fn the_greeting_lists_the_capabilities_and_sasl_waits_for_tls() {
    let mut s = Session::new(config(false));
    assert_eq!(
        text(&mut s),
        "\"IMPLEMENTATION\" \"carrier\"\r\n\"SASL\" \"\"\r\n\"SIEVE\" \"fileinto vacation\"\r\n\
         \"MAXREDIRECTS\" \"4\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK \"carrier ManageSieve ready.\"\r\n"
    );
    let (_, out) = send(&mut s, "AUTHENTICATE \"PLAIN\" \"AGJvYgBzZWNyZXQ=\"\r\n");
    assert_eq!(out, "NO (ENCRYPT-NEEDED) \"Use STARTTLS before authenticating.\"\r\n");
    let (event, out) = send(&mut s, "STARTTLS\r\nCAPABILITY\r\n");
    assert_eq!((event, out.as_str()), (Event::StartTls, "OK \"Begin TLS negotiation now.\"\r\n"));
    // RFC 5804 2.2: what came behind STARTTLS is dropped, the capabilities come again.
    s.tls_established();
    let out = text(&mut s);
    assert!(
        out.contains("\"SASL\" \"PLAIN\"\r\n")
            && !out.contains("STARTTLS")
            && out.ends_with("OK \"TLS negotiation successful.\"\r\n"),
        "{out}"
    );
    assert_eq!(s.next_event(), Event::NeedInput);
}

#[test]
fn authenticate_with_a_continuation_and_failures() {
    let mut s = Session::new(config(true));
    text(&mut s);
    let (event, out) = send(&mut s, "AUTHENTICATE \"PLAIN\"\r\n");
    assert_eq!((event, out.as_str()), (Event::NeedInput, "\"\"\r\n"));
    let (event, _) = send(&mut s, "{16+}\r\nAGJvYgBzZWNyZXQ=\r\n");
    assert_eq!(event, Event::Auth { mechanism: "PLAIN", login: "bob".into(), password: "secret".into() });
    s.login(Err(LoginFailure::Credentials));
    assert_eq!(text(&mut s), "NO \"Authentication failed.\"\r\n");
    let (_, out) = send(&mut s, "AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\n");
    assert_eq!(out, "\"\"\r\nNO \"Authentication cancelled.\"\r\n");
    let (_, out) = send(&mut s, "AUTHENTICATE \"DIGEST-MD5\"\r\n");
    assert_eq!(out, "NO \"Unsupported SASL mechanism DIGEST-MD5; use PLAIN.\"\r\n");
    let (_, out) = send(&mut s, "LISTSCRIPTS\r\n");
    assert_eq!(out, "NO \"Authenticate first\"\r\n");
    let (_, _) = send(&mut s, "AUTHENTICATE \"PLAIN\" \"AGJvYgBzZWNyZXQ=\"\r\n");
    s.login(Err(LoginFailure::Throttled));
    assert!(text(&mut s).starts_with("NO (TRYLATER) "));
    send(&mut s, "AUTHENTICATE \"PLAIN\" \"AGJvYgBzZWNyZXQ=\"\r\n");
    s.login(Err(LoginFailure::Credentials));
    assert_eq!(text(&mut s), "NO \"Authentication failed.\"\r\nBYE \"Too many failed logins.\"\r\n");
    assert_eq!(s.next_event(), Event::Close);
}

#[test]
fn script_commands_become_requests_and_answers_become_responses() {
    let mut s = logged_in();
    let (event, _) = send(&mut s, "PUTSCRIPT \"mail\" {6+}\r\nkeep;\n\r\n");
    assert_eq!(event, Event::Request(Request::Put { name: "mail".into(), script: b"keep;\n".to_vec() }));
    assert_eq!(s.next_event(), Event::NeedInput, "one request at a time");
    s.answer(Response::Done(None));
    assert_eq!(text(&mut s), "OK \"Putscript completed.\"\r\n");

    let (event, _) = send(&mut s, "LISTSCRIPTS\r\n");
    assert_eq!(event, Event::Request(Request::List));
    s.answer(Response::Scripts(vec![("mail".into(), true), ("say \"hi\"".into(), false)]));
    assert_eq!(text(&mut s), "\"mail\" ACTIVE\r\n\"say \\\"hi\\\"\"\r\nOK \"Listscripts completed.\"\r\n");

    send(&mut s, "GETSCRIPT \"mail\"\r\n");
    s.answer(Response::Script(b"keep;\n".to_vec()));
    assert_eq!(text(&mut s), "{6}\r\nkeep;\n\r\nOK \"Getscript completed.\"\r\n");

    send(&mut s, "DELETESCRIPT \"mail\"\r\n");
    s.answer(Response::No(Some("ACTIVE"), "You may not delete the active script.".into()));
    assert_eq!(text(&mut s), "NO (ACTIVE) \"You may not delete the active script.\"\r\n");

    let (event, _) = send(&mut s, "CHECKSCRIPT {10+}\r\nfileinto;\n\r\n");
    assert_eq!(event, Event::Request(Request::Check { script: b"fileinto;\n".to_vec() }));
    s.answer(Response::No(None, "line 1: fileinto needs a mailbox\nline 2: more".into()));
    assert_eq!(text(&mut s), "NO {45}\r\nline 1: fileinto needs a mailbox\nline 2: more\r\n");

    let (event, _) = send(&mut s, "SETACTIVE \"\"\r\n");
    assert_eq!(event, Event::Request(Request::SetActive { name: String::new() }), "\"\" deactivates (RFC 5804 2.8)");
    s.answer(Response::Done(None));
    text(&mut s);
    send(&mut s, "RENAMESCRIPT \"a\" \"b\"\r\n");
    s.answer(Response::Done(Some("line 3: unknown extension".into())));
    assert_eq!(text(&mut s), "OK (WARNINGS) \"line 3: unknown extension\"\r\n");
    let (_, out) = send(&mut s, "NOOP \"tag 1\"\r\n");
    assert_eq!(out, "OK (TAG \"tag 1\") \"Done\"\r\n");
    let (event, out) = send(&mut s, "LOGOUT\r\n");
    assert_eq!((event, out.as_str()), (Event::Close, "OK \"Logout completed.\"\r\n"));
}

#[test]
fn bad_names_sizes_and_commands_are_refused_and_the_session_goes_on() {
    let mut s = logged_in();
    for (input, reply) in [
        (
            "PUTSCRIPT \"../x\" \"keep;\"\r\n",
            "NO \"Invalid script name: it may not contain `/` or start with `.`.\"\r\n",
        ),
        ("GETSCRIPT \"\"\r\n", "NO \"Invalid script name: it is empty.\"\r\n"),
        ("RENAMESCRIPT \"a\" \"b\u{7}\"\r\n", "NO \"Invalid script name: it holds control characters.\"\r\n"),
        ("HAVESPACE \"a\" 101\r\n", "NO (QUOTA/MAXSIZE) \"Scripts may hold at most 100 octets.\"\r\n"),
        ("PUTSCRIPT \"a\" {101+}\r\n", ""),
    ] {
        let (event, out) = send(&mut s, input);
        assert_eq!((event, out.as_str()), (Event::NeedInput, reply), "{input:?}");
    }
    // The oversized literal is read and thrown away, then refused.
    let (event, out) = send(&mut s, &format!("{}\r\nNOOP\r\n", "x".repeat(101)));
    assert_eq!(event, Event::NeedInput);
    assert_eq!(out, "NO (QUOTA/MAXSIZE) \"Scripts may hold at most 100 octets.\"\r\nOK \"Done\"\r\n");
    let (_, out) = send(&mut s, "FROB\r\n");
    assert_eq!(out, "NO \"unknown command FROB\"\r\n");
    let (_, out) = send(&mut s, "STARTTLS\r\n");
    assert_eq!(out, "NO \"STARTTLS is not available now\"\r\n");
    let (_, out) = send(&mut s, "UNAUTHENTICATE\r\n");
    assert_eq!(out, "NO \"UNAUTHENTICATE is not offered\"\r\n");
    let (event, out) = send(&mut s, "GETSCRIPT x\r\n");
    assert_eq!((event, out.as_str()), (Event::Close, "BYE \"Too many errors.\"\r\n"));
}

#[test]
fn an_endless_line_ends_the_session_and_idle_clients_are_told() {
    let mut s = logged_in();
    let (event, out) = send(&mut s, &"A".repeat(parser::MAX_LINE + 10));
    assert_eq!((event, out.as_str()), (Event::Close, "BYE \"Line too long.\"\r\n"));
    let mut s = logged_in();
    s.timeout();
    assert_eq!(text(&mut s), "BYE \"Disconnected for inactivity.\"\r\n");
    assert_eq!(s.next_event(), Event::Close);
}
