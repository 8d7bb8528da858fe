//! Counters for `carrier status`: deliveries in the last hour, in one-minute buckets so the
//! count slides without keeping a timestamp per message.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const BUCKETS: usize = 60;
const WIDTH: Duration = Duration::from_secs(60);

/// Events in the last hour.
pub struct Recent {
    start: Instant,
    /// (minute number since `start`, count) per slot.
    slots: Mutex<[(u64, u64); BUCKETS]>,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent { start: Instant::now(), slots: Mutex::new([(u64::MAX, 0); BUCKETS]) }
    }
}

impl Recent {
    /// Counts one event now.
    pub fn record(&self) {
        self.record_at(Instant::now());
    }

    /// Events in the hour before now.
    pub fn last_hour(&self) -> u64 {
        self.count_at(Instant::now())
    }

    fn minute(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_secs()) / WIDTH.as_secs()
    }

    fn record_at(&self, at: Instant) {
        let minute = self.minute(at);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[(minute % BUCKETS as u64) as usize];
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
    }

    fn count_at(&self, at: Instant) -> u64 {
        let now = self.minute(at);
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.iter().filter(|(m, _)| *m != u64::MAX && now.saturating_sub(*m) < BUCKETS as u64).map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_slide_out_after_an_hour() {
        let r = Recent::default();
        let t0 = r.start;
        r.record_at(t0);
        r.record_at(t0 + Duration::from_secs(30));
        r.record_at(t0 + Duration::from_secs(59 * 60));
        assert_eq!(r.count_at(t0 + Duration::from_secs(59 * 60)), 3);
        // Minute 0 has left the window; minute 59 has not.
        assert_eq!(r.count_at(t0 + Duration::from_secs(60 * 60)), 1);
        // A slot reused for a new minute starts from zero.
        r.record_at(t0 + Duration::from_secs(60 * 60 + 5));
        assert_eq!(r.count_at(t0 + Duration::from_secs(60 * 60 + 5)), 2);
        assert_eq!(r.count_at(t0 + Duration::from_secs(3 * 3600)), 0);
    }
}
