//! The envelope and its text form at the head of a queue file.

use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who the message is from and for, and how it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Reverse-path; empty for the null sender `<>`.
    pub sender: String,
    /// Final destinations.
    pub recipients: Vec<Recipient>,
    /// When it was received.
    pub received: SystemTime,
    /// The client's address, if it came over the network.
    pub client_ip: Option<IpAddr>,
    /// The client's reverse name or "unknown".
    pub client_name: String,
    /// HELO/EHLO name.
    pub helo: String,
    /// "SMTP", "ESMTP", "ESMTPS", ...
    pub proto: String,
    /// SMTPUTF8 was requested.
    pub smtputf8: bool,
    /// BODY=8BITMIME was declared.
    pub body_8bit: bool,
    /// The sender has been told that delivery is delayed (a status record, not a header field).
    pub warned: bool,
    /// Local recipients get it in their Junk folder (a DMARC or SPF verdict).
    pub junk: bool,
    /// The content filters' spam verdict in percent, when any looked at the message (for
    /// Sieve's spamtest at delivery).
    pub spam: Option<u8>,
}

/// One final destination and where its delivery stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// Mailbox (local) or address (remote).
    pub address: String,
    /// The RCPT TO address it came from.
    pub orig: String,
    /// Local mailbox or remote address.
    pub local: bool,
    /// Delivery status.
    pub status: Status,
}

/// Delivery status of one recipient.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not tried yet.
    Pending,
    /// Tried; try again at `next_try`.
    Deferred {
        /// When to try again.
        next_try: SystemTime,
        /// Attempts so far.
        tries: u32,
        /// The last error, for `queue list` and logs.
        error: String,
    },
    /// Done.
    Delivered {
        /// What the receiving side said.
        detail: String,
    },
    /// Given up; bounced to the sender.
    Failed {
        /// Why.
        error: String,
    },
}

impl Status {
    /// True for Delivered and Failed.
    pub fn is_final(&self) -> bool {
        matches!(self, Status::Delivered { .. } | Status::Failed { .. })
    }
}

const MAGIC: &str = "carrier-queue 1";

/// Escapes so a value holds no whitespace or control characters (and so never splits a line).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape`].
pub fn unescape(s: &str) -> io::Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| corrupt("bad escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| corrupt("bad escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| corrupt("bad UTF-8 in escape"))
}

pub fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt queue file: {what}"))
}

fn micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

pub fn from_micros(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(n)
}

/// The header written before the message, ending with the blank line. `size` is the
/// message length, so that status records appended after the message can be found.
pub fn encode(e: &Envelope, size: usize) -> Vec<u8> {
    let mut s = format!(
        "{MAGIC}\nsize {size}\nreceived {}\nsender {}\nclient-ip {}\nclient-name {}\nhelo {}\nproto {}\nsmtputf8 {}\nbody-8bit {}\n",
        micros(e.received),
        escape(&e.sender),
        e.client_ip.map_or("-".to_string(), |ip| ip.to_string()),
        escape(&e.client_name),
        escape(&e.helo),
        escape(&e.proto),
        u8::from(e.smtputf8),
        u8::from(e.body_8bit),
    );
    if e.junk {
        s.push_str("junk 1\n");
    }
    if let Some(spam) = e.spam {
        s.push_str(&format!("spam {spam}\n"));
    }
    for r in &e.recipients {
        let kind = if r.local { 'L' } else { 'R' };
        s.push_str(&format!("rcpt {kind} {} {}\n", escape(&r.address), escape(&r.orig)));
    }
    s.push('\n');
    s.into_bytes()
}

/// Reads just the header of a queue file (up to and including the blank line).
pub fn read_head(file: impl Read) -> io::Result<Vec<u8>> {
    let mut reader = BufReader::with_capacity(4096, file);
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if reader.read_until(b'\n', &mut head)? == 0 {
            return Err(corrupt("no end of envelope"));
        }
        if &head[before..] == b"\n" {
            return Ok(head);
        }
    }
}

/// A parsed queue file header.
pub struct Head {
    /// The envelope, statuses all pending.
    pub envelope: Envelope,
    /// Offset of the message.
    pub body_at: usize,
    /// Length of the message; status records follow it.
    pub size: usize,
}

impl Head {
    /// Where the status records start: right after the message.
    pub fn records_at(&self) -> io::Result<u64> {
        let end = self.body_at.checked_add(self.size).ok_or_else(|| corrupt("bad size"))?;
        Ok(end as u64)
    }
}

/// Parses the header.
pub fn decode(bytes: &[u8]) -> io::Result<Head> {
    let end = bytes.windows(2).position(|w| w == b"\n\n").ok_or_else(|| corrupt("no end of envelope"))?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| corrupt("envelope is not UTF-8"))?;
    let mut lines = head.lines();
    if lines.next() != Some(MAGIC) {
        return Err(corrupt("unknown format (expected `carrier-queue 1`)"));
    }
    let mut e = Envelope {
        sender: String::new(),
        recipients: Vec::new(),
        received: UNIX_EPOCH,
        client_ip: None,
        client_name: String::new(),
        helo: String::new(),
        proto: String::new(),
        smtputf8: false,
        body_8bit: false,
        warned: false,
        junk: false,
        spam: None,
    };
    let mut size = None;
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "size" => size = value.parse().ok(),
            "received" => e.received = from_micros(value.parse().map_err(|_| corrupt("bad time"))?),
            "sender" => e.sender = unescape(value)?,
            "client-ip" => e.client_ip = value.parse().ok(),
            "client-name" => e.client_name = unescape(value)?,
            "helo" => e.helo = unescape(value)?,
            "proto" => e.proto = unescape(value)?,
            "smtputf8" => e.smtputf8 = value == "1",
            "body-8bit" => e.body_8bit = value == "1",
            "junk" => e.junk = value == "1",
            "spam" => e.spam = value.parse().ok(),
            "rcpt" => {
                let mut parts = value.split(' ');
                let (Some(kind), Some(addr), Some(orig)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(corrupt("bad rcpt line"));
                };
                e.recipients.push(Recipient {
                    address: unescape(addr)?,
                    orig: unescape(orig)?,
                    local: kind == "L",
                    status: Status::Pending,
                });
            }
            _ => {} // a newer version's field: ignored, so downgrades can read the queue
        }
    }
    let size = size.ok_or_else(|| corrupt("no size"))?;
    Ok(Head { envelope: e, body_at: end + 2, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        for s in ["", "plain@example.com", "\"john doe\"@x", "a%b", "tab\there", "line\nbreak", "jöran@bücher.example"]
        {
            let e = escape(s);
            assert!(!e.contains([' ', '\n', '\t']));
            assert_eq!(unescape(&e).unwrap(), s);
        }
        assert!(unescape("%G1").is_err());
        assert!(unescape("%4").is_err());
    }
}
