//! Audit log throughput: durable appends with group commit, next to the raw SQLite insert
//! rate of the same rows measured in the same run, and verification speed.
//!
//! Run: `cargo bench -p airlock-host --bench audit`.

/// The service's allocator, as `src/main.rs` sets it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use airlock_host::audit::{AuditEntry, Decision};
use airlock_host::checkpoint::Signer25519;
use airlock_host::integrity::{self, VerifyOptions};
use airlock_host::store::{AuditStore, Durability, SqliteStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent appenders (invocations finishing at the same time).
const WRITERS: usize = 64;
/// Records per append (one invocation's calls).
const PER_APPEND: usize = 5;
/// Appends per writer per measured batch.
const ROUNDS: usize = 20;

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        installation: "auto-tagger".into(),
        plugin: "auto-tagger".into(),
        version: "0.1.0".into(),
        invocation: format!("inv_{:016x}", i / PER_APPEND),
        event: "ticket-created".into(),
        call: "helpdesk.get-ticket".into(),
        resource: format!("t-{i}"),
        fields_returned: vec!["ticket.subject".into(), "ticket.description".into()],
        decision: Some(Decision::Allow),
        reason: "ok".into(),
        ..Default::default()
    }
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open_with(&dir.path().join("airlock.db"), Durability::Full).unwrap());
    let records = (WRITERS * ROUNDS * PER_APPEND) as u64;
    let mut group = c.benchmark_group("audit_append");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(records));
    group.bench_function("group_commit_durable", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for w in 0..WRITERS {
                        let store = store.clone();
                        s.spawn(move || {
                            for r in 0..ROUNDS {
                                let base = (w * ROUNDS + r) * PER_APPEND;
                                store
                                    .append((base..base + PER_APPEND).map(entry).collect())
                                    .unwrap();
                            }
                        });
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });

    // The raw SQLite insert rate of the same rows, same durability, no chain or queue:
    // one durable transaction per row, and all rows in one transaction.
    let raw = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch(
        "CREATE TABLE audit (seq INTEGER, time TEXT, installation TEXT, plugin TEXT, version TEXT, invocation TEXT,
         event TEXT, call TEXT, resource TEXT, fields_returned TEXT, fields_withheld TEXT, decision TEXT,
         reason TEXT, redactions TEXT, details TEXT, prev_hash TEXT, hash TEXT)",
    )
    .unwrap();
    let insert = |conn: &rusqlite::Connection, i: usize| {
        let e = entry(i);
        conn.prepare_cached(
            "INSERT INTO audit VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
        )
        .unwrap()
        .execute(rusqlite::params![
            i as i64,
            "2026-11-29T00:00:00.000Z",
            e.installation,
            e.plugin,
            e.version,
            e.invocation,
            e.event,
            e.call,
            e.resource,
            "[\"ticket.subject\",\"ticket.description\"]",
            "[]",
            "allow",
            "ok",
            "{}",
            "{}",
            "0".repeat(64),
            "f".repeat(64)
        ])
        .unwrap();
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_sqlite_insert_durable_per_row", |b| {
        let mut i = 0;
        b.iter(|| {
            insert(&raw, i);
            i += 1;
        })
    });
    group.throughput(Throughput::Elements(records));
    group.bench_function("raw_sqlite_insert_one_transaction", |b| {
        let mut i = 0;
        b.iter(|| {
            raw.execute_batch("BEGIN").unwrap();
            for _ in 0..records {
                insert(&raw, i);
                i += 1;
            }
            raw.execute_batch("COMMIT").unwrap();
        })
    });
    group.finish();
}

fn verification(c: &mut Criterion) {
    const N: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&dir.path().join("airlock.db"), Durability::Normal).unwrap();
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        store
            .append(chunk.iter().map(|i| entry(*i)).collect())
            .unwrap();
    }
    integrity::checkpoint(&store, &Signer25519::from_seed([1; 32])).unwrap();
    let mut group = c.benchmark_group("audit_verify");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(N as u64));
    group.bench_function("chain_tree_and_checkpoints", |b| {
        b.iter(|| {
            let verified = integrity::verify(&store, &VerifyOptions::default())
                .unwrap()
                .unwrap();
            assert_eq!(verified.records, N as u64);
        })
    });
    // For comparison: reading the same rows out of SQLite on one thread, nothing else.
    group.bench_function("raw_sqlite_scan_one_thread", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let positions = store.audit_positions().unwrap();
            store
                .scan_raw(positions, &mut |_, parts, _, hash| {
                    bytes += parts.iter().map(|p| p.len()).sum::<usize>() + hash.len();
                    Ok(())
                })
                .unwrap();
            bytes
        })
    });
    group.finish();
}

criterion_group!(benches, group_commit, verification);
criterion_main!(benches);
