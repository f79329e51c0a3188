//! Installation settings: the non-secret values an admin set, as JSON.

use crate::broker::{CallContext, CallError, CallSpec, Capability, FieldPlan, Need};

/// `settings.get` (one key) and `settings.all` (no key).
pub struct Settings;

impl Capability for Settings {
    /// The key asked for, or `None` for all settings.
    type Request = Option<String>;
    /// A JSON document: the value, the whole object, or `None` when unset.
    type Output = Option<String>;

    fn describe(&self, key: &Option<String>) -> Result<CallSpec, CallError> {
        if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 128) {
            return Err(CallError::Invalid("a settings key is 1-128 bytes".into()));
        }
        Ok(CallSpec::for_plugin_key(
            match key {
                Some(_) => "settings.get",
                None => "settings.all",
            },
            key.clone().unwrap_or_default(),
            Need::Nothing,
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        key: Option<String>,
        _: &FieldPlan,
    ) -> Result<Option<String>, CallError> {
        // Secret settings are kept apart (sealed) when saved; drop any stray one too.
        let manifest = &ctx.installation.manifest;
        let secret = manifest.secret_settings();
        let settings = &ctx.installation.settings;
        let declared = manifest
            .settings
            .as_ref()
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.as_object());
        if key
            .as_ref()
            .is_none_or(|k| declared.is_some_and(|d| d.contains_key(k)))
        {
            ctx.confirm_resource();
        }
        Ok(match key {
            Some(key) if secret.contains(&key) => None,
            Some(key) => settings.get(&key).map(|v| v.to_string()),
            None => {
                let mut all = settings.clone();
                if let Some(map) = all.as_object_mut() {
                    map.retain(|k, _| !secret.contains(k));
                }
                Some(all.to_string())
            }
        })
    }
}
