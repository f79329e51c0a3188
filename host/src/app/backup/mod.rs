//! Backups and restores with the protection of live data.
//!
//! A backup ([`Admin::backup`], `admin.backup` in the log) is one encrypted file
//! ([`archive`]): a consistent copy of the database (helpdesk data, installations,
//! accounts, kv entries, alerts, the audit log and its checkpoints, and the wrapped data
//! keys), the checkpoint signing key, the redaction key and the installed components. It
//! never holds the master key: without it, even an opened backup shows no sensitive
//! helpdesk value, kv value or secret, which stay sealed under data keys it wraps.
//!
//! A restore ([`restore`]) writes into a new directory only, refuses a backup that does
//! not authenticate, verifies the audit chain and its checkpoints, re-applies every
//! erasure recorded since the backup was taken (from the live audit log), applies the
//! retention policy, and records `admin.restore`, all before anything serves from it.

pub mod archive;
mod restore;

pub use restore::{RestoreOptions, RestoreReport, restore};

use super::admin::Admin;
use super::{AppError, AppResult};
use archive::{ArchiveWriter, Entry, Manifest, Unlock};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The data directory's folder for backups the service takes.
pub const BACKUP_DIR: &str = "backups";

/// How a backup is locked.
pub enum BackupLock {
    /// By the master key in use.
    MasterKey,
    /// By a passphrase (the master key is still needed to read sealed values).
    Passphrase(String),
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// Where it was written.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256 (hex), as recorded in the log.
    pub sha256: String,
    /// How many audit records it holds.
    pub audit_size: u64,
    /// How many files it holds.
    pub files: usize,
}

/// Counts and hashes what passes through.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hash.update(&data[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The size and SHA-256 (hex) of a file, read once through.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut sink = Hashing {
        inner: std::io::sink(),
        hash: Sha256::new(),
        bytes: 0,
    };
    std::io::copy(&mut std::fs::File::open(path)?, &mut sink)?;
    Ok((sink.bytes, hex::encode(sink.hash.finalize())))
}

/// Removes a file when dropped (the database copy, a half-written backup).
struct Doomed(PathBuf);

impl Drop for Doomed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_failed(what: String) -> impl FnOnce(std::io::Error) -> AppError {
    move |e| AppError::Internal(anyhow::Error::new(e).context(what))
}

/// A new file only its owner may read.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Admin<'_> {
    /// Takes a backup into `out` (which must not exist), while the service runs.
    pub fn backup(&self, out: &Path, lock: BackupLock) -> AppResult<BackupReport> {
        self.audited("admin.backup", "", || {
            let report = self.airlock.write_backup(out, lock)?;
            let d = BTreeMap::from([
                ("sha256".to_string(), report.sha256.clone()),
                ("bytes".into(), report.bytes.to_string()),
                ("audit_size".into(), report.audit_size.to_string()),
                ("files".into(), report.files.to_string()),
            ]);
            Ok((report, d))
        })
    }

    /// Takes a backup into the data directory's `backups/` folder, named by its time.
    pub fn backup_in_data_dir(&self) -> AppResult<BackupReport> {
        let dir = self.airlock.data.path().join(BACKUP_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(io_failed(format!("cannot create {}", dir.display())))?;
        let stamp = crate::audit::now_rfc3339().replace([':', '.'], "-");
        self.backup(
            &dir.join(format!("airlock-{stamp}.backup")),
            BackupLock::MasterKey,
        )
    }
}

impl super::Airlock {
    fn write_backup(&self, out: &Path, lock: BackupLock) -> AppResult<BackupReport> {
        if out.exists() {
            return Err(AppError::Conflict(format!(
                "{} exists: a backup never overwrites a file",
                out.display()
            )));
        }
        let master = self.master_key().material().map_err(AppError::Internal)?;
        let unlock = match lock {
            BackupLock::MasterKey => Unlock::Master(master.clone()),
            BackupLock::Passphrase(p) => Unlock::Passphrase(p),
        };
        let scratch = self.data.path().join(BACKUP_DIR);
        std::fs::create_dir_all(&scratch)
            .map_err(io_failed(format!("cannot create {}", scratch.display())))?;
        let copy = Doomed(scratch.join(format!(
            ".copy-{}.db",
            hex::encode(rand::random::<[u8; 8]>())
        )));
        let point = self.store.backup_to(&copy.0)?;
        let mut files = vec![("airlock.db".to_string(), copy.0.clone())];
        files.extend(self.data_files()?);
        let mut entries = Vec::new();
        for (name, path) in &files {
            let (size, sha256) =
                hash_file(path).map_err(io_failed(format!("cannot read {}", path.display())))?;
            entries.push(Entry {
                name: name.clone(),
                size,
                sha256,
            });
        }
        let manifest = Manifest {
            airlock: env!("CARGO_PKG_VERSION").into(),
            master_fingerprint: master.fingerprint(),
            audit_size: point.audit_size,
            head_hash: point.head_hash,
            files: entries,
        };
        let partial = Doomed(out.with_extension("partial"));
        let file = create_private(&partial.0)
            .map_err(io_failed(format!("cannot create {}", partial.0.display())))?;
        let sink = Hashing {
            inner: std::io::BufWriter::new(file),
            hash: Sha256::new(),
            bytes: 0,
        };
        let written = (|| -> std::io::Result<Hashing<_>> {
            let mut w = ArchiveWriter::new(sink, &unlock, crate::audit::now_rfc3339())?;
            w.manifest(&manifest)?;
            for (entry, (_, path)) in manifest.files.iter().zip(&files) {
                let mut f = std::fs::File::open(path)?;
                let copied = std::io::copy(&mut f, &mut w)?;
                if copied != entry.size {
                    return Err(std::io::Error::other(format!(
                        "{} changed while it was copied",
                        entry.name
                    )));
                }
            }
            let mut sink = w.finish()?;
            sink.inner.flush()?;
            sink.inner.get_ref().sync_all()?;
            Ok(sink)
        })()
        .map_err(io_failed(format!(
            "cannot write the backup {}",
            out.display()
        )))?;
        std::fs::hard_link(&partial.0, out)
            .map_err(io_failed(format!("cannot create {}", out.display())))?;
        Ok(BackupReport {
            file: out.display().to_string(),
            bytes: written.bytes,
            sha256: hex::encode(written.hash.finalize()),
            audit_size: point.audit_size,
            files: manifest.files.len(),
        })
    }

    /// The data directory's files a backup holds besides the database: the checkpoint
    /// signing key, the redaction key and the components. Never the master key.
    fn data_files(&self) -> AppResult<Vec<(String, PathBuf)>> {
        let root = self.data.path();
        let mut files = Vec::new();
        for name in [crate::checkpoint::KEY_FILE, crate::redaction::KEY_FILE] {
            if root.join(name).is_file() {
                files.push((name.to_string(), root.join(name)));
            }
        }
        let components = root.join("components");
        let listed = std::fs::read_dir(&components)
            .map_err(io_failed(format!("cannot list {}", components.display())))?;
        let mut names = Vec::new();
        for entry in listed {
            let entry =
                entry.map_err(io_failed(format!("cannot list {}", components.display())))?;
            let name = format!("components/{}", entry.file_name().to_string_lossy());
            if archive::safe_name(&name) {
                names.push((name, entry.path()));
            }
        }
        names.sort();
        files.extend(names);
        Ok(files)
    }
}
