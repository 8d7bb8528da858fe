//! UIDVALIDITY values that never repeat within an account.
//!
//! RFC 3501 2.3.1.1: a mailbox whose UIDs cannot be kept (its index was lost, or it was
//! deleted and created again) must get a new UIDVALIDITY, different from every earlier one
//! of that name, so clients drop what they cached. The value is the current time in seconds
//! (as Dovecot does), but at least one more than the last value handed out in the account,
//! which `carrier-uidvalidity` in the account's Maildir remembers.

use crate::fsutil::{self, Lock};
use std::io;
use std::path::Path;
use std::time::SystemTime;

const COUNTER_FILE: &str = "carrier-uidvalidity";
const COUNTER_LOCK: &str = "carrier-uidvalidity.lock";

/// A new UIDVALIDITY for a mailbox of the account in `root`, above `old` when one is known.
/// Its lock is taken last and alone, so it cannot deadlock with mailbox locks.
pub fn next(root: &Path, old: Option<u32>) -> io::Result<u32> {
    let _lock = Lock::exclusive(&root.join(COUNTER_LOCK))?;
    let path = root.join(COUNTER_FILE);
    let last: u32 = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().unwrap_or(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_secs());
    let now = u32::try_from(now).unwrap_or(u32::MAX);
    let floor = last.max(old.unwrap_or(0)).saturating_add(1);
    let value = now.max(floor);
    fsutil::write_atomic(&path, format!("{value}\n").as_bytes())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_increase_and_pass_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = next(dir.path(), None).unwrap();
        let b = next(dir.path(), None).unwrap();
        assert!(b > a);
        let far = u32::MAX - 10;
        assert_eq!(next(dir.path(), Some(far)).unwrap(), far + 1);
        assert_eq!(next(dir.path(), None).unwrap(), far + 2);
        // A damaged counter file does not stop anything: the time still gives a value.
        std::fs::write(dir.path().join(COUNTER_FILE), "garbage").unwrap();
        assert!(next(dir.path(), None).unwrap() >= a);
    }
}
