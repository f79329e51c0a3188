//! The embedded SQLite store.

use super::{
    AuditStore, HelpdeskStore, InstallationStore, StoreResult, TicketQuery, UnreadableRecord,
};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision};
use crate::installation::Installation;
use crate::model::{Kind, Record};
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = r#"
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
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS comments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    created_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_ticket ON comments(ticket_id, created_at);
CREATE TABLE IF NOT EXISTS installations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER NOT NULL UNIQUE,
    time TEXT NOT NULL,
    installation TEXT NOT NULL,
    plugin TEXT NOT NULL,
    version TEXT NOT NULL,
    invocation TEXT NOT NULL,
    event TEXT NOT NULL,
    call TEXT NOT NULL,
    resource TEXT NOT NULL,
    fields_returned TEXT NOT NULL,
    fields_withheld TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    redactions TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_installation ON audit(installation, seq);
CREATE INDEX IF NOT EXISTS audit_resource ON audit(resource, seq);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
"#;

/// How hard SQLite works to make each commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: a commit survives power loss. The default.
    Full,
    /// `synchronous = NORMAL`: a commit survives a crash of the process, not of the OS.
    Normal,
}

struct Inner {
    conn: Connection,
    /// The last audit record's (seq, hash), once read.
    audit_head: Option<Option<(u64, String)>>,
}

/// Helpdesk data, installations and the audit log in one SQLite database (WAL mode).
pub struct SqliteStore {
    inner: Mutex<Inner>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// ```
    /// use airlock_host::store::{SqliteStore, HelpdeskStore};
    /// use airlock_host::model::Kind;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(&dir.path().join("airlock.db")).unwrap();
    /// assert_eq!(store.count(Kind::Ticket).unwrap(), 0);
    /// ```
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, Durability::Full)
    }

    /// Opens the database with a chosen durability.
    pub fn open_with(path: &Path, durability: Durability) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .context("cannot create the database schema")?;
        Ok(SqliteStore {
            inner: Mutex::new(Inner {
                conn,
                audit_head: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn parse_doc(doc: String) -> StoreResult<Record> {
    serde_json::from_str(&doc).context("stored record is not a JSON object")
}

fn text_of<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.get(key).and_then(|v| v.as_str())
}

impl HelpdeskStore for SqliteStore {
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Record>> {
        let inner = self.lock();
        let sql = format!("SELECT doc FROM {} WHERE id = ?1", kind.table());
        let doc: Option<String> = inner
            .conn
            .prepare_cached(&sql)?
            .query_row([id], |r| r.get(0))
            .optional()?;
        doc.map(parse_doc).transpose()
    }

    fn put_many(&self, records: &[(Kind, String, Record)]) -> StoreResult<()> {
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
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
        tx.commit()?;
        Ok(())
    }

    fn comments(&self, ticket_id: &str, limit: u32) -> StoreResult<Vec<Record>> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT doc FROM comments WHERE ticket_id = ?1 ORDER BY created_at, id LIMIT ?2",
        )?;
        let docs = stmt.query_map(params![ticket_id, limit], |r| r.get::<_, String>(0))?;
        docs.map(|d| parse_doc(d?)).collect()
    }

    fn search_tickets(&self, query: &TicketQuery, limit: u32) -> StoreResult<Vec<Record>> {
        let inner = self.lock();
        let (sql, value) = match query {
            TicketQuery::Requester(v) => ("SELECT doc FROM tickets WHERE requester_id = ?1", v),
            TicketQuery::Status(v) => ("SELECT doc FROM tickets WHERE status = ?1", v),
            TicketQuery::Tag(v) => (
                "SELECT t.doc FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id WHERE g.tag = ?1",
                v,
            ),
        };
        let sql = format!("{sql} ORDER BY updated_at DESC, id LIMIT ?2");
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        let docs = stmt.query_map(params![value, limit], |r| r.get::<_, String>(0))?;
        docs.map(|d| parse_doc(d?)).collect()
    }

    fn count(&self, kind: Kind) -> StoreResult<u64> {
        let inner = self.lock();
        let sql = format!("SELECT COUNT(*) FROM {}", kind.table());
        Ok(inner.conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64)
    }
}

impl InstallationStore for SqliteStore {
    fn put_installation(&self, installation: &Installation) -> StoreResult<()> {
        let doc = serde_json::to_string(installation)?;
        self.lock().conn.execute(
            "INSERT OR REPLACE INTO installations (id, doc) VALUES (?1, ?2)",
            params![installation.id, doc],
        )?;
        Ok(())
    }

    fn installation(&self, id: &str) -> StoreResult<Option<Installation>> {
        let inner = self.lock();
        let doc: Option<String> = inner
            .conn
            .query_row("SELECT doc FROM installations WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        doc.map(|d| serde_json::from_str(&d).context("stored installation is corrupt"))
            .transpose()
    }

    fn installations(&self) -> StoreResult<Vec<Installation>> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare("SELECT doc FROM installations ORDER BY id")?;
        let docs = stmt.query_map([], |r| r.get::<_, String>(0))?;
        docs.map(|d| serde_json::from_str(&d?).context("stored installation is corrupt"))
            .collect()
    }
}

const AUDIT_COLUMNS: &str = "seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash";

fn audit_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    fn json<T: serde::de::DeserializeOwned>(
        row: &rusqlite::Row<'_>,
        i: usize,
    ) -> rusqlite::Result<T> {
        let text: String = row.get(i)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
    let decision: String = row.get(11)?;
    Ok(AuditRecord {
        seq: row.get::<_, i64>(0)? as u64,
        time: row.get(1)?,
        entry: AuditEntry {
            installation: row.get(2)?,
            plugin: row.get(3)?,
            version: row.get(4)?,
            invocation: row.get(5)?,
            event: row.get(6)?,
            call: row.get(7)?,
            resource: row.get(8)?,
            fields_returned: json(row, 9)?,
            fields_withheld: json(row, 10)?,
            decision: match decision.as_str() {
                "allow" => Some(Decision::Allow),
                "deny" => Some(Decision::Deny),
                _ => None,
            },
            reason: row.get(12)?,
            redactions: json(row, 13)?,
            details: json(row, 14)?,
        },
        prev_hash: row.get(15)?,
        hash: row.get(16)?,
    })
}

impl AuditStore for SqliteStore {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut head = match inner.audit_head.clone() {
            Some(head) => head,
            None => inner
                .conn
                .query_row(
                    "SELECT seq, hash FROM audit ORDER BY rowid DESC LIMIT 1",
                    [],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
                )
                .optional()?,
        };
        let tx = inner.conn.transaction()?;
        let mut sealed = Vec::with_capacity(entries.len());
        {
            let sql = format!(
                "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            for entry in entries {
                let time = audit::now_rfc3339();
                let prev = head.as_ref().map(|(s, h)| (*s, h.as_str()));
                let r = audit::seal(prev, time, entry);
                let e = &r.entry;
                stmt.execute(params![
                    r.seq as i64,
                    r.time,
                    e.installation,
                    e.plugin,
                    e.version,
                    e.invocation,
                    e.event,
                    e.call,
                    e.resource,
                    serde_json::to_string(&e.fields_returned)?,
                    serde_json::to_string(&e.fields_withheld)?,
                    e.decision.map_or("", Decision::as_str),
                    e.reason,
                    serde_json::to_string(&e.redactions)?,
                    serde_json::to_string(&e.details)?,
                    r.prev_hash,
                    r.hash,
                ])?;
                head = Some((r.seq, r.hash.clone()));
                sealed.push(r);
            }
        }
        tx.commit()?;
        inner.audit_head = Some(head);
        Ok(sealed)
    }

    fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let inner = self.lock();
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > ?1");
        let mut args: Vec<String> = Vec::new();
        for (column, op, value) in [
            ("installation", "=", &filter.installation),
            ("resource", "=", &filter.resource),
            ("time", ">=", &filter.since),
            ("time", "<", &filter.until),
        ] {
            if let Some(value) = value {
                args.push(value.clone());
                sql.push_str(&format!(" AND {column} {op} ?{}", args.len() + 1));
            }
        }
        let limit = filter.limit.unwrap_or(100).min(10_000);
        sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut stmt = inner.conn.prepare(&sql)?;
        let mut bound: Vec<&dyn rusqlite::ToSql> = Vec::new();
        let after = filter.after_seq.unwrap_or(0) as i64;
        bound.push(&after);
        for a in &args {
            bound.push(a);
        }
        let rows = stmt.query_map(bound.as_slice(), audit_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_audit(&self) -> StoreResult<u64> {
        let inner = self.lock();
        Ok(inner
            .conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn scan(
        &self,
        visit: &mut dyn FnMut(Result<AuditRecord, UnreadableRecord>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let inner = self.lock();
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY rowid");
        let mut stmt = inner.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let record = audit_from_row(row).map_err(|e| UnreadableRecord {
                seq: row.get::<_, i64>(0).ok().map(|s| s as u64),
                problem: format!("cannot decode the row: {e}"),
            });
            visit(record)?;
        }
        Ok(())
    }
}
