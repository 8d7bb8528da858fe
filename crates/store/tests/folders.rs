//! Mailbox names and folders: Maildir++ layout, LIST attributes, CREATE, DELETE, RENAME,
//! subscriptions, special-use folders, and names that try to leave the account.

mod common;
use carrier_store::{Access, Flags, MailboxInfo, SpecialUse, StoreError};
use common::*;
use std::fs;

fn names(list: &[MailboxInfo]) -> Vec<&str> {
    list.iter().map(|m| m.name.as_str()).collect()
}

fn info<'a>(list: &'a [MailboxInfo], name: &str) -> &'a MailboxInfo {
    list.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn prepare_makes_special_use_folders_once_subscribed() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.prepare().unwrap();
    let list = account.list().unwrap();
    assert_eq!(names(&list), ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]);
    for special in SpecialUse::ALL {
        let m = info(&list, special.name());
        assert_eq!(m.special_use, Some(special));
        assert!(m.selectable && m.subscribed && !m.has_children);
    }
    assert_eq!(info(&list, "Sent").special_use.unwrap().attribute(), "\\Sent");
    assert!(info(&list, "INBOX").subscribed);
    // Maildir++ on disk, with Courier/Dovecot's marker file.
    let root = account.root();
    for d in [".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"] {
        assert!(root.join(d).join("cur").is_dir() && root.join(d).join("maildirfolder").is_file(), "{d}");
    }
    assert_eq!(fs::read_to_string(root.join("subscriptions")).unwrap(), "Archive\nDrafts\nINBOX\nJunk\nSent\nTrash\n");
    // A user who deleted Trash gets it back at the next login; other subscriptions stay.
    account.unsubscribe("Junk").unwrap();
    account.delete("Trash").unwrap();
    account.prepare().unwrap();
    let list = account.list().unwrap();
    assert!(info(&list, "Trash").selectable);
    assert!(!info(&list, "Junk").subscribed);
}

#[test]
fn create_with_parents_and_list_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.create("Lists/rust/announce").unwrap();
    account.create("Projekte/Entwürfe/").unwrap(); // a trailing delimiter is allowed
    account.create("v1.0").unwrap();
    let list = account.list().unwrap();
    assert_eq!(
        names(&list),
        ["INBOX", "Lists", "Lists/rust", "Lists/rust/announce", "Projekte", "Projekte/Entwürfe", "v1.0"]
    );
    assert!(info(&list, "Lists").has_children && info(&list, "Lists").selectable);
    assert!(!info(&list, "Lists/rust/announce").has_children);
    assert!(!info(&list, "INBOX").has_children);
    let root = account.root();
    assert!(root.join(".Lists.rust.announce/cur").is_dir());
    assert!(root.join(".Projekte.Entw&APw-rfe/cur").is_dir());
    assert!(root.join(".v1\\2e0/cur").is_dir());
    assert!(matches!(account.create("lists/rust"), Ok(())), "names are case-sensitive except INBOX");
    assert!(matches!(account.create("Lists/rust"), Err(StoreError::AlreadyExists(n)) if n == "Lists/rust"));
    assert!(matches!(account.create("inbox"), Err(StoreError::AlreadyExists(n)) if n == "INBOX"));
    account.create("INBOX/Sub").unwrap();
    assert!(info(&account.list().unwrap(), "INBOX").has_children);
}

#[test]
fn folders_made_by_other_programs_are_listed_and_junk_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.prepare().unwrap();
    let root = account.root();
    // Dovecot or maildirmake made `.Work.2024` without `.Work`: Work is \Noselect.
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(".Work.2024").join(sub)).unwrap();
    }
    fs::create_dir_all(root.join(".half-made")).unwrap(); // no cur/: not a mailbox
    fs::write(root.join(".dotfile"), "x").unwrap();
    fs::create_dir_all(root.join(".bad\\zzname/cur")).unwrap(); // not an encoding we write
    let list = account.list().unwrap();
    let work = info(&list, "Work");
    assert!(!work.selectable && work.has_children);
    assert!(info(&list, "Work/2024").selectable);
    assert!(!names(&list).iter().any(|n| n.contains("half") || n.contains("dotfile") || n.contains("bad")));
    assert!(matches!(account.open("Work", Access::ReadOnly), Err(StoreError::NoSuchMailbox(_))));
    // Deleting a name that only holds children is refused (RFC 3501 6.3.4).
    assert!(matches!(account.delete("Work"), Err(StoreError::NotAllowed(_))));
}

#[test]
fn delete_keeps_children_and_refuses_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    let account = m.account(USER);
    account.create("A/B").unwrap();
    account.append("A", b"x\n", &Flags::new(), None).unwrap();
    let old_validity = account.status("A").unwrap().uidvalidity;
    account.delete("A").unwrap();
    let list = account.list().unwrap();
    assert!(!info(&list, "A").selectable, "A stays as the \\Noselect parent of A/B");
    assert!(info(&list, "A/B").selectable);
    assert!(!account.root().join(".A").exists());
    assert!(!account.root().join("carrier-deleting").exists());
    assert!(matches!(account.delete("INBOX"), Err(StoreError::NotAllowed(_))));
    assert!(matches!(account.delete("inbox"), Err(StoreError::NotAllowed(_))));
    assert!(matches!(account.delete("Nope"), Err(StoreError::NoSuchMailbox(_))));
    // Created again, it is a new mailbox: UIDVALIDITY changes (RFC 3501 2.3.1.1).
    account.create("A").unwrap();
    let s = account.status("A").unwrap();
    assert!(s.uidvalidity > old_validity);
    assert_eq!(s.messages, 0);
}

#[test]
fn delete_under_an_open_session() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.create("Gone").unwrap();
    let mut open = account.open("Gone", Access::ReadWrite).unwrap();
    let watch = open.watch();
    account.delete("Gone").unwrap();
    assert!(watch.has_changed().unwrap());
    assert!(matches!(open.sync(), Err(StoreError::NoSuchMailbox(n)) if n == "Gone"));
}

#[test]
fn rename_moves_children_and_subscriptions_and_keeps_uids() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.create("Old/Child").unwrap();
    account.subscribe("Old/Child").unwrap();
    let appended = account.append("Old", b"m\n", &Flags::new(), None).unwrap();
    account.rename("Old", "New/Place").unwrap();
    let list = account.list().unwrap();
    assert_eq!(names(&list), ["INBOX", "New", "New/Place", "New/Place/Child"]);
    assert!(info(&list, "New/Place/Child").subscribed);
    let s = account.status("New/Place").unwrap();
    assert_eq!((s.uidvalidity, s.uidnext), (appended.uidvalidity, 2));
    assert_eq!(account.subscriptions().unwrap(), ["New/Place/Child"]);
    // Errors.
    assert!(matches!(account.rename("Missing", "X"), Err(StoreError::NoSuchMailbox(_))));
    assert!(matches!(account.rename("New", "New/Place"), Err(StoreError::AlreadyExists(_))));
    assert!(matches!(account.rename("New", "New/Inner"), Err(StoreError::NotAllowed(_))));
    assert!(matches!(account.rename("New/Place", "INBOX"), Err(StoreError::AlreadyExists(_))));
    assert!(matches!(account.rename("New", "../escape"), Err(StoreError::InvalidName { .. })));
}

#[test]
fn rename_inbox_moves_its_messages_and_leaves_it_empty() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "one\n");
    deliver(&m, "two\n");
    let account = m.account(USER);
    account.create("INBOX/Child").unwrap();
    let before = account.status("INBOX").unwrap();
    account.rename("INBOX", "Old Mail").unwrap();
    let after = account.status("INBOX").unwrap();
    assert_eq!(after.messages, 0);
    assert_eq!(after.uidvalidity, before.uidvalidity);
    assert_eq!(account.status("Old Mail").unwrap().messages, 2);
    let names_now: Vec<String> = account.list().unwrap().into_iter().map(|m| m.name).collect();
    assert!(names_now.contains(&"INBOX/Child".to_string()), "INBOX's children stay: {names_now:?}");
    // New mail still lands in INBOX.
    deliver(&m, "three\n");
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    assert_eq!(inbox.snapshot().messages.len(), 1);
    assert_eq!(inbox.read(before.uidnext).unwrap(), b"three\n");
}

#[test]
fn subscriptions_are_kept_in_modified_utf7() {
    let dir = tempfile::tempdir().unwrap();
    let account = store(dir.path()).account(USER);
    account.subscribe("Entwürfe").unwrap();
    account.subscribe("Does/Not/Exist").unwrap();
    account.subscribe("Entwürfe").unwrap();
    assert_eq!(fs::read_to_string(account.root().join("subscriptions")).unwrap(), "Does/Not/Exist\nEntw&APw-rfe\n");
    account.unsubscribe("Does/Not/Exist").unwrap();
    account.unsubscribe("never-subscribed").unwrap();
    assert_eq!(account.subscriptions().unwrap(), ["Entwürfe"]);
    assert!(matches!(account.subscribe("a//b"), Err(StoreError::InvalidName { .. })));
}

#[test]
fn no_name_escapes_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    let account = m.account(USER);
    account.prepare().unwrap();
    let outside_before = ls(dir.path());
    let mail_before = ls(&dir.path().join("mail/example.com"));
    for bad in [
        "..",
        "../other",
        "../../etc",
        "/etc/passwd",
        "/",
        "a/../../b",
        ".",
        "./x",
        "x/.",
        "a\0b",
        "a\rb",
        "a\nb",
        "\u{1b}[1m",
        "%2e%2e",
        "%2e%2e/x",
        "*",
        "",
    ] {
        for result in [
            account.create(bad),
            account.delete(bad),
            account.rename("Sent", bad),
            account.subscribe(bad),
            account.open(bad, Access::ReadWrite).map(|_| ()),
            account.status(bad).map(|_| ()),
            account.append(bad, b"x\n", &Flags::new(), None).map(|_| ()),
        ] {
            assert!(matches!(result, Err(StoreError::InvalidName { .. })), "{bad:?}: {result:?}");
        }
    }
    // Names that merely look dangerous are stored inside the account's directory.
    for odd in ["..hidden", "a.b.c", "x..", "~", "-rf", "%", "back\\slash"] {
        let r = account.create(odd);
        if odd == "%" {
            assert!(r.is_err());
            continue;
        }
        r.unwrap();
        account.append(odd, b"x\n", &Flags::new(), None).unwrap();
    }
    assert_eq!(ls(dir.path()), outside_before);
    assert_eq!(ls(&dir.path().join("mail/example.com")), mail_before);
    for entry in ls(account.root()) {
        let path = account.root().join(&entry);
        assert!(path.parent().unwrap() == account.root(), "{entry}");
    }
    let listed: Vec<String> = account.list().unwrap().into_iter().map(|m| m.name).collect();
    for odd in ["..hidden", "a.b.c", "x..", "~", "-rf", "back\\slash"] {
        assert!(listed.contains(&odd.to_string()), "{odd} in {listed:?}");
    }
}
