//! Sealing one installation's kv entries: key names and values under its data key,
//! found by a keyed hash of the installation and the key.

use super::unavailable;
use crate::broker::CallError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

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
        let nonce: [u8; 12] = rand::random();
        let aad = self.aad(hash, part);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: plain,
                        aad: &aad,
                    },
                )
                .map_err(|_| unavailable("sealing"))?,
        );
        Ok(out)
    }

    pub(super) fn open(&self, hash: &str, part: &str, sealed: &[u8]) -> Result<Vec<u8>, CallError> {
        if sealed.len() < 12 {
            return Err(unavailable("a stored entry"));
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let aad = self.aad(hash, part);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                unavailable("a stored entry (changed, or sealed for another installation)")
            })
    }
}
