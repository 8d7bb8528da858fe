//! The QRESYNC parameter of SELECT and EXAMINE (RFC 7162 3.2.5):
//! `QRESYNC (uidvalidity mod-sequence-value [known-uids] [(known-sequence-set known-uid-set)])`.

use super::lexer::{Cursor, Parsed, bad};
use super::sequence::SequenceSet;

/// QRESYNC select parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    /// The client's last known UIDVALIDITY.
    pub uidvalidity: u32,
    /// The client's last known HIGHESTMODSEQ.
    pub modseq: u64,
    /// UIDs the client knows (no `*`).
    pub known_uids: Option<SequenceSet>,
    /// Message sequence match data (RFC 7162 3.2.5.2).
    pub seq_match: Option<SeqMatch>,
}

/// Message numbers and the UIDs the client believes they have, pairwise in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqMatch {
    /// known-sequence-set.
    pub seqs: SequenceSet,
    /// known-uid-set, as many numbers as `seqs`.
    pub uids: SequenceSet,
}

impl SeqMatch {
    /// The (message number, UID) pairs in the order written.
    pub fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        values(&self.seqs).zip(values(&self.uids))
    }
}

/// The numbers of a set without `*`, in the order written; not collected, as `1:4294967295`
/// is a valid set.
fn values(set: &SequenceSet) -> impl Iterator<Item = u32> + '_ {
    set.ranges(0).flat_map(|(lo, hi)| lo..=hi)
}

/// How many numbers a set without `*` names.
fn count(set: &SequenceSet) -> u64 {
    set.ranges(0).map(|(lo, hi)| u64::from(hi - lo) + 1).sum()
}

/// A sequence set in which RFC 7162 3.2.5 does not allow `*`.
fn set_without_star(c: &mut Cursor, what: &str) -> Parsed<SequenceSet> {
    let set = SequenceSet::parse(c)?;
    if set.has_star() {
        return bad(format!("'*' is not allowed in the QRESYNC {what} (RFC 7162 3.2.5)"));
    }
    Ok(set)
}

/// `(known-sequence-set SP known-uid-set)`.
fn seq_match(c: &mut Cursor) -> Parsed<SeqMatch> {
    c.expect(b'(', "'(' to start the QRESYNC sequence match data")?;
    let seqs = set_without_star(c, "sequence match data")?;
    c.sp()?;
    let uids = set_without_star(c, "sequence match data")?;
    c.expect(b')', "')' to end the QRESYNC sequence match data")?;
    let (n, m) = (count(&seqs), count(&uids));
    if n != m {
        return bad(format!(
            "The QRESYNC sequence match data pairs {n} message numbers with {m} UIDs; give as many of each (RFC 7162 3.2.5)"
        ));
    }
    Ok(SeqMatch { seqs, uids })
}

/// Parses what follows `QRESYNC `.
pub fn parse(c: &mut Cursor) -> Parsed<Qresync> {
    c.expect(b'(', "'(' after QRESYNC")?;
    let uidvalidity = c.number()?;
    if uidvalidity == 0 {
        return bad("The QRESYNC UIDVALIDITY cannot be 0: send the one SELECT reported (RFC 7162 3.2.5)");
    }
    c.sp()?;
    let modseq = c.number64()?;
    if modseq == 0 {
        return bad(
            "The QRESYNC mod-sequence must be at least 1: send a HIGHESTMODSEQ the server reported (RFC 7162 3.2.5)",
        );
    }
    let mut q = Qresync { uidvalidity, modseq, known_uids: None, seq_match: None };
    if c.eat(b' ') && c.peek() != Some(b'(') {
        q.known_uids = Some(set_without_star(c, "known UIDs")?);
        c.eat(b' ');
    }
    if c.peek() == Some(b'(') {
        q.seq_match = Some(seq_match(c)?);
    }
    c.expect(b')', "')' to end the QRESYNC parameter")?;
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Parsed<Qresync> {
        parse(&mut Cursor::new(s.as_bytes()))
    }

    #[test]
    fn every_form() {
        let full = q("(67890007 90060115194045000 41:211,214:541 (1:3,5 41,43:44,99))").unwrap();
        assert_eq!((full.uidvalidity, full.modseq), (67890007, 90060115194045000));
        assert!(full.known_uids.unwrap().contains(300, 0));
        let pairs: Vec<_> = full.seq_match.unwrap().pairs().collect();
        assert_eq!(pairs, [(1, 41), (2, 43), (3, 44), (5, 99)]);
        let bare = q("(1 2)").unwrap();
        assert_eq!((bare.known_uids, bare.seq_match), (None, None));
        // RFC 7162 3.2.5: seq-match-data may come without known-uids.
        assert!(q("(1 2 (1 5))").unwrap().seq_match.is_some());
    }

    #[test]
    fn malformed() {
        for (input, why) in [
            ("1 2", "Expected '(' after QRESYNC, found '1'"),
            ("(0 2)", "The QRESYNC UIDVALIDITY cannot be 0"),
            ("(1 0)", "The QRESYNC mod-sequence must be at least 1"),
            ("(x 2)", "Expected a number, found 'x'"),
            ("(1 x)", "Expected a number, found 'x'"),
            ("(1)", "Expected a space, found ')'"),
            ("(1 9223372036854775808)", "Number 9223372036854775808 is too large"),
            ("(1 2 1:*)", "'*' is not allowed in the QRESYNC known UIDs"),
            ("(1 2 0)", "Invalid sequence set: 0 is not a message number or UID"),
            ("(1 2 1:5 (1:2 5:*))", "'*' is not allowed in the QRESYNC sequence match data"),
            (
                "(1 2 1:5 (1:3 5:6))",
                "The QRESYNC sequence match data pairs 3 message numbers with 2 UIDs; give as many",
            ),
            ("(1 2 1:5 (1:3))", "Expected a space, found ')'"),
            ("(1 2 1:5 (1 5)", "Expected ')' to end the QRESYNC parameter, found the end of the line"),
            ("(1 2 1:5 x)", "Expected ')' to end the QRESYNC parameter, found 'x'"),
        ] {
            let err = q(input).unwrap_err().0;
            assert!(err.starts_with(why), "{input}: {err}");
        }
    }
}
