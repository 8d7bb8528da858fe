//! IMAP over real sockets: imaps (implicit TLS) and imap with STARTTLS, logins, every kind of
//! bad input, limits, timeouts, and changes reaching other sessions (IDLE included).

use crate::common::imap::Imap;
use crate::common::{Options, Server};

const BODY_1: &str = "Subject: first\r\n\r\nHello Bob.\r\n";
const BODY_2: &str = "Subject: second\r\n\r\nline 1\r\nline 2\r\n";

/// A server with two messages for bob, delivered over SMTP.
fn server_with_mail(opts: Options) -> Server {
    let server = Server::start_with(opts);
    deliver(&server, BODY_1, 1);
    deliver(&server, BODY_2, 2);
    server
}

fn deliver(server: &Server, body: &str, total: usize) {
    server.send_mail("alice@example.org", &["bob@example.com"], body).expect(250);
    server.wait_log("stat=Sent (delivered to maildir)", total);
}

fn with_sections(sections: &str) -> Options {
    Options { sections: sections.into(), ..Options::default() }
}

fn imaps(server: &Server) -> Imap {
    Imap::connect_tls(server.imaps_port, &server.cert_path())
}

fn logged_in(server: &Server) -> Imap {
    let mut c = imaps(server);
    c.login("bob@example.com", "bob-secret").expect("OK");
    c
}

fn selected(server: &Server) -> Imap {
    let mut c = logged_in(server);
    c.cmd("SELECT INBOX").expect("OK");
    c
}

#[test]
fn login_select_fetch_logout_over_imaps() {
    let server = server_with_mail(Options::default());
    let mut c = imaps(&server);
    assert!(c.greeting.starts_with("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+"), "{}", c.greeting);
    assert!(c.greeting.ends_with("] mx.example.com IMAP4rev1 carrier ready"), "{}", c.greeting);
    assert!(!c.greeting.contains("STARTTLS") && !c.greeting.contains("LOGINDISABLED"), "{}", c.greeting);
    // The bare account name works as for SMTP AUTH and POP3.
    let ok = c.login("bob", "bob-secret").expect("OK");
    assert!(ok.done.starts_with("OK [CAPABILITY IMAP4rev1 LITERAL+"), "{ok:?}");
    let sel = c.cmd("SELECT INBOX").expect("OK");
    assert_eq!(sel.done, "OK [READ-WRITE] SELECT completed");
    assert_eq!(sel.lines("2 EXISTS").len(), 1, "{sel:?}");
    assert_eq!(sel.lines("2 RECENT").len(), 1, "{sel:?}");
    assert_eq!(sel.lines("OK [UNSEEN 1]").len(), 1, "{sel:?}");
    let fetch = c.cmd("FETCH 1:2 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])").expect("OK");
    assert_eq!(fetch.untagged.len(), 2, "{fetch:?}");
    assert!(fetch.untagged[0].starts_with("* 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {"));
    assert!(fetch.untagged[0].contains("Subject: first\r\n"), "{fetch:?}");
    c.cmd("LOGOUT").expect("OK");
    assert!(c.is_closed());
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=LOGIN, rip=127.0.0.1, lip=127.0.0.1, TLS", 1);
    server.wait_log("imap(bob@example.com): Disconnected: Logged out in=", 1);
    // SASL-IR (RFC 4959): the PLAIN response on the command line; "\0bob\0bob-secret".
    let mut c = imaps(&server);
    c.cmd("AUTHENTICATE PLAIN AGJvYgBib2Itc2VjcmV0").expect("OK");
    c.cmd("LOGOUT").expect("OK");
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=PLAIN, rip=127.0.0.1", 1);
    // Every account gets its special-use folders at login.
    for folder in [".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"] {
        assert!(server.maildir("example.com", "bob").join(folder).join("cur").is_dir(), "{folder}");
    }
}

#[test]
fn starttls_on_143_before_any_password() {
    let server = Server::start();
    let mut c = Imap::connect(server.imap_port, &server.cert_path());
    assert!(c.greeting.contains(" STARTTLS LOGINDISABLED "), "{}", c.greeting);
    let no = c.login("bob@example.com", "bob-secret").expect("NO");
    assert_eq!(no.done, "NO [PRIVACYREQUIRED] Plaintext LOGIN is disabled: use STARTTLS first");
    c.cmd("AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLmNvbQBib2Itc2VjcmV0").expect("NO");
    c.starttls();
    let caps = c.cmd("CAPABILITY").expect("OK");
    let caps = caps.lines("CAPABILITY ")[0];
    assert!(caps.contains(" AUTH=PLAIN ") && !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"), "{caps}");
    c.cmd("STARTTLS").expect("BAD");
    // AUTHENTICATE PLAIN with a continuation: "\0bob@example.com\0bob-secret".
    let tag = c.tag();
    c.raw(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes());
    assert_eq!(c.line().unwrap(), "+ ");
    c.raw(b"AGJvYkBleGFtcGxlLmNvbQBib2Itc2VjcmV0\r\n");
    c.read(&tag).expect("OK");
    c.cmd("LOGOUT").expect("OK");
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS", 1);
    assert!(!server.log().contains("bob-secret"), "passwords never reach the log");
}

#[test]
fn commands_pipelined_behind_starttls_are_discarded() {
    let server = Server::start();
    let mut c = Imap::connect(server.imap_port, &server.cert_path());
    // A man in the middle appends a command to the client's STARTTLS (CVE-2011-0411 style).
    c.raw(b"a STARTTLS\r\nb CAPABILITY\r\nc LOGOUT\r\n");
    assert_eq!(c.line().unwrap(), "a OK Begin TLS negotiation now");
    c.upgrade();
    let noop = c.cmd("NOOP").expect("OK");
    assert!(noop.untagged.is_empty(), "nothing answers the injected commands: {noop:?}");
    c.login("bob@example.com", "bob-secret").expect("OK");
}

#[test]
fn plaintext_login_on_143_only_from_loopback_when_configured() {
    let server = Server::start_with(with_sections("[submission]\nplaintext_loopback = true\n"));
    let mut c = Imap::connect(server.imap_port, &server.cert_path());
    assert!(c.greeting.contains(" STARTTLS AUTH=PLAIN "), "{}", c.greeting);
    c.login("bob@example.com", "bob-secret").expect("OK");
    c.cmd("LOGOUT").expect("OK");
    server.wait_log("imap-login: Login: user=<bob@example.com>, method=LOGIN, rip=127.0.0.1, lip=127.0.0.1\n", 1);
}

#[test]
fn malformed_commands_get_bad_with_the_reason() {
    let server = Server::start();
    let mut c = logged_in(&server);
    let cases = [
        ("FROB INBOX", "BAD Error in IMAP command: Unknown command FROB"),
        ("SELECT", "BAD Error in IMAP command: "),
        ("FETCH 1 (FLAGS", "BAD Error in IMAP command: "),
        ("STATUS INBOX (BOGUS)", "BAD Error in IMAP command: Unknown STATUS item BOGUS"),
        ("APPEND INBOX (\\Recent) {1+}\r\nx", "BAD \\Recent cannot be set by clients"),
        ("UID FROB 1", "BAD Error in IMAP command: Unknown UID command FROB"),
    ];
    for (command, expected) in cases {
        let r = c.cmd(command);
        assert!(r.done.starts_with(expected), "{command:?}: {r:?}");
    }
    // No tag at all, a NUL, 8-bit in a quoted string.
    c.raw(b"\r\n");
    assert!(c.line().unwrap().starts_with("* BAD Error in IMAP command: Empty command line"));
    let r = c.cmd("SELECT \"IN\0BOX\"");
    assert!(r.done.starts_with("BAD Error in IMAP command:"), "{r:?}");
    let r = c.cmd("SELECT \"Entw\u{fc}rfe\"");
    assert!(r.done.starts_with("BAD Error in IMAP command:"), "{r:?}");
    // The session is fine, and so is the server.
    c.cmd("NOOP").expect("OK");
    logged_in(&server).cmd("NOOP").expect("OK");
}

#[test]
fn too_many_bad_commands_in_a_row_end_the_session() {
    let server = Server::start_with(with_sections("[imap]\nmax_errors = 3\n"));
    let mut c = logged_in(&server);
    c.cmd("FROB").expect("BAD");
    c.cmd("FROB").expect("BAD");
    let tag = c.tag();
    c.raw(format!("{tag} FROB\r\n").as_bytes());
    assert!(c.line().unwrap().starts_with(&format!("{tag} BAD")));
    assert_eq!(c.line().unwrap(), "* BYE Too many invalid commands");
    assert!(c.is_closed());
    server.wait_log("imap(bob@example.com): Disconnected: Too many invalid commands in=", 1);
}

#[test]
fn huge_literals_are_refused_before_being_read() {
    let server = Server::start_with(with_sections("[imap]\nmax_message_size = \"1K\"\n"));
    // Before login, APPEND may not announce more than any other command.
    let mut anonymous = imaps(&server);
    let tag = anonymous.tag();
    anonymous.raw(format!("{tag} APPEND INBOX {{100000}}\r\n").as_bytes());
    let line = anonymous.line().unwrap();
    assert!(line.starts_with(&format!("{tag} BAD [TOOBIG] Literal of 100000 octets")), "{line}");
    anonymous.login("bob@example.com", "bob-secret").expect("OK");
    let mut c = logged_in(&server);
    let caps = c.cmd("CAPABILITY").expect("OK");
    assert!(caps.untagged[0].ends_with(" APPENDLIMIT=1024"), "{caps:?}");
    // A synchronizing literal: refused at once, without the "+" that would invite the octets.
    let tag = c.tag();
    c.raw(format!("{tag} APPEND INBOX {{999999999}}\r\n").as_bytes());
    assert_eq!(
        c.line().unwrap(),
        format!("{tag} NO [TOOBIG] Message of 999999999 octets is larger than the limit of 1024 octets (APPENDLIMIT)")
    );
    let tag = c.tag();
    c.raw(format!("{tag} LOGIN {{100000}}\r\n").as_bytes());
    let line = c.line().unwrap();
    assert!(line.starts_with(&format!("{tag} BAD [TOOBIG] Literal of 100000 octets")), "{line}");
    // A non-synchronizing one is refused too; its octets are skipped, not taken as commands.
    let tag = c.tag();
    let junk = "x NOOP\r\n".repeat(200);
    c.raw(format!("{tag} APPEND INBOX {{{}+}}\r\n{junk}\r\n", junk.len()).as_bytes());
    assert!(c.line().unwrap().starts_with(&format!("{tag} NO [TOOBIG]")));
    // A line past 64 KiB.
    let tag = c.tag();
    c.raw(format!("{tag} NOOP {}\r\n", "a".repeat(70_000)).as_bytes());
    let line = c.line().unwrap();
    assert!(line.contains("BAD [TOOBIG] Command line longer than 65536 octets"), "{line}");
    // Still usable, and nothing was stored.
    c.cmd("NOOP").expect("OK");
    let status = c.cmd("STATUS INBOX (MESSAGES)").expect("OK");
    assert_eq!(status.untagged, ["* STATUS INBOX (MESSAGES 0)"]);
}

#[test]
fn invalid_sequence_sets() {
    let server = server_with_mail(Options::default());
    let mut c = selected(&server);
    for (command, why) in [
        ("FETCH 0 FLAGS", "0 is not a message number"),
        ("FETCH 3 FLAGS", "Invalid message sequence number 3: the mailbox has 2 messages"),
        ("FETCH 1:x FLAGS", "Error in IMAP command"),
        ("STORE 5 +FLAGS (\\Seen)", "Invalid message sequence number 5"),
        ("COPY 2:9 Trash", "Invalid message sequence number 9"),
        ("FETCH $ FLAGS", "SEARCHRES) is not supported"),
    ] {
        let r = c.cmd(command).expect("BAD");
        assert!(r.done.contains(why), "{command}: {r:?}");
    }
    // Unknown UIDs are simply not there (RFC 3501 6.4.8).
    let r = c.cmd("UID FETCH 99:100 FLAGS").expect("OK");
    assert!(r.untagged.is_empty(), "{r:?}");
    let r = c.cmd("UID FETCH 2:* UID").expect("OK");
    assert_eq!(r.untagged, ["* 2 FETCH (UID 2)"]);
}

#[test]
fn unknown_mailboxes_are_nonexistent_or_trycreate() {
    let server = server_with_mail(Options::default());
    let mut c = selected(&server);
    for command in ["EXAMINE Nope", "STATUS Nope (MESSAGES)", "DELETE Nope", "RENAME Nope Other"] {
        let r = c.cmd(command).expect("NO");
        assert!(r.done.starts_with("NO [NONEXISTENT] "), "{command}: {r:?}");
    }
    // EXAMINE of a missing mailbox closed INBOX (RFC 3501 6.3.1).
    c.cmd("FETCH 1 FLAGS").expect("BAD");
    c.cmd("SELECT INBOX").expect("OK");
    for command in ["APPEND Nope {1+}\r\nx", "COPY 1 Nope", "MOVE 1 Nope", "UID COPY 1 Nope"] {
        let r = c.cmd(command).expect("NO");
        assert!(r.done.starts_with("NO [TRYCREATE] "), "{command}: {r:?}");
    }
    let r = c.cmd("CREATE \"a/../b\"").expect("NO");
    assert!(r.done.starts_with("NO [CANNOT] "), "{r:?}");
    let r = c.cmd("CREATE Sent").expect("NO");
    assert!(r.done.starts_with("NO [ALREADYEXISTS] "), "{r:?}");
    let r = c.cmd("DELETE INBOX").expect("NO");
    assert!(r.done.starts_with("NO [CANNOT] "), "{r:?}");
    let r = c.cmd("CREATE Mine (USE (\\Sent))").expect("NO");
    assert!(r.done.starts_with("NO [USEATTR] "), "{r:?}");
    // Nothing moved.
    let r = c.cmd("FETCH 1:* UID").expect("OK");
    assert_eq!(r.untagged.len(), 2, "{r:?}");
}

#[test]
fn commands_in_the_wrong_state() {
    let server = server_with_mail(Options::default());
    let mut c = imaps(&server);
    let r = c.cmd("SELECT INBOX").expect("BAD");
    assert_eq!(r.done, "BAD SELECT is not valid in this state: log in first");
    c.login("bob@example.com", "bob-secret").expect("OK");
    let r = c.cmd("FETCH 1 FLAGS").expect("BAD");
    assert_eq!(r.done, "BAD FETCH is not valid in this state: no mailbox is selected");
    c.cmd("CLOSE").expect("BAD");
    let r = c.login("bob@example.com", "bob-secret").expect("BAD");
    assert!(r.done.contains("already logged in"), "{r:?}");
    c.cmd("SELECT INBOX").expect("OK");
    // RFC 5161 3.1 lets a server accept ENABLE after SELECT (issue 14.8).
    c.cmd("ENABLE CONDSTORE").expect("OK");
    // Only DONE ends IDLE (RFC 2177 3).
    let tag = c.tag();
    c.raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(c.line().unwrap(), "+ idling");
    c.raw(b"x NOOP\r\n");
    assert_eq!(c.line().unwrap(), format!("{tag} BAD Expected DONE to end IDLE"));
    c.cmd("NOOP").expect("OK");
}

#[test]
fn failed_logins_close_the_session_and_throttle_the_address() {
    let server = Server::start_with(with_sections(
        "[submission]\nauth_failure_delay = \"0s\"\nauth_ip_limit = 4\nmax_auth_failures = 3\n",
    ));
    let mut c = imaps(&server);
    assert_eq!(c.login("bob@example.com", "wrong").done, "NO [AUTHENTICATIONFAILED] Authentication failed");
    assert_eq!(c.login("nobody@example.com", "x").done, "NO [AUTHENTICATIONFAILED] Authentication failed");
    let tag = c.tag();
    c.raw(format!("{tag} LOGIN bob@example.com still-wrong\r\n").as_bytes());
    assert_eq!(c.line().unwrap(), format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed"));
    assert_eq!(c.line().unwrap(), "* BYE Too many authentication failures");
    assert!(c.is_closed());
    server.wait_log("imap-login: auth failed: user=<bob@example.com>, method=LOGIN, rip=127.0.0.1", 2);
    server.wait_log("imap-login: Disconnected (Too many authentication failures): rip=127.0.0.1", 1);
    assert!(!server.log().contains("still-wrong"), "passwords never reach the log");
    // One more failure from this address, then even the right password is refused for a while.
    let mut c = imaps(&server);
    c.login("bob@example.com", "wrong again").expect("NO");
    let r = c.login("bob@example.com", "bob-secret").expect("NO");
    assert_eq!(r.done, "NO [UNAVAILABLE] Too many failed logins from your address; try again later");
}

#[test]
fn idle_clients_are_logged_out_after_the_timeout() {
    let server = Server::start_with(with_sections("[imap]\ntimeout = \"1s\"\nlogin_timeout = \"1s\"\n"));
    let mut c = imaps(&server);
    assert_eq!(c.line().unwrap(), "* BYE Autologout; idle for too long");
    assert!(c.is_closed());
    server.wait_log("imap-login: Disconnected (Disconnected for inactivity): rip=127.0.0.1", 1);
    // IDLE does not keep a connection forever either.
    let mut c = selected(&server);
    let tag = c.tag();
    c.raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(c.line().unwrap(), "+ idling");
    assert_eq!(c.line().unwrap(), "* BYE Autologout; idle for too long");
    assert!(c.is_closed());
    server.wait_log("imap(bob@example.com): Disconnected: Disconnected for inactivity in=", 1);
}

#[test]
fn connections_beyond_the_limit_get_bye() {
    let server = Server::start_with(with_sections("[imap]\nmax_connections = 1\n"));
    let mut first = logged_in(&server);
    let mut second = imaps_or_plain_bye(&server);
    assert_eq!(second.line().as_deref(), None, "closed after the BYE");
    first.cmd("NOOP").expect("OK");
}

/// The refusal comes before TLS, so it is read on the plain 143 port.
fn imaps_or_plain_bye(server: &Server) -> Imap {
    let c = Imap::connect(server.imap_port, &server.cert_path());
    assert_eq!(c.greeting, "* BYE [UNAVAILABLE] Too many connections, try again later");
    c
}

#[test]
fn idle_reports_deliveries_and_other_sessions_changes() {
    let server = server_with_mail(Options::default());
    let mut idler = selected(&server);
    let mut other = selected(&server);
    let tag = idler.tag();
    idler.raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(idler.line().unwrap(), "+ idling");
    // A delivery over SMTP.
    deliver(&server, "Subject: third\r\n\r\nnew\r\n", 3);
    assert_eq!(idler.line().unwrap(), "* 3 EXISTS");
    assert_eq!(idler.line().unwrap(), "* 3 RECENT", "this session saw all three first");
    // Another session's flag change and expunge.
    other.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").expect("OK");
    assert_eq!(idler.line().unwrap(), "* 1 FETCH (FLAGS (\\Seen \\Recent))");
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").expect("OK");
    assert_eq!(idler.line().unwrap(), "* 2 FETCH (FLAGS (\\Deleted \\Recent))");
    other.cmd("EXPUNGE").expect("OK");
    assert_eq!(idler.line().unwrap(), "* 2 EXPUNGE");
    idler.raw(b"DONE\r\n");
    idler.read(&tag).expect("OK");
    let r = idler.cmd("FETCH 1:* UID").expect("OK");
    assert_eq!(r.untagged, ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]);
}

#[test]
fn changes_by_other_programs_are_seen_at_the_next_command() {
    let server = server_with_mail(Options::default());
    let mut c = selected(&server);
    // mutt, or an administrator, drops a message straight into the Maildir.
    let new = server.maildir("example.com", "bob").join("new").join("1700000000.outside.host");
    std::fs::write(new, "Subject: from outside\n\nhi\n").unwrap();
    let r = c.cmd("NOOP").expect("OK");
    assert!(r.untagged.contains(&"* 3 EXISTS".to_string()), "{r:?}");
    let r = c.cmd("FETCH 3 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])").expect("OK");
    assert!(r.untagged[0].starts_with("* 3 FETCH (RFC822.SIZE 29 BODY[HEADER.FIELDS (SUBJECT)]"), "{r:?}");
}

#[test]
fn a_rebuilt_index_ends_sessions_that_have_the_mailbox_selected() {
    let server = server_with_mail(Options::default());
    let mut c = selected(&server);
    // An administrator deletes the index: it is rebuilt with a new UIDVALIDITY.
    std::fs::remove_file(server.maildir("example.com", "bob").join("carrier-index")).unwrap();
    c.cmd("NOOP").expect("OK");
    assert_eq!(c.line().unwrap(), "* BYE Mailbox UIDVALIDITY changed (its index was rebuilt); log in again");
    assert!(c.is_closed());
    server.wait_log("imap(bob@example.com): the UIDVALIDITY of INBOX changed (its index was rebuilt)", 1);
    // Logging in again gives the new UIDVALIDITY and the same messages.
    let r = selected(&server).cmd("FETCH 1:* UID").expect("OK");
    assert_eq!(r.untagged.len(), 2, "{r:?}");
}

#[test]
fn one_user_from_one_address_may_hold_only_so_many_sessions() {
    let server = Server::start_with(with_sections("[imap]\nmax_connections_per_user_ip = 2\n"));
    let first = logged_in(&server);
    let _second = logged_in(&server);
    let mut third = imaps(&server);
    let no = third.login("bob@example.com", "bob-secret").expect("NO");
    assert_eq!(
        no.done,
        "NO [UNAVAILABLE] Maximum number of connections from user+IP exceeded (imap.max_connections_per_user_ip = 2)"
    );
    // The refused session is still usable, and other users are not affected.
    third.login("alice@example.com", "alice-pw").expect("OK");
    third.cmd("SELECT INBOX").expect("OK");
    server.wait_log("imap(bob@example.com): refused: 2 sessions from rip=127.0.0.1", 1);
    // A session that ends frees its place.
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut again = imaps(&server);
    while again.login("bob@example.com", "bob-secret").done.starts_with("NO") {
        assert!(std::time::Instant::now() < deadline, "the closed session's place was never freed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    again.cmd("SELECT INBOX").expect("OK");
}

/// Logged in with QRESYNC enabled (RFC 7162 3.2.3).
fn qresync_client(server: &Server) -> Imap {
    let mut c = logged_in(server);
    let r = c.cmd("ENABLE QRESYNC").expect("OK");
    assert_eq!(r.untagged, ["* ENABLED QRESYNC"]);
    c
}

/// A number from a response code in SELECT's untagged lines: `[UIDVALIDITY n]`.
fn code_value(r: &crate::common::imap::Response, code: &str) -> u64 {
    let line = r.lines(&format!("OK [{code} "))[0];
    line[code.len() + 5..].split(']').next().unwrap().parse().unwrap()
}

/// The resynchronisation lines of a SELECT: VANISHED and FETCH.
fn resync_lines(r: &crate::common::imap::Response) -> Vec<String> {
    r.untagged.iter().filter(|l| l.starts_with("* VANISHED") || l.contains(" FETCH (")).cloned().collect()
}

#[test]
fn a_qresync_session_sees_other_sessions_expunges_as_vanished() {
    let server = server_with_mail(Options::default());
    let mut q = qresync_client(&server);
    q.cmd("SELECT INBOX").expect("OK");
    let mut other = selected(&server);
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").expect("OK");
    // The other session did not enable QRESYNC: EXPUNGE as before.
    assert_eq!(other.cmd("EXPUNGE").expect("OK").untagged, ["* 1 EXPUNGE"]);
    let r = q.cmd("NOOP").expect("OK");
    // RFC 7162 3.2.10; and message 1 was \Recent to q, so RECENT follows (RFC 3501 7.3.2).
    assert_eq!(r.untagged, ["* VANISHED 1", "* 1 RECENT"]);
    assert_eq!(q.cmd("FETCH 1 UID").expect("OK").untagged, ["* 1 FETCH (UID 2)"]);
    // During IDLE too, with UID and MODSEQ in the flag change (RFC 7162 3.2.4).
    let tag = q.tag();
    q.raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(q.line().unwrap(), "+ idling");
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").expect("OK");
    let flagged = q.line().unwrap();
    assert!(flagged.starts_with("* 1 FETCH (UID 2 FLAGS (\\Deleted \\Recent) MODSEQ ("), "{flagged}");
    other.cmd("EXPUNGE").expect("OK");
    assert_eq!(q.line().unwrap(), "* VANISHED 2");
    q.raw(b"DONE\r\n");
    q.read(&tag).expect("OK");
    // Its own EXPUNGE: VANISHED and the HIGHESTMODSEQ reached (RFC 7162 3.2.7).
    deliver(&server, BODY_1, 3);
    q.cmd("NOOP").expect("OK");
    q.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").expect("OK");
    let r = q.cmd("EXPUNGE").expect("OK");
    // Message 3 was \Recent here: RECENT follows (RFC 3501 7.3.2).
    assert_eq!(r.untagged, ["* VANISHED 3", "* 0 RECENT"]);
    let status = q.cmd("STATUS INBOX (HIGHESTMODSEQ)").expect("OK");
    let highest = status.untagged[0].trim_start_matches("* STATUS INBOX (HIGHESTMODSEQ ").trim_end_matches(')');
    assert_eq!(r.done, format!("OK [HIGHESTMODSEQ {highest}] EXPUNGE completed"));
    // Selecting again first closes INBOX (RFC 7162 3.2.11).
    let r = q.cmd("EXAMINE INBOX").expect("OK");
    assert_eq!(r.untagged[0], "* OK [CLOSED] Previous mailbox closed");
}

#[test]
fn a_reconnecting_client_resyncs_with_select_qresync() {
    let server = server_with_mail(Options::default());
    deliver(&server, "Subject: third\r\n\r\nthree\r\n", 3);
    let mut c = qresync_client(&server);
    let first = c.cmd("SELECT INBOX").expect("OK");
    let (validity, seen) = (code_value(&first, "UIDVALIDITY"), code_value(&first, "HIGHESTMODSEQ"));
    c.cmd("LOGOUT").expect("OK");
    // Meanwhile another client flags UID 2, expunges UID 1, and mail arrives (UID 4).
    let mut other = selected(&server);
    other.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").expect("OK");
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").expect("OK");
    other.cmd("EXPUNGE").expect("OK");
    deliver(&server, "Subject: fourth\r\n\r\nfour\r\n", 4);
    // RFC 7162 3.2.5.1: exactly what changed after `seen`.
    let mut c = qresync_client(&server);
    let r = c.cmd(&format!("SELECT INBOX (QRESYNC ({validity} {seen}))")).expect("OK");
    let now = c.cmd("FETCH 1:* (UID FLAGS MODSEQ)").expect("OK");
    let modseq =
        |seq: usize| now.untagged[seq - 1].rsplit_once("MODSEQ (").unwrap().1.trim_end_matches("))").to_string();
    assert_eq!(
        resync_lines(&r),
        [
            "* VANISHED (EARLIER) 1".to_string(),
            format!("* 1 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({}))", modseq(1)),
            format!("* 3 FETCH (UID 4 FLAGS (\\Recent) MODSEQ ({}))", modseq(3)),
        ],
        "{r:?}"
    );
    assert!(modseq(2).parse::<u64>().unwrap() <= seen, "UID 3 did not change: {now:?}");
    // Known UIDs 1:3 leave UID 4 out; message 1 is no longer UID 1, so the sequence match
    // data does not narrow the VANISHED (RFC 7162 3.2.5.2).
    let r = c.cmd(&format!("EXAMINE INBOX (QRESYNC ({validity} {seen} 1:3 (1:3 1:3)))")).expect("OK");
    assert_eq!(
        resync_lines(&r)[..2],
        ["* VANISHED (EARLIER) 1", &format!("* 1 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({}))", modseq(1))]
    );
    assert_eq!(resync_lines(&r).len(), 2, "{r:?}");
    // Up to date: nothing to tell, though UID 1 is a gap the index keeps no record of.
    let highest = code_value(&r, "HIGHESTMODSEQ");
    let r = c.cmd(&format!("SELECT INBOX (QRESYNC ({validity} {highest}))")).expect("OK");
    assert_eq!(resync_lines(&r), Vec::<String>::new());
    // UID FETCH VANISHED (RFC 7162 3.2.6): within the UID set only.
    let r = c.cmd(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {seen} VANISHED)")).expect("OK");
    assert_eq!(r.untagged[0], "* VANISHED (EARLIER) 1");
    assert_eq!(r.untagged.len(), 3, "{r:?}");
    let r = c.cmd(&format!("UID FETCH 2:* (FLAGS) (CHANGEDSINCE {seen} VANISHED)")).expect("OK");
    assert!(!r.untagged.iter().any(|l| l.starts_with("* VANISHED")), "{r:?}");
}

#[test]
fn a_uidvalidity_mismatch_resyncs_nothing() {
    let server = server_with_mail(Options::default());
    let mut c = qresync_client(&server);
    let first = c.cmd("SELECT INBOX").expect("OK");
    let validity = code_value(&first, "UIDVALIDITY");
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").expect("OK");
    c.cmd("EXPUNGE").expect("OK");
    // RFC 7162 3.2.5.1: another UIDVALIDITY means the client's cache is useless.
    let r = c.cmd(&format!("SELECT INBOX (QRESYNC ({} 1))", validity + 1)).expect("OK");
    assert_eq!(resync_lines(&r), Vec::<String>::new(), "{r:?}");
    assert_eq!(r.done, "OK [READ-WRITE] SELECT completed");
    // The same after the index is rebuilt with a new UIDVALIDITY.
    c.cmd("LOGOUT").expect("OK");
    std::fs::remove_file(server.maildir("example.com", "bob").join("carrier-index")).unwrap();
    let mut c = qresync_client(&server);
    let r = c.cmd(&format!("SELECT INBOX (QRESYNC ({validity} 1 1:2))")).expect("OK");
    assert_ne!(code_value(&r, "UIDVALIDITY"), validity);
    assert_eq!(resync_lines(&r), Vec::<String>::new(), "{r:?}");
    assert_eq!(r.lines("1 EXISTS").len(), 1, "{r:?}");
}

#[test]
fn malformed_qresync_commands_get_bad_and_the_session_goes_on() {
    let server = server_with_mail(Options::default());
    let mut c = selected(&server);
    for (command, reason) in [
        ("SELECT INBOX (QRESYNC (1 1))", "BAD The QRESYNC parameter needs ENABLE QRESYNC first (RFC 7162 3.2.5)"),
        (
            "UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)",
            "BAD The VANISHED modifier needs ENABLE QRESYNC first (RFC 7162 3.2.6)",
        ),
    ] {
        assert_eq!(c.cmd(command).expect("BAD").done, reason, "{command}");
    }
    // Those did not run: INBOX is still selected.
    assert_eq!(c.cmd("FETCH 2 UID").expect("OK").untagged, ["* 2 FETCH (UID 2)"]);
    let mut c = qresync_client(&server);
    for (command, reason) in [
        ("SELECT INBOX (QRESYNC (0 1))", "The QRESYNC UIDVALIDITY cannot be 0"),
        ("SELECT INBOX (QRESYNC (1 0))", "The QRESYNC mod-sequence must be at least 1"),
        ("SELECT INBOX (QRESYNC (1 1 2:*))", "'*' is not allowed in the QRESYNC known UIDs"),
        (
            "SELECT INBOX (QRESYNC (1 1 1:2 (1:2 3)))",
            "The QRESYNC sequence match data pairs 2 message numbers with 1 UIDs",
        ),
        ("SELECT INBOX (QRESYNC (one 1))", "Expected a number, found 'o'"),
        ("UID FETCH 1 FLAGS (VANISHED)", "VANISHED needs UID FETCH with CHANGEDSINCE"),
    ] {
        let r = c.cmd(command).expect("BAD");
        assert!(r.done.starts_with(&format!("BAD Error in IMAP command: {reason}")), "{command}: {r:?}");
    }
    let r = c.cmd("SELECT INBOX (QRESYNC (1 1 1:2 (1:2 3:4)))").expect("OK");
    assert_eq!(r.lines("2 EXISTS").len(), 1, "{r:?}");
}

#[test]
fn header_items_of_a_large_message_match_its_whole_form() {
    let server = Server::start_with(Options::default());
    // An 800 KB attachment in base64 lines of 76 characters.
    let attachment: String =
        "QUJD".repeat(200_000).as_bytes().chunks(76).map(|l| format!("{}\r\n", String::from_utf8_lossy(l))).collect();
    let message = format!(
        "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: the big one\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}--b--\r\n"
    );
    deliver(&server, &message, 1);
    let mut c = selected(&server);
    let heads = c.cmd("FETCH 1 (ENVELOPE RFC822.HEADER BODY.PEEK[HEADER.FIELDS (SUBJECT DATE)])").expect("OK");
    let whole = c.cmd("FETCH 1 BODY.PEEK[]").expect("OK");
    let whole = &whole.untagged[0];
    let header_end = whole.find("\r\n\r\n").unwrap() + 4;
    let literal_start = whole.find("}\r\n").unwrap() + 3;
    let header = &whole[literal_start..header_end];
    let line = &heads.untagged[0];
    assert!(line.contains(&format!("RFC822.HEADER {{{}}}\r\n{header}", header.len())), "{line}");
    assert!(line.contains(
        "ENVELOPE (\"Tue, 1 Dec 2026 10:00:00 +0000\" \"the big one\" ((\"Alice\" NIL \"alice\" \"example.org\"))"
    ));
    let fields = "Subject: the big one\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n";
    assert!(line.contains(&format!("BODY[HEADER.FIELDS (SUBJECT DATE)] {{{}}}\r\n{fields}", fields.len())), "{line}");
    let found = c.cmd("SEARCH SUBJECT \"big one\" FROM alice SENTON 1-Dec-2026").expect("OK");
    assert_eq!(found.untagged, ["* SEARCH 1"]);
    let found = c.cmd("SEARCH BODY \"see attached\"").expect("OK");
    assert_eq!(found.untagged, ["* SEARCH 1"]);
}

/// Issue 14.5-14.8 over a real socket: what the independent review's imaptest and
/// imapclient runs found about CONDSTORE and RECENT.
#[test]
fn condstore_and_recent_details_the_review_found() {
    let server = server_with_mail(Options::default());
    let mut a = selected(&server);
    // 14.8: ENABLE after SELECT is accepted (RFC 5161 3.1 lets servers allow it).
    let r = a.cmd("ENABLE CONDSTORE").expect("OK");
    assert_eq!(r.untagged, ["* ENABLED CONDSTORE"]);
    // 14.5: a .SILENT STORE still reports the new MODSEQ (RFC 7162 3.1.3).
    let r = a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").expect("OK");
    assert_eq!(r.untagged.len(), 1, "{r:#?}");
    assert!(r.untagged[0].starts_with("* 1 FETCH (UID 1 MODSEQ ("), "{r:#?}");
    let r = a.cmd("UID STORE 2 (UNCHANGEDSINCE 1000000) +FLAGS.SILENT (\\Answered)").expect("OK");
    assert!(r.untagged.iter().any(|l| l.starts_with("* 2 FETCH (UID 2 MODSEQ (")), "{r:#?}");
    // 14.6: another session's +FLAGS then -FLAGS leaves the flags, but not the MODSEQ.
    let mut b = selected(&server);
    b.cmd("STORE 1 +FLAGS (\\Flagged)").expect("OK");
    b.cmd("STORE 1 -FLAGS (\\Flagged)").expect("OK");
    let r = a.cmd("NOOP").expect("OK");
    assert!(
        r.untagged.iter().any(|l| l.starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen") && l.contains("MODSEQ")),
        "{r:#?}"
    );
    // 14.7: every message is \Recent to a (the first session to see them); when b expunges
    // one, RECENT follows the EXPUNGE.
    deliver(&server, "Subject: third\r\n\r\nthree\r\n", 3);
    let r = a.cmd("NOOP").expect("OK");
    assert!(r.untagged.contains(&"* 3 RECENT".to_string()), "{r:#?}");
    b.cmd("NOOP").expect("OK");
    b.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)").expect("OK");
    b.cmd("EXPUNGE").expect("OK");
    let r = a.cmd("NOOP").expect("OK");
    assert_eq!(
        r.untagged.iter().filter(|l| !l.contains("FETCH")).cloned().collect::<Vec<_>>(),
        ["* 3 EXPUNGE", "* 2 RECENT"]
    );
    // 14.7: a re-SELECT on the same connection does not show the same messages as \Recent again.
    deliver(&server, "Subject: fourth\r\n\r\nfour\r\n", 4);
    let r = a.cmd("SELECT INBOX").expect("OK");
    assert!(r.untagged.contains(&"* 1 RECENT".to_string()), "{r:#?}");
    let r = a.cmd("SELECT INBOX").expect("OK");
    assert!(r.untagged.contains(&"* 0 RECENT".to_string()), "{r:#?}");
}
