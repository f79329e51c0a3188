//! The key hierarchy, and rotation of the master key.
//!
//! One master key (`AIRLOCK_MASTER_KEY` or `<data-dir>/master.key`) seals two kinds of
//! things directly:
//! - **data keys**, random 256-bit keys kept wrapped in the store: one per installation
//!   for its kv entries, `#helpdesk` for sensitive helpdesk fields, `#totp` for the
//!   accounts' TOTP secrets and `#audit-ids` for the audit log's opaque ids;
//! - **secret settings** of installations (few and small).
//!
//! Everything else (kv values, helpdesk fields, TOTP secrets) is sealed under a data
//! key. A rotation ([`Admin::rotate_master_key`]) therefore re-wraps the data keys and
//! re-seals the secret settings, in one store transaction, and rewrites no value: it is
//! quick at any store size, and the service keeps running through it.
//!
//! **Ordering.** The new key is written to `master.key.next` (synced) before the
//! transaction; after the commit it replaces `master.key`, and the running service swaps
//! to it before any other write of the process can seal with the old one. A crash in
//! between leaves `master.key.next`: the next open keeps it if the store is under it, and
//! deletes it if not ([`settle_interrupted_rotation`]).
//!
//! **What a rotation protects.** After it, the old master key opens nothing in a copy of
//! the store taken later. A copy taken before it (an old backup) still opens with the
//! old key, and the data keys it unwraps are the ones still in use: rotation replaces
//! the key that guards the data keys, not the data keys themselves.

use super::admin::Admin;
use super::{AppError, AppResult};
use crate::capability::kv::{DATA_KEY_NAME, unwrap_data_key_or};
use crate::egress::secrets::{
    KeyMaterial, KeySource, MasterKey, read_key_file, write_new_key_file,
};
use crate::store::KvStore;
use airlock_core::store::{MasterSealed, MasterSealedStore};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The data key of the accounts' TOTP secrets.
pub const TOTP_KEY_NAME: &str = "#totp";
/// The data key of the audit log's opaque ids.
pub const AUDIT_IDS_KEY_NAME: &str = "#audit-ids";

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    /// Data keys re-wrapped and secret settings re-sealed.
    pub resealed: u64,
    /// The fingerprint of the key retired.
    pub old_fingerprint: String,
    /// The fingerprint of the key now in use.
    pub new_fingerprint: String,
    /// Where the new key is: the key file's path, or `AIRLOCK_MASTER_KEY` for the
    /// operator to set.
    pub stored_in: String,
}

/// A data key for one store-wide purpose, made on first use. A store from before the
/// key hierarchy (`predates`: it has audit records but not this key) adopts the key that
/// used to be derived from the master key for `legacy_purpose`, so that what was sealed
/// or hashed under it stays readable.
pub fn purpose_key(
    store: &dyn KvStore,
    master: &MasterKey,
    owner: &str,
    legacy_purpose: &str,
    predates: bool,
) -> anyhow::Result<[u8; 32]> {
    let mut derived = None;
    if predates && store.kv_data_key(owner)?.is_none() {
        derived = Some(master.derive(legacy_purpose)?);
    }
    unwrap_data_key_or(store, master, owner, &mut || {
        derived.unwrap_or_else(rand::random)
    })
}

/// The file a rotation writes its new key to before it commits.
pub fn next_key_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    key_file.with_file_name(name)
}

/// Finishes a rotation a crash interrupted: `master.key.next` replaces `master.key` if
/// the store is under it, and is deleted if not (the rotation did not commit).
pub fn settle_interrupted_rotation(
    key_file: &Path,
    store: &dyn MasterSealedStore,
) -> anyhow::Result<()> {
    let next = next_key_file(key_file);
    if !next.exists() {
        return Ok(());
    }
    let candidate = KeyMaterial::new(read_key_file(&next)?);
    let committed = match store.master_sealed_sample()? {
        Some((what, sealed)) => open(&candidate, &what, &sealed).is_ok(),
        None => false,
    };
    if committed {
        install_key_file(&next, key_file)?;
        tracing::warn!(file = %key_file.display(), "finished an interrupted master key rotation");
    } else {
        std::fs::remove_file(&next)?;
        tracing::warn!(file = %next.display(), "discarded the new key of a rotation that did not commit");
    }
    Ok(())
}

/// Moves `next` over `key_file` and syncs the folder, so the rename survives a crash.
fn install_key_file(next: &Path, key_file: &Path) -> std::io::Result<()> {
    std::fs::rename(next, key_file)?;
    if let Some(dir) = key_file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Opens one value sealed directly under `key`.
fn open(key: &KeyMaterial, what: &MasterSealed, sealed: &str) -> Result<String, String> {
    let opened = match what {
        MasterSealed::DataKey { owner } => key.open(owner, DATA_KEY_NAME, sealed),
        MasterSealed::Secret { installation, name } => key.open(installation, name, sealed),
        _ => return Err(format!("{what:?} is not a kind this version can reseal")),
    };
    opened.map_err(|_| format!("{} does not open with the master key in use", name(what)))
}

/// Seals `plain` as `what` under `key`.
fn seal(key: &KeyMaterial, what: &MasterSealed, plain: &str) -> Result<String, String> {
    let sealed = match what {
        MasterSealed::DataKey { owner } => key.seal(owner, DATA_KEY_NAME, plain),
        MasterSealed::Secret { installation, name } => key.seal(installation, name, plain),
        _ => return Err(format!("{what:?} is not a kind this version can reseal")),
    };
    sealed.map_err(|_| format!("cannot seal {}", name(what)))
}

/// What a sealed value is, for messages (names, never values).
fn name(what: &MasterSealed) -> String {
    match what {
        MasterSealed::DataKey { owner } => format!("the data key of {owner}"),
        MasterSealed::Secret { installation, name } => {
            format!("secret setting {name} of {installation}")
        }
        _ => "a sealed value".into(),
    }
}

impl Admin<'_> {
    /// Rotates the master key (recorded as `admin.keys.rotate` with the fingerprints and
    /// the count resealed): to `new_key`, or to a fresh random key written to the key
    /// file. A key from `AIRLOCK_MASTER_KEY` cannot be rewritten, so then `new_key` is
    /// required and the operator sets the variable to it before the next start.
    pub fn rotate_master_key(&self, new_key: Option<[u8; 32]>) -> AppResult<Rotation> {
        self.audited("admin.keys.rotate", "master-key", || {
            let master = self.airlock.capabilities.egress.key();
            let source = master.source().map_err(AppError::Internal)?;
            let new_key = match (new_key, &source) {
                (Some(key), _) => key,
                (None, KeySource::Env) => {
                    return Err(AppError::Invalid(
                        "the master key comes from AIRLOCK_MASTER_KEY, which Airlock cannot \
                         rewrite: run `airlock keys rotate --new-key-file FILE` with the new \
                         key (64 hex digits) in FILE, then set AIRLOCK_MASTER_KEY to it"
                            .into(),
                    ));
                }
                (None, _) => rand::random(),
            };
            let old = master.material().map_err(AppError::Internal)?;
            let new = KeyMaterial::new(new_key);
            if old.fingerprint() == new.fingerprint() {
                return Err(AppError::Invalid(
                    "the new master key is the one in use".into(),
                ));
            }
            let rotation = self.reseal_everything(master, &source, &old, &new)?;
            let d = BTreeMap::from([
                ("resealed".to_string(), rotation.resealed.to_string()),
                ("old_key".into(), rotation.old_fingerprint.clone()),
                ("new_key".into(), rotation.new_fingerprint.clone()),
            ]);
            Ok((rotation, d))
        })
    }

    fn reseal_everything(
        &self,
        master: &MasterKey,
        source: &KeySource,
        old: &KeyMaterial,
        new: &KeyMaterial,
    ) -> AppResult<Rotation> {
        let files = match source {
            KeySource::File(file) => Some((next_key_file(file), file.clone())),
            _ => None,
        };
        if let Some((next, _)) = &files {
            write_new_key_file(next, &new.bytes()).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => AppError::Conflict(format!(
                    "{} exists: another rotation is under way, or one was interrupted (a restart settles it)",
                    next.display()
                )),
                _ => AppError::Internal(anyhow::Error::new(e).context("cannot write the new key")),
            })?;
        }
        let mut installed = Ok(());
        let resealed = self.airlock.store.reseal_all(
            &mut |what, sealed| seal(new, what, &open(old, what, sealed)?),
            &mut || {
                if let Some((next, file)) = &files {
                    installed = install_key_file(next, file);
                }
                master.replace(new.bytes());
            },
        );
        let resealed = match resealed {
            Ok(n) => n,
            Err(e) => {
                if let Some((next, _)) = &files {
                    let _ = std::fs::remove_file(next);
                }
                return Err(e.into());
            }
        };
        if let Err(e) = installed {
            // The store is under the new key; the next open moves the file into place.
            tracing::error!(error = %e, "cannot move the new master key into place; a restart finishes it");
        }
        Ok(Rotation {
            resealed,
            old_fingerprint: old.fingerprint(),
            new_fingerprint: new.fingerprint(),
            stored_in: match files {
                Some((_, file)) => file.display().to_string(),
                None if *source == KeySource::Env => crate::egress::secrets::MASTER_KEY_ENV.into(),
                None => "memory".into(),
            },
        })
    }
}
