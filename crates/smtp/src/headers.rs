//! Just enough of RFC 5322 for a mail server's own checks: the header fields of a message
//! (unfolded) and the addresses in an address-list field. Full MIME parsing is not needed here.

/// One line of a header section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `name:value`, neither trimmed.
    Field(String, String),
    /// A line starting with white space: it continues the field above (RFC 5322 2.2.3).
    Folded(String),
    /// Neither: the body started without its empty line, or the header is broken.
    Other,
}

/// The lines of the header section, up to the first empty line, with their line numbers
/// (from 1).
pub fn lines(message: &[u8]) -> impl Iterator<Item = (usize, Line)> + '_ {
    let raw_lines = message.split(|&b| b == b'\n').map(|raw| raw.strip_suffix(b"\r").unwrap_or(raw));
    raw_lines.take_while(|line| !line.is_empty()).enumerate().map(|(i, line)| {
        let text = String::from_utf8_lossy(line);
        let kind = match text.split_once(':') {
            _ if line[0] == b' ' || line[0] == b'\t' => Line::Folded(text.into_owned()),
            Some((name, value)) => Line::Field(name.to_string(), value.to_string()),
            None => Line::Other,
        };
        (i + 1, kind)
    })
}

/// The header fields up to the first empty line, unfolded (RFC 5322 2.2.3), as (name, value).
pub fn fields(message: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (_, line) in lines(message) {
        match line {
            Line::Field(name, value) => out.push((name.trim().to_string(), value.trim().to_string())),
            // A continuation line belongs to the field above it.
            Line::Folded(text) => {
                if let Some((_, value)) = out.last_mut() {
                    value.push_str(&text);
                }
            }
            Line::Other => break, // not a header line: the body started without its empty line
        }
    }
    out
}

/// How many `Received:` fields the header has: the hops the message has made.
pub fn received_count(message: &[u8]) -> usize {
    fields(message).iter().filter(|(n, _)| n.eq_ignore_ascii_case("Received")).count()
}

/// True when the message has a field of this name (case-insensitive).
pub fn has(fields: &[(String, String)], name: &str) -> bool {
    fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The addr-specs in an address-list (RFC 5322 3.4): `Name <a@b>`, `a@b (comment)`,
/// `"quoted, name" <a@b>`, and groups `team: a@b, c@d;`.
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut angle: Option<String> = None;
    let (mut quoted, mut comment, mut in_angle) = (false, 0u32, false);
    let mut flush = |current: &mut String, angle: &mut Option<String>| {
        let candidate = angle.take().unwrap_or_else(|| current.trim().to_string());
        if candidate.contains('@') {
            out.push(candidate.trim().to_string());
        }
        current.clear();
    };
    for c in value.chars() {
        match c {
            '"' if comment == 0 && !in_angle => quoted = !quoted,
            '(' if !quoted && !in_angle => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            _ if comment > 0 || quoted => {}
            '<' => {
                in_angle = true;
                angle = Some(String::new());
            }
            '>' => in_angle = false,
            _ if in_angle => angle.get_or_insert_with(String::new).push(c),
            // A group's display name ends with ':'; its list ends with ';'.
            ':' => current.clear(),
            ',' | ';' => flush(&mut current, &mut angle),
            _ => current.push(c),
        }
    }
    flush(&mut current, &mut angle);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_stops_at_the_body() {
        let f = fields(b"From: Bob\r\n <bob@example.com>\r\nSubject: hi\r\n\tthere\r\n\r\nBody: not a header\r\n");
        assert_eq!(f, [("From".into(), "Bob <bob@example.com>".into()), ("Subject".into(), "hi\tthere".into())]);
        assert!(has(&f, "subject") && !has(&f, "Body"));
        assert_eq!(fields(b"no header here\r\n").len(), 0);
    }

    #[test]
    fn address_lists() {
        assert_eq!(addresses("bob@example.com"), ["bob@example.com"]);
        assert_eq!(addresses("Bob Smith <bob@example.com>"), ["bob@example.com"]);
        assert_eq!(
            addresses("\"Smith, Bob\" <bob@example.com>, amy@example.org (Amy)"),
            ["bob@example.com", "amy@example.org"]
        );
        assert_eq!(
            addresses("team: a@example.com, b@example.com;, c@example.com"),
            ["a@example.com", "b@example.com", "c@example.com"]
        );
        assert_eq!(addresses("\"fake <evil@example.net>\" <bob@example.com>"), ["bob@example.com"]);
        assert_eq!(addresses("(comment <x@y.z>) real@example.com"), ["real@example.com"]);
        assert!(addresses("undisclosed-recipients:;").is_empty());
    }
}
