//! Hourly allowances per client address or per user (`[antispam] *_per_hour_*`): a token
//! bucket per key, full at the limit and refilled evenly over the hour, so a burst up to the
//! limit is allowed and then the steady rate. The time is passed in, so tests can move it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
/// Past this many keys, full buckets (keys that have been quiet) are forgotten.
const MAX_KEYS: usize = 10_000;

/// One limit, for many keys.
pub struct Hourly {
    limit: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Hourly {
    /// `limit` per hour; 0 is no limit.
    pub fn new(limit: u32) -> Hourly {
        Hourly { limit, buckets: Mutex::default() }
    }

    /// Takes `n` from `key`'s allowance at `now`; false (and nothing taken) when it has not
    /// that much left.
    pub fn take(&self, key: &str, n: u32, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        let limit = f64::from(self.limit);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_KEYS {
            buckets.retain(|_, b| refilled(b, limit, now) < limit);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: limit, at: now });
        bucket.tokens = refilled(bucket, limit, now);
        bucket.at = now;
        if bucket.tokens + 1e-9 < f64::from(n) {
            return false;
        }
        bucket.tokens -= f64::from(n);
        true
    }
}

fn refilled(b: &Bucket, limit: f64, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + limit * elapsed / HOUR.as_secs_f64()).min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_to_the_limit_then_the_hourly_rate() {
        let h = Hourly::new(60);
        let t0 = Instant::now();
        assert!((0..60).all(|_| h.take("192.0.2.1", 1, t0)));
        assert!(!h.take("192.0.2.1", 1, t0), "the 61st in the same instant");
        assert!(h.take("192.0.2.2", 1, t0), "another address has its own allowance");
        // One a minute comes back.
        assert!(!h.take("192.0.2.1", 1, t0 + Duration::from_secs(30)));
        assert!(h.take("192.0.2.1", 1, t0 + Duration::from_secs(61)));
        assert!(!h.take("192.0.2.1", 1, t0 + Duration::from_secs(62)));
        // After a quiet hour, the whole allowance, but never more.
        assert!(h.take("192.0.2.1", 60, t0 + Duration::from_secs(7200)));
        assert!(!h.take("192.0.2.1", 1, t0 + Duration::from_secs(7200)));
        // Asking for more than is left takes nothing.
        let h = Hourly::new(5);
        assert!(!h.take("u", 6, t0) && h.take("u", 5, t0));
        assert!(Hourly::new(0).take("anyone", 1_000_000, t0), "0 is no limit");
    }
}
