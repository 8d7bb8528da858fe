//! Group commit of directory fsyncs: deliveries renaming into one Maildir's new/ at the same
//! moment share one fsync of that directory instead of queueing one each. Profiling the
//! SMTP → Maildir load showed the delivery threads waiting on each other's fsync of the same
//! directory; one fsync that starts after a rename makes it durable, whoever asked for it.

use crate::fsutil;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The directories being synced, each with its own gate.
#[derive(Debug, Default)]
pub struct DirSyncs {
    gates: Mutex<HashMap<PathBuf, Arc<Gate>>>,
}

#[derive(Debug, Default)]
struct Gate {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out: one per caller, in call order.
    issued: u64,
    /// Every ticket up to this one is covered by a completed, successful fsync.
    synced: u64,
    /// An fsync is running (it covers the tickets issued before it started).
    running: bool,
    /// A failed fsync: the callers it should have covered, and everyone after them on this
    /// gate, get the error (after a failed fsync, Linux may have dropped the dirty pages, so
    /// a later success proves nothing about earlier renames).
    failed: Option<(io::ErrorKind, String)>,
}

impl DirSyncs {
    /// Returns once an fsync of `dir` that started after this call has completed: the
    /// caller's earlier renames into `dir` are then durable.
    pub fn sync(&self, dir: &Path) -> io::Result<()> {
        let gate = self.gate(dir);
        let mut s = lock(&gate.state);
        s.issued += 1;
        let ticket = s.issued;
        loop {
            if s.synced >= ticket {
                return Ok(());
            }
            if let Some((kind, text)) = &s.failed {
                return Err(io::Error::new(*kind, text.clone()));
            }
            if s.running {
                s = gate.finished.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // This fsync starts now, so it covers every ticket issued so far.
            s.running = true;
            let covers = s.issued;
            drop(s);
            let result = fsutil::sync_dir(dir);
            s = lock(&gate.state);
            s.running = false;
            match &result {
                Ok(()) => s.synced = covers,
                Err(e) => {
                    s.failed = Some((e.kind(), e.to_string()));
                    // Later callers start afresh with a new gate.
                    lock(&self.gates).remove(dir);
                }
            }
            gate.finished.notify_all();
        }
    }

    fn gate(&self, dir: &Path) -> Arc<Gate> {
        lock(&self.gates).entry(dir.to_path_buf()).or_default().clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_all_return_after_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let syncs = Arc::new(DirSyncs::default());
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (syncs, path) = (syncs.clone(), dir.path().to_path_buf());
                std::thread::spawn(move || (0..20).try_for_each(|_| syncs.sync(&path)))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let gate = syncs.gate(dir.path());
        let s = lock(&gate.state);
        assert_eq!(s.synced, s.issued);
        assert_eq!(s.issued, 16 * 20);
    }

    #[test]
    fn a_failed_sync_is_reported_and_the_next_caller_tries_again() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let syncs = DirSyncs::default();
        assert_eq!(syncs.sync(&missing).unwrap_err().kind(), io::ErrorKind::NotFound);
        std::fs::create_dir(&missing).unwrap();
        syncs.sync(&missing).unwrap();
    }
}
