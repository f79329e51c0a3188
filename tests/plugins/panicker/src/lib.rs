//! panicker: panics with `probe panic: intentional`. The SDK's panic hook reports
//! `probe panic: intentional (at <file>:<line>:<col>)` through `log.report-panic`, then
//! the instance traps.

use airlock_sdk::{Error, Event, Outcome, Plugin};

struct Panicker;

impl Plugin for Panicker {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        panic!("probe panic: intentional");
    }
}

airlock_sdk::export_plugin!(Panicker);
