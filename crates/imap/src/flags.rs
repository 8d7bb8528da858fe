//! Message flags: the system flags of RFC 3501 2.3.2 and keywords.

/// The system flags a client may set, in their canonical spelling.
pub const SYSTEM: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// `\Seen`, spelled as the flag set stores it.
pub const SEEN: &str = "\\Seen";
/// `\Deleted`.
pub const DELETED: &str = "\\Deleted";
/// `\Recent` (session flag: never stored, RFC 3501 2.3.2).
pub const RECENT: &str = "\\Recent";

/// The canonical spelling of a flag: system flags are case-insensitive and written as in
/// RFC 3501; keywords keep the client's spelling.
pub fn canonical(flag: &str) -> String {
    SYSTEM
        .iter()
        .chain([&RECENT])
        .find(|s| s.eq_ignore_ascii_case(flag))
        .map_or_else(|| flag.to_string(), |s| s.to_string())
}

/// A set of flags and keywords, compared without regard to ASCII case (RFC 9051 2.3.2),
/// kept in insertion order so responses are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(Vec<String>);

impl Flags {
    /// An empty set.
    pub fn new() -> Flags {
        Flags(Vec::new())
    }

    /// Whether the flag is set.
    pub fn contains(&self, flag: &str) -> bool {
        self.0.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    /// Adds a flag; false when it was already set.
    pub fn insert(&mut self, flag: &str) -> bool {
        if self.contains(flag) {
            return false;
        }
        self.0.push(canonical(flag));
        true
    }

    /// Removes a flag; false when it was not set.
    pub fn remove(&mut self, flag: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|f| !f.eq_ignore_ascii_case(flag));
        before != self.0.len()
    }

    /// The flags, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Same members, whatever the order.
    pub fn same(&self, other: &Flags) -> bool {
        self.len() == other.len() && self.iter().all(|f| other.contains(f))
    }
}

impl<S: AsRef<str>> FromIterator<S> for Flags {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Flags {
        let mut flags = Flags::new();
        for f in iter {
            flags.insert(f.as_ref());
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_set() {
        let mut f: Flags = ["\\seen", "$Junk"].into_iter().collect();
        assert_eq!(f.iter().collect::<Vec<_>>(), ["\\Seen", "$Junk"]);
        assert!(!f.insert("\\SEEN"));
        assert!(f.contains("$junk"));
        assert!(f.remove("$JUNK"));
        assert!(!f.remove("$Junk"));
        assert!(f.same(&["\\Seen"].into_iter().collect()));
        assert_eq!(canonical("\\recent"), "\\Recent");
        assert_eq!(canonical("\\Custom"), "\\Custom");
    }
}
