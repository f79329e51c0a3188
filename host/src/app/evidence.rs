//! `airlock evidence export`: one signed bundle of what an auditor asks for, checked on
//! their own machine by `airlock evidence verify` ([`crate::evidence::verify_bundle`]).
//!
//! | file | what |
//! | --- | --- |
//! | `grants.json` | every installation: plugin, version, vendor, enablement, component digest, grants |
//! | `roles.json` | every user (role, vendor, MFA, disabled) and every live token (scope, expiry, label) |
//! | `review.json` | the latest signed-off access review with its decisions, and when the next is due |
//! | `verification.json` | the host's own audit verification at export time |
//! | `alerts.json` | alerts raised in the period, with counts by rule and installation |
//! | `incidents.json` | admin actions in the period counted by action; kill-switch uses, break-glass uses, lockouts and refusals |
//! | `audit.jsonl` | with `--with-log`: the stored log, to check the chain and checkpoints offline |
//! | `checkpoints.jsonl`, `public-key.txt` | the signed checkpoints and the key that signed them |
//! | `MANIFEST.json`, `MANIFEST.sig` | every file's SHA-256, signed by the host key |
//!
//! Like the audit itself, nothing in a bundle holds a password, TOTP secret, token,
//! setting value or helpdesk field value: names, ids, counts and digests only.

use super::admin::Admin;
use super::{AppError, AppResult, PublicCredential, PublicUser};
use crate::audit::{AuditFilter, HOST_INSTALLATION};
use crate::evidence::{BundleWriter, LOG, Manifest, Period};
use crate::monitor::{AlertQuery, ExportFormat};
use crate::store::{AuditStore, ReviewStore};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Host actions an incident summary lists one by one (the rest are counted).
const INCIDENT_CALLS: [&str; 3] = ["admin.plugin.disable", "auth.lockout", "auth.break-glass"];

impl Admin<'_> {
    /// Writes an evidence bundle for `period` to `out` (a new or empty directory),
    /// recorded as `admin.evidence.export`. `with_log` adds the stored audit log.
    pub fn export_evidence(
        &self,
        out: &Path,
        period: Period,
        with_log: bool,
    ) -> AppResult<Manifest> {
        self.audited("admin.evidence.export", "", || {
            if !self.actor.stepped_up {
                return Err(AppError::StepUp(
                    "exporting evidence needs multi-factor step-up".into(),
                ));
            }
            let manifest = self.write_bundle(out, &period, with_log)?;
            let d = BTreeMap::from([
                ("files".to_string(), manifest.files.len().to_string()),
                ("since".into(), period.since.clone()),
                ("until".into(), period.until.clone()),
                ("with_log".into(), with_log.to_string()),
            ]);
            Ok((manifest, d))
        })
    }

    fn write_bundle(&self, out: &Path, period: &Period, with_log: bool) -> AppResult<Manifest> {
        let airlock = self.airlock;
        let io = |e: std::io::Error| AppError::Invalid(format!("evidence bundle: {e}"));
        let mut bundle = BundleWriter::create(out).map_err(io)?;
        let grants: Vec<Value> = airlock
            .installations()?
            .iter()
            .map(|i| {
                json!({
                    "installation": i.id, "plugin": i.manifest.name, "version": i.manifest.version,
                    "vendor": i.manifest.vendor, "enabled": i.enabled, "installed_at": i.installed_at,
                    "component_sha256": i.component_sha256, "grants": i.grants,
                })
            })
            .collect();
        bundle.write_json("grants.json", &grants).map_err(io)?;
        let users: Vec<PublicUser> = airlock
            .accounts()
            .users()?
            .into_iter()
            .map(PublicUser::from)
            .collect();
        let now = crate::audit::now_rfc3339();
        let tokens: Vec<PublicCredential> = airlock
            .accounts()
            .credentials(None)?
            .into_iter()
            .filter(|c| c.kind == crate::account::CredentialKind::Token)
            .filter(|c| c.revoked_at.is_none() && c.expires_at > now)
            .map(PublicCredential::from)
            .collect();
        bundle
            .write_json("roles.json", &json!({"users": users, "tokens": tokens}))
            .map_err(io)?;
        let review = json!({
            "latest_signed_off": airlock.store.last_signed_off()?,
            "status": airlock.review_status()?,
        });
        bundle.write_json("review.json", &review).map_err(io)?;
        let verification = match airlock.verify_audit(&Default::default())? {
            Ok(v) => {
                json!({"ok": true, "records": v.records, "pruned": v.pruned, "checkpoints": v.checkpoints})
            }
            Err(t) => json!({"ok": false, "problem": t}),
        };
        bundle
            .write_json("verification.json", &verification)
            .map_err(io)?;
        bundle
            .write_json("alerts.json", &self.alert_summary(period)?)
            .map_err(io)?;
        bundle
            .write_json("incidents.json", &self.incident_summary(period)?)
            .map_err(io)?;
        if with_log {
            let mut log = Vec::new();
            airlock.export_audit(&AuditFilter::default(), ExportFormat::Jsonl, &mut log)?;
            bundle.write(LOG, &log).map_err(io)?;
        }
        let checkpoints = airlock.store.checkpoints()?;
        bundle
            .finish(airlock.signer(), &checkpoints, now, period.clone())
            .map_err(io)
    }

    fn alert_summary(&self, period: &Period) -> AppResult<Value> {
        let alerts: Vec<_> = self
            .airlock
            .alerts(&AlertQuery {
                since: Some(period.since.clone()),
                limit: Some(10_000),
                ..Default::default()
            })?
            .into_iter()
            .filter(|a| a.time <= period.until)
            .collect();
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_installation: BTreeMap<String, u64> = BTreeMap::new();
        for a in &alerts {
            *by_rule.entry(a.rule.to_string()).or_default() += 1;
            *by_installation.entry(a.installation.clone()).or_default() += 1;
        }
        Ok(
            json!({"total": alerts.len(), "by_rule": by_rule, "by_installation": by_installation, "alerts": alerts}),
        )
    }

    fn incident_summary(&self, period: &Period) -> AppResult<Value> {
        let mut by_action: BTreeMap<String, u64> = BTreeMap::new();
        let mut listed = Vec::new();
        let mut refused = 0u64;
        let filter = AuditFilter {
            installation: Some(HOST_INSTALLATION.into()),
            since: Some(period.since.clone()),
            until: Some(period.until.clone()),
            ..Default::default()
        };
        self.airlock.each_record(filter, |r| {
            *by_action.entry(r.entry.call.clone()).or_default() += 1;
            if r.entry.decision == Some(crate::audit::Decision::Deny) {
                refused += 1;
            }
            if INCIDENT_CALLS.contains(&r.entry.call.as_str()) {
                listed.push(json!({
                    "seq": r.seq, "time": r.time, "action": r.entry.call,
                    "target": r.entry.resource, "actor": r.entry.details.get("actor"),
                    "address": r.entry.details.get("address"),
                }));
            }
        })?;
        Ok(json!({"by_action": by_action, "refused": refused, "incidents": listed}))
    }
}
