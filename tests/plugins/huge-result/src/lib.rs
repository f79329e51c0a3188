//! huge-result: returns an outcome whose summary is 8 MiB of `x` (the contract allows
//! 4 KiB; the host must reject it without trouble).

use airlock_sdk::{Error, Event, Outcome, Plugin};

struct HugeResult;

impl Plugin for HugeResult {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        Ok(Outcome::new("x".repeat(8 << 20)))
    }
}

airlock_sdk::export_plugin!(HugeResult);
