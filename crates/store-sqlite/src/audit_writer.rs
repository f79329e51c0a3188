//! Appending to the audit log: group commit into the journal, then indexing into SQLite
//! on a thread of its own.
//!
//! An append is acknowledged once its records are in the journal (and synced, with
//! [`Durability::Full`]). The indexer inserts them into the audit table in large
//! transactions behind it; readers of the log first wait until it has caught up, so they
//! see every acknowledged record.

use super::audit_journal::{Journal, Row, columns, encode_line};
use super::audit_table::{Rows, insert_rows};
use super::group_commit::{Queue, relock};
use super::sqlite::Durability;
use crate::audit::{self, AuditEntry, AuditRecord, JsonFields};
use crate::error::Error;
use crate::error::Result;
use crate::merkle::{Frontier, Hash, leaf_hash};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The most batches written in one group.
const MAX_JOBS_PER_COMMIT: usize = 4096;
/// The most acknowledged records waiting to be indexed; appends wait beyond it.
const MAX_BACKLOG: usize = 32_768;
/// The journal is emptied once it is past this size and wholly indexed.
const JOURNAL_LIMIT: u64 = 32 << 20;
/// After waking, the indexer waits up to this long for more rows to index in the same
/// transaction, unless it has [`GATHER_ROWS`] already or someone waits for it.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);
/// The indexer connection's page cache, in KiB. Any other connection's commit (every
/// helpdesk write) makes SQLite reset this whole cache at the indexer's next
/// transaction, at a cost in proportion to the cache's size: 64 MiB cost the event path
/// about 5% of its CPU once the log had grown to 1M records. The indexer's transactions
/// touch the b-trees' right edges, which fit in far less.
const INDEXER_CACHE_KIB: u32 = 8 << 10;
/// Enough rows for one transaction: the indexer does not wait for more.
const GATHER_ROWS: usize = 1024;

/// The chain's head and Merkle frontier, as of the last acknowledged append.
#[derive(Clone, Default)]
pub(super) struct Chain {
    pub(super) head: Option<(u64, String)>,
    pub(super) frontier: Frontier,
}

impl Chain {
    /// Appends a record, given its hash as text and as bytes.
    fn push(&mut self, seq: u64, hash: &str, digest: &Hash) {
        self.frontier.push(leaf_hash(digest));
        match &mut self.head {
            // The head's text is rewritten in place: no allocation per record.
            Some((head_seq, head)) => {
                *head_seq = seq;
                head.clear();
                head.push_str(hash);
            }
            None => self.head = Some((seq, hash.to_string())),
        }
    }

    /// Appends a record, given its hash as stored.
    fn push_stored(&mut self, seq: u64, hash: &str) {
        self.push(seq, hash, &decode_hash(hash));
    }

    fn last_seq(&self) -> u64 {
        self.head.as_ref().map_or(0, |(seq, _)| *seq)
    }
}

/// What the writer slot is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reading the log: the journal is not taken.
    Read,
    /// Changing it (append, prune): the journal is taken, if no other process holds it.
    Append,
}

/// One caller's batch, encoded.
type Batch = Vec<(AuditEntry, JsonFields)>;

/// One queued batch's outcome.
type JobResult = std::result::Result<Vec<AuditRecord>, airlock_core::StoreError>;

/// The appending side, once loaded: the chain, and the journal with its indexer if this
/// process holds the journal.
struct Writer {
    appender: Option<(Journal, Indexer)>,
    journal_path: PathBuf,
    chain: Chain,
    /// The time of the last record: a record is never sealed with an earlier one, even
    /// if the clock steps back, so that times never decrease along the log.
    last_time: String,
}

/// The audit log's appends, in group commits ([`Queue`]): a leader writes every queued
/// batch to the journal with one write and one sync.
pub(crate) struct GroupCommit {
    path: PathBuf,
    durability: Durability,
    queue: Queue<Batch, JobResult>,
    /// Loaded on first use: opening recovers what a crash left in the journal.
    writer: Mutex<Option<Writer>>,
    /// The log's size after this process's last append (0 before its first), so that
    /// asking for it (the checkpoint signer does, after every batch it follows) never
    /// takes the writer from a leader: a caller that finds the writer taken by someone
    /// else waits [`group_commit`](super::group_commit)'s retry interval.
    appended: std::sync::atomic::AtomicU64,
}

impl GroupCommit {
    pub(crate) fn new(path: &Path, durability: Durability) -> GroupCommit {
        GroupCommit {
            path: path.to_path_buf(),
            durability,
            queue: Queue::new(MAX_JOBS_PER_COMMIT),
            writer: Mutex::new(None),
            appended: Default::default(),
        }
    }

    /// The writer slot, loaded: the chain read from SQLite and, for `Use::Append`, the
    /// journal taken (locked), with its records that SQLite lacks indexed first.
    ///
    /// Readers never take the journal: a process that only reads (an export, a verify)
    /// must not stop the service from appending. A slot loaded for reading is loaded
    /// again, taking the journal, the first time this process appends.
    fn loaded<'a>(&self, slot: &'a mut Option<Writer>, purpose: Use) -> Result<&'a mut Writer> {
        let upgrade = purpose == Use::Append && slot.as_ref().is_some_and(|w| w.appender.is_none());
        if upgrade {
            *slot = None;
        }
        if slot.is_none() {
            let mut conn = super::sqlite::connect(&self.path, self.durability)?;
            let mut chain = load_chain(&conn)?;
            let mut journal = match purpose {
                Use::Append => Journal::open(&self.path, self.durability)?,
                Use::Read => None,
            };
            if let Some(journal) = &mut journal {
                let newer: Vec<Row> = journal
                    .recover()?
                    .into_iter()
                    .filter(|r| r.0 > chain.last_seq())
                    .collect();
                check_continuity(&chain, &newer, &Journal::path_of(&self.path))?;
                insert_rows(&mut conn, &[Rows::from(newer.as_slice())])?;
                for row in &newer {
                    chain.push_stored(row.0, row.hash());
                }
                journal.clear()?;
            }
            let last_time: String = conn
                .query_row(
                    "SELECT time FROM audit ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or_default();
            let appender = match journal {
                Some(journal) => Some((journal, Indexer::start(conn, chain.last_seq())?)),
                None => None,
            };
            *slot = Some(Writer {
                appender,
                journal_path: Journal::path_of(&self.path),
                chain,
                last_time,
            });
        }
        Ok(slot.as_mut().expect("loaded"))
    }

    pub(super) fn append(&self, entries: Vec<AuditEntry>) -> Result<Vec<AuditRecord>> {
        // Encoding happens here, on the caller's thread, not in the writer's turn.
        let entries = entries
            .into_iter()
            .map(|e| {
                let json = JsonFields::of(&e);
                (e, json)
            })
            .collect();
        self.queue
            .submit(entries, &self.writer, |slot, batches| {
                let n = batches.len();
                let written = self.loaded(slot, Use::Append).and_then(|w| {
                    let results = w.write(batches)?;
                    self.appended.store(
                        w.chain.frontier.size(),
                        std::sync::atomic::Ordering::Release,
                    );
                    Ok(results)
                });
                match written {
                    Ok(results) => results.into_iter().map(Ok).collect(),
                    Err(e) => (0..n).map(|_| Err(e.0.shared())).collect(),
                }
            })
            .ok_or_else(|| Error::failed("the audit writer stopped"))?
            .map_err(|e| Error(e.context("cannot append to the audit log")))
    }

    /// The chain as of the last acknowledged append.
    pub(super) fn chain(&self) -> Result<Chain> {
        let mut slot = relock(&self.writer);
        Ok(self.loaded(&mut slot, Use::Read)?.chain.clone())
    }

    /// How many records were ever appended.
    pub(super) fn log_size(&self) -> Result<u64> {
        match self.appended.load(std::sync::atomic::Ordering::Acquire) {
            0 => {}
            size => return Ok(size),
        }
        let mut slot = relock(&self.writer);
        Ok(self.loaded(&mut slot, Use::Read)?.chain.frontier.size())
    }

    /// Fails unless this process may change the log: appends and pruning happen in the
    /// one process that holds the journal.
    pub(super) fn ensure_appender(&self) -> Result<()> {
        let mut slot = relock(&self.writer);
        self.loaded(&mut slot, Use::Append)?.appender()
    }

    /// Runs `f` with appends held off and every acknowledged record in the audit table,
    /// given the log's size and head hash: a copy of the database taken in `f` holds
    /// the whole log as acknowledged. Only in the process that appends.
    pub(super) fn quiesced<T>(&self, f: impl FnOnce(u64, &str) -> Result<T>) -> Result<T> {
        let mut slot = relock(&self.writer);
        let writer = self.loaded(&mut slot, Use::Append)?;
        let Some((_, indexer)) = &writer.appender else {
            return Err(not_appender(&writer.journal_path));
        };
        let last = writer.chain.last_seq();
        wait_indexed(&indexer.shared, last)?;
        let head = writer.chain.head.as_ref().map_or("", |(_, h)| h.as_str());
        f(last, head)
    }

    /// Waits until every record acknowledged so far is in the audit table.
    pub(super) fn settle(&self) -> Result<()> {
        let (indexer, last) = {
            let mut slot = relock(&self.writer);
            let writer = self.loaded(&mut slot, Use::Read)?;
            match &writer.appender {
                // Another process appends; the table holds what it has indexed.
                None => return Ok(()),
                Some((_, indexer)) => (indexer.shared.clone(), writer.chain.last_seq()),
            }
        };
        wait_indexed(&indexer, last)
    }
}

impl Writer {
    /// Fails unless this process holds the journal, and so may change the log.
    fn appender(&self) -> Result<()> {
        match self.appender {
            Some(_) => Ok(()),
            None => Err(not_appender(&self.journal_path)),
        }
    }

    /// Seals every batch, writes them to the journal, and hands them to the indexer.
    fn write(
        &mut self,
        batches: Vec<Vec<(AuditEntry, JsonFields)>>,
    ) -> Result<Vec<Vec<AuditRecord>>> {
        let Some((journal, indexer)) = &mut self.appender else {
            return Err(not_appender(&self.journal_path));
        };
        indexer.wait_backlog()?;
        let time = audit::now_rfc3339().max(self.last_time.clone());
        let mut chain = self.chain.clone();
        let mut lines = Vec::new();
        let mut rows = Rows::default();
        let mut results = Vec::with_capacity(batches.len());
        for entries in batches {
            let mut sealed = Vec::with_capacity(entries.len());
            for (entry, json) in entries {
                let prev = chain.head.as_ref().map(|(s, h)| (*s, h.as_str()));
                let (r, digest) = audit::seal_with_digest(prev, time.clone(), entry, &json);
                chain.push(r.seq, &r.hash, &digest);
                let columns = columns(&r, &json);
                encode_line(&mut lines, r.seq, &columns);
                rows.push(r.seq, &columns);
                sealed.push(r);
            }
            results.push(sealed);
        }
        journal.append(&lines)?;
        // Acknowledged from here on: what follows must not fail the append.
        self.chain = chain;
        self.last_time = time;
        indexer.push(rows);
        if journal.len() > JOURNAL_LIMIT {
            let emptied =
                wait_indexed(&indexer.shared, self.chain.last_seq()).and_then(|()| journal.clear());
            if let Err(e) = emptied {
                tracing::warn!(error = %format!("{e:#}"), "the audit journal stays full for now");
            }
        }
        Ok(results)
    }
}

/// The journal's records must continue the stored log exactly: each the next sequence
/// number, each chained to the one before. Recovery refuses anything else (lines
/// swapped, dropped or inserted) rather than acknowledge records that can never be
/// indexed, or index them out of order.
fn check_continuity(chain: &Chain, rows: &[Row], journal: &Path) -> Result<()> {
    let (mut seq, mut prev) = match &chain.head {
        Some((seq, hash)) => (*seq, hash.as_str()),
        None => (0, crate::audit::GENESIS_HASH),
    };
    for row in rows {
        if row.0 != seq + 1 || row.1[14] != prev {
            return Err(Error::corrupt(format!(
                "the audit journal {} does not continue the log at record {}: its lines are \
                 out of order or altered. Keep a copy, then move it aside to open the log \
                 without them, and run `airlock audit verify`",
                journal.display(),
                seq + 1
            )));
        }
        seq = row.0;
        prev = row.hash();
    }
    Ok(())
}

fn not_appender(journal: &Path) -> Error {
    Error::transient(format!(
        "another airlock process has this audit log open (its journal {} is locked); \
         append or prune through that process, or stop it first",
        journal.display()
    ))
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        let slot = self.writer.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(Writer {
            appender: Some((mut journal, indexer)),
            chain,
            ..
        }) = slot.take()
        {
            let indexed = wait_indexed(&indexer.shared, chain.last_seq()).is_ok();
            drop(indexer);
            if indexed {
                let _ = journal.clear();
            }
        }
    }
}

/// What the indexer and the writer share.
struct Shared {
    state: Mutex<IndexState>,
    changed: Condvar,
}

#[derive(Default)]
struct IndexState {
    /// Acknowledged rows not yet in the table, in order, as appended.
    pending: Vec<Rows>,
    /// How many rows `pending` holds.
    pending_rows: usize,
    /// The last sequence number in the table.
    indexed: u64,
    /// Why the last attempt to index failed, until one succeeds.
    error: Option<String>,
    /// The indexer sleeps until rows arrive, and needs waking.
    idle: bool,
    /// Someone waits for the indexer: no gathering.
    hurry: bool,
    stop: bool,
}

/// The thread that inserts acknowledged rows into the audit table.
struct Indexer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Indexer {
    fn start(mut conn: Connection, indexed: u64) -> Result<Indexer> {
        // Big transactions: a page cache that holds them without spilling to the WAL
        // midway, and checkpoints every 32 MiB of WAL rather than every 4 MiB.
        conn.pragma_update(None, "cache_size", -(INDEXER_CACHE_KIB as i64))?;
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(IndexState {
                indexed,
                ..Default::default()
            }),
            changed: Condvar::new(),
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("audit-indexer".into())
            .spawn(move || index_loop(&mut conn, &theirs))
            .expect("the audit indexer thread starts");
        Ok(Indexer {
            shared,
            thread: Some(thread),
        })
    }

    /// Hands over acknowledged rows.
    fn push(&self, rows: Rows) {
        let mut state = relock(&self.shared.state);
        let before = state.pending_rows;
        state.pending_rows += rows.len();
        state.pending.push(rows);
        // Waking a thread costs the appender a system call: only when the indexer
        // sleeps, or has gathered enough.
        let wake = state.idle || (before < GATHER_ROWS && state.pending_rows >= GATHER_ROWS);
        drop(state);
        if wake {
            self.shared.changed.notify_all();
        }
    }

    /// Waits while the backlog is full.
    fn wait_backlog(&self) -> Result<()> {
        let mut state = relock(&self.shared.state);
        while state.pending_rows >= MAX_BACKLOG {
            if let Some(e) = &state.error {
                return Err(Error::transient(format!(
                    "the audit index is not keeping up: {e}"
                )));
            }
            state = rewait(&self.shared.changed, state);
        }
        Ok(())
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        relock(&self.shared.state).stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until the table holds every record through `seq`.
fn wait_indexed(shared: &Shared, seq: u64) -> Result<()> {
    let mut state = relock(&shared.state);
    while state.indexed < seq {
        if let Some(e) = &state.error {
            return Err(Error::transient(format!(
                "the audit index is behind the journal: {e}"
            )));
        }
        state.hurry = true;
        shared.changed.notify_all();
        state = rewait(&shared.changed, state);
    }
    Ok(())
}

fn index_loop(conn: &mut Connection, shared: &Shared) {
    loop {
        let batches = {
            let mut state = relock(&shared.state);
            while state.pending.is_empty() && !state.stop {
                state.idle = true;
                state = rewait(&shared.changed, state);
                state.idle = false;
            }
            if state.pending.is_empty() {
                return;
            }
            if state.pending_rows < GATHER_ROWS && !state.hurry && !state.stop {
                // Appends arriving meanwhile join this transaction.
                state = shared
                    .changed
                    .wait_timeout(state, GATHER)
                    .map_or_else(|p| p.into_inner().0, |(s, _)| s);
            }
            state.hurry = false;
            state.pending_rows = 0;
            std::mem::take(&mut state.pending)
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            insert_rows(conn, &batches)?;
            Ok(batches.last().and_then(Rows::last_seq))
        }))
        .unwrap_or_else(|_| Err(Error::failed("the audit indexer panicked")));
        let mut state = relock(&shared.state);
        match result {
            Ok(last) => {
                state.indexed = last.unwrap_or(state.indexed);
                state.error = None;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot index audit records; retrying");
                state.error = Some(format!("{e:#}"));
                state.pending_rows += batches.iter().map(Rows::len).sum::<usize>();
                let later = std::mem::replace(&mut state.pending, batches);
                state.pending.extend(later);
            }
        }
        let failed = state.error.is_some();
        let stop = state.stop;
        drop(state);
        shared.changed.notify_all();
        if failed {
            if stop {
                // The rows stay in the journal; the next open indexes them.
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

fn load_chain(conn: &Connection) -> Result<Chain> {
    let mut chain = Chain::default();
    let mut stmt = conn.prepare(
        "SELECT seq, hash FROM audit_pruned UNION ALL SELECT seq, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (seq, hash): (i64, String) = (row.get(0)?, row.get(1)?);
        chain.push_stored(seq as u64, &hash);
    }
    Ok(chain)
}

fn rewait<'a, T>(c: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    c.wait(guard).unwrap_or_else(|p| p.into_inner())
}

fn decode_hash(hex_text: &str) -> Hash {
    let mut out = [0u8; 32];
    // A non-hex (tampered) hash still yields a leaf; verification reports the row.
    if hex::decode_to_slice(hex_text, &mut out).is_err() {
        out = crate::merkle::leaf_hash(hex_text.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditStore, SqliteStore};

    fn entry(resource: &str) -> AuditEntry {
        AuditEntry {
            installation: "inst".into(),
            call: "helpdesk.get-ticket".into(),
            resource: resource.into(),
            decision: Some(crate::audit::Decision::Allow),
            ..Default::default()
        }
    }

    #[test]
    fn records_only_in_the_journal_are_indexed_when_the_log_is_next_opened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let store = SqliteStore::open(&db).unwrap();
        let indexed = store.append(vec![entry("t-1"), entry("t-2")]).unwrap();
        drop(store);
        assert_eq!(std::fs::metadata(Journal::path_of(&db)).unwrap().len(), 0);

        // A process acknowledged records 3 and 4, then died before indexing them; record
        // 2 was indexed, but the journal had not been emptied yet.
        let mut lines = Vec::new();
        encode_line(
            &mut lines,
            indexed[1].seq,
            &columns(&indexed[1], &JsonFields::of(&indexed[1].entry)),
        );
        let mut prev = indexed[1].clone();
        for resource in ["t-3", "t-4"] {
            let e = entry(resource);
            let json = JsonFields::of(&e);
            let r = audit::seal_encoded(Some((prev.seq, &prev.hash)), prev.time.clone(), e, &json);
            encode_line(&mut lines, r.seq, &columns(&r, &json));
            prev = r;
        }
        let mut journal = Journal::open(&db, Durability::Full).unwrap().unwrap();
        journal.append(&lines).unwrap();
        drop(journal);

        let store = SqliteStore::open(&db).unwrap();
        // Reading alone (a verify, an export) does not touch the journal: issue 14 found
        // verify re-indexing it, restoring rows an attacker had deleted. The appender
        // indexes it.
        let journal_len = std::fs::metadata(Journal::path_of(&db)).unwrap().len();
        assert_eq!(store.count_audit().unwrap(), 2);
        crate::integrity::verify(&store, &Default::default())
            .unwrap()
            .unwrap();
        assert_eq!(store.count_audit().unwrap(), 2);
        let len = std::fs::metadata(Journal::path_of(&db)).unwrap().len();
        assert_eq!(len, journal_len, "the journal is as the reader found it");
        store.claim().unwrap();
        assert_eq!(store.count_audit().unwrap(), 4);
        let (size, _, last) = store.merkle_head().unwrap();
        assert_eq!((size, last), (4, prev.hash.clone()));
        crate::integrity::verify(&store, &Default::default())
            .unwrap()
            .unwrap();
        let next = store.append(vec![entry("t-5")]).unwrap();
        assert_eq!(
            (next[0].seq, next[0].prev_hash.as_str()),
            (5, prev.hash.as_str())
        );
    }

    /// Issue 14: recovery trusted the journal's line order, so two swapped lines made the
    /// service acknowledge records that could never be indexed.
    #[test]
    fn a_journal_whose_lines_do_not_continue_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let store = SqliteStore::open(&db).unwrap();
        let indexed = store.append(vec![entry("t-1")]).unwrap();
        drop(store);
        let mut prev = indexed[0].clone();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for resource in ["t-2", "t-3"] {
            let e = entry(resource);
            let json = JsonFields::of(&e);
            let r = audit::seal_encoded(Some((prev.seq, &prev.hash)), prev.time.clone(), e, &json);
            let mut line = Vec::new();
            encode_line(&mut line, r.seq, &columns(&r, &json));
            lines.push(line);
            prev = r;
        }
        lines.swap(0, 1);
        let mut journal = Journal::open(&db, Durability::Full).unwrap().unwrap();
        journal.append(&lines.concat()).unwrap();
        drop(journal);

        let store = SqliteStore::open(&db).unwrap();
        let err = store.claim().unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        let err = store.append(vec![entry("t-4")]).unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        assert!(
            err.to_string()
                .contains("does not continue the log at record 2"),
            "{err}"
        );
        assert_eq!(
            store.count_audit().unwrap(),
            1,
            "nothing out of order was indexed"
        );
    }

    /// Issue 14: a process that only read the log (an export during a restart) took the
    /// journal, and the service started beside it could never append.
    #[test]
    fn a_reader_never_takes_the_journal_from_the_appender() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        SqliteStore::open(&db)
            .unwrap()
            .append(vec![entry("t-1")])
            .unwrap();
        let reader = SqliteStore::open(&db).unwrap();
        assert_eq!(reader.count_audit().unwrap(), 1);
        reader.query(&Default::default()).unwrap();
        let service = SqliteStore::open(&db).unwrap();
        service.claim().unwrap();
        service.append(vec![entry("t-2")]).unwrap();
        assert_eq!(service.count_audit().unwrap(), 2, "indexed");
        assert_eq!(
            reader.count_audit().unwrap(),
            2,
            "the reader sees what was indexed"
        );
        let err = reader.append(vec![entry("t-3")]).unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[test]
    fn a_second_opener_reads_but_cannot_append() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("airlock.db");
        let owner = SqliteStore::open(&db).unwrap();
        owner.append(vec![entry("t-1")]).unwrap();
        assert_eq!(owner.count_audit().unwrap(), 1, "indexed");
        let other = SqliteStore::open(&db).unwrap();
        assert_eq!(other.count_audit().unwrap(), 1);
        let err = other.append(vec![entry("t-2")]).unwrap_err().to_string();
        assert!(err.contains("another airlock process"), "{err}");
        assert!(err.contains("airlock.db-audit-journal"), "{err}");
        let err = other.prune_through(1).unwrap_err().to_string();
        assert!(err.contains("another airlock process"), "{err}");
        owner.append(vec![entry("t-2")]).unwrap();
        assert_eq!(owner.count_audit().unwrap(), 2);
    }
}
