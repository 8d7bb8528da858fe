//! File-system helpers: atomic replacement, directory fsync and `flock`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `data` so that a crash leaves either the old or the new content:
/// write a temporary file, fsync it, rename it over `path`, fsync the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per process and call, so concurrent writers never share a temporary file.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!("{name}.tmp{}.{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    let written = file.write_all(data).and_then(|()| file.sync_data());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// fsyncs a directory, so the names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An exclusive `flock(2)` held until dropped. flock locks belong to the open file, so two
/// sessions in one process exclude each other as two processes do.
pub struct Lock(#[allow(dead_code)] File);

impl Lock {
    /// Waits for the lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> io::Result<Lock> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
        loop {
            // SAFETY: flock only reads the descriptor, which `file` keeps open.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Lock(file));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Reads a directory's entry names; a missing directory has none.
pub fn names_in(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        // Names that are not UTF-8 cannot be Maildir names we or the index can represent.
        if let Ok(name) = entry?.file_name().into_string() {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(names_in(dir.path()).unwrap(), ["f"]);
        assert!(write_atomic(&dir.path().join("missing/f"), b"x").is_err());
        assert!(names_in(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn lock_excludes_another_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = Lock::exclusive(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let _l = Lock::exclusive(&p).unwrap();
            tx.send(()).unwrap();
        });
        // The waiter cannot get the lock while it is held...
        assert!(rx.recv_timeout(std::time::Duration::from_millis(100)).is_err());
        drop(held);
        // ...and gets it once released.
        rx.recv().unwrap();
        waiter.join().unwrap();
    }
}
