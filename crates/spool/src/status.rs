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

/// Applies a status log to an envelope. A last line without '\n' was torn by a crash
/// before its fdatasync returned, so it was never acknowledged: it is ignored.
pub fn apply(bytes: &[u8], envelope: &mut Envelope) -> io::Result<()> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(p) => &bytes[..=p],
        None => return Ok(()),
    };
    let text = std::str::from_utf8(complete).map_err(|_| corrupt("status is not UTF-8"))?;
    for l in text.lines() {
        if l == WARNED {
            envelope.warned = true;
            continue;
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
        if let Some(r) = envelope.recipients.get_mut(index) {
            r.status = status;
        }
    }
    Ok(())
}
