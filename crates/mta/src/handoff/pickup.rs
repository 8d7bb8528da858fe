//! The pickup directory `data_dir/pickup`: where `sendmail` leaves a message when the daemon
//! is not running (sendmail's clientmqueue, Postfix's maildrop), and where the daemon takes
//! it from when it starts and every few seconds after. This module is the directory's
//! format, written by `sendmail` and read by the daemon's pickup task.
//!
//! The directory is mode 3730 (owner the daemon's user; group members may create files but
//! not list, read or remove others'; nobody else may enter), like Postfix's maildrop. It is
//! set-group-id, so every file gets the daemon's group and the daemon can read it. A file
//! is written as `.tmp.*`, fsynced, renamed to its final name and the directory fsynced, so
//! `sendmail` exits 0 only when the message is durable and the daemon never reads half a file.

use super::Submission;
use crate::sysexits::{self, Failure};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tracing::warn;

/// The directory's mode: rwx for the daemon, -wx for the mail group, set-group-id, sticky.
pub const MODE: u32 = 0o3730;
/// A `.tmp.*` file older than this was abandoned by a killed `sendmail`.
const STALE: Duration = Duration::from_secs(24 * 3600);

/// Where the directory is.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pickup")
}

/// Creates the directory if needed and sets its mode (the daemon, at start).
pub fn create(data_dir: &Path) -> io::Result<()> {
    let dir = dir(data_dir);
    fs::DirBuilder::new().recursive(true).mode(MODE).create(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(MODE))
}

/// Writes a submission durably; returns the file's name.
pub fn write(data_dir: &Path, sub: &Submission) -> Result<String, Failure> {
    let dir = dir(data_dir);
    let unique = unique_name();
    let tmp = dir.join(format!(".tmp.{unique}"));
    let file = OpenOptions::new().write(true).create_new(true).mode(0o640).open(&tmp);
    let mut file = file.map_err(|e| cannot_create(&dir, &e))?;
    let done = file
        .write_all(&sub.encode())
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, dir.join(&unique)))
        .and_then(|()| File::open(&dir)?.sync_all());
    if let Err(e) = done {
        // Nothing half-written stays behind: the daemon would never take a .tmp file, but it
        // would take a renamed one whose directory entry was not yet durable.
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(dir.join(&unique));
        let code = if sysexits::disk_full(&e) { sysexits::TEMPFAIL } else { sysexits::IOERR };
        return Err(Failure::new(code, format!("cannot write the message into {}: {e}", dir.display())));
    }
    Ok(unique)
}

fn cannot_create(dir: &Path, e: &io::Error) -> Failure {
    let fix = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            " (only the carrier user and members of its group may write there: add this user to that group, \
             or start the daemon with `carrier serve` so mail is handed to it directly)"
        }
        io::ErrorKind::NotFound => " (it is created by `carrier serve` or `carrier init`; run one of them once)",
        _ if sysexits::disk_full(e) => " (the disk is full; free some space)",
        _ => "",
    };
    let code = if sysexits::disk_full(e) { sysexits::TEMPFAIL } else { sysexits::CANTCREAT };
    Failure::new(code, format!("the message cannot be left in the pickup directory {}: {e}{fix}", dir.display()))
}

/// Time, process and randomness: unique across processes and restarts.
fn unique_name() -> String {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let mut random = [0u8; 8];
    // SAFETY: getrandom writes at most the given length into the buffer.
    let _ = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    format!("{}.{:06}.{}.{:016x}", now.as_secs(), now.subsec_micros(), std::process::id(), u64::from_ne_bytes(random))
}

/// Every name in the directory, oldest first (names start with the time), `.tmp.*` and
/// `.bad.*` included.
pub fn names(data_dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> =
        fs::read_dir(dir(data_dir))?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    Ok(names)
}

/// The submissions waiting in the directory (oldest first) with their file names, each
/// read only up to `max` octets as the daemon reads them; what cannot be read or decoded is
/// left out (the daemon sets it aside when it starts).
pub fn waiting(data_dir: &Path, max: u64) -> io::Result<Vec<(String, Submission)>> {
    let names = match names(data_dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let readable = |name: &String| {
        let (bytes, _) = read(&dir(data_dir).join(name), max).ok()?;
        Some((name.clone(), Submission::decode(&bytes).ok()?))
    };
    Ok(names.iter().filter(|n| !n.starts_with('.')).filter_map(readable).collect())
}

/// Reads a file as the daemon's user; its owner is the submitting user. Symbolic links,
/// hard links and oversized files are refused: a group member must not make the daemon read
/// files that are not theirs.
pub fn read(path: &Path, max: u64) -> io::Result<(Vec<u8>, u32)> {
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(io::Error::other("not a plain file with one link"));
    }
    if meta.len() > max {
        return Err(io::Error::other(format!("{} octets is more than smtp.max_message_size allows", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok((bytes, meta.uid()))
}

/// Renames a file that cannot be taken in to `.bad.NAME` (kept for the administrator).
pub fn set_aside(path: &Path, name: &str, why: &str) {
    let aside = path.with_file_name(format!(".bad.{name}"));
    match fs::rename(path, &aside) {
        Ok(()) => warn!("pickup: {name} {why}; moved to {}", aside.display()),
        Err(e) => warn!("pickup: {name} {why}; and it cannot be moved aside: {e}"),
    }
}

pub fn remove_if_stale(path: &Path) {
    let old =
        fs::symlink_metadata(path).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE);
    if old {
        let _ = fs::remove_file(path);
    }
}
