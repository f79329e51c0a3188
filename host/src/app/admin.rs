//! Admin actions, each one audit record in the chain that plugin calls are in.
//!
//! [`Airlock::admin`] hands out an [`Admin`] for one actor. Its methods change the
//! installation and then append a record naming:
//! - the actor: user, scope, credential (`session:…`, `token:…`, `break-glass`,
//!   `cli:…`) and source address;
//! - the action (`call`: `admin.grants.change`, …) and its target (`resource`);
//! - for grants, limits and enablement, what was added and removed;
//! - for settings, the keys changed, never their values.
//!
//! A refused action is recorded too, with decision `deny` and the reason. Before any
//! change, the process makes sure it may append to the log (so a command line beside a
//! serving host changes nothing, rather than changing without a record). The change is
//! then made before its record is appended; if that append still fails (a full disk),
//! the caller gets an error.

use super::{Airlock, AppError, AppResult};
use crate::access::{Principal, Via};
use crate::audit::{AuditEntry, AuditRecord, Decision, HOST_INSTALLATION};
use crate::installation::{Grants, Installation};
use crate::model::Dataset;
use crate::store::AuditStore;
use std::collections::{BTreeMap, BTreeSet};

/// Who is acting, from where, and whether they stepped up with a fresh TOTP code.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The authenticated caller.
    pub principal: Principal,
    /// The source address (`cli` on the command line).
    pub address: String,
    /// The request carried a fresh TOTP code (or the session gave one moments ago).
    pub stepped_up: bool,
}

impl Actor {
    /// The host's own command line: an admin needing no step-up (whoever runs it holds
    /// the data directory).
    pub fn cli() -> Actor {
        Actor {
            principal: Principal::cli(),
            address: "cli".into(),
            stepped_up: true,
        }
    }

    /// The `actor`, `scope`, `via` and `address` details every record of theirs holds.
    pub fn details(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::new();
        d.insert("actor".into(), self.principal.actor.clone());
        if self.principal.via != Via::Anonymous {
            d.insert("scope".into(), self.principal.scope.as_str().into());
        }
        d.insert("via".into(), self.principal.via.describe());
        d.insert("address".into(), self.address.clone());
        if self.principal.via == Via::BreakGlass {
            d.insert("break_glass".into(), "true".into());
        }
        d
    }
}

/// One host record: the actor's details plus `extra`.
pub fn host_entry(
    actor: &Actor,
    call: &str,
    target: &str,
    outcome: Result<(), &str>,
    extra: BTreeMap<String, String>,
) -> AuditEntry {
    let mut details = actor.details();
    details.extend(extra);
    AuditEntry {
        installation: HOST_INSTALLATION.into(),
        call: call.into(),
        resource: target.into(),
        decision: Some(match outcome {
            Ok(()) => Decision::Allow,
            Err(_) => Decision::Deny,
        }),
        reason: outcome.err().unwrap_or("ok").into(),
        details,
        ..Default::default()
    }
}

/// The reason an [`AppError`] gives in a record: its kind, never its message (which may
/// quote a value).
fn refusal(e: &AppError) -> &'static str {
    match e {
        AppError::NotFound(_) => "not found",
        AppError::Invalid(_) => "invalid",
        AppError::Conflict(_) => "conflict",
        AppError::StepUp(_) => "step-up required",
        AppError::Busy { .. } => "busy",
        AppError::Store(_) | AppError::Internal(_) => "failed",
    }
}

/// What changed between two grant sets, as `read.added` … `reveal.removed` details
/// (comma-separated field paths, destinations or classes).
pub fn grant_diff(before: &Grants, after: &Grants) -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    let sets = [
        ("read", &before.read, &after.read),
        ("write", &before.write, &after.write),
        ("egress", &before.egress, &after.egress),
        ("reveal", &before.reveal, &after.reveal),
    ];
    for (name, b, a) in sets {
        let join = |s: BTreeSet<&String>| s.into_iter().cloned().collect::<Vec<_>>().join(",");
        let added: BTreeSet<&String> = a.difference(b).collect();
        let removed: BTreeSet<&String> = b.difference(a).collect();
        if !added.is_empty() {
            d.insert(format!("{name}.added"), join(added));
        }
        if !removed.is_empty() {
            d.insert(format!("{name}.removed"), join(removed));
        }
    }
    if before.kv != after.kv {
        d.insert("kv".into(), format!("{} -> {}", before.kv, after.kv));
    }
    d
}

/// Whether `after` grants anything `before` did not.
pub(super) fn widens(before: &Grants, after: &Grants) -> bool {
    !(after.read.is_subset(&before.read)
        && after.write.is_subset(&before.write)
        && after.egress.is_subset(&before.egress)
        && after.reveal.is_subset(&before.reveal)
        && (before.kv || !after.kv))
}

/// Admin actions by one actor; see the module documentation.
pub struct Admin<'a> {
    pub(super) airlock: &'a Airlock,
    pub(super) actor: &'a Actor,
}

impl Airlock {
    /// Admin actions by `actor`, each audited.
    pub fn admin<'a>(&'a self, actor: &'a Actor) -> Admin<'a> {
        Admin {
            airlock: self,
            actor,
        }
    }

    /// Appends host records (admin actions, sign-ins) and hands them to the follower.
    pub fn record(&self, entries: Vec<AuditEntry>) -> AppResult<Vec<AuditRecord>> {
        let records = self.store.append(entries)?;
        self.follow(records.clone());
        Ok(records)
    }

    /// Appends one record by `actor` about `target`.
    pub fn record_by(
        &self,
        actor: &Actor,
        call: &str,
        target: &str,
        outcome: Result<(), &str>,
        extra: BTreeMap<String, String>,
    ) -> AppResult<()> {
        self.record(vec![host_entry(actor, call, target, outcome, extra)])?;
        Ok(())
    }
}

impl Admin<'_> {
    /// Runs `action` and records it: its details on success, its kind of failure
    /// otherwise. The action's own error is returned either way.
    pub(super) fn audited<T>(
        &self,
        call: &str,
        target: &str,
        action: impl FnOnce() -> AppResult<(T, BTreeMap<String, String>)>,
    ) -> AppResult<T> {
        self.audited_as(call, target, || action().map(|(v, d)| (v, d, None)))
    }

    /// No change without its record: fails, before anything is changed, when this
    /// process may not append to the audit log (a serving process owns it). Every admin
    /// action goes through here first ([`Admin::audited_as`], and the account changes).
    pub(super) fn ensure_recordable(&self) -> AppResult<()> {
        Ok(self.airlock.store.claim()?)
    }

    /// [`Admin::audited`] for an action that learns its target as it runs (an install
    /// assigns the installation's id): a target it returns replaces `target`.
    pub(super) fn audited_as<T>(
        &self,
        call: &str,
        target: &str,
        action: impl FnOnce() -> AppResult<(T, BTreeMap<String, String>, Option<String>)>,
    ) -> AppResult<T> {
        self.ensure_recordable()?;
        // The target came from the caller: a string that is not an id is not recorded.
        let checked = |t: &str| match crate::model::valid_id(t) {
            true => t.to_string(),
            false => String::new(),
        };
        match action() {
            Ok((value, details, found)) => {
                let target = checked(found.as_deref().unwrap_or(target));
                self.airlock
                    .record_by(self.actor, call, &target, Ok(()), details)?;
                Ok(value)
            }
            Err(e) => {
                self.airlock.record_by(
                    self.actor,
                    call,
                    &checked(target),
                    Err(refusal(&e)),
                    BTreeMap::new(),
                )?;
                Err(e)
            }
        }
    }

    /// Changes grants with `change` (given the current ones), recorded as `call` with
    /// what was added and removed. Widening needs a step-up.
    fn grants(
        &self,
        call: &str,
        id: &str,
        change: impl Fn(&Grants) -> Grants,
    ) -> AppResult<Installation> {
        let stepped_up = self.actor.stepped_up;
        self.audited(call, id, || {
            let (before, after) = self.airlock.update_tracked(id, |inst| {
                let grants = change(&inst.grants);
                if widens(&inst.grants, &grants) && !stepped_up {
                    return Err(AppError::StepUp(
                        "widening a grant needs multi-factor step-up: send a fresh TOTP code in the `X-Airlock-TOTP` header".into(),
                    ));
                }
                inst.set_grants(grants).map_err(AppError::Invalid)
            })?;
            Ok((after.clone(), grant_diff(&before.grants, &after.grants)))
        })
    }

    /// [`Airlock::set_grants`], recorded as `admin.grants.set`.
    pub fn set_grants(&self, id: &str, grants: Grants) -> AppResult<Installation> {
        self.grants("admin.grants.set", id, |_| grants.clone())
    }

    /// [`Airlock::change_grants`], recorded as `admin.grants.change`.
    pub fn change_grants(
        &self,
        id: &str,
        add: &Grants,
        remove: &Grants,
    ) -> AppResult<Installation> {
        self.grants("admin.grants.change", id, |g| g.changed(add, remove))
    }

    /// [`Airlock::set_settings`], recorded as `admin.settings.set` with the names of the
    /// settings changed (plain and secret), never their values. Needs a step-up when it
    /// sets a secret.
    pub fn set_settings(&self, id: &str, settings: serde_json::Value) -> AppResult<Installation> {
        let stepped_up = self.actor.stepped_up;
        self.audited("admin.settings.set", id, || {
            let (before, after) = self.airlock.update_tracked(id, |inst| {
                let sets_secret = inst
                    .manifest
                    .secret_settings()
                    .iter()
                    .any(|name| settings.get(name).is_some_and(|v| !v.is_null()));
                if sets_secret && !stepped_up {
                    return Err(AppError::StepUp(
                        "setting a secret needs multi-factor step-up: send a fresh TOTP code in the `X-Airlock-TOTP` header".into(),
                    ));
                }
                self.airlock.apply_settings(inst, settings.clone())
            })?;
            let mut d = BTreeMap::new();
            d.insert("settings_changed".into(), changed_keys(&before, &after).join(","));
            Ok((after, d))
        })
    }

    /// [`Airlock::set_enabled`], recorded as `admin.plugin.enable` or `.disable`, with
    /// the state before and after.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> AppResult<Installation> {
        let call = match enabled {
            true => "admin.plugin.enable",
            false => "admin.plugin.disable",
        };
        self.audited(call, id, || {
            let (before, after) = self.airlock.update_tracked(id, |inst| {
                if enabled && inst.killed.is_some() {
                    return Err(AppError::Conflict(format!(
                        "`{}` was killed; `airlock plugin revive` (with step-up) brings it back",
                        inst.id
                    )));
                }
                inst.enabled = enabled;
                Ok(())
            })?;
            let mut d = BTreeMap::new();
            d.insert("enabled.before".into(), before.enabled.to_string());
            d.insert("enabled.after".into(), after.enabled.to_string());
            Ok((after, d))
        })
    }

    /// [`Airlock::import`], recorded as `admin.data.import` with the count.
    pub fn import(&self, dataset: &Dataset) -> AppResult<usize> {
        self.audited("admin.data.import", "", || {
            let n = self.airlock.import(dataset)?;
            Ok((n, BTreeMap::from([("records".into(), n.to_string())])))
        })
    }
}

/// The names of settings (plain and secret) that differ between two installations.
fn changed_keys(before: &Installation, after: &Installation) -> Vec<String> {
    let empty = serde_json::Map::new();
    let plain = |i: &Installation| {
        i.settings
            .as_object()
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (b, a) = (plain(before), plain(after));
    let mut keys: BTreeSet<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    keys.extend(
        before
            .secrets
            .keys()
            .chain(after.secrets.keys())
            .filter(|k| before.secrets.get(*k) != after.secrets.get(*k))
            .cloned(),
    );
    keys.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_diff_names_what_was_added_and_removed() {
        let before = Grants {
            read: ["ticket.subject".into(), "requester.email".into()].into(),
            ..Default::default()
        };
        let after = Grants {
            read: ["ticket.subject".into(), "ticket.status".into()].into(),
            egress: ["https://api.example".into()].into(),
            ..Default::default()
        };
        let d = grant_diff(&before, &after);
        assert_eq!(d["read.added"], "ticket.status");
        assert_eq!(d["read.removed"], "requester.email");
        assert_eq!(d["egress.added"], "https://api.example");
        assert!(widens(&before, &after));
        assert!(!widens(&after, &Grants::default()));
    }
}
