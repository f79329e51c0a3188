//! The audit log in SQLite: group commit, checkpoints and pruning.

use super::sqlite::SqliteStore;
use super::{AuditStore, StoreResult, UnreadableRecord};
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision};
use crate::checkpoint::Checkpoint;
use crate::merkle::{Frontier, Hash, leaf_hash};
use anyhow::Context;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

const AUDIT_COLUMNS: &str = "seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash";

/// The chain's head and Merkle frontier, loaded on first use and kept current by the
/// commit leader.
#[derive(Default)]
struct Chain {
    loaded: bool,
    head: Option<(u64, String)>,
    frontier: Frontier,
}

/// One queued batch's outcome: its ticket and the sealed records or the error.
type TicketResult = (u64, Result<Vec<AuditRecord>, String>);

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<(u64, Vec<AuditEntry>)>,
    done: HashMap<u64, Result<Vec<AuditRecord>, String>>,
    leading: bool,
}

/// Group commit: callers queue their entries; one of them (the leader) writes every
/// queued batch in one transaction, syncs once, and wakes the rest.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    wake: Condvar,
    chain: Mutex<Chain>,
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

impl SqliteStore {
    /// Loads the chain head and Merkle frontier from the database, once.
    fn chain(&self) -> StoreResult<MutexGuard<'_, Chain>> {
        let mut chain = relock(&self.commit.chain);
        if !chain.loaded {
            let inner = self.lock();
            let mut frontier = Frontier::default();
            let mut head = None;
            let mut stmt = inner
                .conn
                .prepare("SELECT seq, hash FROM audit_pruned UNION ALL SELECT seq, hash FROM audit ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (seq, hash): (i64, String) = (row.get(0)?, row.get(1)?);
                frontier.push(leaf_hash(&decode_hash(&hash)));
                head = Some((seq as u64, hash));
            }
            *chain = Chain {
                loaded: true,
                head,
                frontier,
            };
        }
        Ok(chain)
    }

    /// Writes queued batches in one transaction; returns each ticket's result.
    fn write_batches(&self, batches: Vec<(u64, Vec<AuditEntry>)>) -> Vec<TicketResult> {
        let tickets: Vec<u64> = batches.iter().map(|(t, _)| *t).collect();
        match self.write_batches_tx(batches) {
            Ok(results) => results,
            Err(e) => {
                let message = format!("{e:#}");
                tickets
                    .into_iter()
                    .map(|t| (t, Err(message.clone())))
                    .collect()
            }
        }
    }

    fn write_batches_tx(
        &self,
        batches: Vec<(u64, Vec<AuditEntry>)>,
    ) -> StoreResult<Vec<TicketResult>> {
        let mut chain = self.chain()?;
        let mut head = chain.head.clone();
        let mut frontier = chain.frontier.clone();
        let mut inner = self.lock();
        let tx = inner.conn.transaction()?;
        let mut results = Vec::with_capacity(batches.len());
        {
            let sql = format!(
                "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            for (ticket, entries) in batches {
                let mut sealed = Vec::with_capacity(entries.len());
                for entry in entries {
                    let prev = head.as_ref().map(|(s, h)| (*s, h.as_str()));
                    let r = audit::seal(prev, audit::now_rfc3339(), entry);
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
                    frontier.push(leaf_hash(&decode_hash(&r.hash)));
                    head = Some((r.seq, r.hash.clone()));
                    sealed.push(r);
                }
                results.push((ticket, Ok(sealed)));
            }
        }
        tx.commit()?;
        chain.head = head;
        chain.frontier = frontier;
        Ok(results)
    }
}

impl AuditStore for SqliteStore {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let gc = &self.commit;
        let mut queue = relock(&gc.queue);
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push((ticket, entries));
        loop {
            if let Some(result) = queue.done.remove(&ticket) {
                return result.map_err(|e| anyhow::anyhow!("cannot append to the audit log: {e}"));
            }
            if !queue.leading {
                queue.leading = true;
                let batches = std::mem::take(&mut queue.pending);
                drop(queue);
                let results = self.write_batches(batches);
                queue = relock(&gc.queue);
                queue.done.extend(results);
                queue.leading = false;
                gc.wake.notify_all();
                continue;
            }
            queue = gc.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
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
        let chain = self.chain()?;
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
        // Hold the commit queue so no append interleaves with the move.
        let _queue = relock(&self.commit.queue);
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
