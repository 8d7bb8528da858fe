//! Dates: IMAP `date` / `date-time` (RFC 3501 9) and RFC 5322 3.3 `Date:` headers.

/// A point in time and the zone it was written in (an internal date keeps its zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The zone's offset from UTC in minutes (east positive).
    pub offset: i32,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

pub use carrier_syntax::date::{civil_from_days, days_from_civil};

fn month(name: &str) -> Option<u32> {
    MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name)).map(|i| i as u32 + 1)
}

fn valid_day(y: i64, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && civil_from_days(days_from_civil(y, m, d)) == (y, m, d)
}

/// RFC 3501 9 `date-text`: `d-Mon-yyyy` (1 or 2 digit day), as a day number.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut it = text.split('-');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || d.is_empty() || d.len() > 2 || y.len() != 4 {
        return None;
    }
    let (d, m, y) = (digits(d)? as u32, month(m)?, digits(y)?);
    valid_day(y, m, d).then(|| days_from_civil(y, m, d))
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9 {
        return None;
    }
    s.parse().ok()
}

impl DateTime {
    /// The calendar day in the time's own zone (SEARCH SINCE etc. ignore time and zone).
    pub fn day(&self) -> i64 {
        (self.unix + i64::from(self.offset) * 60).div_euclid(86_400)
    }

    /// RFC 3501 9 `date-time` without quotes: `dd-Mon-yyyy hh:mm:ss +zzzz`, day space-padded.
    pub fn to_imap(&self) -> String {
        let local = self.unix + i64::from(self.offset) * 60;
        let (y, m, d) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let sign = if self.offset < 0 { '-' } else { '+' };
        let off = self.offset.unsigned_abs();
        format!(
            "{d:>2}-{}-{y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            MONTHS[m as usize - 1],
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            off / 60,
            off % 60
        )
    }

    /// Parses RFC 3501 9 `date-time` content (without the quotes).
    pub fn parse_imap(text: &str) -> Option<DateTime> {
        let b = text.as_bytes();
        if b.len() != 26 || b[2] != b'-' || b[6] != b'-' || b[11] != b' ' || b[20] != b' ' {
            return None;
        }
        // date-day-fixed = (SP DIGIT) / 2DIGIT
        let day = if b[0] == b' ' { digits(&text[1..2])? } else { digits(&text[0..2])? } as u32;
        let (m, y) = (month(&text[3..6])?, digits(&text[7..11])?);
        let (h, mi, s) = time(&text[12..20])?;
        let offset = zone(&text[21..26])?;
        valid_day(y, m, day).then(|| DateTime::from_parts(y, m, day, h * 3600 + mi * 60 + s, offset))
    }

    fn from_parts(y: i64, m: u32, d: u32, secs: i64, offset: i32) -> DateTime {
        DateTime { unix: days_from_civil(y, m, d) * 86_400 + secs - i64::from(offset) * 60, offset }
    }

    /// Parses an RFC 5322 3.3 date (with the obsolete forms of 4.3: two-digit years,
    /// named zones, comments), as found in `Date:` headers. `None` when unreadable.
    pub fn parse_rfc5322(text: &str) -> Option<DateTime> {
        let cleaned = strip_comments(text);
        let mut words = cleaned.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).peekable();
        if words.peek().is_some_and(|w| w.chars().all(char::is_alphabetic)) {
            words.next(); // day-of-week
        }
        let d = digits(words.next()?)? as u32;
        let m = month(words.next()?)?;
        let y = match words.next()? {
            y if y.len() == 2 => 1900 + digits(y)? + if digits(y)? < 50 { 100 } else { 0 },
            y if y.len() == 3 => 1900 + digits(y)?,
            y => digits(y)?,
        };
        let t = words.next()?;
        let (h, mi, s) = if t.len() == 5 { time(&format!("{t}:00"))? } else { time(t)? };
        let offset = words.next().map_or(Some(0), named_or_numeric_zone)?;
        valid_day(y, m, d).then(|| DateTime::from_parts(y, m, d, h * 3600 + mi * 60 + s, offset))
    }
}

fn time(t: &str) -> Option<(i64, i64, i64)> {
    let mut it = t.split(':');
    let (h, m, s) = (digits(it.next()?)?, digits(it.next()?)?, digits(it.next()?)?);
    (it.next().is_none() && t.len() == 8 && h < 24 && m < 60 && s <= 60).then_some((h, m, s))
}

fn zone(z: &str) -> Option<i32> {
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if z.len() != 5 {
        return None;
    }
    let (h, m) = (digits(&z[1..3])? as i32, digits(&z[3..5])? as i32);
    (m < 60).then_some(sign * (h * 60 + m))
}

/// RFC 5322 4.3 obsolete zones; unknown military zones mean "-0000" (no information).
fn named_or_numeric_zone(z: &str) -> Option<i32> {
    if let Some(off) = zone(z) {
        return Some(off);
    }
    let hours = match z.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        other if other.len() == 1 && other.chars().all(|c| c.is_ascii_alphabetic()) => 0,
        _ => return None,
    };
    Some(hours * 60)
}

fn strip_comments(text: &str) -> String {
    let mut depth = 0u32;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-800_000, -1, 0, 1, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn imap_dates() {
        assert_eq!(parse_date("1-Feb-1994"), Some(days_from_civil(1994, 2, 1)));
        assert_eq!(parse_date("01-feb-1994"), Some(days_from_civil(1994, 2, 1)));
        for bad in ["31-Feb-1994", "1-Foo-1994", "1-Feb-94", "-Feb-1994", "1-Feb-1994-1", "123-Feb-1994"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        let t = DateTime::parse_imap("17-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(t.offset, -420);
        assert_eq!(t.to_imap(), "17-Jul-1996 02:44:25 -0700");
        assert_eq!(t.unix, 837_596_665);
        let t = DateTime::parse_imap(" 7-Jul-1996 02:44:25 +0000").unwrap();
        assert_eq!(t.to_imap(), " 7-Jul-1996 02:44:25 +0000");
        assert_eq!(t.day(), days_from_civil(1996, 7, 7));
        for bad in ["17-Jul-1996 02:44:25", "17-Jul-1996 24:44:25 -0700", "7-Jul-1996 02:44:25 -0700x"] {
            assert_eq!(DateTime::parse_imap(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_dates() {
        let t = DateTime::parse_rfc5322("Mon, 7 Feb 1994 21:52:25 -0800 (PST)").unwrap();
        assert_eq!(t, DateTime::parse_imap(" 7-Feb-1994 21:52:25 -0800").unwrap());
        let t = DateTime::parse_rfc5322("7 Feb 94 21:52 EST").unwrap();
        assert_eq!(t.to_imap(), " 7-Feb-1994 21:52:00 -0500");
        assert_eq!(DateTime::parse_rfc5322("1 Jan 05 00:00:00 GMT").unwrap().to_imap(), " 1-Jan-2005 00:00:00 +0000");
        assert_eq!(DateTime::parse_rfc5322("yesterday"), None);
        assert_eq!(DateTime::parse_rfc5322(""), None);
    }
}
