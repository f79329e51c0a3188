//! Plugin key-value storage in SQLite: sealed key names and values by keyed hash, the
//! data subjects each entry is tagged with, and each installation's usage, kept in the
//! same transaction as every write so a quota check never races a write.

use super::sqlite::SqliteStore;
use crate::error::{Context, Result, call};
use airlock_core::StoreResult;
use airlock_core::store::{KvChange, KvEntry, KvQuota, KvStore};
use rusqlite::{OptionalExtension, Transaction, params};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kv (
    installation TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    key_sealed BLOB NOT NULL,
    value_sealed BLOB NOT NULL,
    size INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    flows TEXT NOT NULL,
    subjects TEXT NOT NULL,
    PRIMARY KEY (installation, key_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_subjects (
    subject TEXT NOT NULL,
    installation TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    PRIMARY KEY (subject, installation, key_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_subjects_entry ON kv_subjects(installation, key_hash);
CREATE TABLE IF NOT EXISTS kv_usage (
    installation TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    keys INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv_data_keys (installation TEXT PRIMARY KEY, wrapped TEXT NOT NULL);
"#;

const COLUMNS: &str = "key_hash, key_sealed, value_sealed, size, written_at, flows, subjects";

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<(KvEntry, String, String)> {
    entry_at(row, 0)
}

fn decode((mut e, flows, subjects): (KvEntry, String, String)) -> Result<KvEntry> {
    e.flows = serde_json::from_str(&flows).context("a stored kv entry's flows are corrupt")?;
    e.subjects =
        serde_json::from_str(&subjects).context("a stored kv entry's subjects are corrupt")?;
    Ok(e)
}

fn current(tx: &Transaction<'_>, installation: &str, key_hash: &str) -> Result<Option<KvEntry>> {
    let row = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM kv WHERE installation = ?1 AND key_hash = ?2"),
            params![installation, key_hash],
            entry,
        )
        .optional()?;
    row.map(decode).transpose()
}

/// Moves the installation's usage by (`bytes`, `keys`).
fn add_usage(tx: &Transaction<'_>, installation: &str, bytes: i64, keys: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO kv_usage (installation, bytes, keys) VALUES (?1, ?2, ?3)
         ON CONFLICT (installation) DO UPDATE SET bytes = bytes + ?2, keys = keys + ?3",
        params![installation, bytes, keys],
    )?;
    Ok(())
}

fn usage(conn: &rusqlite::Connection, installation: &str) -> Result<(u64, u64)> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT bytes, keys FROM kv_usage WHERE installation = ?1",
            [installation],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (b, k) = row.unwrap_or((0, 0));
    Ok((b.max(0) as u64, k.max(0) as u64))
}

fn delete(tx: &Transaction<'_>, installation: &str, old: &KvEntry) -> Result<()> {
    tx.execute(
        "DELETE FROM kv WHERE installation = ?1 AND key_hash = ?2",
        params![installation, old.key_hash],
    )?;
    tx.execute(
        "DELETE FROM kv_subjects WHERE installation = ?1 AND key_hash = ?2",
        params![installation, old.key_hash],
    )?;
    add_usage(tx, installation, -(old.size as i64), -1)
}

fn insert(tx: &Transaction<'_>, installation: &str, new: &KvEntry) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO kv (installation, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            installation,
            new.key_hash,
            new.key_sealed,
            new.value_sealed,
            new.size as i64,
            new.written_at,
            serde_json::to_string(&new.flows)?,
            serde_json::to_string(&new.subjects)?,
        ],
    )?;
    for subject in &new.subjects {
        tx.execute(
            "INSERT OR IGNORE INTO kv_subjects (subject, installation, key_hash) VALUES (?1, ?2, ?3)",
            params![subject, installation, new.key_hash],
        )?;
    }
    add_usage(tx, installation, new.size as i64, 1)
}

impl KvStore for SqliteStore {
    fn kv_get(&self, installation: &str, key_hash: &str) -> StoreResult<Option<KvEntry>> {
        call(|| {
            let conn = self.read()?;
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM kv WHERE installation = ?1 AND key_hash = ?2"
                ))?
                .query_row(params![installation, key_hash], entry)
                .optional()?;
            row.map(decode).transpose()
        })
    }

    fn kv_update(
        &self,
        installation: &str,
        key_hash: &str,
        quota: KvQuota,
        change: &mut dyn FnMut(Option<&KvEntry>) -> KvChange,
    ) -> StoreResult<bool> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let old = current(&tx, installation, key_hash)?;
            match change(old.as_ref()) {
                KvChange::Keep => return Ok(true),
                KvChange::Delete => {
                    if let Some(old) = &old {
                        delete(&tx, installation, old)?;
                    }
                }
                KvChange::Put(new) => {
                    let (bytes, keys) = usage(&tx, installation)?;
                    let (old_bytes, old_keys) = old.as_ref().map_or((0, 0), |o| (o.size, 1));
                    let bytes = bytes - old_bytes.min(bytes) + new.size;
                    let keys = keys - old_keys.min(keys) + 1;
                    if bytes > quota.max_bytes || keys > quota.max_keys {
                        return Ok(false);
                    }
                    if let Some(old) = &old {
                        delete(&tx, installation, old)?;
                    }
                    insert(&tx, installation, &new)?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn kv_page(
        &self,
        installation: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<KvEntry>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM kv WHERE installation = ?1 AND key_hash > ?2 ORDER BY key_hash LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(
                    params![installation, after.unwrap_or(""), i64::from(limit)],
                    entry,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(decode).collect()
        })
    }

    fn kv_tagged(&self, subjects: &[String]) -> StoreResult<Vec<(String, KvEntry)>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT kv.installation, {} FROM kv_subjects s JOIN kv
                   ON kv.installation = s.installation AND kv.key_hash = s.key_hash
                 WHERE s.subject = ?1",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("kv.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
            let mut found = std::collections::BTreeMap::new();
            for subject in subjects {
                let rows = stmt
                    .query_map([subject], |r| {
                        let installation: String = r.get(0)?;
                        let e = entry_at(r, 1)?;
                        Ok((installation, e))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (installation, e) in rows {
                    let e = decode(e)?;
                    found.insert((installation, e.key_hash.clone()), e);
                }
            }
            Ok(found.into_iter().map(|((i, _), e)| (i, e)).collect())
        })
    }

    fn kv_data_key(&self, installation: &str) -> StoreResult<Option<String>> {
        call(|| {
            let conn = self.read()?;
            Ok(conn
                .prepare_cached("SELECT wrapped FROM kv_data_keys WHERE installation = ?1")?
                .query_row([installation], |r| r.get(0))
                .optional()?)
        })
    }

    fn kv_init_data_key(
        &self,
        owner: &str,
        wrap: &mut dyn FnMut() -> std::result::Result<String, String>,
    ) -> StoreResult<String> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let stored: Option<String> = tx
                .query_row(
                    "SELECT wrapped FROM kv_data_keys WHERE installation = ?1",
                    [owner],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(stored) = stored {
                return Ok(stored);
            }
            let wrapped = wrap().map_err(crate::error::Error::failed)?;
            tx.execute(
                "INSERT INTO kv_data_keys (installation, wrapped) VALUES (?1, ?2)",
                params![owner, wrapped],
            )?;
            tx.commit()?;
            Ok(wrapped)
        })
    }

    fn kv_usage(&self, installation: &str) -> StoreResult<(u64, u64)> {
        call(|| usage(&*self.read()?, installation))
    }

    fn kv_written_before(
        &self,
        installation: Option<&str>,
        before: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, String)>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT installation, key_hash FROM kv
                 WHERE (?1 IS NULL OR installation = ?1) AND written_at < ?2
                 ORDER BY written_at LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![installation, before, i64::from(limit)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// [`entry`] for a row whose entry columns start at `at`.
fn entry_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<(KvEntry, String, String)> {
    Ok((
        KvEntry {
            key_hash: row.get(at)?,
            key_sealed: row.get(at + 1)?,
            value_sealed: row.get(at + 2)?,
            size: row.get::<_, i64>(at + 3)? as u64,
            written_at: row.get(at + 4)?,
            flows: Vec::new(),
            subjects: Default::default(),
        },
        row.get(at + 5)?,
        row.get(at + 6)?,
    ))
}
