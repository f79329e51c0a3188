//! `airlock audit …` commands for the log's integrity: verify, key, checkpoint, proof,
//! prune.

use crate::app::Airlock;
use crate::checkpoint::{Checkpoint, parse_public_key};
use crate::integrity::VerifyOptions;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `airlock audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Checkpoints exported earlier (JSON Lines): prove the log still holds everything up
    /// to each of them.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// The public key (hex) every checkpoint must be signed with; take it from
    /// `airlock audit key` while the host is trusted.
    #[arg(long)]
    pub public_key: Option<String>,
    /// First index the records an earlier process acknowledged but did not index (after
    /// a crash): this takes the log, and is refused while the service runs. Without it,
    /// verify only reads, and checks what is indexed.
    #[arg(long)]
    pub recover: bool,
    /// Fail (exit 2) unless the log was checked against something kept off this host:
    /// exported checkpoints or a pinned public key.
    #[arg(long)]
    pub strict: bool,
}

/// `airlock audit checkpoint [export]`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// What to do; without one, sign a checkpoint of the log as it is now.
    #[command(subcommand)]
    pub action: Option<CheckpointAction>,
}

/// Checkpoint actions.
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointAction {
    /// Write every signed checkpoint as JSON Lines, for storage off the host.
    Export {
        /// The file to write (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `airlock audit prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Delete records older than this many days.
    #[arg(long)]
    pub older_than_days: u64,
    /// Really delete them. Without it, prune only says what it would delete.
    #[arg(long)]
    pub yes: bool,
}

/// Verifies the log; exit 1 naming the first bad sequence number.
pub fn verify(airlock: &Airlock, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if args.recover {
        airlock.claim_audit_log(std::time::Duration::ZERO)?;
    }
    let mut options = VerifyOptions::default();
    if let Some(path) = &args.checkpoints {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let cp: Checkpoint = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a checkpoint", path.display(), i + 1))?;
            options.exported.push(cp);
        }
    }
    if let Some(key) = &args.public_key {
        options.trusted_key =
            Some(parse_public_key(key).map_err(|e| anyhow::anyhow!("--public-key: {e}"))?);
    }
    let anchored = !options.exported.is_empty() || options.trusted_key.is_some();
    match airlock.verify_audit(&options)? {
        Ok(v) => {
            println!(
                "audit log OK: {} records verified ({} pruned, {} signed checkpoints match)",
                v.records, v.pruned, v.checkpoints
            );
            if anchored {
                return Ok(ExitCode::SUCCESS);
            }
            // The host's own key signed every checkpoint checked: a log replaced and
            // re-signed on this host would pass too.
            println!(
                "note: this proves the log is internally consistent, not that it is the log \
                 that was written. Pass --checkpoints (exported earlier) or --public-key \
                 (pinned while the host was trusted) to prove that."
            );
            Ok(match args.strict {
                true => ExitCode::from(2),
                false => ExitCode::SUCCESS,
            })
        }
        Err(t) => {
            eprintln!("audit log TAMPERED: {t}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Prints the checkpoint signing key's public half.
pub fn key(airlock: &Airlock) {
    println!("{}", airlock.signer().public_key_hex());
}

/// Signs a checkpoint, or exports them all.
pub fn checkpoint(airlock: &Airlock, args: &CheckpointArgs) -> anyhow::Result<()> {
    match &args.action {
        None => {
            let cp = airlock.checkpoint()?;
            println!("{}", serde_json::to_string(&cp)?);
        }
        Some(CheckpointAction::Export { out }) => {
            let mut text = String::new();
            for cp in airlock.store().checkpoints()? {
                text.push_str(&serde_json::to_string(&cp)?);
                text.push('\n');
            }
            match out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::stdout().write_all(text.as_bytes())?,
            }
        }
    }
    Ok(())
}

/// Prints one record's inclusion proof.
pub fn proof(airlock: &Airlock, seq: u64) -> anyhow::Result<()> {
    let proof = airlock
        .inclusion_proof(seq)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(())
}

/// Applies retention.
pub fn prune(airlock: &Airlock, args: &PruneArgs) -> anyhow::Result<()> {
    if !args.yes {
        let through = airlock.prune_audit_preview(args.older_than_days)?;
        match through {
            0 => println!(
                "no audit record is older than {} days; nothing to prune",
                args.older_than_days
            ),
            seq => println!(
                "would prune the audit records through seq {seq} (older than {} days); \
                 their hashes stay as Merkle leaves. Run again with --yes to delete them",
                args.older_than_days
            ),
        }
        return Ok(());
    }
    let n = airlock.prune_audit(args.older_than_days)?;
    println!(
        "pruned {n} audit records older than {} days",
        args.older_than_days
    );
    Ok(())
}
