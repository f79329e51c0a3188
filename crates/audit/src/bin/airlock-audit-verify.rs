//! `airlock-audit-verify`: checks an exported Airlock audit log away from the host.
//!
//! ```text
//! airlock-audit-verify <log.jsonl> [--checkpoints <cps.jsonl>] [--public-key <hex>]
//! ```
//!
//! `<log.jsonl>` is `airlock audit export --format jsonl` (or `-` for stdin);
//! `<cps.jsonl>` is `airlock audit checkpoint export`; `--public-key` is
//! `airlock audit key`. Exit status 0 when the log verifies, 1 when it does not, 2 on
//! bad usage or unreadable input.
#![forbid(unsafe_code)]

use airlock_audit::checkpoint::{Checkpoint, parse_public_key};
use airlock_audit::offline::verify_export;
use airlock_audit::record::AuditRecord;
use std::io::{BufRead, BufReader, Read};
use std::process::ExitCode;

const USAGE: &str =
    "usage: airlock-audit-verify <log.jsonl | -> [--checkpoints <cps.jsonl>] [--public-key <hex>]";

fn lines<T: serde::de::DeserializeOwned>(path: &str, what: &str) -> Result<Vec<T>, String> {
    let reader: Box<dyn Read> = match path {
        "-" => Box::new(std::io::stdin()),
        _ => Box::new(std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {path}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| format!("{path} line {}: not {what}: {e}", i + 1))?,
        );
    }
    Ok(out)
}

fn run() -> Result<Result<String, String>, String> {
    let mut args = std::env::args().skip(1);
    let (mut log, mut checkpoints, mut key) = (None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--checkpoints" => checkpoints = Some(args.next().ok_or(USAGE)?),
            "--public-key" => key = Some(args.next().ok_or(USAGE)?),
            "-h" | "--help" => return Err(USAGE.into()),
            _ if log.is_none() => log = Some(arg),
            _ => return Err(USAGE.into()),
        }
    }
    let log = log.ok_or(USAGE)?;
    let records: Vec<AuditRecord> = lines(&log, "an audit record")?;
    let checkpoints: Vec<Checkpoint> = match checkpoints {
        Some(path) => lines(&path, "a checkpoint")?,
        None => Vec::new(),
    };
    let key = key
        .map(|k| parse_public_key(&k))
        .transpose()
        .map_err(|e| format!("--public-key: {e}"))?;
    Ok(verify_export(records, &checkpoints, key.as_ref()).map(|r| {
        format!(
            "ok: records {}..={} ({}) chain intact; {} checkpoint(s) matched, {} not covered by this export",
            r.first, r.last, r.records, r.checkpoints_matched, r.checkpoints_skipped
        )
    }))
}

fn main() -> ExitCode {
    match run() {
        Ok(Ok(report)) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Ok(Err(tampered)) => {
            eprintln!("TAMPERED: {tampered}");
            ExitCode::from(1)
        }
        Err(usage) => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}
