use super::*;

fn b64(text: &str) -> Vec<u8> {
    STANDARD.encode(text).into_bytes()
}

fn plain(message: &str) -> Step {
    Exchange::start(Mechanism::Plain, Some(&b64(message)))
}

fn done(mechanism: Mechanism, login: &str, password: &str) -> Step {
    Step::Done(Credentials { mechanism, login: login.into(), password: password.into() })
}

/// Answers a challenge; panics when the step is not one.
fn answer(step: Step, line: &[u8]) -> Step {
    let Step::Challenge { exchange, .. } = step else { panic!("not a challenge: {step:?}") };
    exchange.respond(line)
}

#[test]
fn mechanism_names_in_any_case() {
    assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
    assert_eq!(Mechanism::from_name("LOGIN"), Some(Mechanism::Login));
    assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    assert_eq!(Mechanism::Plain.name(), "PLAIN");
}

#[test]
fn plain_takes_authzid_nul_authcid_nul_password() {
    assert_eq!(plain("\0bob@example.com\0secret"), done(Mechanism::Plain, "bob@example.com", "secret"));
    assert_eq!(plain("bob\0bob\0pw"), done(Mechanism::Plain, "bob", "pw"));
    assert_eq!(plain("\0bob\0p\u{e4}ss wörd"), done(Mechanism::Plain, "bob", "p\u{e4}ss wörd"));
}

#[test]
fn an_authzid_naming_the_user_in_another_case_is_the_user() {
    assert_eq!(plain("Bob@Example.COM\0bob@example.com\0pw"), done(Mechanism::Plain, "bob@example.com", "pw"));
}

#[test]
fn an_authzid_naming_someone_else_is_refused() {
    assert_eq!(plain("alice\0bob\0pw"), Step::Failed(Error::OtherIdentity));
    assert_eq!(plain("bobby\0bob\0pw"), Step::Failed(Error::OtherIdentity));
}

#[test]
fn plain_without_its_two_nuls_is_malformed() {
    for bad in ["", "no-nuls", "\0only-one-nul", "bob\0pw", "a\0b\0c\0d"] {
        assert_eq!(plain(bad), Step::Failed(Error::Malformed), "{bad:?}");
    }
}

#[test]
fn an_empty_user_or_password_is_refused_before_any_check() {
    for bad in ["\0bob\0", "bob\0bob\0", "\0\0pw", "\0\0"] {
        assert_eq!(plain(bad), Step::Failed(Error::Empty), "{bad:?}");
    }
    let login = Exchange::start(Mechanism::Login, None);
    assert_eq!(answer(login, b""), Step::Failed(Error::Empty));
    let login = Exchange::start(Mechanism::Login, Some(&b64("bob")));
    assert_eq!(answer(login, b""), Step::Failed(Error::Empty));
}

#[test]
fn what_is_not_base64_of_utf8_text() {
    for bad in [&b"!!notbase64!!"[..], b"Ym9", b"Ym9i==", b"AGJvYgBwdw==x"] {
        assert_eq!(Exchange::start(Mechanism::Plain, Some(bad)), Step::Failed(Error::NotBase64), "{bad:?}");
    }
    let not_utf8 = STANDARD.encode(b"\0bob\0\xff\xfe");
    assert_eq!(Exchange::start(Mechanism::Plain, Some(not_utf8.as_bytes())), Step::Failed(Error::NotBase64));
}

#[test]
fn white_space_around_a_response_is_ignored() {
    let line = [b"  ".as_slice(), &b64("\0bob\0pw"), b" \r"].concat();
    assert_eq!(Exchange::start(Mechanism::Plain, Some(&line)), done(Mechanism::Plain, "bob", "pw"));
}

#[test]
fn an_over_long_response_is_refused_undecoded() {
    let padded = [vec![b' '; MAX_RESPONSE - 12], b64("\0bob\0pw")].concat();
    assert!(padded.len() <= MAX_RESPONSE);
    assert_eq!(Exchange::start(Mechanism::Plain, Some(&padded)), done(Mechanism::Plain, "bob", "pw"));
    let long = b64(&format!("\0bob\0{}", "x".repeat(MAX_RESPONSE)));
    assert_eq!(Exchange::start(Mechanism::Plain, Some(&long)), Step::Failed(Error::TooLong));
    let login = Exchange::start(Mechanism::Login, None);
    assert_eq!(answer(login, &vec![b'A'; MAX_RESPONSE + 4]), Step::Failed(Error::TooLong));
}

#[test]
fn plain_prompts_with_an_empty_challenge() {
    let step = Exchange::start(Mechanism::Plain, None);
    assert!(matches!(step, Step::Challenge { challenge: "", .. }), "{step:?}");
    assert_eq!(answer(step, &b64("\0u\0p")), done(Mechanism::Plain, "u", "p"));
}

#[test]
fn login_prompts_for_the_user_then_the_password() {
    let step = Exchange::start(Mechanism::Login, None);
    assert!(matches!(step, Step::Challenge { challenge: USERNAME_PROMPT, .. }), "{step:?}");
    let step = answer(step, &b64("bob"));
    assert!(matches!(step, Step::Challenge { challenge: PASSWORD_PROMPT, .. }), "{step:?}");
    assert_eq!(answer(step, &b64("pw")), done(Mechanism::Login, "bob", "pw"));
    // The user name as the initial response skips the first prompt.
    let step = Exchange::start(Mechanism::Login, Some(&b64("bob")));
    assert_eq!(answer(step, &b64("pw")), done(Mechanism::Login, "bob", "pw"));
}

#[test]
fn an_equals_sign_is_an_empty_initial_response() {
    assert_eq!(Exchange::start(Mechanism::Plain, Some(b"=")), Step::Failed(Error::Malformed));
    assert_eq!(Exchange::start(Mechanism::Login, Some(b"=")), Step::Failed(Error::Empty));
}

#[test]
fn a_star_cancels() {
    let login = Exchange::start(Mechanism::Login, None);
    assert_eq!(answer(login, b"*"), Step::Failed(Error::Cancelled));
    assert_eq!(Exchange::start(Mechanism::Plain, Some(b"*")), Step::Failed(Error::Cancelled));
}

#[test]
fn a_client_response_decodes_to_the_same_user_and_password() {
    let response = plain_response("bob@example.com", "s3cret");
    assert_eq!(plain_response("bob", "pw").as_bytes(), b64("\0bob\0pw"));
    assert_eq!(
        Exchange::start(Mechanism::Plain, Some(response.as_bytes())),
        done(Mechanism::Plain, "bob@example.com", "s3cret")
    );
    assert_eq!(encode_base64("Username:"), USERNAME_PROMPT);
    assert_eq!(encode_base64("Password:"), PASSWORD_PROMPT);
}
