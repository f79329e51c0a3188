//! Alerts in SQLite: one table, written by the activity monitor.

use super::AlertStore;
use super::sqlite::SqliteStore;
use crate::error::call;
use airlock_core::StoreResult;
use airlock_core::alert::{Alert, AlertQuery, Delivery};
use rusqlite::params;

/// The alerts table.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    rule TEXT NOT NULL,
    installation TEXT NOT NULL,
    plugin TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL,
    trigger_seq INTEGER NOT NULL,
    delivery TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_installation ON alerts(installation, id);
"#;

fn alert_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let details: String = row.get(6)?;
    Ok(Alert {
        id: row.get::<_, i64>(0)? as u64,
        time: row.get(1)?,
        rule: row.get::<_, String>(2)?.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        installation: row.get(3)?,
        plugin: row.get(4)?,
        message: row.get(5)?,
        details: serde_json::from_str(&details).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        trigger_seq: row.get::<_, i64>(7)? as u64,
        delivery: Delivery::from(row.get::<_, String>(8)?),
    })
}

impl AlertStore for SqliteStore {
    fn prune_alerts(&self, before: &str, limit: u32, dry_run: bool) -> StoreResult<u64> {
        call(|| {
            let inner = self.lock();
            let select = "SELECT id FROM alerts WHERE time < ?1 ORDER BY id LIMIT ?2";
            let n = match dry_run {
                true => inner.conn.query_row(
                    &format!("SELECT COUNT(*) FROM ({select})"),
                    params![before, i64::from(limit)],
                    |r| r.get::<_, i64>(0),
                )? as u64,
                false => inner.conn.execute(
                    &format!("DELETE FROM alerts WHERE id IN ({select})"),
                    params![before, i64::from(limit)],
                )? as u64,
            };
            Ok(n)
        })
    }

    fn put_alert(&self, alert: &Alert) -> StoreResult<u64> {
        call(|| {
            let inner = self.lock();
            inner.conn.execute(
            "INSERT INTO alerts (time, rule, installation, plugin, message, details, trigger_seq, delivery) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                alert.time,
                alert.rule.as_str(),
                alert.installation,
                alert.plugin,
                alert.message,
                serde_json::to_string(&alert.details)?,
                alert.trigger_seq as i64,
                alert.delivery.to_string(),
            ],
        )?;
            Ok(inner.conn.last_insert_rowid() as u64)
        })
    }

    fn alerts(&self, query: &AlertQuery) -> StoreResult<Vec<Alert>> {
        call(|| {
            let conn = self.read()?;
            let mut sql = String::from(
                "SELECT id, time, rule, installation, plugin, message, details, trigger_seq, delivery \
             FROM alerts WHERE id > ?1",
            );
            let mut args: Vec<String> = Vec::new();
            let rule = query.rule.map(|r| r.as_str().to_string());
            for (column, op, value) in [
                ("installation", "=", &query.installation),
                ("rule", "=", &rule),
                ("time", ">=", &query.since),
            ] {
                if let Some(value) = value {
                    args.push(value.clone());
                    sql.push_str(&format!(" AND {column} {op} ?{}", args.len() + 1));
                }
            }
            let limit = query.limit.unwrap_or(100).min(10_000);
            sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
            let mut stmt = conn.prepare(&sql)?;
            let after = query.after_id.unwrap_or(0) as i64;
            let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&after];
            for a in &args {
                bound.push(a);
            }
            let rows = stmt.query_map(bound.as_slice(), alert_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn set_alert_delivery(&self, id: u64, delivery: &Delivery) -> StoreResult<()> {
        call(|| {
            self.lock().conn.execute(
                "UPDATE alerts SET delivery = ?2 WHERE id = ?1",
                params![id as i64, delivery.to_string()],
            )?;
            Ok(())
        })
    }
}
