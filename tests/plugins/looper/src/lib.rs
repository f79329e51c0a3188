//! looper: never returns from `handle`. The host's time limit (epoch interruption or
//! fuel) must stop it. `black_box` keeps the loop from being optimized away.

use airlock_sdk::{Error, Event, Outcome, Plugin};

struct Looper;

impl Plugin for Looper {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        let mut i: u64 = 0;
        loop {
            i = core::hint::black_box(i.wrapping_add(1));
        }
    }
}

airlock_sdk::export_plugin!(Looper);
