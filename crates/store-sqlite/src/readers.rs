//! Reader connections: reads never queue behind a write.
//!
//! In WAL mode a reader sees the last committed state while a writer works, so each
//! read takes a read-only connection of its own from a small pool instead of the one
//! writing connection. A read that starts after a write commits sees that write.

use crate::error::{Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Idle reader connections kept open; more may be open at once, and are closed when
/// done. Opening one costs a schema parse and empty statement caches, so the pool keeps
/// about as many as there are workers reading at once.
const IDLE_READERS: usize = 64;

/// A pool of read-only connections to one database file.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A reader, idle or newly opened; it goes back to the pool when dropped.
    pub(crate) fn get(&self) -> Result<Reader<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open(&self.path, 256 << 20)?,
        };
        Ok(Reader {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// Opens a read-only connection that maps up to `mmap_bytes` of the file (reads then
/// find pages in place instead of copying them in).
pub(crate) fn open(path: &Path, mmap_bytes: i64) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open database {}", path.display()))?;
    conn.pragma_update(None, "mmap_size", mmap_bytes)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// A reader connection on loan from [`Readers`].
pub(crate) struct Reader<'a> {
    pool: &'a Readers,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection left inside a transaction (a panic mid-read) is not reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}
