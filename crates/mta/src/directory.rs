//! Users and aliases shared by the listeners, the intake and the queue runner.

use carrier_accounts::Directory;
use std::sync::{Mutex, MutexGuard};
use tracing::warn;

/// The directory, re-read when the users or aliases file changes.
pub struct SharedDirectory(Mutex<Directory>);

impl SharedDirectory {
    pub fn new(directory: Directory) -> SharedDirectory {
        SharedDirectory(Mutex::new(directory))
    }

    /// The directory, re-read first if the users or aliases file changed (problems are logged).
    pub fn lock(&self) -> MutexGuard<'_, Directory> {
        let mut dir = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for problem in dir.refresh() {
            warn!("{problem}");
        }
        dir
    }
}
