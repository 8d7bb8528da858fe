//! The queue as people read it: `mailq`'s listing (printed by `carrier queue list`, and sent
//! by the daemon over the control socket to users who may not read the spool), ages, and
//! `carrier queue delete` (run by the daemon for the command, or by the command itself).

use crate::handoff::Submission;
use carrier_spool::{QueueId, Spool, Status};
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime};

/// `mailq`'s text: each message with its age, size and sender, then its recipients; then
/// the submissions still waiting in the pickup directory (`waiting`, with their file names)
/// for a daemon that is not running.
pub fn listing(spool: &Spool, waiting: &[(String, Submission)]) -> io::Result<String> {
    let mut out = queued_text(&spool.list()?);
    if !waiting.is_empty() {
        let n = waiting.len();
        let _ = writeln!(
            out,
            "{n} message{} wait{} in the pickup directory until the daemon runs (`carrier serve` or \
             `systemctl start carrier`):",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" }
        );
        for (name, sub) in waiting {
            let _ = writeln!(out, "{name:<40}{:>9}  <{}>", sub.message.len(), sub.sender);
            for r in &sub.recipients {
                let _ = writeln!(out, "    {r}: waiting in pickup");
            }
        }
    }
    Ok(out)
}

/// What `carrier queue delete` removes: one message, or every one (`--all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delete {
    One(QueueId),
    All,
}

impl Delete {
    /// The argument of the control socket's `DELETE` request: a queue id or `ALL`.
    pub fn request(&self) -> String {
        match self {
            Delete::One(id) => format!("DELETE {id}"),
            Delete::All => "DELETE ALL".into(),
        }
    }

    /// Reads a `DELETE` request's argument.
    pub fn parse(arg: &str) -> Option<Delete> {
        match arg {
            "ALL" => Some(Delete::All),
            id => id.parse().ok().map(Delete::One),
        }
    }
}

/// Removes what `what` names and returns the ids removed; a single id that is not queued
/// (delivered meanwhile, or mistyped) is `NotFound`. Each removal is the log line
/// [`deleted_line`], so `grep QID` tells the whole story.
pub fn delete(spool: &Spool, what: &Delete) -> io::Result<Vec<QueueId>> {
    match what {
        Delete::One(id) => spool.remove(id).map(|()| vec![id.clone()]),
        Delete::All => {
            let mut removed = Vec::new();
            for q in spool.list()? {
                // Delivered meanwhile: nothing to delete.
                if spool.remove(&q.id).is_ok() {
                    removed.push(q.id);
                }
            }
            Ok(removed)
        }
    }
}

/// Why a queue id names nothing.
pub fn not_queued(id: impl std::fmt::Display) -> String {
    format!("{id}: no such message in the queue (delivered?)")
}

/// The log line of a message removed by `carrier queue delete`.
pub fn deleted_line(id: &QueueId, uid: u32) -> String {
    format!("{id}: removed by queue delete (uid {uid})")
}

fn queued_text(queued: &[carrier_spool::Queued]) -> String {
    if queued.is_empty() {
        return "Mail queue is empty\n".into();
    }
    let now = SystemTime::now();
    let mut out = format!("{:<16}{:>9}  {:<9} SENDER\n", "QUEUE ID", "SIZE", "AGE");
    let mut total = 0;
    for q in queued {
        total += q.size;
        let age = age(now, q.envelope.received);
        let _ = writeln!(out, "{:<16}{:>9}  {age:<9} <{}>", q.id.to_string(), q.size, q.envelope.sender);
        for r in &q.envelope.recipients {
            let _ = writeln!(out, "    {}: {}", r.address, state(&r.status, now));
        }
    }
    let n = queued.len();
    let _ = writeln!(out, "-- {total} octets in {n} message{}", if n == 1 { "" } else { "s" });
    out
}

/// A recipient's state in words.
pub fn state(status: &Status, now: SystemTime) -> String {
    match status {
        Status::Pending => "pending".into(),
        Status::Deferred { next_try, tries, error } => {
            let when = match next_try.duration_since(now) {
                Ok(d) => format!("next try in {}", span(d)),
                Err(_) => "next try now".into(),
            };
            let s = if *tries == 1 { "" } else { "s" };
            format!("deferred after {tries} attempt{s}, {when}: {error}")
        }
        Status::Delivered { detail } => format!("delivered ({detail})"),
        Status::Failed { error } => format!("failed: {error}"),
    }
}

/// How long ago `then` was, as [`span`] writes it.
pub fn age(now: SystemTime, then: SystemTime) -> String {
    span(now.duration_since(then).unwrap_or_default())
}

/// "45s", "12m", "3h 5m", "2d 4h".
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_requests_round_trip_and_nothing_else_is_read_as_one() {
        let id = QueueId::generate();
        for what in [Delete::One(id.clone()), Delete::All] {
            let request = what.request();
            assert_eq!(Delete::parse(request.strip_prefix("DELETE ").unwrap()), Some(what));
        }
        for bad in ["", "all", "../etc", "ALL ALL"] {
            assert_eq!(Delete::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn spans_for_people() {
        assert_eq!(span(Duration::from_secs(45)), "45s");
        assert_eq!(span(Duration::from_secs(720)), "12m");
        assert_eq!(span(Duration::from_secs(3 * 3600 + 300)), "3h 5m");
        assert_eq!(span(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d 4h");
    }
}
