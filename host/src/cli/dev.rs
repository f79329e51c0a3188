//! `airlock dev`: run a plugin locally against fixture data and an event, and show every
//! call it made, what came back, and what was withheld and why.

use crate::app::Airlock;
use crate::audit::{AuditEntry, Decision};
use crate::dispatch::EventRequest;
use crate::installation::Grants;
use crate::model::Dataset;
use crate::runtime::{Failure, RuntimeLimits};
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;

/// What `airlock dev` runs.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The component.
    pub component: PathBuf,
    /// Its `plugin.toml`.
    pub manifest: PathBuf,
    /// A data set (JSON) to load first.
    pub fixture: Option<PathBuf>,
    /// The event (JSON, as posted to `/api/v1/events`).
    pub event: PathBuf,
    /// Settings (JSON object); none for `{}`.
    pub settings: Option<PathBuf>,
    /// Read grants; `None` grants everything declared.
    pub grant_read: Option<Vec<String>>,
    /// Write grants; `None` grants everything declared.
    pub grant_write: Option<Vec<String>>,
}

/// What happened in a dev run.
pub struct DevReport {
    /// The brokered calls, in order, ending with the invocation's outcome.
    pub calls: Vec<AuditEntry>,
    /// The outcome.
    pub outcome: Result<String, Failure>,
    /// What the plugin logged.
    pub logs: Vec<crate::capability::log::LogLine>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// Runs the plugin once in a throw-away data directory.
pub fn run(opts: &DevOptions) -> anyhow::Result<DevReport> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let airlock = Airlock::open(scratch.path(), RuntimeLimits::default())?;
    let component = std::fs::read(&opts.component)
        .with_context(|| format!("cannot read component {}", opts.component.display()))?;
    let manifest_name = opts.manifest.display().to_string();
    let manifest_text = read(&opts.manifest, "manifest")?;
    let inst = airlock.install(&manifest_name, &manifest_text, &component, None)?;
    let declared = &inst.manifest.data;
    let grants = Grants {
        read: opts
            .grant_read
            .clone()
            .map(|v| v.into_iter().collect())
            .unwrap_or_else(|| declared.read.clone()),
        write: opts
            .grant_write
            .clone()
            .map(|v| v.into_iter().collect())
            .unwrap_or_else(|| declared.write.clone()),
        // Every declared destination, as with fields.
        egress: inst
            .manifest
            .egress
            .iter()
            .map(|r| r.destination.clone())
            .collect(),
        reveal: declared.reveal.clone(),
        kv: inst.manifest.storage.kv,
    };
    airlock.set_grants(&inst.id, grants)?;
    if let Some(path) = &opts.settings {
        let settings = serde_json::from_str(&read(path, "settings")?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        airlock.set_settings(&inst.id, settings)?;
    }
    if let Some(path) = &opts.fixture {
        let data: Dataset = serde_json::from_str(&read(path, "fixture data")?)
            .with_context(|| format!("{} is not a valid data set", path.display()))?;
        airlock.import(&data)?;
    }
    let event: EventRequest = serde_json::from_str(&read(&opts.event, "event")?)
        .with_context(|| format!("{} is not a valid event", opts.event.display()))?;
    let inst = airlock.installation(&inst.id)?;
    let mut results = Vec::new();
    // Dispatch stores the event's records and runs every subscriber (only this one).
    for r in airlock.handle_event(event)? {
        results.push(r);
    }
    let Some(result) = results.pop() else {
        anyhow::bail!(
            "plugin `{}` does not subscribe to this event; its manifest lists events {:?}",
            inst.manifest.name,
            inst.manifest
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
        );
    };
    let calls = airlock.audit(&crate::audit::AuditFilter {
        limit: Some(10_000),
        ..Default::default()
    })?;
    Ok(DevReport {
        // Each call once: its outcome (a call with an effect also has an intent record).
        calls: calls
            .into_iter()
            .map(|r| r.entry)
            .filter(|e| !crate::broker::is_intent(e))
            .collect(),
        outcome: match (result.summary, result.failure) {
            (Some(s), _) => Ok(s),
            (None, Some(f)) => Err(f),
            (None, None) => Ok(String::new()),
        },
        logs: result.logs,
    })
}

impl DevReport {
    /// One JSON object per call, then one for the outcome.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let mut lines: Vec<serde_json::Value> = self
            .calls
            .iter()
            .filter(|c| c.call != crate::runtime::OUTCOME_CALL)
            .map(|c| {
                json!({
                    "call": c.call,
                    "resource": c.resource,
                    "fields_returned": c.fields_returned,
                    "fields_withheld": c.fields_withheld,
                    "decision": c.decision.map_or("", Decision::as_str),
                    "reason": c.reason,
                    "redactions": c.redactions,
                })
            })
            .collect();
        lines.push(match &self.outcome {
            Ok(summary) => json!({"outcome": "ok", "summary": summary, "logs": self.logs}),
            Err(f) => json!({"outcome": "failed", "failure": f, "logs": self.logs}),
        });
        lines
    }

    /// A human-readable account of the run.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in self
            .calls
            .iter()
            .filter(|c| c.call != crate::runtime::OUTCOME_CALL)
        {
            let decision = c.decision.map_or("?", Decision::as_str);
            out.push_str(&format!(
                "{} {} → {decision} ({})\n",
                c.call, c.resource, c.reason
            ));
            if !c.fields_returned.is_empty() {
                out.push_str(&format!("  returned: {}\n", c.fields_returned.join(", ")));
            }
            for w in &c.fields_withheld {
                out.push_str(&format!("  {} withheld: {}\n", w.field, w.reason));
            }
            for (class, n) in &c.redactions {
                out.push_str(&format!("  redacted {n} × {class}\n"));
            }
        }
        for line in &self.logs {
            out.push_str(&format!("log [{}] {}\n", line.level.as_str(), line.message));
        }
        match &self.outcome {
            Ok(summary) => out.push_str(&format!("outcome: ok: {summary}\n")),
            Err(f) => out.push_str(&format!(
                "outcome: failed ({}): {}\n",
                f.kind.as_str(),
                f.message
            )),
        }
        out
    }
}
