//! Mailbox contents: UIDs, flags, MODSEQs, sync with other programs, append, copy, move,
//! expunge, \Recent and change notification.

mod common;
use carrier_store::{Access, Exceeded, Flag, FlagOp, Flags, Quota, QuotaSource, Resource, StoreError, Usage};
use common::*;
use std::fs;
use std::time::{Duration, UNIX_EPOCH};

fn flags(list: &[Flag]) -> Flags {
    list.iter().cloned().collect()
}

fn kw(k: &str) -> Flag {
    Flag::Keyword(k.into())
}

#[test]
fn delivered_messages_get_uids_in_arrival_order_and_move_to_cur() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver_at(&m, "Subject: second\n\nb\n", 1_700_000_200);
    deliver_at(&m, "Subject: first\n\na\nb\n", 1_700_000_100);
    let account = m.account(USER);
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    let snap = inbox.snapshot().clone();
    assert_eq!(snap.uidnext, 3);
    assert_eq!(snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    let first = &snap.messages[0];
    assert_eq!(first.internal_date, UNIX_EPOCH + Duration::from_secs(1_700_000_100));
    assert_eq!((first.size, first.rfc822_size), (20, 24));
    assert!(first.flags.is_empty() && first.recent);
    assert_eq!(inbox.read(1).unwrap(), b"Subject: first\n\na\nb\n");
    assert_eq!(inbox.read(2).unwrap(), b"Subject: second\n\nb\n");
    // Seen by a session: moved to cur/ with an empty info part, as Dovecot does.
    let root = account.root().to_path_buf();
    assert!(ls(&root.join("new")).is_empty());
    assert!(ls(&root.join("cur")).iter().all(|f| f.ends_with(":2,")), "{:?}", ls(&root.join("cur")));
    assert!(matches!(inbox.read(3), Err(StoreError::Expunged(3))));
}

#[test]
fn uids_are_stable_across_sessions_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    for i in 0..5 {
        deliver_at(&m, &format!("n{i}\n"), 1_700_000_000 + i);
    }
    let before = m.account(USER).open("INBOX", Access::ReadWrite).unwrap().snapshot().clone();
    deliver_at(&m, "late\n", 1_600_000_000); // older mtime, but it arrived later
    // A new store object: as after a restart of the server.
    let mut inbox = store(dir.path()).account(USER).open("INBOX", Access::ReadOnly).unwrap();
    let after = inbox.snapshot().clone();
    assert_eq!(after.uidvalidity, before.uidvalidity);
    for old in &before.messages {
        let new = after.get(old.uid).unwrap();
        assert_eq!((new.uid, new.size, new.internal_date), (old.uid, old.size, old.internal_date));
    }
    assert_eq!(after.messages.last().unwrap().uid, 6);
    assert_eq!(inbox.read(6).unwrap(), b"late\n");
}

#[test]
fn changes_by_other_programs_are_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    for i in 0..3 {
        deliver_at(&m, &format!("m{i}\n"), 1_700_000_000 + i);
    }
    let account = m.account(USER);
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    let modseq0 = inbox.snapshot().highestmodseq;
    let cur = account.root().join("cur");
    let files = ls(&cur);
    // mutt marks the first read and replied (renames it) and deletes the second.
    let base = files[0].strip_suffix(":2,").unwrap();
    fs::rename(cur.join(&files[0]), cur.join(format!("{base}:2,RS"))).unwrap();
    fs::remove_file(cur.join(&files[1])).unwrap();
    // Another MDA drops a message into new/.
    fs::write(account.root().join("new/1800000000.other.host"), "Subject: x\r\n\r\ncrlf\r\n").unwrap();
    let snap = inbox.sync().unwrap().clone();
    assert_eq!(snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 3, 4]);
    let one = snap.get(1).unwrap();
    assert_eq!(one.flags, flags(&[Flag::Seen, Flag::Answered]));
    assert!(one.modseq > modseq0);
    assert!(snap.get(3).unwrap().modseq <= modseq0, "unchanged message kept its MODSEQ");
    assert!(snap.highestmodseq > one.modseq, "the expunge and the new message raise HIGHESTMODSEQ");
    // A file already using CRLF is not counted twice.
    assert_eq!(snap.get(4).unwrap().rfc822_size, 20);
    // Flag letters only reordered by a program: not a change.
    let files = ls(&cur);
    let name = files.iter().find(|f| f.ends_with(":2,RS")).unwrap();
    fs::rename(cur.join(name), cur.join(name.replace(":2,RS", ":2,SR"))).unwrap();
    let again = inbox.sync().unwrap();
    assert_eq!(again.get(1).unwrap().modseq, one.modseq);
}

#[test]
fn store_flags_and_keywords() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "a\n");
    deliver(&m, "b\n");
    let account = m.account(USER);
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    let start = inbox.snapshot().highestmodseq;
    let stored = inbox.store(&[1, 2, 99], FlagOp::Add, &flags(&[Flag::Seen, kw("$Forwarded")]), None).unwrap();
    assert_eq!(stored.messages.len(), 2, "UID 99 does not exist and is ignored");
    assert!(stored.messages.iter().all(|(_, f, modseq)| f.contains(&Flag::Seen) && *modseq > start));
    // The file name carries the flags as mutt and Dovecot read them.
    let cur = ls(&account.root().join("cur"));
    assert!(cur.iter().all(|f| f.ends_with(":2,Sa")), "{cur:?}");
    assert_eq!(fs::read_to_string(account.root().join("dovecot-keywords")).unwrap(), "0 $Forwarded\n");
    // Removing and replacing.
    let r = inbox.store(&[1], FlagOp::Remove, &flags(&[kw("$forwarded")]), None).unwrap();
    assert_eq!(r.messages[0].1, flags(&[Flag::Seen]));
    let r = inbox.store(&[2], FlagOp::Replace, &flags(&[Flag::Deleted, Flag::Draft]), None).unwrap();
    assert_eq!(r.messages[0].1, flags(&[Flag::Deleted, Flag::Draft]));
    // A no-op STORE keeps the MODSEQ.
    let before = inbox.snapshot().get(2).unwrap().modseq;
    let r = inbox.store(&[2], FlagOp::Add, &flags(&[Flag::Deleted]), None).unwrap();
    assert_eq!(r.messages[0].2, before);
    // UNCHANGEDSINCE (RFC 7162): a message changed after the given MODSEQ is left alone.
    let r = inbox.store(&[1, 2], FlagOp::Add, &flags(&[Flag::Flagged]), Some(before - 1)).unwrap();
    assert_eq!(r.modified, [2]);
    assert_eq!(r.messages.len(), 1);
    // Another session sees the same state.
    let other = account.open("INBOX", Access::ReadOnly).unwrap();
    assert_eq!(other.snapshot().get(1).unwrap().flags, flags(&[Flag::Seen, Flag::Flagged]));
    assert_eq!(other.snapshot().keywords, ["$Forwarded"]);
    // Read-only sessions cannot change anything.
    let mut ro = account.open("INBOX", Access::ReadOnly).unwrap();
    assert!(matches!(ro.store(&[1], FlagOp::Add, &flags(&[Flag::Seen]), None), Err(StoreError::ReadOnly)));
    assert!(matches!(ro.expunge(&[1]), Err(StoreError::ReadOnly)));
}

#[test]
fn reading_after_another_session_renamed_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "content\n");
    let account = m.account(USER);
    let mut a = account.open("INBOX", Access::ReadWrite).unwrap();
    let mut b = account.open("INBOX", Access::ReadWrite).unwrap();
    b.store(&[1], FlagOp::Add, &flags(&[Flag::Seen]), None).unwrap();
    // `a` still has the old file name; reading finds the message anyway.
    assert_eq!(a.read(1).unwrap(), b"content\n");
    b.expunge(&[1]).unwrap();
    assert!(matches!(a.read(1), Err(StoreError::Expunged(1))));
}

#[test]
fn expunge_removes_files_and_uids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    for i in 0..3 {
        deliver_at(&m, &format!("{i}\n"), 1_700_000_000 + i);
    }
    let account = m.account(USER);
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    assert_eq!(inbox.expunge(&[2, 3, 42]).unwrap(), [2, 3]);
    assert_eq!(ls(&account.root().join("cur")).len(), 1);
    deliver(&m, "new\n");
    let snap = inbox.sync().unwrap();
    assert_eq!(snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 4]);
}

#[test]
fn expunge_deleted_takes_only_what_is_flagged_deleted_now() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    for i in 0..4 {
        deliver_at(&m, &format!("{i}\n"), 1_700_000_000 + i);
    }
    let account = m.account(USER);
    let mut a = account.open("INBOX", Access::ReadWrite).unwrap();
    let mut b = account.open("INBOX", Access::ReadWrite).unwrap();
    a.store(&[1, 2, 3], FlagOp::Add, &flags(&[Flag::Deleted]), None).unwrap();
    // Another session undeletes 2 after `a` last looked: the expunge must see that.
    b.store(&[2], FlagOp::Remove, &flags(&[Flag::Deleted]), None).unwrap();
    assert_eq!(a.expunge_deleted(Some(&[1, 2, 4])).unwrap(), [1], "UID EXPUNGE: only within the set");
    assert_eq!(a.expunge_deleted(None).unwrap(), [3]);
    assert_eq!(a.expunge_deleted(None).unwrap(), Vec::<u32>::new());
    assert_eq!(a.snapshot().messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 4]);
    let mut ro = account.open("INBOX", Access::ReadOnly).unwrap();
    assert!(matches!(ro.expunge_deleted(None), Err(StoreError::ReadOnly)));
}

#[test]
fn append_is_durable_with_flags_and_date() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    let account = m.account(USER);
    account.prepare().unwrap();
    let date = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let a = account
        .append("Drafts", b"Subject: draft\r\n\r\nbody\r\n", &flags(&[Flag::Draft, kw("Work")]), Some(date))
        .unwrap();
    assert_eq!(a.uid, 1);
    let mut drafts = account.open("Drafts", Access::ReadWrite).unwrap();
    assert_eq!(drafts.snapshot().uidvalidity, a.uidvalidity);
    let msg = drafts.snapshot().get(1).unwrap().clone();
    assert_eq!(msg.internal_date, date);
    assert_eq!(msg.flags, flags(&[Flag::Draft, kw("Work")]));
    assert_eq!((msg.size, msg.rfc822_size), (21, 24));
    assert_eq!(drafts.read(1).unwrap(), b"Subject: draft\n\nbody\n");
    let files = ls(&account.root().join(".Drafts/cur"));
    assert_eq!(files.len(), 1);
    assert!(files[0].contains(",S=21,W=24:2,Da"), "{files:?}");
    assert!(ls(&account.root().join(".Drafts/tmp")).is_empty());
    assert!(matches!(account.append("Nope", b"x", &Flags::new(), None), Err(StoreError::NoSuchMailbox(_))));
    assert!(matches!(account.append("../x", b"x", &Flags::new(), None), Err(StoreError::InvalidName { .. })));
}

#[test]
fn copy_and_move_report_copyuid_and_keep_flags_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    for i in 0..3 {
        deliver_at(&m, &format!("msg {i}\n"), 1_700_000_000 + i);
    }
    let account = m.account(USER);
    account.prepare().unwrap();
    // The archive already has a different keyword at letter a.
    account.append("Archive", b"old\n", &flags(&[kw("Other")]), None).unwrap();
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    inbox.store(&[2], FlagOp::Add, &flags(&[Flag::Flagged, kw("Project")]), None).unwrap();
    let copied = inbox.copy_to(&[3, 2], "Archive").unwrap();
    let archive_status = account.status("Archive").unwrap();
    assert_eq!(copied.uidvalidity, archive_status.uidvalidity);
    assert_eq!(copied.uids, [(2, 2), (3, 3)]);
    let mut archive = account.open("Archive", Access::ReadOnly).unwrap();
    let two = archive.snapshot().get(2).unwrap().clone();
    assert_eq!(two.flags, flags(&[Flag::Flagged, kw("Project")]));
    assert_eq!(two.internal_date, UNIX_EPOCH + Duration::from_secs(1_700_000_001));
    assert_eq!(archive.read(2).unwrap(), b"msg 1\n");
    assert_eq!(archive.snapshot().keywords, ["Other", "Project"]);
    assert_eq!(inbox.sync().unwrap().messages.len(), 3, "copy leaves the source alone");
    // Move: into Trash, gone from INBOX.
    let moved = inbox.move_to(&[1], "Trash").unwrap();
    assert_eq!(moved.uids, [(1, 1)]);
    assert_eq!(inbox.snapshot().messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(account.open("Trash", Access::ReadOnly).unwrap().read(1).unwrap(), b"msg 0\n");
    // Errors: missing destination, expunged source; nothing is half-copied.
    assert!(matches!(inbox.copy_to(&[2], "Missing"), Err(StoreError::NoSuchMailbox(_))));
    assert!(matches!(inbox.copy_to(&[2, 1], "Archive"), Err(StoreError::Expunged(1))));
    assert_eq!(account.status("Archive").unwrap().messages, 3);
    assert!(ls(&account.root().join(".Archive/tmp")).is_empty());
}

#[test]
fn recent_belongs_to_the_first_session_that_selects() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "a\n");
    let account = m.account(USER);
    assert_eq!(account.status("INBOX").unwrap().recent, 1);
    let examine = account.open("INBOX", Access::ReadOnly).unwrap();
    assert!(examine.snapshot().messages[0].recent, "EXAMINE shows \\Recent (RFC 3501 6.3.2)...");
    let mut first = account.open("INBOX", Access::ReadWrite).unwrap();
    assert!(first.snapshot().messages[0].recent, "...but does not take it");
    let second = account.open("INBOX", Access::ReadWrite).unwrap();
    assert!(!second.snapshot().messages[0].recent);
    assert_eq!(account.status("INBOX").unwrap().recent, 0);
    let examine = account.open("INBOX", Access::ReadOnly).unwrap();
    assert!(!examine.snapshot().messages[0].recent, "taken by a read-write session");
    deliver(&m, "b\n");
    let snap = first.sync().unwrap();
    assert!(snap.messages[0].recent && snap.messages[1].recent);
}

#[test]
fn status_counts() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "a\n");
    deliver(&m, "bb\n");
    let account = m.account(USER);
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    inbox.store(&[1], FlagOp::Add, &flags(&[Flag::Seen]), None).unwrap();
    inbox.store(&[2], FlagOp::Add, &flags(&[Flag::Deleted]), None).unwrap();
    let s = account.status("inbox").unwrap();
    assert_eq!((s.messages, s.unseen, s.uidnext, s.size, s.deleted), (2, 1, 3, 7, 1));
    assert_eq!(s.uidvalidity, inbox.snapshot().uidvalidity);
    assert_eq!(s.highestmodseq, inbox.snapshot().highestmodseq);
    assert!(matches!(account.status("Nope"), Err(StoreError::NoSuchMailbox(n)) if n == "Nope"));
}

#[test]
fn sessions_are_told_about_deliveries_and_other_sessions_changes() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "a\n");
    let account = m.account(USER);
    let mut a = account.open("INBOX", Access::ReadWrite).unwrap();
    let mut watch = a.watch();
    let mut other_box = account.watch("INBOX").unwrap();
    assert!(!watch.has_changed().unwrap());
    deliver(&m, "b\n");
    assert!(watch.has_changed().unwrap());
    watch.mark_unchanged();
    a.sync().unwrap();
    // Flag changes by a session in this process.
    let mut b = account.open("INBOX", Access::ReadWrite).unwrap();
    watch.mark_unchanged();
    b.store(&[1], FlagOp::Add, &flags(&[Flag::Seen]), None).unwrap();
    assert!(watch.has_changed().unwrap());
    watch.mark_unchanged();
    // Syncing without changes tells nobody.
    a.sync().unwrap();
    assert!(!watch.has_changed().unwrap());
    b.expunge(&[2]).unwrap();
    assert!(watch.has_changed().unwrap());
    assert!(other_box.has_changed().unwrap());
    other_box.mark_unchanged();
}

#[test]
fn quota_limits_append_and_copy() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path()).with_quota(Quota { storage: Some(100), messages: None });
    deliver(&m, &"x".repeat(59));
    let account = m.account(USER);
    account.prepare().unwrap();
    assert_eq!(account.usage().unwrap(), Usage { octets: 59, messages: 1 });
    account.append("Sent", &[b'y'; 39], &Flags::new(), None).unwrap();
    assert_eq!(account.usage().unwrap().octets, 98);
    account.append("Sent", b"zz", &Flags::new(), None).unwrap();
    let full = account.append("Sent", b"z", &Flags::new(), None).unwrap_err();
    assert!(matches!(full, StoreError::OverQuota(Exceeded { resource: Resource::Storage, used: 100, limit: 100 })));
    assert_eq!(full.to_string(), "mailbox full: 100 of 100 octets in use; delete messages to make room");
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    assert!(matches!(inbox.copy_to(&[1], "Trash"), Err(StoreError::OverQuota { .. })));
    // Moving within the account needs room for the copy first, like Dovecot's quota.
    inbox.expunge(&[1]).unwrap();
    assert_eq!(account.usage().unwrap(), Usage { octets: 41, messages: 2 });
}

/// Accounts' own limits, from a source such as the user database, win over the default.
struct Own;
impl QuotaSource for Own {
    fn quota_of(&self, account: &str, default: Quota) -> Quota {
        if account == USER { Quota { storage: None, messages: Some(2) } } else { default }
    }
    fn any(&self) -> bool {
        true
    }
}

#[test]
fn quota_counts_messages_and_takes_accounts_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path()).with_quota_source(std::sync::Arc::new(Own));
    assert!(m.has_quotas());
    assert!(!store(dir.path()).has_quotas());
    assert_eq!(m.quota_of("other@example.com"), Quota::default());
    deliver(&m, "one");
    let account = m.account(USER);
    account.prepare().unwrap();
    account.append("Sent", &[b'y'; 5000], &Flags::new(), None).unwrap();
    let full = account.append("Sent", b"z", &Flags::new(), None).unwrap_err();
    assert!(matches!(full, StoreError::OverQuota(Exceeded { resource: Resource::Messages, used: 2, limit: 2 })));
    assert_eq!(full.to_string(), "mailbox full: 2 of 2 messages in use; delete messages to make room");
    let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
    assert!(matches!(inbox.copy_to(&[1], "Trash"), Err(StoreError::OverQuota { .. })));
}
