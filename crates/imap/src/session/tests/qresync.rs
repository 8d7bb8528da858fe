//! QRESYNC (RFC 7162 3.2) conversations: INBOX has UIDVALIDITY 1000 and the messages of
//! [`T::ready`], UIDs 1 and 2 with MODSEQ 2 and 3.

use super::*;

/// What SELECT INBOX says before anything QRESYNC adds, for `exists` messages of which
/// `recent` are \Recent, the first unseen being `unseen`.
fn select_head(exists: usize, recent: usize, unseen: Option<usize>, uidnext: u32, highest: u64) -> String {
    let unseen = unseen.map(|n| format!("* OK [UNSEEN {n}] First unseen\r\n")).unwrap_or_default();
    format!(
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
* {exists} EXISTS\r\n* {recent} RECENT\r\n{unseen}* OK [UIDVALIDITY 1000] UIDs valid\r\n\
* OK [UIDNEXT {uidnext}] Predicted next UID\r\n* OK [HIGHESTMODSEQ {highest}] Highest\r\n"
    )
}

/// Logged in with QRESYNC enabled.
fn enabled() -> T {
    let mut t = T::ready();
    assert_eq!(t.send("e ENABLE QRESYNC\r\n"), "* ENABLED QRESYNC\r\ne OK ENABLE completed\r\n");
    t
}

/// Another session of the same user, INBOX selected.
fn other(t: &T) -> T {
    let mut o = T { s: Session::preauth(Config::new("x"), "bob", t.store.clone()), store: t.store.clone() };
    o.send("o SELECT INBOX\r\n");
    o
}

#[test]
fn enable_qresync_implies_condstore() {
    let mut t = T::ready();
    // RFC 7162 3.2.3: CONDSTORE is listed only when asked for.
    assert_eq!(
        t.send("1 ENABLE QRESYNC CONDSTORE QRESYNC X-UNKNOWN\r\n"),
        "* ENABLED QRESYNC CONDSTORE\r\n1 OK ENABLE completed\r\n"
    );
    let mut t = enabled();
    t.send("s SELECT INBOX\r\n");
    assert_eq!(
        t.send("2 STORE 1 +FLAGS (\\Seen)\r\n"),
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (4))\r\n2 OK STORE completed\r\n"
    );
}

#[test]
fn qresync_parameter_and_vanished_modifier_need_enable_first() {
    let mut t = T::ready();
    let bad = "s BAD The QRESYNC parameter needs ENABLE QRESYNC first (RFC 7162 3.2.5)\r\n";
    assert_eq!(t.send("s SELECT INBOX (QRESYNC (1000 1))\r\n"), bad);
    assert_eq!(t.s.state(), State::Authenticated);
    t.send("a SELECT INBOX\r\n");
    // A BAD command did not run: INBOX stays selected, without [CLOSED].
    assert_eq!(t.send("s SELECT INBOX (QRESYNC (1000 1))\r\n"), bad);
    assert_eq!(t.s.state(), State::Selected);
    assert_eq!(
        t.send("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n"),
        "f BAD The VANISHED modifier needs ENABLE QRESYNC first (RFC 7162 3.2.6)\r\n"
    );
    assert_eq!(t.send("n FETCH 2 UID\r\n"), "* 2 FETCH (UID 2)\r\nn OK FETCH completed\r\n");
}

#[test]
fn every_malformed_qresync_parameter_gets_a_precise_bad() {
    let mut t = enabled();
    t.send("s SELECT INBOX\r\n");
    let e = "BAD Error in IMAP command:";
    for (command, reply) in [
        ("SELECT INBOX (QRESYNC (0 1))", "The QRESYNC UIDVALIDITY cannot be 0: send the one SELECT reported"),
        ("SELECT INBOX (QRESYNC (1000 0))", "The QRESYNC mod-sequence must be at least 1: send a HIGHESTMODSEQ"),
        ("SELECT INBOX (QRESYNC (abc 1))", "Expected a number, found 'a'"),
        ("SELECT INBOX (QRESYNC (1000 \"1\"))", "Expected a number, found '\"'"),
        ("SELECT INBOX (QRESYNC (1000))", "Expected a space, found ')'"),
        ("SELECT INBOX (QRESYNC 1000 1)", "Expected '(' after QRESYNC, found '1'"),
        ("SELECT INBOX (QRESYNC (4294967296 1))", "Number 4294967296 is too large (at most 4294967295)"),
        ("SELECT INBOX (QRESYNC (1000 1 1:*))", "'*' is not allowed in the QRESYNC known UIDs (RFC 7162 3.2.5)"),
        ("SELECT INBOX (QRESYNC (1000 1 1:x))", "Expected a sequence set, found 'x'"),
        ("SELECT INBOX (QRESYNC (1000 1 0:3))", "Invalid sequence set: 0 is not a message number or UID"),
        ("SELECT INBOX (QRESYNC (1000 1 1:2 (1:* 1:2)))", "'*' is not allowed in the QRESYNC sequence match data"),
        (
            "SELECT INBOX (QRESYNC (1000 1 1:2 (1:2 1)))",
            "The QRESYNC sequence match data pairs 2 message numbers with 1 UIDs",
        ),
        ("SELECT INBOX (QRESYNC (1000 1 1:2 (1:2)))", "Expected a space, found ')'"),
        ("SELECT INBOX (QRESYNC (1000 1 1:2 x))", "Expected ')' to end the QRESYNC parameter, found 'x'"),
        ("EXAMINE INBOX (QRESYNC (1000 1) QRESYNC (1000 1))", "QRESYNC is given twice"),
        ("UID FETCH 1:* FLAGS (VANISHED)", "VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 3.2.6)"),
        ("FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)", "VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 3.2.6)"),
    ] {
        let out = t.send(&format!("b {command}\r\n"));
        assert!(out.starts_with(&format!("b {e} {reply}")), "{command}: {out}");
        assert_eq!(out.lines().count(), 1, "{command}: {out}");
        // Still usable, with INBOX selected.
        assert_eq!(t.send("n FETCH 1 UID\r\n"), "* 1 FETCH (UID 1)\r\nn OK FETCH completed\r\n", "after {command}");
    }
}

#[test]
fn resync_reports_expunges_and_changed_flags_since_the_modseq() {
    let mut t = enabled();
    let mut o = other(&t);
    // Another session: a flag on 1, 2 expunged, a new message 3.
    o.send("1 STORE 1 +FLAGS (\\Seen)\r\n2 STORE 2 +FLAGS (\\Deleted)\r\n3 EXPUNGE\r\n");
    t.store.deliver("INBOX", MSG2);
    // RFC 7162 3.2.5.1: the client last saw HIGHESTMODSEQ 3.
    assert_eq!(
        t.send("s SELECT INBOX (QRESYNC (1000 3))\r\n"),
        format!(
            "{}* VANISHED (EARLIER) 2\r\n* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (4))\r\n\
* 2 FETCH (UID 3 FLAGS (\\Recent) MODSEQ (7))\r\ns OK [READ-WRITE] SELECT completed\r\n",
            select_head(2, 1, Some(2), 4, 7)
        )
    );
    // Up to date: nothing more, and EXAMINE works the same way.
    let out = t.send("x EXAMINE INBOX (QRESYNC (1000 7))\r\n");
    assert!(!out.contains("VANISHED") && !out.contains("FETCH"), "{out}");
    assert!(out.ends_with("* OK [HIGHESTMODSEQ 7] Highest\r\nx OK [READ-ONLY] EXAMINE completed\r\n"), "{out}");
}

#[test]
fn known_uids_limit_what_resync_reports() {
    let mut t = enabled();
    let mut o = other(&t);
    o.send("1 STORE 1:2 +FLAGS (\\Flagged)\r\n2 STORE 1 +FLAGS (\\Deleted)\r\n3 EXPUNGE\r\n");
    let out = t.send("s SELECT INBOX (QRESYNC (1000 3 2))\r\n");
    assert!(!out.contains("VANISHED"), "UID 1 is not among the known UIDs: {out}");
    assert!(out.contains("* 1 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (5))\r\ns OK"), "{out}");
    let out = t.send("s SELECT INBOX (QRESYNC (1000 3 1))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 1\r\ns OK"), "UID 2's change is not reported: {out}");
}

#[test]
fn a_uidvalidity_mismatch_gives_a_plain_select() {
    let mut t = enabled();
    let mut o = other(&t);
    o.send("1 STORE 1 +FLAGS (\\Deleted)\r\n2 EXPUNGE\r\n");
    let plain = t.send("s SELECT INBOX\r\n");
    // RFC 7162 3.2.5.1: neither VANISHED nor FETCH, however old the modseq.
    assert_eq!(
        t.send("s SELECT INBOX (QRESYNC (999 1 1:2))\r\n"),
        format!("* OK [CLOSED] Previous mailbox closed\r\n{plain}")
    );
    assert!(!plain.contains("VANISHED") && !plain.contains("FETCH"), "{plain}");
}

#[test]
fn sequence_match_data_narrows_vanished_earlier() {
    let mut t = enabled();
    for _ in 0..4 {
        t.store.deliver("INBOX", MSG2);
    }
    let mut o = other(&t);
    // UID 2 goes first (the client saw that), then UID 5 (it did not).
    o.send("1 UID STORE 2 +FLAGS (\\Deleted)\r\n2 EXPUNGE\r\n3 UID STORE 5 +FLAGS (\\Deleted)\r\n4 EXPUNGE\r\n");
    // A client that lost its modseq hears of every expunge since 1 ...
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 2,5\r\n"), "{out}");
    // ... unless its message numbers 1:3 still have the UIDs it knew (1, 3, 4): RFC 7162 3.2.5.2.
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1 1:6 (1:3 1,3:4)))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 5\r\n"), "{out}");
    // The first pair that does not match ends the comparison: message 3 is UID 4, not 5.
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1 (1,3 1,5)))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 2,5\r\n"), "{out}");
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1 (2:3 3:4)))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 5\r\n"), "{out}");
    // Pairs must ascend; a huge set is not expanded.
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1 (3,1 4,1)))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 5\r\n"), "{out}");
    let out = t.send("s SELECT INBOX (QRESYNC (1000 1 (1:4294967295 1:4294967295)))\r\n");
    assert!(out.contains("* VANISHED (EARLIER) 2,5\r\n") && out.ends_with("s OK [READ-WRITE] SELECT completed\r\n"));
}

#[test]
fn vanished_replaces_expunge_once_enabled() {
    let mut t = enabled();
    for _ in 0..3 {
        t.store.deliver("INBOX", MSG2);
    }
    t.send("s SELECT INBOX\r\nc CREATE Archive\r\n");
    t.send("d STORE 1:2,4 +FLAGS.SILENT (\\Deleted)\r\n");
    // RFC 7162 3.2.10 (EXPUNGE), 3.2.7: the tagged OK has the HIGHESTMODSEQ of the expunge.
    // Each expunged message was \Recent here: RECENT follows (RFC 3501 7.3.2).
    assert_eq!(
        t.send("1 UID EXPUNGE 4\r\n"),
        "* VANISHED 4\r\n* 4 RECENT\r\n1 OK [HIGHESTMODSEQ 10] EXPUNGE completed\r\n"
    );
    assert_eq!(
        t.send("2 EXPUNGE\r\n"),
        "* VANISHED 1:2\r\n* 2 RECENT\r\n2 OK [HIGHESTMODSEQ 11] EXPUNGE completed\r\n"
    );
    assert_eq!(t.send("3 EXPUNGE\r\n"), "3 OK [HIGHESTMODSEQ 11] EXPUNGE completed\r\n");
    // MOVE (RFC 6851 4.3): the source's expunge as VANISHED too.
    assert_eq!(
        t.send("4 MOVE 1 Archive\r\n"),
        "* OK [COPYUID 1001 3 1] Moved\r\n* VANISHED 3\r\n* 1 RECENT\r\n4 OK MOVE completed\r\n"
    );
    // The remaining message is number 1 now.
    assert_eq!(t.send("5 FETCH 1 UID\r\n"), "* 1 FETCH (UID 5)\r\n5 OK FETCH completed\r\n");
}

#[test]
fn other_sessions_expunges_are_vanished_when_expunges_may_be_sent() {
    let mut t = enabled();
    t.store.deliver("INBOX", MSG2);
    t.send("s SELECT INBOX\r\n");
    let mut o = other(&t);
    o.send("1 STORE 1,3 +FLAGS.SILENT (\\Deleted)\r\n2 EXPUNGE\r\n");
    // RFC 7162 3.2.10: VANISHED has EXPUNGE's restrictions, so not during FETCH, STORE or SEARCH.
    assert_eq!(t.send("1 FETCH 2 FLAGS\r\n"), "* 2 FETCH (FLAGS (\\Recent))\r\n1 OK FETCH completed\r\n");
    // RFC 7162 3.1.3: with CONDSTORE on, .SILENT still reports the new MODSEQ.
    assert_eq!(
        t.send("2 STORE 2 +FLAGS.SILENT (\\Seen)\r\n"),
        "* 2 FETCH (UID 2 MODSEQ (8))\r\n2 OK STORE completed\r\n"
    );
    assert_eq!(t.send("3 SEARCH SEEN\r\n"), "* SEARCH 2\r\n3 OK SEARCH completed\r\n");
    // A UID command may send it; numbers shift as for EXPUNGE.
    assert_eq!(
        t.send("4 UID SEARCH SEEN\r\n"),
        "* SEARCH 2\r\n* VANISHED 1,3\r\n* 1 RECENT\r\n4 OK SEARCH completed\r\n"
    );
    assert_eq!(t.send("5 FETCH 1 UID\r\n"), "* 1 FETCH (UID 2)\r\n5 OK FETCH completed\r\n");
    // At NOOP, and at once during IDLE.
    t.store.deliver("INBOX", MSG2);
    assert_eq!(t.send("6 NOOP\r\n"), "* 2 EXISTS\r\n* 2 RECENT\r\n6 OK NOOP completed\r\n");
    assert_eq!(t.send("7 IDLE\r\n"), "+ idling\r\n");
    assert!(t.s.take_output().is_empty());
    o.send("5 NOOP\r\n6 UID STORE 4 +FLAGS.SILENT (\\Deleted)\r\n7 UID EXPUNGE 4\r\n");
    t.s.mailbox_changed();
    // UID 4 was \Recent here: the count falls with it (RFC 3501 7.3.2).
    assert_eq!(String::from_utf8(t.s.take_output()).unwrap(), "* VANISHED 4\r\n* 1 RECENT\r\n");
    assert_eq!(t.send("DONE\r\n"), "7 OK IDLE terminated\r\n");
}

#[test]
fn uid_fetch_vanished_reports_earlier_expunges_within_the_set() {
    let mut t = enabled();
    for _ in 0..2 {
        t.store.deliver("INBOX", MSG2);
    }
    let mut o = other(&t);
    o.send("1 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n2 EXPUNGE\r\n");
    t.send("s SELECT INBOX\r\n");
    // RFC 7162 3.2.6: VANISHED (EARLIER) first, then what changed (UIDs 3 and 4 came at 4 and 5,
    // UID 2 went at 7).
    assert_eq!(
        t.send("1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3 VANISHED)\r\n"),
        "* VANISHED (EARLIER) 2\r\n* 2 FETCH (UID 3 FLAGS () MODSEQ (4))\r\n* 3 FETCH (UID 4 FLAGS () MODSEQ (5))\r\n\
1 OK FETCH completed\r\n"
    );
    // Only within the UID set, and only after the mod-sequence.
    assert_eq!(t.send("2 UID FETCH 3:4 (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n"), "2 OK FETCH completed\r\n");
    assert_eq!(t.send("3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)\r\n"), "3 OK FETCH completed\r\n");
    // An expunge this session has not reported yet is a plain VANISHED at the end.
    o.send("3 UID STORE 4 +FLAGS.SILENT (\\Deleted)\r\n4 EXPUNGE\r\n");
    assert_eq!(
        t.send("4 UID FETCH 2:* (UID) (CHANGEDSINCE 1 VANISHED)\r\n"),
        "* VANISHED (EARLIER) 2\r\n* 2 FETCH (UID 3 MODSEQ (4))\r\n* 3 FETCH (UID 4 MODSEQ (5))\r\n* VANISHED 4\r\n\
4 OK FETCH completed\r\n"
    );
}

#[test]
fn closed_marks_every_implicit_close() {
    let mut t = T::ready();
    assert!(!t.send("1 SELECT INBOX\r\n").contains("CLOSED"));
    // RFC 7162 3.2.11, sent without QRESYNC too.
    assert!(t.send("2 EXAMINE INBOX\r\n").starts_with("* OK [CLOSED] Previous mailbox closed\r\n* FLAGS"));
    t.send("3 UNSELECT\r\n");
    assert!(!t.send("4 SELECT INBOX\r\n").contains("CLOSED"));
}

#[test]
fn close_reports_the_highestmodseq_when_nothing_is_left_untold() {
    let mut t = enabled();
    t.send("s SELECT INBOX\r\n1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
    // RFC 7162 3.2.8: the expunge of UID 1 took modseq 5.
    assert_eq!(t.send("2 CLOSE\r\n"), "2 OK [HIGHESTMODSEQ 5] CLOSE completed\r\n");
    t.send("s SELECT INBOX\r\n");
    let mut o = other(&t);
    o.send("1 STORE 1 +FLAGS.SILENT (\\Seen)\r\n");
    // A change this session never reported: no HIGHESTMODSEQ, or the client would skip it.
    assert_eq!(t.send("3 CLOSE\r\n"), "3 OK CLOSE completed\r\n");
    t.send("s SELECT INBOX\r\n");
    assert_eq!(t.send("4 UNSELECT\r\n"), "4 OK UNSELECT completed\r\n");
}

#[test]
fn condstore_adds_uid_and_modseq_to_unsolicited_fetches() {
    let mut t = T::ready();
    t.send("e ENABLE CONDSTORE\r\ns SELECT INBOX\r\n");
    let mut o = other(&t);
    o.send("1 STORE 2 +FLAGS.SILENT (\\Answered)\r\n");
    // RFC 7162 3.2.4: another session's change, and a \Seen set by FETCH.
    assert_eq!(
        t.send("1 NOOP\r\n"),
        "* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ (4))\r\n1 OK NOOP completed\r\n"
    );
    assert_eq!(
        t.send("2 FETCH 2 BODY[1]\r\n"),
        "* 2 FETCH (BODY[1] {10}\r\nbody two\r\n FLAGS (\\Answered \\Seen \\Recent) UID 2 MODSEQ (5))\r\n2 OK FETCH completed\r\n"
    );
}
