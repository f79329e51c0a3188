//! The audit log's tables in SQLite: their layout, how older layouts are upgraded, and
//! how the indexer inserts rows.
//!
//! Appends are the hot path, so each row costs as few B-tree inserts as possible:
//! - `seq` is the rowid, so rows are stored in log order with no index of their own;
//! - time ranges need no index: record times never decrease along the log (sealing
//!   sees to it), so a binary search over `seq` finds them;
//! - installations, plugins and resources are indexed by block, not by record, and by
//!   epoch first, so that new entries land on the index's newest pages
//!   ([`super::audit_blocks`]).

use super::audit_blocks::{self, BlockEntries, NameKind};
use super::audit_journal::Row;
use super::raw_statement::RawStatement;
use crate::error::Context;
use crate::error::Result;
use rusqlite::Connection;

/// The audit table's columns, in [`Row`] order.
pub(super) const AUDIT_COLUMNS: &str = "seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash";

/// The layout this release writes, kept in `PRAGMA user_version`: 1 added the block
/// index, 2 keyed it by epoch first.
const LAYOUT_VERSION: i64 = 2;

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS audit_pruned (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (size INTEGER PRIMARY KEY, doc TEXT NOT NULL);
-- Roots of complete blocks of the Merkle tree, remembered for inclusion proofs.
CREATE TABLE IF NOT EXISTS audit_tree_blocks (block INTEGER PRIMARY KEY, root BLOB NOT NULL);
"#;

/// Creates the audit tables, or upgrades those of an older release, in one transaction.
pub(super) fn prepare(conn: &mut Connection) -> Result<()> {
    let version = |conn: &Connection| -> Result<i64> {
        Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    };
    let schema = format!("{SCHEMA}{}", audit_blocks::SCHEMA);
    if version(conn)? >= LAYOUT_VERSION {
        // Tables added within this layout.
        conn.execute_batch(&schema)?;
        return Ok(());
    }
    // Another process opening the same database at once upgrades it only once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from = version(&tx)?;
    if from >= LAYOUT_VERSION {
        return Ok(());
    }
    let older = tx
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'")?
        .exists([])?;
    let upgrade = match (older, from) {
        (false, _) => schema,
        // The first layout kept `seq` in a unique index beside the rowid, and indexed
        // time, plugin and resource hours per record.
        (true, 0) => format!(
            "DROP INDEX IF EXISTS audit_installation;
             DROP INDEX IF EXISTS audit_plugin;
             DROP INDEX IF EXISTS audit_time;
             DROP INDEX IF EXISTS audit_resource;
             ALTER TABLE audit RENAME TO audit_old;
             {schema}
             INSERT INTO audit ({AUDIT_COLUMNS}) SELECT {AUDIT_COLUMNS} FROM audit_old ORDER BY seq;
             DROP TABLE audit_old;
             DROP TABLE IF EXISTS audit_resource_hours;
             {}",
            audit_blocks::fill_from_audit_sql()
        ),
        // The second kept the block index in one table keyed by name.
        (true, _) => audit_blocks::upgrade_from_names_sql(),
    };
    if older {
        tracing::info!(
            from,
            "upgrading the audit log's tables to this release's layout"
        );
    }
    tx.execute_batch(&upgrade).with_context(|| match older {
        true => "cannot upgrade the audit log's tables; the database is left as it was",
        false => "cannot create the audit log's tables",
    })?;
    tx.pragma_update(None, "user_version", LAYOUT_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Rows on their way into the audit table: each row's `seq`, and its other columns' text
/// back to back in one buffer.
#[derive(Debug, Default)]
pub(super) struct Rows {
    text: String,
    rows: Vec<(u64, [usize; 17])>,
}

impl Rows {
    /// Adds a row after the others.
    pub(super) fn push(&mut self, seq: u64, columns: &[&str; 16]) {
        let mut bounds = [self.text.len(); 17];
        for (i, column) in columns.iter().enumerate() {
            self.text.push_str(column);
            bounds[i + 1] = self.text.len();
        }
        self.rows.push((seq, bounds));
    }

    /// How many rows there are.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The `seq` of the last row.
    pub(super) fn last_seq(&self) -> Option<u64> {
        self.rows.last().map(|(seq, _)| *seq)
    }

    /// Each row's `seq` and columns, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, [&str; 16])> + '_ {
        self.rows.iter().map(|(seq, bounds)| {
            let columns = std::array::from_fn(|i| &self.text[bounds[i]..bounds[i + 1]]);
            (*seq, columns)
        })
    }
}

impl From<&[Row]> for Rows {
    fn from(rows: &[Row]) -> Rows {
        let mut out = Rows::default();
        for row in rows {
            out.push(row.0, &row.1.each_ref().map(String::as_str));
        }
        out
    }
}

/// Inserts batches of rows, in order, in one transaction, with their blocks.
pub(super) fn insert_rows(conn: &mut Connection, batches: &[Rows]) -> Result<()> {
    if batches.iter().all(Rows::is_empty) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        let mut stmt = RawStatement::prepare(&tx, &insert_sql())?;
        let mut blocks = BlockEntries::default();
        for (seq, columns) in batches.iter().flat_map(Rows::iter) {
            stmt.execute(seq as i64, &columns)?;
            // Columns after `seq`: time, installation, plugin, … resource (8th).
            blocks.add(seq, NameKind::Installation, columns[1]);
            blocks.add(seq, NameKind::Plugin, columns[2]);
            blocks.add(seq, NameKind::Resource, columns[7]);
        }
        blocks.write(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// `INSERT` of one audit row, its values numbered in [`AUDIT_COLUMNS`] order.
pub(super) fn insert_sql() -> String {
    let values: Vec<String> = (1..=AUDIT_COLUMNS.split(',').count())
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ({})",
        values.join(", ")
    )
}

/// The first `seq` in `positions` whose record's time is `time` or later (`positions.end`
/// if none is): a binary search, since record times never decrease along the log.
pub(super) fn first_seq_at_or_after(
    conn: &Connection,
    time: &str,
    positions: std::ops::Range<u64>,
) -> Result<u64> {
    let mut stmt =
        conn.prepare_cached("SELECT time FROM audit WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    let (mut lo, mut hi) = (positions.start, positions.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: Option<String> = stmt
            .query_row([mid as i64], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        match at {
            Some(at) if at.as_str() < time => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}
