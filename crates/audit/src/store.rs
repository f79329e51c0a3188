//! The audit log's storage port: what a backend must do to hold the log.

use crate::record::{AuditEntry, AuditFilter, AuditRecord};

pub use airlock_core::{StoreError, StoreResult};

/// The append-only audit log.
pub trait AuditStore: Send + Sync {
    /// Seals and appends entries atomically, in order, and returns once they are durable.
    /// Concurrent callers are group-committed: one write and one sync for all. Every
    /// read below sees every record appended before it started. Sealing uses
    /// [`crate::record::seal`] so every backend chains the same way.
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
            &crate::record::CanonicalParts<'_>,
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
    /// Takes the right to change the log for this process, first bringing the log up to
    /// date with every record acknowledged before (a journal's). Reads never need it; a
    /// process that appends claims it first, and an error that
    /// [is transient](crate::StoreError::is_transient) means another process holds it.
    fn claim(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Deletes records 1..=`seq`, keeping their chain hashes as Merkle leaves. Returns
    /// how many records were deleted.
    fn prune_through(&self, seq: u64) -> StoreResult<u64>;
}
