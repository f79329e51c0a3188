//! stack-overflow: unbounded non-tail recursion until wasmtime's wasm stack limit traps
//! (`Trap::StackOverflow`). Only scalars live in each frame, so nothing goes to the
//! shadow stack in linear memory (whose overflow would be an out-of-bounds access instead);
//! the `rotate_left` after the call keeps LLVM from turning the recursion into a loop, and
//! the depth limit read from a static keeps it from being folded away.

use core::sync::atomic::{AtomicU64, Ordering};

use airlock_sdk::{Error, Event, Outcome, Plugin};

static LIMIT: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth >= LIMIT.load(Ordering::Relaxed) {
        return depth;
    }
    recurse(depth + 1).rotate_left(7) ^ depth
}

struct StackOverflow;

impl Plugin for StackOverflow {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        LIMIT.store(core::hint::black_box(u64::MAX), Ordering::Relaxed);
        Ok(Outcome::new(format!("depth sum {}", recurse(0))))
    }
}

airlock_sdk::export_plugin!(StackOverflow);
