//! `plugin.toml`: parsing and validation.
//!
//! A manifest is checked in three passes, each naming the file and key it rejects:
//! 1. it must be TOML;
//! 2. it must match the JSON Schema shipped in `crates/core/schema/plugin-manifest.schema.json`;
//! 3. every field path must be in the [`catalog`] with the access asked
//!    for, and the settings schema must itself be a valid JSON Schema.

use crate::catalog;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

pub mod destination;
pub mod rules;

/// The JSON Schema every `plugin.toml` must match.
pub const MANIFEST_SCHEMA: &str = include_str!("../../schema/plugin-manifest.schema.json");

/// Default per-invocation deadline when a manifest sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Default memory cap when a manifest sets none.
pub const DEFAULT_MEMORY_MIB: u64 = 32;

/// An event kind a plugin can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A new ticket.
    TicketCreated,
    /// A changed ticket.
    TicketUpdated,
    /// A new comment on a ticket.
    CommentAdded,
    /// An agent-invoked custom action.
    Action,
    /// A scheduled run (`[schedule] every`); it carries no ticket.
    Schedule,
}

impl EventKind {
    /// The kebab-case name used in manifests, the API and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TicketCreated => "ticket-created",
            EventKind::TicketUpdated => "ticket-updated",
            EventKind::CommentAdded => "comment-added",
            EventKind::Action => "action",
            EventKind::Schedule => "schedule",
        }
    }
}

/// `[data]`: the field paths a plugin declares it reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataAccess {
    /// Paths the plugin may ask to read.
    #[serde(default)]
    pub read: BTreeSet<String>,
    /// Paths the plugin may ask to write.
    #[serde(default)]
    pub write: BTreeSet<String>,
    /// Data classes the plugin asks to see raw (an admin approves each as a `reveal`
    /// grant); every other class is masked by the broker.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reveal: BTreeSet<String>,
}

/// `[limits]`: what the plugin asks for; the host caps both by the admin maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The per-invocation deadline in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The linear-memory cap in MiB.
    pub memory_mib: Option<u64>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// `[storage]`: the plugin storage a plugin asks for (granted per installation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    /// A key-value namespace of its own.
    #[serde(default)]
    pub kv: bool,
    /// The bytes of keys and values it asks for (capped by the admin's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// The number of keys it asks for (capped by the admin's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<u64>,
}

/// A validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin's name.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// Who ships it.
    pub vendor: String,
    /// What it does.
    pub description: String,
    /// The events it handles.
    pub events: BTreeSet<EventKind>,
    /// The fields it declares.
    pub data: DataAccess,
    /// The limits it asks for.
    #[serde(default)]
    pub limits: Limits,
    /// The storage it asks for.
    #[serde(default, skip_serializing_if = "is_default")]
    pub storage: Storage,
    /// The JSON Schema of its settings, if it takes any.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// `[[egress]]`: where it may send outbound HTTP requests, and what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<rules::EgressRule>,
    /// `[schedule]`: how often it runs, with `events = ["schedule"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// `[schedule]`: a plugin's interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// `15m`, `2h`, `1d`: a number and a unit, at least one minute.
    pub every: String,
}

impl Schedule {
    /// The interval in seconds (the schema checked its form).
    ///
    /// ```
    /// use airlock_core::manifest::Schedule;
    /// assert_eq!(Schedule { every: "15m".into() }.seconds(), Some(900));
    /// assert_eq!(Schedule { every: "2h".into() }.seconds(), Some(7200));
    /// assert_eq!(Schedule { every: "30s".into() }.seconds(), None);
    /// ```
    pub fn seconds(&self) -> Option<u64> {
        let (n, unit) = self.every.split_at(self.every.len().checked_sub(1)?);
        let unit = match unit {
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        n.parse::<u64>().ok().filter(|n| *n > 0).map(|n| n * unit)
    }
}

/// Why a manifest was rejected: the file, the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file the manifest came from.
    pub file: String,
    /// The key (dotted path) at fault, or empty for the whole document.
    pub key: String,
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: key `{}`: {}", self.file, self.key, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

fn manifest_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(MANIFEST_SCHEMA).expect("the shipped manifest schema is JSON");
        jsonschema::validator_for(&schema).expect("the shipped manifest schema is valid")
    })
}

/// Turns a JSON pointer (`/data/read/0`) into a dotted key (`data.read[0]`).
fn pointer_to_key(pointer: &str) -> String {
    let mut key = String::new();
    for segment in pointer.split('/').skip(1) {
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}

impl Manifest {
    /// Parses and validates a manifest. `file` names it in errors.
    ///
    /// ```
    /// use airlock_core::manifest::Manifest;
    /// let m = Manifest::parse("plugin.toml", r#"
    ///     name = "hello"
    ///     version = "0.1.0"
    ///     vendor = "Example"
    ///     description = "Says hello."
    ///     events = ["ticket-created"]
    ///     [data]
    ///     read = ["ticket.subject"]
    /// "#).unwrap();
    /// assert_eq!(m.timeout_ms(), 1000);
    ///
    /// let err = Manifest::parse("plugin.toml", "name = ").unwrap_err();
    /// assert!(err.to_string().contains("invalid TOML"));
    /// ```
    pub fn parse(file: &str, text: &str) -> Result<Manifest, ManifestError> {
        let fail = |key: &str, message: String| ManifestError {
            file: file.to_string(),
            key: key.to_string(),
            message,
        };
        let toml_value: toml::Value = toml::from_str(text)
            .map_err(|e| fail("", format!("invalid TOML: {}", e.to_string().trim())))?;
        let json = serde_json::to_value(&toml_value)
            .map_err(|e| fail("", format!("cannot read as data: {e}")))?;

        if let Some(error) = manifest_validator().iter_errors(&json).next() {
            let key = pointer_to_key(error.instance_path.as_str());
            return Err(fail(&key, schema_message(&error)));
        }
        let mut manifest: Manifest =
            serde_json::from_value(json).map_err(|e| fail("", format!("{e}")))?;

        for (section, paths, readable) in [
            ("data.read", &manifest.data.read, true),
            ("data.write", &manifest.data.write, false),
        ] {
            for path in paths {
                let Some(spec) = catalog::lookup(path) else {
                    return Err(fail(
                        section,
                        format!(
                            "unknown field path `{path}`; see the field catalog in the README for valid paths"
                        ),
                    ));
                };
                let ok = if readable {
                    spec.access.readable()
                } else {
                    spec.access.writable()
                };
                if !ok {
                    let what = if readable { "read" } else { "written" };
                    return Err(fail(
                        section,
                        format!("field `{path}` cannot be {what} by plugins"),
                    ));
                }
            }
        }

        for class in &manifest.data.reveal {
            if class.parse::<airlock_redact::Class>().is_err() {
                return Err(fail(
                    "data.reveal",
                    format!(
                        "unknown data class `{class}`; see the README's redaction section for class names"
                    ),
                ));
            }
        }

        if let Some(schema) = &manifest.settings {
            check_settings_schema(schema).map_err(|message| fail("settings", message))?;
        }
        rules::validate(&mut manifest.egress, manifest.settings.as_ref())
            .map_err(|(key, message)| fail(&key, message))?;
        let scheduled = manifest.events.contains(&EventKind::Schedule);
        match (&manifest.schedule, scheduled) {
            (None, true) => {
                return Err(fail(
                    "schedule",
                    "events lists \"schedule\": say how often with [schedule] every = \"15m\""
                        .into(),
                ));
            }
            (Some(_), false) => {
                return Err(fail(
                    "schedule",
                    "[schedule] needs \"schedule\" in events".into(),
                ));
            }
            _ => {}
        }
        Ok(manifest)
    }

    /// The deadline the plugin asked for, or the default.
    pub fn timeout_ms(&self) -> u64 {
        self.limits.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
    }

    /// The names of its secret settings (`writeOnly = true` in `[settings]`): write-only
    /// for admins, sealed at rest, never readable by the plugin.
    pub fn secret_settings(&self) -> std::collections::BTreeSet<String> {
        rules::secret_settings(self.settings.as_ref())
    }

    /// The memory cap the plugin asked for, or the default.
    pub fn memory_mib(&self) -> u64 {
        self.limits.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB)
    }

    /// Validates installation settings against the manifest's settings schema.
    ///
    /// Errors name the setting's path and the rule it breaks, never its value.
    ///
    /// ```
    /// use airlock_core::manifest::Manifest;
    /// let m = Manifest::parse("plugin.toml", r#"
    ///     name = "hello"
    ///     version = "0.1.0"
    ///     vendor = "Example"
    ///     description = "Says hello."
    ///     events = ["ticket-created"]
    ///     [data]
    ///     [settings]
    ///     type = "object"
    ///     properties = { greeting = { type = "string" } }
    /// "#).unwrap();
    /// assert!(m.validate_settings(&serde_json::json!({"greeting": "hi"})).is_ok());
    /// assert!(m.validate_settings(&serde_json::json!({"greeting": 3})).is_err());
    /// ```
    pub fn validate_settings(&self, settings: &serde_json::Value) -> Result<(), String> {
        if !settings.is_object() {
            return Err("settings must be a JSON object".into());
        }
        let Some(schema) = &self.settings else {
            return match settings.as_object().is_some_and(|o| o.is_empty()) {
                true => Ok(()),
                false => Err(format!(
                    "plugin `{}` declares no settings; send an empty object",
                    self.name
                )),
            };
        };
        let validator = jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
        let problems: Vec<String> = validator
            .iter_errors(settings)
            .map(|e| {
                let at = match e.instance_path.as_str() {
                    "" => "settings".to_string(),
                    p => format!("settings.{}", pointer_to_key(p)),
                };
                let rule = e
                    .schema_path
                    .as_str()
                    .rsplit('/')
                    .next()
                    .unwrap_or("schema");
                format!("{at}: breaks the `{rule}` rule of the settings schema")
            })
            .collect();
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }
}

/// A schema error as a sentence, without echoing long values.
fn schema_message(error: &jsonschema::ValidationError<'_>) -> String {
    let rule = error.schema_path.as_str();
    let text = error.to_string();
    let text = if text.len() > 200 {
        format!("{}…", &text[..text.floor_char_boundary(200)])
    } else {
        text
    };
    format!("{text} (manifest schema rule {rule})")
}

fn check_settings_schema(schema: &serde_json::Value) -> Result<(), String> {
    match jsonschema::meta::try_validate(schema) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(format!(
                "not a valid JSON Schema: {e} (at {})",
                e.instance_path.as_str()
            ));
        }
        Err(e) => return Err(format!("not a valid JSON Schema: {e}")),
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| format!("not a usable JSON Schema: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "auto-tagger"
        version = "0.1.0"
        vendor = "Airlock Examples"
        description = "Tags tickets."
        events = ["ticket-created"]
        [data]
        read = ["ticket.subject", "ticket.description"]
        write = ["ticket.tags"]
        [limits]
        timeout_ms = 500
    "#;

    #[test]
    fn good_manifest_parses() {
        let m = Manifest::parse("plugin.toml", GOOD).unwrap();
        assert_eq!(m.name, "auto-tagger");
        assert_eq!(m.timeout_ms(), 500);
        assert_eq!(m.memory_mib(), DEFAULT_MEMORY_MIB);
        assert!(m.events.contains(&EventKind::TicketCreated));
    }

    #[test]
    fn unknown_field_is_named() {
        let text = GOOD.replace("ticket.description", "requester.ssn");
        let err = Manifest::parse("x/plugin.toml", &text).unwrap_err();
        assert_eq!(err.key, "data.read");
        assert!(err.to_string().contains("requester.ssn"), "{err}");
        assert!(err.to_string().starts_with("x/plugin.toml"), "{err}");
    }

    #[test]
    fn unknown_event_is_named() {
        let text = GOOD.replace("\"ticket-created\"", "\"ticket-exploded\"");
        let err = Manifest::parse("plugin.toml", &text).unwrap_err();
        assert_eq!(err.key, "events[0]");
    }

    #[test]
    fn write_only_and_read_only_fields_are_enforced() {
        let text = GOOD.replace("write = [\"ticket.tags\"]", "write = [\"ticket.subject\"]");
        let err = Manifest::parse("plugin.toml", &text).unwrap_err();
        assert!(err.message.contains("cannot be written"), "{err}");
    }

    #[test]
    fn bad_settings_schema_is_rejected() {
        let text = format!("{GOOD}\n[settings]\ntype = \"no-such-type\"\n");
        let err = Manifest::parse("plugin.toml", &text).unwrap_err();
        assert_eq!(err.key, "settings");
        assert!(err.message.contains("not a valid JSON Schema"), "{err}");
    }

    #[test]
    fn settings_errors_do_not_echo_values() {
        let text = format!(
            "{GOOD}\n[settings]\ntype = \"object\"\nproperties = {{ n = {{ type = \"integer\" }} }}\n"
        );
        let m = Manifest::parse("plugin.toml", &text).unwrap();
        let err = m
            .validate_settings(&serde_json::json!({"n": "secret-value-123"}))
            .unwrap_err();
        assert!(err.contains("settings.n"), "{err}");
        assert!(!err.contains("secret-value-123"), "{err}");
    }
}
