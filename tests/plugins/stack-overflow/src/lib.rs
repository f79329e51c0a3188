//! stack-overflow: non-tail recursion (with `black_box`, so it is neither turned into a
//! loop nor optimized away) until the stack overflows: either wasmtime's wasm stack
//! limit or the guest's shadow stack in linear memory; both trap.

use airlock_sdk::{Error, Event, Outcome, Plugin};

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let frame = core::hint::black_box([depth; 16]);
    let below = recurse(core::hint::black_box(depth + 1));
    below.wrapping_add(frame[(depth % 16) as usize])
}

struct StackOverflow;

impl Plugin for StackOverflow {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        Ok(Outcome::new(format!("depth sum {}", recurse(0))))
    }
}

airlock_sdk::export_plugin!(StackOverflow);
