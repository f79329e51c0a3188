//! A prepared statement driven through SQLite's C API directly, for the audit log's two
//! hot loops. The indexer binds each row's text without SQLite copying it, and
//! verification reads each column without rusqlite's per-call type and bounds checks.
//! Everywhere else, rusqlite's statements are the way.

use rusqlite::{Connection, Error, ffi};
use std::ffi::{CStr, CString, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// One prepared statement on a connection it cannot outlive.
pub(super) struct RawStatement<'conn> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    columns: usize,
    _conn: PhantomData<&'conn Connection>,
}

impl<'conn> RawStatement<'conn> {
    /// Prepares one SQL statement.
    pub(super) fn prepare(conn: &'conn Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle stays valid while `conn` is borrowed, which `'conn` ensures.
        let db = unsafe { conn.handle() };
        let sql = CString::new(sql).map_err(Error::NulError)?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is open, `sql` is NUL-terminated, `stmt` receives the statement.
        let rc =
            unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, ptr::null_mut()) };
        check(db, rc)?;
        let stmt = NonNull::new(stmt).ok_or_else(|| {
            Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_MISUSE),
                Some("empty SQL".into()),
            )
        })?;
        // SAFETY: `stmt` was just prepared.
        let columns = unsafe { ffi::sqlite3_column_count(stmt.as_ptr()) } as usize;
        Ok(RawStatement {
            stmt,
            db,
            columns,
            _conn: PhantomData,
        })
    }

    /// Runs the statement once with these parameters (numbered from 1: an integer, then
    /// texts), and leaves it ready to run again. SQLite reads the texts in place.
    pub(super) fn execute(&mut self, first: i64, texts: &[&str]) -> rusqlite::Result<()> {
        let stmt = self.stmt.as_ptr();
        let result = (|| {
            // SAFETY: `stmt` is a live statement; parameter indexes out of range come
            // back as errors. Each text outlives this call, and SQLite reads it only
            // during the step below: the bindings are cleared before returning.
            unsafe {
                check(self.db, ffi::sqlite3_bind_int64(stmt, 1, first))?;
                for (i, text) in texts.iter().enumerate() {
                    let len = c_int::try_from(text.len()).map_err(|_| {
                        Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None)
                    })?;
                    let rc = ffi::sqlite3_bind_text(
                        stmt,
                        i as c_int + 2,
                        text.as_ptr().cast(),
                        len,
                        ffi::SQLITE_STATIC(),
                    );
                    check(self.db, rc)?;
                }
                match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_DONE | ffi::SQLITE_ROW => Ok(()),
                    rc => Err(error(self.db, rc)),
                }
            }
        })();
        // SAFETY: `stmt` is live; these never fail in a way that matters here (reset
        // repeats the step's error, already reported).
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        result
    }

    /// Starts a query with two integer parameters.
    pub(super) fn query(
        &mut self,
        first: i64,
        second: i64,
    ) -> rusqlite::Result<RawRows<'_, 'conn>> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is live; a bad index comes back as an error.
        unsafe {
            ffi::sqlite3_reset(stmt);
            check(self.db, ffi::sqlite3_bind_int64(stmt, 1, first))?;
            check(self.db, ffi::sqlite3_bind_int64(stmt, 2, second))?;
        }
        Ok(RawRows {
            statement: self,
            done: false,
        })
    }
}

impl Drop for RawStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// The rows of a running query.
pub(super) struct RawRows<'s, 'conn> {
    statement: &'s mut RawStatement<'conn>,
    /// The last row was passed: SQLite would start the query over on another step.
    done: bool,
}

impl<'conn> RawRows<'_, 'conn> {
    /// Steps to the next row and lends it until the next step: `Ok(None)` after the
    /// last. Columns can only be read through the row, so never without a current one.
    pub(super) fn advance(&mut self) -> rusqlite::Result<Option<RawRow<'_, 'conn>>> {
        if self.done {
            return Ok(None);
        }
        // SAFETY: the statement is live and its parameters are bound.
        match unsafe { ffi::sqlite3_step(self.statement.stmt.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(Some(RawRow {
                statement: self.statement,
            })),
            ffi::SQLITE_DONE => {
                self.done = true;
                Ok(None)
            }
            rc => {
                self.done = true;
                Err(error(self.statement.db, rc))
            }
        }
    }
}

/// The current row of a query: valid until the next step, which its borrow of the rows
/// ensures.
pub(super) struct RawRow<'r, 'conn> {
    statement: &'r RawStatement<'conn>,
}

impl RawRow<'_, '_> {
    /// Column `i` as an integer.
    pub(super) fn int(&self, i: usize) -> i64 {
        assert!(
            i < self.statement.columns,
            "column {i} is not in the result"
        );
        // SAFETY: the statement is on a row (a `RawRow` exists only between a step that
        // returned a row and the next step) and `i` is one of its columns.
        unsafe { ffi::sqlite3_column_int64(self.statement.stmt.as_ptr(), i as c_int) }
    }

    /// Column `i` as bytes (text as stored; empty for NULL). Valid until the next step,
    /// which the borrow ensures.
    pub(super) fn bytes(&self, i: usize) -> &[u8] {
        assert!(
            i < self.statement.columns,
            "column {i} is not in the result"
        );
        let stmt = self.statement.stmt.as_ptr();
        // SAFETY: as in `int`. Text is asked for before its length, as SQLite's docs
        // prescribe, and the pointer stays valid until the row changes.
        unsafe {
            let text = ffi::sqlite3_column_text(stmt, i as c_int);
            let len = ffi::sqlite3_column_bytes(stmt, i as c_int) as usize;
            match text.is_null() {
                true => &[],
                false => std::slice::from_raw_parts(text, len),
            }
        }
    }
}

impl Drop for RawRows<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live; resetting ends the read transaction.
        unsafe {
            ffi::sqlite3_reset(self.statement.stmt.as_ptr());
        }
    }
}

fn check(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Result<()> {
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(error(db, rc)),
    }
}

#[cold]
fn error(db: *mut ffi::sqlite3, rc: c_int) -> Error {
    // SAFETY: `db` is open; the message is copied before any other call.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(db);
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    Error::SqliteFailure(ffi::Error::new(rc), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_go_in_and_come_back_byte_for_byte() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)")
            .unwrap();
        let mut insert = RawStatement::prepare(&conn, "INSERT INTO t VALUES (?1, ?2, ?3)").unwrap();
        for id in 1..=3 {
            let a = format!("row {id} ✓");
            insert.execute(id, &[&a, ""]).unwrap();
        }
        let err = insert.execute(1, &["dup", "x"]).unwrap_err().to_string();
        assert!(err.contains("UNIQUE"), "{err}");
        let err = insert.execute(9, &["too", "many", "texts"]).unwrap_err();
        assert!(err.to_string().contains("range"), "{err}");
        drop(insert);

        let mut select =
            RawStatement::prepare(&conn, "SELECT id, a, b FROM t WHERE id >= ?1 AND id < ?2")
                .unwrap();
        let mut rows = select.query(2, 10).unwrap();
        let mut seen = Vec::new();
        while let Some(row) = rows.advance().unwrap() {
            seen.push((row.int(0), row.bytes(1).to_vec(), row.bytes(2).len()));
        }
        assert!(rows.advance().unwrap().is_none(), "done stays done");
        assert_eq!(
            seen,
            vec![
                (2, "row 2 ✓".as_bytes().to_vec(), 0),
                (3, "row 3 ✓".as_bytes().to_vec(), 0)
            ]
        );
        let err = RawStatement::prepare(&conn, "SELECT nope FROM t")
            .err()
            .unwrap();
        assert!(err.to_string().contains("no such column"), "{err}");
    }
}
