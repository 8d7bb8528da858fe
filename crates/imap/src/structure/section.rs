//! BODY[section]<partial> contents (RFC 3501 6.4.5).

use super::header;
use super::mime::{Content, Part};
use crate::parser::{Section, SectionText};

/// Finds the part a section's numbers name: in a multipart the n-th child; in a
/// non-multipart message part 1 is its body; after a message/rfc822 part the numbers go
/// on in the encapsulated message.
fn find<'a>(root: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let mut cur = root;
    for (i, &n) in path.iter().enumerate() {
        if i > 0 {
            match &cur.content {
                Content::Message(inner) => cur = inner,
                Content::Leaf => return None,
                Content::Multipart(_) => {}
            }
        }
        match &cur.content {
            Content::Multipart(parts) => cur = parts.get(n as usize - 1)?,
            _ if n == 1 => {}
            _ => return None,
        }
    }
    Some(cur)
}

/// The octets of `section`; `None` when the message has no such part (sent as NIL).
pub fn extract(msg: &[u8], root: &Part, section: &Section) -> Option<Vec<u8>> {
    let part = find(root, &section.part)?;
    // HEADER and TEXT after part numbers refer to an encapsulated message (RFC 3501 6.4.5).
    let message = || if section.part.is_empty() { Some(part) } else { inner(part) };
    Some(match &section.text {
        None if section.part.is_empty() => msg[root.header.start..root.body.end].to_vec(),
        None => msg[part.body.clone()].to_vec(),
        Some(SectionText::Mime) => msg[part.header.clone()].to_vec(),
        Some(SectionText::Header) => msg[message()?.header.clone()].to_vec(),
        Some(SectionText::Text) => msg[message()?.body.clone()].to_vec(),
        Some(SectionText::HeaderFields(names)) => header::select(&msg[message()?.header.clone()], names, true),
        Some(SectionText::HeaderFieldsNot(names)) => header::select(&msg[message()?.header.clone()], names, false),
    })
}

fn inner(part: &Part) -> Option<&Part> {
    match &part.content {
        Content::Message(inner) => Some(inner),
        _ => None,
    }
}

/// `<origin.count>`: the substring, empty when origin is past the end (RFC 3501 6.4.5).
pub fn partial(data: &[u8], origin: u32, count: u32) -> &[u8] {
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(count as usize).min(data.len());
    &data[start..end]
}

#[cfg(test)]
mod tests {
    use super::super::mime::parse;
    use super::*;

    const M: &[u8] = b"From: a@b\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n\r\nplain\r\n--YY\r\n\
Content-Type: text/html\r\n\r\n<p>html</p>\r\n--YY--\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: in\r\nX-A: 1\r\n\r\ninner\r\n--XX--\r\n";

    fn get(spec: &[u32], text: Option<SectionText>) -> Option<String> {
        let root = parse(M);
        extract(M, &root, &Section { part: spec.to_vec(), text }).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn numbered_parts() {
        assert_eq!(get(&[], None).unwrap().len(), M.len());
        assert_eq!(get(&[1, 1], None).as_deref(), Some("plain"));
        assert_eq!(get(&[1, 2], None).as_deref(), Some("<p>html</p>"));
        assert_eq!(get(&[1, 2], Some(SectionText::Mime)).as_deref(), Some("Content-Type: text/html\r\n\r\n"));
        assert_eq!(get(&[2], None).as_deref(), Some("Subject: in\r\nX-A: 1\r\n\r\ninner"));
        assert_eq!(get(&[2, 1], None).as_deref(), Some("inner"));
        assert_eq!(get(&[2], Some(SectionText::Header)).as_deref(), Some("Subject: in\r\nX-A: 1\r\n\r\n"));
        assert_eq!(get(&[2], Some(SectionText::Text)).as_deref(), Some("inner"));
        assert_eq!(get(&[3], None), None);
        assert_eq!(get(&[1, 1, 1], None), None);
        assert_eq!(get(&[1], Some(SectionText::Header)), None);
    }

    #[test]
    fn header_sections() {
        assert_eq!(
            get(&[], Some(SectionText::HeaderFields(vec!["SUBJECT".into()]))).as_deref(),
            Some("Subject: s\r\n\r\n")
        );
        let not = get(&[], Some(SectionText::HeaderFieldsNot(vec!["content-type".into(), "from".into()])));
        assert_eq!(not.as_deref(), Some("Subject: s\r\n\r\n"));
        assert!(get(&[], Some(SectionText::Text)).unwrap().starts_with("--XX\r\n"));
    }

    #[test]
    fn single_part_numbering() {
        let m = b"Subject: x\r\n\r\nbody";
        let root = parse(m);
        let one = Section { part: vec![1], text: None };
        assert_eq!(extract(m, &root, &one).unwrap(), b"body");
        assert_eq!(extract(m, &root, &Section { part: vec![2], text: None }), None);
        let mime = Section { part: vec![1], text: Some(SectionText::Mime) };
        assert_eq!(extract(m, &root, &mime).unwrap(), b"Subject: x\r\n\r\n");
    }

    #[test]
    fn partials() {
        assert_eq!(partial(b"0123456789", 2, 3), b"234");
        assert_eq!(partial(b"0123456789", 8, 30), b"89");
        assert_eq!(partial(b"0123", 10, 1), b"");
    }
}
