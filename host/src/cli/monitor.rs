//! The monitoring commands of the `airlock` CLI: `audit export`, `audit blast-radius`,
//! `alerts`, `metrics`, `review unused` and `review data-map`.

use crate::app::Airlock;
use crate::audit::{AuditFilter, Decision};
use crate::monitor::{AlertQuery, BlastRadiusQuery, ExportFormat};
use clap::Args;
use std::io::Write;

/// `airlock audit export`: stream matching records to stdout.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// `csv` or `jsonl`.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Only this installation.
    #[arg(long)]
    pub installation: Option<String>,
    /// Only this plugin.
    #[arg(long)]
    pub plugin: Option<String>,
    /// Only this resource (ticket, user, … id).
    #[arg(long)]
    pub resource: Option<String>,
    /// Only records naming this field (returned or withheld).
    #[arg(long)]
    pub field: Option<String>,
    /// Only `allow` or `deny`.
    #[arg(long)]
    pub decision: Option<String>,
    /// Only this call (e.g. `http.request`).
    #[arg(long)]
    pub call: Option<String>,
    /// Only records of this actor: a user name, `break-glass` or `cli` (admin and
    /// sign-in records).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only the records of this invocation (`inv_…`, from an event's result).
    #[arg(long)]
    pub invocation: Option<String>,
    /// From this RFC 3339 time (inclusive).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this RFC 3339 time (exclusive).
    #[arg(long)]
    pub until: Option<String>,
    /// Only records after this sequence number.
    #[arg(long)]
    pub after_seq: Option<u64>,
    /// At most this many records.
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `airlock audit blast-radius`.
#[derive(Args, Debug)]
pub struct BlastRadiusArgs {
    /// The installation.
    #[arg(long, required_unless_present = "plugin")]
    pub installation: Option<String>,
    /// Or every installation of this plugin.
    #[arg(long)]
    pub plugin: Option<String>,
    /// From this RFC 3339 time (inclusive).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this RFC 3339 time (exclusive).
    #[arg(long)]
    pub until: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `airlock alerts`.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Only this installation.
    #[arg(long)]
    pub installation: Option<String>,
    /// Only this rule (`new-destination`, `denied-burst`, `read-spike`,
    /// `restricted-read`, `requester-spike`).
    #[arg(long)]
    pub rule: Option<crate::monitor::Rule>,
    /// Only alerts raised at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// How many (oldest first).
    #[arg(short = 'n', long, default_value_t = 100)]
    pub limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// Runs `airlock audit export`.
pub fn export(airlock: &Airlock, a: ExportArgs) -> anyhow::Result<()> {
    let format = ExportFormat::parse(&a.format)?;
    let decision = match a.decision.as_deref() {
        None => None,
        Some("allow") => Some(Decision::Allow),
        Some("deny") => Some(Decision::Deny),
        Some(other) => anyhow::bail!("--decision must be allow or deny, not `{other}`"),
    };
    let filter = AuditFilter {
        installation: a.installation,
        plugin: a.plugin,
        resource: a.resource,
        field: a.field,
        decision,
        call: a.call,
        actor: a.actor,
        invocation: a.invocation,
        since: a.since,
        until: a.until,
        after_seq: a.after_seq,
        limit: a.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let n = airlock.export_audit(&filter, format, &mut out)?;
    out.flush()?;
    // Exporting the audit is an admin action like any other: on the record, by the CLI.
    // A read must still work while a serving process owns the log (only it may append);
    // the export then says it went unrecorded here.
    let details = std::collections::BTreeMap::from([
        ("format".to_string(), a.format.clone()),
        ("records".into(), n.to_string()),
    ]);
    let actor = crate::app::Actor::cli();
    if let Err(e) = airlock.record_by(&actor, "admin.audit.export", "", Ok(()), details) {
        eprintln!(
            "warning: this export is not in the audit log ({e}); export through the serving API (GET /api/v1/audit/export) to have it recorded"
        );
    }
    eprintln!("exported {n} records");
    Ok(())
}

/// Runs `airlock audit blast-radius`.
pub fn blast_radius(airlock: &Airlock, a: BlastRadiusArgs) -> anyhow::Result<()> {
    let report = airlock.blast_radius(&BlastRadiusQuery {
        installation: a.installation,
        plugin: a.plugin,
        since: a.since,
        until: a.until,
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        super::terminal::print(&report.text());
    }
    Ok(())
}

/// Runs `airlock alerts`.
pub fn alerts(airlock: &Airlock, a: AlertsArgs) -> anyhow::Result<()> {
    let alerts = airlock.alerts(&AlertQuery {
        installation: a.installation,
        rule: a.rule,
        since: a.since,
        after_id: None,
        limit: Some(a.limit),
    })?;
    for alert in alerts {
        let line = match a.json {
            true => serde_json::to_string(&alert)?,
            false => format!(
                "#{}\t{}\t{}\t{}\t{}\t(delivery: {})",
                alert.id, alert.time, alert.rule, alert.installation, alert.message, alert.delivery
            ),
        };
        super::terminal::println(&line);
    }
    Ok(())
}

/// Runs `airlock metrics`: the Prometheus text, rebuilt from the audit log.
pub fn metrics(airlock: &Airlock) -> anyhow::Result<()> {
    print!("{}", airlock.metrics_text()?);
    Ok(())
}
