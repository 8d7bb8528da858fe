//! Sets of UIDs as inclusive ranges, for VANISHED (EARLIER) (RFC 7162 3.2.10): a store
//! without expunge records reports every absent UID below UIDNEXT, so the sets are kept as
//! ranges and never expanded.

use crate::parser::SequenceSet;
use std::fmt;

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct UidSet(Vec<(u32, u32)>);

impl UidSet {
    /// From ranges in any order, overlapping or not.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> UidSet {
        let mut v: Vec<(u32, u32)> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        UidSet(out)
    }

    /// A client's UID set, `*` standing for `star`.
    pub fn from_sequence_set(set: &SequenceSet, star: u32) -> UidSet {
        UidSet::from_ranges(set.ranges(star))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The UIDs in both sets.
    pub fn intersect(&self, other: &UidSet) -> UidSet {
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            let (lo, hi) = (a.0.max(b.0), a.1.min(b.1));
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        UidSet(out)
    }

    /// Only the UIDs above `floor`.
    pub fn above(mut self, floor: u32) -> UidSet {
        self.0.retain_mut(|r| {
            r.0 = r.0.max(floor.saturating_add(1));
            r.0 <= r.1 && r.1 > floor
        });
        self
    }

    /// Without the UIDs of `sorted` (ascending).
    pub fn without(&self, sorted: &[u32]) -> UidSet {
        let mut out = Vec::new();
        for &(lo, hi) in &self.0 {
            // u64, so that the UID after 4294967295 needs no special case.
            let mut from = u64::from(lo);
            let start = sorted.partition_point(|&u| u < lo);
            for &u in sorted[start..].iter().take_while(|&&u| u <= hi) {
                if u64::from(u) > from {
                    out.push((from as u32, u - 1));
                }
                from = u64::from(u) + 1;
            }
            if from <= u64::from(hi) {
                out.push((from as u32, hi));
            }
        }
        UidSet(out)
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < uid);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= uid)
    }
}

impl fmt::Display for UidSet {
    /// As a sequence set: `1:3,5`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (n, &(lo, hi)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if lo == hi { write!(f, "{lo}")? } else { write!(f, "{lo}:{hi}")? }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(r: &[(u32, u32)]) -> UidSet {
        UidSet::from_ranges(r.iter().copied())
    }

    #[test]
    fn normalised_and_written_as_a_sequence_set() {
        assert_eq!(set(&[(9, 7), (1, 2), (3, 3), (5, 5), (2, 3)]).to_string(), "1:3,5,7:9");
        assert_eq!(set(&[]).to_string(), "");
        assert_eq!(set(&[(1, u32::MAX), (4, 4)]).to_string(), "1:4294967295");
    }

    #[test]
    fn intersection_floor_and_removal() {
        let a = set(&[(1, 10), (20, 30)]);
        assert_eq!(a.intersect(&set(&[(5, 22), (29, 40)])).to_string(), "5:10,20:22,29:30");
        assert!(a.intersect(&set(&[(11, 19)])).is_empty());
        assert_eq!(a.clone().above(9).to_string(), "10,20:30");
        assert_eq!(a.clone().above(30).to_string(), "");
        assert_eq!(a.clone().above(0).to_string(), "1:10,20:30");
        assert_eq!(a.without(&[1, 5, 6, 10, 15, 25, 31]).to_string(), "2:4,7:9,20:24,26:30");
        assert_eq!(set(&[(1, u32::MAX)]).without(&[u32::MAX]).to_string(), "1:4294967294");
        assert_eq!(set(&[(u32::MAX, u32::MAX)]).without(&[u32::MAX]).to_string(), "");
        assert!(a.contains(20) && a.contains(1) && !a.contains(15) && !a.contains(31));
    }
}
