//! The broker: the one pipeline every host call passes through.
//!
//! ```text
//! authorize → fetch → project to granted fields → redact → audit → return
//! ```
//!
//! A [`Capability`] (helpdesk data, log, settings, …) only says what a call needs
//! ([`CallSpec`]) and how to perform it. [`Invocation::call`] runs the pipeline, so no
//! capability can skip a step and none re-implements one.

mod brokered;
mod budget;
mod plan;
mod record;
mod redaction;
mod sanitize;
mod taint;

pub use brokered::{Brokered, KindRecord, Report, Seen};
pub use budget::{
    Budget, Exhausted, MAX_AUDIT_BYTES_PER_INVOCATION, MAX_CALLS_PER_INVOCATION, REFUSED_CALL,
};
pub use plan::{FieldPlan, NOT_DECLARED_READ, NOT_GRANTED};
pub use record::{INTENT, PHASE_DETAIL, is_intent};
pub use redaction::{PassThrough, Redaction};
pub use sanitize::{AuditSanitizer, MAX_AUDIT_TEXT};
pub use taint::{MAX_FLOWS, OVERFLOW_PATH, Taint};

use crate::audit::AuditEntry;
use crate::installation::Installation;
use crate::model::{FieldLabel, Flow, Kind};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The most field values one invocation remembers for the egress data-loss checks.
pub const MAX_SEEN_VALUES: usize = 20_000;

/// The most data subjects one invocation remembers; past it, what it stores is tagged
/// [`ALL_SUBJECTS`] as well.
pub const MAX_SUBJECTS: usize = 4_096;

/// The subject tag of data written after an invocation read more subjects than tracked.
pub const ALL_SUBJECTS: &str = "*";

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
    /// Who chose `resource`. A plugin's string is audited as written only once it is
    /// confirmed to name something that exists, else as an opaque hash.
    pub origin: ResourceOrigin,
    /// What the call needs from the grant.
    pub need: Need,
    /// Facts about the call for its audit record, known before it runs.
    pub details: BTreeMap<String, String>,
    /// Whether performing the call changes something outside the invocation (a write,
    /// an outbound request): its record is then made durable before it is performed.
    pub effect: bool,
}

impl CallSpec {
    /// A call with no extra audit details.
    pub fn new(call: &'static str, resource: impl Into<String>, need: Need) -> CallSpec {
        CallSpec {
            call,
            resource: resource.into(),
            origin: ResourceOrigin::Host,
            effect: matches!(need, Need::Write { .. }),
            need,
            details: BTreeMap::new(),
        }
    }

    /// Marks the call as changing something outside the invocation.
    pub fn with_effect(mut self) -> CallSpec {
        self.effect = true;
        self
    }

    /// A call naming a record by the plugin's id.
    pub fn for_record(
        call: &'static str,
        kind: Kind,
        id: impl Into<String>,
        need: Need,
    ) -> CallSpec {
        CallSpec {
            origin: ResourceOrigin::PluginRecord(kind),
            ..CallSpec::new(call, id, need)
        }
    }

    /// A call naming something else (a settings key) by the plugin's string.
    pub fn for_plugin_key(call: &'static str, key: impl Into<String>, need: Need) -> CallSpec {
        CallSpec {
            origin: ResourceOrigin::PluginKey,
            ..CallSpec::new(call, key, need)
        }
    }
}

/// Who chose a call's resource string, and so how it may enter the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceOrigin {
    /// The host (a filter name, a log level): audited as is.
    Host,
    /// The plugin, naming a record of this kind: audited as is when the record exists
    /// (found by the call, or looked up when the call was refused before fetching).
    PluginRecord(Kind),
    /// The plugin, naming something else: audited as is only when the capability
    /// confirms it ([`CallContext::confirm_resource`]).
    PluginKey,
}

/// A capability: one kind of host call, behind the broker.
///
/// Implementations describe a request, may add their own authorization, and perform
/// it; the broker does the rest, in order: describe → authorize (the field grant, then
/// [`Capability::authorize`]) → perform → project → redact → audit.
pub trait Capability {
    /// The call's arguments.
    type Request;
    /// What it returns, before projection and redaction.
    type Output: Brokered;
    /// What [`Capability::authorize`] found, handed to [`Capability::perform`] (`()`
    /// for capabilities the field grant alone authorizes).
    type Approval: Default;

    /// Names the call and what it needs. Malformed arguments are `Invalid` here.
    fn describe(&self, request: &Self::Request) -> Result<CallSpec, CallError>;

    /// Step 1 beyond the field grant: whether this installation's grant allows this
    /// request (an outbound request's destination, method and path). Runs after the
    /// field grant allowed the call's [`Need`] and before anything is performed; what it
    /// notes goes in the audit record either way. The default allows.
    fn authorize(
        &self,
        _ctx: &CallContext,
        _request: &Self::Request,
    ) -> Result<Self::Approval, CallError> {
        Ok(Self::Approval::default())
    }

    /// Performs an authorized call. `plan` says which fields the call may touch.
    fn perform(
        &self,
        ctx: &CallContext,
        request: Self::Request,
        approval: Self::Approval,
        plan: &FieldPlan,
    ) -> Result<Self::Output, CallError>;
}

/// What a capability can use while performing a call.
pub struct CallContext {
    /// The installation making the call.
    pub installation: Arc<Installation>,
    deadline_in: Option<std::time::Duration>,
    details: std::cell::RefCell<BTreeMap<String, String>>,
    carried: Vec<Flow>,
    subjects: Vec<String>,
    confirmed: std::cell::Cell<bool>,
    sanitizer: Arc<AuditSanitizer>,
}

impl CallContext {
    /// Adds a fact to the call's audit record (`details`), whether the call succeeds or
    /// fails. Names and numbers only, never data values.
    pub fn note(&self, key: &str, value: impl ToString) {
        self.details
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
    }

    /// The opaque keyed hash of a plugin string, for an audit detail that must tell
    /// requests apart without holding what they carried ([`AuditSanitizer::opaque`]).
    pub fn opaque(&self, value: &str) -> String {
        self.sanitizer.opaque(value)
    }

    /// The detector classes found in `text`, for the call's record (names only).
    pub fn classes_in(&self, text: &str) -> BTreeSet<String> {
        self.sanitizer.classes(text)
    }

    /// What a call that stores plugin data must store with it: the flows the invocation
    /// has read (inherited by whoever reads it back) and the data subjects whose records
    /// it read. Empty for calls without an effect.
    pub fn provenance(&self) -> (&[Flow], &[String]) {
        (&self.carried, &self.subjects)
    }

    /// How long the call may take: what is left of the invocation's deadline when the
    /// call started (`None` without a deadline). Work that waits (outbound requests)
    /// must stop by then.
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline_in
    }

    /// Confirms that the call's resource (the plugin's string) names something that
    /// exists, so it may be audited as written.
    pub fn confirm_resource(&self) {
        self.confirmed.set(true);
    }

    /// The labels a write must store beside `field` of record `kind`/`id`: the flows the
    /// invocation has read (for writes only; empty for reads). A store writes them in
    /// the same transaction as the value ([`crate::store::HelpdeskStore::put_labeled`]).
    pub fn labels_for(&self, kind: Kind, id: &str, field: &str) -> Vec<FieldLabel> {
        self.carried
            .iter()
            .map(|flow| FieldLabel {
                kind,
                record_id: id.to_string(),
                field: field.to_string(),
                flow: flow.clone(),
            })
            .collect()
    }
}

/// Shared services the broker itself uses (capabilities hold their own).
#[derive(Clone)]
pub struct Services {
    /// The audit log, and the helpdesk records whose ids and labels it checks.
    pub store: Arc<dyn Store>,
    /// The redaction step.
    pub redaction: Arc<dyn Redaction>,
    /// The admin's detectors, to find revealed classes in what a plugin read.
    pub detector: Arc<airlock_redact::Redactor>,
    /// Makes plugin-controlled strings audit-safe.
    pub sanitizer: Arc<AuditSanitizer>,
}

/// One invocation of one installation: the broker's state for the calls it makes.
///
/// Audit entries are collected here and appended to the log in one transaction when
/// the invocation ends ([`Invocation::finish`]), except that a call with an effect (a
/// write, an outbound request) first makes the records so far and its own intent
/// durable, and is not performed if they cannot be. An event is acknowledged only after
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
    /// Records already made durable in this invocation (before an effect).
    sealed: Vec<crate::audit::AuditRecord>,
    budget: budget::Ledger,
    seen: Vec<Seen>,
    taint: Taint,
    /// The data subjects whose records (or stored plugin data) it read.
    subjects: BTreeSet<String>,
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
            sealed: Vec::new(),
            budget: Default::default(),
            seen: Vec::new(),
            taint: Taint::default(),
            subjects: BTreeSet::new(),
        }
    }

    /// Runs one call through the pipeline: budget → describe → authorize → fetch →
    /// project → redact → audit.
    ///
    /// Every call is charged to the invocation's budget first, whatever becomes of it.
    /// The call that finds a budget spent is refused with `limit` without a record of
    /// its own, as is every later one; they are summed up in one record when the
    /// invocation ends ([`Invocation::record_outcome`]).
    pub fn call<C: Capability>(
        &mut self,
        capability: &C,
        request: C::Request,
    ) -> Result<C::Output, CallError> {
        let now = std::time::Instant::now();
        if let Err(budget) = self.budget.charge_call(now) {
            return Err(CallError::Limit(budget.message()));
        }
        let mut spec = match capability.describe(&request) {
            Ok(spec) => spec,
            Err(e) => {
                let spec = CallSpec::new("invalid-call", "", Need::Nothing);
                self.record(&spec, &Report::default(), Err(&e));
                return Err(e);
            }
        };
        // 1. authorize
        let mut report = Report {
            details: spec.details.clone(),
            ..Report::default()
        };
        let plan = match FieldPlan::authorize(&self.installation, &spec.need) {
            Ok(plan) => plan,
            Err(e) => {
                self.record(&spec, &report, Err(&e));
                return Err(e);
            }
        };
        report.withheld = plan.withheld.clone();
        // 2. fetch (or perform the write)
        let (carried, subjects) = match spec.effect {
            true => (self.taint.labels(), self.subjects.iter().cloned().collect()),
            false => (Vec::new(), Vec::new()),
        };
        let ctx = CallContext {
            installation: self.installation.clone(),
            deadline_in: self.budget.remaining(now),
            details: Default::default(),
            carried,
            subjects,
            confirmed: Default::default(),
            sanitizer: self.services.sanitizer.clone(),
        };
        let performed = match capability.authorize(&ctx, &request) {
            Err(e) => Err(e),
            Ok(approval) => {
                // Record first: what changes the world is durable in the log before it
                // happens, or does not happen.
                let recorded = match spec.effect {
                    true => {
                        let mut details = report.details.clone();
                        details.extend(ctx.details.borrow().clone());
                        self.record_intent(&spec, details)
                    }
                    false => Ok(()),
                };
                recorded.and_then(|()| capability.perform(&ctx, request, approval, &plan))
            }
        };
        report.details.extend(ctx.details.into_inner());
        if ctx.confirmed.get() {
            spec.origin = ResourceOrigin::Host;
        }
        let mut output = match performed {
            Ok(output) => output,
            Err(e) => {
                self.record(&spec, &report, Err(&e));
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
        let filter = match &spec.need {
            Need::Read { filter, .. } => filter.as_deref(),
            _ => None,
        };
        if let Err(e) = self.track(&output, filter) {
            self.record(&spec, &report, Err(&e));
            return Err(e);
        }
        // 5. audit, 6. return
        self.record(&spec, &report, Ok(()));
        Ok(output)
    }

    /// `text` made audit-safe, with the values handed out so far masked
    /// ([`AuditSanitizer::text`]). For plugin free text on its way into a record.
    pub fn sanitize(&self, text: &str) -> String {
        self.services.sanitizer.text(text, &self.seen)
    }

    /// Sets the invocation's deadline: host calls then count against it too.
    pub fn set_deadline(&mut self, deadline: std::time::Instant) {
        self.budget.set_deadline(deadline);
    }

    /// The budget this invocation has spent, if any: its calls are then refused, and
    /// the runtime ends it.
    pub fn exhausted(&self) -> Option<Budget> {
        self.budget.spent()
    }

    /// Remembers what `output` handed the plugin: its taint (every field whose value,
    /// not just a mask, it was handed; revealed classes; the flows labelled on the stored
    /// fields it read) and the values themselves up to [`MAX_SEEN_VALUES`]; past that
    /// bound the taint overflows. A search's `filter` field counts as read for its
    /// labels: which records matched tells what the field holds. Fails closed when the
    /// labels cannot be read.
    fn track(&mut self, output: &impl Brokered, filter: Option<&str>) -> Result<(), CallError> {
        let mut handed = Vec::new();
        output.seen(&mut handed);
        let mut paths: BTreeSet<String> = filter.map(str::to_string).into_iter().collect();
        let reveal = &self.installation.grants.reveal;
        let detector = self.services.detector.as_ref();
        for seen in handed {
            if !is_mask(&seen.value) {
                self.taint.read_field(&seen.path);
                paths.insert(seen.path.clone());
                self.taint.read_revealed(detector, reveal, &seen);
            }
            if self.seen.len() < MAX_SEEN_VALUES {
                self.seen.push(seen);
            } else {
                self.taint.overflow();
            }
        }
        let mut stored = Vec::new();
        output.flows(&mut stored);
        for (via, flow) in stored {
            self.taint.inherit(&via, flow);
        }
        let mut subjects = Vec::new();
        output.subjects(&mut subjects);
        let mut records = Vec::new();
        output.records(&mut records);
        subjects.extend(records.iter().filter_map(|(kind, id)| match kind {
            Kind::User => Some(format!("user:{id}")),
            Kind::Ticket => Some(format!("ticket:{id}")),
            _ => None,
        }));
        for subject in subjects {
            if self.subjects.len() < MAX_SUBJECTS {
                self.subjects.insert(subject);
            } else {
                self.subjects.insert(ALL_SUBJECTS.into());
            }
        }
        if records.is_empty() || paths.is_empty() {
            return Ok(());
        }
        let labels = self.services.store.labels(&records).map_err(|e| {
            tracing::error!(error = %e, "cannot read information-flow labels");
            CallError::Unavailable("the helpdesk store failed; try again".into())
        })?;
        for label in labels {
            if paths.contains(&label.field) {
                self.taint.inherit(&label.field, label.flow);
            }
        }
        Ok(())
    }

    /// The helpdesk field values handed to the plugin so far in this invocation.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    /// What the plugin has read so far in this invocation (see [`Taint`]).
    pub fn taint(&self) -> &Taint {
        &self.taint
    }

    /// The services this invocation uses.
    pub fn services(&self) -> &Services {
        &self.services
    }
}

/// A value that is wholly one redaction mask (`[EMAIL]`) tells the plugin nothing.
fn is_mask(value: &str) -> bool {
    value.is_empty()
        || (value.starts_with('[')
            && value.ends_with(']')
            && !value.contains(' ')
            && value.len() <= 32)
}

fn new_invocation_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("inv_{}", hex::encode(bytes))
}
