//! Installation settings: the non-secret values an admin set, as JSON.

use super::wit::airlock::plugin::settings as wit_settings;
use super::{CallKind, CallName, CallState};
use crate::broker::{CallContext, CallError, CallSpec, Capability, FieldPlan, Need};

const GET: &str = "settings.get";
const ALL: &str = "settings.all";

/// The settings capability's calls.
pub const CALLS: &[CallName] = &[
    CallName::new(GET, CallKind::Other, None),
    CallName::new(ALL, CallKind::Other, None),
];

/// `settings.get` (one key) and `settings.all` (no key).
pub struct Settings;

impl Capability for Settings {
    /// The key asked for, or `None` for all settings.
    type Request = Option<String>;
    /// A JSON document: the value, the whole object, or `None` when unset.
    type Output = Option<String>;
    type Approval = ();

    fn describe(&self, key: &Option<String>) -> Result<CallSpec, CallError> {
        if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 128) {
            return Err(CallError::Invalid("a settings key is 1-128 bytes".into()));
        }
        Ok(CallSpec::for_plugin_key(
            match key {
                Some(_) => GET,
                None => ALL,
            },
            key.clone().unwrap_or_default(),
            Need::Nothing,
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext,
        key: Option<String>,
        (): (),
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

/// The settings interface as a plugin sees it: each read is one brokered call.
impl wit_settings::Host for CallState<'_> {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let value = self.invocation.call(&Settings, Some(key)).ok().flatten();
        self.check_budget()?;
        Ok(value)
    }

    fn all(&mut self) -> wasmtime::Result<String> {
        let all = self.invocation.call(&Settings, None).ok().flatten();
        self.check_budget()?;
        Ok(all.unwrap_or_else(|| "{}".into()))
    }
}
