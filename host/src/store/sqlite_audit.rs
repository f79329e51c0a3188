//! The audit log in SQLite: queries, checkpoints and pruning. Appends go through
//! [`super::audit_writer`]; every read here first waits for the records acknowledged so
//! far to be indexed.

use super::audit_writer::{AUDIT_COLUMNS, HOUR_KEY_LEN};
use super::sqlite::SqliteStore;
use super::{AuditStore, StoreResult};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision};
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use anyhow::Context;
use rusqlite::params;

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

impl SqliteStore {
    /// Stored checkpoints matching an SQL condition (and ordering) on `size`.
    fn checkpoints_where<P: rusqlite::Params>(
        &self,
        condition: &str,
        params: P,
    ) -> StoreResult<Vec<Checkpoint>> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT doc FROM audit_checkpoints WHERE {condition}"
        ))?;
        let docs = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        docs.map(|d| serde_json::from_str(&d?).context("a stored checkpoint is corrupt"))
            .collect()
    }
}

impl AuditStore for SqliteStore {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.commit.append(entries)
    }

    fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.commit.settle()?;
        let inner = self.lock();
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > ?1");
        let mut args: Vec<String> = Vec::new();
        if let Some(resource) = &filter.resource {
            // The resource index lists the hours a resource was named in; the time index
            // finds those hours' records.
            args.push(resource.clone());
            let n = args.len() + 1;
            sql.push_str(&format!(
                " AND rowid IN (SELECT a.rowid FROM audit_resource_hours h JOIN audit a \
                 ON a.time >= h.hour AND a.time < h.hour || '~' AND a.resource = h.resource \
                 WHERE h.resource = ?{n})"
            ));
        }
        for (column, op, value) in [
            ("installation", "=", &filter.installation),
            ("time", ">=", &filter.since),
            ("time", "<", &filter.until),
            ("plugin", "=", &filter.plugin),
            ("call", "=", &filter.call),
            (
                "decision",
                "=",
                &filter.decision.map(|d| d.as_str().to_string()),
            ),
        ] {
            if let Some(value) = value {
                args.push(value.clone());
                sql.push_str(&format!(" AND {column} {op} ?{}", args.len() + 1));
            }
        }
        if let Some(field) = &filter.field {
            // A field is named by a record if it was returned (a JSON array of paths) or
            // withheld (a JSON array of {field, reason}).
            args.push(field.clone());
            let n = args.len() + 1;
            sql.push_str(&format!(
                " AND (EXISTS (SELECT 1 FROM json_each(audit.fields_returned) WHERE value = ?{n}) \
                 OR EXISTS (SELECT 1 FROM json_each(audit.fields_withheld) WHERE json_extract(value, '$.field') = ?{n}))"
            ));
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
        self.commit.settle()?;
        let inner = self.lock();
        Ok(inner
            .conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn audit_positions(&self) -> StoreResult<std::ops::Range<u64>> {
        self.commit.settle()?;
        let (first, last): (Option<i64>, Option<i64>) =
            self.lock()
                .conn
                .query_row("SELECT MIN(rowid), MAX(rowid) FROM audit", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok(match (first, last) {
            (Some(first), Some(last)) => first as u64..last as u64 + 1,
            _ => 0..0,
        })
    }

    fn scan_raw(
        &self,
        positions: std::ops::Range<u64>,
        visit: &mut dyn FnMut(u64, &audit::CanonicalParts<'_>, &str, &str) -> StoreResult<()>,
    ) -> StoreResult<()> {
        // A connection of its own, so that scans of several slices run in parallel.
        let conn = self.reader()?;
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE rowid >= ?1 AND rowid < ?2 ORDER BY rowid"
        );
        let mut stmt = conn.prepare(&sql)?;
        let bound = |p: u64| i64::try_from(p).unwrap_or(i64::MAX);
        let mut rows = stmt.query([bound(positions.start), bound(positions.end)])?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> rusqlite::Result<&[u8]> {
                Ok(row.get_ref(i)?.as_bytes_or_null()?.unwrap_or(b""))
            };
            let seq = row.get::<_, i64>(0)? as u64;
            let mut parts: audit::CanonicalParts<'_> = [b""; 14];
            for (i, part) in parts.iter_mut().enumerate() {
                *part = text(i + 1)?;
            }
            let prev = std::str::from_utf8(text(15)?).unwrap_or("");
            let hash = std::str::from_utf8(text(16)?).unwrap_or("");
            visit(seq, &parts, prev, hash)?;
        }
        Ok(())
    }

    fn pruned_hashes(&self) -> StoreResult<Vec<(u64, String)>> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare("SELECT seq, hash FROM audit_pruned ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn merkle_head(&self) -> StoreResult<(u64, Hash, String)> {
        let chain = self.commit.chain()?;
        let last = chain
            .head
            .as_ref()
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| audit::GENESIS_HASH.into());
        Ok((chain.frontier.size(), chain.frontier.root(), last))
    }

    fn log_size(&self) -> StoreResult<u64> {
        self.commit.log_size()
    }

    fn put_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        self.commit.settle()?;
        self.lock().conn.execute(
            "INSERT OR REPLACE INTO audit_checkpoints (size, doc) VALUES (?1, ?2)",
            params![checkpoint.size as i64, serde_json::to_string(checkpoint)?],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.checkpoints_where("1 ORDER BY size", [])
    }

    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<Checkpoint>> {
        Ok(self.checkpoints_where("size = ?1", [size as i64])?.pop())
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        Ok(self
            .checkpoints_where("1 ORDER BY size DESC LIMIT 1", [])?
            .pop())
    }

    fn last_seq_before(&self, time: &str) -> StoreResult<u64> {
        self.commit.settle()?;
        let last: i64 = self.lock().conn.query_row(
            "SELECT IFNULL(MAX(seq), 0) FROM audit WHERE time < ?1",
            [time],
            |r| r.get(0),
        )?;
        Ok(last as u64)
    }

    fn prune_through(&self, seq: u64) -> StoreResult<u64> {
        self.commit.ensure_appender()?;
        self.commit.settle()?;
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO audit_pruned (seq, hash) SELECT seq, hash FROM audit WHERE seq <= ?1",
            [seq as i64],
        )?;
        let deleted = tx.execute("DELETE FROM audit WHERE seq <= ?1", [seq as i64])?;
        tx.execute(
            &format!("DELETE FROM audit_resource_hours WHERE hour < (SELECT substr(MIN(time), 1, {HOUR_KEY_LEN}) FROM audit)"),
            [],
        )?;
        tx.commit()?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::audit_journal::Row;
    use super::super::audit_writer::{insert_row, insert_sql};
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
        insert_row(
            &mut conn.prepare_cached(&insert_sql()).unwrap(),
            &Row::of(&r, &json),
        )
        .unwrap();
        r
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

    #[test]
    fn resource_queries_span_hours_and_survive_the_index_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.db");
        // A database from before the resource-hours table: an index on resource instead.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            &super::super::sqlite::SCHEMA.replace("audit_resource_hours", "unused_hours"),
        )
        .unwrap();
        old.execute_batch("CREATE INDEX audit_resource ON audit(resource, seq)")
            .unwrap();
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
        let index_left = store
            .lock()
            .conn
            .prepare("SELECT 1 FROM sqlite_master WHERE name = 'audit_resource'")
            .unwrap()
            .exists([])
            .unwrap();
        assert!(!index_left, "the old index is dropped");
        store
            .append(vec![AuditEntry {
                resource: "t-1".into(),
                ..Default::default()
            }])
            .unwrap();
        let seqs = |resource: &str| -> Vec<u64> {
            let filter = AuditFilter {
                resource: Some(resource.into()),
                ..Default::default()
            };
            store
                .query(&filter)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect()
        };
        assert_eq!(seqs("t-1"), vec![1, 3, 5]);
        assert_eq!(seqs("t-2"), vec![2]);
        assert_eq!(seqs("t-10"), vec![4]);
        assert_eq!(seqs("t"), Vec::<u64>::new());
    }
}
