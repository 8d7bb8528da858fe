//! Byte-for-byte conversations with the in-memory store.

use super::*;
use crate::backend::Mailboxes;
use crate::memory::MemoryStore;
use crate::parser::Limits;

mod qresync;

const MSG1: &[u8] = b"From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Hello\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\nMessage-ID: <1@example.com>\n\nHi Bob,\nsee you.\n";
const MSG2: &[u8] = b"From: carol@example.org\r\nSubject: Second\r\n\r\nbody two\r\n";

struct T {
    s: Session<MemoryStore>,
    store: MemoryStore,
}

impl T {
    fn new(tls: bool) -> T {
        let mut cfg = Config::new("mx.example.com");
        cfg.tls = tls;
        cfg.limits = Limits { max_line: 200, max_literal: 100, max_append: 1000 };
        let mut t = T { s: Session::new(cfg), store: MemoryStore::new() };
        t.s.take_output();
        t
    }

    /// Logged in over TLS with two messages in INBOX.
    fn ready() -> T {
        let mut t = T::new(true);
        t.store.deliver("INBOX", MSG1);
        t.store.deliver("INBOX", MSG2);
        t.send("a LOGIN bob secret\r\n");
        t
    }

    fn selected() -> T {
        let mut t = T::ready();
        t.send("s SELECT INBOX\r\n");
        t
    }

    /// Feeds input and runs the session, answering its events; returns the output.
    fn send(&mut self, input: &str) -> String {
        self.send_bytes(input.as_bytes())
    }

    fn send_bytes(&mut self, input: &[u8]) -> String {
        self.s.feed(input);
        let mut out = Vec::new();
        loop {
            let event = self.s.next_event();
            out.extend(self.s.take_output());
            match event {
                Event::NeedInput | Event::Close => break,
                Event::Flush => {}
                Event::StartTls => self.s.tls_established(),
                Event::Auth { login, password, .. } => {
                    let result =
                        if password == "secret" { Ok((login, self.store.clone())) } else { Err(AuthError::Invalid) };
                    self.s.authenticated(result);
                }
            }
        }
        String::from_utf8(out).unwrap()
    }
}

const CAPS: &str = "LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE UNSELECT CHILDREN UIDPLUS MOVE SPECIAL-USE \
CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC STATUS=SIZE APPENDLIMIT=1000";

#[test]
fn greeting_and_capabilities() {
    let cfg = Config::new("mx.example.com");
    let mut s: Session<MemoryStore> = Session::new(cfg);
    let greeting = String::from_utf8(s.take_output()).unwrap();
    assert_eq!(
        greeting,
        format!(
            "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED {}] mx.example.com IMAP4rev1 carrier ready\r\n",
            CAPS.replace("APPENDLIMIT=1000", "APPENDLIMIT=52428800")
        )
    );
    let mut t = T::new(false);
    assert_eq!(
        t.send("1 CAPABILITY\r\n"),
        format!("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED {CAPS}\r\n1 OK CAPABILITY completed\r\n")
    );
    assert_eq!(
        t.send("2 LOGIN bob secret\r\n"),
        "2 NO [PRIVACYREQUIRED] Plaintext LOGIN is disabled: use STARTTLS first\r\n"
    );
    assert_eq!(
        t.send("3 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=\r\n"),
        "3 NO [PRIVACYREQUIRED] Plaintext authentication is disabled: use STARTTLS first\r\n"
    );
    // Anything pipelined after STARTTLS is dropped (RFC 3501 6.2.1).
    assert_eq!(t.send("4 STARTTLS\r\n5 NOOP\r\n"), "4 OK Begin TLS negotiation now\r\n");
    assert_eq!(t.send("6 STARTTLS\r\n"), "6 BAD TLS is already active\r\n");
    assert_eq!(
        t.send("7 CAPABILITY\r\n"),
        format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN {CAPS}\r\n7 OK CAPABILITY completed\r\n")
    );
    assert_eq!(t.send("8 LOGIN bob secret\r\n"), format!("8 OK [CAPABILITY IMAP4rev1 {CAPS}] Logged in\r\n"));
    assert_eq!(t.s.state(), State::Authenticated);
    assert_eq!(t.send("9 LOGIN bob secret\r\n"), "9 BAD LOGIN is not valid in this state: already logged in\r\n");
}

#[test]
fn authentication() {
    let mut t = T::new(true);
    assert_eq!(t.send("1 AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    assert_eq!(t.send("*\r\n"), "1 BAD AUTHENTICATE cancelled\r\n");
    assert_eq!(
        t.send("2 AUTHENTICATE CRAM-MD5\r\n"),
        "2 NO [CANNOT] Unsupported authentication mechanism CRAM-MD5: use PLAIN\r\n"
    );
    assert_eq!(t.send("3 AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    assert_eq!(t.send("!!!\r\n"), "3 BAD Invalid SASL response: not base64 of UTF-8 text\r\n");
    assert_eq!(
        t.send("4 AUTHENTICATE PLAIN Ym9i\r\n"),
        "4 BAD Malformed PLAIN response: expected authzid NUL user NUL password\r\n"
    );
    // "eve\0bob\0secret": acting as someone else.
    assert_eq!(
        t.send("5 AUTHENTICATE PLAIN ZXZlAGJvYgBzZWNyZXQ=\r\n"),
        "5 NO [AUTHORIZATIONFAILED] Acting as another user is not supported\r\n"
    );
    assert_eq!(t.send("6 LOGIN bob wrong\r\n"), "6 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    assert_eq!(t.send("7 AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    assert!(t.send("AGJvYgBzZWNyZXQ=\r\n").starts_with("7 OK [CAPABILITY IMAP4rev1 LITERAL+"));
    assert_eq!(t.s.user(), Some("bob"));
}

/// The authorization identity names the user in another case ("BOB\0bob\0secret"): the
/// same user, as SMTP and POP3 have always taken it (the copies had drifted apart).
#[test]
fn an_authzid_in_another_case_is_the_same_user() {
    let mut t = T::new(true);
    assert!(t.send("1 AUTHENTICATE PLAIN Qk9CAGJvYgBzZWNyZXQ=\r\n").starts_with("1 OK [CAPABILITY"));
    assert_eq!(t.s.user(), Some("bob"));
}

/// RFC 4616 2: the user and the password are `1*SAFE`, so an empty one is a malformed
/// response, not a failed login; a response over RFC 4954's 12288 octets is not decoded.
#[test]
fn an_empty_password_or_an_over_long_response_is_bad() {
    let mut t = T::new(true);
    // "\0bob\0"
    assert_eq!(t.send("1 AUTHENTICATE PLAIN AGJvYgA=\r\n"), "1 BAD Empty user name or password\r\n");
    assert_eq!(t.send("2 AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    let long = format!("{}\r\n", "A".repeat(13_000));
    assert_eq!(t.send(&long), "2 BAD SASL response too long (at most 12288 octets)\r\n");
    assert_eq!(t.s.user(), None);
}

#[test]
fn too_many_failures_and_bads_close() {
    let mut t = T::new(true);
    t.send("1 LOGIN a b\r\n2 LOGIN a b\r\n");
    assert_eq!(
        t.send("3 LOGIN a b\r\n"),
        "3 NO [AUTHENTICATIONFAILED] Authentication failed\r\n* BYE Too many authentication failures\r\n"
    );
    assert_eq!(t.s.next_event(), Event::Close);
    let mut t = T::new(true);
    let out = t.send(&"x FROB\r\n".repeat(12));
    assert_eq!(out.matches("x BAD Error in IMAP command: Unknown command FROB\r\n").count(), 10);
    assert!(out.ends_with("* BYE Too many invalid commands\r\n"));
    assert_eq!(t.s.state(), State::Logout);
}

#[test]
fn malformed_commands_get_precise_bads() {
    let mut t = T::ready();
    assert_eq!(t.send("\r\n"), "* BAD Error in IMAP command: Empty command line\r\n");
    assert_eq!(t.send("a FETCH 1 FLAGS\r\n"), "a BAD FETCH is not valid in this state: no mailbox is selected\r\n");
    assert_eq!(t.send("b SELECT\r\n"), "b BAD Error in IMAP command: Expected a space, found the end of the line\r\n");
    assert_eq!(
        t.send("c SEARCH SINCE 32-Jan-2020\r\n"),
        "c BAD Error in IMAP command: Invalid date \"32-Jan-2020\": use d-Mon-yyyy, as 1-Feb-1994\r\n"
    );
    t.send("s SELECT INBOX\r\n");
    assert_eq!(
        t.send("d FETCH 3 FLAGS\r\n"),
        "d BAD Invalid message sequence number 3: the mailbox has 2 messages\r\n"
    );
    assert_eq!(t.send("e FETCH 1:x FLAGS\r\n"), "e BAD Error in IMAP command: Expected a sequence set, found 'x'\r\n");
    assert_eq!(t.send("f STORE 1 +FLAGS (\\Recent)\r\n"), "f BAD \\Recent cannot be set by clients\r\n");
    assert_eq!(t.send("g STORE 1 +FLAGS (\\Bogus)\r\n"), "g BAD Unknown system flag \\Bogus\r\n");
    // RFC 5161 3.1: clients enable before SELECT, but a server need not refuse it after
    // (Dovecot does not; imaptest sends it there).
    assert_eq!(t.send("h ENABLE CONDSTORE\r\n"), "* ENABLED CONDSTORE\r\nh OK ENABLE completed\r\n");
    // The session is still usable.
    assert_eq!(t.send("i NOOP\r\n"), "i OK NOOP completed\r\n");
}

#[test]
fn limits_refuse_before_reading() {
    let mut t = T::ready();
    // Synchronizing literal too big: refused, the client never sends it.
    assert_eq!(
        t.send("1 LOGIN {101}\r\n"),
        "1 BAD [TOOBIG] Literal of 101 octets is larger than the limit of 100 octets\r\n"
    );
    // Non-synchronizing: refused and its octets skipped.
    let mut input = b"2 LOGIN {150+}\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 150]);
    input.extend_from_slice(b" y\r\n3 NOOP\r\n");
    assert_eq!(
        t.send_bytes(&input),
        "2 BAD [TOOBIG] Literal of 150 octets is larger than the limit of 100 octets\r\n3 OK NOOP completed\r\n"
    );
    assert_eq!(
        t.send("4 APPEND INBOX {1001}\r\n"),
        "4 NO [TOOBIG] Message of 1001 octets is larger than the limit of 1000 octets (APPENDLIMIT)\r\n"
    );
    let long = format!("5 NOOP {}\r\n6 NOOP\r\n", "x".repeat(300));
    assert_eq!(t.send(&long), "5 BAD [TOOBIG] Command line longer than 200 octets\r\n6 OK NOOP completed\r\n");
}

#[test]
fn select_and_examine() {
    let mut t = T::ready();
    assert_eq!(
        t.send("s SELECT inbox\r\n"),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n* OK [UIDVALIDITY 1000] UIDs valid\r\n\
* OK [UIDNEXT 3] Predicted next UID\r\n* OK [HIGHESTMODSEQ 3] Highest\r\ns OK [READ-WRITE] SELECT completed\r\n"
    );
    assert_eq!(t.s.selected_mailbox(), Some("INBOX"));
    let out = t.send("e EXAMINE INBOX\r\n");
    assert!(out.contains("* OK [PERMANENTFLAGS ()] Flags permitted\r\n* 2 EXISTS\r\n* 0 RECENT\r\n"), "{out}");
    assert!(out.ends_with("e OK [READ-ONLY] EXAMINE completed\r\n"));
    assert_eq!(t.send("f STORE 1 +FLAGS (\\Seen)\r\n"), "f NO [CANNOT] The mailbox is read-only (EXAMINE)\r\n");
    // RFC 7162 3.2.11: the failed SELECT still closed INBOX.
    assert_eq!(
        t.send("g SELECT nope\r\n"),
        "* OK [CLOSED] Previous mailbox closed\r\ng NO [NONEXISTENT] Mailbox does not exist\r\n"
    );
    assert_eq!(t.s.state(), State::Authenticated);
}

#[test]
fn fetch_items() {
    let mut t = T::selected();
    assert_eq!(
        t.send("1 FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)\r\n"),
        format!(
            "* 1 FETCH (FLAGS (\\Recent) UID 1 RFC822.SIZE {} INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\n1 OK FETCH completed\r\n",
            MSG1.len() + 8
        )
    );
    assert_eq!(
        t.send("2 FETCH 1 ENVELOPE\r\n"),
        "* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello\" ((\"Alice\" NIL \"alice\" \"example.com\")) \
((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"bob\" \"example.com\")) \
NIL NIL NIL \"<1@example.com>\"))\r\n2 OK FETCH completed\r\n"
    );
    assert_eq!(
        t.send("3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject to)] BODY.PEEK[TEXT]<4.5>)\r\n"),
        "* 1 FETCH (BODY[HEADER.FIELDS (subject to)] {39}\r\nTo: bob@example.com\r\nSubject: Hello\r\n\r\n \
BODY[TEXT]<4> {5}\r\nob,\r\n)\r\n3 OK FETCH completed\r\n"
    );
    assert_eq!(
        t.send("4 FETCH 2 BODY[1]\r\n"),
        "* 2 FETCH (BODY[1] {10}\r\nbody two\r\n FLAGS (\\Seen \\Recent))\r\n4 OK FETCH completed\r\n"
    );
    assert_eq!(
        t.send("5 UID FETCH 2 (BODYSTRUCTURE)\r\n"),
        "* 2 FETCH (UID 2 BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL))\r\n\
5 OK FETCH completed\r\n"
    );
    assert_eq!(t.send("6 FETCH 2 BODY[5]\r\n"), "* 2 FETCH (BODY[5] NIL)\r\n6 OK FETCH completed\r\n");
    assert_eq!(
        t.send("7 UID FETCH 9:* FLAGS\r\n"),
        "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))\r\n7 OK FETCH completed\r\n"
    );
    assert_eq!(t.send("8 UID FETCH 7 FLAGS\r\n"), "8 OK FETCH completed\r\n");
}

#[test]
fn a_big_fetch_is_sent_in_pieces() {
    let mut t = T::ready();
    let big = format!("Subject: big\n\n{}\n", "x".repeat(1024 * 1024));
    for _ in 0..6 {
        t.store.deliver("INBOX", big.as_bytes());
    }
    t.send("s SELECT INBOX\r\n");
    t.s.feed(b"f FETCH 1:* (BODY.PEEK[])\r\n");
    let (mut pieces, mut total) = (0, Vec::new());
    loop {
        let event = t.s.next_event();
        let out = t.s.take_output();
        assert!(out.len() <= 6 * 1024 * 1024, "one piece held {} octets", out.len());
        total.extend(out);
        match event {
            Event::Flush => pieces += 1,
            Event::NeedInput => break,
            other => panic!("{other:?}"),
        }
    }
    let text = String::from_utf8_lossy(&total);
    assert!(pieces >= 1, "the response was built whole");
    assert_eq!(text.matches(" FETCH (BODY[] {").count(), 8, "every message, once");
    assert!(text.ends_with("f OK FETCH completed\r\n"), "{}", &text[text.len() - 100..]);
    // The session goes on normally afterwards.
    assert!(t.send("n NOOP\r\n").ends_with("n OK NOOP completed\r\n"));
}

#[test]
fn store_and_condstore() {
    let mut t = T::selected();
    assert_eq!(
        t.send("1 STORE 1:2 +FLAGS (\\Flagged $Work)\r\n"),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted\r\n\
         * 1 FETCH (FLAGS (\\Flagged $Work \\Recent))\r\n* 2 FETCH (FLAGS (\\Flagged $Work \\Recent))\r\n1 OK STORE completed\r\n"
    );
    assert_eq!(t.send("2 STORE 1 -FLAGS.SILENT (\\flagged)\r\n"), "2 OK STORE completed\r\n");
    assert_eq!(
        t.send("3 UID STORE 1 FLAGS (\\Seen)\r\n"),
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n3 OK STORE completed\r\n"
    );
    assert_eq!(
        t.send("4 FETCH 1 (MODSEQ)\r\n"),
        "* OK [HIGHESTMODSEQ 7] Highest\r\n* 1 FETCH (MODSEQ (7))\r\n4 OK FETCH completed\r\n"
    );
    assert_eq!(
        t.send("5 STORE 1:2 (UNCHANGEDSINCE 6) +FLAGS (\\Answered)\r\n"),
        "* 2 FETCH (UID 2 FLAGS (\\Flagged $Work \\Answered \\Recent) MODSEQ (8))\r\n5 OK [MODIFIED 1] Conditional STORE failed for some messages\r\n"
    );
    assert_eq!(
        t.send("6 FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n"),
        "* 2 FETCH (FLAGS (\\Flagged $Work \\Answered \\Recent) MODSEQ (8))\r\n6 OK FETCH completed\r\n"
    );
}

#[test]
fn search_and_esearch() {
    let mut t = T::selected();
    t.send("0 STORE 2 +FLAGS (\\Seen)\r\n");
    assert_eq!(t.send("1 SEARCH UNSEEN\r\n"), "* SEARCH 1\r\n1 OK SEARCH completed\r\n");
    assert_eq!(t.send("2 UID SEARCH OR FROM carol BODY \"see you\"\r\n"), "* SEARCH 1 2\r\n2 OK SEARCH completed\r\n");
    assert_eq!(t.send("3 SEARCH SUBJECT nothing\r\n"), "* SEARCH\r\n3 OK SEARCH completed\r\n");
    assert_eq!(
        t.send("4 SEARCH RETURN (MIN MAX COUNT ALL) ALL\r\n"),
        "* ESEARCH (TAG \"4\") MIN 1 MAX 2 COUNT 2 ALL 1:2\r\n4 OK SEARCH completed\r\n"
    );
    assert_eq!(
        t.send("5 SEARCH CHARSET KOI8-R ALL\r\n"),
        "5 NO [BADCHARSET (US-ASCII UTF-8)] Charset KOI8-R is not supported\r\n"
    );
    assert_eq!(
        t.send("6 SEARCH MODSEQ 4\r\n"),
        "* OK [HIGHESTMODSEQ 4] Highest\r\n* SEARCH 2 (MODSEQ 4)\r\n6 OK SEARCH completed\r\n"
    );
    assert_eq!(t.send("7 SEARCH SENTON 7-Feb-1994\r\n"), "* SEARCH 1\r\n7 OK SEARCH completed\r\n");
    // RFC 7162 3.1.5 with RFC 4731: MIN/MAX alone report the modseq of what they return.
    t.send("8 STORE 1 +FLAGS (\\Seen)\r\n");
    assert_eq!(
        t.send("9 SEARCH RETURN (MAX) MODSEQ 1\r\n"),
        "* ESEARCH (TAG \"9\") MAX 2 MODSEQ 4\r\n9 OK SEARCH completed\r\n"
    );
    assert_eq!(
        t.send("10 SEARCH RETURN (MIN COUNT) MODSEQ 1\r\n"),
        "* ESEARCH (TAG \"10\") MIN 1 COUNT 2 MODSEQ 5\r\n10 OK SEARCH completed\r\n"
    );
}

#[test]
fn copy_move_expunge() {
    let mut t = T::selected();
    assert_eq!(t.send("1 COPY 1:2 Archive\r\n"), "1 NO [TRYCREATE] Mailbox does not exist\r\n");
    assert_eq!(t.send("2 CREATE Archive\r\n"), "2 OK CREATE completed\r\n");
    assert_eq!(t.send("3 COPY 1:2 Archive\r\n"), "3 OK [COPYUID 1001 1:2 1:2] COPY completed\r\n");
    assert_eq!(
        t.send("4 UID MOVE 2 Archive\r\n"),
        // RFC 3501 7.3.2: the moved message was \Recent, so RECENT follows the size change.
        "* OK [COPYUID 1001 2 3] Moved\r\n* 2 EXPUNGE\r\n* 1 RECENT\r\n4 OK MOVE completed\r\n"
    );
    t.store.deliver("INBOX", MSG2);
    // The new message is not known before it is announced.
    assert_eq!(
        t.send("5 STORE 2 +FLAGS (\\Deleted)\r\n"),
        "5 BAD Invalid message sequence number 2: the mailbox has 1 messages\r\n"
    );
    assert_eq!(t.send("5 NOOP\r\n"), "* 2 EXISTS\r\n* 2 RECENT\r\n5 OK NOOP completed\r\n");
    assert_eq!(t.send("5 STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n"), "5 OK STORE completed\r\n");
    assert_eq!(t.send("6 UID EXPUNGE 3\r\n"), "* 2 EXPUNGE\r\n* 1 RECENT\r\n6 OK EXPUNGE completed\r\n");
    assert_eq!(t.send("7 EXPUNGE\r\n"), "* 1 EXPUNGE\r\n* 0 RECENT\r\n7 OK EXPUNGE completed\r\n");
    assert_eq!(
        t.send("8 STATUS Archive (MESSAGES UIDNEXT)\r\n"),
        "* STATUS Archive (MESSAGES 3 UIDNEXT 4)\r\n8 OK STATUS completed\r\n"
    );
}

#[test]
fn other_sessions_changes_respect_the_expunge_rule() {
    let mut t = T::selected();
    let mut other = T { s: Session::preauth(Config::new("x"), "bob", t.store.clone()), store: t.store.clone() };
    other.send("o SELECT INBOX\r\n");
    other.send("o STORE 1 +FLAGS (\\Deleted \\Seen)\r\no EXPUNGE\r\n");
    // Not during FETCH (RFC 3501 7.4.1): the flags change is shown, the expunge waits.
    let out = t.send("1 FETCH 2 FLAGS\r\n");
    assert_eq!(out, "* 2 FETCH (FLAGS (\\Recent))\r\n1 OK FETCH completed\r\n");
    assert_eq!(
        t.send("2 FETCH 1 BODY.PEEK[]\r\n"),
        "2 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n"
    );
    assert_eq!(t.send("3 NOOP\r\n"), "* 1 EXPUNGE\r\n* 1 RECENT\r\n3 OK NOOP completed\r\n");
    assert_eq!(t.send("4 FETCH 1 UID\r\n"), "* 1 FETCH (UID 2)\r\n4 OK FETCH completed\r\n");
}

#[test]
fn idle_reports_changes_at_once() {
    let mut t = T::selected();
    assert_eq!(t.send("1 IDLE\r\n"), "+ idling\r\n");
    assert!(t.s.idling());
    t.store.deliver("INBOX", MSG2);
    t.s.mailbox_changed();
    assert_eq!(String::from_utf8(t.s.take_output()).unwrap(), "* 3 EXISTS\r\n* 3 RECENT\r\n");
    assert_eq!(t.send("DONE\r\n"), "1 OK IDLE terminated\r\n");
    t.send("2 IDLE\r\n");
    assert_eq!(t.send("NOOP\r\n"), "2 BAD Expected DONE to end IDLE\r\n");
}

#[test]
fn append() {
    let mut t = T::ready();
    assert_eq!(
        t.send("1 APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {12}\r\n"),
        "+ Ready for literal data\r\n"
    );
    assert_eq!(t.send("Subject: x\r\n\r\n"), "1 OK [APPENDUID 1000 3] APPEND completed\r\n");
    assert_eq!(t.send("2 APPEND Nope {3+}\r\nabc\r\n"), "2 NO [TRYCREATE] Mailbox does not exist\r\n");
    assert_eq!(t.send("3 APPEND INBOX (\\Recent) {3+}\r\nabc\r\n"), "3 BAD \\Recent cannot be set by clients\r\n");
    t.send("s SELECT INBOX\r\n");
    assert_eq!(
        t.send("4 FETCH 3 (FLAGS INTERNALDATE)\r\n"),
        "* 3 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE \" 7-Feb-1994 21:52:25 -0800\")\r\n4 OK FETCH completed\r\n"
    );
    // Appending to the selected mailbox announces it.
    assert_eq!(
        t.send("5 APPEND INBOX {3+}\r\nabc\r\n"),
        "* 4 EXISTS\r\n* 4 RECENT\r\n5 OK [APPENDUID 1000 4] APPEND completed\r\n"
    );
}

#[test]
fn mailbox_management_and_list() {
    let mut t = T::ready();
    assert_eq!(t.send("1 CREATE \"Entw&APw-rfe/\"\r\n"), "1 OK CREATE completed\r\n");
    assert_eq!(t.send("2 CREATE Sent (USE (\\Sent))\r\n"), "2 OK CREATE completed\r\n");
    assert_eq!(t.send("3 CREATE Sent\r\n"), "3 NO [ALREADYEXISTS] Mailbox already exists\r\n");
    assert_eq!(t.send("4 CREATE x (USE (\\Bogus))\r\n"), "4 NO [USEATTR] Unknown special-use attribute \\Bogus\r\n");
    assert_eq!(t.send("5 CREATE a//b\r\n"), "5 NO [CANNOT] Invalid mailbox name: empty level or control character\r\n");
    assert_eq!(t.send("6 CREATE work/projects/x\r\n"), "6 OK CREATE completed\r\n");
    assert_eq!(
        t.send("7 LIST \"\" *\r\n"),
        "* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\n* LIST (\\HasNoChildren) \"/\" INBOX\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n* LIST (\\HasChildren) \"/\" work\r\n* LIST (\\HasChildren) \"/\" work/projects\r\n\
* LIST (\\HasNoChildren) \"/\" work/projects/x\r\n7 OK LIST completed\r\n"
    );
    assert_eq!(t.send("8 LIST \"\" \"\"\r\n"), "* LIST (\\Noselect) \"/\" \"\"\r\n8 OK LIST completed\r\n");
    assert_eq!(t.send("9 LIST work/ %\r\n"), "* LIST (\\HasChildren) \"/\" work/projects\r\n9 OK LIST completed\r\n");
    assert_eq!(t.send("10 SUBSCRIBE work/projects/x\r\n"), "10 OK SUBSCRIBE completed\r\n");
    assert_eq!(t.send("11 SUBSCRIBE nope\r\n"), "11 NO [NONEXISTENT] Mailbox does not exist\r\n");
    assert_eq!(
        t.send("12 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)\r\n"),
        "* LIST (\\HasChildren) \"/\" work (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n12 OK LIST completed\r\n"
    );
    assert_eq!(
        t.send("13 LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES))\r\n"),
        "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n* STATUS Sent (MESSAGES 0)\r\n13 OK LIST completed\r\n"
    );
    assert_eq!(t.send("14 LSUB \"\" *\r\n"), "* LSUB () \"/\" work/projects/x\r\n14 OK LSUB completed\r\n");
    assert_eq!(t.send("15 RENAME work job\r\n"), "15 OK RENAME completed\r\n");
    assert_eq!(t.send("16 RENAME nope x\r\n"), "16 NO [NONEXISTENT] Mailbox does not exist\r\n");
    assert_eq!(t.send("17 RENAME Sent job\r\n"), "17 NO [ALREADYEXISTS] Mailbox already exists\r\n");
    assert_eq!(t.send("18 DELETE INBOX\r\n"), "18 NO [CANNOT] INBOX cannot be deleted\r\n");
    assert_eq!(t.send("19 DELETE job/projects/x\r\n"), "19 OK DELETE completed\r\n");
    assert_eq!(t.send("20 LSUB \"\" *\r\n"), "* LSUB (\\Noselect) \"/\" work/projects/x\r\n20 OK LSUB completed\r\n");
    assert_eq!(
        t.send("21 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED)\r\n"),
        format!(
            "* STATUS INBOX (MESSAGES 2 RECENT 2 UIDNEXT 3 UIDVALIDITY 1000 UNSEEN 2 HIGHESTMODSEQ 3 SIZE {} DELETED 0)\r\n\
21 OK STATUS completed\r\n",
            MSG1.len() + 8 + MSG2.len()
        )
    );
    assert_eq!(t.send("22 STATUS nope (MESSAGES)\r\n"), "22 NO [NONEXISTENT] Mailbox does not exist\r\n");
}

#[test]
fn misc_commands() {
    let mut t = T::ready();
    assert_eq!(t.send("1 ID (\"name\" \"test\")\r\n"), "* ID (\"name\" \"carrier\")\r\n1 OK ID completed\r\n");
    assert_eq!(t.send("2 NAMESPACE\r\n"), "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n2 OK NAMESPACE completed\r\n");
    assert_eq!(t.send("3 ENABLE CONDSTORE UTF8=ACCEPT\r\n"), "* ENABLED CONDSTORE\r\n3 OK ENABLE completed\r\n");
    t.send("s SELECT INBOX\r\n");
    assert_eq!(
        t.send("4 STORE 1 +FLAGS (\\Deleted)\r\n"),
        "* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent) MODSEQ (4))\r\n4 OK STORE completed\r\n"
    );
    assert_eq!(t.send("5 UNSELECT\r\n"), "5 OK UNSELECT completed\r\n");
    t.send("s SELECT INBOX\r\n");
    assert_eq!(t.send("6 CHECK\r\n"), "6 OK CHECK completed\r\n");
    assert_eq!(t.send("7 CLOSE\r\n"), "7 OK CLOSE completed\r\n");
    assert_eq!(t.store.clone().status("INBOX").unwrap().messages, 1);
    assert_eq!(t.send("8 LOGOUT\r\n"), "* BYE Logging out\r\n8 OK LOGOUT completed\r\n");
    assert_eq!(t.s.next_event(), Event::Close);
}

#[test]
fn names_that_are_not_modified_utf7_get_no_and_match_nothing() {
    // imaptest's atoms script: well-formed commands, but no mailbox can have such a name.
    let mut t = T::ready();
    assert_eq!(
        t.send("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}\r\n"),
        "a NO [CANNOT] Mailbox name \"!#$&'+,-.0123456789:;<=>?@^_`|[}\" is not valid modified UTF-7 \
         (RFC 3501 5.1.3; write '&' as '&-')\r\n"
    );
    assert_eq!(t.send("b LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n"), "b OK LIST completed\r\n");
    assert!(t.send("c CREATE &Jjo\r\n").starts_with("c NO [CANNOT] Mailbox name \"&Jjo\""));
    assert_eq!(t.send("d LSUB \"\" &Jjo*\r\n"), "d OK LSUB completed\r\n");
    // Not a BAD: the session is not counting towards max_bad.
    assert_eq!(t.send("e NOOP\r\n"), "e OK NOOP completed\r\n");
}

#[test]
fn new_keywords_are_announced_in_flags_before_a_fetch_shows_them() {
    // imaptest: "Keyword used without being in FLAGS".
    let mut t = T::selected();
    let mut other = T { s: Session::preauth(Config::new("x"), "bob", t.store.clone()), store: t.store.clone() };
    other.send("o SELECT INBOX\r\n");
    other.send("o STORE 1 +FLAGS.SILENT ($Label1)\r\n");
    assert_eq!(
        t.send("1 NOOP\r\n"),
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags permitted\r\n\
         * 1 FETCH (FLAGS ($Label1 \\Recent))\r\n1 OK NOOP completed\r\n"
    );
    // Our own STORE of a new keyword too; a known one is not announced again.
    let out = t.send("2 STORE 2 +FLAGS ($label1 Work)\r\n");
    assert!(out.starts_with("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 Work)\r\n"), "{out}");
    assert_eq!(out.matches("* FLAGS").count(), 1, "{out}");
    assert_eq!(t.send("3 STORE 1 +FLAGS (Work)\r\n").matches("* FLAGS").count(), 0);
}

#[test]
fn lsub_and_childinfo_name_parents_only_for_children_they_would_not_list() {
    let mut t = T::ready();
    t.send("1 CREATE a/b\r\n2 SUBSCRIBE a/b\r\n");
    // RFC 3501 6.3.9: "%" does not reach a/b, so its parent is shown as \Noselect.
    assert_eq!(t.send("3 LSUB \"\" %\r\n"), "* LSUB (\\Noselect) \"/\" a\r\n3 OK LSUB completed\r\n");
    assert_eq!(t.send("4 LSUB \"\" *\r\n"), "* LSUB () \"/\" a/b\r\n4 OK LSUB completed\r\n");
    // RFC 5258 3.5: CHILDINFO only when the subscribed child is not listed itself.
    assert_eq!(
        t.send("5 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (a)\r\n"),
        "* LIST (\\HasChildren) \"/\" a (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n5 OK LIST completed\r\n"
    );
    assert_eq!(
        t.send("6 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (a a/b)\r\n"),
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" a/b\r\n6 OK LIST completed\r\n"
    );
}

#[test]
fn header_items_and_keys_read_only_the_header() {
    let mut t = T::selected();
    let before = t.store.whole_reads();
    let out = t.send("f1 FETCH 1:2 (ENVELOPE RFC822.HEADER BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[HEADER])\r\n");
    assert!(out.contains("BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: Hello\r\n\r\n"), "{out}");
    assert!(out.contains("\"Hello\" ((\"Alice\" NIL \"alice\" \"example.com\"))"), "{out}");
    assert!(out.ends_with("f1 OK FETCH completed\r\n"), "{out}");
    assert_eq!(t.send("f2 SEARCH SUBJECT second FROM carol\r\n"), "* SEARCH 2\r\nf2 OK SEARCH completed\r\n");
    assert_eq!(t.store.whole_reads(), before, "header items and header keys read no body");
    // Anything beyond the top-level header reads the message.
    for (command, reads) in [("f3 FETCH 1 BODY.PEEK[TEXT]\r\n", 1), ("f4 FETCH 1 BODY.PEEK[1.MIME]\r\n", 1)] {
        let n = t.store.whole_reads();
        t.send(command);
        assert_eq!(t.store.whole_reads(), n + reads, "{command}");
    }
    let n = t.store.whole_reads();
    t.send("f5 SEARCH BODY see\r\n");
    assert_eq!(t.store.whole_reads(), n + 2, "a body search reads each message");
}

#[test]
fn an_append_shed_mid_literal_gets_no_unavailable_and_the_session_goes_on() {
    let mut t = T::selected();
    assert_eq!(t.send("a1 APPEND INBOX {50+}\r\nSubject: partial\r\n"), "");
    assert!(t.s.held() > 20);
    t.s.shed();
    assert_eq!(t.s.held(), 0);
    let out = t.send(&format!("{}\r\na2 NOOP\r\n", "x".repeat(50 - 19)));
    assert_eq!(
        out,
        "a1 NO [UNAVAILABLE] Too many messages arriving at once; try again later\r\na2 OK NOOP completed\r\n"
    );
    assert_eq!(t.send("a3 STATUS INBOX (MESSAGES)\r\n"), "* STATUS INBOX (MESSAGES 2)\r\na3 OK STATUS completed\r\n");
}

/// Issue 14.5: RFC 7162 3.1.3 asks for the new MODSEQ even after .SILENT once CONDSTORE is on.
#[test]
fn a_silent_store_reports_the_new_modseq_with_condstore() {
    let mut t = T::selected();
    // Without CONDSTORE, .SILENT is silent.
    assert_eq!(t.send("1 STORE 1 +FLAGS.SILENT (\\Seen)\r\n"), "1 OK STORE completed\r\n");
    assert_eq!(
        t.send("2 STORE 1 (UNCHANGEDSINCE 100) -FLAGS.SILENT (\\Seen)\r\n"),
        "* OK [HIGHESTMODSEQ 4] Highest\r\n* 1 FETCH (UID 1 MODSEQ (5))\r\n2 OK STORE completed\r\n"
    );
    assert_eq!(
        t.send("3 UID STORE 2 +FLAGS.SILENT (\\Answered)\r\n"),
        "* 2 FETCH (UID 2 MODSEQ (6))\r\n3 OK STORE completed\r\n"
    );
}

/// Issue 14.6: another session's +FLAGS then -FLAGS leaves the flags as they were but raises
/// MODSEQ; a CONDSTORE client must hear of it, or its HIGHESTMODSEQ goes stale.
#[test]
fn a_modseq_change_that_leaves_the_flags_alone_is_still_reported() {
    let mut t = T::selected();
    t.send("e ENABLE CONDSTORE\r\n");
    let mut o = T { s: Session::preauth(Config::new("x"), "bob", t.store.clone()), store: t.store.clone() };
    o.send("s SELECT INBOX\r\n");
    o.send("1 STORE 1 +FLAGS (\\Flagged)\r\n2 STORE 1 -FLAGS (\\Flagged)\r\n");
    assert_eq!(t.send("n NOOP\r\n"), "* 1 FETCH (UID 1 FLAGS (\\Recent) MODSEQ (5))\r\nn OK NOOP completed\r\n");
}

/// Issue 14.7: when another session expunges a \Recent message the size and the RECENT count
/// change, and RFC 3501 7.3.2 has RECENT follow.
#[test]
fn recent_follows_another_sessions_expunge() {
    let mut t = T::selected();
    let mut o = T { s: Session::preauth(Config::new("x"), "bob", t.store.clone()), store: t.store.clone() };
    o.send("s SELECT INBOX\r\n1 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n2 EXPUNGE\r\n");
    assert_eq!(t.send("n NOOP\r\n"), "* 2 EXPUNGE\r\n* 1 RECENT\r\nn OK NOOP completed\r\n");
}
