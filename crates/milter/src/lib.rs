//! The milter protocol, client (MTA) side, without I/O: sendmail's content-filter protocol
//! version 6 as libmilter and Postfix implement it (the protocol has no RFC; libmilter's
//! `mfdef.h` and Postfix's MILTER_README are the reference). Every packet is a 4-octet
//! big-endian length, a command octet and its data (the length counts the command octet).
//!
//! [`packet`] encodes what carrier sends, [`Reader`] splits what the filter sends into
//! [`Reply`]s, and [`Negotiated`] says which steps the filter wants to see and answer.

use std::fmt;

/// The protocol version carrier speaks.
pub const VERSION: u32 = 6;
/// The largest packet carrier accepts from a filter (libmilter's MILTER_MAX_DATA_SIZE is
/// 64 KiB by default; a replacement body chunk is at most that).
pub const MAX_PACKET: usize = 512 * 1024;
/// Body chunks are sent in pieces of at most this size (libmilter's MILTER_CHUNK_SIZE).
pub const BODY_CHUNK: usize = 65_535;

/// Actions a filter may take at end of message (SMFIF_*).
pub mod action {
    pub const ADD_HEADERS: u32 = 0x01;
    pub const CHANGE_BODY: u32 = 0x02;
    pub const ADD_RCPT: u32 = 0x04;
    pub const DELETE_RCPT: u32 = 0x08;
    pub const CHANGE_HEADERS: u32 = 0x10;
    pub const QUARANTINE: u32 = 0x20;
    pub const CHANGE_FROM: u32 = 0x40;
    pub const ADD_RCPT_PAR: u32 = 0x80;
    pub const SET_SYMLIST: u32 = 0x100;
    /// Everything carrier carries out.
    pub const ALL: u32 = ADD_HEADERS
        | CHANGE_BODY
        | ADD_RCPT
        | DELETE_RCPT
        | CHANGE_HEADERS
        | QUARANTINE
        | CHANGE_FROM
        | ADD_RCPT_PAR
        | SET_SYMLIST;
}

/// Steps a filter may skip, or see without answering (SMFIP_*).
pub mod protocol {
    pub const NO_CONNECT: u32 = 0x01;
    pub const NO_HELO: u32 = 0x02;
    pub const NO_MAIL: u32 = 0x04;
    pub const NO_RCPT: u32 = 0x08;
    pub const NO_BODY: u32 = 0x10;
    pub const NO_HEADERS: u32 = 0x20;
    pub const NO_EOH: u32 = 0x40;
    pub const NR_HEADER: u32 = 0x80;
    pub const NO_UNKNOWN: u32 = 0x100;
    pub const NO_DATA: u32 = 0x200;
    pub const SKIP: u32 = 0x400;
    pub const RCPT_REJECTED: u32 = 0x800;
    pub const NR_CONNECT: u32 = 0x1000;
    pub const NR_HELO: u32 = 0x2000;
    pub const NR_MAIL: u32 = 0x4000;
    pub const NR_RCPT: u32 = 0x8000;
    pub const NR_DATA: u32 = 0x10000;
    pub const NR_UNKNOWN: u32 = 0x20000;
    pub const NR_EOH: u32 = 0x40000;
    pub const NR_BODY: u32 = 0x80000;
    pub const HEADER_LEADING_SPACE: u32 = 0x100000;
    /// What carrier can do: every step may be skipped or go unanswered, and SKIP works.
    pub const OFFERED: u32 = 0x1FFFFF;
}

/// A step of the conversation, carrier to filter (SMFIC_*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Version, actions, protocol steps.
    Negotiate {
        actions: u32,
        protocol: u32,
    },
    /// Macros for the next step (`cmd` is that step's command octet).
    Macros {
        cmd: u8,
        pairs: &'a [(String, String)],
    },
    Connect {
        hostname: &'a str,
        ip: Option<std::net::IpAddr>,
        port: u16,
    },
    Helo(&'a str),
    /// `<sender>` and ESMTP parameters.
    Mail(&'a [String]),
    Rcpt(&'a [String]),
    Data,
    Header {
        name: &'a str,
        value: &'a str,
    },
    EndOfHeaders,
    Body(&'a [u8]),
    EndOfMessage,
    Abort,
    Quit,
}

impl Command<'_> {
    /// The command octet.
    pub fn code(&self) -> u8 {
        match self {
            Command::Negotiate { .. } => b'O',
            Command::Macros { .. } => b'D',
            Command::Connect { .. } => b'C',
            Command::Helo(_) => b'H',
            Command::Mail(_) => b'M',
            Command::Rcpt(_) => b'R',
            Command::Data => b'T',
            Command::Header { .. } => b'L',
            Command::EndOfHeaders => b'N',
            Command::Body(_) => b'B',
            Command::EndOfMessage => b'E',
            Command::Abort => b'A',
            Command::Quit => b'Q',
        }
    }
}

/// The packet for a command.
pub fn packet(cmd: &Command<'_>) -> Vec<u8> {
    let mut data = Vec::new();
    let cstr = |data: &mut Vec<u8>, s: &[u8]| {
        // A NUL inside a value would end it early on the filter's side.
        data.extend(s.iter().filter(|&&b| b != 0));
        data.push(0);
    };
    match cmd {
        Command::Negotiate { actions, protocol } => {
            for n in [VERSION, *actions, *protocol] {
                data.extend_from_slice(&n.to_be_bytes());
            }
        }
        Command::Macros { cmd, pairs } => {
            data.push(*cmd);
            for (name, value) in pairs.iter() {
                cstr(&mut data, name.as_bytes());
                cstr(&mut data, value.as_bytes());
            }
        }
        Command::Connect { hostname, ip, port } => {
            cstr(&mut data, hostname.as_bytes());
            match ip {
                Some(ip) => {
                    data.push(if ip.is_ipv4() { b'4' } else { b'6' });
                    data.extend_from_slice(&port.to_be_bytes());
                    cstr(&mut data, ip.to_string().as_bytes());
                }
                None => data.push(b'U'), // unknown: a local submission
            }
        }
        Command::Helo(name) => cstr(&mut data, name.as_bytes()),
        Command::Mail(args) | Command::Rcpt(args) => {
            for arg in args.iter() {
                cstr(&mut data, arg.as_bytes());
            }
        }
        Command::Header { name, value } => {
            cstr(&mut data, name.as_bytes());
            cstr(&mut data, value.as_bytes());
        }
        Command::Body(chunk) => data.extend_from_slice(chunk),
        Command::Data | Command::EndOfHeaders | Command::EndOfMessage | Command::Abort | Command::Quit => {}
    }
    let mut out = Vec::with_capacity(data.len() + 5);
    out.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
    out.push(cmd.code());
    out.extend_from_slice(&data);
    out
}

/// What a filter said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Its answer to the negotiation.
    Negotiate {
        version: u32,
        actions: u32,
        protocol: u32,
    },
    /// Go on (SMFIR_CONTINUE).
    Continue,
    /// Accept the message, ask nothing more (SMFIR_ACCEPT).
    Accept,
    /// Drop it silently, telling the client it was accepted (SMFIR_DISCARD).
    Discard,
    /// 550 5.7.1 (SMFIR_REJECT).
    Reject,
    /// 451 4.7.1 (SMFIR_TEMPFAIL).
    Tempfail,
    /// This SMTP reply (SMFIR_REPLYCODE), e.g. `554 5.7.1 Spam`.
    ReplyCode(String),
    /// Skip the rest of the body (SMFIR_SKIP).
    Skip,
    /// Still working (SMFIR_PROGRESS): wait on.
    Progress,
    /// Add a header field at the end (SMFIR_ADDHEADER).
    AddHeader {
        name: String,
        value: String,
    },
    /// Insert a header field at position `index` (SMFIR_INSHEADER; 0 is the top).
    InsertHeader {
        index: u32,
        name: String,
        value: String,
    },
    /// Change the `index`th (from 1) field of that name; an empty value deletes it
    /// (SMFIR_CHGHEADER).
    ChangeHeader {
        index: u32,
        name: String,
        value: String,
    },
    /// A piece of the replacement body (SMFIR_REPLBODY); pieces are concatenated.
    ReplaceBody(Vec<u8>),
    AddRecipient(String),
    DeleteRecipient(String),
    /// A new envelope sender (SMFIR_CHGFROM).
    ChangeFrom(String),
    /// Hold the message, for this reason (SMFIR_QUARANTINE).
    Quarantine(String),
    /// The macros the filter wants per step (SMFIR_SETSYMLIST is part of the negotiation; a
    /// separate packet is not sent by libmilter).
    Unknown(u8),
}

/// A protocol violation by the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits the filter's bytes into replies.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    /// Adds bytes read from the filter.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole reply, if one has arrived.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, Error> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(Error(format!("a packet of {len} octets")));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let packet: Vec<u8> = self.buf.drain(..4 + len).skip(4).collect();
        decode(packet[0], &packet[1..]).map(Some)
    }
}

fn decode(code: u8, data: &[u8]) -> Result<Reply, Error> {
    let strings =
        || -> Vec<String> { data.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect() };
    let u32_at = |at: usize| -> Result<u32, Error> {
        data.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| Error(format!("reply {:?} is too short", code as char)))
    };
    let name_value = |from: usize| -> Result<(String, String), Error> {
        let mut parts = data.get(from..).unwrap_or_default().split(|&b| b == 0);
        let name =
            parts.next().filter(|n| !n.is_empty()).ok_or_else(|| Error("a header change without a name".into()))?;
        let value = parts.next().unwrap_or_default();
        Ok((String::from_utf8_lossy(name).into_owned(), String::from_utf8_lossy(value).into_owned()))
    };
    let first = || strings().into_iter().next().unwrap_or_default();
    Ok(match code {
        b'O' => Reply::Negotiate { version: u32_at(0)?, actions: u32_at(4)?, protocol: u32_at(8)? },
        b'c' => Reply::Continue,
        b'a' => Reply::Accept,
        b'd' => Reply::Discard,
        b'r' => Reply::Reject,
        b't' => Reply::Tempfail,
        b's' => Reply::Skip,
        b'p' => Reply::Progress,
        b'y' => Reply::ReplyCode(first()),
        b'h' => {
            let (name, value) = name_value(0)?;
            Reply::AddHeader { name, value }
        }
        b'i' => {
            let (name, value) = name_value(4)?;
            Reply::InsertHeader { index: u32_at(0)?, name, value }
        }
        b'm' => {
            let (name, value) = name_value(4)?;
            Reply::ChangeHeader { index: u32_at(0)?, name, value }
        }
        b'b' => Reply::ReplaceBody(data.to_vec()),
        b'+' | b'2' => Reply::AddRecipient(first()),
        b'-' => Reply::DeleteRecipient(first()),
        b'e' => Reply::ChangeFrom(first()),
        b'q' => Reply::Quarantine(first()),
        other => Reply::Unknown(other),
    })
}

/// What both sides agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub actions: u32,
    pub protocol: u32,
}

impl Negotiated {
    /// From the filter's answer to carrier's offer: the filter may only ask for less.
    pub fn from_reply(reply: &Reply) -> Result<Negotiated, Error> {
        let Reply::Negotiate { version, actions, protocol } = reply else {
            return Err(Error(format!("expected the negotiation, got {reply:?}")));
        };
        if *version < 2 {
            return Err(Error(format!("milter protocol version {version} is too old")));
        }
        Ok(Negotiated { actions: actions & action::ALL, protocol: protocol & protocol::OFFERED })
    }

    /// True when the filter asked for this protocol flag: a step it skips (`NO_*`) or sees
    /// without answering (`NR_*`).
    pub fn has(&self, flag: u32) -> bool {
        self.protocol & flag != 0
    }

    /// True when the filter may take this action.
    pub fn may(&self, flag: u32) -> bool {
        self.actions & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_length_command_data() {
        assert_eq!(packet(&Command::Quit), [0, 0, 0, 1, b'Q']);
        assert_eq!(packet(&Command::Helo("mx.example")), b"\0\0\0\x0cHmx.example\0");
        let ip = "192.0.2.1".parse().ok();
        assert_eq!(packet(&Command::Connect { hostname: "h", ip, port: 25 }), b"\0\0\0\x10Ch\x004\x00\x19192.0.2.1\0");
        let header = packet(&Command::Header { name: "Subject", value: " hi\0there" });
        assert_eq!(header, b"\0\0\0\x12LSubject\0 hithere\0", "a NUL cannot end a value early");
        let neg = packet(&Command::Negotiate { actions: action::ALL, protocol: protocol::OFFERED });
        assert_eq!(&neg[..5], [0, 0, 0, 13, b'O']);
        assert_eq!(&neg[5..9], 6u32.to_be_bytes());
    }

    #[test]
    fn replies_arrive_whole_however_they_are_split() {
        let mut r = Reader::default();
        let bytes = [
            &b"\0\0\0\x01c"[..],
            b"\0\0\0\x0chX-Spam\0yes\0",
            b"\0\0\0\x10y554 5.7.1 Spam\0",
            b"\0\0\0\x11i\0\0\0\0X-Top\0first\0",
        ]
        .concat();
        let mut got = Vec::new();
        for b in bytes.chunks(3) {
            r.feed(b);
            while let Some(reply) = r.next_reply().unwrap() {
                got.push(reply);
            }
        }
        assert_eq!(
            got,
            [
                Reply::Continue,
                Reply::AddHeader { name: "X-Spam".into(), value: "yes".into() },
                Reply::ReplyCode("554 5.7.1 Spam".into()),
                Reply::InsertHeader { index: 0, name: "X-Top".into(), value: "first".into() },
            ]
        );
        let mut r = Reader::default();
        r.feed(b"\0\0\0\0");
        assert!(r.next_reply().is_err(), "an empty packet is a violation");
        let mut r = Reader::default();
        r.feed(&(MAX_PACKET as u32 + 1).to_be_bytes());
        assert!(r.next_reply().is_err(), "an absurd length is refused before anything is read");
        let mut r = Reader::default();
        r.feed(b"\0\0\0\x03i\0\0");
        assert!(r.next_reply().is_err(), "a short insert");
    }

    #[test]
    fn the_filter_may_only_ask_for_less() {
        let n = Negotiated::from_reply(&Reply::Negotiate { version: 6, actions: 0xFFFF_FFFF, protocol: 0xFFFF_FFFF })
            .unwrap();
        assert_eq!((n.actions, n.protocol), (action::ALL, protocol::OFFERED));
        assert!(Negotiated::from_reply(&Reply::Continue).is_err());
        assert!(Negotiated::from_reply(&Reply::Negotiate { version: 1, actions: 0, protocol: 0 }).is_err());
    }
}
