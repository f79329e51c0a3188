//! The block index of the audit log: which blocks of records name each installation,
//! plugin and resource, so that a query by name scans only those blocks.
//!
//! Records are grouped in blocks of 1024 (`seq >> BLOCK_BITS`), and blocks in epochs of
//! 64 (`block >> EPOCH_BITS`). Appends are the hot path, and a B-tree keyed by name
//! takes each new name at a random place, where every insert dirties a page of its own
//! that the WAL then writes out whole. So the index is two tables, each written only at
//! its end:
//! - `audit_recent_blocks (block, kind, name)` takes the entries of the newest blocks as
//!   their records are indexed;
//! - `audit_blocks (epoch, kind, name, block)` takes a whole epoch's entries at once,
//!   sorted, when the epoch is complete; they leave the recent table in the same
//!   transaction.
//!
//! A query seeks its name once per epoch in `audit_blocks`, and once per block in the
//! recent table, which holds about one epoch.

use super::StoreResult;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::ops::RangeInclusive;

/// A block spans 2^BLOCK_BITS records: `seq >> BLOCK_BITS` is a record's block.
pub(super) const BLOCK_BITS: u32 = 10;

/// An epoch spans 2^EPOCH_BITS blocks: `block >> EPOCH_BITS` is a block's epoch.
pub(super) const EPOCH_BITS: u32 = 6;

/// The block index's tables.
pub(super) const SCHEMA: &str = "
-- Which blocks of 1024 records (block = seq >> 10) name an installation (kind 0),
-- plugin (kind 1) or resource (kind 2), for epochs of 64 blocks (epoch = block >> 6)
-- that are complete.
CREATE TABLE IF NOT EXISTS audit_blocks (
    epoch INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (epoch, kind, name, block)
) WITHOUT ROWID;
-- The same for the newest blocks, until their epoch is complete.
CREATE TABLE IF NOT EXISTS audit_recent_blocks (
    block INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (block, kind, name)
) WITHOUT ROWID;
";

/// What a block index entry names: an audit column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum NameKind {
    Installation = 0,
    Plugin = 1,
    Resource = 2,
}

impl NameKind {
    /// Every kind, in code order.
    const ALL: [NameKind; 3] = [NameKind::Installation, NameKind::Plugin, NameKind::Resource];

    /// The audit column this kind indexes.
    fn column(self) -> &'static str {
        match self {
            NameKind::Installation => "installation",
            NameKind::Plugin => "plugin",
            NameKind::Resource => "resource",
        }
    }
}

/// The entries of rows on their way into the audit table.
#[derive(Default)]
pub(super) struct BlockEntries<'a> {
    entries: Vec<(u64, NameKind, &'a str)>,
    /// The last entry of each kind, so that a name repeated row after row is kept once.
    last: [Option<(u64, &'a str)>; 3],
    newest_block: u64,
}

impl<'a> BlockEntries<'a> {
    /// Notes that the record `seq` names `name` (nothing if it is empty). Records come in
    /// log order.
    pub(super) fn add(&mut self, seq: u64, kind: NameKind, name: &'a str) {
        let block = seq >> BLOCK_BITS;
        self.newest_block = block;
        let last = &mut self.last[kind as usize];
        if name.is_empty() || *last == Some((block, name)) {
            return;
        }
        *last = Some((block, name));
        self.entries.push((block, kind, name));
    }

    /// Writes the entries, in key order, and moves every complete epoch to
    /// `audit_blocks`.
    pub(super) fn write(mut self, tx: &Transaction<'_>) -> StoreResult<()> {
        self.entries.sort_unstable();
        self.entries.dedup();
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_recent_blocks (block, kind, name) VALUES (?1, ?2, ?3)",
        )?;
        for (block, kind, name) in &self.entries {
            insert.execute(params![*block as i64, *kind as i64, name])?;
        }
        let oldest = oldest_recent_block(tx)?;
        let newest_epoch = self.newest_block >> EPOCH_BITS;
        if oldest.is_some_and(|b| b >> EPOCH_BITS < newest_epoch) {
            let end = (newest_epoch << EPOCH_BITS) as i64;
            tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO audit_blocks (epoch, kind, name, block) \
                     SELECT block >> {EPOCH_BITS}, kind, name, block FROM audit_recent_blocks \
                     WHERE block < ?1 ORDER BY 1, 2, 3, 4"
                ),
                [end],
            )?;
            tx.execute("DELETE FROM audit_recent_blocks WHERE block < ?1", [end])?;
        }
        Ok(())
    }
}

fn oldest_recent_block(conn: &Connection) -> StoreResult<Option<u64>> {
    let oldest: Option<i64> = conn
        .query_row("SELECT MIN(block) FROM audit_recent_blocks", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    Ok(oldest.map(|b| b as u64))
}

/// Visits, in order, the blocks within `blocks` that name `name`, until `visit` returns
/// `false`.
pub(super) fn blocks_naming(
    conn: &Connection,
    kind: NameKind,
    name: &str,
    blocks: RangeInclusive<u64>,
    visit: &mut dyn FnMut(u64) -> StoreResult<bool>,
) -> StoreResult<()> {
    let recent_from = oldest_recent_block(conn)?.unwrap_or(u64::MAX);
    let mut in_epoch = conn.prepare_cached(
        "SELECT block FROM audit_blocks WHERE epoch = ?1 AND kind = ?2 AND name = ?3 \
         AND block >= ?4 AND block <= ?5 ORDER BY block",
    )?;
    let mut in_recent = conn.prepare_cached(
        "SELECT 1 FROM audit_recent_blocks WHERE block = ?1 AND kind = ?2 AND name = ?3",
    )?;
    let (first, last) = (*blocks.start(), *blocks.end());
    if first > last {
        return Ok(());
    }
    for epoch in first >> EPOCH_BITS..=last >> EPOCH_BITS {
        let lo = first.max(epoch << EPOCH_BITS);
        let hi = last.min(((epoch + 1) << EPOCH_BITS) - 1);
        let mut found = in_epoch
            .query_map(
                params![epoch as i64, kind as i64, name, lo as i64, hi as i64],
                |r| r.get::<_, i64>(0),
            )?
            .map(|b| Ok(b? as u64))
            .collect::<StoreResult<Vec<u64>>>()?;
        for block in lo.max(recent_from)..=hi {
            if in_recent.exists(params![block as i64, kind as i64, name])? {
                found.push(block);
            }
        }
        // An epoch upgraded from an older layout while incomplete is in both tables.
        found.sort_unstable();
        found.dedup();
        for block in found {
            if !visit(block)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Removes the entries of blocks whose records all come at or before `seq`.
pub(super) fn prune_through(tx: &Transaction<'_>, seq: u64) -> StoreResult<()> {
    let end = (seq.saturating_add(1) >> BLOCK_BITS) as i64;
    tx.execute(
        &format!("DELETE FROM audit_blocks WHERE epoch <= ?1 >> {EPOCH_BITS} AND block < ?1"),
        [end],
    )?;
    tx.execute("DELETE FROM audit_recent_blocks WHERE block < ?1", [end])?;
    Ok(())
}

/// SQL that fills the index from the records in the audit table.
pub(super) fn fill_from_audit_sql() -> String {
    NameKind::ALL
        .iter()
        .map(|kind| {
            let column = kind.column();
            format!(
                "INSERT OR IGNORE INTO audit_blocks (epoch, kind, name, block) \
                 SELECT seq >> {}, {}, {column}, seq >> {BLOCK_BITS} FROM audit \
                 WHERE {column} != '';",
                BLOCK_BITS + EPOCH_BITS,
                *kind as i64
            )
        })
        .collect()
}

/// SQL that moves the index of the layout before epochs, `audit_blocks (kind, name,
/// block)` with the kind a column name, to this layout.
pub(super) fn upgrade_from_names_sql() -> String {
    let codes: String = NameKind::ALL
        .iter()
        .map(|kind| format!(" WHEN '{}' THEN {}", kind.column(), *kind as i64))
        .collect();
    format!(
        "ALTER TABLE audit_blocks RENAME TO audit_blocks_by_name;
         {SCHEMA}
         INSERT OR IGNORE INTO audit_blocks (epoch, kind, name, block)
             SELECT block >> {EPOCH_BITS}, CASE kind{codes} END, name, block
             FROM audit_blocks_by_name ORDER BY 1, 2, 3, 4;
         DROP TABLE audit_blocks_by_name;"
    )
}
