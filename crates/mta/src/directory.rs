//! Users and aliases shared by the listeners, the intake and the queue runner.

use carrier_accounts::{AliasFile, Directory, Srs, UserDb};
use carrier_config::Config;
use carrier_store::{Quota, QuotaSource};
use std::sync::{Mutex, MutexGuard};
use tracing::warn;

/// The directory as the daemon resolves recipients: the accounts, the aliases file, and the
/// local domains with our own host name (`bob@mail.example.com` is local too).
pub fn open(cfg: &Config) -> Result<Directory, String> {
    let users = UserDb::open(&cfg.data_dir)
        .map_err(|e| format!("cannot read the user database in {}: {e}", cfg.data_dir.display()))?;
    let aliases = match &cfg.aliases {
        Some(path) => Some(AliasFile::open(path)?),
        None => None,
    };
    let mut domains = cfg.domains.clone();
    if !domains.contains(&cfg.hostname) {
        domains.push(cfg.hostname.clone());
    }
    let directory = Directory::new(domains, users, aliases);
    // The daemon made the secret at start; a command that cannot read it does without.
    match Srs::load(&cfg.data_dir, &cfg.hostname).filter(|_| cfg.delivery.srs) {
        Some(srs) => Ok(directory.with_srs(srs)),
        None => Ok(directory),
    }
}

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

/// Accounts' own limits come from the user database (`carrier user quota`), re-read when it
/// changes.
impl QuotaSource for SharedDirectory {
    fn quota_of(&self, account: &str, default: Quota) -> Quota {
        let limit = self.lock().users().limit(account);
        Quota { storage: limit.storage.apply(default.storage), messages: limit.messages.apply(default.messages) }
    }

    fn any(&self) -> bool {
        self.lock().users().any_limit()
    }
}
