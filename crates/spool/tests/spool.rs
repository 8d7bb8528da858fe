//! The queue: durability-relevant behaviour, restart, and group commit.

use carrier_spool::{Envelope, QueueId, Recipient, Spool, Status};
use std::time::{Duration, UNIX_EPOCH};

fn envelope(sender: &str, rcpts: &[&str]) -> Envelope {
    Envelope {
        sender: sender.into(),
        recipients: rcpts
            .iter()
            .map(|r| Recipient { address: r.to_string(), orig: r.to_string(), local: true, status: Status::Pending })
            .collect(),
        received: UNIX_EPOCH + Duration::from_micros(1_795_532_581_123_456),
        client_ip: Some("192.0.2.7".parse().unwrap()),
        client_name: "unknown".into(),
        helo: "client.example".into(),
        proto: "ESMTP".into(),
        smtputf8: true,
        body_8bit: false,
        warned: false,
        junk: false,
        spam: None,
    }
}

#[test]
fn round_trip_keeps_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let mut env = envelope("", &["bob@example.com", "\"john doe\"@example.com", "jöran@bücher.example"]);
    (env.junk, env.spam) = (true, Some(73));
    let body = b"Subject: x\r\n\r\n8-bit \xe9\xff and CRLF\r\n\r\n\r\n".to_vec();
    let id = spool.enqueue_blocking(env.clone(), body.clone()).unwrap();
    let (loaded, message) = spool.load(&id).unwrap();
    assert_eq!(loaded, env);
    assert_eq!(message, body);
    assert_eq!(spool.envelope(&id).unwrap(), env);
}

#[test]
fn statuses_survive_reopen_and_last_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let spool = Spool::open(dir.path()).unwrap();
        let id = spool
            .enqueue_blocking(envelope("a@x.example", &["b@example.com", "c@example.com"]), b"m\r\n".to_vec())
            .unwrap();
        let next_try = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        spool.update(&id, 0, Status::Deferred { next_try, tries: 1, error: "disk full: try later".into() }).unwrap();
        spool.update(&id, 1, Status::Failed { error: "550 5.1.1 no such user".into() }).unwrap();
        spool.update(&id, 0, Status::Deferred { next_try, tries: 2, error: "still full".into() }).unwrap();
        id
    };
    let spool = Spool::open(dir.path()).unwrap();
    let env = spool.envelope(&id).unwrap();
    let Status::Deferred { tries, error, next_try } = &env.recipients[0].status else { panic!("{env:?}") };
    assert_eq!((*tries, error.as_str()), (2, "still full"));
    assert_eq!(*next_try, UNIX_EPOCH + Duration::from_secs(2_000_000_000));
    assert_eq!(env.recipients[1].status, Status::Failed { error: "550 5.1.1 no such user".into() });
    assert!(env.recipients[1].status.is_final() && !env.recipients[0].status.is_final());
    assert!(!env.warned);
}

#[test]
fn the_delay_warning_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let id = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"m\r\n".to_vec()).unwrap();
    spool.mark_warned(&id).unwrap();
    spool.update(&id, 0, Status::Delivered { detail: "250 ok".into() }).unwrap();
    let env = Spool::open(dir.path()).unwrap().envelope(&id).unwrap();
    assert!(env.warned);
    assert!(env.recipients[0].status.is_final());
}

#[test]
fn several_statuses_are_recorded_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let rcpts = ["b@example.com", "c@example.net", "d@example.org"];
    let id = spool.enqueue_blocking(envelope("a@x.example", &rcpts), b"m\r\n".to_vec()).unwrap();
    let changes = [(0, Status::Delivered { detail: "250 ok".into() }), (2, Status::Failed { error: "550 no".into() })];
    spool.update_all(&id, &changes).unwrap();
    spool.update_all(&id, &[]).unwrap();
    let env = Spool::open(dir.path()).unwrap().envelope(&id).unwrap();
    assert_eq!(env.recipients[0].status, changes[0].1);
    assert_eq!(env.recipients[1].status, Status::Pending);
    assert_eq!(env.recipients[2].status, changes[1].1);
    let history = spool.history(&id).unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
}

#[test]
fn torn_status_line_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let id = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"m\r\n".to_vec()).unwrap();
    spool.update(&id, 0, Status::Delivered { detail: "ok".into() }).unwrap();
    // A crash in the middle of an append leaves a line without its newline.
    use std::io::Write;
    let path = dir.path().join("queue").join(id.to_string());
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"0 failed half-writ").unwrap();
    assert_eq!(spool.envelope(&id).unwrap().recipients[0].status, Status::Delivered { detail: "ok".into() });
}

#[test]
fn update_after_a_torn_line_cuts_the_fragment_instead_of_gluing_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    // The message does not end in a newline, so records start right after its last byte.
    let id = spool
        .enqueue_blocking(envelope("a@x.example", &["b@example.com", "c@example.com"]), b"no eol".to_vec())
        .unwrap();
    spool.update(&id, 1, Status::Failed { error: "550 no".into() }).unwrap();
    use std::io::Write;
    let path = dir.path().join("queue").join(id.to_string());
    let before = std::fs::read(&path).unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"0 deferred 17955").unwrap(); // a full disk or a crash stopped this write
    spool.update(&id, 0, Status::Delivered { detail: "250 ok".into() }).unwrap();
    let after = std::fs::read(&path).unwrap();
    assert_eq!(&after[..before.len()], &before[..], "acknowledged records are kept");
    assert_eq!(&after[before.len()..], b"0 delivered 250%20ok\n");
    let spool = Spool::open(dir.path()).unwrap();
    let (env, body) = spool.load(&id).unwrap();
    assert_eq!(body, b"no eol");
    assert_eq!(env.recipients[0].status, Status::Delivered { detail: "250 ok".into() });
    assert_eq!(env.recipients[1].status, Status::Failed { error: "550 no".into() });
}

#[test]
fn torn_first_record_after_the_message_is_cut_too() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let id = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"body\r\n".to_vec()).unwrap();
    use std::io::Write;
    let path = dir.path().join("queue").join(id.to_string());
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"0 fai").unwrap();
    assert_eq!(spool.envelope(&id).unwrap().recipients[0].status, Status::Pending);
    spool.update(&id, 0, Status::Failed { error: "gone".into() }).unwrap();
    let (env, body) = spool.load(&id).unwrap();
    assert_eq!(
        (env.recipients[0].status.clone(), body),
        (Status::Failed { error: "gone".into() }, b"body\r\n".to_vec())
    );
}

#[test]
fn update_of_an_unknown_message_fails() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let err = spool.update(&QueueId::generate(), 0, Status::Pending).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_second_process_does_not_sweep_the_first_ones_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = Spool::open(dir.path()).unwrap();
    // Stands for a message the running server is writing right now.
    let in_flight = dir.path().join("tmp/0000000000ZZ02");
    std::fs::write(&in_flight, b"being written").unwrap();
    let cli = Spool::open(dir.path()).unwrap(); // e.g. `mailq` or `sendmail` starting
    assert!(in_flight.exists());
    assert_eq!(cli.list().unwrap().len(), 0);
    drop(cli);
    drop(server);
    // Nobody has the spool open any more: what is left in tmp/ is debris of a crash.
    let _restarted = Spool::open(dir.path()).unwrap();
    assert!(!in_flight.exists());
}

#[test]
fn a_corrupt_queue_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let id = QueueId::generate();
    std::fs::write(dir.path().join("queue").join(id.to_string()), b"not a queue file\n\nhello").unwrap();
    let err = spool.list().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let text = err.to_string();
    assert!(
        text.contains(&id.to_string()) && text.contains("carrier-queue 1") && text.contains("move it out"),
        "{text}"
    );
    assert!(spool.load(&id).is_err());
    // Files that are not queue ids (an editor's backup, say) are not messages.
    std::fs::remove_file(dir.path().join("queue").join(id.to_string())).unwrap();
    std::fs::write(dir.path().join("queue/notes.txt~"), b"x").unwrap();
    assert!(spool.list().unwrap().is_empty());
}

#[test]
fn open_cleans_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let spool = Spool::open(dir.path()).unwrap();
        spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"m\r\n".to_vec()).unwrap()
    };
    std::fs::write(dir.path().join("tmp/0000000000ZZ01"), b"half a message").unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(spool.list().unwrap().len(), 1);
    assert!(spool.load(&id).is_ok());
    // One file per message: nothing else in the queue directory.
    assert_eq!(std::fs::read_dir(dir.path().join("queue")).unwrap().count(), 1);
}

#[test]
fn list_is_oldest_first_and_remove_removes() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let ids: Vec<QueueId> = (0..5)
        .map(|i| spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), vec![b'x'; i * 10]).unwrap())
        .collect();
    let listed = spool.list().unwrap();
    assert_eq!(listed.iter().map(|q| q.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(listed[3].size, 30);
    spool.remove(&ids[2]).unwrap();
    assert_eq!(spool.list().unwrap().len(), 4);
    assert!(spool.load(&ids[2]).is_err());
    // Another process (here: another handle) sees the same queue.
    assert_eq!(Spool::open(dir.path()).unwrap().list().unwrap().len(), 4);
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("spool")).unwrap();
    let id = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"m\r\n".to_vec()).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("spool/queue")), 0o700);
    assert_eq!(mode(&dir.path().join(format!("spool/queue/{id}"))), 0o600);
}

#[test]
fn concurrent_enqueues_are_all_durable_unique_and_batched() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    // One thread polls all 200 tasks in a row, so they submit within microseconds of each
    // other while the committer syncs: batching does not depend on how the OS schedules us.
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let ids = rt.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let spool = spool.clone();
                tokio::spawn(async move {
                    spool
                        .enqueue(envelope("a@x.example", &["b@example.com"]), format!("message {i}\r\n").into_bytes())
                        .await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap());
        }
        ids
    });
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 200);
    let stats = spool.commit_stats();
    assert_eq!(stats.messages, 200);
    // Group commit: 200 concurrent callers shared directory fsyncs.
    assert!(stats.batches < 200, "no batching happened: {stats:?}");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(spool.load(id).unwrap().1, format!("message {i}\r\n").into_bytes());
    }
}

#[test]
fn enqueue_error_is_reported_not_swallowed() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    // Make tmp/ unusable: the write fails and the caller hears about it.
    std::fs::remove_dir(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp"), b"not a directory").unwrap();
    let err = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"m\r\n".to_vec()).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(spool.list().unwrap().is_empty());
}

#[test]
fn removed_files_are_emptied_and_reused() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let first = spool.enqueue_blocking(envelope("a@x.example", &["b@example.com"]), b"secret\r\n".to_vec()).unwrap();
    let inode = std::fs::metadata(dir.path().join(format!("queue/{first}"))).unwrap().ino();
    spool.remove(&first).unwrap();
    // The removed message's content does not linger in the spare file.
    let spare = dir.path().join(format!("free/{first}"));
    assert_eq!(std::fs::metadata(&spare).unwrap().len(), 0);
    let second = spool.enqueue_blocking(envelope("a@x.example", &["c@example.com"]), b"next\r\n".to_vec()).unwrap();
    assert_eq!(std::fs::metadata(dir.path().join(format!("queue/{second}"))).unwrap().ino(), inode);
    assert!(!spare.exists());
    let (env, body) = spool.load(&second).unwrap();
    assert_eq!((env.recipients[0].address.as_str(), body.as_slice()), ("c@example.com", &b"next\r\n"[..]));
    // A restart finds spares left by the previous run.
    spool.remove(&second).unwrap();
    drop(spool);
    let spool = Spool::open(dir.path()).unwrap();
    let third = spool.enqueue_blocking(envelope("a@x.example", &["d@example.com"]), b"third\r\n".to_vec()).unwrap();
    assert_eq!(std::fs::metadata(dir.path().join(format!("queue/{third}"))).unwrap().ino(), inode);
    assert_eq!(spool.list().unwrap().len(), 1);
}
