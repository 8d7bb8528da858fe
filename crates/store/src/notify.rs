//! Change notification between sessions of one process: every mailbox that some session
//! watches has a generation counter, bumped whenever a session or a delivery changes the
//! mailbox (new messages, expunges, flags). An IMAP session in IDLE waits on its
//! [`Watch`] and re-syncs when the counter moves.
//!
//! Changes made by other programs (mutt, a second carrier process) are not seen here; they
//! are found by syncing, which sessions do every [`POLL_INTERVAL`] while idle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// How often an idle session should sync to notice changes by other programs (Dovecot's
/// `mailbox_idle_check_interval` is the same 30 seconds).
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);

/// A subscription to one mailbox's changes: `changed().await` returns when it changes.
pub type Watch = watch::Receiver<u64>;

/// The generation counters of watched mailboxes, keyed by mailbox directory.
#[derive(Debug, Default)]
pub struct Registry {
    mailboxes: Mutex<HashMap<PathBuf, watch::Sender<u64>>>,
}

impl Registry {
    /// Watches the mailbox in `dir`.
    pub fn watch(&self, dir: &Path) -> Watch {
        let mut map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(dir.to_path_buf()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Tells the watchers of `dir` that it changed; forgets mailboxes nobody watches any more.
    pub fn changed(&self, dir: &Path) {
        let mut map = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = map.get(dir) {
            if sender.receiver_count() == 0 {
                map.remove(dir);
            } else {
                sender.send_modify(|generation| *generation += 1);
            }
        }
        if map.len() > 1024 {
            map.retain(|_, s| s.receiver_count() > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchers_see_changes_of_their_mailbox_only() {
        let registry = Registry::default();
        let mut a = registry.watch(Path::new("/m/a"));
        let a2 = registry.watch(Path::new("/m/a"));
        let mut b = registry.watch(Path::new("/m/b"));
        registry.changed(Path::new("/m/a"));
        assert!(a.has_changed().unwrap() && a2.has_changed().unwrap());
        assert!(!b.has_changed().unwrap());
        assert_eq!(*a.borrow_and_update(), 1);
        assert!(!a.has_changed().unwrap());
        registry.changed(Path::new("/m/unwatched"));
        drop((a, a2));
        registry.changed(Path::new("/m/a"));
        assert!(!registry.mailboxes.lock().unwrap().contains_key(Path::new("/m/a")));
        assert!(!b.has_changed().unwrap());
        b.mark_unchanged();
    }
}
