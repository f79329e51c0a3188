//! A per-installation rate limit for outbound requests: a token bucket holding up to a
//! minute's worth of requests, refilled continuously.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets, one per installation.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// At most `per_minute` requests per installation per minute (0 refuses all).
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `installation`; false when its bucket is empty.
    ///
    /// ```
    /// let limiter = airlock_host::egress::rate::RateLimiter::new(2);
    /// assert!(limiter.try_acquire("a"));
    /// assert!(limiter.try_acquire("a"));
    /// assert!(!limiter.try_acquire("a"));
    /// assert!(limiter.try_acquire("b"));
    /// ```
    pub fn try_acquire(&self, installation: &str) -> bool {
        self.try_acquire_at(installation, Instant::now())
    }

    fn try_acquire_at(&self, installation: &str, now: Instant) -> bool {
        let capacity = self.per_minute as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry(installation.to_string())
            .or_insert((capacity, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * capacity / 60.0;
        *tokens = (*tokens + refill).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The configured rate.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_over_time() {
        let l = RateLimiter::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(l.try_acquire_at("i", t0));
        }
        assert!(!l.try_acquire_at("i", t0));
        assert!(l.try_acquire_at("i", t0 + Duration::from_millis(1100)));
        assert!(!l.try_acquire_at("i", t0 + Duration::from_millis(1100)));
    }

    #[test]
    fn zero_refuses_everything() {
        assert!(!RateLimiter::new(0).try_acquire("i"));
    }
}
