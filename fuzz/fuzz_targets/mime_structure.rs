//! FETCH's view of a message: the MIME tree, BODYSTRUCTURE, ENVELOPE and sections of any
//! bytes a sender could deliver. Section offsets must always lie inside the message.
#![no_main]

use carrier_imap::parser::{Section, SectionText};
use carrier_imap::structure::{bodystructure, envelope, header, mime, section};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|msg: &[u8]| {
    let root = mime::parse(msg);
    let mut out = Vec::new();
    bodystructure::write(&mut out, msg, &root, true);
    bodystructure::write(&mut out, msg, &root, false);
    envelope::write(&mut out, &header::fields(&msg[root.header.clone()]));
    let texts = [
        None,
        Some(SectionText::Header),
        Some(SectionText::Text),
        Some(SectionText::Mime),
        Some(SectionText::HeaderFields(vec!["SUBJECT".into(), "from".into()])),
        Some(SectionText::HeaderFieldsNot(vec!["To".into()])),
    ];
    for part in [vec![], vec![1], vec![2], vec![1, 1], vec![2, 1, 3]] {
        for text in &texts {
            if part.is_empty() && *text == Some(SectionText::Mime) {
                continue; // not in the grammar
            }
            let s = Section { part: part.clone(), text: text.clone() };
            if let Some(data) = section::extract(msg, &root, &s) {
                let _ = section::partial(&data, 3, 10);
            }
        }
    }
    let _ = carrier_syntax::lines::crlf_len(msg);
});
