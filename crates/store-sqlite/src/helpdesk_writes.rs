//! Helpdesk writes: records and their information-flow labels, written in group commits
//! shared by concurrent callers (one transaction and one sync for the group), each
//! caller's write atomic on its own.

use crate::error::Result;
use crate::model::{FieldLabel, Kind, Record};
use airlock_core::StoreResult;
use rusqlite::{Connection, params};

/// One caller's write: records to insert or replace, and labels to add.
pub(crate) type WriteJob = (Vec<(Kind, String, Record)>, Vec<FieldLabel>);

/// The most writes in one group commit.
pub(crate) const MAX_WRITES_PER_COMMIT: usize = 256;

/// Writes a group in one transaction, each job in a savepoint of its own: a job that
/// fails is rolled back alone and gets its error; if the commit fails, every job does.
pub(crate) fn write_group(conn: &mut Connection, jobs: &[WriteJob]) -> Vec<StoreResult<()>> {
    let written = (|| -> Result<Vec<StoreResult<()>>> {
        let mut tx = conn.transaction()?;
        let mut results = Vec::with_capacity(jobs.len());
        for (records, labels) in jobs {
            let savepoint = tx.savepoint()?;
            match write(&savepoint, records, labels) {
                Ok(()) => {
                    savepoint.commit()?;
                    results.push(Ok(()));
                }
                // Dropping the savepoint rolls this job back.
                Err(e) => results.push(Err(e.0)),
            }
        }
        tx.commit()?;
        Ok(results)
    })();
    match written {
        Ok(results) => results,
        Err(e) => jobs.iter().map(|_| Err(e.0.shared())).collect(),
    }
}

fn text_of<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.get(key).and_then(|v| v.as_str())
}

/// Writes one job's labels and records.
fn write(tx: &Connection, records: &[(Kind, String, Record)], labels: &[FieldLabel]) -> Result<()> {
    for l in labels {
        tx.prepare_cached(
        "INSERT OR IGNORE INTO field_labels (kind, record_id, field, path, class, by_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        l.kind.path_prefix(),
        l.record_id,
        l.field,
        l.flow.path,
        l.flow.class,
        l.flow.by_path
    ])?;
    }
    for (kind, id, record) in records {
        let doc = serde_json::to_string(record)?;
        match kind {
            Kind::Ticket => {
                tx.prepare_cached(
                "INSERT OR REPLACE INTO tickets (id, requester_id, status, updated_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                id,
                text_of(record, "requester_id"),
                text_of(record, "status"),
                text_of(record, "updated_at").or(text_of(record, "created_at")),
                doc
            ])?;
                tx.prepare_cached("DELETE FROM ticket_tags WHERE ticket_id = ?1")?
                    .execute([id])?;
                let tags = record.get("tags").and_then(|t| t.as_array());
                for tag in tags.into_iter().flatten().filter_map(|t| t.as_str()) {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) VALUES (?1, ?2)",
                    )?
                    .execute([id, tag])?;
                }
            }
            Kind::Comment => {
                tx.prepare_cached(
                "INSERT OR REPLACE INTO comments (id, ticket_id, created_at, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                id,
                text_of(record, "ticket_id").unwrap_or_default(),
                text_of(record, "created_at"),
                doc
            ])?;
            }
            Kind::User | Kind::Organization => {
                let sql = format!(
                    "INSERT OR REPLACE INTO {} (id, doc) VALUES (?1, ?2)",
                    kind.table()
                );
                tx.prepare_cached(&sql)?.execute([id, &doc])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use airlock_core::store::HelpdeskStore;

    fn record(json: &str) -> Record {
        serde_json::from_str(json).unwrap()
    }

    /// One failing write in a group is rolled back alone; the others land.
    #[test]
    fn a_failing_write_fails_alone_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.db");
        drop(SqliteStore::open(&path).unwrap());
        let mut conn = crate::sqlite::connect(&path, crate::Durability::Full).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON users WHEN NEW.id = 'u-bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        let job = |kind, id: &str, json| (vec![(kind, id.to_string(), record(json))], vec![]);
        let jobs = vec![
            job(Kind::Ticket, "t-1", r#"{"id": "t-1", "tags": ["a", "b"]}"#),
            (
                vec![
                    (
                        Kind::User,
                        "u-ok-too".into(),
                        record(r#"{"id": "u-ok-too"}"#),
                    ),
                    (Kind::User, "u-bad".into(), record(r#"{"id": "u-bad"}"#)),
                ],
                vec![],
            ),
            job(Kind::User, "u-2", r#"{"id": "u-2"}"#),
        ];
        let results = write_group(&mut conn, &jobs);
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(results[1].is_err(), "{results:?}");
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.get(Kind::Ticket, "t-1").unwrap().is_some());
        assert!(store.get(Kind::User, "u-2").unwrap().is_some());
        let none = |id| store.get(Kind::User, id).unwrap().is_none();
        assert!(
            none("u-bad") && none("u-ok-too"),
            "the failed write left nothing"
        );
    }
}
