//! The audit log in SQLite: group commit, checkpoints and pruning.

use super::sqlite::{Durability, SqliteStore};
use super::{AuditStore, StoreResult};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision, JsonFields};
use crate::checkpoint::Checkpoint;
use crate::merkle::{Frontier, Hash, leaf_hash};
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, mpsc};

const AUDIT_COLUMNS: &str = "seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash";

/// The chain's head and Merkle frontier, as of the last commit.
#[derive(Clone, Default)]
struct Chain {
    head: Option<(u64, String)>,
    frontier: Frontier,
}

/// One caller's batch, encoded, and where to send its sealed records.
struct Job {
    entries: Vec<(AuditEntry, JsonFields)>,
    done: mpsc::SyncSender<JobResult>,
}

/// One queued batch's outcome.
type JobResult = Result<Vec<AuditRecord>, String>;

/// The most batches written in one transaction.
const MAX_JOBS_PER_COMMIT: usize = 4096;

/// Group commit, leader/follower style. A caller queues its batch, then tries to take
/// the writer connection: if it is free the caller becomes the leader and writes every
/// queued batch in one transaction with one sync; otherwise it waits on its own channel
/// for the leader to answer. A lone caller thus writes directly, and concurrent callers
/// share commits without waking each other.
pub(crate) struct GroupCommit {
    path: PathBuf,
    durability: Durability,
    queue: Mutex<Vec<Job>>,
    /// The writer connection and the chain as of the last commit, loaded on first use.
    writer: Mutex<Option<(Connection, Chain)>>,
}

impl GroupCommit {
    pub(crate) fn new(path: &Path, durability: Durability) -> GroupCommit {
        GroupCommit {
            path: path.to_path_buf(),
            durability,
            queue: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
        }
    }

    /// The writer slot, with its connection opened and the chain loaded.
    fn loaded<'a>(
        &self,
        slot: &mut MutexGuard<'a, Option<(Connection, Chain)>>,
    ) -> StoreResult<()> {
        if slot.is_none() {
            let conn = super::sqlite::connect(&self.path, self.durability)?;
            let chain = load_chain(&conn)?;
            **slot = Some((conn, chain));
        }
        Ok(())
    }

    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        // Encoding happens here, on the caller's thread, not in the writer's turn.
        let entries = entries
            .into_iter()
            .map(|e| {
                let json = JsonFields::of(&e);
                (e, json)
            })
            .collect();
        let (done, answer) = mpsc::sync_channel(1);
        relock(&self.queue).push(Job { entries, done });
        loop {
            let mut slot = match self.writer.try_lock() {
                Ok(slot) => slot,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                // A leader is writing; it answers this job when it looks at the queue again.
                Err(std::sync::TryLockError::WouldBlock) => break,
            };
            let mut jobs: Vec<Job> = {
                let mut queue = relock(&self.queue);
                let n = queue.len().min(MAX_JOBS_PER_COMMIT);
                queue.drain(..n).collect()
            };
            if jobs.is_empty() {
                drop(slot);
                // A job queued after the drain, whose caller found the connection taken,
                // is still ours to write.
                match relock(&self.queue).is_empty() {
                    true => break,
                    false => continue,
                }
            }
            let batches: Vec<Vec<(AuditEntry, JsonFields)>> = jobs
                .iter_mut()
                .map(|j| std::mem::take(&mut j.entries))
                .collect();
            let results: Vec<JobResult> = match self.loaded(&mut slot) {
                Err(e) => {
                    let message = format!("{e:#}");
                    jobs.iter().map(|_| Err(message.clone())).collect()
                }
                Ok(()) => {
                    let (conn, chain) = slot.as_mut().expect("loaded");
                    match write_batches(conn, chain.clone(), batches) {
                        Ok((next, results)) => {
                            *chain = next;
                            results.into_iter().map(Ok).collect()
                        }
                        Err(e) => {
                            let message = format!("{e:#}");
                            jobs.iter().map(|_| Err(message.clone())).collect()
                        }
                    }
                }
            };
            drop(slot);
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.done.send(result);
            }
        }
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the audit writer stopped"))?
            .map_err(|e| anyhow::anyhow!("cannot append to the audit log: {e}"))
    }

    /// The chain as of the last commit.
    fn chain(&self) -> StoreResult<Chain> {
        let mut slot = relock(&self.writer);
        self.loaded(&mut slot)?;
        Ok(slot.as_ref().expect("loaded").1.clone())
    }
}

fn load_chain(conn: &Connection) -> StoreResult<Chain> {
    let mut chain = Chain::default();
    let mut stmt = conn.prepare(
        "SELECT seq, hash FROM audit_pruned UNION ALL SELECT seq, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (seq, hash): (i64, String) = (row.get(0)?, row.get(1)?);
        chain.frontier.push(leaf_hash(&decode_hash(&hash)));
        chain.head = Some((seq as u64, hash));
    }
    Ok(chain)
}

/// Seals and inserts every batch in one transaction.
fn write_batches(
    conn: &mut Connection,
    mut chain: Chain,
    batches: Vec<Vec<(AuditEntry, JsonFields)>>,
) -> StoreResult<(Chain, Vec<Vec<AuditRecord>>)> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(batches.len());
    {
        let mut stmt = tx.prepare_cached(&insert_sql())?;
        let mut hours = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_resource_hours (resource, hour) VALUES (?1, ?2)",
        )?;
        let time = audit::now_rfc3339();
        for entries in batches {
            let mut sealed = Vec::with_capacity(entries.len());
            for (entry, json) in entries {
                let prev = chain.head.as_ref().map(|(s, h)| (*s, h.as_str()));
                let r = audit::seal_encoded(prev, time.clone(), entry, &json);
                let e = &r.entry;
                insert_row(&mut stmt, &r, &json)?;
                if !e.resource.is_empty() {
                    hours.execute(params![e.resource, hour_of(&r.time)])?;
                }
                chain.frontier.push(leaf_hash(&decode_hash(&r.hash)));
                chain.head = Some((r.seq, r.hash.clone()));
                sealed.push(r);
            }
            results.push(sealed);
        }
    }
    tx.commit()?;
    Ok((chain, results))
}

/// `INSERT` of one audit row, its values numbered in [`AUDIT_COLUMNS`] order.
fn insert_sql() -> String {
    let values: Vec<String> = (1..=AUDIT_COLUMNS.split(',').count())
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ({})",
        values.join(", ")
    )
}

/// Inserts a sealed record with `json`, the encoding it was sealed with.
fn insert_row(
    stmt: &mut rusqlite::Statement<'_>,
    r: &AuditRecord,
    json: &JsonFields,
) -> rusqlite::Result<()> {
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
        json.returned,
        json.withheld,
        e.decision.map_or("", Decision::as_str),
        e.reason,
        json.redactions,
        json.details,
        r.prev_hash,
        r.hash,
    ])?;
    Ok(())
}

/// The hour a record's time falls in, `YYYY-MM-DDTHH`: the key under which the
/// resource index lists it. Every time in that hour sorts between it and
/// `YYYY-MM-DDTHH~`.
fn hour_of(time: &str) -> &str {
    time.get(..HOUR_KEY_LEN).unwrap_or(time)
}

/// The length of an hour key, `YYYY-MM-DDTHH`, at the start of a record's time.
pub(super) const HOUR_KEY_LEN: usize = 13;

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn decode_hash(hex_text: &str) -> Hash {
    let mut out = [0u8; 32];
    // A non-hex (tampered) hash still yields a leaf; verification reports the row.
    if hex::decode_to_slice(hex_text, &mut out).is_err() {
        out = crate::merkle::leaf_hash(hex_text.as_bytes());
    }
    out
}

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
        let inner = self.lock();
        Ok(inner
            .conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn audit_positions(&self) -> StoreResult<std::ops::Range<u64>> {
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

    fn put_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
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
        let last: i64 = self.lock().conn.query_row(
            "SELECT IFNULL(MAX(seq), 0) FROM audit WHERE time < ?1",
            [time],
            |r| r.get(0),
        )?;
        Ok(last as u64)
    }

    fn prune_through(&self, seq: u64) -> StoreResult<u64> {
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
        let _: Option<i64> = tx
            .query_row("SELECT MAX(seq) FROM audit_pruned", [], |r| r.get(0))
            .optional()?
            .flatten();
        tx.commit()?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        insert_row(&mut conn.prepare(&insert_sql()).unwrap(), &r, &json).unwrap();
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
