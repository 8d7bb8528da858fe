//! Message structure from raw RFC 5322 bytes: the MIME tree, ENVELOPE, BODY and
//! BODYSTRUCTURE, and BODY[section] extraction.
//!
//! Every function takes the message with CRLF line ends, the form IMAP sizes and offsets
//! are counted in (RFC 3501 2.3.4 RFC822.SIZE); `carrier_syntax::lines::to_crlf` converts a
//! stored LF message.

pub mod address;
pub mod bodystructure;
pub mod envelope;
pub mod header;
pub mod mime;
pub mod section;

pub use mime::{Content, Part, parse};

/// Length of a stored message's header, up to and including its first empty line (`LF` or
/// `CRLF` alone: after [`crlf`] that is where [`parse`] ends the header); the whole message
/// if it has no empty line.
pub fn header_len(msg: &[u8]) -> usize {
    let mut line = 0;
    while let Some(lf) = msg[line..].iter().position(|&b| b == b'\n') {
        let end = line + lf + 1;
        if matches!(&msg[line..end], b"\n" | b"\r\n") {
            return end;
        }
        line = end;
    }
    msg.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrier_syntax::lines::to_crlf;

    #[test]
    fn the_header_ends_where_parse_ends_it() {
        for msg in [
            &b"Subject: a\nTo: b\n\nbody\n\nmore"[..],
            b"Subject: a\r\n\r\nbody",
            b"Subject: a\n\r\nbody",
            b"\nbody only",
            b"Subject: a\n \nTo: b\n\nbody",
            b"Subject: only a header\n",
            b"Subject: no line end",
            b"",
            b"Subject: a\r\r\nX: b\n\nbody",
        ] {
            let len = header_len(msg);
            let whole = to_crlf(msg);
            let head = to_crlf(&msg[..len]);
            let (a, b) = (parse(&whole), parse(&head));
            assert_eq!(whole[a.header.clone()], head[b.header.clone()], "{:?}", String::from_utf8_lossy(msg));
            assert_eq!(b.header.end, head.len(), "nothing after the header: {:?}", String::from_utf8_lossy(msg));
        }
    }

    /// Random bytes and mangled MIME never panic any structure function.
    #[test]
    fn garbage_never_panics() {
        let seeds: [&[u8]; 4] = [
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n",
            b"From: \"a <b@c>, (x\r\nTo: g:;\r\nContent-Type: text/plain; a=\"\r\n\r\n",
            b"Content-Type: multipart/digest; boundary=\"\"\r\n\r\n--\r\n",
            b"\r\n\r\n--b--\r\n",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..3000 {
            let mut msg = seeds[round % seeds.len()].to_vec();
            for _ in 0..(round % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let piece: &[u8] = match x % 9 {
                    0 => b"\r\n",
                    1 => b"--b",
                    2 => b"--b--",
                    3 => b"Content-Type: message/rfc822\r\n",
                    4 => b"Content-Type: multipart/alternative; boundary=b\r\n",
                    5 => b"\"(<@:;,",
                    6 => b"\n",
                    _ => &[(x >> 8) as u8, (x >> 16) as u8],
                };
                let at = (x >> 24) as usize % (msg.len() + 1);
                msg.splice(at..at, piece.iter().copied());
            }
            let msg = to_crlf(&msg).into_owned();
            let root = parse(&msg);
            let mut out = Vec::new();
            bodystructure::write(&mut out, &msg, &root, true);
            envelope::write(&mut out, &root.fields(&msg));
            for part in [vec![], vec![1], vec![1, 1], vec![2, 1, 1], vec![3]] {
                for text in [None, Some(crate::parser::SectionText::Header), Some(crate::parser::SectionText::Text)] {
                    let _ = section::extract(&msg, &root, &crate::parser::Section { part: part.clone(), text });
                }
            }
        }
    }
}
