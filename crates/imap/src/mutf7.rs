//! Modified UTF-7 for mailbox names (RFC 3501 5.1.3).
//!
//! Printable US-ASCII except `&` stands for itself, `&` is `&-`, and every other run of
//! characters is `&` + modified BASE64 (`,` for `/`, no padding) of their UTF-16BE + `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u32)
}

fn direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a UTF-8 mailbox name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if direct(c) {
            flush(&mut run, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            run.extend(c.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut run, &mut out);
    out
}

fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.push('-');
}

/// Decodes a wire mailbox name; `None` when it is not valid modified UTF-7: 8-bit or
/// control bytes, an unterminated or empty shift, non-zero padding bits, broken
/// surrogates, or printable ASCII that should have been written directly.
pub fn decode(wire: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let c = wire[i];
        if !(0x20..=0x7e).contains(&c) {
            return None;
        }
        i += 1;
        if c != b'&' {
            out.push(c as char);
            continue;
        }
        let end = i + wire[i..].iter().position(|&b| b == b'-')?;
        if end == i {
            out.push('&');
        } else {
            decode_run(&wire[i..end], &mut out)?;
        }
        i = end + 1;
    }
    Some(out)
}

fn decode_run(run: &[u8], out: &mut String) -> Option<()> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut units = Vec::new();
    for &c in run {
        bits = (bits << 6) | value(c)?;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push((bits >> nbits) as u16);
            bits &= (1 << nbits) - 1;
        }
    }
    // RFC 3501 5.1.3 / RFC 2152: leftover bits are padding and must be zero, and fewer than 6.
    if bits != 0 || nbits >= 6 || units.is_empty() {
        return None;
    }
    for c in char::decode_utf16(units) {
        let c = c.ok()?;
        if direct(c) {
            return None;
        }
        out.push(c);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 5.1.3's example: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(), Some(name));
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").as_deref(), Some("A&B"));
        assert_eq!(encode("Entw\u{fc}rfe"), "Entw&APw-rfe");
        assert_eq!(decode(b"Entw&APw-rfe").as_deref(), Some("Entw\u{fc}rfe"));
        // Outside the BMP: a surrogate pair.
        assert_eq!(encode("\u{1F600}"), "&2D3eAA-");
        assert_eq!(decode(b"&2D3eAA-").as_deref(), Some("\u{1F600}"));
    }

    #[test]
    fn round_trip() {
        for name in ["", "INBOX", "a b", "&&", "\u{e9}t\u{e9}", "x\u{7f}y", "\u{0}", "日本語&テスト"] {
            assert_eq!(decode(encode(name).as_bytes()).as_deref(), Some(name), "{name:?}");
        }
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            &b"&"[..],
            b"&U,BTFw",  // unterminated
            b"&AGE-",    // "a" must be written directly
            b"&U,BTF-",  // non-zero padding bits
            b"&2D0-",    // lone high surrogate
            b"\xc3\xa9", // raw UTF-8
            b"a\tb",     // control character
            b"&*-",      // not BASE64
            b"&AAAA-",   // 8 leftover bits: a truncated unit
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
