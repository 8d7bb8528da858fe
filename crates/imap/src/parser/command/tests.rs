use super::*;
use crate::parser::search::SearchKey;
use crate::parser::sequence::SeqNum;

fn ok(s: &str) -> Kind {
    match parse(s.as_bytes()) {
        Ok(c) => c.kind,
        Err(e) => panic!("{s:?}: {e:?}"),
    }
}

fn err(s: &str) -> (Option<String>, String) {
    match parse(s.as_bytes()) {
        Ok(c) => panic!("{s:?} parsed as {c:?}"),
        Err(e) => (e.tag, e.error.0),
    }
}

#[test]
fn simple_commands() {
    assert_eq!(
        parse(b"a1 capability\r\n").unwrap(),
        Command { tag: "a1".into(), kind: Kind::Capability, invalid_name: None }
    );
    assert_eq!(ok("x NOOP\n"), Kind::Noop);
    assert_eq!(ok("x LOGOUT\r\n"), Kind::Logout);
    assert_eq!(ok("x IDLE\r\n"), Kind::Idle);
    assert_eq!(ok("x UNSELECT\r\n"), Kind::Unselect);
    assert_eq!(ok("x NAMESPACE\r\n"), Kind::Namespace);
    assert_eq!(
        ok("x UID EXPUNGE 3:5\r\n"),
        Kind::Expunge { uids: Some(SequenceSet(vec![(SeqNum::Value(3), SeqNum::Value(5))])) }
    );
}

#[test]
fn login_and_authenticate() {
    assert_eq!(ok("a LOGIN bob \"p w\\\"\"\r\n"), Kind::Login { user: "bob".into(), password: "p w\"".into() });
    assert_eq!(ok("a LOGIN {3}\r\nbob {2+}\r\npw\r\n"), Kind::Login { user: "bob".into(), password: "pw".into() });
    assert_eq!(ok("a AUTHENTICATE plain\r\n"), Kind::Authenticate { mechanism: "PLAIN".into(), initial: None });
    assert_eq!(
        ok("a AUTHENTICATE PLAIN AGJvYgBwdw==\r\n"),
        Kind::Authenticate { mechanism: "PLAIN".into(), initial: Some(b"AGJvYgBwdw==".to_vec()) }
    );
    assert_eq!(
        ok("a AUTHENTICATE PLAIN =\r\n"),
        Kind::Authenticate { mechanism: "PLAIN".into(), initial: Some(b"=".to_vec()) }
    );
}

#[test]
fn mailboxes() {
    assert_eq!(
        ok("a SELECT inbox\r\n"),
        Kind::Select { mailbox: "INBOX".into(), read_only: false, params: SelectParams::default() }
    );
    assert_eq!(
        ok("a CREATE \"Entw&APw-rfe\"\r\n"),
        Kind::Create { mailbox: "Entw\u{fc}rfe".into(), special_use: vec![] }
    );
    assert_eq!(
        ok("a CREATE Trash (USE (\\Trash))\r\n"),
        Kind::Create { mailbox: "Trash".into(), special_use: vec!["\\Trash".into()] }
    );
    assert_eq!(ok("a RENAME a \"b c\"\r\n"), Kind::Rename { from: "a".into(), to: "b c".into() });
    assert_eq!(ok("a DELETE {4+}\r\nA&-B\r\n"), Kind::Delete("A&B".into()));
    let Kind::Select { params, read_only: true, .. } = ok("a EXAMINE x (CONDSTORE)\r\n") else { panic!() };
    assert!(params.condstore);
    let Kind::Select { params, .. } = ok("a SELECT x (QRESYNC (67890007 20050715194045000 41,43:211))\r\n") else {
        panic!()
    };
    let q = params.qresync.unwrap();
    assert_eq!((q.uidvalidity, q.modseq), (67890007, 20050715194045000));
    assert!(q.known_uids.is_some());
    // Well-formed, but no mailbox can have the name: marked for a NO (or an empty LIST).
    assert_eq!(parse(b"a SELECT &Jjo!\r\n").unwrap().invalid_name.as_deref(), Some("&Jjo!"));
    assert_eq!(parse(b"a CREATE {2}\r\n\xc3\xa9\r\n").unwrap().invalid_name.as_deref(), Some("\u{e9}"));
    assert_eq!(parse(b"a LIST \"\" &-%\r\n").unwrap().invalid_name, None);
}

#[test]
fn list_forms() {
    let Kind::List(l) = ok("a LIST \"\" *\r\n") else { panic!() };
    assert_eq!((l.reference.as_str(), l.patterns.as_slice(), l.extended), ("", &["*".to_string()][..], false));
    let Kind::List(l) =
        ok("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% \"foo/*\") RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))\r\n")
    else {
        panic!()
    };
    assert!(l.select_subscribed && l.recursive_match && l.return_children && l.extended);
    assert_eq!(l.patterns, ["%", "foo/*"]);
    assert_eq!(l.return_status, Some(vec![StatusItem::Messages, StatusItem::UidNext]));
    let Kind::List(l) = ok("a LIST \"\" % RETURN (SPECIAL-USE)\r\n") else { panic!() };
    assert!(l.return_special_use);
    assert_eq!(ok("a LSUB \"\" news.*\r\n"), Kind::Lsub { reference: "".into(), pattern: "news.*".into() });
    assert_eq!(err("a LIST (RECURSIVEMATCH) \"\" *\r\n").1, "RECURSIVEMATCH needs another selection option");
    assert_eq!(err("a LIST \"\"\r\n").1, "Expected a space, found the end of the line");
}

#[test]
fn status_append_id_enable() {
    assert_eq!(
        ok("a STATUS blurdybloop (UIDNEXT MESSAGES)\r\n"),
        Kind::Status { mailbox: "blurdybloop".into(), items: vec![StatusItem::UidNext, StatusItem::Messages] }
    );
    let Kind::Append { mailbox, flags, date, message } =
        ok("A003 APPEND saved-messages (\\Seen $x) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n")
    else {
        panic!()
    };
    assert_eq!(
        (mailbox.as_str(), flags, message.as_slice()),
        ("saved-messages", vec!["\\Seen".to_string(), "$x".into()], &b"hello"[..])
    );
    assert_eq!(date.unwrap().offset, -480);
    assert!(matches!(ok("a APPEND x {0}\r\n\r\n"), Kind::Append { message, .. } if message.is_empty()));
    assert_eq!(ok("a ID NIL\r\n"), Kind::Id(vec![]));
    assert_eq!(
        ok("a ID (\"name\" \"x\" \"v\" NIL)\r\n"),
        Kind::Id(vec![("name".into(), Some("x".into())), ("v".into(), None)])
    );
    assert_eq!(ok("a ENABLE condstore X-Y\r\n"), Kind::Enable(vec!["CONDSTORE".into(), "X-Y".into()]));
}

#[test]
fn message_commands() {
    let Kind::Fetch { uid: true, items, modifiers, .. } =
        ok("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n")
    else {
        panic!()
    };
    assert_eq!(items, [FetchAttr::Flags]);
    assert_eq!(modifiers, FetchModifiers { changed_since: Some(12345), vanished: true });
    assert_eq!(
        ok("a STORE 2:4 +FLAGS.SILENT (\\Deleted)\r\n"),
        Kind::Store {
            uid: false,
            set: SequenceSet(vec![(SeqNum::Value(2), SeqNum::Value(4))]),
            unchanged_since: None,
            mode: StoreMode::Add,
            silent: true,
            flags: vec!["\\Deleted".into()],
        }
    );
    let Kind::Store { unchanged_since, mode, flags, .. } = ok("a UID STORE 1 (UNCHANGEDSINCE 5) -FLAGS \\seen foo\r\n")
    else {
        panic!()
    };
    assert_eq!((unchanged_since, mode, flags), (Some(5), StoreMode::Remove, vec!["\\Seen".to_string(), "foo".into()]));
    assert!(matches!(ok("a STORE 1 FLAGS ()\r\n"), Kind::Store { flags, .. } if flags.is_empty()));
    assert!(matches!(ok("a UID MOVE 1:3 Trash\r\n"), Kind::Move { uid: true, .. }));
    assert!(matches!(ok("a COPY 2 \"x y\"\r\n"), Kind::Copy { uid: false, .. }));
    let Kind::Search { uid: true, program } = ok("a UID SEARCH UNSEEN\r\n") else { panic!() };
    assert_eq!(program.key, SearchKey::And(vec![SearchKey::NotFlag("\\Seen".into())]));
}

#[test]
fn malformed_commands() {
    for (input, tag, why) in [
        ("\r\n", None, "Empty command line"),
        ("+a NOOP\r\n", None, "Expected a tag, found '+'"),
        ("a\r\n", Some("a"), "Expected a space, found the end of the line"),
        ("a FROB\r\n", Some("a"), "Unknown command FROB"),
        ("a NOOP extra\r\n", Some("a"), "Unexpected extra arguments or a trailing space"),
        ("a NOOP \r\n", Some("a"), "Unexpected extra arguments or a trailing space"),
        ("a  NOOP\r\n", Some("a"), "Expected a command name, found a space"),
        ("a UID FROB 1\r\n", Some("a"), "Unknown UID command FROB"),
        ("a FETCH 0 FLAGS\r\n", Some("a"), "Invalid sequence set: 0 is not a message number or UID"),
        ("a FETCH 1 (FLAGS) (VANISHED)\r\n", Some("a"), "VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 3.2.6)"),
        (
            "a STORE 1 FLAGZ x\r\n",
            Some("a"),
            "Unknown STORE item FLAGZ: use FLAGS, +FLAGS or -FLAGS, with .SILENT or not",
        ),
        ("a STORE 1 FLAGS \\*\r\n", Some("a"), "Expected a flag, found '*'"),
        (
            "a APPEND x \"bad date\" {1}\r\nx\r\n",
            Some("a"),
            "Invalid date-time \"bad date\": use \"dd-Mon-yyyy hh:mm:ss +zzzz\"",
        ),
        ("a APPEND x hello\r\n", Some("a"), "Expected the message as a literal, found 'h'"),
        ("a STATUS x (FOO)\r\n", Some("a"), "Unknown STATUS item FOO"),
        ("a STATUS x ()\r\n", Some("a"), "Empty list"),
        ("a ENABLE\r\n", Some("a"), "ENABLE needs at least one capability"),
        ("a LOGIN bob\r\n", Some("a"), "Expected a space, found the end of the line"),
        ("a LOGIN {3}\r\nb\0b x\r\n", Some("a"), "NUL is not allowed in a literal"),
        ("a SELECT x (FOO)\r\n", Some("a"), "Unknown SELECT parameter FOO"),
        ("a NOOP\r", Some("a"), "Expected the end of the command, found the end of the line"),
    ] {
        assert_eq!(err(input), (tag.map(String::from), why.to_string()), "{input:?}");
    }
}

#[test]
fn quota_commands_of_rfc_9208() {
    assert_eq!(ok("a GETQUOTAROOT INBOX\r\n"), Kind::GetQuotaRoot("INBOX".into()));
    assert_eq!(ok("a GETQUOTA \"\"\r\n"), Kind::GetQuota(String::new()));
    assert_eq!(ok("a SETQUOTA \"\" (STORAGE 512)\r\n"), Kind::SetQuota(String::new()));
    assert_eq!(ok("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)\r\n"), Kind::SetQuota(String::new()));
    assert_eq!(ok("a SETQUOTA \"\" ()\r\n"), Kind::SetQuota(String::new()));
    for bad in ["a SETQUOTA \"\" STORAGE 512\r\n", "a SETQUOTA \"\" (STORAGE)\r\n", "a GETQUOTA\r\n"] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad}");
    }
}
