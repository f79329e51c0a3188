//! Retention: deleting data when its policy says it has been kept long enough.
//!
//! Policies per kind (`[retention]` in the config file), each off unless set:
//! - `closed_tickets_days`: tickets with status `closed` not updated for N days, with
//!   their comments, tags and labels;
//! - `orphan_users`: users no ticket or comment refers to any more;
//! - `kv_days` (and `kv_days_by_installation`): kv entries not written for N days;
//! - `alerts_days`: alerts older than N days.
//!
//! The audit log's own retention (`audit_retention_days`) stays as it is. A run deletes in
//! batches of [`BATCH`] (each its own transaction, overwriting what it frees), is one
//! audit record (`admin.retention.apply`) with the counts per kind, and with `dry_run`
//! only counts.

use super::admin::Admin;
use super::{Airlock, AppResult};
use crate::model::Kind;
use crate::store::{HelpdeskStore, KvStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many records one batch deletes.
pub const BATCH: u32 = 500;

/// The retention policies (`[retention]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Delete closed tickets not updated for this many days.
    #[serde(default)]
    pub closed_tickets_days: Option<u32>,
    /// Delete users nothing refers to any more.
    #[serde(default)]
    pub orphan_users: bool,
    /// Delete kv entries not written for this many days.
    #[serde(default)]
    pub kv_days: Option<u32>,
    /// Per installation, instead of `kv_days`.
    #[serde(default)]
    pub kv_days_by_installation: BTreeMap<String, u32>,
    /// Delete alerts older than this many days.
    #[serde(default)]
    pub alerts_days: Option<u32>,
}

impl RetentionPolicy {
    /// True when no policy is set.
    pub fn is_empty(&self) -> bool {
        *self == RetentionPolicy::default()
    }
}

/// What a run deleted (or, dry, would delete), by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Whether it only counted.
    pub dry_run: bool,
    /// Closed tickets.
    pub closed_tickets: u64,
    /// Users nothing refers to.
    pub orphan_users: u64,
    /// kv entries.
    pub kv_entries: u64,
    /// Alerts.
    pub alerts: u64,
}

/// `now` minus `days`, as the store spells times (UTC, RFC 3339).
fn cutoff(now: time::OffsetDateTime, days: u32) -> String {
    crate::audit::rfc3339_millis(now - time::Duration::days(days.into()))
}

impl Airlock {
    /// Applies `policy` as of `now`, reporting progress (records done) to `progress`.
    fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: time::OffsetDateTime,
        dry_run: bool,
        progress: &mut dyn FnMut(u64),
    ) -> AppResult<RetentionReport> {
        let mut report = RetentionReport {
            dry_run,
            ..Default::default()
        };
        let mut done = 0;
        if let Some(days) = policy.closed_tickets_days {
            let before = cutoff(now, days);
            report.closed_tickets = self.in_batches(dry_run, &mut done, progress, |seen| {
                let ids = self.store.closed_tickets_before(&before, BATCH + seen)?;
                Ok(ids
                    .into_iter()
                    .skip(seen as usize)
                    .map(|id| (Kind::Ticket, id))
                    .collect())
            })?;
        }
        if policy.orphan_users {
            report.orphan_users = self.in_batches(dry_run, &mut done, progress, |seen| {
                let ids = self.store.orphan_users(BATCH + seen)?;
                Ok(ids
                    .into_iter()
                    .skip(seen as usize)
                    .map(|id| (Kind::User, id))
                    .collect())
            })?;
        }
        report.kv_entries = self.kv_retention(policy, now, dry_run)?;
        done += report.kv_entries;
        progress(done);
        if let Some(days) = policy.alerts_days {
            let before = cutoff(now, days);
            loop {
                let n = self.monitor.store().prune_alerts(&before, BATCH, dry_run)?;
                report.alerts += n;
                if dry_run || n < u64::from(BATCH) {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Deletes what `next` lists, a batch at a time, until it lists nothing. A dry run
    /// asks `next` for ever more (it deletes nothing, so `seen` skips what it counted).
    fn in_batches(
        &self,
        dry_run: bool,
        done: &mut u64,
        progress: &mut dyn FnMut(u64),
        mut next: impl FnMut(u32) -> AppResult<Vec<(Kind, String)>>,
    ) -> AppResult<u64> {
        let mut total = 0u64;
        loop {
            let seen = if dry_run { total as u32 } else { 0 };
            let batch = next(seen)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let n = match dry_run {
                true => batch.len() as u64,
                false => self.store.erase(&batch)?,
            };
            total += n;
            *done += n;
            progress(*done);
            if n == 0 {
                return Ok(total);
            }
        }
    }

    fn kv_retention(
        &self,
        policy: &RetentionPolicy,
        now: time::OffsetDateTime,
        dry_run: bool,
    ) -> AppResult<u64> {
        let mut scopes: Vec<(Option<&str>, u32)> = policy
            .kv_days_by_installation
            .iter()
            .map(|(i, d)| (Some(i.as_str()), *d))
            .collect();
        if let Some(days) = policy.kv_days {
            scopes.push((None, days));
        }
        let mut total = 0;
        for (installation, days) in scopes {
            let before = cutoff(now, days);
            // A dry run counts them all at once (ids only); a real one deletes by batch.
            let limit = if dry_run { u32::MAX } else { BATCH };
            loop {
                let stale = self.store.kv_written_before(installation, &before, limit)?;
                let mut n = 0;
                for (inst, hash) in &stale {
                    // An installation with its own policy is not swept by the default.
                    if installation.is_none() && policy.kv_days_by_installation.contains_key(inst) {
                        continue;
                    }
                    n += 1;
                    if !dry_run {
                        self.capabilities
                            .kv
                            .erase_entry(inst, hash)
                            .map_err(|e| super::AppError::Internal(e.into()))?;
                    }
                }
                total += n;
                if dry_run || stale.len() < limit as usize || n == 0 {
                    break;
                }
            }
        }
        Ok(total)
    }
}

impl Admin<'_> {
    /// Applies `policy` as of `now` (the current time, save in tests), recorded as
    /// `admin.retention.apply` with the counts per kind.
    pub fn apply_retention(
        &self,
        policy: &RetentionPolicy,
        now: time::OffsetDateTime,
        dry_run: bool,
        progress: &mut dyn FnMut(u64),
    ) -> AppResult<RetentionReport> {
        self.audited("admin.retention.apply", "", || {
            let report = self.airlock.run_retention(policy, now, dry_run, progress)?;
            let d = BTreeMap::from([
                ("dry_run".to_string(), dry_run.to_string()),
                ("closed_tickets".into(), report.closed_tickets.to_string()),
                ("orphan_users".into(), report.orphan_users.to_string()),
                ("kv_entries".into(), report.kv_entries.to_string()),
                ("alerts".into(), report.alerts.to_string()),
            ]);
            Ok((report, d))
        })
    }
}
