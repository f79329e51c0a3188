//! Encryption at rest of sensitive helpdesk fields, in the store: every write seals the
//! values of `personal` and `restricted` fields with the host's [`FieldSealer`], every
//! read opens them, and [`SqliteStore::seal_existing`] seals a store from before.

use super::sqlite::SqliteStore;
use crate::error::{Context, Error, Result, call};
use airlock_core::StoreResult;
use airlock_core::model::{Kind, Record};
use airlock_core::store::{FieldSealer, HelpdeskStore};
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    /// Seals the values of `personal` and `restricted` fields
    /// ([`airlock_core::store::sealed_keys`]) with `sealer` from now on, on every write,
    /// and opens them on every read. Set once, before the store is shared.
    pub fn seal_fields_with(&self, sealer: std::sync::Arc<dyn FieldSealer>) {
        let _ = self.sealer.set(sealer);
    }

    /// Re-writes every stored record that still holds a sensitive value in clear (a
    /// store from before sealing), a page at a time, calling `progress` with the count.
    /// Cheap once done: a marker in the database says so. Returns how many were sealed.
    pub fn seal_existing(&self, progress: &mut dyn FnMut(u64)) -> StoreResult<u64> {
        let Some(sealer) = self.sealer.get().cloned() else {
            return Ok(0);
        };
        if self.meta("fields_sealed")?.as_deref() == Some("v1") {
            return Ok(0);
        }
        let mut sealed = 0;
        for kind in [Kind::User, Kind::Ticket, Kind::Comment, Kind::Organization] {
            let keys = airlock_core::store::sealed_keys(kind);
            let mut after = String::new();
            loop {
                let page = self.raw_page(kind, &after, 500)?;
                let Some((last, _)) = page.last() else { break };
                after = last.clone();
                // A value needs sealing unless it opens: so a clear value that merely
                // looks sealed is sealed too. Each record goes back in clear, to be sealed
                // whole on the way in.
                let mut clear: Vec<(Kind, String, Record)> = Vec::new();
                for (id, mut record) in page {
                    let mut needs = false;
                    for key in keys {
                        if let Some(serde_json::Value::String(stored)) = record.get_mut(*key) {
                            match sealer.open(kind, &id, key, stored) {
                                Ok(plain) if sealer.is_sealed(stored) => *stored = plain,
                                _ => needs = true,
                            }
                        }
                    }
                    if needs {
                        clear.push((kind, id, record));
                    }
                }
                sealed += clear.len() as u64;
                // put_many seals them on the way in.
                self.put_many(&clear)?;
                progress(sealed);
            }
        }
        self.set_meta("fields_sealed", "v1")?;
        if sealed > 0 {
            self.fold_wal();
        }
        Ok(sealed)
    }

    /// Folds the WAL into the database file and empties it, so pages as they were before
    /// an erasure or a sealing are gone from both (deleted rows are overwritten:
    /// `secure_delete`). Best effort while readers hold the WAL.
    pub(super) fn fold_wal(&self) {
        let inner = self.lock();
        let _ = inner
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }

    /// Records as stored (sealed values left sealed): for the migration, and under `page`.
    pub(super) fn raw_page(
        &self,
        kind: Kind,
        after_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, Record)>> {
        call(|| {
            let conn = self.read()?;
            let sql = format!(
                "SELECT id, doc FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2",
                kind.table()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![after_id, limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, doc)| {
                    Ok((
                        id,
                        serde_json::from_str(&doc).context("stored record is not a JSON object")?,
                    ))
                })
                .collect()
        })
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        call(|| {
            let conn = self.read()?;
            Ok(conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        call(|| {
            self.lock().conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )?;
            Ok(())
        })
    }

    /// A stored doc as the caller sees it: sensitive values opened.
    pub(super) fn parse_doc(&self, kind: Kind, doc: String) -> Result<Record> {
        let record: Record =
            serde_json::from_str(&doc).context("stored record is not a JSON object")?;
        self.opened(kind, record)
    }

    /// A stored record with its sensitive values opened.
    pub(super) fn opened(&self, kind: Kind, mut record: Record) -> Result<Record> {
        if let Some(sealer) = self.sealer.get() {
            let id = record
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            for &key in airlock_core::store::sealed_keys(kind) {
                if let Some(serde_json::Value::String(stored)) = record.get_mut(key) {
                    *stored = sealer.open(kind, &id, key, stored).map_err(|e| {
                        Error::failed(format!("a sealed field cannot be opened: {e}"))
                    })?;
                }
            }
        }
        Ok(record)
    }

    /// Records as they are stored: sensitive values sealed.
    pub(super) fn sealed(
        &self,
        records: &[(Kind, String, Record)],
    ) -> Result<Vec<(Kind, String, Record)>> {
        let Some(sealer) = self.sealer.get() else {
            return Ok(records.to_vec());
        };
        records
            .iter()
            .map(|(kind, id, record)| {
                let mut record = record.clone();
                for &key in airlock_core::store::sealed_keys(*kind) {
                    // Callers hand records in clear: every value is sealed, even one that
                    // looks sealed already.
                    if let Some(serde_json::Value::String(value)) = record.get_mut(key) {
                        *value = sealer
                            .seal(*kind, id, key, value)
                            .map_err(|e| Error::failed(format!("cannot seal a field: {e}")))?;
                    }
                }
                Ok((*kind, id.clone(), record))
            })
            .collect()
    }
}
