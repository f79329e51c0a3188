//! `airlock dev --replay <invocation>`: re-runs a recorded invocation's event against a
//! new build, and shows how its calls and outcome differ from the recorded ones.
//!
//! The replay runs in a scratch copy of the data directory's database: the current
//! stored state, projected and redacted exactly as the installation's grant allows (the
//! new build's manifest cannot widen the grant). Nothing it does reaches the live store
//! or the network: its writes land in the copy, and its requests go to the stubs given
//! (`--http-stub`), or nowhere. It needs what reading the audit needs: the data
//! directory and its master key.
//!
//! The event comes from the invocation's records: the ticket of `event.prefetch-ticket`,
//! the comment of `helpdesk.get-comment`. An action's payload is never recorded (it may
//! hold values), so actions replay with an empty payload.

use super::dev::DevOptions;
use super::dev::call_line;
use super::plugin_test::list_diff;
use crate::app::{Airlock, Options};
use crate::audit::{AuditEntry, AuditFilter};
use crate::egress::EgressConfig;
use crate::egress::stub::Stubs;
use crate::manifest::Manifest;
use crate::runtime::{EventInput, RuntimeLimits};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;

/// What a replay found.
pub struct ReplayReport {
    /// The installation replayed.
    pub installation: String,
    /// The event, as `kind resource`.
    pub event: String,
    /// The recorded calls, as `call resource decision`.
    pub recorded: Vec<String>,
    /// The replayed calls.
    pub replayed: Vec<String>,
    /// The recorded outcome (`ok` or a failure kind).
    pub recorded_outcome: String,
    /// The replayed outcome.
    pub replayed_outcome: String,
}

fn lines(entries: &[AuditEntry]) -> (Vec<String>, String) {
    let mut outcome = String::from("?");
    let mut calls = Vec::new();
    for e in entries.iter().filter(|e| !crate::broker::is_intent(e)) {
        if e.call == crate::runtime::OUTCOME_CALL {
            outcome = e.reason.split(':').next().unwrap_or("?").to_string();
            continue;
        }
        calls.push(call_line(e));
    }
    (calls, outcome)
}

fn records(airlock: &Airlock, invocation: &str) -> anyhow::Result<Vec<AuditEntry>> {
    Ok(airlock
        .audit(&AuditFilter {
            invocation: Some(invocation.to_string()),
            limit: Some(10_000),
            ..Default::default()
        })?
        .into_iter()
        .map(|r| r.entry)
        .collect())
}

/// The event the records show.
fn event_of(entries: &[AuditEntry]) -> anyhow::Result<EventInput> {
    let first = |call: &str| {
        entries
            .iter()
            .find(|e| e.call == call)
            .map(|e| e.resource.clone())
    };
    let ticket = || {
        first("event.prefetch-ticket").context(
            "the invocation's records name no ticket (its plugin reads none): it cannot be replayed",
        )
    };
    Ok(match entries[0].event.as_str() {
        "ticket-created" => EventInput::TicketCreated {
            ticket_id: ticket()?,
        },
        "ticket-updated" => EventInput::TicketUpdated {
            ticket_id: ticket()?,
        },
        "comment-added" => EventInput::CommentAdded {
            ticket_id: ticket()?,
            comment_id: first("helpdesk.get-comment")
                .context("the invocation's records name no comment: it cannot be replayed")?,
        },
        "action" => EventInput::Action {
            ticket_id: ticket()?,
            name: "replay".into(),
            payload: "{}".into(),
        },
        "schedule" => EventInput::Schedule,
        other => anyhow::bail!("invocations of `{other}` events cannot be replayed"),
    })
}

/// Replays `invocation` of the data directory `live` with the build in `files`.
pub fn replay(
    live: &Path,
    invocation: &str,
    files: &DevOptions,
    egress: EgressConfig,
    limits: RuntimeLimits,
) -> anyhow::Result<ReplayReport> {
    let opened = Airlock::open(live, limits)?;
    let recorded = records(&opened, invocation)?;
    anyhow::ensure!(
        !recorded.is_empty(),
        "no audit records of invocation {invocation} in {}",
        live.display()
    );
    let input = event_of(&recorded)?;
    let id = recorded[0].installation.clone();
    let master = opened.master_key().material()?.bytes();
    drop(opened);

    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    // From a read-only connection: a serving host is not disturbed.
    crate::store::copy_database(&live.join("airlock.db"), &scratch.path().join("airlock.db"))?;
    let stubs = Arc::new(match &files.http_stub {
        Some(path) => Stubs::load(path)?,
        None => Stubs::default(),
    });
    let airlock = Airlock::open_with(
        scratch.path(),
        Options {
            limits,
            egress,
            master_key: Some(master),
            durability: crate::store::Durability::Normal,
            resolver: stubs.clone(),
            transport: stubs,
            ..Options::default()
        },
    )?;
    let manifest_name = files.manifest.display().to_string();
    let text = std::fs::read_to_string(&files.manifest)
        .with_context(|| format!("cannot read manifest {manifest_name}"))?;
    let manifest = Manifest::parse(&manifest_name, &text)?;
    let component = std::fs::read(&files.component)
        .with_context(|| format!("cannot read component {}", files.component.display()))?;
    let sha = airlock.data_dir().put_component(&component)?;
    // The new build under the installation's own grant, settings and secrets.
    let updated = airlock.store().update_installation(&id, &mut |inst| {
        inst.manifest = manifest.clone();
        inst.component_sha256 = sha.clone();
        inst.enabled = true;
        inst.killed = None;
        true
    })?;
    let inst = updated.with_context(|| format!("installation {id} is no longer installed"))?;
    let result = airlock.run(inst, &input)?;
    let (replayed, replayed_outcome) = lines(&records(&airlock, &result.invocation)?);
    let (recorded_calls, recorded_outcome) = lines(&recorded);
    Ok(ReplayReport {
        installation: id,
        event: recorded[0].event.clone(),
        recorded: recorded_calls,
        replayed,
        recorded_outcome,
        replayed_outcome,
    })
}

impl ReplayReport {
    /// The report as text: the calls' diff and both outcomes.
    pub fn text(&self) -> String {
        let mut out = format!(
            "replay of a {} invocation of {}\n",
            self.event, self.installation
        );
        match list_diff("calls", &self.recorded, &self.replayed) {
            None => out.push_str("calls: the same\n"),
            Some(diff) => {
                out.push_str(&diff);
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "outcome: recorded {}, replayed {}\n",
            self.recorded_outcome, self.replayed_outcome
        ));
        out
    }
}
