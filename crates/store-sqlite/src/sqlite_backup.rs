//! A consistent copy of the database while the service runs: SQLite's online backup
//! API, with audit appends held off until every acknowledged record is in the table.

use super::sqlite::SqliteStore;
use crate::error::{Context, call};
use airlock_core::StoreResult;
use rusqlite::backup::StepResult;
use std::path::Path;

/// Where the audit log stood when a copy was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPoint {
    /// How many records the copy's log holds.
    pub audit_size: u64,
    /// The hash of its last record (empty for an empty log).
    pub head_hash: String,
}

impl SqliteStore {
    /// Copies the whole database to a new file `out`, as of one moment: every audit
    /// record acknowledged by then is in the copy, and so is every change whose record
    /// came first. Appends wait for the copy (helpdesk reads and writes do not); only
    /// the process that appends to the log may take one.
    pub fn backup_to(&self, out: &Path) -> StoreResult<BackupPoint> {
        call(|| {
            self.commit.quiesced(|audit_size, head| {
                let source = self.reader()?;
                let mut copy = rusqlite::Connection::open(out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
                // Every page in one step: one read transaction, so one moment.
                loop {
                    match backup.step(-1)? {
                        StepResult::Done => break,
                        StepResult::More => continue,
                        _ => std::thread::sleep(std::time::Duration::from_millis(10)),
                    }
                }
                Ok(BackupPoint {
                    audit_size,
                    head_hash: head.to_string(),
                })
            })
        })
    }
}
