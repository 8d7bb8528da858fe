//! Crash safety of the index: missing, torn, damaged or stale index files, and leftovers of
//! interrupted writes. UIDs stay when the index is intact; UIDVALIDITY changes when they
//! cannot be kept.

mod common;
use carrier_store::{Access, Flag, FlagOp, Flags, Snapshot};
use common::*;
use std::fs;
use std::path::Path;

fn open(dir: &Path) -> Snapshot {
    store(dir).account(USER).open("INBOX", Access::ReadWrite).unwrap().snapshot().clone()
}

fn bases(s: &Snapshot) -> Vec<(u32, String)> {
    s.messages
        .iter()
        .map(|m| {
            let name = m.file.file_name().unwrap().to_str().unwrap();
            (m.uid, name.split(':').next().unwrap().to_string())
        })
        .collect()
}

fn three_messages(dir: &Path) -> Snapshot {
    let m = store(dir);
    for i in 0..3 {
        deliver_at(&m, &format!("m{i}\n"), 1_700_000_000 + i);
    }
    let mut inbox = m.account(USER).open("INBOX", Access::ReadWrite).unwrap();
    inbox.expunge(&[1]).unwrap();
    inbox.snapshot().clone()
}

#[test]
fn missing_index_is_rebuilt_with_a_new_uidvalidity() {
    let dir = tempfile::tempdir().unwrap();
    let before = three_messages(dir.path());
    let root = store(dir.path()).account(USER).root().to_path_buf();
    fs::remove_file(root.join("carrier-index")).unwrap();
    let after = open(dir.path());
    assert!(after.uidvalidity > before.uidvalidity);
    assert_eq!(after.messages.len(), 2);
    assert_eq!(after.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    // Stable again from now on.
    let again = open(dir.path());
    assert_eq!((again.uidvalidity, bases(&again)), (after.uidvalidity, bases(&after)));
}

#[test]
fn torn_or_damaged_index_is_rebuilt_with_a_new_uidvalidity() {
    for damage in ["truncate", "garbage", "edit"] {
        let dir = tempfile::tempdir().unwrap();
        let before = three_messages(dir.path());
        let root = store(dir.path()).account(USER).root().to_path_buf();
        let index = root.join("carrier-index");
        let text = fs::read_to_string(&index).unwrap();
        match damage {
            "truncate" => fs::write(&index, &text[..text.len() - 10]).unwrap(),
            "garbage" => fs::write(&index, b"\0\xff\xfe").unwrap(),
            _ => fs::write(&index, text.replace("uidnext 4", "uidnext 9")).unwrap(),
        }
        if damage != "garbage" {
            // The old UIDVALIDITY is still readable: the new one passes it without the counter.
            fs::remove_file(root.join("carrier-uidvalidity")).unwrap();
        }
        let after = open(dir.path());
        assert!(after.uidvalidity > before.uidvalidity, "{damage}");
        assert_eq!(after.messages.len(), 2, "{damage}: no message is lost");
        assert_eq!(open(dir.path()).uidvalidity, after.uidvalidity);
    }
}

#[test]
fn stale_index_keeps_uids_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver_at(&m, "a\n", 1_700_000_000);
    deliver_at(&m, "b\n", 1_700_000_001);
    let first = open(dir.path());
    let root = m.account(USER).root().to_path_buf();
    // Changes happen while nobody syncs the index: deliveries, and mutt flagging a message.
    deliver_at(&m, "c\n", 1_700_000_002);
    let one = root.join(&first.get(1).unwrap().file);
    fs::rename(&one, format!("{}S", one.display())).unwrap();
    let later = open(dir.path());
    assert_eq!(later.uidvalidity, first.uidvalidity);
    assert_eq!(&bases(&later)[..2], &bases(&first)[..]);
    assert_eq!(later.messages[2].uid, 3);
    assert!(later.get(1).unwrap().flags.contains(&Flag::Seen));
}

#[test]
fn leftovers_of_interrupted_writes_are_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let before = three_messages(dir.path());
    let root = store(dir.path()).account(USER).root().to_path_buf();
    // A crash during an index write leaves its temporary file; during APPEND, a file in tmp/.
    fs::write(root.join("carrier-index.tmp123.0"), "partial").unwrap();
    fs::write(root.join("tmp/1700000000.M1P2Q3.mx.example.com,S=5,W=6"), "parti").unwrap();
    let after = open(dir.path());
    assert_eq!(bases(&after), bases(&before));
    assert_eq!(after.uidvalidity, before.uidvalidity);
}

#[test]
fn index_survives_flag_changes_of_a_session_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    three_messages(dir.path());
    let m = store(dir.path());
    let mut inbox = m.account(USER).open("INBOX", Access::ReadWrite).unwrap();
    let seen: Flags = [Flag::Seen].into_iter().collect();
    inbox.store(&[3], FlagOp::Add, &seen, None).unwrap();
    let snap = inbox.snapshot().clone();
    drop(inbox);
    assert_eq!(open(dir.path()), snap);
}
