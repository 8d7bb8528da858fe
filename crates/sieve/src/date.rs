//! Date parts (RFC 5260 4.2) of a moment shown in a zone.

use carrier_syntax::date::{civil_from_days, days_from_civil};
use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

/// A moment (seconds since 1970, UTC) and the zone to show it in (minutes east of UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub unix: i64,
    pub zone: i32,
}

/// An RFC 5322 date (RFC 5260 4: the `date` test reads header fields), with its own zone.
pub fn parse(value: &str) -> Option<Moment> {
    let input = format!("{value}\r\n");
    let HeaderValue::DateTime(d) = MessageStream::new(input.as_bytes()).parse_date() else { return None };
    if d.month == 0 || d.month > 12 || d.day == 0 || d.day > 31 {
        return None;
    }
    let zone = (i32::from(d.tz_hour) * 60 + i32::from(d.tz_minute)) * if d.tz_before_gmt { -1 } else { 1 };
    let days = days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day));
    let local = days * 86_400 + i64::from(d.hour) * 3600 + i64::from(d.minute) * 60 + i64::from(d.second);
    Some(Moment { unix: local - i64::from(zone) * 60, zone })
}

/// The value of `part` ("year", "date", "iso8601", ...), or None for an unknown part.
pub fn part(m: Moment, part: &str) -> Option<String> {
    let local = m.unix + i64::from(m.zone) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let zone = format!("{}{:02}{:02}", if m.zone < 0 { '-' } else { '+' }, m.zone.abs() / 60, m.zone.abs() % 60);
    Some(match part.to_ascii_lowercase().as_str() {
        "year" => format!("{y:04}"),
        "month" => format!("{mo:02}"),
        "day" => format!("{d:02}"),
        "date" => format!("{y:04}-{mo:02}-{d:02}"),
        // RFC 5260 4.2: the Modified Julian Day.
        "julian" => (days + 40_587).to_string(),
        "hour" => format!("{h:02}"),
        "minute" => format!("{mi:02}"),
        "second" => format!("{s:02}"),
        "time" => format!("{h:02}:{mi:02}:{s:02}"),
        "iso8601" => {
            let z = if m.zone == 0 { "Z".to_string() } else { format!("{}:{}", &zone[..3], &zone[3..]) };
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{z}")
        }
        "std11" => {
            const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
            const MONTHS: [&str; 12] =
                ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let weekday = DAYS[days.rem_euclid(7) as usize];
            format!("{weekday}, {d} {} {y:04} {h:02}:{mi:02}:{s:02} {zone}", MONTHS[mo as usize - 1])
        }
        "zone" => zone,
        // 0 is Sunday; 1970-01-01 was a Thursday.
        "weekday" => ((days + 4).rem_euclid(7)).to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5260_date_parts() {
        let m = parse("Tue, 1 Jun 2010 15:01:02 +0200").unwrap();
        assert_eq!(part(m, "date").unwrap(), "2010-06-01");
        assert_eq!(part(m, "time").unwrap(), "15:01:02");
        assert_eq!(part(m, "zone").unwrap(), "+0200");
        assert_eq!(part(m, "weekday").unwrap(), "2");
        assert_eq!(part(m, "iso8601").unwrap(), "2010-06-01T15:01:02+02:00");
        assert_eq!(part(m, "std11").unwrap(), "Tue, 1 Jun 2010 15:01:02 +0200");
        assert_eq!(part(m, "julian").unwrap(), "55348");
        let utc = Moment { zone: 0, ..m };
        assert_eq!(part(utc, "hour").unwrap(), "13");
        let west = Moment { zone: -300, ..m };
        assert_eq!(part(west, "iso8601").unwrap(), "2010-06-01T08:01:02-05:00");
        assert_eq!(part(m, "fortnight"), None);
        assert_eq!(parse("not a date"), None);
    }
}
