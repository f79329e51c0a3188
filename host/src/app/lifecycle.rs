//! Plugin lifecycle: installing a vendor-signed bundle after its review, upgrades that
//! wait for field-level consent, the versions an installation ran, and rollback.
//!
//! - **Install.** A bundle's signature is checked and its signer trusted
//!   ([`super::vendors`]) before anything is stored. The [`InstallReview`] lists what
//!   the plugin asks for; a new installation is granted nothing.
//! - **Upgrade.** A new version of an installed plugin becomes its *pending upgrade*:
//!   it keeps running its current version and grant until an admin approves (granting
//!   only the items they tick, [`Approval`]) or rejects it. With `auto_apply_reductions`
//!   an upgrade that asks for nothing more applies at once.
//! - **Rollback** returns to the previous version with the grant it had then.
//!
//! Every step is one audit record: `admin.plugin.install`, `admin.plugin.upgrade.pending`,
//! `.approve` (with the grants added and removed), `.reject`, `admin.plugin.rollback`.

use super::admin::{Admin, grant_diff, widens};
use super::{Airlock, AppError, AppResult, KeyStatus};
use crate::installation::{Grants, Installation, KeptVersion, PendingUpgrade, PublicInstallation};
use crate::manifest::Manifest;
use crate::manifest::rules::EgressRule;
use crate::store::InstallationStore;
use crate::upgrade::{Approval, ItemKind, UpgradeDiff};
use airlock_bundle::{Bundle, Opened};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The versions kept per installation for rollback.
pub const KEPT_VERSIONS: usize = 20;
/// The window grant use is counted over in an upgrade's diff.
pub const USAGE_DAYS: i64 = 30;

/// The host's lifecycle settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Apply upgrades that ask for nothing more at once.
    pub auto_apply_reductions: bool,
    /// Dev mode: unsigned plugins install without `allow_unsigned`.
    pub dev_mode: bool,
    /// Days between vendor security reviews.
    pub vendor_review_days: u32,
}

/// How to install.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// The installation id (default: the plugin's name).
    pub id: Option<String>,
    /// The fingerprint the admin confirmed for a vendor new to this host.
    pub trust_vendor_key: Option<String>,
    /// Install an unsigned plugin (recorded as such).
    pub allow_unsigned: bool,
}

/// What a plugin asks for, shown before anything is granted.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReview {
    /// The plugin's name, version and vendor.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// How its signer stands with this host.
    pub key: KeyStatus,
    /// The signing key's fingerprint, if signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Every field it reads or writes, with its sensitivity class.
    pub fields: Vec<FieldAsked>,
    /// Data classes it asks to see raw.
    pub reveal: BTreeSet<String>,
    /// Its egress destinations: paths, methods, what each may receive.
    pub egress: Vec<EgressRule>,
    /// Its secret settings, by name.
    pub secrets: BTreeSet<String>,
    /// The events it handles.
    pub events: Vec<String>,
    /// The deadline (ms) and memory (MiB) it asks for.
    pub limits: BTreeMap<String, u64>,
    /// The component: digest, size, imports.
    pub component: ComponentFacts,
}

/// A field in an [`InstallReview`].
#[derive(Debug, Clone, Serialize)]
pub struct FieldAsked {
    /// The field path.
    pub field: String,
    /// Its sensitivity class.
    pub class: String,
    /// Asked to read.
    pub read: bool,
    /// Asked to write.
    pub write: bool,
}

/// The component's digest, size and imports.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentFacts {
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: usize,
    /// The interfaces it imports.
    pub imports: Vec<String>,
}

/// What an install did.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// The installation as stored now.
    pub installation: PublicInstallation,
    /// What the version asks for.
    pub review: InstallReview,
    /// For a new version of an installed plugin: its diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeDiff>,
    /// False while the version waits as a pending upgrade.
    pub applied: bool,
}

impl Installed {
    /// The installation as stored now.
    pub fn installation(&self) -> &Installation {
        self.installation.installation()
    }
}

/// The versions of an installation: the ones it ran, the one it runs, the one waiting.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    /// Earlier versions, oldest first.
    pub history: Vec<KeptVersion>,
    /// The running version.
    pub current: String,
    /// The pending version, if one waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

impl InstallReview {
    fn of(manifest: &Manifest, opened: &Opened, imports: Vec<String>, key: KeyStatus) -> Self {
        let data = &manifest.data;
        let fields = data
            .read
            .union(&data.write)
            .map(|f| FieldAsked {
                field: f.clone(),
                class: crate::catalog::lookup(f)
                    .map(|s| s.sensitivity.to_string())
                    .unwrap_or_default(),
                read: data.read.contains(f),
                write: data.write.contains(f),
            })
            .collect();
        InstallReview {
            plugin: manifest.name.clone(),
            version: manifest.version.clone(),
            vendor: manifest.vendor.clone(),
            key,
            fingerprint: opened.signer.as_ref().map(|s| s.key.fingerprint()),
            fields,
            reveal: data.reveal.clone(),
            egress: manifest.egress.clone(),
            secrets: manifest.secret_settings(),
            events: manifest.events.iter().map(|e| e.as_str().into()).collect(),
            limits: BTreeMap::from([
                ("timeout_ms".into(), manifest.timeout_ms()),
                ("memory_mib".into(), manifest.memory_mib()),
            ]),
            component: ComponentFacts {
                sha256: opened.component_sha256.clone(),
                bytes: opened.component.len(),
                imports,
            },
        }
    }
}

impl Airlock {
    /// The pending upgrade of an installation, diffed against what it runs and was
    /// granted, with each grant's use over the last 30 days; `None` if none waits.
    pub fn pending_upgrade(&self, id: &str) -> AppResult<Option<UpgradeDiff>> {
        let inst = self.installation(id)?;
        let Some(pending) = &inst.pending else {
            return Ok(None);
        };
        let diff = UpgradeDiff::between(&inst.manifest, &inst.grants, &pending.manifest);
        Ok(Some(self.with_usage(&inst.id, diff)?))
    }

    /// The versions an installation ran, runs and may run next.
    pub fn versions(&self, id: &str) -> AppResult<Versions> {
        let inst = self.installation(id)?;
        Ok(Versions {
            history: inst.history,
            current: inst.manifest.version,
            pending: inst.pending.map(|p| p.manifest.version),
        })
    }

    /// Fills in how often each granted item of `diff` was used in the last 30 days.
    fn with_usage(&self, id: &str, mut diff: UpgradeDiff) -> AppResult<UpgradeDiff> {
        let since = crate::audit::rfc3339_millis(
            time::OffsetDateTime::now_utc() - time::Duration::days(USAGE_DAYS),
        );
        let used = self.monitor.grant_use(id, &since)?;
        for item in diff.items.iter_mut().chain(diff.kept.iter_mut()) {
            let counts = match item.kind {
                ItemKind::Read => &used.read_count,
                ItemKind::Write => &used.write_count,
                ItemKind::Egress => &used.egress_count,
                _ => continue,
            };
            if item.granted {
                item.uses_30d = Some(counts.get(&item.name).copied().unwrap_or(0));
            }
        }
        Ok(diff)
    }
}

impl Admin<'_> {
    /// Installs a bundle file: see the module documentation.
    pub fn install_bundle(&self, bytes: &[u8], options: &InstallOptions) -> AppResult<Installed> {
        self.install_opened(options, || {
            Bundle::parse(bytes)
                .and_then(|b| b.open())
                .map_err(|e| AppError::Invalid(e.to_string()))
        })
    }

    /// Installs a bare component and manifest: unsigned, so only with
    /// `options.allow_unsigned` or in dev mode.
    pub fn install_unsigned(
        &self,
        manifest_text: &str,
        component: Vec<u8>,
        options: &InstallOptions,
    ) -> AppResult<Installed> {
        self.install_opened(options, || {
            Bundle::pack(manifest_text, component, None)
                .and_then(|b| b.open())
                .map_err(|e| AppError::Invalid(e.to_string()))
        })
    }

    /// Installs what `open` yields, on the record even when opening fails (a bundle
    /// that does not verify is a refused install).
    fn install_opened(
        &self,
        options: &InstallOptions,
        open: impl FnOnce() -> AppResult<Opened>,
    ) -> AppResult<Installed> {
        let airlock = self.airlock;
        self.audited_as(
            "admin.plugin.install",
            options.id.as_deref().unwrap_or(""),
            || {
                let opened = open()?;
                let target = options.id.clone().unwrap_or_else(|| opened.name.clone());
                let manifest = Manifest::parse("plugin.toml", &opened.manifest)
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
                if !crate::model::valid_id(&target) {
                    return Err(AppError::Invalid(
                        "installation ids are 1-128 of [A-Za-z0-9._:-]".into(),
                    ));
                }
                // Trust is decided before the component is compiled, and keys are pinned
                // only once it loads.
                let allow_unsigned = options.allow_unsigned || airlock.lifecycle.dev_mode;
                let trust = self.decide_trust(
                    &opened,
                    options.trust_vendor_key.as_deref(),
                    allow_unsigned,
                )?;
                let loaded = airlock
                    .runtime
                    .load(&opened.component)
                    .map_err(|e| AppError::Invalid(format!("component rejected: {e:#}")))?;
                let key = self.pin_trusted(&opened.vendor, &trust)?;
                let review = InstallReview::of(&manifest, &opened, loaded.imports.clone(), key);
                let sha = airlock.data.put_component(&opened.component)?;
                airlock.cache_loaded(sha.clone(), loaded);
                let signer = review.fingerprint.clone();
                let mut d = BTreeMap::from([
                    ("installation".to_string(), target.clone()),
                    ("plugin".into(), manifest.name.clone()),
                    ("version".into(), manifest.version.clone()),
                    ("component_sha256".into(), sha.clone()),
                    ("signed".into(), signer.is_some().to_string()),
                ]);
                if let Some(f) = &signer {
                    d.insert("signer".into(), f.clone());
                }
                let now = crate::audit::now_rfc3339();
                if airlock.store.installation(&target)?.is_none() {
                    let mut inst = Installation::new(target.clone(), manifest, sha, now);
                    inst.signer = signer;
                    airlock.store.put_installation(&inst)?;
                    d.insert("upgrade".into(), "false".into());
                    let installed = Installed {
                        installation: inst.public(),
                        review,
                        upgrade: None,
                        applied: true,
                    };
                    return Ok((installed, d, Some(target.clone())));
                }
                let pending = PendingUpgrade {
                    manifest,
                    component_sha256: sha,
                    signer,
                    received_at: now,
                    increases: false,
                };
                let (installed, upgrade) = self.offer_upgrade(&target, pending, review)?;
                d.insert("upgrade".into(), "true".into());
                d.extend(upgrade);
                Ok((installed, d, Some(target.clone())))
            },
        )
    }

    /// Makes `pending` the installation's pending upgrade, or applies it at once when it
    /// asks for nothing more and the policy says so. Returns what happened and the
    /// record's details.
    fn offer_upgrade(
        &self,
        id: &str,
        mut pending: PendingUpgrade,
        review: InstallReview,
    ) -> AppResult<(Installed, BTreeMap<String, String>)> {
        let airlock = self.airlock;
        let current = airlock.installation(id)?;
        if current.manifest.name != pending.manifest.name {
            return Err(AppError::Conflict(format!(
                "installation `{id}` runs plugin `{}`, not `{}`; install it under another id with --id",
                current.manifest.name, pending.manifest.name
            )));
        }
        if current.component_sha256 == pending.component_sha256
            && current.manifest == pending.manifest
        {
            return Err(AppError::Conflict(format!(
                "installation `{id}` already runs this version ({})",
                current.manifest.version
            )));
        }
        let diff = UpgradeDiff::between(&current.manifest, &current.grants, &pending.manifest);
        pending.increases = diff.increases();
        let mut d = upgrade_details(&current.manifest.version, &diff);
        let auto = !pending.increases && airlock.lifecycle.auto_apply_reductions;
        let inst = match auto {
            true => self.apply_pending(id, Some(pending), &Grants::default())?.1,
            false => {
                airlock
                    .update_tracked(id, |inst| {
                        inst.pending = Some(pending.clone());
                        Ok(())
                    })?
                    .1
            }
        };
        d.insert("applied".into(), auto.to_string());
        let diff = airlock.with_usage(id, diff)?;
        let installed = Installed {
            installation: inst.public(),
            review,
            upgrade: Some(diff),
            applied: auto,
        };
        Ok((installed, d))
    }

    /// Approves an installation's pending upgrade: it runs the new version with the
    /// grants it had that the new version still declares, plus those in `approval`.
    /// Granting anything new needs a step-up.
    pub fn approve_upgrade(&self, id: &str, approval: &Approval) -> AppResult<Installation> {
        self.audited("admin.plugin.upgrade.approve", id, || {
            let (before, after) = self.apply_pending(id, None, &approval.grant)?;
            let mut d = grant_diff(&before.grants, &after.grants);
            d.insert("version.before".into(), before.manifest.version.clone());
            d.insert("version.after".into(), after.manifest.version.clone());
            Ok((after, d))
        })
    }

    /// Discards an installation's pending upgrade; it keeps its version and grant.
    pub fn reject_upgrade(&self, id: &str) -> AppResult<Installation> {
        self.audited("admin.plugin.upgrade.reject", id, || {
            let mut rejected = String::new();
            let (_, after) = self.airlock.update_tracked(id, |inst| {
                let pending = inst.pending.take().ok_or_else(|| no_pending(id))?;
                rejected = pending.manifest.version;
                Ok(())
            })?;
            let d = BTreeMap::from([
                ("version".to_string(), after.manifest.version.clone()),
                ("rejected_version".into(), rejected),
            ]);
            Ok((after, d))
        })
    }

    /// Returns an installation to the version it ran before, with the grant it had
    /// then. Restoring grants wider than today's needs a step-up.
    pub fn rollback(&self, id: &str) -> AppResult<Installation> {
        let stepped_up = self.actor.stepped_up;
        self.audited("admin.plugin.rollback", id, || {
            let (before, after) = self.airlock.update_tracked(id, |inst| {
                let previous = inst.history.last().cloned().ok_or_else(|| {
                    AppError::Conflict(format!("`{id}` has no earlier version to roll back to"))
                })?;
                if widens(&inst.grants, &previous.grants) && !stepped_up {
                    return Err(step_up("rolling back to a version with wider grants"));
                }
                inst.history.pop();
                inst.manifest = previous.manifest;
                inst.component_sha256 = previous.component_sha256;
                inst.signer = previous.signer;
                inst.installed_at = crate::audit::now_rfc3339();
                inst.set_grants(previous.grants)
                    .map_err(AppError::Invalid)?;
                self.keep_valid_settings(inst);
                Ok(())
            })?;
            let mut d = grant_diff(&before.grants, &after.grants);
            d.insert("version.before".into(), before.manifest.version.clone());
            d.insert("version.after".into(), after.manifest.version.clone());
            Ok((after, d))
        })
    }

    /// Moves the installation onto `offered` (or its pending upgrade when `None`):
    /// the current version goes to the history with its grant, and the new one runs with
    /// the old grants it still declares plus `add`. Returns (before, after).
    fn apply_pending(
        &self,
        id: &str,
        offered: Option<PendingUpgrade>,
        add: &Grants,
    ) -> AppResult<(Installation, Installation)> {
        let stepped_up = self.actor.stepped_up;
        self.airlock.update_tracked(id, |inst| {
            let next = match &offered {
                Some(p) => p.clone(),
                None => inst.pending.clone().ok_or_else(|| no_pending(id))?,
            };
            let mut moved = inst.clone();
            moved.history.push(KeptVersion {
                manifest: inst.manifest.clone(),
                component_sha256: inst.component_sha256.clone(),
                signer: inst.signer.clone(),
                grants: inst.grants.clone(),
                installed_at: inst.installed_at.clone(),
                left_at: crate::audit::now_rfc3339(),
            });
            let excess = moved.history.len().saturating_sub(KEPT_VERSIONS);
            moved.history.drain(..excess);
            moved.manifest = next.manifest;
            moved.component_sha256 = next.component_sha256;
            moved.signer = next.signer;
            moved.installed_at = crate::audit::now_rfc3339();
            moved.pending = None;
            moved.retain_declared_grants();
            let grants = moved.grants.changed(add, &Grants::default());
            if widens(&moved.grants, &grants) && !stepped_up {
                return Err(step_up("granting what an upgrade asks for"));
            }
            moved.set_grants(grants).map_err(AppError::Invalid)?;
            self.keep_valid_settings(&mut moved);
            *inst = moved;
            Ok(())
        })
    }

    /// Clears settings the installation's (new) manifest no longer accepts.
    fn keep_valid_settings(&self, inst: &mut Installation) {
        if self
            .airlock
            .validate_with_secrets(inst, &inst.settings)
            .is_err()
        {
            inst.settings = serde_json::json!({});
            inst.secrets.clear();
        }
    }
}

/// The record details of an offered upgrade: versions, whether it asks for more, and
/// the fields, classes and destinations added and removed (manifest-validated names).
fn upgrade_details(from: &str, diff: &UpgradeDiff) -> BTreeMap<String, String> {
    let mut d = BTreeMap::from([
        ("version.before".to_string(), from.to_string()),
        ("version.offered".into(), diff.to_version.clone()),
        ("increases".into(), diff.increases().to_string()),
        ("items_changed".into(), diff.items.len().to_string()),
    ]);
    let mut named: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for item in &diff.items {
        let kind = match item.kind {
            ItemKind::Read => "read",
            ItemKind::Write => "write",
            ItemKind::Reveal => "reveal",
            ItemKind::Egress => "egress",
            _ => continue,
        };
        let change = match item.change {
            crate::upgrade::Change::Added => "added",
            _ => "removed",
        };
        named
            .entry(format!("{kind}.{change}"))
            .or_default()
            .push(&item.name);
    }
    d.extend(named.into_iter().map(|(k, v)| (k, v.join(","))));
    d
}

fn no_pending(id: &str) -> AppError {
    AppError::Conflict(format!(
        "`{id}` has no pending upgrade; install a new version of its plugin to offer one"
    ))
}

fn step_up(what: &str) -> AppError {
    AppError::StepUp(format!(
        "{what} needs multi-factor step-up: send a fresh TOTP code in the `X-Airlock-TOTP` header"
    ))
}
