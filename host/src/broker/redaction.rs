//! The redaction step of the pipeline.

use super::Report;
use crate::installation::Installation;
use crate::model::{Kind, Record};
use serde_json::Value;
use std::collections::BTreeMap;

/// Masks sensitive data inside a string handed to a plugin.
pub trait Redaction: Send + Sync {
    /// Returns the masked text and counts by data class, or `None` when nothing in
    /// `text` needs masking for this installation.
    fn redact(
        &self,
        installation: &Installation,
        text: &str,
    ) -> Option<(String, BTreeMap<String, u32>)>;
}

/// A redaction step that changes nothing.
///
/// ```
/// use airlock_host::broker::{PassThrough, Redaction};
/// # use airlock_host::{installation::Installation, manifest::Manifest};
/// # let m = Manifest::parse("p", "name='pp'\nversion='1.0.0'\nvendor='v'\ndescription='d'\nevents=['action']\n[data]\n").unwrap();
/// # let inst = Installation::new("p".into(), m, "00".into(), "now".into());
/// assert!(PassThrough.redact(&inst, "4111 1111 1111 1111").is_none());
/// ```
pub struct PassThrough;

impl Redaction for PassThrough {
    fn redact(&self, _: &Installation, _: &str) -> Option<(String, BTreeMap<String, u32>)> {
        None
    }
}

/// Redacts every string value of a record except its identity keys.
pub(super) fn redact_record(
    redaction: &dyn Redaction,
    inst: &Installation,
    kind: Kind,
    record: &mut Record,
    report: &mut Report,
) {
    for (key, value) in record.iter_mut() {
        if !kind.identity_keys().contains(&key.as_str()) {
            redact_value(redaction, inst, value, report);
        }
    }
}

fn redact_value(
    redaction: &dyn Redaction,
    inst: &Installation,
    value: &mut Value,
    report: &mut Report,
) {
    match value {
        Value::String(text) => {
            if let Some((masked, counts)) = redaction.redact(inst, text) {
                *text = masked;
                for (class, n) in counts {
                    *report.redactions.entry(class).or_default() += n;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_value(redaction, inst, item, report);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                redact_value(redaction, inst, item, report);
            }
        }
        _ => {}
    }
}
