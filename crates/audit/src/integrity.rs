//! Proof of the audit log's integrity: the hash chain, the Merkle tree and signed
//! checkpoints, checked together; inclusion proofs of single records.

use crate::AuditStore as Store;
use crate::checkpoint::{Checkpoint, Signer25519};
use crate::merkle::{self, Frontier, Hash, leaf_hash};
use crate::record::{ChainError, ChainVerifier};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

/// What to check beyond the log itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Checkpoints kept off the host (`airlock audit checkpoint export`).
    pub exported: Vec<Checkpoint>,
    /// A pinned public key every checkpoint must be signed with.
    pub trusted_key: Option<VerifyingKey>,
    /// How many slices of the log are checked at once, each on its own thread. `None`
    /// means one per core, and one alone for logs under 16,384 records. The result
    /// does not depend on it.
    pub threads: Option<usize>,
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Records stored and checked.
    pub records: u64,
    /// Records pruned by retention (their hashes remain as Merkle leaves).
    pub pruned: u64,
    /// Checkpoints whose signature and root matched.
    pub checkpoints: usize,
}

/// Where the log stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tampered {
    /// The first sequence number that is missing, altered or out of place.
    pub first_bad_seq: u64,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Tampered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first bad record is seq {}: {}",
            self.first_bad_seq, self.problem
        )
    }
}

impl From<ChainError> for Tampered {
    fn from(e: ChainError) -> Tampered {
        Tampered {
            first_bad_seq: e.expected_seq.min(e.found_seq),
            problem: e.to_string(),
        }
    }
}

fn decode(hex_text: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok().map(|_| out)
}

/// Checks the chain, the Merkle tree and every checkpoint (stored and exported).
pub fn verify(
    store: &dyn Store,
    options: &VerifyOptions,
) -> anyhow::Result<Result<Verified, Tampered>> {
    // The stored checkpoints are read before the log: a checkpoint covers only records
    // appended before it was signed, and the scan below sees every record acknowledged
    // by the time it starts. Read after the scan, a checkpoint signed meanwhile (the
    // service signs while it appends) would cover records the scan never saw, and look
    // like truncation.
    let mut checkpoints = store.checkpoints()?;

    // 1. Pruned records: contiguous hashes from seq 1; the chain resumes after them.
    //    `leaves` holds Merkle leaf hashes, pruned records' first.
    let pruned = store.pruned_hashes()?;
    let mut leaves: Vec<Hash> = Vec::with_capacity(pruned.len());
    for (i, (seq, hash)) in pruned.iter().enumerate() {
        let expected = i as u64 + 1;
        let Some(h) = decode(hash).filter(|_| *seq == expected) else {
            return Ok(Err(Tampered {
                first_bad_seq: expected,
                problem: "the pruned-record hashes are altered or incomplete".into(),
            }));
        };
        leaves.push(leaf_hash(&h));
    }
    let mut chain = match pruned.last() {
        Some((seq, hash)) => ChainVerifier::resume(*seq, hash.clone()),
        None => ChainVerifier::default(),
    };

    // 2. The chain, hashed from the stored bytes: slices checked in parallel, then
    //    linked to each other in storage order.
    let mut blocks: Vec<(u64, Hash)> = Vec::new();
    let segments = check_segments(store, options.threads)?;
    leaves.reserve(segments.iter().map(|s| s.leaves.len()).sum());
    for segment in segments {
        if let Some((seq, prev_hash)) = &segment.first
            && let Err(e) = chain.check_link(*seq, prev_hash)
        {
            return Ok(Err(e.into()));
        }
        if let Some(e) = segment.failure {
            return Ok(Err(e.into()));
        }
        if let Some((seq, hash)) = segment.last {
            chain = ChainVerifier::resume(seq, hash);
        }
        leaves.extend(segment.leaves);
        blocks.extend(segment.blocks);
    }
    let total = leaves.len() as u64;

    // 3. Checkpoints: signatures, then roots over the matching prefixes.
    checkpoints.extend(options.exported.iter().cloned());
    checkpoints.sort_by_key(|c| c.size);
    for cp in &checkpoints {
        if let Err(why) = cp.verify_signature(options.trusted_key.as_ref()) {
            return Ok(Err(Tampered {
                first_bad_seq: cp.size.max(1),
                problem: format!("checkpoint at size {}: {why}", cp.size),
            }));
        }
        if cp.size > total {
            return Ok(Err(Tampered {
                first_bad_seq: total + 1,
                problem: format!(
                    "the log was truncated: a checkpoint covers {} records but the log ends at {total}",
                    cp.size
                ),
            }));
        }
    }
    // The tree, leaf by leaf, or a whole block at a time where no checkpoint falls
    // inside the block.
    let mut frontier = Frontier::default();
    let mut last_good = 0u64;
    let mut next = checkpoints.iter().filter(|c| c.size > 0).peekable();
    let mut blocks = blocks.iter().peekable();
    let mut i = 0usize;
    while i < leaves.len() {
        let at = i as u64;
        while blocks.next_if(|(start, _)| *start < at).is_some() {}
        let next_checkpoint = next.peek().map_or(u64::MAX, |c| c.size);
        match blocks.peek() {
            Some((start, root)) if *start == at && next_checkpoint >= at + BLOCK => {
                frontier.push_perfect(BLOCK_HEIGHT, *root);
                i += BLOCK as usize;
            }
            _ => {
                frontier.push(leaves[i]);
                i += 1;
            }
        }
        let size = i as u64;
        let leaf = leaves[i - 1];
        // Several checkpoints may share a size (the log's own and exported copies): a
        // mismatch is then located from the last good size before this one, never as an
        // empty range.
        let good_before = last_good;
        while let Some(cp) = next.next_if(|c| c.size == size) {
            let root_ok = hex::encode(frontier.root()) == cp.root;
            // The record's hash is the leaf's data: compare it as a leaf.
            let last_ok = decode(&cp.last_hash).is_some_and(|h| leaf_hash(&h) == leaf);
            if !(root_ok && last_ok) {
                return Ok(Err(Tampered {
                    first_bad_seq: good_before + 1,
                    problem: format!(
                        "records {}..={size} do not match the signed checkpoint at size {size}: the log was rewritten or replaced",
                        good_before + 1
                    ),
                }));
            }
            last_good = size;
        }
    }
    Ok(Ok(Verified {
        records: total - pruned.len() as u64,
        pruned: pruned.len() as u64,
        checkpoints: checkpoints.len(),
    }))
}

/// One slice of the log, checked on its own.
#[derive(Default)]
struct Segment {
    /// The first record's sequence number and previous hash, to link to the slice before.
    first: Option<(u64, String)>,
    /// The last record's sequence number and chain hash, for the slice after.
    last: Option<(u64, String)>,
    /// Merkle leaf hashes of its records, up to the first failure.
    leaves: Vec<Hash>,
    /// The roots of the aligned blocks of [`BLOCK`] leaves it holds whole, by the index
    /// of their first leaf: the tree's work, done in parallel.
    blocks: Vec<(u64, Hash)>,
    /// The first record in it that does not fit.
    failure: Option<ChainError>,
}

/// Leaves per block whose subtree root a slice's thread computes (`2^BLOCK_HEIGHT`).
const BLOCK: u64 = 1 << BLOCK_HEIGHT;
const BLOCK_HEIGHT: u32 = 6;

/// Below this many records a log is checked on the calling thread alone, unless
/// [`VerifyOptions::threads`] says otherwise.
const PARALLEL_FROM: u64 = 16_384;

/// Splits the stored log into contiguous slices and checks them on several threads.
fn check_segments(store: &dyn Store, threads: Option<usize>) -> anyhow::Result<Vec<Segment>> {
    let positions = store.audit_positions()?;
    let span = positions.end - positions.start;
    let threads = match threads {
        Some(n) => n.max(1) as u64,
        None if span < PARALLEL_FROM => 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)) as u64,
    };
    if threads == 1 {
        return Ok(vec![check_segment(store, positions)?]);
    }
    // More slices than threads, taken in turn: a thread that the machine slows down
    // holds up the others by one small slice, not by half the log.
    let slices = threads * SLICES_PER_THREAD;
    let step = span.div_ceil(slices).max(1);
    let slice = |i: u64| {
        let start = (positions.start + i * step).min(positions.end);
        start..(start + step).min(positions.end)
    };
    let next = std::sync::atomic::AtomicU64::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= slices {
                        break;
                    }
                    let checked = check_segment(store, slice(i));
                    done.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((i, checked));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, checked)| checked).collect()
}

/// Slices of the log per verification thread.
const SLICES_PER_THREAD: u64 = 4;

fn check_segment(store: &dyn Store, positions: std::ops::Range<u64>) -> anyhow::Result<Segment> {
    let mut segment = Segment {
        leaves: Vec::with_capacity((positions.end - positions.start) as usize),
        ..Default::default()
    };
    let mut chain: Option<ChainVerifier> = None;
    store.scan_raw(positions, &mut |seq, parts, prev_hash, hash| {
        if segment.failure.is_some() {
            return Ok(());
        }
        let chain = chain.get_or_insert_with(|| {
            segment.first = Some((seq, prev_hash.to_string()));
            ChainVerifier::expecting(seq, prev_hash.to_string())
        });
        match chain.check_raw(seq, parts, prev_hash, hash) {
            Ok(digest) => {
                segment.leaves.push(leaf_hash(&digest));
                // Record `seq` is leaf `seq - 1`; a block ends at every multiple of BLOCK.
                let held = segment.leaves.len();
                if seq % BLOCK == 0 && held >= BLOCK as usize {
                    let block = merkle::root(&segment.leaves[held - BLOCK as usize..]);
                    segment.blocks.push((seq - BLOCK, block));
                }
            }
            Err(e) => segment.failure = Some(e),
        }
        Ok(())
    })?;
    segment.last = chain
        .as_ref()
        .and_then(|c| c.last())
        .map(|(seq, hash)| (seq, hash.to_string()));
    Ok(segment)
}

/// Leaves per Merkle block whose root the store remembers for inclusion proofs
/// (`2^PROOF_BLOCK_HEIGHT`): a proof reads at most two blocks of leaves, plus one
/// remembered root per block before them.
pub const PROOF_BLOCK: u64 = 1 << PROOF_BLOCK_HEIGHT;
const PROOF_BLOCK_HEIGHT: u32 = 10;

/// The Merkle tree as the store holds it: leaves from the records' chain hashes, block
/// roots remembered once computed.
struct StoredTree<'a>(&'a dyn Store);

impl merkle::TreeSource for StoredTree<'_> {
    fn leaves(&mut self, range: std::ops::Range<u64>) -> anyhow::Result<Vec<Hash>> {
        // Leaf i is record i + 1.
        let hashes = self.0.record_hashes(range.start + 1..range.end + 1)?;
        anyhow::ensure!(
            hashes.len() as u64 == range.end - range.start,
            "the audit log is missing records {}..={}; run `airlock audit verify`",
            range.start + 1,
            range.end
        );
        Ok(hashes
            .iter()
            .map(|h| leaf_hash(&decode(h).unwrap_or_default()))
            .collect())
    }

    fn block_root(&mut self, block: u64) -> anyhow::Result<Hash> {
        if let Some(root) = self.0.tree_block(block)? {
            return Ok(root);
        }
        let first = block << PROOF_BLOCK_HEIGHT;
        let root = merkle::root(&self.leaves(first..first + PROOF_BLOCK)?);
        self.0.put_tree_block(block, &root)?;
        Ok(root)
    }
}

/// Makes and stores a signed checkpoint of the log as it is now, unless one exists at
/// this size already. Returns the checkpoint.
pub fn checkpoint(store: &dyn Store, signer: &Signer25519) -> anyhow::Result<Checkpoint> {
    let (size, root, last_hash) = store.merkle_head()?;
    if let Some(existing) = store.checkpoint_at(size)? {
        return Ok(existing);
    }
    let cp = signer.sign(
        size,
        hex::encode(root),
        last_hash,
        crate::record::now_rfc3339(),
    );
    store.put_checkpoint(&cp)?;
    Ok(cp)
}

/// The proof that record `seq` is in the log, against the latest checkpoint covering it.
#[derive(Debug, Clone, Serialize)]
pub struct InclusionProof {
    /// The record.
    pub seq: u64,
    /// Its chain hash (the leaf's data).
    pub record_hash: String,
    /// Its leaf index (seq − 1).
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Sibling hashes, leaf to root (hex).
    pub proof: Vec<String>,
    /// The signed checkpoint whose root the proof reaches.
    pub checkpoint: Checkpoint,
}

/// Builds the inclusion proof of one record, checkpointing first if no checkpoint
/// covers it yet.
pub fn inclusion_proof(
    store: &dyn Store,
    signer: &Signer25519,
    seq: u64,
) -> anyhow::Result<Option<InclusionProof>> {
    if seq == 0 || seq > store.merkle_head()?.0 {
        return Ok(None);
    }
    // Prove against the newest checkpoint covering the record, signing one if none does
    // yet (appends made meanwhile are not needed).
    let covering = store.latest_checkpoint()?.filter(|c| c.size >= seq);
    let cp = match covering {
        Some(cp) => cp,
        None => checkpoint(store, signer)?,
    };
    let index = seq - 1;
    let record_hash = match store.record_hashes(seq..seq + 1)?.pop() {
        Some(hash) => hash,
        None => {
            anyhow::bail!("audit record {seq} is missing from the log; run `airlock audit verify`")
        }
    };
    let proof = merkle::inclusion_proof_by_blocks(
        &mut StoredTree(store),
        PROOF_BLOCK_HEIGHT,
        index,
        cp.size,
    )?;
    Ok(Some(InclusionProof {
        seq,
        record_hash,
        leaf_index: index,
        tree_size: cp.size,
        proof: proof.iter().map(hex::encode).collect(),
        checkpoint: cp,
    }))
}

/// Deletes records before the retention cut, keeping the log verifiable: the cut is
/// checkpointed (signed) first, and the pruning itself is audited. Returns how many
/// records were deleted.
pub fn prune_before(
    store: &dyn Store,
    signer: &Signer25519,
    before_time: &str,
) -> anyhow::Result<u64> {
    // The cut: the last record older than the retention time.
    let cut = store.last_seq_before(before_time)?;
    if cut == 0 {
        return Ok(0);
    }
    checkpoint(store, signer)?;
    let deleted = store.prune_through(cut)?;
    let mut details = std::collections::BTreeMap::new();
    details.insert("pruned_through".to_string(), cut.to_string());
    details.insert("records".to_string(), deleted.to_string());
    details.insert("before".to_string(), before_time.to_string());
    store.append(vec![crate::record::AuditEntry {
        installation: crate::record::HOST_INSTALLATION.into(),
        call: "audit.prune".into(),
        decision: Some(crate::record::Decision::Allow),
        reason: "retention".into(),
        details,
        ..Default::default()
    }])?;
    checkpoint(store, signer)?;
    Ok(deleted)
}
