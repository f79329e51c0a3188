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

use crate::egress::secrets::{MasterKey, open_bytes, seal_bytes};
use crate::model::Kind;
use crate::store::{FieldSealer, KvStore};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
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
        let key = crate::capability::kv::unwrap_data_key(store, master, HELPDESK_KEY_NAME)?;
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
        let out = seal_bytes(&self.cipher, &Self::aad(kind, id, key), value.as_bytes())
            .ok_or_else(|| format!("cannot seal {kind}.{key}"))?;
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
            .map_err(|_| fail())?;
        let plain = open_bytes(&self.cipher, &Self::aad(kind, id, key), &bytes).ok_or_else(fail)?;
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

pub(super) const LOCKED: &str = "the master key that sealed this store's helpdesk data is not available: set AIRLOCK_MASTER_KEY or restore master.key in the data directory";

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
