//! The aliases file in /etc/aliases syntax: `name: target, target`, `#` comments,
//! continuation lines starting with white space.

use crate::address::normalize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A parse error with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AliasError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for AliasError {}

/// The alias table: name (local part or full address, lower-case) to targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    map: HashMap<String, Vec<String>>,
}

impl Aliases {
    /// Parses the file text; returns the table and warnings about skipped entries.
    pub fn parse(text: &str) -> Result<(Aliases, Vec<String>), AliasError> {
        let mut map = HashMap::new();
        let mut warnings = Vec::new();
        for (line, entry) in logical_lines(text) {
            let (name, targets) = entry.split_once(':').ok_or_else(|| AliasError {
                line,
                message: format!("expected `name: target, ...`, found {entry:?}"),
            })?;
            let name = normalize(name.trim().trim_matches('"'));
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(AliasError { line, message: format!("bad alias name {:?}", name) });
            }
            let mut list = Vec::new();
            for target in split_targets(targets) {
                let unquoted = target.trim_matches('"').trim();
                if unquoted.starts_with('|') || unquoted.starts_with('/') || unquoted.starts_with(":include:") {
                    warnings.push(format!(
                        "line {line}: alias `{name}`: target {target} (commands, files, :include:) is not supported; skipped"
                    ));
                } else if !unquoted.is_empty() {
                    list.push(unquoted.to_string());
                }
            }
            if map.insert(name.clone(), list).is_some() {
                warnings.push(format!("line {line}: alias `{name}` is defined again; the later entry wins"));
            }
        }
        Ok((Aliases { map }, warnings))
    }

    /// Targets of a name (lower-case local part or full address).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// All alias names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Number of aliases.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Joins continuation lines; yields (first line number, text) without comments and blanks.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim_start().starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let continued = raw.starts_with([' ', '\t']);
        match out.last_mut() {
            Some((_, last)) if continued => {
                last.push(' ');
                last.push_str(raw.trim());
            }
            _ => out.push((i + 1, raw.trim().to_string())),
        }
    }
    out
}

/// Splits at commas outside double quotes.
fn split_targets(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

/// The aliases file, re-read when it changes.
#[derive(Debug)]
pub struct AliasFile {
    path: PathBuf,
    aliases: Aliases,
    stamp: Option<(SystemTime, u64)>,
    warnings: Vec<String>,
}

impl AliasFile {
    /// Reads and parses the file; see [`AliasFile::warnings`] for skipped entries.
    pub fn open(path: &Path) -> Result<AliasFile, String> {
        let mut file =
            AliasFile { path: path.to_path_buf(), aliases: Aliases::default(), stamp: None, warnings: Vec::new() };
        file.load()?;
        Ok(file)
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn load(&mut self) -> Result<Vec<String>, String> {
        let stamp = self.stamp();
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            format!(
                "cannot read the aliases file {}: {e}; fix `aliases` in carrier.toml or create the file",
                self.path.display()
            )
        })?;
        let (aliases, warnings) = Aliases::parse(&text).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.aliases = aliases;
        self.stamp = stamp;
        self.warnings = warnings.into_iter().map(|w| format!("{}: {w}", self.path.display())).collect();
        Ok(self.warnings.clone())
    }

    /// Re-reads the file if it changed. On an error the previous table stays in force.
    /// Ok carries the warnings of the new version (empty when nothing changed).
    pub fn reload_if_changed(&mut self) -> Result<Vec<String>, String> {
        if self.stamp() == self.stamp {
            return Ok(Vec::new());
        }
        let result = self.load();
        if result.is_err() {
            // Do not retry a broken file on every lookup; wait for it to change again.
            self.stamp = self.stamp();
        }
        result
    }

    /// The table in force.
    pub fn aliases(&self) -> &Aliases {
        &self.aliases
    }

    /// Warnings from the last successful read (skipped targets, duplicate names).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sendmail_syntax() {
        let text = "# comment\n\npostmaster: root\nRoot: bob\nstaff: bob,\n   alice@example.com,\n\t\"carol\"\n";
        let (a, warnings) = Aliases::parse(text).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(a.len(), 3);
        assert_eq!(a.get("root").unwrap(), ["bob"]);
        assert_eq!(a.get("staff").unwrap(), ["bob", "alice@example.com", "carol"]);
    }

    #[test]
    fn unsupported_targets_are_skipped_with_a_warning() {
        let (a, warnings) =
            Aliases::parse("list: bob, |/usr/bin/procmail, /var/log/mail, :include:/etc/list, \"|cmd\"\n").unwrap();
        assert_eq!(a.get("list").unwrap(), ["bob"]);
        assert_eq!(warnings.len(), 4);
        assert!(warnings[0].starts_with("line 1:"), "{warnings:?}");
    }

    #[test]
    fn full_address_names_and_duplicates() {
        let (a, warnings) = Aliases::parse("Info@Example.COM: bob\ninfo: alice\ninfo: carol\n").unwrap();
        assert_eq!(a.get("info@example.com").unwrap(), ["bob"]);
        assert_eq!(a.get("info").unwrap(), ["carol"]);
        assert!(warnings[0].contains("line 3") && warnings[0].contains("defined again"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Aliases::parse("a: b\n\n# x\nno colon here\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.to_string().starts_with("line 4:"));
        assert_eq!(Aliases::parse(": bob\n").unwrap_err().line, 1);
    }

    #[test]
    fn file_reloads_on_change_and_keeps_old_table_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases");
        std::fs::write(&path, "a: b\n").unwrap();
        let mut f = AliasFile::open(&path).unwrap();
        assert_eq!(f.reload_if_changed(), Ok(vec![]));
        std::fs::write(&path, "a: c\nlonger: x\n").unwrap();
        assert!(f.reload_if_changed().is_ok());
        assert_eq!(f.aliases().get("a").unwrap(), ["c"]);
        std::fs::write(&path, "broken line without the separator that is long\n").unwrap();
        let e = f.reload_if_changed().unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert_eq!(f.aliases().get("a").unwrap(), ["c"]);
        assert!(AliasFile::open(&dir.path().join("missing")).unwrap_err().contains("cannot read the aliases file"));
    }
}
