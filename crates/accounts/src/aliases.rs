//! The aliases file in /etc/aliases syntax: `name: target, target`, `#` comments,
//! continuation lines starting with white space.

use crate::address::{normalize, split};
use crate::users::{Stamp, stamp_of};
use carrier_syntax::domain::is_dns_name;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
/// A target is a local name, an address, or `\name`: the user `name` itself, not expanded again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    map: HashMap<String, Vec<String>>,
}

impl Aliases {
    /// Parses the file text; returns the table and warnings about skipped entries.
    pub fn parse(text: &str) -> Result<(Aliases, Vec<String>), AliasError> {
        let mut map = HashMap::new();
        let mut warnings = Vec::new();
        for (line, entry) in logical_lines(text)? {
            let (name, targets) = entry.split_once(':').ok_or_else(|| AliasError {
                line,
                message: format!(
                    "expected `name: target, target`, found {entry:?}; add the colon after the name, or indent the line to continue the entry above"
                ),
            })?;
            let name = normalize(unquote(name.trim()));
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(AliasError {
                    line,
                    message: format!("the alias name {name:?} is empty or has spaces; write `name: target`"),
                });
            }
            let list = parse_targets(line, &name, targets, &mut warnings);
            if map.insert(name.clone(), list).is_some() {
                warnings.push(format!("line {line}: alias `{name}` is defined again; the later entry wins"));
            }
        }
        Ok((Aliases { map }, warnings))
    }

    /// Targets of a name (a local part or a full address; case-insensitive).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.map.get(&normalize(key)).map(Vec::as_slice)
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

/// The deliverable targets of one entry; unsupported ones become warnings.
fn parse_targets(line: usize, name: &str, targets: &str, warnings: &mut Vec<String>) -> Vec<String> {
    let mut list = Vec::new();
    for target in split_targets(targets) {
        let unquoted = unquote(&target);
        let lower = unquoted.to_ascii_lowercase();
        // aliases(5): sendmail runs `|command`, appends to `/file` and reads `:include:` lists;
        // carrier does none of these, but a stock /etc/aliases with them must still load.
        if unquoted.starts_with('|') || unquoted.starts_with('/') || lower.starts_with(":include:") {
            warnings.push(format!(
                "line {line}: alias `{name}`: target {target} is not supported (carrier delivers to mailboxes and addresses only, not to commands, files or :include: lists); skipped"
            ));
        } else if let Some((_, domain)) = split(unquoted).filter(|(_, d)| !is_dns_name(d)) {
            warnings.push(format!(
                "line {line}: alias `{name}`: target {target} has no valid domain ({domain:?}); skipped"
            ));
        } else {
            list.push(unquoted.to_string());
        }
    }
    if list.is_empty() {
        warnings.push(format!(
            "line {line}: alias `{name}` has no target carrier can deliver to; mail to it is refused as an unknown user"
        ));
    }
    list
}

/// Removes the quotes around a wholly quoted string (`"|cmd"`), leaving `"a b"@x` alone.
fn unquote(s: &str) -> &str {
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.trim(),
        _ => s,
    }
}

/// Joins continuation lines; yields (first line number, text) without comments and blanks.
fn logical_lines(text: &str) -> Result<Vec<(usize, String)>, AliasError> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim_start().starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        // aliases(5): a line starting with white space continues the previous entry.
        if raw.starts_with([' ', '\t']) {
            let Some((_, last)) = out.last_mut() else {
                return Err(AliasError {
                    line: i + 1,
                    message: "an indented line continues an entry, but there is none above; remove the indentation"
                        .into(),
                });
            };
            last.push(' ');
            last.push_str(raw.trim());
        } else {
            out.push((i + 1, raw.trim().to_string()));
        }
    }
    Ok(out)
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
#[derive(Debug, Clone)]
pub struct AliasFile {
    path: PathBuf,
    aliases: Aliases,
    stamp: Option<Stamp>,
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

    /// The file's stamp; an unreadable file counts as absent (reading it then says why).
    fn stamp(&self) -> Option<Stamp> {
        stamp_of(&self.path).ok().flatten()
    }

    fn load(&mut self) -> Result<(), String> {
        let stamp = self.stamp();
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            format!(
                "cannot read the aliases file {}: {e}; create the file or correct `aliases` in carrier.toml",
                self.path.display()
            )
        })?;
        let (aliases, warnings) = Aliases::parse(&text).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.aliases = aliases;
        self.stamp = stamp;
        self.warnings = warnings.into_iter().map(|w| format!("{}: {w}", self.path.display())).collect();
        Ok(())
    }

    /// Re-reads the file if its mtime, length or inode changed; true when a new table is in
    /// force (its warnings are in [`AliasFile::warnings`]). On an error the previous table stays.
    pub fn reload_if_changed(&mut self) -> Result<bool, String> {
        if self.stamp() == self.stamp {
            return Ok(false);
        }
        let result = self.load();
        if result.is_err() {
            // Do not retry a broken file on every lookup; wait for it to change again.
            self.stamp = self.stamp();
        }
        result.map(|()| true)
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
    fn names_are_case_insensitive_and_quoted_targets_keep_their_inner_text() {
        let text = "Staff: \"Bob\", \"john doe\"@elsewhere.example, \\bob, \"alice\"@example.com\n";
        let (a, warnings) = Aliases::parse(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            a.get("STAFF").unwrap(),
            ["Bob", "\"john doe\"@elsewhere.example", "\\bob", "\"alice\"@example.com"]
        );
        assert!(a.get("nobody").is_none());
        assert!(!a.is_empty());
        assert!(Aliases::parse("# only a comment\n").unwrap().0.is_empty());
    }

    #[test]
    fn a_stock_debian_aliases_file_loads() {
        let text = "# /etc/aliases\nmailer-daemon: postmaster\npostmaster: root\nnobody: root\nhostmaster: root\n\
                    usenet: root\nnews: root\nwebmaster: root\nwww: root\nftp: root\nabuse: root\nnoc: root\n\
                    security: root\nroot: bob\nlogcheck: root\nmajordomo: \"|/usr/lib/majordomo/wrapper majordomo\"\n";
        let (a, warnings) = Aliases::parse(text).unwrap();
        assert_eq!(a.len(), 15);
        assert_eq!(a.get("mailer-daemon").unwrap(), ["postmaster"]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("line 16:") && warnings[0].contains("not supported"));
        assert!(warnings[1].contains("`majordomo` has no target"));
    }

    #[test]
    fn targets_without_a_valid_domain_and_empty_aliases_are_warned_about() {
        let (a, warnings) = Aliases::parse("x: bob@, carol@ex ample.com, dave\ny:\nz: :INCLUDE:/etc/z\n").unwrap();
        assert_eq!(a.get("x").unwrap(), ["dave"]);
        assert_eq!(a.get("y").unwrap(), [] as [String; 0]);
        assert!(warnings[0].starts_with("line 1:") && warnings[0].contains("bob@"), "{warnings:?}");
        assert!(warnings[1].contains("carol@ex ample.com"), "{warnings:?}");
        assert!(warnings[2].starts_with("line 2:") && warnings[2].contains("no target"), "{warnings:?}");
        assert!(warnings[3].starts_with("line 3:") && warnings[3].contains(":INCLUDE:"), "{warnings:?}");
    }

    #[test]
    fn continuation_lines_join_across_comments_but_need_an_entry_above() {
        let (a, _) = Aliases::parse("list: a,\n# note\n\tb,\n  c\nnext: d\n").unwrap();
        assert_eq!(a.get("list").unwrap(), ["a", "b", "c"]);
        assert_eq!(a.get("next").unwrap(), ["d"]);
        let e = Aliases::parse("# head\n  bob\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("remove the indentation"), "{e}");
        let e = Aliases::parse("ok: a\nbad name: b\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("spaces"), "{e}");
    }

    #[test]
    fn file_reloads_on_change_and_keeps_old_table_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases");
        std::fs::write(&path, "a: b\n").unwrap();
        let mut f = AliasFile::open(&path).unwrap();
        assert_eq!(f.path(), path);
        assert_eq!(f.reload_if_changed(), Ok(false));
        std::fs::write(&path, "a: c\nlonger: x\nw: |cmd\n").unwrap();
        assert_eq!(f.reload_if_changed(), Ok(true));
        assert_eq!(f.aliases().get("a").unwrap(), ["c"]);
        assert!(f.warnings()[0].starts_with(&format!("{}: line 3:", path.display())), "{:?}", f.warnings());
        std::fs::write(&path, "broken line without the separator that is long\n").unwrap();
        let e = f.reload_if_changed().unwrap_err();
        assert!(e.contains("line 1") && e.contains(&path.display().to_string()), "{e}");
        assert_eq!(f.aliases().get("a").unwrap(), ["c"]);
        // The broken version is not re-read on every lookup.
        assert_eq!(f.reload_if_changed(), Ok(false));
        std::fs::write(&path, "a: d\n").unwrap();
        assert_eq!(f.reload_if_changed(), Ok(true));
        assert_eq!(f.aliases().get("a").unwrap(), ["d"]);
        assert!(f.warnings().is_empty());
        std::fs::remove_file(&path).unwrap();
        assert!(f.reload_if_changed().unwrap_err().contains("cannot read the aliases file"));
        assert_eq!(f.aliases().get("a").unwrap(), ["d"]);
        let e = AliasFile::open(&dir.path().join("missing")).unwrap_err();
        assert!(e.contains("cannot read the aliases file") && e.contains("missing"), "{e}");
    }
}
