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

/// Copies the database behind `source` to a new file `out` as of one moment: every page
/// in one step of SQLite's online backup API, so one read transaction.
fn copy(source: &rusqlite::Connection, out: &Path) -> crate::error::Result<()> {
    let mut copy = rusqlite::Connection::open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let backup = rusqlite::backup::Backup::new(source, &mut copy)?;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => continue,
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// Copies the database file `db` (which another process may be writing) to a new file
/// `out` as of one moment, through a read-only connection: a scratch copy, without the
/// audit log's guarantees of [`SqliteStore::backup_to`].
pub fn copy_database(db: &Path, out: &Path) -> StoreResult<()> {
    call(|| {
        let source =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("cannot open {}", db.display()))?;
        copy(&source, out)
    })
}

impl SqliteStore {
    /// Copies the whole database to a new file `out`, as of one moment: every audit
    /// record acknowledged by then is in the copy, and so is every change whose record
    /// came first. Appends wait for the copy (helpdesk reads and writes do not); only
    /// the process that appends to the log may take one.
    pub fn backup_to(&self, out: &Path) -> StoreResult<BackupPoint> {
        call(|| {
            self.commit.quiesced(|audit_size, head| {
                copy(&self.reader()?, out)?;
                Ok(BackupPoint {
                    audit_size,
                    head_hash: head.to_string(),
                })
            })
        })
    }
}
