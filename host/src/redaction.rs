//! The broker's redaction step, backed by the `airlock-redact` engine.
//!
//! Every string handed to a plugin is scanned; each data class is masked (label,
//! partial or token, per class) unless the installation holds an admin-approved
//! `reveal` grant for it. Tokens are keyed with this host's redaction key
//! (`<data-dir>/redaction.key`) and scoped to the installation, so one installation can
//! correlate tickets by token while another cannot link them.

use crate::blobs::DataDir;
use crate::broker::Redaction;
use crate::installation::Installation;
use airlock_redact::{Class, Config, Mask, Policy, Redactor};
use anyhow::Context;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// The file holding the token key (hex).
pub const KEY_FILE: &str = "redaction.key";

/// `[redaction]` in the config file.
///
/// ```
/// use airlock_host::redaction::{EngineRedaction, RedactionConfig};
/// let config: RedactionConfig = toml::from_str(r#"
///     masks = { credit_card = "partial", phone = "token" }
///     allow = ["+1 800 555 0100"]
///     custom = [{ name = "employee_id", pattern = "EMP-[0-9]{6}", context = ["employee"] }]
/// "#).unwrap();
/// let engine = EngineRedaction::new(&config, [0; 32]).unwrap();
/// let policy = engine.policy("inst", &Default::default());
/// let out = engine.redactor().redact("card 4111 1111 1111 1111, employee EMP-123456", &policy);
/// assert_eq!(out.text, "card •••• •••• •••• 1111, employee [CUSTOM:employee_id]");
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionConfig {
    /// Detectors: which built-ins run, custom detectors, and the allow-list.
    #[serde(default, flatten)]
    pub engine: Config,
    /// The mask per class name (`credit_card = "partial"`); unlisted classes get
    /// `default_mask`, except `email`, which defaults to `partial` (domain kept).
    #[serde(default)]
    pub masks: BTreeMap<String, Mask>,
    /// The mask of classes not listed in `masks` (default `label`).
    #[serde(default)]
    pub default_mask: Option<Mask>,
}

/// An installation's policy, cached with the reveal grants it was built from.
type CachedPolicy = (BTreeSet<String>, Arc<Policy>);

/// The redaction engine with per-installation policies.
pub struct EngineRedaction {
    redactor: Redactor,
    key: [u8; 32],
    masks: Vec<(Class, Mask)>,
    default_mask: Mask,
    policies: RwLock<HashMap<String, CachedPolicy>>,
}

impl EngineRedaction {
    /// Builds the engine from its config and the token key.
    pub fn new(config: &RedactionConfig, key: [u8; 32]) -> anyhow::Result<EngineRedaction> {
        let redactor =
            Redactor::new(&config.engine).map_err(|e| anyhow::anyhow!("[redaction]: {e}"))?;
        let mut masks = vec![(Class::Email, Mask::Partial)];
        for (name, mask) in &config.masks {
            let class: Class = name
                .parse()
                .map_err(|_| anyhow::anyhow!("[redaction.masks]: unknown data class `{name}`"))?;
            masks.retain(|(c, _)| c != &class);
            masks.push((class, *mask));
        }
        Ok(EngineRedaction {
            redactor,
            key,
            masks,
            default_mask: config.default_mask.unwrap_or(Mask::Label),
            policies: RwLock::new(HashMap::new()),
        })
    }

    /// Loads the token key from the data directory (generated on first use) and builds
    /// the engine.
    pub fn open(data: &DataDir, config: &RedactionConfig) -> anyhow::Result<EngineRedaction> {
        let key = match data.read_text(KEY_FILE) {
            Some(text) => hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| {
                    format!("{KEY_FILE} in the data directory is not 32 bytes of hex")
                })?,
            None => {
                let key: [u8; 32] = rand::random();
                data.write_secret(KEY_FILE, &hex::encode(key))?;
                key
            }
        };
        Self::new(config, key)
    }

    /// The detectors.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The policy for a scope with the given reveal grants.
    pub fn policy(&self, scope: &str, reveal: &BTreeSet<String>) -> Policy {
        let mut policy = Policy::new(self.key, scope).with_default_mask(self.default_mask);
        for (class, mask) in &self.masks {
            policy = policy.with_mask(class.clone(), *mask);
        }
        for name in reveal {
            if let Ok(class) = name.parse::<Class>() {
                policy = policy.reveal(class);
            }
        }
        policy
    }

    fn policy_for(&self, inst: &Installation) -> Arc<Policy> {
        let reveal = &inst.grants.reveal;
        if let Some((cached_reveal, policy)) = self
            .policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&inst.id)
            && cached_reveal == reveal
        {
            return policy.clone();
        }
        let policy = Arc::new(self.policy(&inst.id, reveal));
        self.policies
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(inst.id.clone(), (reveal.clone(), policy.clone()));
        policy
    }
}

impl Redaction for EngineRedaction {
    fn redact(&self, inst: &Installation, text: &str) -> Option<(String, BTreeMap<String, u32>)> {
        let policy = self.policy_for(inst);
        let out = self.redactor.redact(text, &policy);
        if out.counts.is_empty() {
            return None;
        }
        let counts = out
            .counts
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect();
        Some((out.text.into_owned(), counts))
    }
}
