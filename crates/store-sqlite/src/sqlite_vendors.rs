//! Vendors in SQLite: one JSON document per vendor, changed read-modify-write under the
//! database's write lock.

use super::sqlite::SqliteStore;
use crate::error::{Context, Result, call};
use airlock_core::StoreResult;
use airlock_core::store::VendorStore;
use airlock_core::vendor::Vendor;
use rusqlite::{OptionalExtension, params};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS vendors (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
"#;

fn decode(doc: &str) -> Result<Vendor> {
    serde_json::from_str(doc).context("a stored row of vendors is corrupt")
}

impl VendorStore for SqliteStore {
    fn vendor(&self, name: &str) -> StoreResult<Option<Vendor>> {
        call(|| {
            let conn = self.read()?;
            let doc: Option<String> = conn
                .prepare_cached("SELECT doc FROM vendors WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode(&d)).transpose()
        })
    }

    fn vendors(&self) -> StoreResult<Vec<Vendor>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached("SELECT doc FROM vendors ORDER BY name")?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            docs.iter().map(|d| decode(d)).collect()
        })
    }

    fn update_vendor(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut Option<Vendor>) -> bool,
    ) -> StoreResult<Option<Vendor>> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let doc: Option<String> = tx
                .query_row("SELECT doc FROM vendors WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            let mut vendor = doc.map(|d| decode(&d)).transpose()?;
            let stored = vendor.clone();
            if !change(&mut vendor) {
                return Ok(stored);
            }
            match &vendor {
                Some(v) => tx.execute(
                    "INSERT INTO vendors (name, doc) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
                    params![name, serde_json::to_string(v)?],
                )?,
                None => tx.execute("DELETE FROM vendors WHERE name = ?1", [name])?,
            };
            tx.commit()?;
            Ok(vendor)
        })
    }
}
