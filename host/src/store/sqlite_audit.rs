//! The audit log in SQLite: group commit, checkpoints and pruning.

use super::sqlite::{Durability, SqliteStore};
use super::{AuditStore, StoreResult, UnreadableRecord};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision};
use crate::checkpoint::Checkpoint;
use crate::merkle::{Frontier, Hash, leaf_hash};
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

const AUDIT_COLUMNS: &str = "seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash";

/// The chain's head and Merkle frontier, as of the last commit.
#[derive(Clone, Default)]
struct Chain {
    head: Option<(u64, String)>,
    frontier: Frontier,
}

/// One caller's batch, and where to send its sealed records.
struct Job {
    entries: Vec<AuditEntry>,
    done: mpsc::SyncSender<Result<Vec<AuditRecord>, String>>,
}

/// One queued batch's outcome.
type JobResult = Result<Vec<AuditRecord>, String>;

/// The most batches written in one transaction.
const MAX_JOBS_PER_COMMIT: usize = 4096;

/// Group commit: callers hand their entries to one writer thread with its own
/// connection; it writes every batch queued meanwhile in one transaction, syncs once,
/// and answers each caller. Started on first use.
pub(crate) struct GroupCommit {
    path: PathBuf,
    durability: Durability,
    writer: Mutex<Option<Writer>>,
}

struct Writer {
    jobs: mpsc::Sender<Job>,
    chain: Arc<Mutex<Chain>>,
}

impl GroupCommit {
    pub(crate) fn new(path: &Path, durability: Durability) -> GroupCommit {
        GroupCommit {
            path: path.to_path_buf(),
            durability,
            writer: Mutex::new(None),
        }
    }

    /// The writer, started (and the chain loaded) on first use.
    fn writer(&self) -> StoreResult<(mpsc::Sender<Job>, Arc<Mutex<Chain>>)> {
        let mut slot = relock(&self.writer);
        if let Some(w) = slot.as_ref() {
            return Ok((w.jobs.clone(), w.chain.clone()));
        }
        let conn = super::sqlite::connect(&self.path, self.durability)?;
        let chain = Arc::new(Mutex::new(load_chain(&conn)?));
        let (jobs, rx) = mpsc::channel();
        let shared = chain.clone();
        std::thread::Builder::new()
            .name("airlock-audit-writer".into())
            .spawn(move || write_loop(conn, shared, rx))
            .context("cannot start the audit writer")?;
        *slot = Some(Writer {
            jobs: jobs.clone(),
            chain: chain.clone(),
        });
        Ok((jobs, chain))
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

/// Under concurrent load, how long the writer waits for more batches after the last
/// one arrived, and at most in all, before committing (PostgreSQL's `commit_delay`).
const GATHER_GAP: Duration = Duration::from_micros(150);
const GATHER_MAX: Duration = Duration::from_millis(2);

fn write_loop(mut conn: Connection, chain: Arc<Mutex<Chain>>, rx: mpsc::Receiver<Job>) {
    let mut concurrent = false;
    while let Ok(first) = rx.recv() {
        let started = Instant::now();
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            let next = match concurrent && started.elapsed() < GATHER_MAX {
                // Callers were queueing during the last commit: give them a moment.
                true => rx.recv_timeout(GATHER_GAP).ok(),
                // A lone caller is not kept waiting.
                false => rx.try_recv().ok(),
            };
            match next {
                Some(job) => jobs.push(job),
                None => break,
            }
        }
        concurrent = jobs.len() > 1;
        let start = relock(&chain).clone();
        let batches: Vec<Vec<AuditEntry>> = jobs
            .iter_mut()
            .map(|j| std::mem::take(&mut j.entries))
            .collect();
        let results: Vec<JobResult> = match write_batches(&mut conn, start, batches) {
            Ok((next, results)) => {
                *relock(&chain) = next;
                results.into_iter().map(Ok).collect()
            }
            Err(e) => {
                let message = format!("{e:#}");
                jobs.iter().map(|_| Err(message.clone())).collect()
            }
        };
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.done.send(result);
        }
    }
}

/// Seals and inserts every batch in one transaction.
fn write_batches(
    conn: &mut Connection,
    mut chain: Chain,
    batches: Vec<Vec<AuditEntry>>,
) -> StoreResult<(Chain, Vec<Vec<AuditRecord>>)> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(batches.len());
    {
        let sql = format!(
            "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let time = audit::now_rfc3339();
        for entries in batches {
            let mut sealed = Vec::with_capacity(entries.len());
            for entry in entries {
                let prev = chain.head.as_ref().map(|(s, h)| (*s, h.as_str()));
                let r = audit::seal(prev, time.clone(), entry);
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

impl AuditStore for SqliteStore {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (jobs, _) = self.commit.writer()?;
        let (done, answer) = mpsc::sync_channel(1);
        jobs.send(Job { entries, done })
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?;
        answer
            .recv()
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("cannot append to the audit log: {e}"))
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

    fn scan_raw(
        &self,
        visit: &mut dyn FnMut(u64, &audit::CanonicalParts<'_>, &str, &str) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let inner = self.lock();
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY rowid");
        let mut stmt = inner.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
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
        let (_, chain) = self.commit.writer()?;
        let chain = relock(&chain);
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
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare("SELECT doc FROM audit_checkpoints ORDER BY size")?;
        let docs = stmt.query_map([], |r| r.get::<_, String>(0))?;
        docs.map(|d| serde_json::from_str(&d?).context("a stored checkpoint is corrupt"))
            .collect()
    }

    fn prune_through(&self, seq: u64) -> StoreResult<u64> {
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO audit_pruned (seq, hash) SELECT seq, hash FROM audit WHERE seq <= ?1",
            [seq as i64],
        )?;
        let deleted = tx.execute("DELETE FROM audit WHERE seq <= ?1", [seq as i64])?;
        let _: Option<i64> = tx
            .query_row("SELECT MAX(seq) FROM audit_pruned", [], |r| r.get(0))
            .optional()?
            .flatten();
        tx.commit()?;
        Ok(deleted as u64)
    }
}
