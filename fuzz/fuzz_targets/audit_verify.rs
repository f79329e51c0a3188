//! An exported log, mutated: the offline verifier never panics, and a log it accepts is
//! one whose chain it could rebuild.
#![no_main]

use airlock_audit::record::{AuditEntry, AuditRecord, seal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A valid chain of three records, then the input applied as byte edits to its JSON.
    let mut prev: Option<(u64, String)> = None;
    let mut lines = Vec::new();
    for i in 0..3 {
        let entry = AuditEntry {
            call: format!("call-{i}"),
            ..AuditEntry::default()
        };
        let r = seal(
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            format!("2026-01-01T00:00:0{i}.000Z"),
            entry,
        );
        prev = Some((r.seq, r.hash.clone()));
        lines.push(serde_json::to_vec(&r).expect("records serialize"));
    }
    let mut bytes = lines.join(&b'\n');
    for pair in data.chunks(2) {
        if let [at, value] = pair {
            let i = *at as usize % bytes.len();
            bytes[i] = *value;
        }
    }
    let records: Vec<AuditRecord> = bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let _ = airlock_audit::offline::verify_export(records, &[], None);
});
