//! memory-hog: keeps 1 MiB blocks alive (writing to every page) up to 1 GiB. The host's
//! memory cap must stop it: the failing `memory.grow` makes the allocator fail, which
//! aborts (a trap; allocation failure is not a panic, so no panic report is sent).
//! Summary if it is never stopped: `allocated 1024 MiB`.

use airlock_sdk::{Error, Event, Outcome, Plugin};

const MIB: usize = 1 << 20;

struct MemoryHog;

impl Plugin for MemoryHog {
    fn handle(_event: Event) -> Result<Outcome, Error> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        for i in 0..1024 {
            let mut block = vec![0u8; MIB];
            for byte in block.iter_mut().step_by(4096) {
                *byte = i as u8 | 1;
            }
            blocks.push(core::hint::black_box(block));
        }
        Ok(Outcome::new(format!(
            "allocated {} MiB",
            core::hint::black_box(&blocks).len()
        )))
    }
}

airlock_sdk::export_plugin!(MemoryHog);
