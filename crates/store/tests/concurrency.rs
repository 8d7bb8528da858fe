//! Concurrent sessions and deliveries on one mailbox: every session sees the same UID for the
//! same message, no UID is given twice, and nothing is lost. Threads in one process exclude
//! each other through flock exactly as processes do (the lock belongs to the open file), and
//! a child process (the test binary itself) joins in to show that too.

mod common;
use carrier_store::{Access, Flag, FlagOp, Flags, Snapshot};
use common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// uid -> base name, as observed by any session; a UID naming two messages is a failure.
type Seen = Arc<Mutex<HashMap<u32, String>>>;

fn record(seen: &Seen, snap: &Snapshot) {
    let mut map = seen.lock().unwrap();
    let mut last = 0;
    for m in &snap.messages {
        assert!(m.uid > last, "UIDs ascend");
        last = m.uid;
        let base = m.file.file_name().unwrap().to_str().unwrap().split(':').next().unwrap().to_string();
        let known = map.entry(m.uid).or_insert_with(|| base.clone());
        assert_eq!(*known, base, "UID {} named two different messages", m.uid);
    }
}

fn session(dir: &Path, seen: Seen, rounds: usize, expunge: bool) -> BTreeSet<u32> {
    let account = store(dir).account(USER);
    let mut gone = BTreeSet::new();
    for round in 0..rounds {
        let mut inbox = account.open("INBOX", Access::ReadWrite).unwrap();
        record(&seen, inbox.snapshot());
        let uids: Vec<u32> = inbox.snapshot().messages.iter().map(|m| m.uid).collect();
        if let Some(&uid) = uids.get(round % uids.len().max(1)) {
            let f: Flags = [Flag::Seen, Flag::Keyword(format!("k{}", round % 3))].into_iter().collect();
            inbox.store(&[uid], FlagOp::Add, &f, None).unwrap();
            // Reading may race with an expunge by another session; both outcomes are fine.
            let _ = inbox.read(uid);
            if expunge && round % 4 == 3 {
                gone.extend(inbox.expunge(&[uid]).unwrap());
            }
        }
        record(&seen, inbox.sync().unwrap());
    }
    gone
}

#[test]
fn concurrent_sessions_deliveries_and_appends_agree_on_uids() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Seen = Arc::default();
    let mut threads = Vec::new();
    for t in 0..2 {
        let d = dir.path().to_path_buf();
        threads.push(std::thread::spawn(move || {
            let m = store(&d);
            for i in 0..30 {
                deliver(&m, &format!("Subject: {t}-{i}\n\nbody\n"));
            }
            BTreeSet::new()
        }));
    }
    for t in 0..3 {
        let (d, seen) = (dir.path().to_path_buf(), seen.clone());
        threads.push(std::thread::spawn(move || session(&d, seen, 25, t == 0)));
    }
    let appended = Arc::new(Mutex::new(Vec::new()));
    {
        let (d, appended) = (dir.path().to_path_buf(), appended.clone());
        threads.push(std::thread::spawn(move || {
            let account = store(&d).account(USER);
            for i in 0..15 {
                let a = account.append("INBOX", format!("appended {i}\r\n").as_bytes(), &Flags::new(), None).unwrap();
                appended.lock().unwrap().push(a.uid);
            }
            BTreeSet::new()
        }));
    }
    let mut expunged = BTreeSet::new();
    for t in threads {
        expunged.extend(t.join().unwrap());
    }
    let account = store(dir.path()).account(USER);
    let inbox = account.open("INBOX", Access::ReadOnly).unwrap();
    let snap = inbox.snapshot();
    record(&seen, snap);
    assert_eq!(snap.messages.len(), 60 + 15 - expunged.len());
    // Every file has exactly one UID; no expunged UID came back.
    let files = ls(&account.root().join("cur")).len() + ls(&account.root().join("new")).len();
    assert_eq!(files, snap.messages.len());
    assert!(snap.messages.iter().all(|m| !expunged.contains(&m.uid)));
    let appended = appended.lock().unwrap();
    assert_eq!(appended.iter().collect::<BTreeSet<_>>().len(), 15, "each APPEND got its own UID");
    assert!(appended.windows(2).all(|w| w[0] < w[1]), "APPENDUIDs ascend: {appended:?}");
    assert_eq!(snap.uidnext as usize, 60 + 15 + 1);
}

/// Run as a child process by the test below (`CARRIER_STORE_CHILD=dir`), never on its own.
#[test]
#[ignore = "a helper that another_process_agrees_on_uids runs in a child process"]
fn child_process_session() {
    let dir = std::env::var("CARRIER_STORE_CHILD").expect("run by another_process_agrees_on_uids");
    let seen: Seen = Arc::default();
    session(Path::new(&dir), seen.clone(), 20, false);
    // Report what this process saw, for the parent to compare.
    let map = seen.lock().unwrap();
    let lines: Vec<String> = map.iter().map(|(uid, base)| format!("{uid} {base}")).collect();
    std::fs::write(Path::new(&dir).join("child-seen"), lines.join("\n")).unwrap();
}

#[test]
fn another_process_agrees_on_uids() {
    let dir = tempfile::tempdir().unwrap();
    let m = store(dir.path());
    deliver(&m, "first\n");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_session", "--ignored", "--nocapture"])
        .env("CARRIER_STORE_CHILD", dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let seen: Seen = Arc::default();
    for i in 0..20 {
        deliver(&m, &format!("m{i}\n"));
        session(dir.path(), seen.clone(), 1, false);
    }
    assert!(child.wait().unwrap().success());
    let theirs = std::fs::read_to_string(dir.path().join("child-seen")).unwrap();
    let ours = seen.lock().unwrap();
    for line in theirs.lines() {
        let (uid, base) = line.split_once(' ').unwrap();
        if let Some(mine) = ours.get(&uid.parse().unwrap()) {
            assert_eq!(mine, base, "UID {uid}");
        }
    }
    assert_eq!(store(dir.path()).account(USER).status("INBOX").unwrap().messages, 21);
}
