//! The embedded SQLite store.

use super::{HelpdeskStore, InstallationStore, TicketQuery};
use crate::error::Context;
use crate::error::{Error, Result, call};
use crate::installation::Installation;
use crate::model::{FieldLabel, Flow, Kind, Record};
use airlock_core::StoreResult;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    requester_id TEXT,
    status TEXT,
    updated_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_requester ON tickets(requester_id);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status);
CREATE TABLE IF NOT EXISTS ticket_tags (
    ticket_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, ticket_id)
);
-- A ticket's tags are replaced by ticket: without this, each replacement scans every tag.
CREATE INDEX IF NOT EXISTS ticket_tags_ticket ON ticket_tags(ticket_id);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS comments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    created_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_ticket ON comments(ticket_id, created_at);
-- Retention finds users nothing refers to any more.
CREATE INDEX IF NOT EXISTS tickets_assignee ON tickets(json_extract(doc, '$.assignee_id'));
CREATE INDEX IF NOT EXISTS comments_author ON comments(json_extract(doc, '$.author_id'));
CREATE INDEX IF NOT EXISTS tickets_closed ON tickets(status, updated_at);
CREATE TABLE IF NOT EXISTS installations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Bumped by triggers on every change to `installations`, by whichever process makes it,
-- so caches of installations know when they are stale.
CREATE TABLE IF NOT EXISTS installations_version (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO installations_version (id, version) VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS installations_inserted AFTER INSERT ON installations
    BEGIN UPDATE installations_version SET version = version + 1; END;
CREATE TRIGGER IF NOT EXISTS installations_updated AFTER UPDATE ON installations
    BEGIN UPDATE installations_version SET version = version + 1; END;
CREATE TRIGGER IF NOT EXISTS installations_deleted AFTER DELETE ON installations
    BEGIN UPDATE installations_version SET version = version + 1; END;
-- Information-flow labels: data from `path` (of `class`) may be in `field` of a record.
CREATE TABLE IF NOT EXISTS field_labels (
    kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    path TEXT NOT NULL,
    class TEXT NOT NULL,
    by_path INTEGER NOT NULL,
    PRIMARY KEY (kind, record_id, field, path, class, by_path)
) WITHOUT ROWID;
"#;

/// How hard the store works to make each commit, and each audit append, durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// SQLite's `synchronous = FULL`, and the audit journal synced before an append is
    /// acknowledged: a commit survives power loss. The default.
    Full,
    /// `synchronous = NORMAL`, and the audit journal written but not synced: a commit
    /// survives a crash of the process, not of the OS.
    Normal,
}

/// A connection in WAL mode with the chosen durability.
pub(super) fn connect(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows are overwritten, not left in free pages: an erased value is gone from
    // the file, not just unlinked.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Reads map the file instead of copying pages in: after another connection commits,
    // re-reading is cheap.
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

pub(super) struct Inner {
    pub(super) conn: Connection,
}

/// Helpdesk data, installations and the audit log in one SQLite database (WAL mode).
pub struct SqliteStore {
    /// The one writing connection; reads use [`SqliteStore::read`] instead.
    inner: Mutex<Inner>,
    /// Helpdesk writes waiting for the next group commit.
    writes: super::group_commit::Queue<super::helpdesk_writes::WriteJob, StoreResult<()>>,
    readers: super::readers::Readers,
    path: std::path::PathBuf,
    pub(super) commit: super::audit_writer::GroupCommit,
    /// Seals sensitive field values at rest, once the host sets it.
    pub(super) sealer: std::sync::OnceLock<std::sync::Arc<dyn airlock_core::store::FieldSealer>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// ```
    /// use airlock_store_sqlite::SqliteStore;
    /// use airlock_core::{model::Kind, store::HelpdeskStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    /// assert_eq!(store.count(Kind::Ticket).unwrap(), 0);
    /// ```
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, Durability::Full)
    }

    /// Opens the database with a chosen durability.
    pub fn open_with(path: &Path, durability: Durability) -> StoreResult<SqliteStore> {
        call(|| {
            let mut conn = connect(path, durability)?;
            conn.execute_batch(SCHEMA)
                .context("cannot create the database schema")?;
            super::audit_table::prepare(&mut conn)?;
            conn.execute_batch(super::sqlite_alerts::SCHEMA)?;
            conn.execute_batch(super::sqlite_accounts::SCHEMA)?;
            conn.execute_batch(super::sqlite_reviews::SCHEMA)?;
            conn.execute_batch(super::sqlite_vendors::SCHEMA)?;
            conn.execute_batch(super::sqlite_kv::SCHEMA)?;
            Ok(SqliteStore {
                inner: Mutex::new(Inner { conn }),
                writes: super::group_commit::Queue::new(
                    super::helpdesk_writes::MAX_WRITES_PER_COMMIT,
                ),
                readers: super::readers::Readers::new(path),
                path: path.to_path_buf(),
                commit: super::audit_writer::GroupCommit::new(path, durability),
                sealer: std::sync::OnceLock::new(),
            })
        })
    }

    /// A read-only connection of its own, for long scans that should neither wait for
    /// nor block the shared connection. The file is memory-mapped: scans then read
    /// pages in place instead of copying them through the page cache.
    pub(super) fn reader(&self) -> Result<Connection> {
        super::readers::open(&self.path, 1i64 << 30)
    }

    /// A pooled read-only connection: a read that never waits behind a write.
    pub(super) fn read(&self) -> Result<super::readers::Reader<'_>> {
        self.readers.get()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HelpdeskStore for SqliteStore {
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Record>> {
        call(|| {
            let conn = self.read()?;
            let sql = format!("SELECT doc FROM {} WHERE id = ?1", kind.table());
            let doc: Option<String> = conn
                .prepare_cached(&sql)?
                .query_row([id], |r| r.get(0))
                .optional()?;
            doc.map(|d| self.parse_doc(kind, d)).transpose()
        })
    }

    fn put_labeled(
        &self,
        records: &[(Kind, String, Record)],
        labels: &[FieldLabel],
    ) -> StoreResult<()> {
        call(|| {
            let job = (self.sealed(records)?, labels.to_vec());
            self.writes
                .submit(job, &self.inner, |inner, jobs| {
                    super::helpdesk_writes::write_group(&mut inner.conn, &jobs)
                })
                .ok_or_else(|| Error::failed("the store's writer stopped"))?
                .map_err(Error)
        })
    }

    fn erase(&self, records: &[(Kind, String)]) -> StoreResult<u64> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut deleted = 0;
            for (kind, id) in records {
                let labels = "DELETE FROM field_labels WHERE kind = ?1 AND record_id = ?2";
                if *kind == Kind::Ticket {
                    tx.execute(
                        "DELETE FROM field_labels WHERE kind = 'comment' AND record_id IN
                           (SELECT id FROM comments WHERE ticket_id = ?1)",
                        [id],
                    )?;
                    tx.execute("DELETE FROM comments WHERE ticket_id = ?1", [id])?;
                    tx.execute("DELETE FROM ticket_tags WHERE ticket_id = ?1", [id])?;
                }
                tx.execute(labels, params![kind.path_prefix(), id])?;
                deleted += tx
                    .execute(&format!("DELETE FROM {} WHERE id = ?1", kind.table()), [id])?
                    as u64;
            }
            tx.commit()?;
            drop(inner);
            self.fold_wal();
            Ok(deleted)
        })
    }

    fn closed_tickets_before(&self, before: &str, limit: u32) -> StoreResult<Vec<String>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM tickets WHERE status = 'closed' AND updated_at < ?1
                 ORDER BY updated_at LIMIT ?2",
            )?;
            let ids = stmt
                .query_map(params![before, i64::from(limit)], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })
    }

    fn orphan_users(&self, limit: u32) -> StoreResult<Vec<String>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT u.id FROM users u
                 WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = u.id)
                   AND NOT EXISTS (SELECT 1 FROM tickets t
                                   WHERE json_extract(t.doc, '$.assignee_id') = u.id)
                   AND NOT EXISTS (SELECT 1 FROM comments c
                                   WHERE json_extract(c.doc, '$.author_id') = u.id)
                 ORDER BY u.id LIMIT ?1",
            )?;
            let ids = stmt
                .query_map([i64::from(limit)], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })
    }

    fn labels(&self, records: &[(Kind, String)]) -> StoreResult<Vec<FieldLabel>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
            "SELECT field, path, class, by_path FROM field_labels WHERE kind = ?1 AND record_id = ?2",
        )?;
            let mut labels = Vec::new();
            for (kind, id) in records {
                let rows = stmt.query_map(params![kind.path_prefix(), id], |r| {
                    Ok(FieldLabel {
                        kind: *kind,
                        record_id: id.clone(),
                        field: r.get(0)?,
                        flow: Flow {
                            path: r.get(1)?,
                            class: r.get(2)?,
                            by_path: r.get(3)?,
                        },
                    })
                })?;
                for row in rows {
                    labels.push(row?);
                }
            }
            Ok(labels)
        })
    }

    fn comments(&self, ticket_id: &str, limit: u32) -> StoreResult<Vec<Record>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT doc FROM comments WHERE ticket_id = ?1 ORDER BY created_at, id LIMIT ?2",
            )?;
            let docs = stmt.query_map(params![ticket_id, limit], |r| r.get::<_, String>(0))?;
            docs.map(|d| self.parse_doc(Kind::Comment, d?)).collect()
        })
    }

    fn comments_by(&self, author_id: &str, limit: u32) -> StoreResult<Vec<Record>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT doc FROM comments WHERE json_extract(doc, '$.author_id') = ?1
                 ORDER BY created_at, id LIMIT ?2",
            )?;
            let docs = stmt.query_map(params![author_id, limit], |r| r.get::<_, String>(0))?;
            docs.map(|d| self.parse_doc(Kind::Comment, d?)).collect()
        })
    }

    fn search_tickets(&self, query: &TicketQuery, limit: u32) -> StoreResult<Vec<Record>> {
        call(|| {
            let conn = self.read()?;
            let (sql, value) = match query {
                TicketQuery::Requester(v) => ("SELECT doc FROM tickets WHERE requester_id = ?1", v),
                TicketQuery::Status(v) => ("SELECT doc FROM tickets WHERE status = ?1", v),
                TicketQuery::Tag(v) => (
                    "SELECT t.doc FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id WHERE g.tag = ?1",
                    v,
                ),
            };
            let sql = format!("{sql} ORDER BY updated_at DESC, id LIMIT ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let docs = stmt.query_map(params![value, limit], |r| r.get::<_, String>(0))?;
            docs.map(|d| self.parse_doc(Kind::Ticket, d?)).collect()
        })
    }

    fn page(&self, kind: Kind, after_id: &str, limit: u32) -> StoreResult<Vec<(String, Record)>> {
        let rows = self.raw_page(kind, after_id, limit)?;
        call(|| {
            rows.into_iter()
                .map(|(id, record)| Ok((id, self.opened(kind, record)?)))
                .collect()
        })
    }

    fn count(&self, kind: Kind) -> StoreResult<u64> {
        call(|| {
            let conn = self.read()?;
            let sql = format!("SELECT COUNT(*) FROM {}", kind.table());
            Ok(conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64)
        })
    }
}

impl InstallationStore for SqliteStore {
    fn put_installation(&self, installation: &Installation) -> StoreResult<()> {
        call(|| {
            let doc = serde_json::to_string(installation)?;
            self.lock().conn.execute(
                "INSERT OR REPLACE INTO installations (id, doc) VALUES (?1, ?2)",
                params![installation.id, doc],
            )?;
            Ok(())
        })
    }

    fn installation(&self, id: &str) -> StoreResult<Option<Installation>> {
        call(|| {
            let conn = self.read()?;
            let doc: Option<String> = conn
                .query_row("SELECT doc FROM installations WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            doc.map(|d| serde_json::from_str(&d).context("stored installation is corrupt"))
                .transpose()
        })
    }

    fn update_installation(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Installation) -> bool,
    ) -> StoreResult<Option<Installation>> {
        call(|| {
            let mut inner = self.lock();
            // IMMEDIATE takes the write lock before reading, so another process cannot
            // change the row between this read and this write either.
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let doc: Option<String> = tx
                .query_row("SELECT doc FROM installations WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(doc) = doc else {
                return Ok(None);
            };
            let mut installation: Installation =
                serde_json::from_str(&doc).context("stored installation is corrupt")?;
            let stored = installation.clone();
            if !change(&mut installation) {
                return Ok(Some(stored));
            }
            tx.execute(
                "UPDATE installations SET doc = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&installation)?],
            )?;
            tx.commit()?;
            Ok(Some(installation))
        })
    }

    fn installations_version(&self) -> StoreResult<u64> {
        call(|| {
            let conn = self.read()?;
            let version: i64 = conn
                .prepare_cached("SELECT version FROM installations_version WHERE id = 0")?
                .query_row([], |r| r.get(0))?;
            Ok(version as u64)
        })
    }

    fn installations(&self) -> StoreResult<Vec<Installation>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare("SELECT doc FROM installations ORDER BY id")?;
            let docs = stmt.query_map([], |r| r.get::<_, String>(0))?;
            docs.map(|d| serde_json::from_str(&d?).context("stored installation is corrupt"))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: health and every read waited 48.7 s behind one long import, because
    /// reads shared the writing connection's lock.
    #[test]
    fn reads_do_not_wait_for_a_write_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("airlock.db")).unwrap());
        let ticket: Record = serde_json::from_str(r#"{"id": "t-1", "tags": ["a"]}"#).unwrap();
        store
            .put_many(&[(Kind::Ticket, "t-1".into(), ticket)])
            .unwrap();

        // A write in progress: the writing connection is held, inside a transaction with
        // an uncommitted change.
        let mut writer = store.lock();
        let tx = writer.conn.transaction().unwrap();
        tx.execute("DELETE FROM tickets WHERE id = 't-1'", [])
            .unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let reader = store.clone();
        std::thread::spawn(move || {
            let seen = reader.get(Kind::Ticket, "t-1").unwrap();
            let installations = reader.installations_version().unwrap();
            done.send((seen.is_some(), installations)).unwrap();
        });
        let (seen, _) = finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read finished while the write was in progress");
        assert!(seen, "the reader sees the last committed state");
        drop(tx);
    }
}
