//! The incident kill switch: stop an installation (or every installation of a plugin)
//! now, running invocations included, and revive it later.
//!
//! A kill disables the installation and marks it killed in the store, puts it in the
//! runtime's [`KillSwitch`](crate::runtime::kill::KillSwitch) (running invocations stop
//! at their next epoch tick), records `admin.plugin.kill` with the reason, and raises a
//! `plugin-killed` alert. Secrets are withheld, not deleted: nothing runs to use them. A
//! serving host learns of a kill made from the command line within a second.

use super::admin::Admin;
use super::{Airlock, AppError, AppResult};
use crate::installation::{Installation, Kill};
use crate::monitor::Rule;
use crate::review::check_note;
use std::collections::BTreeMap;

impl Airlock {
    /// Brings the runtime's kill switch in line with the store (kills made by another
    /// process); cheap when nothing changed.
    pub fn sync_kill_switch(&self) -> AppResult<()> {
        self.installed().map(|_| ())
    }
}

impl Admin<'_> {
    /// Kills the installation `target`, or every installation of the plugin named
    /// `target`. Returns the installations killed.
    pub fn kill(&self, target: &str, reason: &str) -> AppResult<Vec<Installation>> {
        check_note(reason).map_err(|e| AppError::Invalid(format!("the reason: {e}")))?;
        let airlock = self.airlock;
        let ids: Vec<String> = airlock
            .installations()?
            .into_iter()
            .filter(|i| i.id == target || i.manifest.name == target)
            .map(|i| i.id)
            .collect();
        if ids.is_empty() {
            return Err(AppError::NotFound(format!(
                "no installation or plugin `{target}`; `airlock plugin list` shows them"
            )));
        }
        let mut killed = Vec::new();
        for id in ids {
            let inst = self.audited("admin.plugin.kill", &id, || {
                // Running invocations stop first; the store then keeps it killed.
                airlock.runtime.kill_switch().kill(&id);
                let (before, after) = airlock.update_tracked(&id, |inst| {
                    inst.enabled = false;
                    inst.killed = Some(Kill {
                        reason: reason.to_string(),
                        by: self.actor.principal.actor.clone(),
                        at: crate::audit::now_rfc3339(),
                    });
                    Ok(())
                })?;
                let d = BTreeMap::from([
                    ("reason".to_string(), reason.to_string()),
                    ("enabled.before".into(), before.enabled.to_string()),
                    ("enabled.after".into(), "false".into()),
                ]);
                Ok((after, d))
            })?;
            let message = format!(
                "{} was killed by {}; `airlock audit blast-radius --installation {}` shows what it touched",
                inst.id, self.actor.principal.actor, inst.id
            );
            let details = BTreeMap::from([("reason".to_string(), reason.to_string())]);
            airlock.monitor.raise_alert(
                Rule::PluginKilled,
                (&inst.id, &inst.manifest.name),
                message,
                details,
            )?;
            killed.push(inst);
        }
        Ok(killed)
    }

    /// Revives a killed installation: enabled again, out of the kill switch. Needs a
    /// step-up.
    pub fn revive(&self, id: &str) -> AppResult<Installation> {
        self.audited("admin.plugin.revive", id, || {
            if !self.actor.stepped_up {
                return Err(AppError::StepUp(
                    "reviving a killed installation needs multi-factor step-up: send a fresh TOTP code in the `X-Airlock-TOTP` header".into(),
                ));
            }
            let (before, after) = self.airlock.update_tracked(id, |inst| {
                if inst.killed.is_none() {
                    return Err(AppError::Conflict(format!(
                        "`{}` is not killed; `airlock plugin enable` enables a disabled installation",
                        inst.id
                    )));
                }
                inst.killed = None;
                inst.enabled = true;
                Ok(())
            })?;
            self.airlock.runtime.kill_switch().revive(id);
            let d = BTreeMap::from([
                ("enabled.before".to_string(), before.enabled.to_string()),
                ("enabled.after".into(), after.enabled.to_string()),
            ]);
            Ok((after, d))
        })
    }
}
