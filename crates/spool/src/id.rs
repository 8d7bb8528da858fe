//! Queue ids: short, time-ordered, unique across restarts and processes.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LEN: usize = 14;

/// A queue id such as `0G7Q3V8M2K4A01`: 10 base-36 digits of microseconds since 1970
/// (so ids sort by age), 2 of the process id and 2 of a per-process counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(String);

impl QueueId {
    /// A new id, unique unless one process makes 1,296 ids within one microsecond.
    pub fn generate() -> QueueId {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0) as u64;
        let count = COUNTER.fetch_add(1, Ordering::Relaxed) as u64;
        let mut s = String::with_capacity(LEN);
        push_base36(&mut s, micros, 10);
        push_base36(&mut s, u64::from(std::process::id()) % 1296, 2);
        push_base36(&mut s, count % 1296, 2);
        QueueId(s)
    }
}

fn push_base36(out: &mut String, mut n: u64, width: usize) {
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QueueId {
    type Err = String;

    /// Accepts exactly the shape `generate` makes, so no path tricks can pass as an id.
    fn from_str(s: &str) -> Result<QueueId, String> {
        if s.len() == LEN && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            Ok(QueueId(s.to_string()))
        } else {
            Err(format!("{s:?} is not a queue id (14 characters of 0-9 and A-Z)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_ordered_and_parse_back() {
        let ids: Vec<QueueId> = (0..2000).map(|_| QueueId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        for id in &ids {
            assert_eq!(id.to_string().parse::<QueueId>().unwrap(), *id);
        }
        assert!(ids[0] <= ids[1999]);
    }

    #[test]
    fn rejects_non_ids() {
        for bad in ["", "../etc/passwd", "0G7Q3V8M2K4A0", "0g7q3v8m2k4a01", "0G7Q3V8M2K4A01.status"] {
            assert!(bad.parse::<QueueId>().is_err(), "{bad}");
        }
    }
}
