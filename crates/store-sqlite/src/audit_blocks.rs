//! The block index of the audit log: which blocks of records name each installation,
//! plugin and resource, so that a query by name scans only those blocks.
//!
//! Records are grouped in blocks of 1024 (`seq >> BLOCK_BITS`), and blocks in epochs of
//! 8 (`block >> EPOCH_BITS`). The index is keyed by epoch first, then by name: appends
//! are the hot path, and a B-tree keyed by name alone would take each new name at a
//! random place across the whole log, where every insert dirties a page of its own that
//! the WAL then writes out whole. Keyed by epoch, an append's entries all land among
//! the newest epoch's few pages, which stay in the cache. A query by name seeks it once
//! per epoch.

use crate::error::Result;
use rusqlite::{Connection, Transaction, params};
use std::ops::RangeInclusive;

/// A block spans 2^BLOCK_BITS records: `seq >> BLOCK_BITS` is a record's block.
pub(super) const BLOCK_BITS: u32 = 10;

/// An epoch spans 2^EPOCH_BITS blocks: `block >> EPOCH_BITS` is a block's epoch.
/// Smaller epochs make appends cheaper (fewer pages to dirty), and queries dearer (a
/// seek per epoch: about 12,000 for 100 million records).
pub(super) const EPOCH_BITS: u32 = 3;

/// The block index's table.
pub(super) const SCHEMA: &str = "
-- Which blocks of 1024 records (block = seq >> 10) name an installation (kind 0),
-- plugin (kind 1) or resource (kind 2), by epoch of 8 blocks (epoch = block >> 3).
CREATE TABLE IF NOT EXISTS audit_blocks (
    epoch INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (epoch, kind, name, block)
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
    entries: Vec<(u64, NameKind, &'a str, u64)>,
    /// The last entry of each kind, so that a name repeated row after row is kept once.
    last: [Option<(u64, &'a str)>; 3],
}

impl<'a> BlockEntries<'a> {
    /// Notes that the record `seq` names `name` (nothing if it is empty).
    pub(super) fn add(&mut self, seq: u64, kind: NameKind, name: &'a str) {
        let block = seq >> BLOCK_BITS;
        let last = &mut self.last[kind as usize];
        if name.is_empty() || *last == Some((block, name)) {
            return;
        }
        *last = Some((block, name));
        self.entries.push((block >> EPOCH_BITS, kind, name, block));
    }

    /// Writes the entries, in key order.
    pub(super) fn write(mut self, tx: &Transaction<'_>) -> Result<()> {
        self.entries.sort_unstable();
        self.entries.dedup();
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_blocks (epoch, kind, name, block) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (epoch, kind, name, block) in &self.entries {
            insert.execute(params![*epoch as i64, *kind as i64, name, *block as i64])?;
        }
        Ok(())
    }
}

/// Visits, in order, the blocks within `blocks` that name `name`, until `visit` returns
/// `false`.
pub(super) fn blocks_naming(
    conn: &Connection,
    kind: NameKind,
    name: &str,
    blocks: RangeInclusive<u64>,
    visit: &mut dyn FnMut(u64) -> Result<bool>,
) -> Result<()> {
    let mut in_epoch = conn.prepare_cached(
        "SELECT block FROM audit_blocks WHERE epoch = ?1 AND kind = ?2 AND name = ?3 \
         AND block >= ?4 AND block <= ?5 ORDER BY block",
    )?;
    let (first, last) = (*blocks.start(), *blocks.end());
    if first > last {
        return Ok(());
    }
    for epoch in first >> EPOCH_BITS..=last >> EPOCH_BITS {
        let mut rows = in_epoch.query(params![
            epoch as i64,
            kind as i64,
            name,
            first as i64,
            last as i64
        ])?;
        while let Some(row) = rows.next()? {
            if !visit(row.get::<_, i64>(0)? as u64)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Removes the entries of blocks whose records all come at or before `seq`.
pub(super) fn prune_through(tx: &Transaction<'_>, seq: u64) -> Result<()> {
    let end = (seq.saturating_add(1) >> BLOCK_BITS) as i64;
    tx.execute(
        &format!("DELETE FROM audit_blocks WHERE epoch <= ?1 >> {EPOCH_BITS} AND block < ?1"),
        [end],
    )?;
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
