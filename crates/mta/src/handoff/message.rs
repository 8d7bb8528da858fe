//! The message a `sendmail` caller writes on stdin, made ready for the queue: line ends to
//! CRLF, the end-of-input dot, the header/body boundary, `-t` recipients, `Bcc:` removal and
//! the From:/Date:/Message-ID: fields a script forgot. Pure: bytes in, bytes out.

use crate::sysexits::{self, Failure};
use carrier_smtp::headers;

/// How to read the input.
pub struct Options {
    /// `-i`: a lone `.` line is content, not the end.
    pub ignore_dots: bool,
    /// `-t`: take recipients from To:, Cc: and Bcc:.
    pub extract: bool,
    /// Largest message accepted, in octets.
    pub max_size: u64,
}

/// Fields added when the message lacks them (RFC 5322 3.6: From: and Date: are required;
/// RFC 6409 8.3: a submission agent may add Message-ID:).
pub struct Defaults {
    /// The From: value, e.g. `Alice Example <alice@mx.example.com>`.
    pub from: String,
    /// The Date: value.
    pub date: String,
    /// The Message-ID: value, with its angle brackets.
    pub message_id: String,
}

/// A message ready for the queue.
#[derive(Debug)]
pub struct Prepared {
    /// The message with CRLF line ends.
    pub message: Vec<u8>,
    /// Addresses from To:/Cc:/Bcc: when `-t` was given.
    pub recipients: Vec<String>,
    /// Repairs made, for a note on stderr.
    pub notes: Vec<String>,
    /// Some octet has the high bit set (8BITMIME, RFC 6152).
    pub eight_bit: bool,
}

fn data_error(text: String) -> Failure {
    Failure::new(sysexits::DATAERR, text)
}

/// Prepares the input; see the module comment.
pub fn prepare(input: &[u8], opts: &Options, defaults: &Defaults) -> Result<Prepared, Failure> {
    let lines = split_lines(input, opts.ignore_dots)?;
    let mut notes = Vec::new();
    let (mut head, body, separator) = split_header(&lines);
    if let Some(n) = separator.missing_at {
        notes.push(format!(
            "line {n} does not look like a header field and no empty line came before it; \
             an empty line was inserted there to end the header (RFC 5322 2.1)"
        ));
    }
    let fields = headers::fields(&join(&head));
    let mut recipients = Vec::new();
    if opts.extract {
        for (name, value) in &fields {
            if ["To", "Cc", "Bcc"].iter().any(|f| name.eq_ignore_ascii_case(f)) {
                recipients.extend(headers::addresses(value));
            }
        }
        // Bcc: recipients get the message but must not be seen by the others.
        head = remove_field(head, "Bcc");
    }
    let mut added: Vec<Vec<u8>> = Vec::new();
    for (name, value) in [("From", &defaults.from), ("Date", &defaults.date), ("Message-ID", &defaults.message_id)] {
        if !headers::has(&fields, name) {
            added.push(format!("{name}: {value}").into_bytes());
        }
    }
    let mut all: Vec<&[u8]> = added.iter().map(Vec::as_slice).collect();
    all.extend(head);
    all.push(b"");
    all.extend(body);
    let message = join(&all);
    if message.len() as u64 > opts.max_size {
        return Err(data_error(format!(
            "the message is {} octets, more than the {} this server accepts (smtp.max_message_size); \
             send large files another way or raise the limit",
            message.len(),
            opts.max_size
        )));
    }
    let eight_bit = message.iter().any(|b| *b >= 0x80);
    Ok(Prepared { message, recipients, notes, eight_bit })
}

/// Lines without their ends; stops at a lone `.` unless `ignore_dots`. A leading mbox
/// `From ` line is dropped, as sendmail does.
fn split_lines(input: &[u8], ignore_dots: bool) -> Result<Vec<&[u8]>, Failure> {
    let mut lines = Vec::new();
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    if body.is_empty() {
        return Ok(lines);
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let n = i + 1;
        if !ignore_dots && line == b"." {
            break;
        }
        if i == 0 && line.starts_with(b"From ") {
            continue;
        }
        check_line(line, n)?;
        lines.push(line);
    }
    Ok(lines)
}

/// Checks a message that is already in CRLF form (a pickup file or a SUBMIT from a local user):
/// every line ends in CRLF and passes [`check_line`].
pub fn check_crlf(message: &[u8]) -> Result<(), Failure> {
    let body = message.strip_suffix(b"\n").unwrap_or(message);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").ok_or_else(|| data_error(format!("line {} does not end in CRLF", i + 1)))?;
        check_line(line, i + 1)?;
    }
    Ok(())
}

/// The rules the SMTP listener applies to DATA (RFC 5321 4.5.3.1.6, 2.3.8), so a message
/// cannot enter through sendmail in a shape SMTP would refuse.
fn check_line(line: &[u8], n: usize) -> Result<(), Failure> {
    if line.contains(&0) {
        return Err(data_error(format!(
            "line {n} contains a NUL byte; mail must be text (attach binary data with MIME)"
        )));
    }
    if line.contains(&b'\r') {
        return Err(data_error(format!(
            "line {n} contains a carriage return that does not end the line; end lines with LF or CRLF only"
        )));
    }
    if line.len() > 998 {
        return Err(data_error(format!(
            "line {n} is {} octets long; mail lines may be at most 998 (RFC 5322 2.1.1): wrap it, \
             or send the text as a MIME attachment",
            line.len()
        )));
    }
    Ok(())
}

struct Separator {
    /// The 1-based input line where a missing empty line was assumed.
    missing_at: Option<usize>,
}

/// Splits header lines from body lines. The header ends at the first empty line, or at the
/// first line that is neither a field nor a continuation (then the empty line is supplied).
fn split_header<'a>(lines: &[&'a [u8]]) -> (Vec<&'a [u8]>, Vec<&'a [u8]>, Separator) {
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            return (lines[..i].to_vec(), lines[i + 1..].to_vec(), Separator { missing_at: None });
        }
        let continuation = i > 0 && (line[0] == b' ' || line[0] == b'\t');
        if !continuation && !is_field(line) {
            // A message that starts with body text simply has no header of its own.
            let missing_at = (i > 0).then_some(i + 1);
            return (lines[..i].to_vec(), lines[i..].to_vec(), Separator { missing_at });
        }
    }
    (lines.to_vec(), Vec::new(), Separator { missing_at: None })
}

/// RFC 5322 2.2: a field name is printable ASCII except colon, followed by a colon.
fn is_field(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
        _ => false,
    }
}

/// Drops every field called `name`, with its continuation lines.
fn remove_field<'a>(head: Vec<&'a [u8]>, name: &str) -> Vec<&'a [u8]> {
    let mut keep = true;
    let mut out = Vec::new();
    for line in head {
        if !(line.starts_with(b" ") || line.starts_with(b"\t")) {
            let field = line.split(|&b| b == b':').next().unwrap_or_default();
            keep = !field.trim_ascii().eq_ignore_ascii_case(name.as_bytes());
        }
        if keep {
            out.push(line);
        }
    }
    out
}

fn join<T: AsRef<[u8]>>(lines: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 2).sum());
    for line in lines {
        out.extend_from_slice(line.as_ref());
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(ignore_dots: bool, extract: bool) -> Options {
        Options { ignore_dots, extract, max_size: 10_000 }
    }

    fn defaults() -> Defaults {
        Defaults {
            from: "Al <al@mx.example.com>".into(),
            date: "Thu, 1 Jan 1970 00:00:00 +0000".into(),
            message_id: "<id@mx.example.com>".into(),
        }
    }

    fn text(p: &Prepared) -> String {
        String::from_utf8(p.message.clone()).unwrap()
    }

    #[test]
    fn adds_missing_fields_and_uses_crlf() {
        let p = prepare(b"Subject: hi\n\nbody\n", &opts(false, false), &defaults()).unwrap();
        assert_eq!(
            text(&p),
            "From: Al <al@mx.example.com>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\n\
             Message-ID: <id@mx.example.com>\r\nSubject: hi\r\n\r\nbody\r\n"
        );
        assert!(p.notes.is_empty() && !p.eight_bit);
    }

    #[test]
    fn keeps_fields_that_exist() {
        let input = b"From: b@x.example\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <m@x>\r\n\r\nhi\r\n";
        let p = prepare(input, &opts(false, false), &defaults()).unwrap();
        assert_eq!(p.message, input);
    }

    #[test]
    fn a_lone_dot_ends_input_unless_ignore_dots() {
        let input = b"Subject: s\n\none\n.\ntwo\n";
        assert!(!text(&prepare(input, &opts(false, false), &defaults()).unwrap()).contains("two"));
        let p = prepare(input, &opts(true, false), &defaults()).unwrap();
        assert!(text(&p).ends_with("one\r\n.\r\ntwo\r\n"), "{}", text(&p));
    }

    #[test]
    fn extracts_recipients_and_removes_bcc() {
        let input = b"To: Bob <bob@example.com>, carol@example.com\nCc: dan@example.org\nBcc: eve@example.net,\n  fay@example.net\nSubject: s\n\nx\n";
        let p = prepare(input, &opts(false, true), &defaults()).unwrap();
        assert_eq!(
            p.recipients,
            ["bob@example.com", "carol@example.com", "dan@example.org", "eve@example.net", "fay@example.net"]
        );
        let t = text(&p);
        assert!(!t.contains("Bcc") && !t.contains("eve@") && !t.contains("fay@"), "{t}");
        assert!(t.contains("Cc: dan@example.org\r\nSubject: s\r\n\r\nx\r\n"), "{t}");
    }

    #[test]
    fn a_missing_empty_line_is_inserted_with_a_note() {
        let p =
            prepare(b"Subject: s\nTo: a@example.com\nthis is the body\n", &opts(false, false), &defaults()).unwrap();
        assert!(text(&p).ends_with("To: a@example.com\r\n\r\nthis is the body\r\n"), "{}", text(&p));
        assert_eq!(p.notes.len(), 1);
        assert!(p.notes[0].starts_with("line 3 does not look like a header field"), "{:?}", p.notes);
        // Body text from the first line: no header of its own, no note.
        let p = prepare(b"just text\n", &opts(false, false), &defaults()).unwrap();
        assert!(text(&p).ends_with("\r\n\r\njust text\r\n") && p.notes.is_empty());
    }

    #[test]
    fn eight_bit_data_is_kept_and_flagged() {
        let input = "Subject: caf\u{e9}\n\nna\u{ef}ve \u{2603}\n".as_bytes();
        let p = prepare(input, &opts(false, false), &defaults()).unwrap();
        assert!(p.eight_bit);
        assert!(text(&p).ends_with("Subject: caf\u{e9}\r\n\r\nna\u{ef}ve \u{2603}\r\n"));
        // Latin-1 is not UTF-8 but is still just 8-bit content.
        assert!(prepare(b"\n\xe9t\xe9\n", &opts(false, false), &defaults()).unwrap().eight_bit);
    }

    #[test]
    fn bad_input_is_refused_with_the_line() {
        let e = prepare(b"Subject: s\n\na\0b\n", &opts(false, false), &defaults()).unwrap_err();
        assert_eq!(e.code, sysexits::DATAERR);
        assert!(e.text.starts_with("line 3 contains a NUL byte"), "{}", e.text);
        let e = prepare(b"Subject: s\n\na\rb\n", &opts(false, false), &defaults()).unwrap_err();
        assert!(e.text.contains("carriage return"), "{}", e.text);
        let long = format!("Subject: s\n\n{}\n", "x".repeat(999));
        let e = prepare(long.as_bytes(), &opts(false, false), &defaults()).unwrap_err();
        assert!(e.text.starts_with("line 3 is 999 octets long"), "{}", e.text);
        let big = format!("Subject: s\n\n{}\n", "y\n".repeat(6000));
        let e = prepare(big.as_bytes(), &opts(false, false), &defaults()).unwrap_err();
        assert!(e.text.contains("more than the 10000"), "{}", e.text);
    }

    #[test]
    fn crlf_messages_are_checked_line_by_line() {
        assert!(check_crlf(b"Subject: s\r\n\r\nbody\r\n").is_ok());
        assert!(check_crlf(b"Subject: s\r\n\nbody\r\n").unwrap_err().text.contains("line 2 does not end in CRLF"));
        assert!(check_crlf(b"a\0\r\n").unwrap_err().text.contains("NUL"));
    }

    #[test]
    fn an_mbox_from_line_is_dropped() {
        let p =
            prepare(b"From al Thu Jan  1 00:00:00 1970\nSubject: s\n\nx\n", &opts(false, false), &defaults()).unwrap();
        assert!(!text(&p).contains("From al"), "{}", text(&p));
    }
}
