//! Tenant configuration: which detectors run, custom detectors, allow-list.

use serde::{Deserialize, Serialize};

use crate::Class;

/// Redactor configuration, deserializable from JSON or TOML.
///
/// ```
/// let cfg: airlock_redact::Config = serde_json::from_str(r#"{
///   "disabled": ["ip_address"],
///   "custom": [{"name": "employee_id", "pattern": "\\bEMP-\\d{6}\\b", "context": ["employee"]}],
///   "allow": ["+1 800 555 0199"]
/// }"#).unwrap();
/// assert_eq!(cfg.custom[0].name, "employee_id");
/// let r = airlock_redact::Redactor::new(&cfg).unwrap();
/// assert!(r.find_spans("call +1 800 555 0199").is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Built-in classes to run; `None` (the default) runs all of them.
    pub enabled: Option<Vec<Class>>,
    /// Built-in classes not to run (applied after `enabled`).
    pub disabled: Vec<Class>,
    /// Tenant-defined detectors.
    pub custom: Vec<CustomDetector>,
    /// Values never redacted, compared in normalized form (digits only for
    /// numbers, case-insensitive for IBAN/NINO/email; phone numbers also match
    /// with or without country code / trunk 0).
    pub allow: Vec<String>,
}

/// A custom detector: a regex, an optional validator and optional context words.
///
/// ```
/// let d: airlock_redact::CustomDetector = toml::from_str(r#"
/// name = "member_no"
/// pattern = '\bM\d{8}\b'
/// validator = "none"
/// context = ["member"]
/// window = 40
/// "#).unwrap();
/// assert_eq!(d.window, 40);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Name, `[a-z0-9_-]{1,64}`; the class is `custom:<name>`.
    pub name: String,
    /// Regex (Rust `regex` syntax; no look-around or backreferences).
    pub pattern: String,
    /// Check applied to each match.
    #[serde(default)]
    pub validator: Validator,
    /// If non-empty, one of these words (case-insensitive) must appear within
    /// `window` bytes before or after the match.
    #[serde(default)]
    pub context: Vec<String>,
    /// Context window in bytes (default 64).
    #[serde(default = "default_window")]
    pub window: usize,
}

fn default_window() -> usize {
    64
}

/// Validator for custom detector matches.
///
/// ```
/// let v: airlock_redact::Validator = serde_json::from_str("\"mod97\"").unwrap();
/// assert_eq!(v, airlock_redact::Validator::Mod97);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validator {
    /// Accept every match.
    #[default]
    None,
    /// Digits of the match must pass Luhn.
    Luhn,
    /// Alphanumerics of the match must pass ISO 7064 mod 97-10 (IBAN style).
    Mod97,
}

/// Errors from [`crate::Redactor::new`].
///
/// ```
/// use airlock_redact::{Config, CustomDetector, Redactor, Validator, ConfigError};
/// let mut cfg = Config::default();
/// cfg.custom.push(CustomDetector { name: "x".into(), pattern: "(".into(),
///     validator: Validator::None, context: vec![], window: 64 });
/// assert!(matches!(Redactor::new(&cfg), Err(ConfigError::BadPattern { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Custom detector name is not `[a-z0-9_-]{1,64}`.
    #[error("invalid custom detector name `{0}` (want [a-z0-9_-]{{1,64}})")]
    BadName(String),
    /// Two custom detectors share a name.
    #[error("duplicate custom detector `{0}`")]
    Duplicate(String),
    /// The regex does not compile (or is too large).
    #[error("custom detector `{name}`: bad pattern: {source}")]
    BadPattern {
        /// Detector name.
        name: String,
        /// Regex error.
        #[source]
        source: regex::Error,
    },
    /// The regex matches the empty string.
    #[error("custom detector `{0}`: pattern matches the empty string")]
    EmptyMatch(String),
    /// `enabled`/`disabled` listed a custom class.
    #[error("`{0}` in enabled/disabled: only built-in classes can be listed there")]
    NotBuiltin(String),
}
