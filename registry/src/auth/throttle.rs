//! Slowing down password guessing: after a few failures for one user name or
//! one client address, every further attempt waits, doubling up to a cap,
//! until a success (or a quiet period) resets the count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FREE_ATTEMPTS: u32 = 5;
const MAX_DELAY: Duration = Duration::from_secs(8);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// How long an attempt for these keys must wait before it is checked.
    pub fn delay(&self, keys: &[&str]) -> Duration {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let worst = keys
            .iter()
            .filter_map(|k| map.get(*k))
            .filter(|(_, at)| at.elapsed() < FORGET_AFTER)
            .map(|(n, _)| *n)
            .max()
            .unwrap_or(0);
        if worst < FREE_ATTEMPTS {
            return Duration::ZERO;
        }
        let exp = (worst - FREE_ATTEMPTS).min(10);
        (Duration::from_millis(250) * 2u32.pow(exp)).min(MAX_DELAY)
    }

    pub fn failed(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
        }
        for k in keys {
            let e = map.entry(k.to_string()).or_insert((0, Instant::now()));
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_free_attempts_and_reset_on_success() {
        let t = Throttle::default();
        for _ in 0..FREE_ATTEMPTS {
            assert_eq!(t.delay(&["user:bob", "ip:1.2.3.4"]), Duration::ZERO);
            t.failed(&["user:bob", "ip:1.2.3.4"]);
        }
        let first = t.delay(&["user:bob"]);
        assert!(first > Duration::ZERO);
        t.failed(&["user:bob"]);
        assert!(t.delay(&["user:bob"]) > first);
        // The address is throttled for any user name.
        assert!(t.delay(&["user:carol", "ip:1.2.3.4"]) > Duration::ZERO);
        for _ in 0..30 {
            t.failed(&["user:bob"]);
        }
        assert_eq!(t.delay(&["user:bob"]), MAX_DELAY);
        t.succeeded("user:bob");
        assert_eq!(t.delay(&["user:bob"]), Duration::ZERO);
    }
}
