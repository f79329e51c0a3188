//! The audit journal: sealed records written to an append-only file before they are
//! acknowledged. SQLite indexes them afterwards, off the caller's path; after a crash,
//! the journal's records that SQLite lacks are indexed when the log is next opened.

use super::sqlite::Durability;
use crate::audit::{AuditRecord, Decision, JsonFields};
use crate::error::Result;
use crate::error::{Context, Error};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One audit row as stored: `seq`, then the other columns of the audit table, in order,
/// as text (`time` … `hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Row(pub u64, pub [String; 16]);

/// The columns of a sealed record after `seq`, as stored, given the JSON it was sealed
/// with.
pub(super) fn columns<'a>(r: &'a AuditRecord, json: &'a JsonFields) -> [&'a str; 16] {
    let e = &r.entry;
    [
        &r.time,
        &e.installation,
        &e.plugin,
        &e.version,
        &e.invocation,
        &e.event,
        &e.call,
        &e.resource,
        &json.returned,
        &json.withheld,
        e.decision.map_or("", Decision::as_str),
        &e.reason,
        &json.redactions,
        &json.details,
        &r.prev_hash,
        &r.hash,
    ]
}

/// Appends the journal line of one row: the [`Row`] it parses back into.
pub(super) fn encode_line(buf: &mut Vec<u8>, seq: u64, columns: &[&str; 16]) {
    serde_json::to_writer(&mut *buf, &(seq, columns)).expect("strings always serialize");
    buf.push(b'\n');
}

/// The rows of complete journal lines. `Err` names the first line that is not a row,
/// counting from 1.
fn parse_lines(bytes: &[u8]) -> std::result::Result<Vec<Row>, (usize, serde_json::Error)> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| serde_json::from_slice::<Row>(line).map_err(|e| (n + 1, e)))
        .collect()
}

impl Row {
    pub(super) fn hash(&self) -> &str {
        &self.1[15]
    }
}

/// The journal file of one database, locked by the one process that appends to it.
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    sync: bool,
}

impl Journal {
    /// Where the journal of the database at `db` lives: beside it.
    pub(super) fn path_of(db: &Path) -> PathBuf {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push("-audit-journal");
        db.with_file_name(name)
    }

    /// Opens (creating if needed) the journal of the database at `db` and takes its
    /// lock. `Ok(None)` if another process holds it.
    pub(super) fn open(db: &Path, durability: Durability) -> Result<Option<Journal>> {
        let path = Self::path_of(db);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot open the audit journal {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let len = file.metadata()?.len();
        Ok(Some(Journal {
            file,
            path,
            len,
            sync: durability == Durability::Full,
        }))
    }

    /// The rows the journal holds. A last line cut short (a write the process did not
    /// finish, so never acknowledged) is removed from the file.
    pub(super) fn recover(&mut self) -> Result<Vec<Row>> {
        let mut text = Vec::new();
        (&self.file).read_to_end(&mut text)?;
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            self.file.set_len(complete as u64)?;
            self.len = complete as u64;
        }
        match parse_lines(&text[..complete]) {
            Ok(rows) => Ok(rows),
            Err((n, e)) => Err(Error::corrupt(format!(
                "the audit journal {} is damaged at line {n}: {e}. It holds acknowledged \
                 audit records that are not yet indexed: keep a copy, then move it aside \
                 to open the log without them",
                self.path.display(),
            ))),
        }
    }

    /// Appends whole lines ([`encode_line`]) with one write, and syncs them if the
    /// durability asks for it.
    pub(super) fn append(&mut self, buf: &[u8]) -> Result<()> {
        let written = self.file.write_all(buf).and_then(|()| match self.sync {
            true => self.file.sync_data(),
            false => Ok(()),
        });
        if let Err(e) = written {
            // A partial line would run into the next append's first: cut it off.
            let _ = self.file.set_len(self.len);
            return Err(e).with_context(|| {
                format!("cannot write the audit journal {}", self.path.display())
            });
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Bytes written since the journal was last emptied.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Empties the journal, once everything in it is indexed.
    pub(super) fn clear(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .with_context(|| format!("cannot empty the audit journal {}", self.path.display()))?;
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64) -> Row {
        Row(seq, std::array::from_fn(|i| format!("col{i} \"quoted\"\n")))
    }

    fn lines(rows: &[Row]) -> Vec<u8> {
        let mut buf = Vec::new();
        for r in rows {
            encode_line(&mut buf, r.0, &r.1.each_ref().map(String::as_str));
        }
        buf
    }

    #[test]
    fn rows_survive_a_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let mut journal = Journal::open(&db, Durability::Normal).unwrap().unwrap();
        journal.append(&lines(&[row(1), row(2)])).unwrap();
        journal.append(&lines(&[row(3)])).unwrap();
        drop(journal);
        let path = Journal::path_of(&db);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"[4,[\"half").unwrap();
        drop(f);

        let mut journal = Journal::open(&db, Durability::Normal).unwrap().unwrap();
        assert_eq!(journal.recover().unwrap(), vec![row(1), row(2), row(3)]);
        assert_eq!(journal.len(), std::fs::metadata(&path).unwrap().len());
        journal.append(&lines(&[row(4)])).unwrap();
        drop(journal);
        let mut journal = Journal::open(&db, Durability::Normal).unwrap().unwrap();
        assert_eq!(journal.recover().unwrap().len(), 4);
        journal.clear().unwrap();
        assert!(journal.recover().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_line_is_named_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        std::fs::write(Journal::path_of(&db), "[1,[]]\n{\"x\":1}\n").unwrap();
        let mut journal = Journal::open(&db, Durability::Normal).unwrap().unwrap();
        let err = journal.recover().unwrap_err().to_string();
        assert!(err.contains("damaged at line 1"), "{err}");
    }

    #[test]
    fn one_process_at_a_time_holds_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let held = Journal::open(&db, Durability::Normal).unwrap();
        assert!(held.is_some());
        assert!(Journal::open(&db, Durability::Normal).unwrap().is_none());
        drop(held);
        assert!(Journal::open(&db, Durability::Normal).unwrap().is_some());
    }
}
