//! Work that follows the audit log off the request path: the activity monitor's
//! bookkeeping and checkpoint signing.
//!
//! An invocation hands its sealed records to the [`Follower`] and returns; one thread
//! feeds them to the monitor (which applies each record once, in sequence order, however
//! the batches arrive) and signs a checkpoint whenever [`Checkpoints::every`] records
//! were appended since the last one. The hand-off is a bounded channel: when the thread
//! falls behind, invocations wait for room rather than records being dropped.

use crate::checkpoint::{Checkpoint, Signer25519};
use crate::monitor::Monitor;
use crate::store::{AuditStore, SqliteStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

/// How many batches may wait for the follower before invocations wait for it.
const BACKLOG: usize = 4096;
/// How long records may wait behind a gap no batch fills before the monitor reads the
/// gap from the store.
const STALL: Duration = Duration::from_secs(1);

/// The signer, and when the log was last signed.
pub struct Checkpoints {
    store: Arc<SqliteStore>,
    signer: Signer25519,
    every: u64,
    last: AtomicU64,
}

impl Checkpoints {
    /// Signs a checkpoint after every `every` records, continuing from the last stored.
    pub fn new(store: Arc<SqliteStore>, signer: Signer25519, every: u64) -> anyhow::Result<Self> {
        let last = store.latest_checkpoint()?.map_or(0, |c| c.size);
        Ok(Checkpoints {
            store,
            signer,
            every: every.max(1),
            last: last.into(),
        })
    }

    /// The signer (its public key is `airlock audit key`).
    pub fn signer(&self) -> &Signer25519 {
        &self.signer
    }

    /// How many records a signed checkpoint covers at most beyond the last one.
    pub fn every(&self) -> u64 {
        self.every
    }

    /// Signs and stores a checkpoint of the log as it is now.
    pub fn sign(&self) -> anyhow::Result<Checkpoint> {
        let cp = crate::integrity::checkpoint(self.store.as_ref(), &self.signer)?;
        self.last.fetch_max(cp.size, Ordering::Relaxed);
        Ok(cp)
    }

    /// Signs a checkpoint when any record was appended since the last one.
    pub fn sign_if_new(&self) -> anyhow::Result<Option<Checkpoint>> {
        match self.store.log_size()? > self.last.load(Ordering::Relaxed) {
            true => Ok(Some(self.sign()?)),
            false => Ok(None),
        }
    }

    /// Signs a checkpoint when [`Checkpoints::every`] records were appended since the
    /// last one.
    pub fn sign_if_due(&self) -> anyhow::Result<Option<Checkpoint>> {
        match self.store.log_size()? >= self.last.load(Ordering::Relaxed) + self.every {
            true => Ok(Some(self.sign()?)),
            false => Ok(None),
        }
    }
}

/// The hand-off to the follower thread; dropping it drains what is queued and stops it.
pub struct Follower {
    sender: Option<SyncSender<Vec<crate::audit::AuditRecord>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Starts the follower thread.
    pub fn spawn(monitor: Arc<Monitor>, checkpoints: Arc<Checkpoints>) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(BACKLOG);
        let thread = std::thread::Builder::new()
            .name("audit-follower".into())
            .spawn(move || follow(&receiver, &monitor, &checkpoints))?;
        Ok(Follower {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Hands sealed records to the monitor and the checkpoint signer, waiting for room
    /// when the follower is [`BACKLOG`] batches behind.
    pub fn follow(&self, records: Vec<crate::audit::AuditRecord>) {
        if records.is_empty() {
            return;
        }
        if let Some(sender) = &self.sender
            && sender.send(records).is_err()
        {
            tracing::error!("the audit follower stopped; the monitor will catch up from the log");
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn follow(
    receiver: &Receiver<Vec<crate::audit::AuditRecord>>,
    monitor: &Monitor,
    checkpoints: &Checkpoints,
) {
    loop {
        match receiver.recv_timeout(STALL) {
            Ok(records) => {
                observe(monitor, &records);
                // Sign once the queue is drained, not once per batch.
                while let Ok(records) = receiver.try_recv() {
                    observe(monitor, &records);
                }
                sign_if_due(checkpoints);
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = monitor.catch_up_stalled() {
                    tracing::warn!(error = %format!("{e:#}"), "the activity monitor could not catch up with the log");
                }
                sign_if_due(checkpoints);
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn observe(monitor: &Monitor, records: &[crate::audit::AuditRecord]) {
    if let Err(e) = monitor.observe(records) {
        tracing::warn!(error = %format!("{e:#}"), "the activity monitor could not process records");
    }
}

fn sign_if_due(checkpoints: &Checkpoints) {
    if let Err(e) = checkpoints.sign_if_due() {
        tracing::error!(error = %format!("{e:#}"), "cannot sign an audit checkpoint");
    }
}
