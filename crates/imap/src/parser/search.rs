//! SEARCH criteria (RFC 3501 6.4.4, 9 `search-key`; RFC 4731 ESEARCH; RFC 7162 MODSEQ).

use super::lexer::{Cursor, Parsed, bad};
use super::sequence::SequenceSet;
use crate::datetime::parse_date;

/// One search key. Dates are day numbers (days since 1970-01-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Several keys that must all match (the top level, or a parenthesised list).
    And(Vec<SearchKey>),
    /// OR key key.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// NOT key.
    Not(Box<SearchKey>),
    /// ALL.
    All,
    /// A flag that must be set (ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD x).
    Flag(String),
    /// A flag that must not be set (UNANSWERED, ..., UNKEYWORD x).
    NotFlag(String),
    /// NEW = RECENT UNSEEN.
    New,
    /// OLD = NOT RECENT.
    Old,
    /// RECENT.
    Recent,
    /// A header field containing a string (BCC, CC, FROM, SUBJECT, TO, HEADER name value).
    Header(String, String),
    /// BODY string.
    Body(String),
    /// TEXT string (header or body).
    Text(String),
    /// BEFORE date (internal date).
    Before(i64),
    /// ON date.
    On(i64),
    /// SINCE date.
    Since(i64),
    /// SENTBEFORE date (Date: header).
    SentBefore(i64),
    /// SENTON date.
    SentOn(i64),
    /// SENTSINCE date.
    SentSince(i64),
    /// LARGER n.
    Larger(u32),
    /// SMALLER n.
    Smaller(u32),
    /// UID set.
    Uid(SequenceSet),
    /// A message sequence set.
    Seq(SequenceSet),
    /// MODSEQ n: mod-sequence at least n (RFC 7162 3.1.5).
    ModSeq(u64),
}

/// ESEARCH result options (RFC 4731 3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// MIN.
    pub min: bool,
    /// MAX.
    pub max: bool,
    /// ALL.
    pub all: bool,
    /// COUNT.
    pub count: bool,
}

/// A parsed SEARCH command's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchProgram {
    /// RETURN (...) given: answer with ESEARCH.
    pub ret: Option<SearchReturn>,
    /// CHARSET, upper-cased; `None` means US-ASCII. The session refuses unknown ones
    /// with `NO [BADCHARSET]` (RFC 3501 6.4.4).
    pub charset: Option<String>,
    /// The criteria (an `And` of the top-level keys).
    pub key: SearchKey,
}

/// Charsets whose strings we can compare (US-ASCII is a subset of UTF-8).
pub const CHARSETS: &[&str] = &["US-ASCII", "UTF-8"];

const MAX_DEPTH: u32 = 64;

/// Parses what follows `SEARCH` (RFC 3501 9 `search`, RFC 4466 2.6 `search-return-opts`).
pub fn parse_program(c: &mut Cursor) -> Parsed<SearchProgram> {
    c.sp()?;
    let mut ret = None;
    if c.peek_word("RETURN ") {
        c.eat_word("RETURN ");
        let mut r = SearchReturn::default();
        let opts = c.list(true, |c| {
            let w = c.word("a RETURN option")?;
            match w.as_str() {
                "MIN" => r.min = true,
                "MAX" => r.max = true,
                "ALL" => r.all = true,
                "COUNT" => r.count = true,
                "SAVE" => return bad("RETURN (SAVE) is not supported (no SEARCHRES)"),
                _ => return bad(format!("Unknown RETURN option {w}")),
            }
            Ok(())
        })?;
        // RFC 4731 3.1: RETURN () means RETURN (ALL).
        r.all |= opts.is_empty();
        ret = Some(r);
        c.sp()?;
    }
    let mut charset = None;
    if c.peek_word("CHARSET ") {
        c.eat_word("CHARSET ");
        let name = c.astring("a charset name")?;
        charset = Some(String::from_utf8_lossy(&name).to_ascii_uppercase());
        c.sp()?;
    }
    let mut keys = vec![parse_key(c, 0)?];
    while c.eat(b' ') {
        keys.push(parse_key(c, 0)?);
    }
    Ok(SearchProgram { ret, charset, key: SearchKey::And(keys) })
}

fn string(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    let bytes = c.astring("a search string")?;
    // Strings are compared as UTF-8 text; US-ASCII is its subset.
    String::from_utf8(bytes).or_else(|_| bad("Search string is not valid UTF-8 (use CHARSET UTF-8 with UTF-8 text)"))
}

fn date(c: &mut Cursor) -> Parsed<i64> {
    c.sp()?;
    // date = date-text / DQUOTE date-text DQUOTE
    let text = if c.peek() == Some(b'"') { c.quoted()? } else { c.atom("a date")?.as_bytes().to_vec() };
    let text = String::from_utf8_lossy(&text).into_owned();
    parse_date(&text).map_or_else(|| bad(format!("Invalid date {text:?}: use d-Mon-yyyy, as 1-Feb-1994")), Ok)
}

fn flag_keyword(c: &mut Cursor) -> Parsed<String> {
    c.sp()?;
    Ok(c.atom("a keyword")?.to_string())
}

fn parse_key(c: &mut Cursor, depth: u32) -> Parsed<SearchKey> {
    use SearchKey::*;
    if depth > MAX_DEPTH {
        return bad(format!("[LIMIT] Search criteria nested more than {MAX_DEPTH} deep"));
    }
    match c.peek() {
        Some(b'(') => return Ok(And(c.list(false, |c| parse_key(c, depth + 1))?)),
        Some(b'0'..=b'9' | b'*' | b'$') => return Ok(Seq(SequenceSet::parse(c)?)),
        _ => {}
    }
    let name = c.word("a search key")?;
    let flag = |f: &str| Ok(Flag(f.to_string()));
    let not_flag = |f: &str| Ok(NotFlag(f.to_string()));
    match name.as_str() {
        "ALL" => Ok(All),
        "ANSWERED" => flag("\\Answered"),
        "DELETED" => flag("\\Deleted"),
        "DRAFT" => flag("\\Draft"),
        "FLAGGED" => flag("\\Flagged"),
        "SEEN" => flag("\\Seen"),
        "UNANSWERED" => not_flag("\\Answered"),
        "UNDELETED" => not_flag("\\Deleted"),
        "UNDRAFT" => not_flag("\\Draft"),
        "UNFLAGGED" => not_flag("\\Flagged"),
        "UNSEEN" => not_flag("\\Seen"),
        "KEYWORD" => Ok(Flag(flag_keyword(c)?)),
        "UNKEYWORD" => Ok(NotFlag(flag_keyword(c)?)),
        "NEW" => Ok(New),
        "OLD" => Ok(Old),
        "RECENT" => Ok(Recent),
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => Ok(Header(name.clone(), string(c)?)),
        "HEADER" => {
            let field = string(c)?;
            Ok(Header(field, string(c)?))
        }
        "BODY" => Ok(Body(string(c)?)),
        "TEXT" => Ok(Text(string(c)?)),
        "BEFORE" => Ok(Before(date(c)?)),
        "ON" => Ok(On(date(c)?)),
        "SINCE" => Ok(Since(date(c)?)),
        "SENTBEFORE" => Ok(SentBefore(date(c)?)),
        "SENTON" => Ok(SentOn(date(c)?)),
        "SENTSINCE" => Ok(SentSince(date(c)?)),
        "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number()?;
            Ok(if name == "LARGER" { Larger(n) } else { Smaller(n) })
        }
        "UID" => {
            c.sp()?;
            Ok(Uid(SequenceSet::parse(c)?))
        }
        "NOT" => {
            c.sp()?;
            Ok(Not(Box::new(parse_key(c, depth + 1)?)))
        }
        "OR" => {
            c.sp()?;
            let a = parse_key(c, depth + 1)?;
            c.sp()?;
            Ok(Or(Box::new(a), Box::new(parse_key(c, depth + 1)?)))
        }
        "MODSEQ" => {
            c.sp()?;
            // RFC 7162 3.1.5: [entry-name SP entry-type-req SP] mod-sequence-valzer.
            if c.peek() == Some(b'"') {
                c.quoted()?;
                c.sp()?;
                let kind = c.word("priv, shared or all")?;
                if !matches!(kind.as_str(), "PRIV" | "SHARED" | "ALL") {
                    return bad(format!("Expected priv, shared or all, found {kind}"));
                }
                c.sp()?;
            }
            Ok(ModSeq(c.number64()?))
        }
        _ => bad(format!("Unknown search key {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::SearchKey::*;
    use super::*;
    use crate::datetime::days_from_civil;

    fn program(s: &str) -> Parsed<SearchProgram> {
        parse_program(&mut Cursor::new(s.as_bytes()))
    }

    #[test]
    fn keys() {
        let p = program(" RETURN (MIN COUNT) CHARSET utf-8 OR (SEEN 1:3) NOT FROM \"bob\" SINCE 1-Feb-1994").unwrap();
        assert_eq!(p.ret, Some(SearchReturn { min: true, count: true, ..Default::default() }));
        assert_eq!(p.charset.as_deref(), Some("UTF-8"));
        let SearchKey::And(keys) = p.key else { panic!() };
        assert_eq!(keys.len(), 2);
        assert!(matches!(&keys[0], Or(a, b) if matches!(**a, And(_)) && matches!(**b, Not(_))));
        assert_eq!(keys[1], Since(days_from_civil(1994, 2, 1)));
        assert!(program(" RETURN () ALL").unwrap().ret.unwrap().all);
        let p =
            program(" HEADER X-Spam {3}\r\nyes MODSEQ \"/flags/\\\\draft\" all 620162338 LARGER 10 UNKEYWORD $Junk")
                .unwrap();
        assert_eq!(
            p.key,
            And(vec![Header("X-Spam".into(), "yes".into()), ModSeq(620162338), Larger(10), NotFlag("$Junk".into())])
        );
        assert_eq!(program(" SENTON \"3-Mar-2003\"").unwrap().key, And(vec![SentOn(days_from_civil(2003, 3, 3))]));
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            (" FOO", "Unknown search key FOO"),
            (" SINCE 1-Fev-1994", "Invalid date \"1-Fev-1994\": use d-Mon-yyyy, as 1-Feb-1994"),
            (" OR SEEN", "Expected a space, found the end of the line"),
            (" ()", "Empty list"),
            (" RETURN (SAVE) ALL", "RETURN (SAVE) is not supported (no SEARCHRES)"),
            (" LARGER x", "Expected a number, found 'x'"),
            (" UID 0", "Invalid sequence set: 0 is not a message number or UID"),
            ("", "Expected a space, found the end of the line"),
        ] {
            assert_eq!(program(s).unwrap_err().0, why, "{s}");
        }
        let e = parse_program(&mut Cursor::new(b" SUBJECT {2}\r\n\xc3(")).unwrap_err();
        assert_eq!(e.0, "Search string is not valid UTF-8 (use CHARSET UTF-8 with UTF-8 text)");
        let deep = format!(" {}ALL", "NOT ".repeat(100));
        assert!(program(&deep).unwrap_err().0.starts_with("[LIMIT]"));
    }
}
