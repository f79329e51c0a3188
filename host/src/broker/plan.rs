//! Authorization: turning a call's [`Need`] and an installation's grant into a
//! [`FieldPlan`], the set of fields the call may touch.

use super::{CallError, Need, Report};
use crate::catalog;
use crate::installation::Installation;
use crate::model::{Kind, Record};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why a field was withheld: the plugin never declared it.
pub const NOT_DECLARED_READ: &str = "not declared in plugin.toml [data] read";
/// Why a field was withheld: declared, but the admin did not grant it.
pub const NOT_GRANTED: &str = "not granted to this installation";

/// The fields an authorized call may touch, and those it must hold back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPlan {
    /// Paths the call may return or write (declared ∩ granted ∩ requested).
    pub allowed: BTreeSet<String>,
    /// Paths held back, with reasons, known before fetching.
    pub withheld: BTreeMap<String, String>,
    /// Declared read paths, for reasons about fields found while projecting.
    declared: BTreeSet<String>,
}

impl FieldPlan {
    /// Checks a need against an installation's declared and granted fields.
    ///
    /// ```
    /// # use airlock_host::{broker::*, installation::*, manifest::Manifest, model::Kind};
    /// # let m = Manifest::parse("plugin.toml", r#"
    /// #   name = "pp"
    /// #   version = "1.0.0"
    /// #   vendor = "v"
    /// #   description = "d"
    /// #   events = ["ticket-created"]
    /// #   [data]
    /// #   read = ["requester.email", "requester.phone"]
    /// # "#).unwrap();
    /// let mut inst = Installation::new("p".into(), m, "00".into(), "now".into());
    /// inst.set_grants(Grants { read: ["requester.email".to_string()].into(), ..Default::default() }).unwrap();
    /// let need = |f: &[&str]| Need::Read {
    ///     kind: Kind::User, fields: f.iter().map(|s| s.to_string()).collect(), filter: None,
    /// };
    /// // Undeclared: denied.
    /// assert!(matches!(FieldPlan::authorize(&inst, &need(&["requester.notes"])), Err(CallError::Denied(_))));
    /// // Declared but not granted: withheld.
    /// let plan = FieldPlan::authorize(&inst, &need(&[])).unwrap();
    /// assert!(plan.allowed.contains("requester.email"));
    /// assert_eq!(plan.withheld["requester.phone"], NOT_GRANTED);
    /// ```
    pub fn authorize(inst: &Installation, need: &Need) -> Result<FieldPlan, CallError> {
        let data = &inst.manifest.data;
        match need {
            Need::Nothing => Ok(FieldPlan::default()),
            Need::Write { field } => {
                if !data.write.contains(field) {
                    // Not quoted: it may be the plugin's string (a custom field name).
                    return Err(CallError::Denied(
                        "the field written is not declared in plugin.toml [data] write".into(),
                    ));
                }
                if !inst.grants.write.contains(field) {
                    return Err(CallError::Denied(format!(
                        "{field} not granted for write to this installation"
                    )));
                }
                Ok(FieldPlan {
                    allowed: BTreeSet::from([field.clone()]),
                    ..Default::default()
                })
            }
            Need::Read {
                kind,
                fields,
                filter,
            } => {
                let prefix = format!("{}.", kind.path_prefix());
                let declared: BTreeSet<String> = data
                    .read
                    .iter()
                    .filter(|f| f.starts_with(&prefix))
                    .cloned()
                    .collect();
                if let Some(filter) = filter {
                    check_readable(inst, filter, "search on")?;
                }
                let mut plan = FieldPlan {
                    declared: declared.clone(),
                    ..Default::default()
                };
                let requested: BTreeSet<String> = if fields.is_empty() {
                    if declared.is_empty() {
                        return Err(CallError::Denied(format!(
                            "plugin.toml [data] read declares no {prefix}* fields"
                        )));
                    }
                    for path in catalog::readable_paths(kind.path_prefix()) {
                        if !declared.contains(path) {
                            plan.withheld
                                .insert(path.to_string(), NOT_DECLARED_READ.to_string());
                        }
                    }
                    declared
                } else {
                    // Errors name a requested path only when the catalog fixes it; else
                    // by its position (a custom field name is the plugin's string).
                    for (i, path) in fields.iter().enumerate() {
                        let named = match catalog::lookup(path) {
                            Some(_) if !path.starts_with(catalog::CUSTOM_FIELD_PREFIX) => {
                                path.clone()
                            }
                            _ => format!("field #{i}"),
                        };
                        if !path.starts_with(&prefix) || catalog::lookup(path).is_none() {
                            return Err(CallError::Invalid(format!(
                                "{named} is not a {prefix}* field path in the catalog"
                            )));
                        }
                        if !declared.contains(path) {
                            return Err(CallError::Denied(format!("{named} {NOT_DECLARED_READ}")));
                        }
                    }
                    fields.iter().cloned().collect()
                };
                for path in requested {
                    if inst.grants.read.contains(&path) {
                        plan.allowed.insert(path);
                    } else {
                        plan.withheld.insert(path, NOT_GRANTED.to_string());
                    }
                }
                Ok(plan)
            }
        }
    }

    /// True if the plan allows this path.
    pub fn allows(&self, path: &str) -> bool {
        self.allowed.contains(path)
    }

    /// Removes every field of `record` the plan does not allow.
    pub fn project(&self, kind: Kind, record: &mut Record, report: &mut Report) {
        let prefix = kind.path_prefix();
        record.retain(|key, value| {
            if kind.identity_keys().contains(&key.as_str()) {
                return true;
            }
            if key == "custom_fields" {
                if let Value::Object(custom) = value {
                    custom.retain(|name, _| {
                        let path = format!("{prefix}.custom_fields.{name}");
                        self.keep(path, report)
                    });
                }
                return true;
            }
            self.keep(format!("{prefix}.{key}"), report)
        });
    }

    fn keep(&self, path: String, report: &mut Report) -> bool {
        if self.allowed.contains(&path) {
            report.returned.insert(path);
            return true;
        }
        // Declared fields that were not asked for are simply not returned.
        if !self.declared.contains(&path) {
            report
                .withheld
                .entry(path)
                .or_insert_with(|| NOT_DECLARED_READ.to_string());
        }
        false
    }
}

fn check_readable(inst: &Installation, path: &str, what: &str) -> Result<(), CallError> {
    if !inst.manifest.data.read.contains(path) {
        return Err(CallError::Denied(format!(
            "cannot {what} {path}: {NOT_DECLARED_READ}"
        )));
    }
    if !inst.grants.read.contains(path) {
        return Err(CallError::Denied(format!(
            "cannot {what} {path}: {NOT_GRANTED}"
        )));
    }
    Ok(())
}
