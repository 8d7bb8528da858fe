//! Reconciling a mailbox's index with its directories, under the mailbox lock.
//!
//! The files are the truth: a file whose base name the index does not know is a new message
//! (delivered by carrier or by another program) and gets the next UID, in arrival order
//! (modification time, then name); an index entry whose file is gone was expunged (by a
//! session, or by mutt); a file whose flag letters changed had its flags changed. Every such
//! change gets a new MODSEQ. A missing or damaged index is rebuilt with a new UIDVALIDITY,
//! because the old UIDs cannot be known any more (RFC 3501 2.3.1.1).

use crate::flags::{self, Keywords, base_of, info_of};
use crate::fsutil::{self, Lock};
use crate::index::{Entry, INDEX_FILE, Index, LOCK_FILE, Loaded};
use crate::notify::Registry;
use crate::{StoreError, uidvalidity};
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tracing::warn;

/// Where a mailbox lives, and whom to tell about its changes.
#[derive(Debug, Clone)]
pub struct Place {
    /// The mailbox's Maildir.
    pub dir: PathBuf,
    /// The account's Maildir (INBOX), which holds the UIDVALIDITY counter.
    pub root: PathBuf,
    /// In-process change notification.
    pub registry: Arc<Registry>,
    /// Our host name, for new file names (escaped as the Maildir spec asks).
    pub host: String,
}

/// What an open mailbox needs of its account to copy into another mailbox: where that one
/// lives, and room under the quota. (The account implements it; the mailbox does not know
/// the account's type.)
pub(crate) trait Destinations: Send + Sync {
    /// Where an existing mailbox lives.
    fn place_of(&self, name: &str) -> Result<Place, StoreError>;
    /// Refuses to add `octets` in `messages` messages when that would pass the account's
    /// quota.
    fn check_quota(&self, octets: u64, messages: u64) -> Result<(), StoreError>;
}

/// A mailbox whose lock is held, with its index and keyword table loaded.
pub struct Locked {
    place: Place,
    _lock: Lock,
    /// The index, as it will be saved.
    pub index: Index,
    /// The keyword letters.
    pub keywords: Keywords,
    /// The index must be written.
    dirty: bool,
    /// Other sessions must be told.
    visible: bool,
}

impl Locked {
    /// Takes the mailbox lock and loads the index (a fresh one if it is missing or damaged).
    pub fn acquire(place: &Place) -> Result<Locked, StoreError> {
        if !place.dir.join("cur").is_dir() {
            return Err(StoreError::Io(io::Error::new(io::ErrorKind::NotFound, "mailbox directory is gone")));
        }
        let lock = Lock::exclusive(&place.dir.join(LOCK_FILE))?;
        let (index, dirty) = match Index::load(&place.dir)? {
            Loaded::Sound(index) => (index, false),
            Loaded::Missing => (Index::new(uidvalidity::next(&place.root, None)?), true),
            Loaded::Damaged { uidvalidity: old, reason } => {
                let fresh = uidvalidity::next(&place.root, old)?;
                warn!(
                    "mailbox index {} is damaged ({reason}); rebuilt with UIDVALIDITY {fresh}: mail clients will \
                     download the messages' headers again, nothing is lost",
                    place.dir.join(INDEX_FILE).display()
                );
                (Index::new(fresh), true)
            }
        };
        let keywords = Keywords::load(&place.dir)?;
        Ok(Locked { place: place.clone(), _lock: lock, index, keywords, dirty, visible: false })
    }

    /// The path of an entry's file.
    pub fn path(&self, e: &Entry) -> PathBuf {
        self.place.dir.join(if e.new { "new" } else { "cur" }).join(&e.file)
    }

    /// Marks the index changed in a way other sessions must learn about.
    pub fn touched(&mut self) {
        self.dirty = true;
        self.visible = true;
    }

    /// Rescans new/ and cur/ (see the module documentation); with `move_new`, messages in
    /// new/ move to cur/ because a session has now seen them.
    pub fn sync(&mut self, move_new: bool) -> io::Result<()> {
        let mut found = scan(&self.place.dir)?;
        let mut expunged = false;
        let entries = std::mem::take(&mut self.index.entries);
        for mut e in entries {
            let Some((new, file)) = found.remove(base_of(&e.file)) else {
                expunged = true;
                continue;
            };
            if file != e.file || new != e.new {
                if letters(info_of(&file)) != letters(info_of(&e.file)) {
                    e.modseq = self.index.bump();
                    self.visible = true;
                }
                (e.file, e.new) = (file, new);
                self.dirty = true;
            }
            self.index.entries.push(e);
        }
        if expunged {
            self.index.bump();
            self.touched();
        }
        self.add_new(found)?;
        if move_new {
            self.move_new_to_cur();
        }
        Ok(())
    }

    /// Gives UIDs to files the index does not know, oldest first.
    fn add_new(&mut self, found: HashMap<String, (bool, String)>) -> io::Result<()> {
        let mut fresh = Vec::new();
        for (new, file) in found.into_values() {
            let path = self.place.dir.join(if new { "new" } else { "cur" }).join(&file);
            let meta = match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // gone meanwhile
                Err(e) => return Err(e),
            };
            let date = meta.modified().ok().map_or(0, unix_seconds);
            let vsize = match crlf_size(&path, &file, meta.len()) {
                Ok(v) => v,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            fresh.push(Entry { uid: 0, modseq: 0, size: meta.len(), vsize, date, new, file });
        }
        fresh.sort_by(|a, b| (a.date, &a.file).cmp(&(b.date, &b.file)));
        for mut e in fresh {
            e.uid = self.index.uidnext;
            self.index.uidnext += 1;
            e.modseq = self.index.bump();
            self.index.entries.push(e);
            self.touched();
        }
        Ok(())
    }

    fn move_new_to_cur(&mut self) {
        for i in 0..self.index.entries.len() {
            let e = &self.index.entries[i];
            if !e.new {
                continue;
            }
            let target = if e.file.contains(':') { e.file.clone() } else { format!("{}:2,", e.file) };
            let from = self.path(e);
            // Another program may have moved it first; the next sync finds it in cur/.
            if fs::rename(&from, self.place.dir.join("cur").join(&target)).is_ok() {
                let e = &mut self.index.entries[i];
                (e.file, e.new) = (target, false);
                self.dirty = true;
            }
        }
    }

    /// Marks the messages at or above `first_recent` as seen by a session (RFC 3501 \Recent);
    /// returns their UIDs.
    pub fn claim_recent(&mut self) -> Vec<u32> {
        let first = self.index.first_recent;
        if first == self.index.uidnext {
            return Vec::new();
        }
        self.index.first_recent = self.index.uidnext;
        self.dirty = true;
        self.index.entries.iter().map(|e| e.uid).filter(|uid| *uid >= first).collect()
    }

    /// Moves finished files from tmp/ into cur/ with their flags and registers them; returns
    /// their UIDs in the same order. `files` are (path in tmp/, base name, flag letters).
    pub fn insert(&mut self, files: &[(PathBuf, String, String)]) -> Result<Vec<u32>, StoreError> {
        let cur = self.place.dir.join("cur");
        for (tmp, base, info) in files {
            fs::rename(tmp, cur.join(format!("{base}:2,{info}")))?;
        }
        fsutil::sync_dir(&cur)?;
        self.sync(false)?;
        let uids = files
            .iter()
            .map(|(_, base, _)| self.index.entries.iter().rev().find(|e| base_of(&e.file) == base).map(|e| e.uid))
            .collect::<Option<Vec<u32>>>();
        // Only another program removing the file within this very moment makes one go missing.
        uids.ok_or_else(|| StoreError::Io(io::Error::new(io::ErrorKind::NotFound, "a new message vanished at once")))
    }

    /// The flags of an entry.
    pub fn flags_of(&self, e: &Entry) -> flags::Flags {
        flags::from_info(info_of(&e.file), &self.keywords)
    }

    /// Saves the index if it changed and tells watchers; releases the lock.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.keywords.save()?;
        if self.dirty {
            self.index.save(&self.place.dir)?;
        }
        if self.visible {
            self.place.registry.changed(&self.place.dir);
        }
        Ok(())
    }
}

/// Flag letters as a set, so a reordering by another program is no change.
fn letters(info: &str) -> BTreeSet<char> {
    info.chars().collect()
}

/// The message files in new/ and cur/ by base name. A base name in both (a copy left by a
/// crashed program) counts once, from cur/.
fn scan(dir: &Path) -> io::Result<HashMap<String, (bool, String)>> {
    let mut found = HashMap::new();
    for (sub, new) in [("new", true), ("cur", false)] {
        for file in fsutil::names_in(&dir.join(sub))? {
            // Dot files are not messages (Maildir spec); a newline could not be indexed.
            if file.starts_with('.') || file.contains('\n') {
                continue;
            }
            found.insert(base_of(&file).to_string(), (new, file));
        }
    }
    Ok(found)
}

/// The size with CRLF line ends: from a `,W=` field in the name (Dovecot writes one), else
/// by counting the line feeds not already preceded by CR.
fn crlf_size(path: &Path, file: &str, size: u64) -> io::Result<u64> {
    let w = base_of(file).split(',').find_map(|f| f.strip_prefix("W=")?.parse().ok());
    if let Some(w) = w {
        return Ok(w);
    }
    let mut reader = fs::File::open(path)?;
    let mut buf = [0u8; 64 * 1024];
    let (mut extra, mut prev) = (0u64, 0u8);
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(size + extra);
        }
        extra += carrier_syntax::lines::bare_lfs(&buf[..n], &mut prev);
    }
}

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}
