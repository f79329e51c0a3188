//! Sealing one installation's kv entries: key names and values under its data key,
//! found by a keyed hash of the installation and the key.

use super::unavailable;
use crate::broker::CallError;
use crate::egress::secrets::{open_bytes, seal_bytes};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;

pub(super) const NAME_PART: &str = "name";
pub(super) const VALUE_PART: &str = "value";

/// Seals and opens one installation's kv data under its data key.
pub(super) struct Sealer<'a> {
    cipher: Aes256Gcm,
    names: [u8; 32],
    installation: &'a str,
}

impl<'a> Sealer<'a> {
    pub(super) fn new(data_key: [u8; 32], installation: &'a str) -> Sealer<'a> {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&data_key)
            .expect("HMAC takes any key");
        mac.update(b"airlock-kv-key-names-v1");
        Sealer {
            cipher: Aes256Gcm::new(&data_key.into()),
            names: mac.finalize().into_bytes().into(),
            installation,
        }
    }

    /// The keyed hash the entry is stored under: the installation and the key name.
    pub(super) fn hash(&self, key: &str) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.names)
            .expect("HMAC takes any key");
        mac.update(self.installation.as_bytes());
        mac.update(&[0]);
        mac.update(key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn aad(&self, hash: &str, part: &str) -> Vec<u8> {
        format!("airlock-kv-v1\0{}\0{hash}\0{part}", self.installation).into_bytes()
    }

    pub(super) fn seal(&self, hash: &str, part: &str, plain: &[u8]) -> Result<Vec<u8>, CallError> {
        seal_bytes(&self.cipher, &self.aad(hash, part), plain).ok_or_else(|| unavailable("sealing"))
    }

    pub(super) fn open(&self, hash: &str, part: &str, sealed: &[u8]) -> Result<Vec<u8>, CallError> {
        open_bytes(&self.cipher, &self.aad(hash, part), sealed).ok_or_else(|| {
            unavailable("a stored entry (changed, or sealed for another installation)")
        })
    }
}
