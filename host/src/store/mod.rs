//! Storage behind narrow traits: helpdesk data, installations and the audit log.
//!
//! [`SqliteStore`] (embedded SQLite) is the default. Each trait is small so that a
//! PostgreSQL backend for several hosts can implement the same three.

mod audit_blocks;
mod audit_journal;
mod audit_table;
mod audit_writer;
mod raw_statement;
mod sqlite;
mod sqlite_alerts;
mod sqlite_audit;

pub use sqlite::{Durability, SqliteStore};

use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::installation::Installation;
use crate::model::{FieldLabel, Kind, Record};

/// Errors from a store, without data values.
pub type StoreResult<T> = anyhow::Result<T>;

/// How to select tickets in a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketQuery {
    /// Tickets of this requester id.
    Requester(String),
    /// Tickets with this tag.
    Tag(String),
    /// Tickets with this status.
    Status(String),
}

/// Helpdesk records: tickets, users, organizations and comments.
pub trait HelpdeskStore: Send + Sync {
    /// One record by kind and id.
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Record>>;
    /// Inserts or replaces records, all in one transaction.
    fn put_many(&self, records: &[(Kind, String, Record)]) -> StoreResult<()> {
        self.put_labeled(records, &[])
    }
    /// Inserts or replaces records and adds information-flow labels to their fields, all
    /// in one transaction, so no value a plugin wrote is ever stored without the flows it
    /// carries. Labels are kept beside the records: the records themselves (what the
    /// helpdesk sees) are unchanged. Labels only accumulate.
    fn put_labeled(
        &self,
        records: &[(Kind, String, Record)],
        labels: &[FieldLabel],
    ) -> StoreResult<()>;
    /// The labels stored on the fields of these records.
    fn labels(&self, records: &[(Kind, String)]) -> StoreResult<Vec<FieldLabel>>;
    /// Up to `limit` comments of a ticket, oldest first.
    fn comments(&self, ticket_id: &str, limit: u32) -> StoreResult<Vec<Record>>;
    /// Up to `limit` tickets matching the query, newest first.
    fn search_tickets(&self, query: &TicketQuery, limit: u32) -> StoreResult<Vec<Record>>;
    /// How many records of a kind are stored.
    fn count(&self, kind: Kind) -> StoreResult<u64>;
    /// Up to `limit` records of a kind with ids after `after_id`, by id (for scans that
    /// must not hold a whole table in memory).
    fn page(&self, kind: Kind, after_id: &str, limit: u32) -> StoreResult<Vec<(String, Record)>>;
}

/// Installations and their grants and settings.
pub trait InstallationStore: Send + Sync {
    /// Inserts or replaces an installation.
    fn put_installation(&self, installation: &Installation) -> StoreResult<()>;
    /// One installation by id.
    fn installation(&self, id: &str) -> StoreResult<Option<Installation>>;
    /// All installations, by id.
    fn installations(&self) -> StoreResult<Vec<Installation>>;
}

/// The append-only audit log.
pub trait AuditStore: Send + Sync {
    /// Seals and appends entries atomically, in order, and returns once they are durable.
    /// Concurrent callers are group-committed: one write and one sync for all. Every
    /// read below sees every record appended before it started. Sealing uses
    /// [`crate::audit::seal`] so every backend chains the same way.
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>>;
    /// Records matching a filter, in sequence order.
    fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// How many records the log holds (pruned ones excluded).
    fn count_audit(&self) -> StoreResult<u64>;
    /// The storage positions the log's records occupy now, as a half-open range.
    /// Records appended later are stored after its end.
    fn audit_positions(&self) -> StoreResult<std::ops::Range<u64>>;
    /// Visits the records stored at `positions`, in storage order, as their stored
    /// canonical parts, without decoding them: `(seq, parts, prev_hash, hash)`. The fast
    /// path of verification, which scans slices of the log on several threads at once.
    fn scan_raw(
        &self,
        positions: std::ops::Range<u64>,
        visit: &mut dyn FnMut(
            u64,
            &crate::audit::CanonicalParts<'_>,
            &str,
            &str,
        ) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// The chain hashes of pruned records, by sequence number (the Merkle tree's leaves
    /// before the first stored record).
    fn pruned_hashes(&self) -> StoreResult<Vec<(u64, String)>>;
    /// The Merkle tree over every record ever appended: (size, root, last chain hash).
    fn merkle_head(&self) -> StoreResult<(u64, crate::merkle::Hash, String)>;
    /// How many records were ever appended (the Merkle tree's size), without computing
    /// its root.
    fn log_size(&self) -> StoreResult<u64> {
        Ok(self.merkle_head()?.0)
    }
    /// The chain hashes of the records with sequence numbers in `seqs`, pruned or stored,
    /// in order: Merkle leaves, for inclusion proofs.
    fn record_hashes(&self, seqs: std::ops::Range<u64>) -> StoreResult<Vec<String>>;
    /// The remembered root of Merkle block `block` (see [`crate::integrity::PROOF_BLOCK`]),
    /// if one was remembered.
    fn tree_block(&self, block: u64) -> StoreResult<Option<crate::merkle::Hash>>;
    /// Remembers the root of a complete Merkle block. The log is append-only, so a
    /// complete block's root never changes.
    fn put_tree_block(&self, block: u64, root: &crate::merkle::Hash) -> StoreResult<()>;
    /// Stores a signed checkpoint.
    fn put_checkpoint(&self, checkpoint: &crate::checkpoint::Checkpoint) -> StoreResult<()>;
    /// Every stored checkpoint, by size.
    fn checkpoints(&self) -> StoreResult<Vec<crate::checkpoint::Checkpoint>>;
    /// The stored checkpoint of tree size `size`, if any.
    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<crate::checkpoint::Checkpoint>>;
    /// The stored checkpoint with the largest tree size, if any.
    fn latest_checkpoint(&self) -> StoreResult<Option<crate::checkpoint::Checkpoint>>;
    /// The highest sequence number of a stored record sealed before `time` (RFC 3339,
    /// compared as text), or 0 if there is none: where retention cuts.
    fn last_seq_before(&self, time: &str) -> StoreResult<u64>;
    /// Deletes records 1..=`seq`, keeping their chain hashes as Merkle leaves. Returns
    /// how many records were deleted.
    fn prune_through(&self, seq: u64) -> StoreResult<u64>;
}

/// Alerts raised by the activity monitor ([`crate::monitor`]).
pub trait AlertStore: Send + Sync {
    /// Stores a new alert; returns its id (ids increase).
    fn put_alert(&self, alert: &crate::monitor::Alert) -> StoreResult<u64>;
    /// Alerts matching a query, oldest first.
    fn alerts(&self, query: &crate::monitor::AlertQuery)
    -> StoreResult<Vec<crate::monitor::Alert>>;
    /// Records how delivery to the webhook went (`delivered`, `failed: …`).
    fn set_alert_delivery(&self, id: u64, delivery: &str) -> StoreResult<()>;
}

/// Everything the service needs from storage.
pub trait Store: HelpdeskStore + InstallationStore + AuditStore {}

impl<T: HelpdeskStore + InstallationStore + AuditStore> Store for T {}
