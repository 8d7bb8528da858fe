//! FETCH data items (RFC 3501 6.4.5, 9 `fetch-att`; RFC 7162 MODSEQ / CHANGEDSINCE).

use super::lexer::{Cursor, Parsed, bad, is_atom_char};

/// A section of a message (RFC 3501 9 `section-spec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers (`1.2.3`); empty for the whole message.
    pub part: Vec<u32>,
    /// What of that part.
    pub text: Option<SectionText>,
}

/// `section-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    /// ENVELOPE.
    Envelope,
    /// FLAGS.
    Flags,
    /// INTERNALDATE.
    InternalDate,
    /// RFC822 (= BODY[], sets \Seen).
    Rfc822,
    /// RFC822.HEADER (= BODY.PEEK[HEADER]).
    Rfc822Header,
    /// RFC822.SIZE.
    Rfc822Size,
    /// RFC822.TEXT (= BODY[TEXT], sets \Seen).
    Rfc822Text,
    /// BODY (structure without extension data).
    Body,
    /// BODYSTRUCTURE.
    BodyStructure,
    /// UID.
    Uid,
    /// MODSEQ (RFC 7162 3.1.4.1).
    ModSeq,
    /// BODY[section]<partial> or BODY.PEEK[...].
    Section {
        /// BODY.PEEK does not set \Seen.
        peek: bool,
        /// Which part.
        section: Section,
        /// <origin.count>.
        partial: Option<(u32, u32)>,
    },
}

/// FETCH modifiers (RFC 4466 2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchModifiers {
    /// CHANGEDSINCE mod-sequence (RFC 7162 3.1.4.1).
    pub changed_since: Option<u64>,
    /// VANISHED (RFC 7162 3.2.6, UID FETCH only).
    pub vanished: bool,
}

/// Parses the item, the macro or the parenthesised list of items.
pub fn parse_items(c: &mut Cursor) -> Parsed<Vec<FetchAttr>> {
    use FetchAttr::*;
    if c.peek() == Some(b'(') {
        return c.list(false, parse_attr);
    }
    // RFC 3501 6.4.5: the macros, only on their own.
    for (name, items) in [
        ("ALL", &[Flags, InternalDate, Rfc822Size, Envelope][..]),
        ("FAST", &[Flags, InternalDate, Rfc822Size][..]),
        ("FULL", &[Flags, InternalDate, Rfc822Size, Envelope, Body][..]),
    ] {
        if c.peek_word(name) && !c.peek_after(name.len()).is_some_and(is_atom_char) {
            c.eat_word(name);
            return Ok(items.to_vec());
        }
    }
    Ok(vec![parse_attr(c)?])
}

fn parse_attr(c: &mut Cursor) -> Parsed<FetchAttr> {
    let name = c.word("a FETCH data item")?;
    Ok(match name.as_str() {
        "ENVELOPE" => FetchAttr::Envelope,
        "FLAGS" => FetchAttr::Flags,
        "INTERNALDATE" => FetchAttr::InternalDate,
        "RFC822" => FetchAttr::Rfc822,
        "RFC822.HEADER" => FetchAttr::Rfc822Header,
        "RFC822.SIZE" => FetchAttr::Rfc822Size,
        "RFC822.TEXT" => FetchAttr::Rfc822Text,
        "BODYSTRUCTURE" => FetchAttr::BodyStructure,
        "UID" => FetchAttr::Uid,
        "MODSEQ" => FetchAttr::ModSeq,
        "BODY" if c.peek() != Some(b'[') => FetchAttr::Body,
        "BODY" | "BODY.PEEK" => {
            let section = parse_section(c)?;
            let partial = parse_partial(c)?;
            FetchAttr::Section { peek: name == "BODY.PEEK", section, partial }
        }
        "ALL" | "FAST" | "FULL" => return bad(format!("The macro {name} cannot be used in a list")),
        "BINARY" | "BINARY.PEEK" | "BINARY.SIZE" => return bad(format!("{name} is not supported (no BINARY)")),
        _ => return bad(format!("Unknown FETCH data item {name}")),
    })
}

/// "[" [section-spec] "]"
pub fn parse_section(c: &mut Cursor) -> Parsed<Section> {
    c.expect(b'[', "'['")?;
    let mut section = Section::default();
    if c.eat(b']') {
        return Ok(section);
    }
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        section.part.push(c.nz_number()?);
        if !c.eat(b'.') {
            c.expect(b']', "']' or '.' after a part number")?;
            return Ok(section);
        }
    }
    let word = c.word("a section name")?;
    section.text = Some(match word.as_str() {
        "HEADER" => SectionText::Header,
        "TEXT" => SectionText::Text,
        "MIME" if !section.part.is_empty() => SectionText::Mime,
        "MIME" => return bad("MIME needs a part number, as in BODY[1.MIME]"),
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            c.sp()?;
            let names = c.list(false, |c| {
                let name = c.astring("a header field name")?;
                // RFC 5322 3.6.8 field-name: printable US-ASCII except ':'.
                if name.iter().any(|&b| !(0x21..=0x7e).contains(&b) || b == b':') {
                    return bad("Invalid header field name");
                }
                Ok(String::from_utf8_lossy(&name).into_owned())
            })?;
            if word == "HEADER.FIELDS" { SectionText::HeaderFields(names) } else { SectionText::HeaderFieldsNot(names) }
        }
        _ => return bad(format!("Unknown section {word}")),
    });
    c.expect(b']', "']'")?;
    Ok(section)
}

/// ["<" number "." nz-number ">"]
fn parse_partial(c: &mut Cursor) -> Parsed<Option<(u32, u32)>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number()?;
    c.expect(b'.', "'.' in <origin.length>")?;
    let length = c.nz_number()?;
    c.expect(b'>', "'>'")?;
    Ok(Some((origin, length)))
}

/// [SP "(" fetch-modifier *(SP fetch-modifier) ")"]
pub fn parse_modifiers(c: &mut Cursor) -> Parsed<FetchModifiers> {
    let mut m = FetchModifiers::default();
    if c.at_end() {
        return Ok(m);
    }
    c.sp()?;
    c.list(false, |c| {
        let name = c.word("a FETCH modifier")?;
        match name.as_str() {
            "CHANGEDSINCE" => {
                c.sp()?;
                m.changed_since = Some(c.number64()?);
            }
            "VANISHED" => m.vanished = true,
            _ => return bad(format!("Unknown FETCH modifier {name}")),
        }
        Ok(())
    })?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(s: &str) -> Parsed<Vec<FetchAttr>> {
        parse_items(&mut Cursor::new(s.as_bytes()))
    }

    #[test]
    fn macros_and_items() {
        assert_eq!(items("FAST").unwrap().len(), 3);
        assert_eq!(items("full").unwrap().last(), Some(&FetchAttr::Body));
        assert_eq!(items("(UID rfc822.size)").unwrap(), [FetchAttr::Uid, FetchAttr::Rfc822Size]);
        let attr = &items("BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.100>").unwrap()[0];
        assert_eq!(
            attr,
            &FetchAttr::Section {
                peek: true,
                section: Section {
                    part: vec![1, 2],
                    text: Some(SectionText::HeaderFields(vec!["From".into(), "To".into()]))
                },
                partial: Some((0, 100)),
            }
        );
        assert_eq!(
            items("BODY[]").unwrap()[0],
            FetchAttr::Section { peek: false, section: Section::default(), partial: None }
        );
        assert_eq!(
            items("BODY[3]").unwrap()[0],
            FetchAttr::Section { peek: false, section: Section { part: vec![3], text: None }, partial: None }
        );
        assert!(
            matches!(&items("BODY[2.MIME]").unwrap()[0], FetchAttr::Section { section, .. } if section.text == Some(SectionText::Mime))
        );
    }

    #[test]
    fn malformed() {
        for (s, why) in [
            ("(ALL)", "The macro ALL cannot be used in a list"),
            ("BODY[MIME]", "MIME needs a part number, as in BODY[1.MIME]"),
            ("BODY.PEEK", "Expected '[', found the end of the line"),
            ("BODY[0]", "Expected a non-zero number, found 0"),
            ("BODY[]<1.0>", "Expected a non-zero number, found 0"),
            ("BODY[HEADER.FIELDS ()]", "Empty list"),
            ("BODY[HEADER.FIELDS (a:b)]", "Invalid header field name"),
            ("XYZZY", "Unknown FETCH data item XYZZY"),
            ("()", "Empty list"),
            ("BODY[TEXT", "Expected ']', found the end of the line"),
        ] {
            assert_eq!(items(s).unwrap_err().0, why, "{s}");
        }
    }
}
