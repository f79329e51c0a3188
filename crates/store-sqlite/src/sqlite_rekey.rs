//! What is sealed directly under the master key, in SQLite: the wrapped data keys
//! (`kv_data_keys`) and the installations' secret settings. A rotation reseals them all
//! in one write transaction, holding the store's writer, so that no value sealed under
//! the old key can be stored after it.

use super::sqlite::SqliteStore;
use crate::error::{Context, Error, Result, call};
use airlock_core::StoreResult;
use airlock_core::installation::Installation;
use airlock_core::store::{MasterSealed, MasterSealedStore};
use rusqlite::{OptionalExtension, Transaction, params};

fn rows(tx: &Transaction<'_>, sql: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn decode(doc: &str) -> Result<Installation> {
    serde_json::from_str(doc).context("stored installation is corrupt")
}

impl MasterSealedStore for SqliteStore {
    fn reseal_all(
        &self,
        reseal: &mut dyn FnMut(&MasterSealed, &str) -> std::result::Result<String, String>,
        committed: &mut dyn FnMut(),
    ) -> StoreResult<u64> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut count = 0;
            for (owner, wrapped) in rows(&tx, "SELECT installation, wrapped FROM kv_data_keys")? {
                let what = MasterSealed::DataKey {
                    owner: owner.clone(),
                };
                let new = reseal(&what, &wrapped).map_err(Error::failed)?;
                tx.execute(
                    "UPDATE kv_data_keys SET wrapped = ?2 WHERE installation = ?1",
                    params![owner, new],
                )?;
                count += 1;
            }
            for (id, doc) in rows(&tx, "SELECT id, doc FROM installations")? {
                let mut installation = decode(&doc)?;
                if installation.secrets.is_empty() {
                    continue;
                }
                for (name, sealed) in installation.secrets.iter_mut() {
                    let what = MasterSealed::Secret {
                        installation: id.clone(),
                        name: name.clone(),
                    };
                    *sealed = reseal(&what, sealed).map_err(Error::failed)?;
                    count += 1;
                }
                tx.execute(
                    "UPDATE installations SET doc = ?2 WHERE id = ?1",
                    params![id, serde_json::to_string(&installation)?],
                )?;
            }
            tx.commit()?;
            // Still holding the writer: nothing of this process seals and stores between
            // the commit and the swap.
            committed();
            Ok(count)
        })
    }

    fn master_sealed_sample(&self) -> StoreResult<Option<(MasterSealed, String)>> {
        call(|| {
            let conn = self.read()?;
            let key: Option<(String, String)> = conn
                .query_row(
                    "SELECT installation, wrapped FROM kv_data_keys ORDER BY installation LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((owner, wrapped)) = key {
                return Ok(Some((MasterSealed::DataKey { owner }, wrapped)));
            }
            let mut stmt = conn.prepare("SELECT doc FROM installations ORDER BY id")?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for doc in docs {
                let installation = decode(&doc)?;
                if let Some((name, sealed)) = installation.secrets.into_iter().next() {
                    let what = MasterSealed::Secret {
                        installation: installation.id,
                        name,
                    };
                    return Ok(Some((what, sealed)));
                }
            }
            Ok(None)
        })
    }
}
