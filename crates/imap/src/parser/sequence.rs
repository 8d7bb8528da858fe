//! Sequence sets (RFC 3501 9 `sequence-set`): message numbers or UIDs, ranges in any order.

use super::lexer::{Cursor, Parsed, bad};

/// seq-number: a number or `*` (the largest number in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    /// A number.
    Value(u32),
    /// `*`.
    Star,
}

/// A sequence set as written: (from, to) pairs, a single number being (n, n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SeqNum, SeqNum)>);

impl SequenceSet {
    /// Parses `sequence-set`. `$` (RFC 5182 SEARCHRES) is not supported.
    pub fn parse(c: &mut Cursor) -> Parsed<SequenceSet> {
        let mut ranges = Vec::new();
        loop {
            let from = seq_number(c)?;
            let to = if c.eat(b':') { seq_number(c)? } else { from };
            ranges.push((from, to));
            if !c.eat(b',') {
                return Ok(SequenceSet(ranges));
            }
        }
    }

    /// Whether `*` occurs (for UID sets it then includes the highest UID, RFC 3501 6.4.8).
    pub fn has_star(&self) -> bool {
        self.0.iter().any(|&(a, b)| a == SeqNum::Star || b == SeqNum::Star)
    }

    /// The ranges with `*` replaced by `star` and each ordered low..=high.
    pub fn ranges(&self, star: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let v = move |n: SeqNum| match n {
            SeqNum::Value(n) => n,
            SeqNum::Star => star,
        };
        self.0.iter().map(move |&(a, b)| (v(a).min(v(b)), v(a).max(v(b))))
    }

    /// Whether `n` is in the set, `*` being `star`.
    pub fn contains(&self, n: u32, star: u32) -> bool {
        self.ranges(star).any(|(lo, hi)| (lo..=hi).contains(&n))
    }

    /// Message sequence numbers for a mailbox of `exists` messages, ascending and unique.
    /// RFC 3501 9: a number beyond `exists`, or `*` in an empty mailbox, is an error.
    pub fn resolve_seq(&self, exists: u32) -> Result<Vec<u32>, String> {
        if exists == 0 {
            return Err("Invalid message sequence number: the mailbox is empty".into());
        }
        let mut out = Vec::new();
        for (lo, hi) in self.ranges(exists) {
            if hi > exists {
                return Err(format!("Invalid message sequence number {hi}: the mailbox has {exists} messages"));
            }
            out.extend(lo..=hi);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

fn seq_number(c: &mut Cursor) -> Parsed<SeqNum> {
    match c.peek() {
        Some(b'*') => {
            c.eat(b'*');
            Ok(SeqNum::Star)
        }
        Some(b'$') => bad("The saved search result '$' (SEARCHRES) is not supported"),
        Some(b'0'..=b'9') => match c.number() {
            Ok(0) => bad("Invalid sequence set: 0 is not a message number or UID"),
            Ok(n) => Ok(SeqNum::Value(n)),
            Err(e) => Err(e),
        },
        _ => c.unexpected("a sequence set"),
    }
}

/// Writes ascending numbers as a compact sequence set: `1:3,5,7:9` (RFC 4731 3, RFC 4315 3).
pub fn compress(sorted: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i].wrapping_add(1) {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if sorted[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{}", sorted[i]));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> Parsed<SequenceSet> {
        SequenceSet::parse(&mut Cursor::new(s.as_bytes()))
    }

    #[test]
    fn parse_and_resolve() {
        let s = set("5:3,*,1,7:*").unwrap();
        assert_eq!(s.resolve_seq(8).unwrap(), [1, 3, 4, 5, 7, 8]);
        assert!(s.has_star());
        assert!(s.contains(4, 8) && !s.contains(2, 8) && !s.contains(6, 8));
        assert_eq!(set("1:*").unwrap().resolve_seq(1).unwrap(), [1]);
        assert!(set("2:*").unwrap().resolve_seq(1).is_err());
        assert!(set("3").unwrap().resolve_seq(2).unwrap_err().contains("has 2 messages"));
        assert!(set("*").unwrap().resolve_seq(0).unwrap_err().contains("empty"));
    }

    #[test]
    fn malformed() {
        assert!(set("0").unwrap_err().0.contains("0 is not"));
        assert!(set("1:0").is_err());
        assert!(set("$").unwrap_err().0.contains("SEARCHRES"));
        assert!(set("a").is_err());
        assert!(set("1,").is_err());
        assert!(set("4294967296").is_err());
    }

    #[test]
    fn compression() {
        assert_eq!(compress(&[1, 2, 3, 5, 7, 8, 9, 12]), "1:3,5,7:9,12");
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&[4294967295]), "4294967295");
    }
}
