//! `airlock incident report`: the data subjects an installation touched in a window.

use crate::app::incident::IncidentQuery;
use crate::app::{Actor, Airlock};
use clap::Args;

/// `airlock incident report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The installation.
    #[arg(long)]
    pub installation: String,
    /// The window's start (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    pub since: String,
    /// The window's end.
    #[arg(long)]
    pub until: Option<String>,
    /// `csv` (default) or `json`.
    #[arg(long, default_value = "csv")]
    pub format: String,
}

/// Prints the report (and records that it was made).
pub fn report(airlock: &Airlock, args: ReportArgs) -> anyhow::Result<()> {
    let query = IncidentQuery {
        installation: args.installation,
        since: args.since,
        until: args.until,
    };
    let actor = Actor::cli();
    let report = airlock.admin(&actor).incident_report(&query)?;
    match args.format.as_str() {
        "csv" => print!("{}", report.csv()),
        "json" => println!("{}", serde_json::to_string_pretty(&report)?),
        other => anyhow::bail!("--format is csv or json, not `{}`", other.escape_debug()),
    }
    if !report.unresolved.is_empty() {
        eprintln!(
            "{} record(s) touched are gone from the helpdesk store, their subjects unknown: {}",
            report.unresolved.len(),
            report
                .unresolved
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
