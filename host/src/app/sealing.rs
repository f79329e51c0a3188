//! Encryption at rest of sensitive helpdesk fields: the values of `personal` and
//! `restricted` fields are sealed with AES-256-GCM under a helpdesk data key, itself
//! wrapped by the master key, with the record's kind and id and the field bound as
//! associated data. Ids and other fields stay in clear, so the store can still search
//! by requester, status and tag.
//!
//! What it protects: a copied database file or a backup of it, without the master key,
//! holds no `personal` or `restricted` value. What it does not: a host that holds the
//! master key (the service itself, or anyone who can read `master.key` or
//! `AIRLOCK_MASTER_KEY`) opens everything.

use crate::egress::secrets::MasterKey;
use crate::model::Kind;
use crate::store::{FieldSealer, KvStore};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;

/// Where the helpdesk data key is kept among the data keys: a name no installation id
/// can take (ids never hold `#`).
pub const HELPDESK_KEY_NAME: &str = "#helpdesk";
/// The prefix of a sealed value.
const PREFIX: &str = "sealed:v1:";

/// Seals and opens sensitive field values.
pub struct HelpdeskSealer {
    cipher: Aes256Gcm,
}

impl HelpdeskSealer {
    /// The sealer under the store's helpdesk data key (made and wrapped on first use).
    pub fn open(store: &dyn KvStore, master: &MasterKey) -> anyhow::Result<HelpdeskSealer> {
        let name = crate::capability::kv::DATA_KEY_NAME;
        let wrapped = match store.kv_data_key(HELPDESK_KEY_NAME)? {
            Some(w) => w,
            None => {
                let fresh: [u8; 32] = rand::random();
                let wrapped = master.seal(HELPDESK_KEY_NAME, name, &hex::encode(fresh))?;
                store.kv_init_data_key(HELPDESK_KEY_NAME, &wrapped)?
            }
        };
        let key: [u8; 32] = hex::decode(master.open(HELPDESK_KEY_NAME, name, &wrapped)?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("the helpdesk data key is malformed"))?;
        Ok(HelpdeskSealer {
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    fn aad(kind: Kind, id: &str, key: &str) -> Vec<u8> {
        format!("airlock-field-v1\0{kind}\0{id}\0{key}").into_bytes()
    }
}

impl FieldSealer for HelpdeskSealer {
    fn seal(&self, kind: Kind, id: &str, key: &str, value: &str) -> Result<String, String> {
        let nonce: [u8; 12] = rand::random();
        let aad = Self::aad(kind, id, key);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: value.as_bytes(),
                        aad: &aad,
                    },
                )
                .map_err(|_| format!("cannot seal {kind}.{key}"))?,
        );
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    fn open(&self, kind: Kind, id: &str, key: &str, stored: &str) -> Result<String, String> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let fail = || format!("{kind}.{key} of {id} does not open with this master key");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()
            .filter(|b| b.len() > 12)
            .ok_or_else(fail)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        let aad = Self::aad(kind, id, key);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }

    fn is_sealed(&self, stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

/// The sealer of a store whose helpdesk data key does not open with the master key at
/// hand (a copied data directory without its key): every sensitive value stays sealed
/// and every write of one fails, with a message saying why, while the audit log and
/// everything else still work.
pub struct LockedSealer;

const LOCKED: &str = "the master key that sealed this store's helpdesk data is not available: set AIRLOCK_MASTER_KEY or restore master.key in the data directory";

impl FieldSealer for LockedSealer {
    fn seal(&self, _: Kind, _: &str, _: &str, _: &str) -> Result<String, String> {
        Err(LOCKED.into())
    }

    fn open(&self, _: Kind, _: &str, _: &str, stored: &str) -> Result<String, String> {
        match stored.starts_with(PREFIX) {
            true => Err(LOCKED.into()),
            false => Ok(stored.to_string()),
        }
    }

    fn is_sealed(&self, stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}
