//! The broker: the one pipeline every host call passes through.
//!
//! ```text
//! authorize → fetch → project to granted fields → redact → audit → return
//! ```
//!
//! A [`Capability`] (helpdesk data, log, settings, …) only says what a call needs
//! ([`CallSpec`]) and how to perform it. [`Invocation::call`] runs the pipeline, so no
//! capability can skip a step and none re-implements one.

mod plan;
mod redaction;

pub use plan::{FieldPlan, NOT_DECLARED_READ, NOT_GRANTED};
pub use redaction::{PassThrough, Redaction};

use crate::audit::{AuditEntry, Decision};
use crate::installation::Installation;
use crate::model::{Kind, Record};
use crate::store::Store;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The most field values one invocation remembers for the egress data-loss checks.
pub const MAX_SEEN_VALUES: usize = 20_000;

/// The most host calls one invocation may make.
pub const MAX_CALLS_PER_INVOCATION: u32 = 1_000;

/// Why a brokered call failed. Mirrors the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The grant does not allow the call.
    Denied(String),
    /// No such record.
    NotFound(String),
    /// Malformed arguments.
    Invalid(String),
    /// A size or rate limit was reached.
    Limit(String),
    /// The host could not serve the call.
    Unavailable(String),
}

impl CallError {
    /// A short code: `denied`, `not-found`, `invalid`, `limit`, `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Denied(_) => "denied",
            CallError::NotFound(_) => "not-found",
            CallError::Invalid(_) => "invalid",
            CallError::Limit(_) => "limit",
            CallError::Unavailable(_) => "unavailable",
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        match self {
            CallError::Denied(m)
            | CallError::NotFound(m)
            | CallError::Invalid(m)
            | CallError::Limit(m)
            | CallError::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for CallError {}

/// What a call needs from the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Reads records of one kind. `fields` are the paths asked for; empty means every
    /// declared field of the kind. `filter` is a field the call itself reads to select
    /// records (a search on `ticket.status` reads status).
    Read {
        /// The record kind.
        kind: Kind,
        /// The paths asked for.
        fields: Vec<String>,
        /// A field the call selects on, which must be readable too.
        filter: Option<String>,
    },
    /// Writes one field.
    Write {
        /// The field path written.
        field: String,
    },
    /// Touches no helpdesk data (logging, settings).
    Nothing,
}

/// A call as the broker sees it: its name, the resource it names, and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    /// The audited call name, e.g. `helpdesk.get-ticket`.
    pub call: &'static str,
    /// The resource id named by the call, or empty.
    pub resource: String,
    /// What the call needs from the grant.
    pub need: Need,
    /// Facts about the call for its audit record, known before it runs.
    pub details: BTreeMap<String, String>,
}

impl CallSpec {
    /// A call with no extra audit details.
    pub fn new(call: &'static str, resource: impl Into<String>, need: Need) -> CallSpec {
        CallSpec {
            call,
            resource: resource.into(),
            need,
            details: BTreeMap::new(),
        }
    }
}

/// A capability: one kind of host call, behind the broker.
///
/// Implementations describe a request and perform it; the broker does the rest.
pub trait Capability {
    /// The call's arguments.
    type Request;
    /// What it returns, before projection and redaction.
    type Output: Brokered;

    /// Names the call and what it needs. Malformed arguments are `Invalid` here.
    fn describe(&self, request: &Self::Request) -> Result<CallSpec, CallError>;

    /// Performs an authorized call. `plan` says which fields the call may touch.
    fn perform(
        &self,
        ctx: &CallContext<'_>,
        request: Self::Request,
        plan: &FieldPlan,
    ) -> Result<Self::Output, CallError>;
}

/// What a capability can use while performing a call.
pub struct CallContext<'a> {
    /// The installation making the call.
    pub installation: &'a Installation,
    /// The store.
    pub store: &'a dyn Store,
    details: std::cell::RefCell<BTreeMap<String, String>>,
}

impl CallContext<'_> {
    /// Adds a fact to the call's audit record (`details`), whether the call succeeds or
    /// fails. Names and numbers only, never data values.
    pub fn note(&self, key: &str, value: impl ToString) {
        self.details
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
    }
}

/// A response the broker can project to granted fields and redact.
pub trait Brokered {
    /// Removes every field the plan does not allow; reports what was kept and withheld.
    fn project(&mut self, plan: &FieldPlan, report: &mut Report);
    /// Masks sensitive values in every string the plugin will see.
    fn redact(
        &mut self,
        redaction: &dyn Redaction,
        installation: &Installation,
        report: &mut Report,
    );
    /// Lists the helpdesk field values the plugin will see (after projection and
    /// redaction), so outbound requests can be checked for them ([`Invocation::seen`]).
    fn seen(&self, _out: &mut Vec<Seen>) {}
}

/// A helpdesk field value handed to the plugin in this invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its field path, e.g. `requester.email`.
    pub path: String,
    /// The value as the plugin got it.
    pub value: String,
}

/// What projection and redaction did to one response.
#[derive(Debug, Default)]
pub struct Report {
    /// Field paths returned with a value.
    pub returned: std::collections::BTreeSet<String>,
    /// Field paths held back, with reasons.
    pub withheld: BTreeMap<String, String>,
    /// Redactions by data class.
    pub redactions: BTreeMap<String, u32>,
    /// Capability-specific facts for the audit record (see [`AuditEntry::details`]).
    pub details: BTreeMap<String, String>,
}

impl Brokered for () {
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
}

impl Brokered for Option<String> {
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
}

impl Brokered for String {
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
}

/// A helpdesk record of a known kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRecord {
    /// Its kind.
    pub kind: Kind,
    /// Its fields.
    pub record: Record,
}

impl Brokered for KindRecord {
    fn project(&mut self, plan: &FieldPlan, report: &mut Report) {
        plan.project(self.kind, &mut self.record, report);
    }

    fn redact(&mut self, redaction: &dyn Redaction, inst: &Installation, report: &mut Report) {
        redaction::redact_record(redaction, inst, self.kind, &mut self.record, report);
    }

    fn seen(&self, out: &mut Vec<Seen>) {
        let prefix = self.kind.path_prefix();
        let mut push = |path: String, value: &serde_json::Value| {
            let mut strings = Vec::new();
            match value {
                serde_json::Value::String(s) => strings.push(s.clone()),
                serde_json::Value::Array(items) => {
                    strings.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)))
                }
                _ => {}
            }
            for value in strings {
                out.push(Seen {
                    path: path.clone(),
                    value,
                });
            }
        };
        for (key, value) in &self.record {
            if self.kind.identity_keys().contains(&key.as_str()) {
                continue;
            }
            match (key.as_str(), value) {
                ("custom_fields", serde_json::Value::Object(custom)) => {
                    for (name, v) in custom {
                        push(format!("{prefix}.custom_fields.{name}"), v);
                    }
                }
                _ => push(format!("{prefix}.{key}"), value),
            }
        }
    }
}

impl<T: Brokered> Brokered for Vec<T> {
    fn project(&mut self, plan: &FieldPlan, report: &mut Report) {
        for item in self {
            item.project(plan, report);
        }
    }

    fn redact(&mut self, redaction: &dyn Redaction, inst: &Installation, report: &mut Report) {
        for item in self {
            item.redact(redaction, inst, report);
        }
    }

    fn seen(&self, out: &mut Vec<Seen>) {
        for item in self {
            item.seen(out);
        }
    }
}

/// Shared services the broker uses.
#[derive(Clone)]
pub struct Services {
    /// Helpdesk data, installations and the audit log.
    pub store: Arc<dyn Store>,
    /// The redaction step.
    pub redaction: Arc<dyn Redaction>,
    /// Outbound HTTP: destinations, secrets, data-loss checks, limits.
    pub egress: Arc<crate::egress::Egress>,
}

/// One invocation of one installation: the broker's state for the calls it makes.
///
/// Audit entries are collected here and appended to the log in one transaction when
/// the invocation ends ([`Invocation::finish`]), so an event is acknowledged only after
/// all of its records are stored.
pub struct Invocation {
    /// The invocation id.
    pub id: String,
    /// The event being handled, e.g. `ticket-created`.
    pub event: String,
    /// The installation.
    pub installation: Arc<Installation>,
    services: Services,
    entries: Vec<AuditEntry>,
    calls: u32,
    seen: Vec<Seen>,
}

impl Invocation {
    /// Starts an invocation.
    pub fn new(installation: Arc<Installation>, event: &str, services: Services) -> Invocation {
        Invocation {
            id: new_invocation_id(),
            event: event.to_string(),
            installation,
            services,
            entries: Vec::new(),
            calls: 0,
            seen: Vec::new(),
        }
    }

    /// Runs one call through the pipeline: authorize → fetch → project → redact → audit.
    pub fn call<C: Capability>(
        &mut self,
        capability: &C,
        request: C::Request,
    ) -> Result<C::Output, CallError> {
        let spec = match capability.describe(&request) {
            Ok(spec) => spec,
            Err(e) => {
                self.record("invalid-call", "", &Report::default(), Err(&e));
                return Err(e);
            }
        };
        self.calls += 1;
        if self.calls > MAX_CALLS_PER_INVOCATION {
            let e = CallError::Limit(format!(
                "more than {MAX_CALLS_PER_INVOCATION} host calls in one invocation"
            ));
            self.record(spec.call, &spec.resource, &Report::default(), Err(&e));
            return Err(e);
        }
        // 1. authorize
        let mut report = Report {
            details: spec.details.clone(),
            ..Report::default()
        };
        let plan = match FieldPlan::authorize(&self.installation, &spec.need) {
            Ok(plan) => plan,
            Err(e) => {
                self.record(spec.call, &spec.resource, &report, Err(&e));
                return Err(e);
            }
        };
        report.withheld = plan.withheld.clone();
        // 2. fetch (or perform the write)
        let ctx = CallContext {
            installation: &self.installation,
            store: self.services.store.as_ref(),
            details: Default::default(),
        };
        let performed = capability.perform(&ctx, request, &plan);
        report.details.extend(ctx.details.into_inner());
        let mut output = match performed {
            Ok(output) => output,
            Err(e) => {
                self.record(spec.call, &spec.resource, &report, Err(&e));
                return Err(e);
            }
        };
        // 3. project, 4. redact
        output.project(&plan, &mut report);
        output.redact(
            self.services.redaction.as_ref(),
            &self.installation,
            &mut report,
        );
        if let Need::Write { field } = &spec.need {
            report.returned.insert(field.clone());
        }
        if self.seen.len() < MAX_SEEN_VALUES {
            output.seen(&mut self.seen);
            self.seen.truncate(MAX_SEEN_VALUES);
        }
        // 5. audit, 6. return
        self.record(spec.call, &spec.resource, &report, Ok(()));
        Ok(output)
    }

    /// Records something the invocation did outside a brokered call (its outcome).
    pub fn record_outcome(&mut self, call: &str, decision: Decision, reason: &str) {
        let mut entry = self.entry(call, "");
        entry.decision = Some(decision);
        entry.reason = reason.to_string();
        self.entries.push(entry);
    }

    fn entry(&self, call: &str, resource: &str) -> AuditEntry {
        AuditEntry {
            installation: self.installation.id.clone(),
            plugin: self.installation.manifest.name.clone(),
            version: self.installation.manifest.version.clone(),
            invocation: self.id.clone(),
            event: self.event.clone(),
            call: call.to_string(),
            resource: resource.to_string(),
            ..Default::default()
        }
    }

    fn record(
        &mut self,
        call: &str,
        resource: &str,
        report: &Report,
        result: Result<(), &CallError>,
    ) {
        let mut entry = self.entry(call, resource);
        entry.fields_returned = report.returned.iter().cloned().collect();
        entry.fields_withheld = report
            .withheld
            .iter()
            .map(|(field, reason)| crate::audit::Withheld {
                field: field.clone(),
                reason: reason.clone(),
            })
            .collect();
        entry.redactions = report.redactions.clone();
        entry.details = report.details.clone();
        match result {
            Ok(()) => {
                entry.decision = Some(Decision::Allow);
                entry.reason = "ok".into();
            }
            Err(e) => {
                // Refused calls are denials; calls that were allowed but found nothing
                // or failed in the host are not.
                entry.decision = Some(match e {
                    CallError::Denied(_) | CallError::Limit(_) | CallError::Invalid(_) => {
                        Decision::Deny
                    }
                    CallError::NotFound(_) | CallError::Unavailable(_) => Decision::Allow,
                });
                entry.reason = e.to_string();
            }
        }
        self.entries.push(entry);
    }

    /// The helpdesk field values handed to the plugin so far in this invocation.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    /// The entries recorded so far (what `airlock dev` prints).
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    /// The services this invocation uses.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Appends the invocation's entries to the audit log; returns them sealed.
    pub fn finish(self) -> anyhow::Result<Vec<crate::audit::AuditRecord>> {
        self.services.store.append(self.entries)
    }
}

fn new_invocation_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("inv_{}", hex::encode(bytes))
}
