//! Randomized tamper trials against the chain, the Merkle tree and signed checkpoints;
//! inclusion proofs; retention that keeps the log verifiable.

use airlock_host::audit::{AuditEntry, Decision, seal};
use airlock_host::checkpoint::{Checkpoint, Signer25519};
use airlock_host::integrity::{self, VerifyOptions};
use airlock_host::merkle::{self, leaf_hash, verify_inclusion};
use airlock_host::store::{AuditStore, Durability, SqliteStore};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// A small deterministic generator for positions.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        installation: format!("inst-{}", i % 3),
        plugin: "p".into(),
        version: "1.0.0".into(),
        invocation: format!("inv_{}", i / 4),
        event: "ticket-created".into(),
        call: "helpdesk.get-ticket".into(),
        resource: format!("t-{i}"),
        fields_returned: vec!["ticket.subject".into()],
        decision: Some(Decision::Allow),
        reason: "ok".into(),
        ..Default::default()
    }
}

/// A log of `n` records with signed checkpoints every 16 records and at the end.
fn log(n: u64) -> (tempfile::TempDir, PathBuf, Signer25519) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("airlock.db");
    let store = SqliteStore::open(&db).unwrap();
    let signer = Signer25519::from_seed([42; 32]);
    for i in 0..n {
        store.append(vec![entry(i)]).unwrap();
        if (i + 1) % 16 == 0 {
            integrity::checkpoint(&store, &signer).unwrap();
        }
    }
    integrity::checkpoint(&store, &signer).unwrap();
    (dir, db, signer)
}

fn verify_at(db: &Path, options: &VerifyOptions) -> Result<(), integrity::Tampered> {
    let store = SqliteStore::open(db).unwrap();
    integrity::verify(&store, options).unwrap().map(|_| ())
}

/// The first bad position, checked to be the same however many threads verify.
fn first_bad(db: &Path) -> u64 {
    let at = |threads| {
        let options = VerifyOptions {
            threads: Some(threads),
            ..Default::default()
        };
        verify_at(db, &options).expect_err("tampering went unnoticed")
    };
    let alone = at(1);
    for threads in [2, 3, 7] {
        assert_eq!(at(threads), alone, "verified by {threads} threads");
    }
    alone.first_bad_seq
}

fn sql(db: &Path) -> Connection {
    Connection::open(db).unwrap()
}

const N: u64 = 60;

#[test]
fn intact_logs_verify() {
    let (_dir, db, _) = log(N);
    verify_at(&db, &VerifyOptions::default()).unwrap();
    for threads in [1, 2, 3, 7, 100] {
        let options = VerifyOptions {
            threads: Some(threads),
            ..Default::default()
        };
        verify_at(&db, &options).unwrap();
    }
}

#[test]
fn randomized_edits_deletions_insertions_and_reorders_are_all_named() {
    let mut rng = Rng(0x5eed);
    let columns = [
        "time",
        "installation",
        "plugin",
        "version",
        "invocation",
        "event",
        "call",
        "resource",
        "reason",
        "prev_hash",
        "hash",
    ];
    for trial in 0..24 {
        let (_dir, db, _) = log(N);
        let conn = sql(&db);
        let at = 1 + rng.below(N);
        let expected = match trial % 4 {
            0 => {
                let col = columns[rng.below(columns.len() as u64) as usize];
                conn.execute(
                    &format!("UPDATE audit SET {col} = {col} || '0' WHERE seq = ?1"),
                    [at],
                )
                .unwrap();
                at
            }
            1 => {
                conn.execute("DELETE FROM audit WHERE seq = ?1", [at])
                    .unwrap();
                at
            }
            2 => {
                // Insert a forged record before `at`, renumbering those after it.
                conn.execute_batch(&format!(
                    "UPDATE audit SET seq = -seq WHERE seq >= {at};
                     UPDATE audit SET seq = -seq + 1 WHERE seq < 0;"
                ))
                .unwrap();
                let forged = seal(None, "2026-01-01T00:00:00.000Z".into(), entry(999));
                conn.execute(
                    "INSERT INTO audit (seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash)
                     VALUES (?1, ?2, 'x', 'p', '1', 'i', 'e', 'c', 'r', '[]', '[]', 'allow', 'ok', '{}', '{}', ?3, ?4)",
                    rusqlite::params![at, forged.time, forged.prev_hash, forged.hash],
                )
                .unwrap();
                // Storage order puts the forged row last; it is still caught first at `at`.
                at
            }
            _ => {
                let other = 1 + rng.below(N);
                let (a, b) = (at.min(other), at.max(other).max(at.min(other) + 1).min(N));
                if a == b {
                    continue;
                }
                conn.execute_batch(&format!(
                    "UPDATE audit SET seq = -1 WHERE seq = {a};
                     UPDATE audit SET seq = {a} WHERE seq = {b};
                     UPDATE audit SET seq = {b} WHERE seq = -1;"
                ))
                .unwrap();
                a
            }
        };
        drop(conn);
        assert_eq!(first_bad(&db), expected, "trial {trial}");
    }
}

#[test]
fn truncation_is_detected_by_the_checkpoint_at_the_end() {
    let mut rng = Rng(7);
    for _ in 0..6 {
        let (_dir, db, _) = log(N);
        let keep = rng.below(N);
        sql(&db)
            .execute("DELETE FROM audit WHERE seq > ?1", [keep])
            .unwrap();
        assert_eq!(first_bad(&db), keep + 1);
    }
}

/// Rewrites the whole log as a self-consistent fake of the same length.
fn replace_with_fake(db: &Path) {
    let conn = sql(db);
    conn.execute("DELETE FROM audit", []).unwrap();
    let store = SqliteStore::open(db).unwrap();
    for i in 0..N {
        let mut e = entry(i);
        e.resource = format!("innocent-{i}");
        store.append(vec![e]).unwrap();
    }
}

#[test]
fn a_self_consistent_fake_log_is_detected() {
    // The fake keeps the stored checkpoints: their roots no longer match.
    let (_dir, db, _) = log(N);
    replace_with_fake(&db);
    assert_eq!(first_bad(&db), 1);

    // The attacker also re-signs the checkpoints with a key of their own: the exported
    // checkpoints and the pinned public key still catch it.
    let (_dir, db, signer) = log(N);
    let exported = SqliteStore::open(&db).unwrap().checkpoints().unwrap();
    replace_with_fake(&db);
    let fake_signer = Signer25519::from_seed([666; 32].map(|x: u16| x as u8));
    let conn = sql(&db);
    conn.execute("DELETE FROM audit_checkpoints", []).unwrap();
    drop(conn);
    integrity::checkpoint(&SqliteStore::open(&db).unwrap(), &fake_signer).unwrap();
    assert!(
        verify_at(&db, &VerifyOptions::default()).is_ok(),
        "self-consistent on its own"
    );
    let pinned = airlock_host::checkpoint::parse_public_key(&signer.public_key_hex()).unwrap();
    let err = verify_at(
        &db,
        &VerifyOptions {
            exported,
            trusted_key: Some(pinned),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.first_bad_seq, N, "{err}");
    assert!(
        err.problem.contains("key other than the trusted one"),
        "{err}"
    );

    // Without the pinned key, the exported checkpoints' roots alone expose the fake.
    let (_dir, db, _) = log(N);
    let exported: Vec<Checkpoint> = SqliteStore::open(&db).unwrap().checkpoints().unwrap();
    replace_with_fake(&db);
    sql(&db)
        .execute("DELETE FROM audit_checkpoints", [])
        .unwrap();
    let err = verify_at(
        &db,
        &VerifyOptions {
            exported,
            trusted_key: None,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.first_bad_seq, 1, "{err}");

    // Issue 14: the attacker's own checkpoint at the same size as an exported one
    // matched first, and the exported one's mismatch then named an empty range
    // (`N+1..=N`). It is located from the last good size before it.
    let (_dir, db, _) = log(N);
    let exported: Vec<Checkpoint> = SqliteStore::open(&db).unwrap().checkpoints().unwrap();
    replace_with_fake(&db);
    sql(&db)
        .execute("DELETE FROM audit_checkpoints", [])
        .unwrap();
    let fake_signer = Signer25519::from_seed([9; 32]);
    integrity::checkpoint(&SqliteStore::open(&db).unwrap(), &fake_signer).unwrap();
    let err = verify_at(
        &db,
        &VerifyOptions {
            exported: exported.into_iter().filter(|c| c.size == N).collect(),
            trusted_key: None,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.first_bad_seq, 1, "{err}");
    assert!(err.problem.contains(&format!("records 1..={N}")), "{err}");
}

#[test]
fn sparse_checkpoints_are_checked_across_whole_blocks_of_the_tree() {
    // Blocks of 64 leaves are hashed whole between checkpoints; a fake tail is still
    // caught by the next checkpoint, however many threads verify.
    for (fake_from, first) in [(200, 131), (100, 1), (300, 131)] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let store = SqliteStore::open(&db).unwrap();
        let signer = Signer25519::from_seed([7; 32]);
        for i in 0..300 {
            store.append(vec![entry(i)]).unwrap();
            if i + 1 == 130 {
                integrity::checkpoint(&store, &signer).unwrap();
            }
        }
        integrity::checkpoint(&store, &signer).unwrap();
        drop(store);
        for threads in [1, 2, 3, 7] {
            let options = VerifyOptions {
                threads: Some(threads),
                ..Default::default()
            };
            verify_at(&db, &options).unwrap();
        }
        sql(&db)
            .execute("DELETE FROM audit WHERE seq >= ?1", [fake_from])
            .unwrap();
        let store = SqliteStore::open(&db).unwrap();
        for i in fake_from - 1..300 {
            let mut e = entry(i);
            e.resource = format!("innocent-{i}");
            store.append(vec![e]).unwrap();
        }
        drop(store);
        assert_eq!(first_bad(&db), first, "fake from {fake_from}");
    }
}

#[test]
fn inclusion_proofs_verify_against_the_signed_root() {
    let (_dir, db, signer) = log(N);
    let store = SqliteStore::open(&db).unwrap();
    for seq in [1, 2, 17, 33, N] {
        let p = integrity::inclusion_proof(&store, &signer, seq)
            .unwrap()
            .unwrap();
        p.checkpoint.verify_signature(None).unwrap();
        let mut leaf = [0u8; 32];
        hex::decode_to_slice(&p.record_hash, &mut leaf).unwrap();
        let proof: Vec<[u8; 32]> = p
            .proof
            .iter()
            .map(|h| {
                let mut x = [0u8; 32];
                hex::decode_to_slice(h, &mut x).unwrap();
                x
            })
            .collect();
        let mut root = [0u8; 32];
        hex::decode_to_slice(&p.checkpoint.root, &mut root).unwrap();
        assert!(
            verify_inclusion(leaf_hash(&leaf), p.leaf_index, p.tree_size, &proof, &root),
            "seq {seq}"
        );
        assert!(!verify_inclusion(
            leaf_hash(&[0; 32]),
            p.leaf_index,
            p.tree_size,
            &proof,
            &root
        ));
    }
    assert!(
        integrity::inclusion_proof(&store, &signer, N + 5)
            .unwrap()
            .is_none()
    );
}

#[test]
fn inclusion_proofs_of_a_long_pruned_log_come_from_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&dir.path().join("airlock.db"), Durability::Normal).unwrap();
    let signer = Signer25519::from_seed([42; 32]);
    let n = 2 * integrity::PROOF_BLOCK + 600;
    store.append((0..n).map(entry).collect()).unwrap();
    let cp = integrity::checkpoint(&store, &signer).unwrap();
    store.prune_through(1500).unwrap();
    let decode = |h: &String| {
        let mut x = [0u8; 32];
        hex::decode_to_slice(h, &mut x).unwrap();
        x
    };
    // Every leaf, for proofs the simple way.
    let leaves: Vec<[u8; 32]> = store
        .record_hashes(1..n + 1)
        .unwrap()
        .iter()
        .map(|h| leaf_hash(&decode(h)))
        .collect();
    assert_eq!(leaves.len() as u64, n);
    let root = decode(&cp.root);
    for seq in [1, 1024, 1025, 1500, 1501, 2048, 2049, n] {
        // The second time, the blocks' roots are remembered ones.
        for _ in 0..2 {
            let p = integrity::inclusion_proof(&store, &signer, seq)
                .unwrap()
                .unwrap();
            assert_eq!(p.tree_size, n);
            let expected: Vec<String> = merkle::inclusion_proof(&leaves, (seq - 1) as usize)
                .iter()
                .map(hex::encode)
                .collect();
            assert_eq!(p.proof, expected, "seq {seq}");
            let proof: Vec<[u8; 32]> = p.proof.iter().map(decode).collect();
            let leaf = leaf_hash(&decode(&p.record_hash));
            assert!(
                verify_inclusion(leaf, seq - 1, n, &proof, &root),
                "seq {seq}"
            );
        }
    }
    assert!(store.tree_block(0).unwrap().is_some());
    assert!(store.tree_block(1).unwrap().is_some());
    assert!(
        store.tree_block(2).unwrap().is_none(),
        "block 2 is not complete"
    );
}

#[test]
fn pruning_keeps_the_log_verifiable_and_is_audited() {
    let (_dir, db, signer) = log(N);
    let store = SqliteStore::open(&db).unwrap();
    // Everything sealed so far is older than "the future".
    let deleted = integrity::prune_before(&store, &signer, "9999-01-01T00:00:00.000Z").unwrap();
    assert_eq!(deleted, N);
    let remaining = store.query(&Default::default()).unwrap();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].entry.call, "audit.prune");
    assert_eq!(remaining[0].entry.details["pruned_through"], N.to_string());
    drop(store);
    verify_at(&db, &VerifyOptions::default()).unwrap();

    // Tampering with the kept hashes of pruned records is still detected.
    sql(&db)
        .execute(
            "UPDATE audit_pruned SET hash = ?1 WHERE seq = 5",
            [hex::encode([9u8; 32])],
        )
        .unwrap();
    assert!(verify_at(&db, &VerifyOptions::default()).is_err());
}

#[test]
fn concurrent_appends_share_one_gapless_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("airlock.db");
    let store = SqliteStore::open(&db).unwrap();
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..50 {
                        let sealed = store
                            .append((0..3).map(|k| entry(t * 1000 + i * 3 + k)).collect())
                            .unwrap();
                        // One caller's batch is contiguous and in order.
                        assert!(sealed.windows(2).all(|w| w[1].seq == w[0].seq + 1));
                        mine.extend(sealed.iter().map(|r| r.seq));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2400).collect::<Vec<u64>>());
    drop(store);
    verify_at(&db, &VerifyOptions::default()).unwrap();
}

/// An auditor verifies an export (the JSON Lines of `airlock audit export`) and the
/// exported checkpoints with `airlock-audit` alone, as `airlock-audit-verify` does: an
/// intact export matches every checkpoint; an edited line is named.
#[test]
fn an_exported_log_verifies_offline_with_the_audit_crate_alone() {
    use airlock_audit::offline::verify_export;
    let (_dir, db, signer) = log(40);
    let store = SqliteStore::open(&db).unwrap();
    let lines: Vec<String> = store
        .query(&Default::default())
        .unwrap()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    let parse = |lines: &[String]| -> Vec<airlock_audit::record::AuditRecord> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let checkpoints = store.checkpoints().unwrap();
    let key = airlock_host::checkpoint::parse_public_key(&signer.public_key_hex()).unwrap();
    let report = verify_export(parse(&lines), &checkpoints, Some(&key)).unwrap();
    assert_eq!(report.records, 40);
    assert_eq!(report.checkpoints_matched, checkpoints.len());

    let mut edited = lines.clone();
    edited[20] = edited[20].replace("t-20", "t-99");
    let e = verify_export(parse(&edited), &checkpoints, Some(&key)).unwrap_err();
    assert!(e.starts_with("record 21:"), "{e}");
}

/// Issue 14: verifying while the service appends and signs checkpoints said "the log was
/// truncated" (34 of 41 verifies under load): the checkpoints were read after the log
/// was scanned, so one signed in between covered records the scan had not seen.
#[test]
fn verifying_while_records_are_appended_and_signed_never_raises_a_false_alarm() {
    let (_dir, db, signer) = log(64);
    let store = std::sync::Arc::new(SqliteStore::open(&db).unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut i = 1000;
            while !done.load(std::sync::atomic::Ordering::Relaxed) && i < 3000 {
                store.append((i..i + 8).map(entry).collect()).unwrap();
                integrity::checkpoint(store.as_ref(), &signer).unwrap();
                i += 8;
            }
        })
    };
    let verifies: Vec<_> = (0..8)
        .map(|_| integrity::verify(store.as_ref(), &VerifyOptions::default()).unwrap())
        .collect();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    for result in verifies {
        if let Err(alarm) = result {
            panic!(
                "a false alarm at {}: {}",
                alarm.first_bad_seq, alarm.problem
            );
        }
    }
}
