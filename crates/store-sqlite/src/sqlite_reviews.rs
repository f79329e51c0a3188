//! Access reviews in SQLite: one table of JSON documents, with at most one open review
//! enforced by a unique index rather than by callers.

use super::sqlite::SqliteStore;
use crate::error::{Context, Result, call};
use airlock_core::StoreResult;
use airlock_core::review::AccessReview;
use airlock_core::store::ReviewStore;
use rusqlite::{OptionalExtension, params};

/// The reviews table. `open` is derived from the document, and the partial unique
/// index admits one open row: a second concurrent `open_review` fails in the database.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS access_reviews (
    id INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    open INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.signed_off') IS NULL) VIRTUAL
);
CREATE UNIQUE INDEX IF NOT EXISTS access_reviews_one_open ON access_reviews(open) WHERE open;
"#;

fn decode(doc: &str) -> Result<AccessReview> {
    serde_json::from_str(doc).context("a stored row of access_reviews is corrupt")
}

impl SqliteStore {
    fn review_where(&self, clause: &str, param: i64) -> Result<Vec<AccessReview>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT doc FROM access_reviews WHERE {clause} ORDER BY id DESC LIMIT ?1"
        ))?;
        let docs = stmt
            .query_map([param], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        docs.iter().map(|d| decode(d)).collect()
    }
}

impl ReviewStore for SqliteStore {
    fn open_review(&self, review: &AccessReview) -> StoreResult<Option<u64>> {
        call(|| {
            let mut inner = self.lock();
            let tx = inner
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(id), 0) + 1 FROM access_reviews",
                [],
                |r| r.get(0),
            )?;
            let mut stored = review.clone();
            stored.id = id as u64;
            stored.signed_off = None;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO access_reviews (id, doc) VALUES (?1, ?2)",
                params![id, serde_json::to_string(&stored)?],
            )?;
            tx.commit()?;
            Ok((inserted == 1).then_some(id as u64))
        })
    }

    fn review(&self, id: u64) -> StoreResult<Option<AccessReview>> {
        call(|| {
            let conn = self.read()?;
            let doc: Option<String> = conn
                .prepare_cached("SELECT doc FROM access_reviews WHERE id = ?1")?
                .query_row([id as i64], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode(&d)).transpose()
        })
    }

    fn reviews(&self, limit: u32) -> StoreResult<Vec<AccessReview>> {
        call(|| self.review_where("1", i64::from(limit)))
    }

    fn open_review_now(&self) -> StoreResult<Option<AccessReview>> {
        call(|| Ok(self.review_where("open", 1)?.pop()))
    }

    fn last_signed_off(&self) -> StoreResult<Option<AccessReview>> {
        call(|| Ok(self.review_where("NOT open", 1)?.pop()))
    }

    fn update_review(
        &self,
        id: u64,
        change: &mut dyn FnMut(&mut AccessReview) -> bool,
    ) -> StoreResult<Option<AccessReview>> {
        call(|| {
            // The id is the document's, whatever `change` does to it.
            let mut keep_id = |r: &mut AccessReview| {
                let changed = change(r);
                r.id = id;
                changed
            };
            self.update_doc("access_reviews", ("id", &id.to_string()), &mut keep_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::review::SignOff;

    fn draft() -> AccessReview {
        AccessReview {
            id: 0,
            opened_at: "2026-01-01T00:00:00.000Z".into(),
            opened_by: "root".into(),
            window_days: 90,
            items: Vec::new(),
            signed_off: None,
        }
    }

    #[test]
    fn one_review_is_open_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        assert_eq!(store.open_review(&draft()).unwrap(), Some(1));
        assert_eq!(store.open_review(&draft()).unwrap(), None);
        assert_eq!(store.open_review_now().unwrap().unwrap().id, 1);
        assert!(store.last_signed_off().unwrap().is_none());
        store
            .update_review(1, &mut |r| {
                r.signed_off = Some(SignOff {
                    by: "root".into(),
                    at: "2026-01-02T00:00:00.000Z".into(),
                    note: None,
                });
                true
            })
            .unwrap()
            .unwrap();
        assert!(store.open_review_now().unwrap().is_none());
        assert_eq!(store.last_signed_off().unwrap().unwrap().id, 1);
        assert_eq!(store.open_review(&draft()).unwrap(), Some(2));
        let ids: Vec<u64> = store.reviews(10).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, [2, 1]);
    }
}
