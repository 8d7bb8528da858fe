//! Helpers shared by the store's tests.
#![allow(dead_code)]

use carrier_store::{Delivery, MailboxStore, Maildir};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const USER: &str = "bob@example.com";

pub fn store(dir: &Path) -> Maildir {
    Maildir::new(dir.join("mail"), "mx.example.com")
}

/// Delivers a message as the delivery agent does; returns its file.
pub fn deliver(m: &Maildir, body: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let id = format!("Q{}.0", SEQ.fetch_add(1, Ordering::Relaxed));
    let parts: [&[u8]; 1] = [body.as_bytes()];
    let d = Delivery {
        user: USER,
        id: &id,
        time: SystemTime::now(),
        parts: &parts,
        recovering: false,
        folder: None,
        flags: &[],
    };
    m.deliver(&d).unwrap().path
}

/// Delivers with a given file modification time, to control arrival order.
pub fn deliver_at(m: &Maildir, body: &str, secs: u64) -> PathBuf {
    let path = deliver(m, body);
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
    path
}

/// The names in a directory, sorted.
pub fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}
