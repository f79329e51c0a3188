//! `airlock backup` and `airlock restore`.

use crate::app::backup::{BackupLock, RestoreOptions, restore as restore_into};
use crate::app::retention::RetentionPolicy;
use crate::app::{Actor, Airlock, Options};
use crate::egress::secrets::{env_key, read_key_file};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// `airlock backup`.
#[derive(Args)]
pub struct BackupArgs {
    /// Write the backup here (it must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Lock it with the passphrase in this environment variable instead of the master
    /// key (the master key is still needed to read the sealed values in it).
    #[arg(long)]
    pub passphrase_env: Option<String>,
}

/// `airlock restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file.
    pub backup: PathBuf,
    /// The master key the backup was taken under, in this file (a copy of that host's
    /// `master.key`); default: AIRLOCK_MASTER_KEY.
    #[arg(long)]
    pub master_key_file: Option<PathBuf>,
    /// The backup's passphrase is in this environment variable.
    #[arg(long)]
    pub passphrase_env: Option<String>,
    /// The data directory whose audit log continues the backup's (the live one, or a
    /// copy of it): the erasures it recorded since are applied again.
    #[arg(long, required_unless_present = "no_later_erasures")]
    pub erasures_from: Option<PathBuf>,
    /// State that no erasure happened since the backup (no live log to read).
    #[arg(long, conflicts_with = "erasures_from")]
    pub no_later_erasures: bool,
}

fn passphrase(var: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(var) = var else { return Ok(None) };
    let value =
        std::env::var(var).with_context(|| format!("the environment variable {var} is not set"))?;
    anyhow::ensure!(
        value.len() >= 12,
        "the passphrase in {var} is shorter than 12 characters"
    );
    Ok(Some(value))
}

/// Takes a backup; the service must be stopped (with it running, `POST /api/v1/backups`).
pub fn backup(airlock: &Airlock, args: &BackupArgs) -> anyhow::Result<()> {
    let lock = match passphrase(args.passphrase_env.as_deref())? {
        Some(p) => BackupLock::Passphrase(p),
        None => BackupLock::MasterKey,
    };
    let report = airlock
        .admin(&Actor::cli())
        .backup(&args.out, lock)
        .map_err(|e| {
            anyhow::anyhow!("{e}").context(
                "with the service running, take the backup through it: POST /api/v1/backups",
            )
        })?;
    println!(
        "backed up {} files and {} audit records to {} ({} bytes, sha256 {})",
        report.files, report.audit_size, report.file, report.bytes, report.sha256
    );
    Ok(())
}

/// Restores a backup into `into`.
pub fn restore(
    into: &Path,
    args: &RestoreArgs,
    options: Options,
    retention: RetentionPolicy,
) -> anyhow::Result<()> {
    let (master_key, write_master_key) = match &args.master_key_file {
        Some(file) => (read_key_file(file)?, true),
        None => match env_key()? {
            Some(key) => (key, false),
            None => anyhow::bail!(
                "a restore needs the master key the backup was taken under: --master-key-file FILE (a copy of that host's master.key), or AIRLOCK_MASTER_KEY"
            ),
        },
    };
    let report = restore_into(RestoreOptions {
        backup: args.backup.clone(),
        into: into.to_path_buf(),
        master_key,
        write_master_key,
        passphrase: passphrase(args.passphrase_env.as_deref())?,
        erasures_from: args.erasures_from.clone(),
        retention,
        options,
    })?;
    println!(
        "restored {} files into {}; {} audit records verify with their checkpoints",
        report.files, report.into, report.audit_size
    );
    for (user, seq) in &report.erasures_reapplied {
        println!("erased {user} again (erased in the live log at record {seq})");
    }
    if let Some(r) = &report.retention {
        println!("retention: {}", serde_json::to_string(r)?);
    }
    Ok(())
}
