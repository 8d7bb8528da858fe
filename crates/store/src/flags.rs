//! Message flags, and how they are written in Maildir file names.
//!
//! The Maildir spec (cr.yp.to/proto/maildir.html) puts flags after `:2,` in the file name,
//! in ASCII order: `D` draft, `F` flagged, `P` passed, `R` replied (\Answered), `S` seen,
//! `T` trashed (\Deleted). Keywords are the lower-case letters `a`-`z`, mapped to names by the
//! mailbox's `dovecot-keywords` file (`0 $Forwarded` means `a`), exactly as Dovecot does, so
//! mutt, s-nail and Dovecot read the same state. That allows 26 keywords per mailbox.

use crate::StoreError;
use crate::fsutil;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// A message flag (RFC 3501 2.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// A keyword such as `$Forwarded` or `Junk`.
    Keyword(String),
}

/// The system flags with their Maildir letters.
const SYSTEM: [(Flag, &str, char); 5] = [
    (Flag::Draft, "\\Draft", 'D'),
    (Flag::Flagged, "\\Flagged", 'F'),
    (Flag::Answered, "\\Answered", 'R'),
    (Flag::Seen, "\\Seen", 'S'),
    (Flag::Deleted, "\\Deleted", 'T'),
];

/// How many keywords one mailbox can have: the letters a-z.
pub const MAX_KEYWORDS: usize = 26;

impl Flag {
    /// Parses a flag as IMAP writes it: `\Seen` (any case) or a keyword atom.
    pub fn parse(text: &str) -> Result<Flag, StoreError> {
        if let Some((flag, _, _)) = SYSTEM.iter().find(|(_, name, _)| name.eq_ignore_ascii_case(text)) {
            return Ok(flag.clone());
        }
        let invalid = |reason: &'static str| StoreError::InvalidFlag { flag: text.to_string(), reason };
        if text.eq_ignore_ascii_case("\\Recent") {
            return Err(invalid("\\Recent is set by the server and cannot be stored"));
        }
        if text.starts_with('\\') {
            return Err(invalid("unknown system flag (only \\Seen \\Answered \\Flagged \\Deleted \\Draft)"));
        }
        // RFC 3501 9: flag-keyword = atom; no specials, controls, spaces or 8-bit.
        let atom = |b: u8| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b);
        if text.is_empty() || text.len() > 100 || !text.bytes().all(atom) {
            return Err(invalid("a keyword is 1-100 printable ASCII characters without spaces or ( ) { % * \" \\ ]"));
        }
        Ok(Flag::Keyword(text.to_string()))
    }

    /// The flag as IMAP writes it.
    pub fn name(&self) -> &str {
        match self {
            Flag::Keyword(k) => k,
            system => SYSTEM.iter().find(|(f, _, _)| f == system).map(|(_, n, _)| *n).unwrap_or_default(),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(BTreeSet<Flag>);

impl Flags {
    /// No flags.
    pub fn new() -> Flags {
        Flags::default()
    }

    /// True when `flag` is set.
    pub fn contains(&self, flag: &Flag) -> bool {
        self.0.contains(flag)
    }

    /// Sets `flag`.
    pub fn insert(&mut self, flag: Flag) {
        self.0.insert(flag);
    }

    /// Clears `flag`.
    pub fn remove(&mut self, flag: &Flag) {
        self.0.remove(flag);
    }

    /// The flags, system flags first.
    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        self.0.iter()
    }

    /// True when no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keywords among the flags.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|f| if let Flag::Keyword(k) = f { Some(k.as_str()) } else { None })
    }

    /// Applies a STORE operation (RFC 3501 6.4.6).
    pub fn apply(&self, op: FlagOp, flags: &Flags) -> Flags {
        match op {
            FlagOp::Replace => flags.clone(),
            FlagOp::Add => Flags(self.0.union(&flags.0).cloned().collect()),
            FlagOp::Remove => Flags(self.0.difference(&flags.0).cloned().collect()),
        }
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Flags {
        Flags(iter.into_iter().collect())
    }
}

impl fmt::Display for Flags {
    /// `\Seen \Flagged $Label1`, as inside an IMAP FLAGS list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, flag) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(flag.name())?;
        }
        Ok(())
    }
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The `:2,` part of a Maildir file name: everything after it, or "" when there is none.
pub fn info_of(file: &str) -> &str {
    file.split_once(":2,").map_or("", |(_, info)| info)
}

/// The base name (unique part) of a Maildir file name: everything before the first `:`.
pub fn base_of(file: &str) -> &str {
    file.split_once(':').map_or(file, |(base, _)| base)
}

/// The flags that the letters of a file name's info mean.
pub fn from_info(info: &str, keywords: &Keywords) -> Flags {
    let mut flags = Flags::new();
    for c in info.chars() {
        if let Some((flag, _, _)) = SYSTEM.iter().find(|(_, _, l)| *l == c) {
            flags.insert(flag.clone());
        } else if let Some(name) = keywords.name_of(c) {
            flags.insert(Flag::Keyword(name.to_string()));
        }
    }
    flags
}

/// The info letters for `flags`, keeping letters of `old` that carrier does not manage
/// (mutt's `P` for passed), sorted as the Maildir spec asks. New keywords get letters.
pub fn to_info(flags: &Flags, old: &str, keywords: &mut Keywords) -> Result<String, StoreError> {
    let managed = |c: char| c.is_ascii_lowercase() || SYSTEM.iter().any(|(_, _, l)| *l == c);
    let mut letters: BTreeSet<char> = old.chars().filter(|c| !managed(*c) && c.is_ascii_graphic()).collect();
    for flag in flags.iter() {
        match flag {
            Flag::Keyword(k) => letters.insert(keywords.letter_for(k)?),
            system => letters.insert(SYSTEM.iter().find(|(f, _, _)| f == system).map(|(_, _, l)| *l).unwrap_or('S')),
        };
    }
    Ok(letters.into_iter().collect())
}

/// A mailbox's keyword table: `dovecot-keywords`, lines of `<index> <name>`.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    names: Vec<Option<String>>,
    path: PathBuf,
    dirty: bool,
}

/// The file name Dovecot uses, so Dovecot and carrier share keywords.
pub const KEYWORDS_FILE: &str = "dovecot-keywords";

impl Keywords {
    /// Reads the table of the mailbox in `dir` (missing file: no keywords; unreadable lines are skipped).
    pub fn load(dir: &Path) -> std::io::Result<Keywords> {
        let path = dir.join(KEYWORDS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut names = vec![None; MAX_KEYWORDS];
        for line in text.lines() {
            let Some((index, name)) = line.split_once(' ') else { continue };
            if let (Ok(i), Ok(Flag::Keyword(k))) = (index.parse::<usize>(), Flag::parse(name))
                && i < MAX_KEYWORDS
            {
                names[i] = Some(k);
            }
        }
        while names.last() == Some(&None) {
            names.pop();
        }
        Ok(Keywords { names, path, dirty: false })
    }

    /// The keywords defined in this mailbox.
    pub fn names(&self) -> Vec<String> {
        self.names.iter().flatten().cloned().collect()
    }

    fn name_of(&self, letter: char) -> Option<&str> {
        let i = (letter as usize).checked_sub('a' as usize)?;
        self.names.get(i)?.as_deref()
    }

    /// The letter of a keyword (matched without regard to case), adding it if it is new.
    fn letter_for(&mut self, keyword: &str) -> Result<char, StoreError> {
        let letter = |i: usize| (b'a' + i as u8) as char;
        if let Some(i) = self.names.iter().position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(keyword))) {
            return Ok(letter(i));
        }
        let free = self.names.iter().position(Option::is_none).unwrap_or(self.names.len());
        if free >= MAX_KEYWORDS {
            return Err(StoreError::TooManyKeywords);
        }
        if free == self.names.len() {
            self.names.push(None);
        }
        self.names[free] = Some(keyword.to_string());
        self.dirty = true;
        Ok(letter(free))
    }

    /// The stored spelling of a keyword, when it exists in this mailbox.
    pub fn canonical(&self, keyword: &str) -> Option<&str> {
        self.names.iter().flatten().find(|n| n.eq_ignore_ascii_case(keyword)).map(String::as_str)
    }

    /// `flags` with each keyword spelled as this mailbox already stores it, so that keywords
    /// match without regard to case (`$junk` removes `$Junk`).
    pub fn canonicalize(&self, flags: &Flags) -> Flags {
        flags
            .iter()
            .map(|f| match f {
                Flag::Keyword(k) => Flag::Keyword(self.canonical(k).unwrap_or(k).to_string()),
                system => system.clone(),
            })
            .collect()
    }

    /// Writes the table if keywords were added (before any file name uses the new letters).
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = String::new();
        for (i, name) in self.names.iter().enumerate() {
            if let Some(name) = name {
                text.push_str(&format!("{i} {name}\n"));
            }
        }
        fsutil::write_atomic(&self.path, text.as_bytes())?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_flags() {
        assert_eq!(Flag::parse("\\seen").unwrap(), Flag::Seen);
        assert_eq!(Flag::parse("\\DELETED").unwrap(), Flag::Deleted);
        assert_eq!(Flag::parse("$Forwarded").unwrap(), Flag::Keyword("$Forwarded".into()));
        for bad in ["\\Recent", "\\Foo", "", "a b", "a(b", "x]", "caf\u{e9}", "a\"b", "%"] {
            assert!(matches!(Flag::parse(bad), Err(StoreError::InvalidFlag { .. })), "{bad}");
        }
        assert_eq!(Flag::Answered.to_string(), "\\Answered");
    }

    #[test]
    fn store_operations() {
        let seen: Flags = [Flag::Seen].into_iter().collect();
        let both: Flags = [Flag::Seen, Flag::Flagged].into_iter().collect();
        assert_eq!(seen.apply(FlagOp::Add, &[Flag::Flagged].into_iter().collect()), both);
        assert_eq!(both.apply(FlagOp::Remove, &seen), [Flag::Flagged].into_iter().collect());
        assert_eq!(both.apply(FlagOp::Replace, &Flags::new()), Flags::new());
        assert_eq!(both.to_string(), "\\Seen \\Flagged");
    }

    #[test]
    fn file_name_parts() {
        assert_eq!(base_of("123.abc.host,S=5:2,RS"), "123.abc.host,S=5");
        assert_eq!(info_of("123.abc.host,S=5:2,RS"), "RS");
        assert_eq!(base_of("123.abc.host"), "123.abc.host");
        assert_eq!(info_of("123.abc.host"), "");
    }

    #[test]
    fn info_letters_round_trip_and_keep_unknown_letters() {
        let dir = tempfile::tempdir().unwrap();
        let mut kw = Keywords::load(dir.path()).unwrap();
        let flags: Flags =
            [Flag::Seen, Flag::Deleted, Flag::Draft, Flag::Keyword("$Junk".into())].into_iter().collect();
        let info = to_info(&flags, "PZ", &mut kw).unwrap();
        assert_eq!(info, "DPSTZa");
        assert_eq!(from_info(&info, &kw), flags);
        // A second keyword gets the next letter; a different case reuses the first.
        let more: Flags = [Flag::Keyword("work".into()), Flag::Keyword("$junk".into())].into_iter().collect();
        assert_eq!(to_info(&more, "", &mut kw).unwrap(), "ab");
        kw.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join(KEYWORDS_FILE)).unwrap();
        assert_eq!(text, "0 $Junk\n1 work\n");
        let reread = Keywords::load(dir.path()).unwrap();
        assert_eq!(reread.names(), ["$Junk", "work"]);
        assert_eq!(reread.canonical("$JUNK"), Some("$Junk"));
        // Letters without a name in the table are not invented into flags.
        assert_eq!(from_info("Sz", &reread), [Flag::Seen].into_iter().collect());
    }

    #[test]
    fn at_most_26_keywords() {
        let dir = tempfile::tempdir().unwrap();
        let mut kw = Keywords::load(dir.path()).unwrap();
        for i in 0..MAX_KEYWORDS {
            let f: Flags = [Flag::Keyword(format!("k{i}"))].into_iter().collect();
            to_info(&f, "", &mut kw).unwrap();
        }
        let f: Flags = [Flag::Keyword("one-too-many".into())].into_iter().collect();
        assert!(matches!(to_info(&f, "", &mut kw), Err(StoreError::TooManyKeywords)));
    }

    #[test]
    fn damaged_keyword_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEYWORDS_FILE), "0 good\nnonsense\n99 far\n2 bad word\n3 $ok\n").unwrap();
        let kw = Keywords::load(dir.path()).unwrap();
        assert_eq!(kw.names(), ["good", "$ok"]);
        assert_eq!(
            from_info("ad", &kw),
            [Flag::Keyword("good".into()), Flag::Keyword("$ok".into())].into_iter().collect()
        );
    }
}
