//! The per-recipient status log: one line per change, the last line per recipient wins.

use crate::envelope::{Envelope, Status, corrupt, escape, from_micros, unescape};
use std::io;
use std::time::UNIX_EPOCH;

/// The record saying the sender was told of a delay (it concerns no single recipient).
pub const WARNED: &str = "warned";

/// The line recording `status` for recipient `rcpt`.
pub fn line(rcpt: usize, status: &Status) -> String {
    match status {
        Status::Pending => format!("{rcpt} pending\n"),
        Status::Deferred { next_try, tries, error } => {
            let at = next_try.duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
            format!("{rcpt} deferred {at} {tries} {}\n", escape(error))
        }
        Status::Delivered { detail } => format!("{rcpt} delivered {}\n", escape(detail)),
        Status::Failed { error } => format!("{rcpt} failed {}\n", escape(error)),
    }
}

/// One record of the status log.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Recipient `index` has a new status.
    Status(usize, Status),
    /// The sender was warned of a delay.
    Warned,
}

/// Applies a status log to an envelope.
pub fn apply(bytes: &[u8], envelope: &mut Envelope) -> io::Result<()> {
    for record in parse(bytes)? {
        match record {
            Record::Warned => envelope.warned = true,
            Record::Status(index, status) => {
                if let Some(r) = envelope.recipients.get_mut(index) {
                    r.status = status;
                }
            }
        }
    }
    Ok(())
}

/// Reads a status log, oldest record first. A last line without '\n' was torn by a crash
/// before its fdatasync returned, so it was never acknowledged: it is ignored.
pub fn parse(bytes: &[u8]) -> io::Result<Vec<Record>> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(p) => &bytes[..=p],
        None => return Ok(Vec::new()),
    };
    let text = std::str::from_utf8(complete).map_err(|_| corrupt("status is not UTF-8"))?;
    text.lines().map(record).collect()
}

fn record(l: &str) -> io::Result<Record> {
    if l == WARNED {
        return Ok(Record::Warned);
    }
    let mut parts = l.splitn(3, ' ');
    let index: usize = parts.next().and_then(|i| i.parse().ok()).ok_or_else(|| corrupt("bad status line"))?;
    let kind = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let status = match kind {
        "pending" => Status::Pending,
        "delivered" => Status::Delivered { detail: unescape(rest)? },
        "failed" => Status::Failed { error: unescape(rest)? },
        "deferred" => {
            let mut f = rest.splitn(3, ' ');
            let at = f.next().and_then(|v| v.parse().ok()).ok_or_else(|| corrupt("bad deferred time"))?;
            let tries = f.next().and_then(|v| v.parse().ok()).ok_or_else(|| corrupt("bad try count"))?;
            Status::Deferred { next_try: from_micros(at), tries, error: unescape(f.next().unwrap_or(""))? }
        }
        _ => return Err(corrupt("unknown status")),
    };
    Ok(Record::Status(index, status))
}
