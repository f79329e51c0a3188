//! `[[egress]]` in `plugin.toml`: where a plugin may send requests, and what.
//!
//! ```toml
//! [[egress]]
//! destination = "https://api.crm.example"   # scheme://host[:port]; one leading `*.` at most
//! path = "/v1/contacts"                      # path prefix (default "/")
//! methods = ["POST"]
//! send = ["requester.email"]                 # field paths or data classes it may receive
//! secrets = ["crm_token"]                    # secret settings it may receive
//! ```

use super::destination::Destination;
use crate::catalog;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One allowed kind of outbound request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    /// `scheme://host[:port]`, canonicalized when the manifest is parsed.
    pub destination: String,
    /// The path prefix requests must fall under.
    #[serde(default = "root")]
    pub path: String,
    /// Allowed methods, uppercase.
    pub methods: BTreeSet<String>,
    /// Field paths (`requester.email`) and data classes (catalog classes such as
    /// `personal`, detector classes such as `email`) the destination may receive.
    #[serde(default)]
    pub send: BTreeSet<String>,
    /// Secret settings the destination may receive through placeholders.
    #[serde(default)]
    pub secrets: BTreeSet<String>,
}

/// The methods a plugin may use.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

fn root() -> String {
    "/".into()
}

/// The names of the secret settings: top-level properties of the settings schema marked
/// `writeOnly = true`.
///
/// ```
/// let schema = serde_json::json!({"type": "object", "properties": {
///     "token": {"type": "string", "writeOnly": true}, "channel": {"type": "string"}}});
/// assert_eq!(airlock_core::manifest::rules::secret_settings(Some(&schema)).into_iter().collect::<Vec<_>>(), ["token"]);
/// ```
pub fn secret_settings(schema: Option<&serde_json::Value>) -> BTreeSet<String> {
    schema
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .filter(|(_, v)| v.get("writeOnly").and_then(|w| w.as_bool()) == Some(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks and canonicalizes the rules of a manifest. Errors are (key, message).
pub fn validate(
    rules: &mut [EgressRule],
    settings: Option<&serde_json::Value>,
) -> Result<(), (String, String)> {
    let secrets = secret_settings(settings);
    for (i, rule) in rules.iter_mut().enumerate() {
        let key = |k: &str| format!("egress[{i}].{k}");
        rule.destination = Destination::parse(&rule.destination)
            .map_err(|m| (key("destination"), m))?
            .to_string();
        if !rule.path.starts_with('/')
            || rule.path.contains(['?', '#', '\\', '%'])
            || rule.path.split('/').any(|seg| seg == ".." || seg == ".")
        {
            return Err((
                key("path"),
                "must start with `/` and contain no `.`/`..` segments, query or escapes".into(),
            ));
        }
        rule.methods = rule
            .methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if let Some(m) = rule.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err((
                key("methods"),
                format!("`{m}` is not one of {}", METHODS.join(", ")),
            ));
        }
        for item in &rule.send {
            let known = catalog::lookup(item).is_some_and(|s| s.access.readable())
                || item.parse::<catalog::Sensitivity>().is_ok()
                || item
                    .parse::<airlock_redact::Class>()
                    .is_ok_and(|c| airlock_redact::Class::BUILTIN.contains(&c));
            if !known {
                return Err((
                    key("send"),
                    format!(
                        "`{item}` is neither a readable field path, a catalog class ({}) nor a detector class (email, phone, credit_card, …)",
                        catalog::Sensitivity::ALL.map(|s| s.as_str()).join(", ")
                    ),
                ));
            }
        }
        if let Some(s) = rule.secrets.iter().find(|s| !secrets.contains(*s)) {
            return Err((
                key("secrets"),
                format!(
                    "`{s}` is not a secret setting: declare it in [settings] properties with writeOnly = true"
                ),
            ));
        }
    }
    Ok(())
}
