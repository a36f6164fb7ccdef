//! Per-client-address rate limits (GCRA through `governor`): credential checks
//! (`service::access`) and requests (`http::limits`). One state per address, and
//! addresses whose budget has refilled are dropped now and then, so the table holds
//! only clients seen within one refill period however many addresses there are.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Checks between two prunings of refilled addresses.
const PRUNE_EVERY: u32 = 1024;

pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl RateLimit {
    /// `per_second` on average, in bursts of up to `burst`; `None` when `per_second` is 0.
    pub fn per_second(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
        Some(Self::new(Quota::per_second(rate).allow_burst(burst)))
    }

    /// `per_minute` spread over the minute, all of it at once at most; `None` when 0.
    pub fn per_minute(per_minute: u32) -> Option<Self> {
        Some(Self::new(Quota::per_minute(NonZeroU32::new(per_minute)?)))
    }

    fn new(quota: Quota) -> Self {
        RateLimit {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Take one unit of `client`'s budget, or say how long until one is available.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Addresses currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// `Retry-After` in whole seconds: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_address() {
        let limit = RateLimit::per_minute(3).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let wait = limit.check(a).unwrap_err();
        // One unit refills every 20 s.
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limit.check(b).is_ok(), "another address has its own budget");
    }

    #[test]
    fn zero_means_no_limit() {
        assert!(RateLimit::per_minute(0).is_none());
        assert!(RateLimit::per_second(0, 10).is_none());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
