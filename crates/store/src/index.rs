//! The per-mailbox index, `carrier-index`: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and one line
//! per message. It is text, so an administrator can read it:
//!
//! ```text
//! carrier-index 1
//! uidvalidity 1700000000
//! uidnext 3
//! highestmodseq 7
//! firstrecent 2
//! m 1 4 1520 1561 1700000000 c 1700000000.Q1.0.mx.example.com,S=1520:2,S
//! m 2 7 880 902 1700000100 n 1700000100.Q2.0.mx.example.com,S=880
//! end 2 9c1f0e5a3b7d2c41
//! ```
//!
//! A message line holds UID, MODSEQ, size on disk (LF line ends), RFC822.SIZE (CRLF line
//! ends, what IMAP and POP3 announce), internal date (Unix seconds), the directory (`n` new/,
//! `c` cur/) and the file name (last, so it may contain spaces). Flags are not duplicated: they
//! are the letters in the file name. The `end` line counts the messages and carries an FNV-1a
//! checksum of everything above it, so a torn or damaged file is recognised. The file is only
//! replaced whole (temporary file, fsync, rename, directory fsync) under the mailbox lock.

use crate::fsutil;
use std::io;
use std::path::Path;

/// The index file in a mailbox directory.
pub const INDEX_FILE: &str = "carrier-index";
/// The lock file serialising index updates of one mailbox across sessions and processes.
pub const LOCK_FILE: &str = "carrier-index.lock";
const MAGIC: &str = "carrier-index 1";

/// A mailbox's UID state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// RFC 3501 2.3.1.1: changes whenever UIDs cannot be kept.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// RFC 7162: the highest MODSEQ given out in this mailbox.
    pub highestmodseq: u64,
    /// Messages with this UID or above are \Recent for the next session that selects the mailbox.
    pub first_recent: u32,
    /// Messages in ascending UID order.
    pub entries: Vec<Entry>,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its UID.
    pub uid: u32,
    /// When its flags last changed.
    pub modseq: u64,
    /// Octets on disk.
    pub size: u64,
    /// Octets with CRLF line ends.
    pub vsize: u64,
    /// Internal date, Unix seconds.
    pub date: i64,
    /// In new/ (else cur/).
    pub new: bool,
    /// The file name, flags included.
    pub file: String,
}

/// What was found on disk.
#[derive(Debug)]
pub enum Loaded {
    /// A sound index.
    Sound(Index),
    /// No index file.
    Missing,
    /// An index that cannot be trusted; its UIDVALIDITY if that much was readable.
    Damaged {
        /// The old UIDVALIDITY, so the new one can differ from it.
        uidvalidity: Option<u32>,
        /// What is wrong, for the log.
        reason: String,
    },
}

impl Index {
    /// An empty index.
    pub fn new(uidvalidity: u32) -> Index {
        Index { uidvalidity, uidnext: 1, highestmodseq: 1, first_recent: 1, entries: Vec::new() }
    }

    /// Reads the index of the mailbox in `dir`.
    pub fn load(dir: &Path) -> io::Result<Loaded> {
        match std::fs::read(dir.join(INDEX_FILE)) {
            Ok(bytes) => Ok(match String::from_utf8(bytes) {
                Ok(text) => Index::parse(&text),
                Err(_) => Loaded::Damaged { uidvalidity: None, reason: "not UTF-8 text".into() },
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::Missing),
            Err(e) => Err(e),
        }
    }

    /// Writes the index durably (see the module documentation).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        fsutil::write_atomic(&dir.join(INDEX_FILE), self.serialize().as_bytes())
    }

    /// The file's text.
    pub fn serialize(&self) -> String {
        let mut out = format!(
            "{MAGIC}\nuidvalidity {}\nuidnext {}\nhighestmodseq {}\nfirstrecent {}\n",
            self.uidvalidity, self.uidnext, self.highestmodseq, self.first_recent
        );
        for e in &self.entries {
            let dir = if e.new { 'n' } else { 'c' };
            out.push_str(&format!("m {} {} {} {} {} {dir} {}\n", e.uid, e.modseq, e.size, e.vsize, e.date, e.file));
        }
        let sum = fnv1a(out.as_bytes());
        out.push_str(&format!("end {} {sum:016x}\n", self.entries.len()));
        out
    }

    /// Parses and checks the file's text.
    pub fn parse(text: &str) -> Loaded {
        let uidvalidity = header_value(text, "uidvalidity").and_then(|v| v.parse().ok());
        match parse_checked(text) {
            Ok(index) => Loaded::Sound(index),
            Err(reason) => Loaded::Damaged { uidvalidity, reason },
        }
    }

    /// The position of `uid`, if the message exists.
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.entries.binary_search_by_key(&uid, |e| e.uid).ok()
    }

    /// The next MODSEQ.
    pub fn bump(&mut self) -> u64 {
        self.highestmodseq += 1;
        self.highestmodseq
    }
}

fn header_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().take(6).find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
}

fn parse_checked(text: &str) -> Result<Index, String> {
    let body_end = text.rfind("end ").filter(|i| *i == 0 || text.as_bytes()[i - 1] == b'\n');
    let Some(body_end) = body_end else { return Err("no end line (torn write?)".into()) };
    let (body, end) = text.split_at(body_end);
    let mut end = end.trim_end_matches('\n').split(' ').skip(1);
    let count: usize = number(end.next(), "end count")?;
    let sum = end.next().and_then(|s| u64::from_str_radix(s, 16).ok()).ok_or("bad checksum field")?;
    if sum != fnv1a(body.as_bytes()) || !text.ends_with('\n') {
        return Err("checksum mismatch (torn or edited file)".into());
    }
    let mut lines = body.lines();
    if lines.next() != Some(MAGIC) {
        return Err(format!("first line is not `{MAGIC}`"));
    }
    let mut field = |key: &str| -> Result<u64, String> {
        let line = lines.next().unwrap_or("");
        number(line.strip_prefix(key).and_then(|v| v.strip_prefix(' ')), key)
    };
    let uidvalidity = u32::try_from(field("uidvalidity")?).map_err(|_| "uidvalidity out of range")?;
    let uidnext = u32::try_from(field("uidnext")?).map_err(|_| "uidnext out of range")?;
    let highestmodseq = field("highestmodseq")?;
    let first_recent = u32::try_from(field("firstrecent")?).map_err(|_| "firstrecent out of range")?;
    let entries = lines.map(entry).collect::<Result<Vec<_>, _>>()?;
    let index = Index { uidvalidity, uidnext, highestmodseq, first_recent, entries };
    validate(&index, count)?;
    Ok(index)
}

fn entry(line: &str) -> Result<Entry, String> {
    let mut f = line.splitn(8, ' ');
    if f.next() != Some("m") {
        return Err(format!("unexpected line {line:?}"));
    }
    let uid = number(f.next(), "uid")?;
    let modseq = number(f.next(), "modseq")?;
    let size = number(f.next(), "size")?;
    let vsize = number(f.next(), "vsize")?;
    let date = f.next().and_then(|d| d.parse().ok()).ok_or("bad date")?;
    let new = match f.next() {
        Some("n") => true,
        Some("c") => false,
        _ => return Err(format!("bad directory in {line:?}")),
    };
    let file = f.next().filter(|f| !f.is_empty()).ok_or("missing file name")?.to_string();
    Ok(Entry { uid, modseq, size, vsize, date, new, file })
}

fn number<T: std::str::FromStr>(field: Option<&str>, what: &str) -> Result<T, String> {
    field.and_then(|v| v.parse().ok()).ok_or_else(|| format!("bad {what}"))
}

/// The invariants every index keeps: UIDs ascending and below UIDNEXT, MODSEQs not above
/// HIGHESTMODSEQ.
fn validate(index: &Index, count: usize) -> Result<(), String> {
    if index.uidvalidity == 0 || index.uidnext == 0 || count != index.entries.len() {
        return Err("inconsistent header".into());
    }
    let mut last = 0;
    for e in &index.entries {
        if e.uid <= last || e.uid >= index.uidnext || e.modseq > index.highestmodseq {
            return Err(format!("message {} out of order or range", e.uid));
        }
        last = e.uid;
    }
    Ok(())
}

/// FNV-1a, 64 bits: enough to recognise torn or damaged files (not an integrity guarantee
/// against tampering, which nobody with write access to the mailbox needs).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Index {
        let mut index = Index::new(1_700_000_000);
        for (uid, file) in [(1, "1.a.host,S=10:2,S"), (3, "3.b.host,S=20 with space")] {
            index.entries.push(Entry {
                uid,
                modseq: uid as u64,
                size: 10 * uid as u64,
                vsize: 11 * uid as u64,
                date: 1_700_000_000 + uid as i64,
                new: uid == 3,
                file: file.into(),
            });
        }
        index.uidnext = 4;
        index.highestmodseq = 5;
        index
    }

    #[test]
    fn round_trip() {
        let index = sample();
        let text = index.serialize();
        assert!(text.starts_with("carrier-index 1\nuidvalidity 1700000000\nuidnext 4\n"), "{text}");
        assert!(text.contains("\nm 3 3 30 33 1700000003 n 3.b.host,S=20 with space\n"), "{text}");
        let Loaded::Sound(back) = Index::parse(&text) else { panic!() };
        assert_eq!(back, index);
        assert_eq!(back.position(3), Some(1));
        assert_eq!(back.position(2), None);
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Index::load(dir.path()).unwrap(), Loaded::Missing));
        sample().save(dir.path()).unwrap();
        assert!(matches!(Index::load(dir.path()).unwrap(), Loaded::Sound(i) if i == sample()));
    }

    fn damaged(text: &str) -> (Option<u32>, String) {
        match Index::parse(text) {
            Loaded::Damaged { uidvalidity, reason } => (uidvalidity, reason),
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn torn_and_damaged_files_are_recognised() {
        let text = sample().serialize();
        // Every truncation (a torn write) is refused, but the UIDVALIDITY is still read when present.
        for cut in 0..text.len() {
            let (uidvalidity, _) = damaged(&text[..cut]);
            if cut > text.find("uidnext").unwrap() {
                assert_eq!(uidvalidity, Some(1_700_000_000));
            }
        }
        // A flipped byte anywhere.
        let flipped = text.replacen("uidnext 4", "uidnext 5", 1);
        assert!(damaged(&flipped).1.contains("checksum"));
        // Out-of-order UIDs with a correct checksum (a buggy writer) are refused too.
        let mut bad = sample();
        bad.entries.swap(0, 1);
        assert!(damaged(&bad.serialize()).1.contains("out of order"));
        let mut bad = sample();
        bad.uidnext = 3;
        assert!(damaged(&bad.serialize()).1.contains("out of order"));
        assert!(damaged("garbage").1.contains("no end line"));
    }
}
