//! The audit log in SQLite: queries, checkpoints and pruning. Appends go through
//! [`super::audit_writer`]; every read here first waits for the records acknowledged so
//! far to be indexed.

use super::AuditStore;
use super::audit_blocks::{self, BLOCK_BITS, NameKind};
use super::audit_table::{AUDIT_COLUMNS, first_seq_at_or_after};
use super::raw_statement::RawStatement;
use super::sqlite::SqliteStore;
use crate::audit::{self, AuditEntry, AuditFilter, AuditRecord, Decision};
use crate::checkpoint::Checkpoint;
use crate::error::{Context, Result, call};
use crate::merkle::Hash;
use airlock_core::StoreResult;
use rusqlite::{OptionalExtension, params};

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

/// A sequence number or position as an SQL integer; those past SQLite's range read as
/// its end.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Stored checkpoints matching an SQL condition (and ordering) on `size`.
    fn checkpoints_where<P: rusqlite::Params>(
        &self,
        condition: &str,
        params: P,
    ) -> Result<Vec<Checkpoint>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT doc FROM audit_checkpoints WHERE {condition}"
        ))?;
        let docs = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        docs.map(|d| serde_json::from_str(&d?).context("a stored checkpoint is corrupt"))
            .collect()
    }
}

impl AuditStore for SqliteStore {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        call(|| {
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            self.commit.append(entries)
        })
    }

    fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        call(|| {
            let positions = self.audit_positions()?;
            let conn = self.read()?;
            // Time bounds become bounds on `seq` (both exclusive), so that the rowid range
            // does the work.
            let mut after = (filter.after_seq.unwrap_or(0).min(i64::MAX as u64 - 1))
                .max(positions.start.saturating_sub(1));
            let mut before = positions.end;
            if let Some(since) = &filter.since {
                let first = first_seq_at_or_after(&conn, since, positions.clone())?;
                after = after.max(first.saturating_sub(1));
            }
            if let Some(until) = &filter.until {
                before = first_seq_at_or_after(&conn, until, positions.clone())?;
            }
            let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > ?1 AND seq < ?2");
            let mut args: Vec<String> = Vec::new();
            for (column, op, value) in [
                ("installation", "=", &filter.installation),
                ("plugin", "=", &filter.plugin),
                ("resource", "=", &filter.resource),
                ("time", ">=", &filter.since),
                ("time", "<", &filter.until),
                ("call", "=", &filter.call),
                ("invocation", "=", &filter.invocation),
                (
                    "decision",
                    "=",
                    &filter.decision.map(|d| d.as_str().to_string()),
                ),
            ] {
                if let Some(value) = value {
                    args.push(value.clone());
                    sql.push_str(&format!(" AND {column} {op} ?{}", args.len() + 3));
                }
            }
            if let Some(actor) = &filter.actor {
                args.push(actor.clone());
                sql.push_str(&format!(
                    " AND json_extract(audit.details, '$.actor') = ?{}",
                    args.len() + 3
                ));
            }
            if let Some(field) = &filter.field {
                // A field is named by a record if it was returned (a JSON array of paths) or
                // withheld (a JSON array of {field, reason}).
                args.push(field.clone());
                let n = args.len() + 3;
                sql.push_str(&format!(
                " AND (EXISTS (SELECT 1 FROM json_each(audit.fields_returned) WHERE value = ?{n}) \
                 OR EXISTS (SELECT 1 FROM json_each(audit.fields_withheld) WHERE json_extract(value, '$.field') = ?{n}))"
            ));
            }
            sql.push_str(" ORDER BY seq LIMIT ?3");
            let limit = filter.limit.unwrap_or(100).min(10_000) as usize;
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = Vec::new();
            // Records in (lo, hi) that match, up to the limit.
            let mut scan = |lo: u64, hi: u64, found: &mut Vec<AuditRecord>| -> Result<()> {
                let (lo, hi, left) = (lo as i64, hi as i64, (limit - found.len()) as i64);
                let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&lo, &hi, &left];
                bound.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
                for row in stmt.query_map(bound.as_slice(), audit_from_row)? {
                    found.push(row?);
                }
                Ok(())
            };
            // The most selective indexed name, if any, narrows the scan to its blocks. Empty
            // names (records of no plugin, say) are not indexed: those filters scan.
            let name = [
                (NameKind::Resource, &filter.resource),
                (NameKind::Installation, &filter.installation),
                (NameKind::Plugin, &filter.plugin),
            ]
            .into_iter()
            .find_map(|(kind, name)| Some((kind, name.as_ref().filter(|n| !n.is_empty())?)));
            let Some((kind, name)) = name else {
                scan(after, before, &mut found)?;
                return Ok(found);
            };
            let blocks = (after + 1) >> BLOCK_BITS..=before.saturating_sub(1) >> BLOCK_BITS;
            audit_blocks::blocks_naming(&conn, kind, name, blocks, &mut |block| {
                let lo = after.max((block << BLOCK_BITS).saturating_sub(1));
                let hi = before.min((block + 1) << BLOCK_BITS);
                scan(lo, hi, &mut found)?;
                Ok(found.len() < limit)
            })?;
            Ok(found)
        })
    }

    fn count_audit(&self) -> StoreResult<u64> {
        call(|| {
            self.commit.settle()?;
            let conn = self.read()?;
            Ok(conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    fn audit_positions(&self) -> StoreResult<std::ops::Range<u64>> {
        call(|| {
            self.commit.settle()?;
            // Two statements: SQLite answers a lone MIN or MAX from the b-tree's edge, but
            // both in one statement scan the whole table.
            let conn = self.read()?;
            let edge = |sql: &str| -> Result<Option<i64>> {
                Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
            };
            let first = edge("SELECT MIN(rowid) FROM audit")?;
            let last = edge("SELECT MAX(rowid) FROM audit")?;
            Ok(match (first, last) {
                (Some(first), Some(last)) => first as u64..last as u64 + 1,
                _ => 0..0,
            })
        })
    }

    fn scan_raw(
        &self,
        positions: std::ops::Range<u64>,
        visit: &mut dyn FnMut(u64, &audit::CanonicalParts<'_>, &str, &str) -> StoreResult<()>,
    ) -> StoreResult<()> {
        call(|| {
            // A connection of its own, so that scans of several slices run in parallel.
            let conn = self.reader()?;
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE rowid >= ?1 AND rowid < ?2 ORDER BY rowid"
            );
            let mut stmt = RawStatement::prepare(&conn, &sql)?;
            let mut rows = stmt.query(seq_param(positions.start), seq_param(positions.end))?;
            while let Some(row) = rows.advance()? {
                let seq = row.int(0) as u64;
                let parts: audit::CanonicalParts<'_> = std::array::from_fn(|i| row.bytes(i + 1));
                let prev = std::str::from_utf8(row.bytes(15)).unwrap_or("");
                let hash = std::str::from_utf8(row.bytes(16)).unwrap_or("");
                visit(seq, &parts, prev, hash)?;
            }
            Ok(())
        })
    }

    fn pruned_hashes(&self) -> StoreResult<Vec<(u64, String)>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare("SELECT seq, hash FROM audit_pruned ORDER BY seq")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn record_hashes(&self, seqs: std::ops::Range<u64>) -> StoreResult<Vec<String>> {
        call(|| {
            self.commit.settle()?;
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT seq, hash FROM audit_pruned WHERE seq >= ?1 AND seq < ?2 \
             UNION ALL SELECT seq, hash FROM audit WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let hashes =
                stmt.query_map([seq_param(seqs.start), seq_param(seqs.end)], |r| r.get(1))?;
            Ok(hashes.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn tree_block(&self, block: u64) -> StoreResult<Option<Hash>> {
        call(|| {
            let conn = self.read()?;
            let root: Option<Vec<u8>> = conn
                .prepare_cached("SELECT root FROM audit_tree_blocks WHERE block = ?1")?
                .query_row([block as i64], |r| r.get(0))
                .optional()?;
            Ok(root.and_then(|r| Hash::try_from(r.as_slice()).ok()))
        })
    }

    fn put_tree_block(&self, block: u64, root: &Hash) -> StoreResult<()> {
        call(|| {
            self.lock().conn.execute(
                "INSERT OR REPLACE INTO audit_tree_blocks (block, root) VALUES (?1, ?2)",
                params![block as i64, root.as_slice()],
            )?;
            Ok(())
        })
    }

    fn merkle_head(&self) -> StoreResult<(u64, Hash, String)> {
        call(|| {
            let chain = self.commit.chain()?;
            let last = chain
                .head
                .as_ref()
                .map(|(_, h)| h.clone())
                .unwrap_or_else(|| audit::GENESIS_HASH.into());
            Ok((chain.frontier.size(), chain.frontier.root(), last))
        })
    }

    fn log_size(&self) -> StoreResult<u64> {
        call(|| self.commit.log_size())
    }

    fn put_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        call(|| {
            self.commit.settle()?;
            self.lock().conn.execute(
                "INSERT OR REPLACE INTO audit_checkpoints (size, doc) VALUES (?1, ?2)",
                params![checkpoint.size as i64, serde_json::to_string(checkpoint)?],
            )?;
            Ok(())
        })
    }

    fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        call(|| self.checkpoints_where("1 ORDER BY size", []))
    }

    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<Checkpoint>> {
        call(|| Ok(self.checkpoints_where("size = ?1", [size as i64])?.pop()))
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        call(|| {
            Ok(self
                .checkpoints_where("1 ORDER BY size DESC LIMIT 1", [])?
                .pop())
        })
    }

    fn last_seq_before(&self, time: &str) -> StoreResult<u64> {
        call(|| {
            let positions = self.audit_positions()?;
            let first = first_seq_at_or_after(&*self.read()?, time, positions.clone())?;
            Ok(match first > positions.start {
                true => first - 1,
                false => 0,
            })
        })
    }

    fn claim(&self) -> StoreResult<()> {
        call(|| self.commit.ensure_appender())
    }

    fn prune_through(&self, seq: u64) -> StoreResult<u64> {
        call(|| {
            self.commit.ensure_appender()?;
            self.commit.settle()?;
            let mut inner = self.lock();
            let tx = inner.conn.transaction()?;
            tx.execute(
            "INSERT OR REPLACE INTO audit_pruned (seq, hash) SELECT seq, hash FROM audit WHERE seq <= ?1",
            [seq as i64],
        )?;
            let deleted = tx.execute("DELETE FROM audit WHERE seq <= ?1", [seq as i64])?;
            audit_blocks::prune_through(&tx, seq)?;
            tx.commit()?;
            Ok(deleted as u64)
        })
    }
}

#[cfg(test)]
mod tests;
