//! Verifying an exported log away from the host: the records of
//! `airlock audit export --format jsonl` (or `GET /api/v1/audit/export`) and the
//! checkpoints of `airlock audit checkpoint export`, with nothing but this crate.

use crate::checkpoint::Checkpoint;
use crate::merkle::{Frontier, leaf_hash};
use crate::record::{AuditRecord, ChainVerifier};
use ed25519_dalek::VerifyingKey;

/// What an exported log was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineReport {
    /// Records checked.
    pub records: u64,
    /// The first and last sequence numbers.
    pub first: u64,
    /// The last sequence number.
    pub last: u64,
    /// Checkpoints whose signature, root and last hash matched the records.
    pub checkpoints_matched: usize,
    /// Checkpoints the export could not be checked against: beyond its last record, or
    /// (for an export that does not start at record 1) any, since the Merkle tree then
    /// needs the pruned records' hashes.
    pub checkpoints_skipped: usize,
}

/// Checks the chain of `records` (in order, from any starting record) and, when the
/// export starts at record 1, every checkpoint it covers: signature (against `trusted`
/// when given), Merkle root and last hash. Fails with the first problem found, naming
/// its record or checkpoint.
///
/// ```
/// use airlock_audit::offline::verify_export;
/// use airlock_audit::record::{seal, AuditEntry};
/// let a = seal(None, "2026-01-01T00:00:00.000Z".into(), AuditEntry::default());
/// let b = seal(Some((a.seq, &a.hash)), "2026-01-01T00:00:01.000Z".into(), AuditEntry::default());
/// let report = verify_export(vec![a.clone(), b.clone()], &[], None).unwrap();
/// assert_eq!((report.records, report.last), (2, 2));
/// let mut forged = b;
/// forged.entry.call = "edited".into();
/// assert!(verify_export(vec![a, forged], &[], None).is_err());
/// ```
pub fn verify_export(
    records: impl IntoIterator<Item = AuditRecord>,
    checkpoints: &[Checkpoint],
    trusted: Option<&VerifyingKey>,
) -> Result<OfflineReport, String> {
    let mut checkpoints: Vec<&Checkpoint> = checkpoints.iter().collect();
    checkpoints.sort_by_key(|c| c.size);
    for cp in &checkpoints {
        cp.verify_signature(trusted)
            .map_err(|why| format!("checkpoint at size {}: {why}", cp.size))?;
    }
    let mut chain: Option<ChainVerifier> = None;
    let mut frontier = Frontier::default();
    let mut pending = checkpoints.iter().peekable();
    let (mut first, mut count, mut matched) = (0, 0u64, 0);
    for record in records {
        let verifier = chain.get_or_insert_with(|| {
            first = record.seq;
            ChainVerifier::expecting(record.seq, record.prev_hash.clone())
        });
        verifier
            .check(&record)
            .map_err(|e| format!("record {}: {e}", record.seq))?;
        count += 1;
        if first != 1 {
            continue;
        }
        let digest: [u8; 32] = hex::decode(&record.hash)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("record {}: its hash is not 32 hex bytes", record.seq))?;
        frontier.push(leaf_hash(&digest));
        while let Some(cp) = pending.next_if(|cp| cp.size <= record.seq) {
            if cp.size < record.seq {
                // Only possible for a checkpoint of size 0.
                continue;
            }
            if hex::encode(frontier.root()) != cp.root || cp.last_hash != record.hash {
                return Err(format!(
                    "checkpoint at size {} does not match the records: the log was changed before it",
                    cp.size
                ));
            }
            matched += 1;
        }
    }
    let last = chain.as_ref().and_then(|c| c.last()).map_or(0, |(s, _)| s);
    Ok(OfflineReport {
        records: count,
        first,
        last,
        checkpoints_matched: matched,
        checkpoints_skipped: checkpoints.len() - matched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Signer25519;
    use crate::record::{AuditEntry, seal};

    fn log(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|r| (r.seq, r.hash.as_str()));
            let entry = AuditEntry {
                call: format!("call-{i}"),
                ..Default::default()
            };
            let r = seal(prev, format!("2026-01-01T00:00:{i:02}.000Z"), entry);
            out.push(r);
        }
        out
    }

    fn checkpoint(signer: &Signer25519, records: &[AuditRecord]) -> Checkpoint {
        let mut f = Frontier::default();
        for r in records {
            let d: [u8; 32] = hex::decode(&r.hash).unwrap().try_into().unwrap();
            f.push(leaf_hash(&d));
        }
        let last = records.last().unwrap();
        signer.sign(
            records.len() as u64,
            hex::encode(f.root()),
            last.hash.clone(),
            last.time.clone(),
        )
    }

    #[test]
    fn checkpoints_pin_the_exported_log() {
        let signer = Signer25519::from_seed([3; 32]);
        let records = log(10);
        let cps = [
            checkpoint(&signer, &records[..4]),
            checkpoint(&signer, &records),
        ];
        let key = crate::checkpoint::parse_public_key(&signer.public_key_hex()).unwrap();
        let report = verify_export(records.clone(), &cps, Some(&key)).unwrap();
        assert_eq!(report.checkpoints_matched, 2);
        // A truncated export matches the first checkpoint and skips the second.
        let report = verify_export(records[..6].to_vec(), &cps, Some(&key)).unwrap();
        assert_eq!(
            (report.checkpoints_matched, report.checkpoints_skipped),
            (1, 1)
        );
        // A re-chained, self-consistent fake fails against the checkpoints.
        let mut fake = log(10);
        fake.truncate(3);
        let mut rest = log(10)[3..].to_vec();
        rest[0].entry.call = "forged".into();
        let mut prev = (fake[2].seq, fake[2].hash.clone());
        for r in rest {
            let s = seal(Some((prev.0, &prev.1)), r.time, r.entry);
            prev = (s.seq, s.hash.clone());
            fake.push(s);
        }
        let e = verify_export(fake, &cps, Some(&key)).unwrap_err();
        assert!(e.contains("checkpoint at size 4"), "{e}");
        // Another signer's checkpoint is refused when a key is trusted.
        let other = checkpoint(&Signer25519::from_seed([4; 32]), &records);
        assert!(verify_export(records, &[other], Some(&key)).is_err());
    }
}
