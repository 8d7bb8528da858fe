//! New message files for APPEND, COPY and MOVE: written (or hard-linked) into the target's
//! tmp/, made durable, then moved into cur/ together under the mailbox lock, so a reader sees
//! all of them or none. Names follow Dovecot's form, `<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<crlf size>`,
//! so Dovecot and carrier read sizes from the name without opening the file.

use crate::StoreError;
use crate::flags::{self, Flags};
use crate::fsutil;
use crate::sync::{Locked, Place};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Files waiting in a mailbox's tmp/; removed again if they are never committed.
pub struct Staged {
    dir: PathBuf,
    files: Vec<(PathBuf, String)>,
}

impl Staged {
    /// Staging for the mailbox in `dir`.
    pub fn new(dir: &Path) -> Staged {
        Staged { dir: dir.to_path_buf(), files: Vec::new() }
    }

    /// Writes a message (LF line ends) with its internal date, fsynced.
    pub fn write(&mut self, host: &str, data: &[u8], date: SystemTime) -> Result<(), StoreError> {
        let vsize = carrier_syntax::lines::crlf_len(data) as u64;
        let (tmp, base) = self.reserve(host, data.len() as u64, vsize);
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        self.files.push((tmp, base));
        file.write_all(data)?;
        file.set_modified(date)?;
        file.sync_all()?;
        Ok(())
    }

    /// Adds an existing message by hard link (same inode: no copy, date kept), or by copying
    /// when the file system cannot link.
    pub fn link(&mut self, host: &str, source: &Path, size: u64, vsize: u64) -> Result<(), StoreError> {
        let (tmp, base) = self.reserve(host, size, vsize);
        match fs::hard_link(source, &tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e.into()),
            Err(_) => {
                let date = fs::metadata(source)?.modified()?;
                fs::copy(source, &tmp)?;
                let file = File::options().write(true).open(&tmp)?;
                file.set_modified(date)?;
                file.sync_all()?;
            }
        }
        self.files.push((tmp, base));
        Ok(())
    }

    fn reserve(&self, host: &str, size: u64, vsize: u64) -> (PathBuf, String) {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let base = format!(
            "{}.M{}P{}Q{}.{host},S={size},W={vsize}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        (self.dir.join("tmp").join(&base), base)
    }

    /// Moves the files into cur/ with `flags` (one per file) under the mailbox lock; returns
    /// the mailbox's UIDVALIDITY and the new UIDs in order.
    pub fn commit(mut self, place: &Place, flags: &[Flags]) -> Result<(u32, Vec<u32>), StoreError> {
        // A file in tmp/ becomes durable in cur/ only when tmp/'s own entry is (for links).
        fsutil::sync_dir(&self.dir.join("tmp"))?;
        let mut locked = Locked::acquire(place)?;
        let mut moves = Vec::new();
        for ((tmp, base), flags) in self.files.iter().zip(flags) {
            let info = flags::to_info(flags, "", &mut locked.keywords)?;
            moves.push((tmp.clone(), base.clone(), info));
        }
        locked.keywords.save()?;
        let uids = locked.insert(&moves)?;
        self.files.clear();
        let uidvalidity = locked.index.uidvalidity;
        locked.finish()?;
        Ok((uidvalidity, uids))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}
