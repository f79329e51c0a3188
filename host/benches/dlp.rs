//! The outbound data-loss check on 1 MiB request bodies, adversarial ones included: long
//! runs of base64, hex and percent-encoding, many short encoded runs, and many detected
//! values, with 2,000 field values tracked. The check must stay linear in the bytes
//! checked: the target is at most 10 ms of CPU per MiB.
//!
//! Run: `cargo bench -p airlock-host --bench dlp`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use airlock_host::egress::dlp::{Part, SendPolicy, Tracked, scan};
use airlock_redact::Redactor;
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeSet;

const MIB: usize = 1 << 20;

fn fill(piece: &str) -> String {
    piece.repeat(MIB / piece.len() + 1)[..MIB].to_string()
}

fn bodies() -> Vec<(&'static str, String)> {
    let prose = "The export keeps failing after the upgrade; we tried clearing the cache. ";
    let b64 = base64::engine::general_purpose::STANDARD.encode(prose.repeat(4));
    let hexed = hex::encode(prose);
    let percent: String = prose.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        ("prose", fill(prose)),
        ("one-base64-run", fill(&b64)),
        ("short-base64-runs", fill("QUJDREVGR0g= ")),
        ("one-hex-run", fill(&hexed)),
        ("short-hex-runs", fill("4142434445464748 ")),
        ("percent-encoded", fill(&percent)),
        ("many-emails", fill("vera.k@bigcorp.example, ")),
    ]
}

fn tracked() -> Vec<Tracked> {
    (0..2_000)
        .filter_map(|i| {
            Tracked::new(
                "requester.email",
                "personal",
                &format!("person{i}@example.org"),
            )
        })
        .collect()
}

fn dlp(c: &mut Criterion) {
    let redactor = Redactor::default();
    let tracked = tracked();
    let send = BTreeSet::new();
    let policy = SendPolicy { send: &send };
    let mut group = c.benchmark_group("dlp_scan_1mib");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.sample_size(10);
    for (name, body) in bodies() {
        group.bench_function(name, |b| {
            b.iter(|| scan(&redactor, &tracked, &policy, &[(Part::Body, &body)]))
        });
    }
    group.finish();
}

criterion_group!(benches, dlp);
criterion_main!(benches);
