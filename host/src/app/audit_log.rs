//! The audit log as the application reads, proves, signs and prunes it.

use super::{Airlock, AppError, AppResult};
use crate::audit::{AuditFilter, AuditRecord};
use crate::store::AuditStore;

impl Airlock {
    /// Reads audit records.
    pub fn audit(&self, filter: &AuditFilter) -> AppResult<Vec<AuditRecord>> {
        let mut filter = filter.clone();
        crate::monitor::normalize_filter(&mut filter)?;
        Ok(self.store.query(&filter)?)
    }

    /// Hands every record matching `filter` to `each`, oldest first, a page at a time (so
    /// no answer is cut at a page's size). The filter's `limit` and `after_seq` are the
    /// paging's own.
    pub fn each_record(
        &self,
        filter: AuditFilter,
        mut each: impl FnMut(AuditRecord),
    ) -> AppResult<()> {
        let page_size = crate::monitor::PAGE;
        let mut filter = AuditFilter {
            limit: Some(page_size),
            after_seq: Some(0),
            ..filter
        };
        loop {
            let page = self.audit(&filter)?;
            let full = page.len() == page_size as usize;
            for r in page {
                filter.after_seq = Some(r.seq);
                each(r);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Checks the audit log's chain, Merkle tree and checkpoints.
    pub fn verify_audit(
        &self,
        options: &crate::integrity::VerifyOptions,
    ) -> anyhow::Result<Result<crate::integrity::Verified, crate::integrity::Tampered>> {
        crate::integrity::verify(self.store.as_ref(), options)
    }

    /// The checkpoint signer (its public key is `airlock audit key`).
    pub fn signer(&self) -> &crate::checkpoint::Signer25519 {
        self.checkpoints.signer()
    }

    /// Signs and stores a checkpoint of the log as it is now.
    pub fn checkpoint(&self) -> anyhow::Result<crate::checkpoint::Checkpoint> {
        self.checkpoints.sign()
    }

    /// Signs a checkpoint when any record was appended since the last one: the service
    /// does so every few seconds and when it stops, so the records no signed checkpoint
    /// covers are at most a few seconds' worth.
    pub fn checkpoint_if_new(&self) -> anyhow::Result<Option<crate::checkpoint::Checkpoint>> {
        self.checkpoints.sign_if_new()
    }

    /// Hands sealed records to the audit follower, off the request path: it feeds the
    /// monitor and signs a checkpoint every `checkpoint_every` records.
    pub fn follow(&self, records: Vec<AuditRecord>) {
        self.follower.follow(records);
    }

    /// The inclusion proof of one audit record.
    pub fn inclusion_proof(&self, seq: u64) -> AppResult<crate::integrity::InclusionProof> {
        crate::integrity::inclusion_proof(self.store.as_ref(), self.signer(), seq)?
            .ok_or_else(|| AppError::NotFound(format!("no audit record {seq}")))
    }

    /// Deletes audit records older than `days`, keeping the log verifiable from a signed
    /// checkpoint at the cut; the pruning is audited. Returns how many were deleted.
    pub fn prune_audit(&self, days: u64) -> anyhow::Result<u64> {
        let before = retention_cut(days)?;
        let n = crate::integrity::prune_before(self.store.as_ref(), self.signer(), &before)?;
        self.checkpoint()?;
        Ok(n)
    }

    /// The last sequence number [`Airlock::prune_audit`] would delete through (0 for
    /// none), deleting nothing.
    pub fn prune_audit_preview(&self, days: u64) -> anyhow::Result<u64> {
        Ok(self.store.last_seq_before(&retention_cut(days)?)?)
    }
}

/// The time records older than `days` days were sealed before, as the log spells times.
fn retention_cut(days: u64) -> anyhow::Result<String> {
    let cut = time::OffsetDateTime::now_utc() - time::Duration::days(days as i64);
    Ok(crate::audit::rfc3339_millis(cut))
}
