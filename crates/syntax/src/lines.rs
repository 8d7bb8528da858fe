//! Line ends. On the wire (SMTP, POP3, IMAP) lines end in CRLF; Maildir files use LF, as
//! mutt, Postfix's local(8) and Dovecot expect. A bare CR is content and is left alone.

use std::borrow::Cow;

/// CRLF becomes LF.
pub fn to_lf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(message[i]);
        i += 1;
    }
    out
}

/// Every LF not already after a CR becomes CRLF; borrowed when there is none.
pub fn to_crlf(message: &[u8]) -> Cow<'_, [u8]> {
    if bare_lfs(message, &mut 0) == 0 {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(crlf_len(message));
    write_crlf(&mut out, message);
    Cow::Owned(out)
}

/// Appends `message` to `out` with every bare LF written as CRLF, without a converted copy.
pub fn write_crlf(out: &mut Vec<u8>, message: &[u8]) {
    let mut start = 0;
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.extend_from_slice(&message[start..i]);
            out.push(b'\r');
            start = i;
        }
    }
    out.extend_from_slice(&message[start..]);
}

/// The length `message` has with CRLF line ends (IMAP's RFC822.SIZE, POP3's octet counts).
pub fn crlf_len(message: &[u8]) -> usize {
    message.len() + bare_lfs(message, &mut 0) as usize
}

/// Counts the LFs not preceded by a CR in `data`, one chunk of a longer input at a time:
/// `prev` carries the last octet of the previous chunk (start with 0).
pub fn bare_lfs(data: &[u8], prev: &mut u8) -> u64 {
    let mut n = 0;
    for &b in data {
        if b == b'\n' && *prev != b'\r' {
            n += 1;
        }
        *prev = b;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_both_ways() {
        assert_eq!(to_lf(b"a\r\nb\r\n\r\nc\rd"), b"a\nb\n\nc\rd");
        assert_eq!(&*to_crlf(b"a\nb\r\n\nc\rd"), b"a\r\nb\r\n\r\nc\rd");
        assert_eq!(&*to_crlf(&to_lf(b"x\r\ny\r\n")), b"x\r\ny\r\n");
        assert!(matches!(to_crlf(b"already\r\nfine\r\n"), Cow::Borrowed(_)));
        assert_eq!(&*to_crlf(b"\nstarts with a line end"), b"\r\nstarts with a line end");
    }

    #[test]
    fn lengths_and_chunks_agree() {
        let message = b"one\ntwo\r\nthree\n\rfour\n";
        assert_eq!(crlf_len(message), to_crlf(message).len());
        let mut prev = 0;
        let split: u64 = message.chunks(3).map(|c| bare_lfs(c, &mut prev)).sum();
        assert_eq!(split, bare_lfs(message, &mut 0));
        let mut out = b"x".to_vec();
        write_crlf(&mut out, message);
        assert_eq!(&out[1..], &*to_crlf(message));
    }
}
