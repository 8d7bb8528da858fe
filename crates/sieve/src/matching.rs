//! Comparators (RFC 4790 9, RFC 5228 2.7.3), match types (RFC 5228 2.7.1) and the
//! relational ones (RFC 5231).

use std::cmp::Ordering;

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `i;octet`: octet by octet.
    Octet,
    /// `i;ascii-casemap`: ASCII letters without case (the default, RFC 5228 2.7.3).
    AsciiCasemap,
    /// `i;ascii-numeric`: the leading digits as a number; no digits is +infinity.
    AsciiNumeric,
}

impl Comparator {
    pub fn by_name(name: &str) -> Option<Comparator> {
        match name.to_ascii_lowercase().as_str() {
            "i;octet" => Some(Comparator::Octet),
            "i;ascii-casemap" => Some(Comparator::AsciiCasemap),
            "i;ascii-numeric" => Some(Comparator::AsciiNumeric),
            _ => None,
        }
    }

    /// RFC 4790 9.1.1: `i;ascii-numeric` offers equality and ordering, not substrings.
    pub fn substrings(self) -> bool {
        self != Comparator::AsciiNumeric
    }

    fn fold(self, c: char) -> char {
        match self {
            Comparator::AsciiCasemap => c.to_ascii_uppercase(),
            _ => c,
        }
    }

    /// Equality and order (RFC 4790 4.2, 4.3).
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Comparator::Octet => a.as_bytes().cmp(b.as_bytes()),
            Comparator::AsciiCasemap => {
                a.bytes().map(|c| c.to_ascii_uppercase()).cmp(b.bytes().map(|c| c.to_ascii_uppercase()))
            }
            // RFC 4790 9.1.1: a string without leading digits is positive infinity.
            Comparator::AsciiNumeric => match (numeric(a), numeric(b)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            },
        }
    }

    fn chars_equal(self, a: char, b: char) -> bool {
        self.fold(a) == self.fold(b)
    }

    /// RFC 5228 2.7.1 `:contains`.
    pub fn contains(self, haystack: &str, needle: &str) -> bool {
        match self {
            Comparator::Octet => haystack.contains(needle),
            _ => {
                let (h, n): (Vec<char>, Vec<char>) = (haystack.chars().collect(), needle.chars().collect());
                n.is_empty() || h.windows(n.len()).any(|w| w.iter().zip(&n).all(|(a, b)| self.chars_equal(*a, *b)))
            }
        }
    }

    /// RFC 5228 2.7.1 `:matches`: `*` any sequence, `?` one character, `\` quotes the next.
    /// Returns the text each wildcard took (RFC 5229 3.2), or None.
    pub fn matches(self, text: &str, pattern: &str) -> Option<Vec<String>> {
        let text: Vec<char> = text.chars().collect();
        let pat = parse_pattern(pattern);
        let mut groups = Vec::new();
        self.glob(&text, &pat, &mut groups).then_some(groups)
    }

    fn glob(self, text: &[char], pat: &[Piece], groups: &mut Vec<String>) -> bool {
        match pat.first() {
            None => text.is_empty(),
            Some(Piece::Char(c)) => {
                text.first().is_some_and(|t| self.chars_equal(*t, *c)) && self.glob(&text[1..], &pat[1..], groups)
            }
            Some(Piece::One) => {
                let Some(t) = text.first() else { return false };
                groups.push(t.to_string());
                if self.glob(&text[1..], &pat[1..], groups) {
                    return true;
                }
                groups.pop();
                false
            }
            Some(Piece::Any) => {
                // Shortest first, as Pigeonhole and the RFC 5229 examples expect.
                for take in 0..=text.len() {
                    groups.push(text[..take].iter().collect());
                    if self.glob(&text[take..], &pat[1..], groups) {
                        return true;
                    }
                    groups.pop();
                }
                false
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Piece {
    Char(char),
    One,
    Any,
}

fn parse_pattern(pattern: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Piece::Any,
            '?' => Piece::One,
            '\\' => chars.next().map_or(Piece::Char('\\'), Piece::Char),
            c => Piece::Char(c),
        });
    }
    out
}

/// RFC 4790 9.1.1: the value of the leading digits; None (positive infinity) without any.
fn numeric(s: &str) -> Option<NumericKey> {
    let digits: &str = &s[..s.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(NumericKey(trimmed.len(), trimmed.to_string()))
}

/// Orders numbers of any length: by digit count, then digits.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct NumericKey(usize, String);

/// RFC 5231 5: the relational operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Relation {
    pub fn by_name(name: &str) -> Option<Relation> {
        Some(match name.to_ascii_lowercase().as_str() {
            "gt" => Relation::Gt,
            "ge" => Relation::Ge,
            "lt" => Relation::Lt,
            "le" => Relation::Le,
            "eq" => Relation::Eq,
            "ne" => Relation::Ne,
            _ => return None,
        })
    }

    pub fn holds(self, o: Ordering) -> bool {
        match self {
            Relation::Gt => o == Ordering::Greater,
            Relation::Ge => o != Ordering::Less,
            Relation::Lt => o == Ordering::Less,
            Relation::Le => o != Ordering::Greater,
            Relation::Eq => o == Ordering::Equal,
            Relation::Ne => o != Ordering::Equal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Comparator::*;

    #[test]
    fn wildcards_capture_what_they_match() {
        assert_eq!(AsciiCasemap.matches("Hello World", "h*o w?rld"), Some(vec!["ell".into(), "o".into()]));
        assert_eq!(Octet.matches("Hello", "h*"), None);
        assert_eq!(Octet.matches("a*b", "a\\*b"), Some(vec![]));
        assert_eq!(Octet.matches("", "*"), Some(vec![String::new()]));
        assert_eq!(Octet.matches("", "?"), None);
        assert_eq!(Octet.matches("ab", "*?"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(Octet.matches("frop.example.org", "*.*"), Some(vec!["frop".into(), "example.org".into()]));
    }

    #[test]
    fn numeric_comparison_ignores_what_follows_the_digits() {
        assert_eq!(AsciiNumeric.compare("10", "9"), Ordering::Greater);
        assert_eq!(AsciiNumeric.compare("007", "7abc"), Ordering::Equal);
        assert_eq!(AsciiNumeric.compare("abc", "99999999999999999999"), Ordering::Greater, "no digits is infinity");
        assert_eq!(AsciiNumeric.compare("", "x"), Ordering::Equal);
        assert!(Relation::Ge.holds(AsciiNumeric.compare("3", "3")));
        assert!(AsciiCasemap.contains("Make MONEY fast", "money") && !Octet.contains("MONEY", "money"));
    }
}
