//! `airlock dev`: run a plugin locally against fixture data and an event, and show every
//! call it made, what came back, what was withheld and why, what it wrote and where it
//! sent requests. `airlock test` ([`super::plugin_test`]) runs the same way.

use crate::app::{Airlock, Options};
use crate::audit::{AuditEntry, Decision};
use crate::dispatch::EventRequest;
use crate::egress::EgressConfig;
use crate::egress::stub::{StubbedRequest, Stubs};
use crate::installation::Grants;
use crate::model::{Dataset, Kind};
use crate::runtime::{Failure, RuntimeLimits};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `airlock dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// The component (.wasm).
    pub component: PathBuf,
    /// Its plugin.toml.
    #[arg(long)]
    pub manifest: PathBuf,
    /// The event file (JSON).
    #[arg(long, required_unless_present = "replay")]
    pub event: Option<PathBuf>,
    /// Re-run this recorded invocation of the data directory (--data-dir) against this
    /// build, in a scratch copy, and show how its calls and outcome differ.
    #[arg(long, conflicts_with_all = ["event", "data", "settings", "grant_read", "grant_write"])]
    pub replay: Option<String>,
    /// Fixture data (JSON data set).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Settings (JSON object).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Grant only these read fields (comma-separated); default: all declared.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub grant_read: Option<Vec<String>>,
    /// Grant only these write fields (comma-separated); default: all declared.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub grant_write: Option<Vec<String>>,
    /// One JSON object per call, then one for the outcome.
    #[arg(long)]
    pub json: bool,
    /// Dev mode, as for `serve`: plain-http requests to loopback addresses allowed.
    #[arg(long)]
    pub dev: bool,
    /// Answer outbound requests from this stub file (TOML, `[[stub]]` tables) after every
    /// real check, never from the network.
    #[arg(long)]
    pub http_stub: Option<PathBuf>,
}

/// Runs `airlock dev` (or its replay) and prints the report; exit 1 when the run failed.
pub fn command(
    data_dir: &Path,
    args: DevArgs,
    mut egress: EgressConfig,
    limits: RuntimeLimits,
) -> anyhow::Result<std::process::ExitCode> {
    egress.dev_mode |= args.dev;
    let files = DevOptions {
        component: args.component,
        manifest: args.manifest,
        fixture: args.data,
        event: args.event.unwrap_or_default(),
        settings: args.settings,
        grant_read: args.grant_read,
        grant_write: args.grant_write,
        http_stub: args.http_stub,
    };
    if let Some(invocation) = args.replay {
        let report = super::replay::replay(data_dir, &invocation, &files, egress, limits)?;
        super::terminal::print(&report.text());
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let report = run(files.load(egress, limits)?)?;
    if args.json {
        for line in report.json_lines() {
            super::terminal::println(&line.to_string());
        }
    } else {
        super::terminal::print(&report.text());
    }
    Ok(match report.outcome {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::from(1),
    })
}

/// The files `airlock dev` reads.
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
    /// HTTP stubs (TOML, `[[stub]]` tables): egress is answered by them, never the
    /// network.
    pub http_stub: Option<PathBuf>,
}

/// One run, in memory: what `airlock dev` reads from files and `airlock test` from a
/// case.
pub struct DevRun {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// Where the manifest came from (for messages).
    pub manifest_name: String,
    /// The manifest's text.
    pub manifest: String,
    /// Records to load first.
    pub fixture: Option<Dataset>,
    /// The event.
    pub event: DevEvent,
    /// Settings.
    pub settings: Option<Value>,
    /// Read grants; `None` grants everything declared.
    pub grant_read: Option<Vec<String>>,
    /// Write grants; `None` grants everything declared.
    pub grant_write: Option<Vec<String>>,
    /// Outbound HTTP settings (dev mode from `--dev` or the config).
    pub egress: EgressConfig,
    /// The sandbox's limits (from the config).
    pub limits: RuntimeLimits,
    /// The stubs that answer egress, if any.
    pub stubs: Option<Arc<Stubs>>,
}

/// The event of a dev run: one the API takes, or a scheduled run (`{"type":
/// "schedule"}`), which only the scheduler makes in a service.
pub enum DevEvent {
    /// As posted to `/api/v1/events`.
    Posted(Box<EventRequest>),
    /// A scheduled run.
    Schedule,
}

impl<'de> serde::Deserialize<'de> for DevEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value.get("type").and_then(Value::as_str) == Some("schedule") {
            return Ok(DevEvent::Schedule);
        }
        serde_json::from_value(value)
            .map(|e| DevEvent::Posted(Box::new(e)))
            .map_err(serde::de::Error::custom)
    }
}

/// What happened in a dev run.
pub struct DevReport {
    /// The brokered calls, in order, ending with the invocation's outcome.
    pub calls: Vec<AuditEntry>,
    /// The outcome.
    pub outcome: Result<String, Failure>,
    /// What the plugin logged.
    pub logs: Vec<crate::capability::log::LogLine>,
    /// The values of the fields it wrote, by field path, as stored afterwards.
    pub writes: BTreeMap<String, Value>,
    /// The requests the stubs received (only with stubs).
    pub requests: Vec<StubbedRequest>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn json_file<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    serde_json::from_str(&read(path, what)?)
        .with_context(|| format!("{} is not a valid {what}", path.display()))
}

impl DevOptions {
    /// Reads the files into a run, with the egress settings and limits given.
    pub fn load(&self, egress: EgressConfig, limits: RuntimeLimits) -> anyhow::Result<DevRun> {
        Ok(DevRun {
            component: std::fs::read(&self.component)
                .with_context(|| format!("cannot read component {}", self.component.display()))?,
            manifest_name: self.manifest.display().to_string(),
            manifest: read(&self.manifest, "manifest")?,
            fixture: self
                .fixture
                .as_deref()
                .map(|p| json_file(p, "data set"))
                .transpose()?,
            event: json_file(&self.event, "event")?,
            settings: self
                .settings
                .as_deref()
                .map(|p| json_file(p, "settings object"))
                .transpose()?,
            grant_read: self.grant_read.clone(),
            grant_write: self.grant_write.clone(),
            egress,
            limits,
            stubs: self
                .http_stub
                .as_deref()
                .map(Stubs::load)
                .transpose()?
                .map(Arc::new),
        })
    }
}

/// The grant of a dev run: what was asked for, or everything declared.
fn grants(run: &DevRun, inst: &crate::installation::Installation) -> Grants {
    let declared = &inst.manifest.data;
    let pick = |given: &Option<Vec<String>>, all: &std::collections::BTreeSet<String>| {
        given
            .clone()
            .map(|v| v.into_iter().collect())
            .unwrap_or_else(|| all.clone())
    };
    Grants {
        read: pick(&run.grant_read, &declared.read),
        write: pick(&run.grant_write, &declared.write),
        // Every declared destination, as with fields.
        egress: inst
            .manifest
            .egress
            .iter()
            .map(|r| r.destination.clone())
            .collect(),
        reveal: declared.reveal.clone(),
        kv: inst.manifest.storage.kv,
    }
}

/// Runs the plugin once in a throw-away data directory.
pub fn run(run: DevRun) -> anyhow::Result<DevReport> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut options = Options {
        limits: run.limits,
        egress: run.egress.clone(),
        master_key: Some(rand::random()),
        durability: crate::store::Durability::Normal,
        ..Options::default()
    };
    if let Some(stubs) = &run.stubs {
        options.resolver = stubs.clone();
        options.transport = stubs.clone();
    }
    let airlock = Airlock::open_with(scratch.path(), options)?;
    let inst = airlock.install(&run.manifest_name, &run.manifest, &run.component, None)?;
    airlock.set_grants(&inst.id, grants(&run, &inst))?;
    if let Some(settings) = run.settings.clone() {
        airlock.set_settings(&inst.id, settings)?;
    }
    if let Some(data) = &run.fixture {
        airlock.import(data)?;
    }
    // Dispatch stores the event's records and runs every subscriber (only this one).
    let results = match run.event {
        DevEvent::Posted(event) => airlock.handle_event(*event)?,
        DevEvent::Schedule => match inst.subscribes_to(crate::manifest::EventKind::Schedule) {
            // As stored: with the grant and settings set above.
            true => vec![airlock.run(
                airlock.installation(&inst.id)?,
                &crate::runtime::EventInput::Schedule,
            )?],
            false => Vec::new(),
        },
    };
    let Some(result) = results.into_iter().next_back() else {
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
    let calls: Vec<AuditEntry> = airlock
        .audit(&crate::audit::AuditFilter {
            limit: Some(10_000),
            installation: Some(inst.id.clone()),
            invocation: Some(result.invocation.clone()),
            ..Default::default()
        })?
        .into_iter()
        .map(|r| r.entry)
        // Each call once: its outcome (a call with an effect also has an intent record).
        .filter(|e| !crate::broker::is_intent(e))
        .collect();
    let writes = written_values(&airlock, &calls)?;
    Ok(DevReport {
        calls,
        outcome: match (result.summary, result.failure) {
            (Some(s), _) => Ok(s),
            (None, Some(f)) => Err(f),
            (None, None) => Ok(String::new()),
        },
        logs: result.logs,
        writes,
        requests: run.stubs.map(|s| s.requests()).unwrap_or_default(),
    })
}

/// The stored values of the ticket fields the allowed write calls wrote.
fn written_values(
    airlock: &Airlock,
    calls: &[AuditEntry],
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut writes = BTreeMap::new();
    for c in calls {
        let is_write =
            crate::capability::call_kind(&c.call) == Some(crate::capability::CallKind::Write);
        if !is_write || c.decision != Some(Decision::Allow) {
            continue;
        }
        let Some(record) = airlock.store().get(Kind::Ticket, &c.resource)? else {
            continue;
        };
        for field in &c.fields_returned {
            let record = Value::Object(record.clone());
            let mut value = &record;
            for part in field.trim_start_matches("ticket.").split('.') {
                value = value.get(part).unwrap_or(&Value::Null);
            }
            writes.insert(field.clone(), value.clone());
        }
    }
    Ok(writes)
}

/// A call as `airlock test` cases and replays name it: `call resource decision` (no
/// resource: `call decision`).
pub fn call_line(c: &AuditEntry) -> String {
    let decision = c.decision.map_or("?", Decision::as_str);
    match c.resource.is_empty() {
        true => format!("{} {decision}", c.call),
        false => format!("{} {} {decision}", c.call, c.resource),
    }
}

/// The reason a field is withheld when the manifest does not declare it: one summary
/// line for all of them.
const UNDECLARED: &str = "not declared in plugin.toml [data] read";

impl DevReport {
    /// One JSON object per call, then one for the outcome.
    pub fn json_lines(&self) -> Vec<Value> {
        let mut lines: Vec<Value> = self
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
        let extra = json!({"logs": self.logs, "writes": self.writes, "requests": self.requests});
        let mut outcome = match &self.outcome {
            Ok(summary) => json!({"outcome": "ok", "summary": summary}),
            Err(f) => json!({"outcome": "failed", "failure": f}),
        };
        if let (Some(o), Some(e)) = (outcome.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        lines.push(outcome);
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
            let (undeclared, withheld): (Vec<_>, Vec<_>) = c
                .fields_withheld
                .iter()
                .partition(|w| w.reason == UNDECLARED);
            if !undeclared.is_empty() {
                let names: Vec<&str> = undeclared.iter().map(|w| w.field.as_str()).collect();
                out.push_str(&format!(
                    "  {} undeclared fields withheld ({UNDECLARED}): {}\n",
                    names.len(),
                    names.join(", ")
                ));
            }
            for w in withheld {
                out.push_str(&format!("  {} withheld: {}\n", w.field, w.reason));
            }
            for (class, n) in &c.redactions {
                out.push_str(&format!("  redacted {n} × {class}\n"));
            }
        }
        for line in &self.logs {
            out.push_str(&format!("log [{}] {}\n", line.level.as_str(), line.message));
        }
        for (field, value) in &self.writes {
            out.push_str(&format!("wrote {field} = {value}\n"));
        }
        for r in &self.requests {
            let answer = r.status.map_or("no stub matched".to_string(), |s| {
                format!("stub answered {s}")
            });
            out.push_str(&format!(
                "sent {} {}{} ({} bytes): {answer}\n",
                r.method, r.destination, r.path, r.body_bytes
            ));
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
