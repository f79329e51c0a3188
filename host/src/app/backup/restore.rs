//! Restoring a backup into a new data directory, made safe before anything serves
//! from it: authenticated, verified, later erasures re-applied, retention applied.

use super::archive::{ArchiveReader, Manifest, Unlock};
use super::{create_private, hash_file};
use crate::app::retention::{RetentionPolicy, RetentionReport};
use crate::app::{Actor, Airlock, Options};
use crate::audit::AuditFilter;
use crate::egress::secrets::{KeyMaterial, MASTER_KEY_FILE, write_new_key_file};
use crate::store::{AuditStore, Durability, SqliteStore};
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// What a restore needs.
pub struct RestoreOptions {
    /// The backup file.
    pub backup: PathBuf,
    /// The new data directory (absent, or empty).
    pub into: PathBuf,
    /// The master key the backup's data keys are wrapped under.
    pub master_key: [u8; 32],
    /// Write it into the new directory's `master.key` (it came from a file; a key from
    /// `AIRLOCK_MASTER_KEY` stays there).
    pub write_master_key: bool,
    /// The backup's passphrase, when it is locked by one.
    pub passphrase: Option<String>,
    /// A data directory whose audit log continues the backup's (the live one): every
    /// erasure it recorded after the backup is applied again. `None` only when the
    /// operator states there is none.
    pub erasures_from: Option<PathBuf>,
    /// The retention policy to apply before it serves.
    pub retention: RetentionPolicy,
    /// How to open the restored directory.
    pub options: Options,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The restored data directory.
    pub into: String,
    /// Files restored.
    pub files: usize,
    /// Audit records in the backup, all verified with their checkpoints.
    pub audit_size: u64,
    /// The people erased again, with the live record of each erasure.
    pub erasures_reapplied: Vec<(String, u64)>,
    /// What retention deleted, if a policy is set.
    pub retention: Option<RetentionReport>,
}

/// Restores `o.backup` into `o.into`. On any failure nothing is left behind: the new
/// directory is removed and the error says why.
pub fn restore(mut o: RestoreOptions) -> anyhow::Result<RestoreReport> {
    let options = std::mem::take(&mut o.options);
    ensure_empty(&o.into)?;
    let master = KeyMaterial::new(o.master_key);
    let unlock = match &o.passphrase {
        Some(p) => Unlock::Passphrase(p.clone()),
        None => Unlock::Master(master.clone()),
    };
    let name = o
        .into
        .file_name()
        .context("the data directory needs a name")?;
    let parent = match o.into.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let staging = parent.join(format!(
        ".{}.restoring-{}",
        name.to_string_lossy(),
        hex::encode(rand::random::<[u8; 6]>())
    ));
    let staged = stage(&o, &staging, &unlock, &master);
    let (manifest, later) = match staged {
        Ok(found) => found,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.context("nothing was restored"));
        }
    };
    if o.into.exists() {
        std::fs::remove_dir(&o.into)?;
    }
    std::fs::rename(&staging, &o.into)
        .with_context(|| format!("cannot move the restored files to {}", o.into.display()))?;
    match finish(&o, options, &manifest, &later) {
        Ok(report) => Ok(report),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&o.into);
            Err(e.context("nothing was restored"))
        }
    }
}

fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => anyhow::bail!(
                "{} is not empty: a restore writes only into a new or empty directory, never over data",
                dir.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// Unpacks and checks the backup in `staging`, and finds the erasures to re-apply.
fn stage(
    o: &RestoreOptions,
    staging: &Path,
    unlock: &Unlock,
    master: &KeyMaterial,
) -> anyhow::Result<(Manifest, Vec<(String, u64)>)> {
    std::fs::create_dir(staging)?;
    let manifest = unpack(&o.backup, staging, unlock)?;
    if manifest.master_fingerprint != master.fingerprint() {
        anyhow::bail!(
            "the backup's data keys are wrapped under the master key {}, and the key given is {}: give the key it was taken under",
            manifest.master_fingerprint,
            master.fingerprint()
        );
    }
    if o.write_master_key {
        write_new_key_file(&staging.join(MASTER_KEY_FILE), &master.bytes())?;
    }
    let later = match &o.erasures_from {
        Some(live) => later_erasures(live, &manifest)?,
        None => Vec::new(),
    };
    Ok((manifest, later))
}

fn unpack(backup: &Path, into: &Path, unlock: &Unlock) -> anyhow::Result<Manifest> {
    let file = std::fs::File::open(backup)
        .with_context(|| format!("cannot open the backup {}", backup.display()))?;
    let mut reader = ArchiveReader::new(BufReader::new(file), unlock)?;
    let manifest = reader.manifest()?;
    if !manifest.files.iter().any(|f| f.name == "airlock.db") {
        anyhow::bail!("the backup holds no database");
    }
    std::fs::create_dir(into.join("components"))?;
    for entry in &manifest.files {
        let path = into.join(&entry.name);
        let mut out = create_private(&path)
            .with_context(|| format!("cannot create {} (named twice?)", path.display()))?;
        reader.copy_file(entry, &mut out)?;
        out.sync_all()?;
    }
    reader.finish()?;
    Ok(manifest)
}

/// The erasures `live`'s log recorded after the backup, latest per person, after
/// checking that it continues the backup's log.
fn later_erasures(live: &Path, manifest: &Manifest) -> anyhow::Result<Vec<(String, u64)>> {
    let db = live.join("airlock.db");
    anyhow::ensure!(db.is_file(), "{} holds no Airlock database", live.display());
    let store = SqliteStore::open_with(&db, Durability::Normal)?;
    if !holds_head(&store, manifest)? {
        anyhow::bail!(
            "the audit log in {} is not the one this backup was taken from: its record {} is not the backup's last",
            live.display(),
            manifest.audit_size
        );
    }
    let mut latest: BTreeMap<String, u64> = BTreeMap::new();
    let mut filter = AuditFilter {
        call: Some("admin.dsr.erase".into()),
        after_seq: Some(manifest.audit_size),
        limit: Some(crate::monitor::PAGE),
        ..Default::default()
    };
    loop {
        let page = store.query(&filter)?;
        for r in &page {
            filter.after_seq = Some(r.seq);
            if r.entry.reason == "ok" && crate::model::valid_id(&r.entry.resource) {
                latest.insert(r.entry.resource.clone(), r.seq);
            }
        }
        if page.len() < crate::monitor::PAGE as usize {
            break;
        }
    }
    Ok(latest.into_iter().collect())
}

/// Whether `store`'s log holds the backup's last record, at its place.
fn holds_head(store: &dyn AuditStore, manifest: &Manifest) -> anyhow::Result<bool> {
    if manifest.audit_size == 0 {
        return Ok(true);
    }
    let at = store.query(&AuditFilter {
        after_seq: Some(manifest.audit_size - 1),
        limit: Some(1),
        ..Default::default()
    })?;
    Ok(at
        .first()
        .is_some_and(|r| r.seq == manifest.audit_size && r.hash == manifest.head_hash))
}

/// Opens the restored directory, verifies its log, re-applies the erasures and the
/// retention policy, and records the restore.
fn finish(
    o: &RestoreOptions,
    options: Options,
    manifest: &Manifest,
    later: &[(String, u64)],
) -> anyhow::Result<RestoreReport> {
    let airlock = Airlock::open_with(
        &o.into,
        Options {
            master_key: Some(o.master_key),
            ..options
        },
    )?;
    airlock.claim_audit_log(std::time::Duration::ZERO)?;
    if let Err(tampered) = airlock.verify_audit(&Default::default())? {
        anyhow::bail!("the restored audit log does not verify: {tampered}");
    }
    anyhow::ensure!(
        holds_head(airlock.store(), manifest)?,
        "the restored audit log does not end with the record the backup names"
    );
    let actor = Actor::cli();
    let admin = airlock.admin(&actor);
    for (user, seq) in later {
        admin.dsr_reapply_erasure(user, *seq)?;
    }
    let retention = match o.retention.is_empty() {
        true => None,
        false => Some(admin.apply_retention(
            &o.retention,
            time::OffsetDateTime::now_utc(),
            false,
            &mut |_| {},
        )?),
    };
    let (_, sha256) = hash_file(&o.backup)?;
    let d = BTreeMap::from([
        ("backup_sha256".to_string(), sha256),
        ("audit_size".into(), manifest.audit_size.to_string()),
        ("files".into(), manifest.files.len().to_string()),
        ("erasures_reapplied".into(), later.len().to_string()),
        ("verified".into(), "true".into()),
    ]);
    admin.audited("admin.restore", "", || Ok(((), d)))?;
    airlock.checkpoint_if_new()?;
    Ok(RestoreReport {
        into: o.into.display().to_string(),
        files: manifest.files.len(),
        audit_size: manifest.audit_size,
        erasures_reapplied: later.to_vec(),
        retention,
    })
}
