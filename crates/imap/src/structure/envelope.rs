//! ENVELOPE (RFC 3501 7.4.2): date, subject, from, sender, reply-to, to, cc, bcc,
//! in-reply-to, message-id; sender and reply-to default to from.

use super::address::{self, Address};
use super::header::{self, Field};
use crate::response::{nstring, string};

/// Writes the envelope of the entity whose header fields are given.
pub fn write(out: &mut Vec<u8>, fields: &[Field]) {
    let get = |name: &str| header::first(fields, name);
    let from = addresses(get("From"));
    out.push(b'(');
    nstring(out, get("Date").as_deref());
    out.push(b' ');
    nstring(out, get("Subject").as_deref());
    for (i, name) in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"].into_iter().enumerate() {
        out.push(b' ');
        let list = match i {
            0 => from.clone(),
            // RFC 3501 7.4.2: the server sets sender and reply-to from "from" when absent.
            1 | 2 => addresses(get(name)).filter(|l| !l.is_empty()).or_else(|| from.clone()),
            _ => addresses(get(name)),
        };
        write_list(out, list.as_deref());
    }
    out.push(b' ');
    nstring(out, get("In-Reply-To").as_deref());
    out.push(b' ');
    nstring(out, get("Message-ID").as_deref());
    out.push(b')');
}

fn addresses(value: Option<Vec<u8>>) -> Option<Vec<Address>> {
    value.map(|v| address::parse_list(&v))
}

/// An address list, NIL when empty or absent.
fn write_list(out: &mut Vec<u8>, list: Option<&[Address]>) {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    for a in list {
        out.push(b'(');
        for (i, f) in [&a.name, &a.adl, &a.mailbox, &a.host].into_iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            match f {
                Some(v) => string(out, v),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        out.push(b')');
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(h: &[u8]) -> String {
        let mut out = Vec::new();
        write(&mut out, &header::fields(h));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn rfc3501_example_shape() {
        let h = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nFrom: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\nTo: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\r\n";
        assert_eq!(
            env(h),
            "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
\"<B27397-0100000@cac.washington.edu>\")"
        );
    }

    #[test]
    fn empty_and_groups() {
        assert_eq!(env(b"\r\n"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        assert_eq!(
            env(b"To: undisclosed-recipients:;\r\nSubject:\r\n\r\n"),
            "(NIL \"\" NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
        // 8-bit and folded subjects.
        assert_eq!(
            env("Subject: caf\u{e9}\r\n\r\n".as_bytes()),
            "(NIL {5}\r\ncaf\u{e9} NIL NIL NIL NIL NIL NIL NIL NIL)"
        );
    }
}
