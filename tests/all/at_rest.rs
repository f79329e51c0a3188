//! Issue 23: the values of `personal` and `restricted` helpdesk fields are sealed at
//! rest. A store from before is sealed when it is opened; a value moved to another record
//! does not open; another master key opens nothing.

use crate::support::fixture;
use airlock_host::app::{Airlock, Options};
use airlock_host::model::Kind;
use airlock_host::store::{HelpdeskStore, SqliteStore};

const VALUES: &[&str] = &[
    "vera@bigcorp.example",
    "555 0100",
    "private agent note",
    "Vera Important",
];

/// The values of `VALUES` some file of `dir` holds in clear.
fn in_clear(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.extend(
                VALUES
                    .iter()
                    .filter(|v| text.contains(*v))
                    .map(|v| format!("{v} in {}", path.display())),
            );
        }
    }
    found
}

fn open(dir: &std::path::Path, key: [u8; 32]) -> anyhow::Result<Airlock> {
    Airlock::open_with(
        dir,
        Options {
            master_key: Some(key),
            ..Default::default()
        },
    )
}

#[test]
fn a_store_from_before_is_sealed_on_open_and_reads_back_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    // Written the old way: straight into SQLite, in clear.
    {
        let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
        store.put_many(&fixture().records().unwrap()).unwrap();
    }
    assert!(!in_clear(dir.path()).is_empty(), "the check can fail");
    let airlock = open(dir.path(), [5; 32]).unwrap();
    assert_eq!(in_clear(dir.path()), Vec::<String>::new());
    let user = airlock.store().get(Kind::User, "u-vip").unwrap().unwrap();
    assert_eq!(user["email"], "vera@bigcorp.example");
    assert!(
        user["organization_id"].is_string(),
        "ids stay in clear and searchable"
    );
    drop(airlock);

    // New writes are sealed too, and reopening does not redo the migration.
    let airlock = open(dir.path(), [5; 32]).unwrap();
    let mut more = fixture();
    more.users[0].id = "u-new".into();
    airlock.import(&more).unwrap();
    assert_eq!(in_clear(dir.path()), Vec::<String>::new());
    assert_eq!(
        airlock.store().get(Kind::User, "u-new").unwrap().unwrap()["email"],
        "vera@bigcorp.example"
    );
}

#[test]
fn a_sealed_value_moved_to_another_record_does_not_open_and_another_key_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let airlock = open(dir.path(), [5; 32]).unwrap();
    airlock.import(&fixture()).unwrap();
    drop(airlock);
    // Move u-vip's sealed email onto u-2, as someone editing the file might.
    {
        let conn = rusqlite::Connection::open(dir.path().join("airlock.db")).unwrap();
        conn.execute(
            "UPDATE users SET doc = json_set(doc, '$.email',
               (SELECT json_extract(doc, '$.email') FROM users WHERE id = 'u-vip')) WHERE id = 'u-2'",
            [],
        )
        .unwrap();
    }
    let airlock = open(dir.path(), [5; 32]).unwrap();
    assert!(airlock.store().get(Kind::User, "u-vip").unwrap().is_some());
    assert!(
        airlock.store().get(Kind::User, "u-2").is_err(),
        "a moved value must not open as u-2's"
    );
    drop(airlock);
    // Another master key opens nothing, and writes nothing in clear; the audit log still
    // verifies (an auditor's copy without the key).
    let other = open(dir.path(), [6; 32]).unwrap();
    let refused = other.store().get(Kind::User, "u-vip").unwrap_err();
    assert!(refused.to_string().contains("master key"), "{refused}");
    assert!(other.import(&fixture()).is_err());
    assert!(other.verify_audit(&Default::default()).unwrap().is_ok());
    assert_eq!(in_clear(dir.path()), Vec::<String>::new());
}
