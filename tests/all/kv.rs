//! Issue 23: each installation's own kv store, through the hostile `secret-thief`
//! driven by its action payload (`{"kv": [{"op": …}]}`, one `kv#i ok=…|error=…` line per
//! operation).

use crate::support::{TestHost, component, fixture, manifest, ticket};
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditFilter, Decision};
use airlock_host::dispatch::EventRequest;
use airlock_host::installation::Grants;
use airlock_host::store::Durability;
use serde_json::{Value, json};

/// A host with the thief installed as `id` (label `id`), granted kv when `kv`.
fn host_with_thieves(ids: &[&str], kv: bool) -> TestHost {
    thieves(Some([9; 32]), ids, kv)
}

/// [`host_with_thieves`] with `master_key` (`None`: a `master.key` file in the data
/// directory).
pub(crate) fn thieves(master_key: Option<[u8; 32]>, ids: &[&str], kv: bool) -> TestHost {
    let dir = tempfile::tempdir().unwrap();
    let airlock = Airlock::open_with(
        dir.path(),
        Options {
            durability: Durability::Normal,
            master_key,
            ..Options::default()
        },
    )
    .unwrap();
    airlock.import(&fixture()).unwrap();
    let host = TestHost { dir, airlock };
    host.ticket_created(ticket("t-1", "Printer on fire", "It smokes.", "u-vip"));
    for id in ids {
        host.airlock
            .install(
                "plugin.toml",
                &manifest("secret-thief"),
                &component("secret-thief"),
                Some(id),
            )
            .unwrap();
        let grants = Grants {
            read: [
                "ticket.subject".to_string(),
                "ticket.requester_id".into(),
                "requester.email".into(),
            ]
            .into(),
            kv,
            ..Default::default()
        };
        host.airlock.set_grants(id, grants).unwrap();
        host.airlock.set_settings(id, json!({"label": id})).unwrap();
    }
    host
}

/// Runs `ops` as installation `id`; returns each op's result (`ok=…` or `error=…`).
pub(crate) fn ops(airlock: &Airlock, id: &str, ops: Value) -> Vec<String> {
    let results = airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload: json!({"for": id, "kv": ops}),
        })
        .unwrap();
    let r = results.iter().find(|r| r.installation == id).unwrap();
    assert_eq!(r.status, "ok", "{r:?}");
    r.summary
        .clone()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_string()))
        .collect()
}

#[test]
fn without_the_grant_every_call_is_denied_and_audited() {
    let host = host_with_thieves(&["thief"], false);
    let got = ops(
        &host.airlock,
        "thief",
        json!([{"op": "set", "key": "k", "value": "v"}, {"op": "get", "key": "k"}]),
    );
    assert_eq!(got, ["error=denied", "error=denied"]);
    let records = host
        .airlock
        .audit(&AuditFilter {
            call: Some("kv.set".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records[0].entry.decision, Some(Decision::Deny));
}

#[test]
fn values_round_trip_and_increment_and_cas_behave() {
    let host = host_with_thieves(&["thief"], true);
    let got = ops(
        &host.airlock,
        "thief",
        json!([
            {"op": "get", "key": "k"},
            {"op": "set", "key": "k", "value": "v1"},
            {"op": "get", "key": "k"},
            {"op": "exists", "key": "k"},
            {"op": "cas", "key": "k", "expected": "nope", "value": "v2"},
            {"op": "cas", "key": "k", "expected": "v1", "value": "v2"},
            {"op": "get", "key": "k"},
            {"op": "cas", "key": "fresh", "value": "first"},
            {"op": "cas", "key": "fresh", "value": "second"},
            {"op": "increment", "key": "n", "delta": 5},
            {"op": "increment", "key": "n", "delta": -2},
            {"op": "increment", "key": "k"},
            {"op": "delete", "key": "k"},
            {"op": "exists", "key": "k"},
            {"op": "delete", "key": "k"},
        ]),
    );
    assert_eq!(
        got,
        [
            "ok=none",
            "ok=set",
            "ok=v1",
            "ok=true",
            "ok=false",
            "ok=true",
            "ok=v2",
            "ok=true",
            "ok=false",
            "ok=5",
            "ok=3",
            "error=invalid",
            "ok=deleted",
            "ok=false",
            "ok=deleted",
        ]
    );
    // A later invocation sees what an earlier one wrote.
    assert_eq!(
        ops(&host.airlock, "thief", json!([{"op": "get", "key": "n"}])),
        ["ok=3"]
    );
}

#[test]
fn another_installation_s_keys_cannot_be_reached() {
    let host = host_with_thieves(&["alice", "bob"], true);
    assert_eq!(
        ops(
            &host.airlock,
            "alice",
            json!([{"op": "set", "key": "shared", "value": "a"}])
        ),
        ["ok=set"]
    );
    assert_eq!(
        ops(
            &host.airlock,
            "bob",
            json!([{"op": "get", "key": "shared"}, {"op": "count-keys"}])
        ),
        ["ok=none", "ok=0"]
    );
    assert_eq!(
        ops(
            &host.airlock,
            "bob",
            json!([{"op": "set", "key": "shared", "value": "b"}])
        ),
        ["ok=set"]
    );
    assert_eq!(
        ops(
            &host.airlock,
            "alice",
            json!([{"op": "get", "key": "shared"}])
        ),
        ["ok=a"]
    );
}

#[test]
fn one_byte_over_the_quota_is_limit_and_writes_nothing() {
    // secret-thief asks for 4 MiB (keys, values and provenance) and 20000 keys.
    const QUOTA: u64 = 4 << 20;
    let host = host_with_thieves(&["thief"], true);
    // What one entry costs beyond its key and value: the provenance of an action's
    // invocation (the same in each).
    assert_eq!(
        ops(
            &host.airlock,
            "thief",
            json!([{"op": "set", "key": "p", "value": ""}])
        ),
        ["ok=set"]
    );
    let (probe, _) = host.airlock.kv_usage("thief").unwrap();
    let overhead = probe - 1;
    // Values are at most 1 MiB: fill the quota with four of them, the last exactly.
    let room = QUOTA - probe - 3 * (1 + overhead + (1 << 20));
    let last = room - 1 - overhead;
    let got = ops(
        &host.airlock,
        "thief",
        json!([
            {"op": "fill", "key": "a", "size": 1 << 20},
            {"op": "fill", "key": "b", "size": 1 << 20},
            {"op": "fill", "key": "c", "size": 1 << 20},
            {"op": "fill", "key": "d", "size": last + 1},
            {"op": "get", "key": "d"},
            {"op": "fill", "key": "d", "size": last},
            {"op": "fill", "key": "x", "size": 0},
            {"op": "get", "key": "x"},
            {"op": "fill", "key": "huge", "size": (1 << 20) + 1},
            {"op": "set", "key": "k".repeat(257), "value": "v"},
        ]),
    );
    assert_eq!(
        got,
        [
            "ok=set",
            "ok=set",
            "ok=set",
            "error=limit",
            "ok=none",
            "ok=set",
            "error=limit",
            "ok=none",
            "error=limit",
            "error=invalid"
        ]
    );
    assert_eq!(host.airlock.kv_usage("thief").unwrap().0, QUOTA);
}

#[test]
fn a_cursor_walks_ten_thousand_keys_once_each() {
    let host = host_with_thieves(&["thief"], true);
    for chunk in 0..12 {
        let got = ops(
            &host.airlock,
            "thief",
            json!([{"op": "set-many", "key": format!("k{chunk}-"), "n": 850}]),
        );
        assert_eq!(got, ["ok=set"]);
    }
    assert_eq!(
        ops(&host.airlock, "thief", json!([{"op": "count-keys"}])),
        ["ok=10200"]
    );
}

#[test]
fn concurrent_compare_and_swaps_let_exactly_one_win() {
    let host = host_with_thieves(&["thief"], true);
    let airlock = std::sync::Arc::new(host);
    let wins: usize = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let host = airlock.clone();
                s.spawn(move || {
                    ops(
                        &host.airlock,
                        "thief",
                        json!([{"op": "cas", "key": "leader", "value": "me"}]),
                    )
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap())
            .filter(|got| got == &["ok=true"])
            .count()
    });
    assert_eq!(wins, 1);
    // Increments from concurrent invocations are never lost.
    std::thread::scope(|s| {
        for _ in 0..8 {
            let host = airlock.clone();
            s.spawn(move || {
                ops(
                    &host.airlock,
                    "thief",
                    json!([{"op": "increment", "key": "n"}]),
                )
            });
        }
    });
    assert_eq!(
        ops(
            &airlock.airlock,
            "thief",
            json!([{"op": "get", "key": "n"}])
        ),
        ["ok=8"]
    );
}

#[test]
fn keys_and_values_are_sealed_in_the_database_and_audited_by_hash_only() {
    let host = host_with_thieves(&["thief"], true);
    let key = "customer-vera@bigcorp.example";
    let value = "VALUE-7f3a-the-plugin-stored-this";
    assert_eq!(
        ops(
            &host.airlock,
            "thief",
            json!([{"op": "set", "key": key, "value": value}])
        ),
        ["ok=set"]
    );
    // Every file of the data directory: the database, its WAL, the audit journal.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(host.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(value),
        "the value is in the database file in clear"
    );
    assert!(
        !text.contains(key),
        "the key name is in the database file in clear"
    );
    let records = host
        .airlock
        .audit(&AuditFilter {
            call: Some("kv.set".into()),
            ..Default::default()
        })
        .unwrap();
    let record = serde_json::to_string(&records).unwrap();
    assert!(!record.contains(key) && !record.contains(value), "{record}");
    let details = &records[0].entry.details;
    assert!(details["key"].starts_with('#'), "{details:?}");
    assert_eq!(details["bytes"], value.len().to_string());
    // A value holding an email is recorded with its class.
    ops(
        &host.airlock,
        "thief",
        json!([{"op": "set", "key": "e", "value": "write to vera@bigcorp.example"}]),
    );
    let records = host
        .airlock
        .audit(&AuditFilter {
            call: Some("kv.set".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records.last().unwrap().entry.details["classes"], "email");
}

#[test]
fn retention_deletes_entries_not_written_for_the_policy_s_days() {
    let host = host_with_thieves(&["thief", "keeper"], true);
    for id in ["thief", "keeper"] {
        let got = ops(
            &host.airlock,
            id,
            json!([{"op": "set", "key": "a", "value": "1"}, {"op": "set", "key": "b", "value": "2"}]),
        );
        assert_eq!(got, ["ok=set", "ok=set"]);
    }
    let policy = airlock_host::app::retention::RetentionPolicy {
        kv_days: Some(30),
        // keeper keeps its entries for a year.
        kv_days_by_installation: [("keeper".to_string(), 365)].into(),
        ..Default::default()
    };
    let cli = airlock_host::app::Actor::cli();
    let in_40_days = time::OffsetDateTime::now_utc() + time::Duration::days(40);
    let admin = host.airlock.admin(&cli);
    let dry = admin
        .apply_retention(&policy, in_40_days, true, &mut |_| {})
        .unwrap();
    assert_eq!(dry.kv_entries, 2);
    let done = admin
        .apply_retention(&policy, in_40_days, false, &mut |_| {})
        .unwrap();
    assert_eq!(done.kv_entries, 2);
    assert_eq!(
        ops(&host.airlock, "thief", json!([{"op": "count-keys"}])),
        ["ok=0"]
    );
    assert_eq!(
        ops(&host.airlock, "keeper", json!([{"op": "count-keys"}])),
        ["ok=2"]
    );
}

/// The provenance stored with an entry (what its writer had read) counts against the
/// quota, so tiny values cannot make the store keep large provenance for free.
#[test]
fn what_an_entry_carries_counts_against_the_quota() {
    let host = host_with_thieves(&["thief"], true);
    ops(
        &host.airlock,
        "thief",
        json!([{"op": "set", "key": "plain", "value": ""}]),
    );
    // Carrying what the action's pre-fetch read (the ticket's fields and id).
    let (bytes, _) = host.airlock.kv_usage("thief").unwrap();
    assert!(bytes > "plain".len() as u64, "{bytes}");
    let results = host
        .airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload: json!({"for": "thief", "read_requester": true, "kv": [{"op": "set", "key": "after", "value": ""}]}),
        })
        .unwrap();
    assert!(
        results
            .iter()
            .any(|r| r.installation == "thief" && r.status == "ok"),
        "{results:?}"
    );
    // The same empty value under a key as long, after reading the requester too: it
    // carries more, and costs more.
    let (after, _) = host.airlock.kv_usage("thief").unwrap();
    assert!(after - bytes > bytes + 20, "{bytes} then {after}");
}
