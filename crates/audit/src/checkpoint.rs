//! Signed checkpoints of the audit log: (tree size, Merkle root, last record hash, time),
//! signed with the host's ed25519 key.
//!
//! The key is generated on first start and kept in the data directory
//! (`audit-signing.key`, mode 0600); `airlock audit key` prints its public half.
//! Checkpoints exported off the host (`airlock audit checkpoint export`) let
//! `airlock audit verify --checkpoints <file> --public-key <hex>` prove that the log
//! still holds everything up to each of them, even if the host and its key were taken.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The file holding the signing key's seed (hex).
pub const KEY_FILE: &str = "audit-signing.key";

/// A signed statement about the log at one size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// How many records the tree covers.
    pub size: u64,
    /// The Merkle root (hex) over records 1..=size.
    pub root: String,
    /// The chain hash (hex) of record `size`, to resume chain checks after pruning.
    pub last_hash: String,
    /// When it was made (RFC 3339 UTC).
    pub time: String,
    /// The signer's public key (hex).
    pub public_key: String,
    /// ed25519 signature (hex) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed.
    pub fn message(size: u64, root: &str, last_hash: &str, time: &str) -> String {
        format!("airlock-checkpoint-v1\n{size}\n{root}\n{last_hash}\n{time}\n")
    }

    /// Checks the signature, against `trusted` when given (a pinned public key), otherwise
    /// against the key the checkpoint names.
    pub fn verify_signature(&self, trusted: Option<&VerifyingKey>) -> Result<(), String> {
        let named = parse_public_key(&self.public_key)?;
        let key = match trusted {
            Some(t) if t != &named => {
                return Err("signed by a key other than the trusted one".into());
            }
            Some(t) => t,
            None => &named,
        };
        let bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the signature is not 64 hex bytes")?;
        let message = Self::message(self.size, &self.root, &self.last_hash, &self.time);
        key.verify(message.as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| "the signature does not match its contents".to_string())
    }
}

/// Parses a hex ed25519 public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("a public key is 32 bytes of hex")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid ed25519 public key".to_string())
}

/// The host's checkpoint signer.
pub struct Signer25519 {
    key: SigningKey,
}

impl Signer25519 {
    /// A signer from its 32-byte seed (the host keeps it in [`KEY_FILE`]).
    pub fn from_seed(seed: [u8; 32]) -> Signer25519 {
        Signer25519 {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// Signs `message` as it is. Only for messages that begin with their own format tag
    /// (as [`crate::evidence::signed_message`] does), so that no signature made here can
    /// pass for a checkpoint's, whose messages begin `airlock-checkpoint-v1`.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs a checkpoint of the log at `size`.
    ///
    /// ```
    /// use airlock_audit::checkpoint::Signer25519;
    /// let s = Signer25519::from_seed([7; 32]);
    /// let cp = s.sign(3, "ab".into(), "cd".into(), "2026-01-01T00:00:00.000Z".into());
    /// assert!(cp.verify_signature(None).is_ok());
    /// let mut forged = cp.clone();
    /// forged.size = 2;
    /// assert!(forged.verify_signature(None).is_err());
    /// ```
    pub fn sign(&self, size: u64, root: String, last_hash: String, time: String) -> Checkpoint {
        let message = Checkpoint::message(size, &root, &last_hash, &time);
        let signature = self.key.sign(message.as_bytes());
        Checkpoint {
            size,
            root,
            last_hash,
            time,
            public_key: self.public_key_hex(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}
