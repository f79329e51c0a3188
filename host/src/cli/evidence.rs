//! `airlock evidence export|verify`: a signed bundle for auditors, and its check without
//! the data directory.

use crate::app::{Actor, Airlock};
use crate::checkpoint::parse_public_key;
use crate::evidence::{Period, verify_bundle};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `airlock evidence export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The directory to write (must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The period's start (RFC 3339); default: `--days` ago.
    #[arg(long)]
    pub since: Option<String>,
    /// The period's end (RFC 3339); default: now.
    #[arg(long)]
    pub until: Option<String>,
    /// The period's length when `--since` is not given, in days.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Include the stored audit log (`audit.jsonl`), so the chain and checkpoints can be
    /// checked offline too.
    #[arg(long)]
    pub with_log: bool,
}

/// `airlock evidence …`.
#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Write a signed evidence bundle to a new directory.
    Export(ExportArgs),
    /// Check a bundle: signature, digests, checkpoints, and the log when included. Needs
    /// only the directory.
    Verify {
        /// The bundle's directory.
        dir: PathBuf,
        /// The host key (hex, `airlock audit key`) the bundle must be signed with. Without
        /// it, the bundle is checked against the key it names, which proves integrity
        /// but not origin.
        #[arg(long)]
        public_key: Option<String>,
    },
}

fn rfc3339(flag: &str, text: &str) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("{flag} is not an RFC 3339 time such as 2026-01-01T00:00:00Z"))
}

/// Runs `airlock evidence export`.
pub fn export(airlock: &Airlock, args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs {
        out,
        since,
        until,
        days,
        with_log,
    } = args;
    let now = time::OffsetDateTime::now_utc();
    let until = match until {
        Some(u) => rfc3339("--until", &u)?,
        None => now,
    };
    let since = match since {
        Some(s) => rfc3339("--since", &s)?,
        None => until - time::Duration::days(i64::from(days)),
    };
    anyhow::ensure!(since <= until, "--since is after --until");
    let period = Period {
        since: crate::audit::rfc3339_millis(since),
        until: crate::audit::rfc3339_millis(until),
    };
    let actor = Actor::cli();
    let manifest = airlock
        .admin(&actor)
        .export_evidence(&out, period, with_log)?;
    println!(
        "wrote {} files and a signed manifest to {}; check it with `airlock evidence verify {} --public-key {}`",
        manifest.files.len(),
        out.display(),
        out.display(),
        manifest.host_public_key
    );
    Ok(())
}

/// Runs `airlock evidence verify`: exit 0 when the bundle verifies, 1 when it does not.
pub fn verify(dir: &std::path::Path, public_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let trusted = public_key
        .map(parse_public_key)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?;
    match verify_bundle(dir, trusted.as_ref()) {
        Ok(report) => {
            let m = &report.manifest;
            println!(
                "evidence OK: {} files match the manifest signed by {} at {} (period {} to {}); {} checkpoint signature(s) verified",
                m.files.len(),
                m.host_public_key,
                m.created_at,
                m.period.since,
                m.period.until,
                report.checkpoints
            );
            if let Some(log) = report.log {
                println!(
                    "audit log OK: records {}..={} chain intact; {} checkpoint(s) matched",
                    log.first, log.last, log.checkpoints_matched
                );
            }
            if trusted.is_none() {
                println!(
                    "note: checked against the key the bundle names; pass --public-key to prove it came from your host"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!("TAMPERED or incomplete: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}
