//! Failed sign-ins per address, over a fixed window, in memory.
//!
//! The table is bounded: past [`MAX_ADDRESSES`] addresses the oldest windows are
//! dropped, so a flood from many addresses cannot grow the service's memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most addresses tracked at once.
pub const MAX_ADDRESSES: usize = 10_000;

struct Window {
    started: Instant,
    failures: u32,
    refusals: u32,
}

/// Counts failures per address and says when one is over its limit.
pub(super) struct FailureLimiter {
    limit: u32,
    window: Duration,
    table: Mutex<HashMap<IpAddr, Window>>,
}

impl FailureLimiter {
    pub(super) fn new(limit: u32, window: Duration) -> Self {
        FailureLimiter {
            limit: limit.max(1),
            window,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, address: IpAddr, f: impl FnOnce(&mut Window) -> T) -> T {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if table.len() >= MAX_ADDRESSES && !table.contains_key(&address) {
            table.retain(|_, w| now.duration_since(w.started) < self.window);
            if table.len() >= MAX_ADDRESSES
                && let Some(oldest) = table.iter().min_by_key(|(_, w)| w.started).map(|(a, _)| *a)
            {
                table.remove(&oldest);
            }
        }
        let w = table.entry(address).or_insert(Window {
            started: now,
            failures: 0,
            refusals: 0,
        });
        if now.duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                failures: 0,
                refusals: 0,
            };
        }
        f(w)
    }

    /// Seconds until `address` may try again, when it is over its limit.
    pub(super) fn blocked(&self, address: IpAddr) -> Option<u32> {
        self.with(address, |w| {
            (w.failures >= self.limit).then(|| {
                let left = self.window.saturating_sub(w.started.elapsed());
                left.as_secs().max(1) as u32
            })
        })
    }

    /// Counts a refusal; true for the first of this window.
    pub(super) fn first_refusal(&self, address: IpAddr) -> bool {
        self.with(address, |w| {
            w.refusals += 1;
            w.refusals == 1
        })
    }

    /// Counts a failure.
    pub(super) fn fail(&self, address: IpAddr) {
        self.with(address, |w| w.failures += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_at_its_limit_and_others_are_not() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.blocked(a).is_none());
            l.fail(a);
        }
        assert!(l.blocked(a).is_some());
        assert!(l.first_refusal(a));
        assert!(!l.first_refusal(a));
        assert!(l.blocked(b).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = FailureLimiter::new(1, Duration::from_secs(60));
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            l.fail(IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.table.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
