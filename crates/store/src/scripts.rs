//! A user's Sieve scripts (RFC 5228), as ManageSieve (RFC 5804) edits them and the delivery
//! agent runs them: `sieve/NAME.sieve` in the account's directory, and the active one named
//! by the symbolic link `sieve/.active` (Dovecot keeps the same link as `~/.dovecot.sieve`).
//! Names come checked by the ManageSieve session: no `/`, no leading `.`.

use crate::fsutil::{self, Lock};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The link naming the active script.
const ACTIVE: &str = ".active";
/// What the scripts remember between messages, and the lock that guards it.
const MEMORY: &str = ".memory";
const MEMORY_LOCK: &str = ".memory.lock";
const SUFFIX: &str = ".sieve";

/// Why a script operation was refused (RFC 5804 1.3 response codes).
#[derive(Debug)]
pub enum ScriptError {
    /// No script by that name (`NONEXISTENT`).
    NotFound,
    /// The name is taken (`ALREADYEXISTS`).
    Exists,
    /// The active script cannot be deleted (`ACTIVE`).
    Active,
    Io(io::Error),
}

impl From<io::Error> for ScriptError {
    fn from(e: io::Error) -> ScriptError {
        ScriptError::Io(e)
    }
}

/// One account's scripts.
pub struct Scripts {
    dir: PathBuf,
}

impl Scripts {
    pub(crate) fn new(account_root: &Path) -> Scripts {
        Scripts { dir: account_root.join("sieve") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{SUFFIX}"))
    }

    /// The scripts, by name, and whether each is the active one.
    pub fn list(&self) -> io::Result<Vec<(String, bool)>> {
        let active = self.active_name()?;
        let mut out: Vec<(String, bool)> = match fsutil::names_in(&self.dir) {
            Ok(names) => names
                .into_iter()
                .filter(|n| !n.starts_with('.'))
                .filter_map(|n| n.strip_suffix(SUFFIX).map(str::to_string))
                .map(|n| {
                    let is_active = active.as_deref() == Some(n.as_str());
                    (n, is_active)
                })
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        out.sort();
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Result<Vec<u8>, ScriptError> {
        fs::read(self.path(name)).map_err(not_found)
    }

    /// Stores a script durably, replacing one of the same name (RFC 5804 2.6).
    pub fn put(&self, name: &str, script: &[u8]) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        fsutil::write_atomic(&self.path(name), script)
    }

    /// RFC 5804 2.10: the active script cannot be deleted.
    pub fn delete(&self, name: &str) -> Result<(), ScriptError> {
        if self.active_name()?.as_deref() == Some(name) {
            return Err(ScriptError::Active);
        }
        fs::remove_file(self.path(name)).map_err(not_found)?;
        Ok(fsutil::sync_dir(&self.dir)?)
    }

    /// RFC 5804 2.11.1: a renamed active script stays active.
    pub fn rename(&self, old: &str, new: &str) -> Result<(), ScriptError> {
        if !self.path(old).exists() {
            return Err(ScriptError::NotFound);
        }
        if self.path(new).exists() {
            return Err(ScriptError::Exists);
        }
        let was_active = self.active_name()?.as_deref() == Some(old);
        fs::rename(self.path(old), self.path(new))?;
        if was_active {
            self.link(new)?;
        }
        Ok(fsutil::sync_dir(&self.dir)?)
    }

    /// RFC 5804 2.8: makes `name` the active script; None (the empty name) deactivates all.
    pub fn set_active(&self, name: Option<&str>) -> Result<(), ScriptError> {
        match name {
            Some(name) if !self.path(name).exists() => Err(ScriptError::NotFound),
            Some(name) => Ok(self.link(name)?),
            None => {
                match fs::remove_file(self.dir.join(ACTIVE)) {
                    Ok(()) => fsutil::sync_dir(&self.dir)?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(())
            }
        }
    }

    /// The active script, for delivery: its name and text.
    pub fn active(&self) -> io::Result<Option<(String, Vec<u8>)>> {
        let Some(name) = self.active_name()? else { return Ok(None) };
        match fs::read(self.path(&name)) {
            Ok(text) => Ok(Some((name, text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How many scripts there are.
    pub fn count(&self) -> io::Result<usize> {
        Ok(self.list()?.len())
    }

    /// What the scripts remember between messages, locked until it is saved or dropped.
    pub fn remembered(&self) -> io::Result<Remembered> {
        fs::create_dir_all(&self.dir)?;
        let lock = Lock::exclusive(&self.dir.join(MEMORY_LOCK))?;
        let path = self.dir.join(MEMORY);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        // A damaged line is dropped: at worst one more vacation reply goes out.
        let entries = text
            .lines()
            .filter_map(|line| {
                let mut f = line.split(' ');
                let key = u64::from_str_radix(f.next()?, 16).ok()?;
                Some((key, (f.next()?.parse().ok()?, f.next()?.parse().ok()?)))
            })
            .collect();
        Ok(Remembered { path, _lock: lock, entries, changed: false })
    }

    fn active_name(&self) -> io::Result<Option<String>> {
        match fs::read_link(self.dir.join(ACTIVE)) {
            Ok(target) => Ok(target.to_str().and_then(|t| t.strip_suffix(SUFFIX)).map(str::to_string)),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::InvalidInput) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Points `.active` at `name`, replacing the link atomically.
    fn link(&self, name: &str) -> io::Result<()> {
        let tmp = self.dir.join(".active.tmp");
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("{name}{SUFFIX}"), &tmp)?;
        fs::rename(&tmp, self.dir.join(ACTIVE))?;
        fsutil::sync_dir(&self.dir)
    }
}

/// What a user's scripts remember between messages: vacation replies sent and duplicates
/// seen (RFC 5230 4.2, RFC 7352), kept in `sieve/.memory` as one `KEY RECORDED PERIOD` line
/// each (a 64-bit hash of the key, Unix seconds, seconds). Two deliveries to the same user
/// at once take turns through the lock, so neither loses the other's entry.
pub struct Remembered {
    path: PathBuf,
    _lock: Lock,
    entries: HashMap<u64, (u64, u64)>,
    changed: bool,
}

impl Remembered {
    /// True when `key` was recorded less than `period` seconds before `now`; otherwise
    /// records it at `now` (a reply's period starts when the reply goes).
    pub fn seen(&mut self, key: &str, period: u64, now: u64) -> bool {
        let hash = fnv1a(key.as_bytes());
        if let Some((recorded, _)) = self.entries.get(&hash)
            && now.saturating_sub(*recorded) < period
        {
            return true;
        }
        self.entries.insert(hash, (now, period));
        self.changed = true;
        false
    }

    /// Writes the entries back, leaving out the expired ones; releases the lock.
    pub fn save(self, now: u64) -> io::Result<()> {
        if !self.changed {
            return Ok(());
        }
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, (recorded, period))| recorded.saturating_add(*period) > now)
            .map(|(key, (recorded, period))| format!("{key:016x} {recorded} {period}\n"))
            .collect();
        lines.sort();
        fsutil::write_atomic(&self.path, lines.concat().as_bytes())
    }
}

/// FNV-1a: keys hold whole vacation texts, so they are kept as hashes, and 64 bits make a
/// collision (one reply too few) as unlikely as it needs to be for one user's senders.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn not_found(e: io::Error) -> ScriptError {
    if e.kind() == io::ErrorKind::NotFound { ScriptError::NotFound } else { ScriptError::Io(e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_list_activate_rename_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = Scripts::new(dir.path());
        assert!(s.list().unwrap().is_empty() && s.active().unwrap().is_none());
        s.put("mail", b"keep;\n").unwrap();
        s.put("away", b"vacation \"gone\";\n").unwrap();
        assert_eq!(s.list().unwrap(), [("away".to_string(), false), ("mail".to_string(), false)]);
        s.set_active(Some("mail")).unwrap();
        assert_eq!(s.active().unwrap(), Some(("mail".to_string(), b"keep;\n".to_vec())));
        assert!(matches!(s.delete("mail"), Err(ScriptError::Active)));
        assert!(matches!(s.rename("mail", "away"), Err(ScriptError::Exists)));
        assert!(matches!(s.rename("nope", "x"), Err(ScriptError::NotFound)));
        s.rename("mail", "rules").unwrap();
        assert_eq!(s.active().unwrap().unwrap().0, "rules", "the active script stays active");
        assert!(matches!(s.set_active(Some("nope")), Err(ScriptError::NotFound)));
        s.set_active(None).unwrap();
        s.set_active(None).unwrap();
        assert!(s.active().unwrap().is_none());
        s.delete("rules").unwrap();
        assert!(matches!(s.delete("rules"), Err(ScriptError::NotFound)));
        assert!(matches!(s.get("rules"), Err(ScriptError::NotFound)));
        assert_eq!(s.get("away").unwrap(), b"vacation \"gone\";\n");
        assert_eq!(s.count().unwrap(), 1);
    }

    #[test]
    fn memory_lasts_for_its_period_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let s = Scripts::new(dir.path());
        let mut m = s.remembered().unwrap();
        assert!(!m.seen("vacation\0gone\0alice@example.org", 100, 1000));
        assert!(m.seen("vacation\0gone\0alice@example.org", 100, 1050));
        assert!(!m.seen("vacation\0gone\0carol@example.org", 10, 1050));
        m.save(1050).unwrap();
        let mut m = s.remembered().unwrap();
        assert!(m.seen("vacation\0gone\0alice@example.org", 100, 1099));
        assert!(!m.seen("vacation\0gone\0alice@example.org", 100, 1100), "the period is over");
        m.save(1100).unwrap();
        // carol's entry expired at 1060 and is gone from the file.
        assert_eq!(fs::read_to_string(dir.path().join("sieve/.memory")).unwrap().lines().count(), 1);
        assert_eq!(s.list().unwrap(), [], "the memory is not a script");
    }
}
