//! Tests of the audit log's queries, upgrades and pruning in SQLite.

use super::super::audit_journal::columns;
use super::super::audit_table::insert_sql;
use super::super::raw_statement::RawStatement;
use super::*;
use crate::audit::JsonFields;
use rusqlite::Connection;

/// A record of `resource` sealed at `time`, inserted as an older release would.
fn insert_old(
    conn: &Connection,
    prev: Option<&AuditRecord>,
    time: &str,
    resource: &str,
) -> AuditRecord {
    let entry = AuditEntry {
        installation: "inst".into(),
        call: "helpdesk.get-ticket".into(),
        resource: resource.into(),
        decision: Some(Decision::Allow),
        ..Default::default()
    };
    let json = JsonFields::of(&entry);
    let r = audit::seal_encoded(
        prev.map(|p| (p.seq, p.hash.as_str())),
        time.into(),
        entry,
        &json,
    );
    RawStatement::prepare(conn, &insert_sql())
        .unwrap()
        .execute(r.seq as i64, &columns(&r, &json))
        .unwrap();
    r
}

#[test]
fn records_of_no_plugin_are_found_though_empty_names_are_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    let of = |plugin: &str| AuditEntry {
        installation: "airlock".into(),
        plugin: plugin.into(),
        ..Default::default()
    };
    store.append(vec![of(""), of("p"), of("")]).unwrap();
    let plugin = |name: &str| AuditFilter {
        plugin: Some(name.into()),
        ..Default::default()
    };
    assert_eq!(seqs_of(&store, plugin("")), vec![1, 3]);
    assert_eq!(seqs_of(&store, plugin("p")), vec![2]);
}

#[test]
fn record_times_never_go_back_even_if_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    // The last record is later than now: the clock has stepped back since.
    let later = "2999-01-01T00:00:00.000Z";
    insert_old(&store.lock().conn, None, later, "t-1");
    let sealed = store.append(vec![AuditEntry::default()]).unwrap();
    assert_eq!(sealed[0].time, later);
    let since = AuditFilter {
        since: Some(later.into()),
        ..Default::default()
    };
    assert_eq!(seqs_of(&store, since), vec![1, 2]);
}

#[test]
fn retention_cuts_after_the_last_record_older_than_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    let mut prev = None;
    for time in [
        "2026-01-01T00:00:00.000Z",
        "2026-01-02T00:00:00.000Z",
        "2026-01-03T00:00:00.000Z",
    ] {
        prev = Some(insert_old(&store.lock().conn, prev.as_ref(), time, "t-1"));
    }
    for (cut, last) in [
        ("2026-01-01T00:00:00.000Z", 0),
        ("2026-01-02T00:00:00.000Z", 1),
        ("2026-01-02T00:00:00.001Z", 2),
        ("2027-01-01T00:00:00.000Z", 3),
    ] {
        assert_eq!(store.last_seq_before(cut).unwrap(), last, "cut at {cut}");
    }
}

/// The audit tables as the release before this layout made them.
const OLDER_LAYOUT: &str = "
    CREATE TABLE audit (seq INTEGER NOT NULL UNIQUE, time TEXT NOT NULL,
        installation TEXT NOT NULL, plugin TEXT NOT NULL, version TEXT NOT NULL,
        invocation TEXT NOT NULL, event TEXT NOT NULL, call TEXT NOT NULL,
        resource TEXT NOT NULL, fields_returned TEXT NOT NULL,
        fields_withheld TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL,
        redactions TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL);
    CREATE INDEX audit_installation ON audit(installation, seq);
    CREATE INDEX audit_time ON audit(time);
    CREATE INDEX audit_plugin ON audit(plugin, seq);
    CREATE TABLE audit_resource_hours (resource TEXT NOT NULL, hour TEXT NOT NULL,
        PRIMARY KEY (resource, hour)) WITHOUT ROWID;
    CREATE TABLE audit_pruned (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL);
    CREATE TABLE audit_checkpoints (size INTEGER PRIMARY KEY, doc TEXT NOT NULL);";

#[test]
fn queries_work_on_a_log_upgraded_from_the_older_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let old = Connection::open(&path).unwrap();
    old.execute_batch(OLDER_LAYOUT).unwrap();
    let mut prev = None;
    for (time, resource) in [
        ("2026-01-01T09:59:59.000Z", "t-1"),
        ("2026-01-01T10:00:00.000Z", "t-2"),
        ("2026-01-02T23:30:00.000Z", "t-1"),
        ("2026-03-01T00:00:00.000Z", "t-10"),
    ] {
        prev = Some(insert_old(&old, prev.as_ref(), time, resource));
    }
    drop(old);

    let store = SqliteStore::open(&path).unwrap();
    let leftovers: Vec<String> = store
        .lock()
        .conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE name IN \
             ('audit_time', 'audit_plugin', 'audit_installation', 'audit_resource_hours', \
             'audit_old')",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(leftovers, Vec::<String>::new());
    store
        .append(vec![AuditEntry {
            installation: "inst".into(),
            resource: "t-1".into(),
            ..Default::default()
        }])
        .unwrap();
    let seqs = |filter| seqs_of(&store, filter);
    assert_eq!(seqs(by_resource("t-1")), vec![1, 3, 5]);
    assert_eq!(seqs(by_resource("t-2")), vec![2]);
    assert_eq!(seqs(by_resource("t-10")), vec![4]);
    assert_eq!(seqs(by_resource("t")), Vec::<u64>::new());
    let window = AuditFilter {
        since: Some("2026-01-01T10:00:00.000Z".into()),
        until: Some("2026-03-01T00:00:00.000Z".into()),
        installation: Some("inst".into()),
        ..Default::default()
    };
    assert_eq!(seqs(window), vec![2, 3]);
    assert_eq!(
        store.last_seq_before("2026-01-02T00:00:00.000Z").unwrap(),
        2
    );
    let report = crate::integrity::verify(&store, &Default::default())
        .unwrap()
        .expect("the upgraded log verifies");
    assert_eq!(report.records, 5);
    drop(store);
    // Opening again finds the layout current and changes nothing.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(seqs_of(&store, by_resource("t-1")), vec![1, 3, 5]);
}

#[test]
fn queries_work_on_a_log_upgraded_from_the_block_index_keyed_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let old = Connection::open(&path).unwrap();
    // The audit table is as before; the block index was one table keyed by name.
    old.execute_batch(&format!(
        "{}
         CREATE TABLE audit_blocks (kind TEXT NOT NULL, name TEXT NOT NULL,
             block INTEGER NOT NULL, PRIMARY KEY (kind, name, block)) WITHOUT ROWID;
         PRAGMA user_version = 1;",
        super::super::audit_table::SCHEMA
    ))
    .unwrap();
    let mut prev = None;
    for resource in ["t-1", "t-2", "t-1"] {
        prev = Some(insert_old(
            &old,
            prev.as_ref(),
            "2026-01-01T00:00:00.000Z",
            resource,
        ));
    }
    old.execute_batch(
        "INSERT OR IGNORE INTO audit_blocks SELECT 'installation', installation, seq >> 10 FROM audit;
         INSERT OR IGNORE INTO audit_blocks SELECT 'plugin', plugin, seq >> 10 FROM audit;
         INSERT OR IGNORE INTO audit_blocks SELECT 'resource', resource, seq >> 10 FROM audit;",
    )
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).unwrap();
    let version: i64 = store
        .lock()
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    store
        .append(vec![AuditEntry {
            installation: "inst".into(),
            resource: "t-2".into(),
            ..Default::default()
        }])
        .unwrap();
    let seqs = |filter| seqs_of(&store, filter);
    assert_eq!(seqs(by_resource("t-1")), vec![1, 3]);
    assert_eq!(seqs(by_resource("t-2")), vec![2, 4]);
    let installation = AuditFilter {
        installation: Some("inst".into()),
        ..Default::default()
    };
    assert_eq!(seqs(installation), vec![1, 2, 3, 4]);
    let no_plugin = AuditFilter {
        plugin: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(seqs(no_plugin), vec![1, 2, 3, 4], "records of no plugin");
    crate::integrity::verify(&store, &Default::default())
        .unwrap()
        .expect("the upgraded log verifies");
}

#[test]
fn names_are_found_across_epochs_and_after_pruning() {
    use super::super::audit_blocks::EPOCH_BITS;
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open_with(&dir.path().join("airlock.db"), crate::Durability::Normal).unwrap();
    // Two epochs and a bit, appended in batches that straddle the epoch boundaries.
    let epoch = 1usize << (EPOCH_BITS + BLOCK_BITS);
    let n = 2 * epoch + 5000;
    let shared = |seq: usize| seq % 1000 == 1;
    for chunk in (1..=n).collect::<Vec<_>>().chunks(3000) {
        let entries = chunk
            .iter()
            .map(|&seq| AuditEntry {
                installation: format!("inst-{}", seq % 3),
                plugin: "plugin".into(),
                resource: match shared(seq) {
                    true => "t-shared".into(),
                    false => format!("t-{seq}"),
                },
                ..Default::default()
            })
            .collect();
        store.append(entries).unwrap();
    }
    assert_eq!(store.count_audit().unwrap(), n as u64, "all indexed");
    let count = |sql: &str| -> i64 { store.lock().conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT MAX(epoch) FROM audit_blocks"), 2);
    let all = |filter: AuditFilter| {
        seqs_of(
            &store,
            AuditFilter {
                limit: Some(10_000),
                ..filter
            },
        )
    };
    let resource = |name: &str, after_seq: Option<u64>| AuditFilter {
        after_seq,
        ..by_resource(name)
    };
    let expected: Vec<u64> = (1..=n).filter(|s| shared(*s)).map(|s| s as u64).collect();
    assert_eq!(all(resource("t-shared", None)), expected);
    let later: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|s| *s > epoch as u64)
        .collect();
    assert_eq!(all(resource("t-shared", Some(epoch as u64))), later);
    for seq in [2, epoch - 1, epoch, epoch + 1, 2 * epoch, n] {
        let name = format!("t-{seq}");
        assert_eq!(all(resource(&name, None)), vec![seq as u64], "{name}");
    }
    let installation = AuditFilter {
        installation: Some("inst-1".into()),
        after_seq: Some(epoch as u64 - 5),
        limit: Some(4),
        ..Default::default()
    };
    let near_the_boundary: Vec<u64> = (epoch as u64 - 4..)
        .filter(|s| s % 3 == 1)
        .take(4)
        .collect();
    assert_eq!(seqs_of(&store, installation), near_the_boundary);
    assert!(near_the_boundary[0] < epoch as u64 && near_the_boundary[3] > epoch as u64);

    // Pruning the first epoch and a half drops their entries, and nothing after.
    let cut = epoch + epoch / 2;
    store.prune_through(cut as u64).unwrap();
    assert_eq!(count("SELECT MIN(epoch) FROM audit_blocks"), 1);
    assert_eq!(
        count("SELECT MIN(block) FROM audit_blocks"),
        ((cut + 1) >> BLOCK_BITS) as i64
    );
    let kept: Vec<u64> = expected.into_iter().filter(|s| *s > cut as u64).collect();
    assert_eq!(all(resource("t-shared", None)), kept);
    assert!(all(resource("t-2", None)).is_empty(), "pruned");
}

/// Records naming `resource`.
fn by_resource(resource: &str) -> AuditFilter {
    AuditFilter {
        resource: Some(resource.into()),
        ..Default::default()
    }
}

fn seqs_of(store: &SqliteStore, filter: AuditFilter) -> Vec<u64> {
    store
        .query(&filter)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect()
}

#[test]
fn queries_by_plugin_resource_and_time_span_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open_with(&dir.path().join("airlock.db"), crate::Durability::Normal).unwrap();
    // Three blocks' worth of records from two installations of two plugins; every
    // 700th names the same ticket.
    let n = 3000;
    let entries = (0..n)
        .map(|i| AuditEntry {
            installation: format!("inst-{}", i % 2),
            plugin: format!("plugin-{}", i % 2),
            resource: match i % 700 {
                0 => "t-shared".into(),
                _ => format!("t-{i}"),
            },
            ..Default::default()
        })
        .collect();
    store.append(entries).unwrap();
    let all = |mut filter: AuditFilter| -> Vec<u64> {
        filter.limit = Some(10_000);
        seqs_of(&store, filter)
    };
    let shared = all(by_resource("t-shared"));
    assert_eq!(shared, vec![1, 701, 1401, 2101, 2801]);
    let paged = all(AuditFilter {
        after_seq: Some(1401),
        ..by_resource("t-shared")
    });
    assert_eq!(paged, vec![2101, 2801]);
    let past_the_end = all(AuditFilter {
        after_seq: Some(u64::MAX),
        ..by_resource("t-shared")
    });
    assert!(past_the_end.is_empty());
    assert!(
        all(AuditFilter {
            after_seq: Some(u64::MAX),
            ..Default::default()
        })
        .is_empty()
    );
    let plugin = all(AuditFilter {
        plugin: Some("plugin-1".into()),
        ..Default::default()
    });
    assert_eq!(plugin.len(), n / 2);
    assert!(plugin.iter().all(|s| s % 2 == 0), "odd i is even seq");
    assert!(
        all(AuditFilter {
            plugin: Some("plugin-2".into()),
            ..Default::default()
        })
        .is_empty()
    );
    // One append, one time: every record is in a window around it, none after it.
    let time = store.query(&AuditFilter::default()).unwrap()[0]
        .time
        .clone();
    let since = |t: &str| AuditFilter {
        since: Some(t.into()),
        ..Default::default()
    };
    assert_eq!(all(since(&time)).len(), n);
    assert!(all(since(&format!("{time}~"))).is_empty());
}
