//! An open mailbox: its snapshot, message contents, flag changes, expunge, copy and move.
//!
//! Every operation takes the mailbox lock, syncs the index with the directories and works on
//! the fresh state, so sessions in this and other processes agree. The [`Snapshot`] a
//! `Mailbox` returns is the whole current state; an IMAP session keeps its own view (sequence
//! numbers) and diffs it: UIDs it has that the snapshot lacks were expunged, and messages
//! whose `modseq` is above the HIGHESTMODSEQ it last saw changed flags.
//!
//! All methods block (file I/O, fsync, flock): call them from `spawn_blocking`.

use crate::flags::{Flag, FlagOp, Flags, base_of};
use crate::index::Entry;
use crate::notify::Watch;
use crate::sync::{Destinations, Locked, Place};
use crate::{StoreError, files};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One message's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its UID (RFC 3501 2.3.1.1).
    pub uid: u32,
    /// Its flags (without \Recent).
    pub flags: Flags,
    /// RFC 7162 MODSEQ: when its flags last changed.
    pub modseq: u64,
    /// Octets on disk (LF line ends).
    pub size: u64,
    /// RFC822.SIZE: octets with CRLF line ends, as IMAP FETCH and POP3 LIST announce.
    pub rfc822_size: u64,
    /// INTERNALDATE (the file's modification time, as Dovecot keeps it).
    pub internal_date: SystemTime,
    /// \Recent for this session.
    pub recent: bool,
    /// The file, relative to the mailbox directory (`cur/...` or `new/...`).
    pub file: PathBuf,
}

/// A mailbox's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT.
    pub uidnext: u32,
    /// HIGHESTMODSEQ (RFC 7162).
    pub highestmodseq: u64,
    /// The keywords defined in this mailbox (for the FLAGS response).
    pub keywords: Vec<String>,
    /// Whether new keywords can still be created (PERMANENTFLAGS `\*`).
    pub can_create_keywords: bool,
    /// The messages, in ascending UID order.
    pub messages: Vec<Message>,
}

impl Snapshot {
    /// The message with `uid`.
    pub fn get(&self, uid: u32) -> Option<&Message> {
        self.position(uid).map(|i| &self.messages[i])
    }

    /// The index of `uid` in `messages` (its sequence number minus one).
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }
}

/// How a mailbox is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// SELECT, POP3: messages in new/ move to cur/ and new messages are \Recent for this session.
    ReadWrite,
    /// EXAMINE, STATUS: nothing changes but the index's UIDs; unclaimed \Recent messages are
    /// shown as recent and stay so for the next ReadWrite session.
    ReadOnly,
}

/// Result of a STORE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Every requested message that exists: (UID, flags now, MODSEQ now).
    pub messages: Vec<(u32, Flags, u64)>,
    /// RFC 7162 3.1.3: messages left alone because they changed after UNCHANGEDSINCE.
    pub modified: Vec<u32>,
}

/// RFC 4315 COPYUID: the destination's UIDVALIDITY and (source UID, new UID) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyUid {
    /// The destination's UIDVALIDITY.
    pub uidvalidity: u32,
    /// Source and destination UIDs, in ascending source order.
    pub uids: Vec<(u32, u32)>,
}

/// An open mailbox.
pub struct Mailbox {
    /// The account's mailboxes, for COPY and MOVE.
    account: Box<dyn Destinations>,
    name: String,
    place: Place,
    access: Access,
    recent: BTreeSet<u32>,
    snapshot: Snapshot,
}

impl Mailbox {
    pub(crate) fn open(
        account: Box<dyn Destinations>,
        name: String,
        place: Place,
        access: Access,
    ) -> Result<Mailbox, StoreError> {
        let empty = Snapshot {
            uidvalidity: 0,
            uidnext: 1,
            highestmodseq: 0,
            keywords: Vec::new(),
            can_create_keywords: true,
            messages: Vec::new(),
        };
        let mut mailbox = Mailbox { account, name, place, access, recent: BTreeSet::new(), snapshot: empty };
        mailbox.sync()?;
        Ok(mailbox)
    }

    /// The mailbox's canonical name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it was opened.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The state as of the last operation.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Notified whenever a session or delivery in this process changes the mailbox.
    pub fn watch(&self) -> Watch {
        self.place.registry.watch(&self.place.dir)
    }

    /// Rescans the mailbox (new deliveries, changes by other sessions and programs).
    pub fn sync(&mut self) -> Result<&Snapshot, StoreError> {
        let locked = self.lock()?;
        self.finish(locked)?;
        Ok(&self.snapshot)
    }

    /// Takes the lock and syncs; a ReadWrite session claims new messages as \Recent.
    fn lock(&mut self) -> Result<Locked, StoreError> {
        let mut locked = Locked::acquire(&self.place).map_err(|e| self.gone(e))?;
        let write = self.access == Access::ReadWrite;
        locked.sync(write)?;
        if write {
            self.recent.extend(locked.claim_recent());
        }
        Ok(locked)
    }

    /// A mailbox deleted under an open session reads as NONEXISTENT.
    fn gone(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Io(io) if io.kind() == io::ErrorKind::NotFound => StoreError::NoSuchMailbox(self.name.clone()),
            e => e,
        }
    }

    /// Builds the snapshot from the locked index, then saves and unlocks.
    fn finish(&mut self, locked: Locked) -> Result<(), StoreError> {
        let index = &locked.index;
        self.recent.retain(|uid| index.position(*uid).is_some());
        let messages = index
            .entries
            .iter()
            .map(|e| Message {
                uid: e.uid,
                flags: locked.flags_of(e),
                modseq: e.modseq,
                size: e.size,
                rfc822_size: e.vsize,
                internal_date: from_unix(e.date),
                // RFC 3501 6.3.2: EXAMINE sees \Recent but must not take it.
                recent: self.recent.contains(&e.uid)
                    || (self.access == Access::ReadOnly && e.uid >= index.first_recent),
                file: PathBuf::from(if e.new { "new" } else { "cur" }).join(&e.file),
            })
            .collect();
        let keywords = locked.keywords.names();
        self.snapshot = Snapshot {
            uidvalidity: index.uidvalidity,
            uidnext: index.uidnext,
            highestmodseq: index.highestmodseq,
            can_create_keywords: keywords.len() < crate::flags::MAX_KEYWORDS,
            keywords,
            messages,
        };
        locked.finish()
    }

    /// A message's content as stored (LF line ends; `carrier_syntax::lines::to_crlf` gives the wire form).
    pub fn read(&mut self, uid: u32) -> Result<Vec<u8>, StoreError> {
        self.read_with(uid, read_sized)
    }

    /// A message's header as stored, up to and including the blank line that ends it (the
    /// whole message if it has none). Reads only as far as that line, so a client listing
    /// subjects does not read every attachment.
    pub fn read_header(&mut self, uid: u32) -> Result<Vec<u8>, StoreError> {
        self.read_with(uid, read_header)
    }

    fn read_with(
        &mut self,
        uid: u32,
        read: impl Fn(&std::path::Path, u64) -> io::Result<Vec<u8>>,
    ) -> Result<Vec<u8>, StoreError> {
        for attempt in 0..2 {
            let Some(m) = self.snapshot.get(uid) else { return Err(StoreError::Expunged(uid)) };
            match read(&self.place.dir.join(&m.file), m.size) {
                Ok(bytes) => return Ok(bytes),
                // Renamed by a flag change elsewhere, or expunged: look again once.
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt == 0 => {
                    self.sync()?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Expunged(uid))
    }

    /// Changes flags (IMAP STORE, RFC 3501 6.4.6; UNCHANGEDSINCE, RFC 7162 3.1.3). UIDs that
    /// no longer exist are ignored, as STORE does.
    pub fn store(
        &mut self,
        uids: &[u32],
        op: FlagOp,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Stored, StoreError> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly);
        }
        let mut locked = self.lock()?;
        let flags = &locked.keywords.canonicalize(flags);
        let mut out = Stored::default();
        let mut renames = Vec::new();
        for &uid in uids {
            let Some(i) = locked.index.position(uid) else { continue };
            let e = &locked.index.entries[i];
            if unchanged_since.is_some_and(|m| e.modseq > m) {
                out.modified.push(uid);
                continue;
            }
            let now = locked.flags_of(e);
            let wanted = now.apply(op, flags);
            if wanted == now {
                out.messages.push((uid, now, e.modseq));
                continue;
            }
            let old_info = crate::flags::info_of(&e.file).to_string();
            let info = crate::flags::to_info(&wanted, &old_info, &mut locked.keywords)?;
            renames.push((i, format!("{}:2,{info}", base_of(&e.file))));
        }
        // The keyword table first: a file name must never use a letter the table lacks.
        locked.keywords.save()?;
        let cur = self.place.dir.join("cur");
        for (i, target) in renames {
            let from = locked.path(&locked.index.entries[i]);
            match fs::rename(&from, cur.join(&target)) {
                Ok(()) => {}
                // Expunged by another program this instant: the next sync sees it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
            let modseq = locked.index.bump();
            let e = &mut locked.index.entries[i];
            (e.file, e.new, e.modseq) = (target, false, modseq);
            let (uid, flags) = (e.uid, locked.flags_of(&locked.index.entries[i]));
            out.messages.push((uid, flags, modseq));
            locked.touched();
        }
        out.messages.sort_by_key(|m| m.0);
        self.finish(locked)?;
        Ok(out)
    }

    /// Removes messages for good (POP3 DELE at QUIT, MOVE); returns the UIDs removed.
    pub fn expunge(&mut self, uids: &[u32]) -> Result<Vec<u32>, StoreError> {
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        self.remove(|_, e| wanted.contains(&e.uid))
    }

    /// IMAP EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): removes the messages
    /// flagged \Deleted, only those in `uids` when given. The flag is read under the lock,
    /// so a message another session undeleted a moment ago stays.
    pub fn expunge_deleted(&mut self, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError> {
        let within: Option<BTreeSet<u32>> = uids.map(|u| u.iter().copied().collect());
        self.remove(|locked, e| {
            within.as_ref().is_none_or(|w| w.contains(&e.uid)) && locked.flags_of(e).contains(&Flag::Deleted)
        })
    }

    /// Removes the messages `pick` chooses, under the lock; returns their UIDs.
    fn remove(&mut self, pick: impl Fn(&Locked, &Entry) -> bool) -> Result<Vec<u32>, StoreError> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly);
        }
        let mut locked = self.lock()?;
        let doomed: BTreeSet<u32> = locked.index.entries.iter().filter(|e| pick(&locked, e)).map(|e| e.uid).collect();
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(locked.index.entries.len());
        for e in std::mem::take(&mut locked.index.entries) {
            if !doomed.contains(&e.uid) {
                kept.push(e);
                continue;
            }
            match fs::remove_file(locked.path(&e)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    locked.index.entries = kept.into_iter().chain([e]).collect();
                    return Err(err.into());
                }
            }
            removed.push(e.uid);
        }
        locked.index.entries = kept;
        locked.index.entries.sort_by_key(|e| e.uid);
        if !removed.is_empty() {
            // Durable, so a crash cannot bring expunged messages back.
            for sub in ["cur", "new"] {
                crate::fsutil::sync_dir(&self.place.dir.join(sub))?;
            }
            locked.index.bump();
            locked.touched();
        }
        self.finish(locked)?;
        Ok(removed)
    }

    /// Copies messages into another mailbox, keeping flags and internal dates (RFC 3501
    /// 6.4.7); the result is what UIDPLUS COPYUID reports. Either all are copied or none.
    pub fn copy_to(&mut self, uids: &[u32], destination: &str) -> Result<CopyUid, StoreError> {
        self.sync()?;
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        let mut sources = Vec::new();
        for uid in &wanted {
            let m = self.snapshot.get(*uid).ok_or(StoreError::Expunged(*uid))?;
            sources.push((m.uid, self.place.dir.join(&m.file), m.flags.clone(), m.size, m.rfc822_size));
        }
        let dest = self.account.place_of(destination)?;
        let total: u64 = sources.iter().map(|s| s.3).sum();
        self.account.check_quota(total, sources.len() as u64)?;
        let mut staged = files::Staged::new(&dest.dir);
        for (uid, path, _, size, vsize) in &sources {
            staged.link(&self.place.host, path, *size, *vsize).map_err(|e| match e {
                StoreError::Io(io) if io.kind() == io::ErrorKind::NotFound => StoreError::Expunged(*uid),
                e => e,
            })?;
        }
        let flags: Vec<Flags> = sources.iter().map(|s| s.2.clone()).collect();
        let (uidvalidity, new_uids) = staged.commit(&dest, &flags)?;
        Ok(CopyUid { uidvalidity, uids: wanted.into_iter().zip(new_uids).collect() })
    }

    /// Moves messages (RFC 6851): copies them, then expunges them here.
    pub fn move_to(&mut self, uids: &[u32], destination: &str) -> Result<CopyUid, StoreError> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly);
        }
        let copied = self.copy_to(uids, destination)?;
        let sources: Vec<u32> = copied.uids.iter().map(|(s, _)| *s).collect();
        self.expunge(&sources)?;
        Ok(copied)
    }
}

fn from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Up to this size a message is read whole (one read call) and cut: cheaper than reading it
/// in pieces.
const READ_WHOLE_BELOW: u64 = 64 * 1024;

/// The first bytes of the file up to and including its first empty line (`\n` or `\r\n`
/// alone, RFC 5322 2.1); the whole file if it has no empty line. A large file (by its indexed
/// `size`) is read in growing chunks until that line.
fn read_header(path: &std::path::Path, size: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    if size < READ_WHOLE_BELOW {
        let mut msg = read_sized(path, size)?;
        msg.truncate(header_end(&msg, 0).unwrap_or(msg.len()));
        return Ok(msg);
    }
    let mut file = fs::File::open(path)?;
    let mut buf = Vec::new();
    let mut chunk = 16 * 1024;
    loop {
        let start = buf.len();
        let got = (&mut file).take(chunk as u64).read_to_end(&mut buf)?;
        // Look again from the start of the last line read before, which may end here.
        let from = buf[..start].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if let Some(end) = header_end(&buf, from) {
            buf.truncate(end);
            return Ok(buf);
        }
        if got < chunk {
            return Ok(buf);
        }
        chunk *= 2;
    }
}

/// Where the header ends: just after the first line that is empty, looking at lines that
/// start at or after `from` (a line start).
fn header_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut line = from;
    while let Some(lf) = bytes[line..].iter().position(|&b| b == b'\n') {
        let end = line + lf + 1;
        if matches!(&bytes[line..end], b"\n" | b"\r\n") {
            return Some(end);
        }
        line = end;
    }
    None
}

/// Reads a file whose size the index already knows: one `read` of that size plus one octet
/// says it is all there (a regular file gives everything up to the end in one read), so a
/// FETCH or RETR costs open, read and close instead of also a stat and a second read. A file
/// changed since it was indexed is simply read to its end.
fn read_sized(path: &std::path::Path, size: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut buf = vec![0u8; size as usize + 1];
    let mut filled = 0;
    loop {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if filled == buf.len() {
            // Larger than indexed: read the rest.
            file.read_to_end(&mut buf)?;
            return Ok(buf);
        }
        if filled as u64 >= size {
            break;
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod read_tests {
    use super::{read_header, read_sized};

    #[test]
    fn a_header_read_stops_at_the_first_empty_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let big_field = format!("X-Long: {}\n", "a".repeat(40_000)); // past the first 16 KiB chunk
        let attachment = "b".repeat(1_000_000);
        for (header, rest) in [
            ("Subject: x\n\n".to_string(), format!("body\n\n{attachment}")),
            ("Subject: x\r\nTo: y\r\n\r\n".to_string(), format!("body\r\n{attachment}")),
            ("\n".to_string(), "no header at all\n".to_string()),
            (format!("Subject: x\n{big_field}\n"), attachment.clone()),
            // The blank line straddles the first chunk boundary.
            (format!("X-Pad: {}\n\n", "p".repeat(16 * 1024 - 9)), "body\n".into()),
            (format!("X-Pad: {}\n\r\n", "p".repeat(16 * 1024 - 9)), "body\n".into()),
        ] {
            std::fs::write(&path, format!("{header}{rest}")).unwrap();
            // Both ways: read whole and cut (small by the index), and read in chunks.
            for indexed in [0, 1 << 20] {
                let got = read_header(&path, indexed).unwrap();
                assert_eq!(got.len(), header.len(), "{:?}", &header[..header.len().min(40)]);
                assert_eq!(got, header.as_bytes());
            }
        }
        // Without an empty line the whole message is header.
        for whole in ["Subject: only a header\n".to_string(), format!("X-Big: {}\n", "c".repeat(70_000)), String::new()]
        {
            std::fs::write(&path, &whole).unwrap();
            for indexed in [0, 1 << 20] {
                assert_eq!(read_header(&path, indexed).unwrap(), whole.as_bytes());
            }
        }
        // A line of spaces is not empty (RFC 5322 2.1: the header ends at an empty line).
        std::fs::write(&path, "Subject: x\n \nTo: y\n\nbody").unwrap();
        assert_eq!(read_header(&path, 30).unwrap(), b"Subject: x\n \nTo: y\n\n");
        assert!(read_header(&dir.path().join("gone"), 1 << 20).is_err());
    }

    #[test]
    fn a_sized_read_gets_the_whole_file_whatever_the_index_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, b"Subject: x\n\nbody\n").unwrap();
        for indexed in [17, 5, 100, 0] {
            assert_eq!(read_sized(&path, indexed).unwrap(), b"Subject: x\n\nbody\n", "indexed size {indexed}");
        }
        assert!(read_sized(&dir.path().join("gone"), 3).is_err());
    }
}
