//! Issue 23: the master key rotates (re-wrapping the data keys, re-sealing secret
//! settings, rewriting no value) while the service runs, and survives a restart and an
//! interrupted rotation.

use crate::kv::{ops, thieves};
use crate::support::TestHost;
use airlock_host::app::keys::next_key_file;
use airlock_host::app::{Actor, Airlock, Options};
use airlock_host::audit::AuditFilter;
use airlock_host::egress::secrets::{MASTER_KEY_FILE, MasterKey, read_key_file};
use airlock_host::model::Kind;
use airlock_host::store::Durability;
use serde_json::json;
use std::path::Path;

/// The wrapped data keys in the database file, by owner.
fn wrapped_keys(dir: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(dir.join("airlock.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT installation, wrapped FROM kv_data_keys ORDER BY installation")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The raw sealed values of every kv entry (which a rotation must not rewrite).
fn sealed_values(dir: &Path) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(dir.join("airlock.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT value_sealed FROM kv ORDER BY installation, key_hash")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn reopen(dir: &Path) -> Airlock {
    Airlock::open_with(
        dir,
        Options {
            durability: Durability::Normal,
            ..Options::default()
        },
    )
    .unwrap()
}

/// A host whose master key is `master.key`, with a kv entry, a secret setting and
/// sealed helpdesk data.
fn host() -> TestHost {
    let host = thieves(None, &["thief"], true);
    host.airlock
        .set_settings("thief", json!({"label": "thief", "token": "s3cr3t-token"}))
        .unwrap();
    assert_eq!(
        ops(
            &host.airlock,
            "thief",
            json!([{"op": "set", "key": "k", "value": "kept"}])
        ),
        ["ok=set"]
    );
    host
}

/// Everything sealed is readable: the kv entry, the secret, the helpdesk email.
fn assert_readable(airlock: &Airlock) {
    assert_eq!(
        ops(airlock, "thief", json!([{"op": "get", "key": "k"}])),
        ["ok=kept"]
    );
    let inst = airlock.installation("thief").unwrap();
    let secret = airlock
        .master_key()
        .open("thief", "token", &inst.secrets["token"])
        .unwrap();
    assert_eq!(secret, "s3cr3t-token");
    let user = airlock.store().get(Kind::User, "u-vip").unwrap().unwrap();
    assert!(user["email"].as_str().unwrap().contains('@'), "{user:?}");
}

#[test]
fn rotation_rewraps_every_data_key_rewrites_no_value_and_survives_a_restart() {
    let host = host();
    let dir = host.dir.path().to_path_buf();
    let old_key = read_key_file(&dir.join(MASTER_KEY_FILE)).unwrap();
    let before = wrapped_keys(&dir);
    let owners: Vec<&str> = before.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(owners, ["#audit-ids", "#helpdesk", "#totp", "thief"]);
    let values = sealed_values(&dir);

    let rotation = host
        .airlock
        .admin(&Actor::cli())
        .rotate_master_key(None)
        .unwrap();
    // Four data keys and one secret setting.
    assert_eq!(rotation.resealed, 5);
    let new_key = read_key_file(&dir.join(MASTER_KEY_FILE)).unwrap();
    assert_ne!(new_key, old_key);
    assert!(!next_key_file(&dir.join(MASTER_KEY_FILE)).exists());
    assert_eq!(
        rotation.new_fingerprint,
        MasterKey::fixed(new_key).fingerprint().unwrap()
    );

    // Every wrapped form changed, and none opens with the old key; the values did not.
    let after = wrapped_keys(&dir);
    let old = MasterKey::fixed(old_key);
    for ((owner, was), (_, now)) in before.iter().zip(&after) {
        assert_ne!(was, now, "{owner}");
        assert!(old.open(owner, "kv-data-key", now).is_err(), "{owner}");
        assert!(
            MasterKey::fixed(new_key)
                .open(owner, "kv-data-key", now)
                .is_ok()
        );
    }
    assert_eq!(sealed_values(&dir), values);

    // The running service goes on, and a new data key is wrapped under the new key.
    assert_readable(&host.airlock);
    host.airlock
        .install(
            "plugin.toml",
            &crate::support::manifest("secret-thief"),
            &crate::support::component("secret-thief"),
            Some("later"),
        )
        .unwrap();
    let mut grants = host.airlock.installation("thief").unwrap().grants;
    grants.kv = true;
    host.airlock.set_grants("later", grants).unwrap();
    host.airlock
        .set_settings("later", json!({"label": "later"}))
        .unwrap();
    assert_eq!(
        ops(
            &host.airlock,
            "later",
            json!([{"op": "set", "key": "k2", "value": "v"}])
        ),
        ["ok=set"]
    );

    // The rotation is in the log, with fingerprints and never a key.
    let records = host
        .airlock
        .audit(&AuditFilter {
            call: Some("admin.keys.rotate".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records.len(), 1);
    let details = &records[0].entry.details;
    assert_eq!(details["old_key"], rotation.old_fingerprint);
    let text = serde_json::to_string(&records[0]).unwrap();
    assert!(!text.contains(&hex::encode(new_key)) && !text.contains(&hex::encode(old_key)));

    // A restart opens everything with the key file alone.
    drop(host.airlock);
    let airlock = reopen(&dir);
    assert_readable(&airlock);
    assert_eq!(
        ops(&airlock, "later", json!([{"op": "get", "key": "k2"}])),
        ["ok=v"]
    );
    assert!(airlock.verify_audit(&Default::default()).unwrap().is_ok());
}

#[test]
fn rotation_while_events_run_loses_no_write_and_fails_no_event() {
    let host = host();
    let dir = host.dir.path().to_path_buf();
    let failures = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut failures = Vec::new();
            for i in 0..40 {
                let got = ops(
                    &host.airlock,
                    "thief",
                    json!([{"op": "set", "key": format!("k{i}"), "value": format!("v{i}")}]),
                );
                if got != ["ok=set"] {
                    failures.push(got);
                }
            }
            failures
        });
        for _ in 0..3 {
            host.airlock
                .admin(&Actor::cli())
                .rotate_master_key(None)
                .unwrap();
        }
        writer.join().unwrap()
    });
    assert!(failures.is_empty(), "{failures:?}");
    drop(host.airlock);
    let airlock = reopen(&dir);
    assert_readable(&airlock);
    for i in [0, 17, 39] {
        assert_eq!(
            ops(
                &airlock,
                "thief",
                json!([{"op": "get", "key": format!("k{i}")}])
            ),
            [format!("ok=v{i}")]
        );
    }
}

#[test]
fn an_interrupted_rotation_is_finished_or_discarded_on_open() {
    let host = host();
    let dir = host.dir.path().to_path_buf();
    let key_file = dir.join(MASTER_KEY_FILE);
    let next = next_key_file(&key_file);
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    host.airlock
        .admin(&Actor::cli())
        .rotate_master_key(None)
        .unwrap();
    drop(host.airlock);

    // A crash after the commit, before the rename: the old key file, the new one beside.
    std::fs::rename(&key_file, &next).unwrap();
    std::fs::write(&key_file, &old_key).unwrap();
    let airlock = reopen(&dir);
    assert!(!next.exists());
    assert_readable(&airlock);
    drop(airlock);

    // A crash before the commit: a new key the store is not under is discarded.
    let current = std::fs::read_to_string(&key_file).unwrap();
    std::fs::write(&next, hex::encode([5u8; 32])).unwrap();
    let airlock = reopen(&dir);
    assert!(!next.exists());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), current);
    assert_readable(&airlock);
}

#[test]
fn a_fixed_key_rotates_in_memory_and_the_same_key_is_refused() {
    let host = thieves(Some([3; 32]), &["thief"], true);
    // A fixed key (as from the embedding program) is kept in memory: the same key again
    // is refused, a new one is used at once.
    let err = host
        .airlock
        .admin(&Actor::cli())
        .rotate_master_key(Some([3; 32]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("the one in use"), "{err}");
    let rotation = host
        .airlock
        .admin(&Actor::cli())
        .rotate_master_key(Some([4; 32]))
        .unwrap();
    assert_eq!(rotation.stored_in, "memory");
    assert_eq!(
        host.airlock.master_key().fingerprint().unwrap(),
        MasterKey::fixed([4; 32]).fingerprint().unwrap()
    );
}
