//! `airlock redact`: the redaction engine as an admin tool.
//!
//! - `airlock redact` reads text on stdin and prints it redacted under the default policy;
//! - `airlock redact --spans` reads JSON Lines `{"id": …, "text": …}` and writes
//!   `{"id": …, "spans": [{"class", "start", "end"}]}` (UTF-8 byte offsets), one line per
//!   input line, in order;
//! - `airlock redact backfill [--apply]` masks helpdesk data stored before the rules
//!   changed: a dry run by default, counting per class; resumable after an interrupt.

use crate::app::Airlock;
use crate::model::Kind;
use crate::redaction::EngineRedaction;
use airlock_redact::Policy;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};

/// The file in the data directory that records a backfill's progress.
pub const CURSOR_FILE: &str = "backfill.cursor";
const KINDS: [Kind; 4] = [Kind::Organization, Kind::User, Kind::Ticket, Kind::Comment];

/// `airlock redact`.
#[derive(Debug, clap::Args)]
pub struct RedactArgs {
    /// Read JSON Lines `{"id", "text"}` and print the spans found instead.
    #[arg(long)]
    pub spans: bool,
    /// Apply the rules to stored helpdesk data.
    #[command(subcommand)]
    pub command: Option<RedactCommand>,
}

/// `airlock redact …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RedactCommand {
    /// Mask sensitive data in stored helpdesk records (dry run unless --apply).
    Backfill {
        /// Rewrite the records; without it, only count what would be masked.
        #[arg(long)]
        apply: bool,
        /// Records per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

/// The policy for admin tools: no reveal grants.
fn default_policy(engine: &EngineRedaction) -> Policy {
    engine.policy("airlock", &BTreeSet::new())
}

/// Redacts stdin to stdout.
pub fn redact_stdin(engine: &EngineRedaction) -> anyhow::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let out = engine.redactor().redact(&text, &default_policy(engine));
    std::io::stdout().write_all(out.text.as_bytes())?;
    Ok(())
}

/// One `--spans` output line for one input line.
///
/// ```
/// # use airlock_host::redaction::{EngineRedaction, RedactionConfig};
/// let engine = EngineRedaction::new(&RedactionConfig::default(), [0; 32]).unwrap();
/// let line = airlock_host::cli::redact::spans_line(&engine, r#"{"id": 7, "text": "SSN 123-45-6789"}"#, 1);
/// assert_eq!(line["spans"][0]["class"], "us_ssn");
/// assert_eq!((line["spans"][0]["start"].as_u64(), line["spans"][0]["end"].as_u64()), (Some(4), Some(15)));
/// ```
pub fn spans_line(engine: &EngineRedaction, line: &str, number: usize) -> Value {
    let parsed: Result<Value, _> = serde_json::from_str(line);
    let Ok(Value::Object(input)) = parsed else {
        return json!({"id": null, "error": format!("line {number}: not a JSON object")});
    };
    let id = input.get("id").cloned().unwrap_or(Value::Null);
    let Some(text) = input.get("text").and_then(Value::as_str) else {
        return json!({"id": id, "error": format!("line {number}: `text` must be a string")});
    };
    let spans: Vec<Value> = engine
        .redactor()
        .find_spans(text)
        .into_iter()
        .map(|s| json!({"class": s.class.to_string(), "start": s.start, "end": s.end}))
        .collect();
    json!({"id": id, "spans": spans})
}

/// Reads JSON Lines on stdin and writes one spans line per input line.
pub fn spans_stdin(engine: &EngineRedaction) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        writeln!(out, "{}", spans_line(engine, &line, i + 1))?;
    }
    out.flush()?;
    Ok(())
}

/// What a backfill found (and, with `apply`, changed).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct BackfillReport {
    /// Records scanned.
    pub scanned: u64,
    /// Records with something to mask.
    pub changed: u64,
    /// Values masked, per class.
    pub classes: BTreeMap<String, u64>,
    /// Where an interrupted `--apply` run stopped: (kind index, last id).
    pub cursor: Option<(usize, String)>,
}

fn redact_value(
    engine: &EngineRedaction,
    policy: &Policy,
    value: &mut Value,
    report: &mut BackfillReport,
) -> bool {
    match value {
        Value::String(text) => {
            let out = engine.redactor().redact(text, policy);
            if out.counts.is_empty() {
                return false;
            }
            for (class, n) in &out.counts {
                *report.classes.entry(class.to_string()).or_default() += *n as u64;
            }
            *text = out.text.into_owned();
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| {
            redact_value(engine, policy, v, report) | changed
        }),
        Value::Object(map) => map.values_mut().fold(false, |changed, v| {
            redact_value(engine, policy, v, report) | changed
        }),
        _ => false,
    }
}

/// Runs a backfill. With `apply`, progress is saved after every batch so an interrupted
/// run resumes where it stopped.
pub fn backfill(
    airlock: &Airlock,
    engine: &EngineRedaction,
    apply: bool,
    batch: u32,
) -> anyhow::Result<BackfillReport> {
    let policy = default_policy(engine);
    let data = airlock.data_dir();
    let mut report: BackfillReport = match (apply, data.read_text(CURSOR_FILE)) {
        (true, Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
        _ => BackfillReport::default(),
    };
    let total: u64 = KINDS
        .iter()
        .map(|k| airlock.store().count(*k).unwrap_or(0))
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg:12} [{bar:30}] {pos}/{len} ({eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(report.scanned);
    let (start_kind, mut after) = report.cursor.clone().unwrap_or((0, String::new()));
    for (k, kind) in KINDS.iter().enumerate().skip(start_kind) {
        bar.set_message(kind.table());
        if k != start_kind {
            after.clear();
        }
        loop {
            let page = airlock.store().page(*kind, &after, batch.max(1))?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            let mut changed = Vec::new();
            for (id, mut record) in page {
                let mut dirty = false;
                for (key, value) in record.iter_mut() {
                    if !kind.identity_keys().contains(&key.as_str()) {
                        dirty |= redact_value(engine, &policy, value, &mut report);
                    }
                }
                report.scanned += 1;
                if dirty {
                    report.changed += 1;
                    changed.push((*kind, id, record));
                }
            }
            if apply {
                airlock.store().put_many(&changed)?;
                report.cursor = Some((k, after.clone()));
                data.write_text(CURSOR_FILE, &serde_json::to_string(&report)?)?;
            }
            bar.set_position(report.scanned);
        }
    }
    bar.finish_and_clear();
    report.cursor = None;
    if apply {
        let _ = std::fs::remove_file(data.path().join(CURSOR_FILE));
    }
    Ok(report)
}
