//! The invocation's audit records: one per call, built from host-chosen strings; the
//! record-first rule for calls with an effect; the outcome; and the final append.

use super::{CallError, CallSpec, Invocation, REFUSED_CALL, Report, ResourceOrigin};
use crate::audit::{AuditEntry, AuditRecord, Decision};
use std::collections::BTreeMap;

/// The detail that marks a record made before its call was performed.
pub const PHASE_DETAIL: &str = "phase";
/// Its value: the call was authorized and is about to be performed. The call's outcome
/// is a later record of its own; counters and reports count the outcome, not the intent.
pub const INTENT: &str = "intent";

/// Whether a record is a call's intent (made before it was performed).
pub fn is_intent(entry: &AuditEntry) -> bool {
    entry.details.get(PHASE_DETAIL).is_some_and(|p| p == INTENT)
}

impl Invocation {
    /// Records something the invocation did outside a brokered call (its outcome),
    /// after the one record that sums up the calls refused once a budget was spent.
    /// `reason` must be host-chosen, or passed through [`Invocation::sanitize`].
    pub fn record_outcome(&mut self, call: &str, decision: Decision, reason: &str) {
        if let Some((refused, budget)) = self.budget.take_refused() {
            let mut entry = self.entry(REFUSED_CALL, "");
            entry.decision = Some(Decision::Deny);
            entry.reason = format!(
                "limit: {refused} further calls refused: {}",
                budget.message()
            );
            entry.details = [
                ("budget".to_string(), budget.as_str().to_string()),
                ("refused".to_string(), refused.to_string()),
            ]
            .into();
            self.entries.push(entry);
        }
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

    pub(super) fn record(
        &mut self,
        spec: &CallSpec,
        report: &Report,
        result: Result<(), &CallError>,
    ) {
        let entry = self.build_entry(spec, report, result);
        self.push(entry);
    }

    /// The record of a call: what the audit holds about it, with only host-chosen
    /// strings (a plugin's resource string as written only once it names something).
    fn build_entry(
        &self,
        spec: &CallSpec,
        report: &Report,
        result: Result<(), &CallError>,
    ) -> AuditEntry {
        let exists = |kind| {
            crate::model::valid_id(&spec.resource)
                && matches!(self.services.store.get(kind, &spec.resource), Ok(Some(_)))
        };
        let resource = match spec.origin {
            ResourceOrigin::Host => spec.resource.clone(),
            ResourceOrigin::PluginRecord(kind) if exists(kind) => spec.resource.clone(),
            _ => self.services.sanitizer.opaque(&spec.resource),
        };
        let mut entry = self.entry(spec.call, &resource);
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
                // Host-made, never quoting the plugin's strings; bounded all the same,
                // with the values handed out masked.
                entry.reason = format!(
                    "{}: {}",
                    e.code(),
                    self.services.sanitizer.bounded(e.message(), &self.seen)
                );
            }
        }
        entry
    }

    fn push(&mut self, entry: AuditEntry) {
        self.budget.charge_audit(entry.text_bytes());
        self.entries.push(entry);
    }

    /// Record first: before a call with an effect (a write, an outbound request) is
    /// performed, the invocation's records so far and this call's intent (its record as
    /// authorized, with [`PHASE_DETAIL`] `intent`) are made durable. If they cannot be,
    /// the call is not performed. Its outcome is recorded after, as for every call.
    pub(super) fn record_intent(
        &mut self,
        spec: &CallSpec,
        details: BTreeMap<String, String>,
    ) -> Result<(), CallError> {
        let mut report = Report {
            details,
            ..Report::default()
        };
        if let super::Need::Write { field } = &spec.need {
            report.returned.insert(field.clone());
        }
        report
            .details
            .insert(PHASE_DETAIL.to_string(), INTENT.to_string());
        let mut entry = self.build_entry(spec, &report, Ok(()));
        entry.reason = format!("{INTENT}: authorized, about to be performed");
        self.push(entry);
        let entries = self.entries.clone();
        match self.services.store.append(entries) {
            Ok(sealed) => {
                self.entries.clear();
                self.sealed.extend(sealed);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot append to the audit log before a call with an effect");
                // The intent was never recorded, so it is not kept either.
                self.entries.pop();
                Err(CallError::Unavailable(
                    "the audit log cannot be written, so the call was not performed; try again"
                        .into(),
                ))
            }
        }
    }

    /// Appends the invocation's remaining entries to the audit log; returns every record
    /// of the invocation, sealed (those made durable before its effects included).
    pub fn finish(self) -> anyhow::Result<Vec<AuditRecord>> {
        let mut sealed = self.sealed;
        sealed.extend(self.services.store.append(self.entries)?);
        Ok(sealed)
    }
}
