//! User accounts and credentials in SQLite: two tables of JSON documents.

use super::sqlite::SqliteStore;
use crate::error::{Context, Result, call};
use airlock_core::StoreResult;
use airlock_core::account::{Credential, User};
use airlock_core::store::AccountStore;
use rusqlite::{OptionalExtension, params};
use serde::{Serialize, de::DeserializeOwned};

/// The accounts tables. `account_users` keeps people apart from the helpdesk's `users`.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS account_users (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_credentials (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_credentials_user ON account_credentials(user, created_at);
"#;

fn decode<T: DeserializeOwned>(table: &str, doc: &str) -> Result<T> {
    serde_json::from_str(doc).with_context(|| format!("a stored row of {table} is corrupt"))
}

impl SqliteStore {
    /// Reads one document of `table` by key, lets `change` modify it and writes it back,
    /// inside one IMMEDIATE transaction.
    pub(super) fn update_doc<T: Serialize + DeserializeOwned + Clone>(
        &self,
        table: &str,
        key: (&str, &str),
        change: &mut dyn FnMut(&mut T) -> bool,
    ) -> Result<Option<T>> {
        let mut inner = self.lock();
        let tx = inner
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (column, value) = key;
        let doc: Option<String> = tx
            .query_row(
                &format!("SELECT doc FROM {table} WHERE {column} = ?1"),
                [value],
                |r| r.get(0),
            )
            .optional()?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        let mut item: T = decode(table, &doc)?;
        let stored = item.clone();
        if !change(&mut item) {
            return Ok(Some(stored));
        }
        tx.execute(
            &format!("UPDATE {table} SET doc = ?2 WHERE {column} = ?1"),
            params![value, serde_json::to_string(&item)?],
        )?;
        tx.commit()?;
        Ok(Some(item))
    }
}

impl AccountStore for SqliteStore {
    fn create_user(&self, user: &User) -> StoreResult<bool> {
        call(|| {
            let inner = self.lock();
            let n = inner.conn.execute(
                "INSERT OR IGNORE INTO account_users (name, doc) VALUES (?1, ?2)",
                params![user.name, serde_json::to_string(user)?],
            )?;
            Ok(n == 1)
        })
    }

    fn user(&self, name: &str) -> StoreResult<Option<User>> {
        call(|| {
            let conn = self.read()?;
            let doc: Option<String> = conn
                .prepare_cached("SELECT doc FROM account_users WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode("account_users", &d)).transpose()
        })
    }

    fn users(&self) -> StoreResult<Vec<User>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached("SELECT doc FROM account_users ORDER BY name")?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            docs.iter().map(|d| decode("account_users", d)).collect()
        })
    }

    fn update_user(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut User) -> bool,
    ) -> StoreResult<Option<User>> {
        call(|| self.update_doc("account_users", ("name", name), change))
    }

    fn put_credential(&self, credential: &Credential) -> StoreResult<()> {
        call(|| {
            let inner = self.lock();
            inner.conn.execute(
                "INSERT INTO account_credentials (id, user, created_at, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    credential.id,
                    credential.user,
                    credential.created_at,
                    serde_json::to_string(credential)?
                ],
            )?;
            Ok(())
        })
    }

    fn credential(&self, id: &str) -> StoreResult<Option<Credential>> {
        call(|| {
            let conn = self.read()?;
            let doc: Option<String> = conn
                .prepare_cached("SELECT doc FROM account_credentials WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            doc.map(|d| decode("account_credentials", &d)).transpose()
        })
    }

    fn credentials(&self, user: Option<&str>) -> StoreResult<Vec<Credential>> {
        call(|| {
            let conn = self.read()?;
            let mut stmt = conn.prepare_cached(
                "SELECT doc FROM account_credentials WHERE ?1 IS NULL OR user = ?1 \
                 ORDER BY created_at DESC, id",
            )?;
            let docs = stmt
                .query_map([user], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            docs.iter()
                .map(|d| decode("account_credentials", d))
                .collect()
        })
    }

    fn update_credential(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Credential) -> bool,
    ) -> StoreResult<Option<Credential>> {
        call(|| self.update_doc("account_credentials", ("id", id), change))
    }
}
