//! What the broker does to a response before the plugin sees it: [`Brokered`] projects
//! it to the granted fields, redacts it, and lists what it hands out ([`Seen`] values,
//! stored records) for the taint and the data-loss checks.

use super::{FieldPlan, Redaction, redaction};
use crate::installation::Installation;
use crate::model::{Kind, Record};
use std::collections::BTreeMap;

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
    /// redaction), so outbound requests can be checked for them ([`Invocation::seen`](super::Invocation::seen)).
    fn seen(&self, _out: &mut Vec<Seen>) {}
    /// Lists the stored records the plugin will see, so the flows labelled on their
    /// fields can be inherited ([`Taint::inherit`](super::Taint::inherit)).
    fn records(&self, _out: &mut Vec<(Kind, String)>) {}
    /// Lists the flows carried by stored plugin data the plugin will see (a kv value),
    /// each with where it was stored (`kv`): inherited like a stored field's.
    fn flows(&self, _out: &mut Vec<(String, crate::model::Flow)>) {}
    /// Lists the data subjects (`user:<id>`, `ticket:<id>`) of stored plugin data the
    /// plugin will see: what it writes next is tagged with them too.
    fn subjects(&self, _out: &mut Vec<String>) {}
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
    /// Capability-specific facts for the audit record (see [`AuditEntry::details`](crate::audit::AuditEntry::details)).
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

    fn records(&self, out: &mut Vec<(Kind, String)>) {
        if let Some(id) = self.record.get("id").and_then(|v| v.as_str()) {
            out.push((self.kind, id.to_string()));
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

    fn records(&self, out: &mut Vec<(Kind, String)>) {
        for item in self {
            item.records(out);
        }
    }
}
