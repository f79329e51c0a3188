//! A Merkle tree over the audit log, hashed as in RFC 6962 (Certificate Transparency):
//! a leaf is `SHA-256(0x00 || data)`, an inner node `SHA-256(0x01 || left || right)`, and a
//! tree of `n` leaves splits at the largest power of two below `n`.
//!
//! The leaf data of audit record `seq` is its chain hash, so the tree commits to every
//! record's full contents and order.

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// The hash of an empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A leaf's hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// An inner node's hash.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut message = [1u8; 65];
    message[1..33].copy_from_slice(left);
    message[33..].copy_from_slice(right);
    Sha256::digest(message).into()
}

/// The root of a growing tree, kept as the roots of its perfect subtrees (the
/// "frontier"): O(log n) memory, O(1) amortized per appended leaf.
///
/// ```
/// use airlock_audit::merkle::{leaf_hash, root, Frontier};
/// let leaves: Vec<_> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
/// let mut f = Frontier::default();
/// for l in &leaves { f.push(*l); }
/// assert_eq!(f.root(), root(&leaves));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// (height, hash) of perfect subtrees, left to right, strictly decreasing heights.
    nodes: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_perfect(0, leaf);
    }

    /// Appends a perfect subtree of `2^height` leaves, given its root: the same as
    /// pushing its leaves one by one. The tree's size must be a multiple of `2^height`.
    pub fn push_perfect(&mut self, height: u32, root: Hash) {
        assert!(
            self.size.trailing_zeros() >= height,
            "a perfect subtree of height {height} cannot start at leaf {}",
            self.size
        );
        let mut node = (height, root);
        while let Some(&(h, left)) = self.nodes.last() {
            if h != node.0 {
                break;
            }
            self.nodes.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1 << height;
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// The root of a tree over `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The audit path proving leaf `index` is in the tree over `leaves` (RFC 6962 §2.1.1).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    let (mut lo, mut hi, i) = (0usize, leaves.len(), index);
    // Walk down from the root, collecting siblings, then reverse (leaf to root order).
    while hi - lo > 1 {
        let k = split(hi - lo);
        if i < lo + k {
            proof.push(root(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            proof.push(root(&leaves[lo..lo + k]));
            lo += k;
        }
    }
    proof.reverse();
    proof
}

/// Where [`inclusion_proof_by_blocks`] reads a large tree: a few leaves at a time, and
/// the roots of whole aligned blocks of `2^height` leaves, which a store can remember.
pub trait TreeSource {
    /// The leaf hashes of leaves `range` (never more than one block's worth).
    fn leaves(&mut self, range: std::ops::Range<u64>) -> anyhow::Result<Vec<Hash>>;
    /// The root of block `block`: leaves `block << height` up to the next block, all
    /// of them in the tree.
    fn block_root(&mut self, block: u64) -> anyhow::Result<Hash>;
}

/// [`inclusion_proof`] of leaf `index` in the tree of the first `size` leaves, reading
/// at most two blocks of leaves and about `size >> height` block roots, instead of every
/// leaf.
///
/// ```
/// use airlock_audit::merkle::*;
/// struct All(Vec<Hash>);
/// impl TreeSource for All {
///     fn leaves(&mut self, r: std::ops::Range<u64>) -> anyhow::Result<Vec<Hash>> {
///         Ok(self.0[r.start as usize..r.end as usize].to_vec())
///     }
///     fn block_root(&mut self, block: u64) -> anyhow::Result<Hash> {
///         Ok(root(&self.0[block as usize * 4..block as usize * 4 + 4]))
///     }
/// }
/// let leaves: Vec<_> = (0..11u8).map(|i| leaf_hash(&[i])).collect();
/// let proof = inclusion_proof_by_blocks(&mut All(leaves.clone()), 2, 9, 11).unwrap();
/// assert_eq!(proof, inclusion_proof(&leaves, 9));
/// ```
pub fn inclusion_proof_by_blocks(
    source: &mut dyn TreeSource,
    height: u32,
    index: u64,
    size: u64,
) -> anyhow::Result<Vec<Hash>> {
    anyhow::ensure!(index < size, "leaf {index} is not in a tree of {size}");
    let block = 1u64 << height;
    let (mut lo, mut hi) = (0u64, size);
    let mut siblings = Vec::new();
    // Down from the root, as in `inclusion_proof`, until one block's worth is left.
    while hi - lo > block {
        let k = split((hi - lo) as usize) as u64;
        if index < lo + k {
            siblings.push(subtree_root(source, height, lo + k..hi)?);
            hi = lo + k;
        } else {
            siblings.push(subtree_root(source, height, lo..lo + k)?);
            lo += k;
        }
    }
    let mut proof = inclusion_proof(&source.leaves(lo..hi)?, (index - lo) as usize);
    proof.extend(siblings.into_iter().rev());
    Ok(proof)
}

/// The root of leaves `range`, a subtree on the way down from the root of a tree: it
/// starts at a multiple of its largest power of two, so its whole blocks are aligned.
fn subtree_root(
    source: &mut dyn TreeSource,
    height: u32,
    range: std::ops::Range<u64>,
) -> anyhow::Result<Hash> {
    let (lo, hi) = (range.start, range.end);
    let block = 1u64 << height;
    if hi - lo == block && lo % block == 0 {
        return source.block_root(lo >> height);
    }
    if hi - lo <= block {
        return Ok(root(&source.leaves(lo..hi)?));
    }
    let k = split((hi - lo) as usize) as u64;
    Ok(node_hash(
        &subtree_root(source, height, lo..lo + k)?,
        &subtree_root(source, height, lo + k..hi)?,
    ))
}

/// Checks an audit path (RFC 9162 §2.1.3.2).
///
/// ```
/// use airlock_audit::merkle::*;
/// let leaves: Vec<_> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
/// let r = root(&leaves);
/// for i in 0..7 {
///     let proof = inclusion_proof(&leaves, i);
///     assert!(verify_inclusion(leaves[i], i as u64, 7, &proof, &r));
///     assert!(!verify_inclusion(leaves[i], (i as u64 + 1) % 7, 7, &proof, &r));
/// }
/// ```
pub fn verify_inclusion(leaf: Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_matches_recursive_root_at_every_size() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), empty_root());
        for (n, leaf) in leaves.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), root(&leaves[..=n]), "size {}", n + 1);
        }
    }

    #[test]
    fn perfect_subtrees_push_like_their_leaves() {
        let leaves: Vec<Hash> = (0..200u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::default();
        for chunk in leaves[..192].chunks(64) {
            f.push_perfect(6, root(chunk));
        }
        for leaf in &leaves[192..] {
            f.push(*leaf);
        }
        assert_eq!(f.size(), 200);
        assert_eq!(f.root(), root(&leaves));
    }

    #[test]
    #[should_panic(expected = "cannot start at leaf 3")]
    fn perfect_subtrees_must_be_aligned() {
        let mut f = Frontier::default();
        for i in 0..3u8 {
            f.push(leaf_hash(&[i]));
        }
        f.push_perfect(2, leaf_hash(b"x"));
    }

    #[test]
    fn proofs_verify_only_for_their_leaf() {
        let leaves: Vec<Hash> = (0..33u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in [1usize, 2, 3, 8, 13, 33] {
            let r = root(&leaves[..n]);
            for i in 0..n {
                let p = inclusion_proof(&leaves[..n], i);
                assert!(
                    verify_inclusion(leaves[i], i as u64, n as u64, &p, &r),
                    "n={n} i={i}"
                );
                let wrong = leaf_hash(b"forged");
                assert!(!verify_inclusion(wrong, i as u64, n as u64, &p, &r));
            }
        }
    }

    struct Counted {
        leaves: Vec<Hash>,
        height: u32,
        leaves_read: usize,
    }

    impl TreeSource for Counted {
        fn leaves(&mut self, range: std::ops::Range<u64>) -> anyhow::Result<Vec<Hash>> {
            assert!(range.end - range.start <= 1 << self.height, "{range:?}");
            self.leaves_read += (range.end - range.start) as usize;
            Ok(self.leaves[range.start as usize..range.end as usize].to_vec())
        }
        fn block_root(&mut self, block: u64) -> anyhow::Result<Hash> {
            let first = (block << self.height) as usize;
            Ok(root(&self.leaves[first..first + (1 << self.height)]))
        }
    }

    #[test]
    fn proofs_by_blocks_match_proofs_over_every_leaf() {
        let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for height in [0, 1, 2, 3] {
            for size in 1..=leaves.len() {
                for index in 0..size {
                    let mut source = Counted {
                        leaves: leaves[..size].to_vec(),
                        height,
                        leaves_read: 0,
                    };
                    let proof =
                        inclusion_proof_by_blocks(&mut source, height, index as u64, size as u64)
                            .unwrap();
                    assert_eq!(
                        proof,
                        inclusion_proof(&leaves[..size], index),
                        "height {height}, size {size}, index {index}"
                    );
                    assert!(
                        source.leaves_read <= 2 << height,
                        "read {}",
                        source.leaves_read
                    );
                }
            }
        }
        let mut source = Counted {
            leaves: leaves.clone(),
            height: 2,
            leaves_read: 0,
        };
        assert!(inclusion_proof_by_blocks(&mut source, 2, 40, 40).is_err());
    }
}
