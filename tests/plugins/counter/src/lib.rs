//! counter: increments a `static` on every `handle` call and returns `count=N`. The host
//! makes a fresh instance per event, so every run must report `count=1`.

use core::sync::atomic::{AtomicU32, Ordering};

use airlock_sdk::{Error, Event, Outcome, Plugin};

static CALLS: AtomicU32 = AtomicU32::new(0);

struct Counter;

impl Plugin for Counter {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Outcome::new(format!("count={n}")))
    }
}

airlock_sdk::export_plugin!(Counter);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_sdk::Ticket;

    #[test]
    fn counts_within_one_instance() {
        let a = Counter::handle(Event::TicketCreated(Ticket::new("1"))).unwrap();
        let b = Counter::handle(Event::TicketCreated(Ticket::new("1"))).unwrap();
        assert_eq!(
            (a.summary.as_str(), b.summary.as_str()),
            ("count=1", "count=2")
        );
    }
}
