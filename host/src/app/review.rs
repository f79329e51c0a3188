//! The access-review workflow: open a review of every grant, decide each one (keep,
//! revoke — applied at once — or defer with a reason), sign it off; know when the next
//! one is due and raise `review-overdue` when it is late.
//!
//! Every step is one audit record (`admin.review.start`, `admin.review.decide`,
//! `admin.review.sign-off`), and a revocation is also the `admin.grants.change` record
//! any narrowing of grants makes.

use super::admin::Admin;
use super::{Airlock, AppError, AppResult};
use crate::audit::{AuditFilter, HOST_INSTALLATION, rfc3339_millis};
use crate::installation::{Grants, Installation};
use crate::monitor::{GrantUse, Rule};
use crate::review::{AccessReview, Decision, GrantKind, Outcome, ReviewItem, SignOff, check_note};
use crate::store::{AlertStore, ReviewStore};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// The default usage window of a review, in days.
pub const DEFAULT_WINDOW_DAYS: u32 = 90;

/// When the next review is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewStatus {
    /// Reviews are due this many days after the last sign-off (`review_interval_days`).
    pub interval_days: u32,
    /// The latest signed-off review: its id and when it was signed off.
    pub last_signed_off: Option<(u64, String)>,
    /// The review now open, if any.
    pub open: Option<u64>,
    /// When the next sign-off is due (RFC 3339); with no review ever signed off, counted
    /// from the oldest installation. `None` with nothing installed and nothing reviewed.
    pub due: Option<String>,
    /// Whether `due` has passed.
    pub overdue: bool,
}

/// One admin action on an installation, for "who changed what" in a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The audit record.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Who (`actor`), by what (`via`), from where (`address`).
    pub actor: String,
    /// The action (`admin.grants.change`, …).
    pub action: String,
    /// Allowed, or the reason it was refused.
    pub outcome: String,
    /// The diff (`read.added`, `enabled.after`, `settings_changed`, …): names, never
    /// values.
    pub details: BTreeMap<String, String>,
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The items of one installation: each granted field, destination and class, with when
/// the log last shows it used.
fn items_of(inst: &Installation, used: &GrantUse, first: u32) -> Vec<ReviewItem> {
    let kinds = [
        (GrantKind::Read, &inst.grants.read, Some(&used.read)),
        (GrantKind::Write, &inst.grants.write, Some(&used.write)),
        (GrantKind::Egress, &inst.grants.egress, Some(&used.egress)),
        (GrantKind::Reveal, &inst.grants.reveal, None),
    ];
    let mut items = Vec::new();
    for (kind, granted, uses) in kinds {
        for grant in granted {
            items.push(ReviewItem {
                item: first + items.len() as u32,
                installation: inst.id.clone(),
                plugin: inst.manifest.name.clone(),
                vendor: inst.manifest.vendor.clone(),
                kind,
                grant: grant.clone(),
                last_used: uses.and_then(|u| u.get(grant).cloned()),
                usage_recorded: uses.is_some(),
                decision: None,
            });
        }
    }
    items
}

/// The grants that revoke one item.
fn revocation(item: &ReviewItem) -> Grants {
    let one = BTreeSet::from([item.grant.clone()]);
    let mut g = Grants::default();
    match item.kind {
        GrantKind::Read => g.read = one,
        GrantKind::Write => g.write = one,
        GrantKind::Egress => g.egress = one,
        _ => g.reveal = one,
    }
    g
}

impl Airlock {
    /// Reviews, newest first (at most `limit`).
    pub fn reviews(&self, limit: u32) -> AppResult<Vec<AccessReview>> {
        Ok(self.store.reviews(limit.clamp(1, 1000))?)
    }

    /// One review; `None` for the open one, or else the latest.
    pub fn review(&self, id: Option<u64>) -> AppResult<AccessReview> {
        let found = match id {
            Some(id) => self.store.review(id)?,
            None => match self.store.open_review_now()? {
                Some(open) => Some(open),
                None => self.store.reviews(1)?.pop(),
            },
        };
        found.ok_or_else(|| {
            AppError::NotFound(match id {
                Some(id) => format!("no access review #{id}; `airlock review list` shows them"),
                None => "no access review yet; `airlock review start` opens one".into(),
            })
        })
    }

    /// Admin actions on one installation, oldest first: who changed its grants, settings
    /// and enablement, when, and what changed.
    pub fn changes_to(&self, installation: &str) -> AppResult<Vec<Change>> {
        let filter = AuditFilter {
            installation: Some(HOST_INSTALLATION.into()),
            resource: Some(installation.into()),
            ..Default::default()
        };
        let mut records = Vec::new();
        self.each_record(filter, |r| {
            if r.entry.call.starts_with("admin.") {
                records.push(r);
            }
        })?;
        Ok(records
            .into_iter()
            .map(|r| {
                let mut details = r.entry.details;
                let who = |k: &str, d: &mut BTreeMap<String, String>| d.remove(k);
                let actor = [who("actor", &mut details), who("via", &mut details)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" via ");
                let address = who("address", &mut details).unwrap_or_default();
                details.remove("scope");
                Change {
                    seq: r.seq,
                    time: r.time,
                    actor: format!("{actor} from {address}"),
                    action: r.entry.call,
                    outcome: r.entry.reason,
                    details,
                }
            })
            .collect())
    }

    /// When the next review is due, given reviews every `review_interval_days`.
    pub fn review_status(&self) -> AppResult<ReviewStatus> {
        let interval = self.review_interval_days;
        let last = self.store.last_signed_off()?;
        let last_signed_off = last
            .as_ref()
            .and_then(|r| r.signed_off.as_ref().map(|s| (r.id, s.at.clone())));
        let from = match &last_signed_off {
            Some((_, at)) => parse_time(at),
            None => self
                .installations()?
                .iter()
                .filter_map(|i| parse_time(&i.installed_at))
                .min(),
        };
        let due = from.map(|t| t + time::Duration::days(i64::from(interval)));
        Ok(ReviewStatus {
            interval_days: interval,
            last_signed_off,
            open: self.store.open_review_now()?.map(|r| r.id),
            overdue: due.is_some_and(|d| d < OffsetDateTime::now_utc()),
            due: due.map(rfc3339_millis),
        })
    }

    /// Raises `review-overdue` when the review is past due, once per due date. Returns
    /// the status either way.
    pub fn check_review_due(&self) -> AppResult<ReviewStatus> {
        let status = self.review_status()?;
        let Some(due) = status.due.clone().filter(|_| status.overdue) else {
            return Ok(status);
        };
        let already = self.store.alerts(&crate::monitor::AlertQuery {
            installation: Some(HOST_INSTALLATION.into()),
            rule: Some(Rule::ReviewOverdue),
            since: Some(due.clone()),
            ..Default::default()
        })?;
        if already.is_empty() {
            let message = format!(
                "the access review was due {due} (every {} days); `airlock review start` opens one",
                status.interval_days
            );
            let details = BTreeMap::from([
                ("due".to_string(), due),
                ("interval_days".into(), status.interval_days.to_string()),
            ]);
            self.monitor.raise_alert(
                Rule::ReviewOverdue,
                (HOST_INSTALLATION, ""),
                message,
                details,
            )?;
        }
        Ok(status)
    }
}

impl Admin<'_> {
    /// Opens a review of every installation's grants, with last use over the past
    /// `window_days`. Refused while another review is open.
    pub fn start_review(&self, window_days: u32) -> AppResult<AccessReview> {
        if window_days == 0 || window_days > 3_650 {
            return Err(AppError::Invalid(
                "the review window (`days`) must be 1-3650".into(),
            ));
        }
        self.audited("admin.review.start", "", || {
            let airlock = self.airlock;
            let since = rfc3339_millis(
                OffsetDateTime::now_utc() - time::Duration::days(i64::from(window_days)),
            );
            let mut items = Vec::new();
            for inst in airlock.installations()? {
                let used = airlock.monitor.grant_use(&inst.id, &since)?;
                items.extend(items_of(&inst, &used, items.len() as u32 + 1));
            }
            let mut review = AccessReview {
                id: 0,
                opened_at: crate::audit::now_rfc3339(),
                opened_by: self.actor.principal.actor.clone(),
                window_days,
                items,
                signed_off: None,
            };
            let Some(id) = airlock.store.open_review(&review)? else {
                return Err(AppError::Conflict(
                    "an access review is already open: decide its items and sign it off (`airlock review show`)".into(),
                ));
            };
            review.id = id;
            let unused = review
                .items
                .iter()
                .filter(|i| i.usage_recorded && i.last_used.is_none())
                .count();
            let d = BTreeMap::from([
                ("review".to_string(), id.to_string()),
                ("items".into(), review.items.len().to_string()),
                ("unused".into(), unused.to_string()),
                ("window_days".into(), window_days.to_string()),
            ]);
            Ok((review, d))
        })
    }

    /// Decides one item of an open review. `revoke` takes the grant away at once (an
    /// `admin.grants.change` record of its own); `defer` needs a reason. A decision may
    /// be changed until sign-off; each one is recorded.
    pub fn decide(
        &self,
        review: u64,
        item: u32,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> AppResult<AccessReview> {
        self.audited("admin.review.decide", &review.to_string(), || {
            let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
                Some(r) => {
                    check_note(r).map_err(|e| AppError::Invalid(format!("the reason: {e}")))?;
                    Some(r.to_string())
                }
                None if outcome == Outcome::Defer => {
                    return Err(AppError::Invalid(
                        "deferring a grant needs a reason (`--reason`)".into(),
                    ));
                }
                None => None,
            };
            let current = self.open_item(review, item)?;
            if outcome == Outcome::Revoke {
                match self.change_grants(&current.installation, &Grants::default(), &revocation(&current)) {
                    // An installation removed since the review opened holds nothing.
                    Ok(_) | Err(AppError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let decision = Decision {
                outcome,
                reason,
                by: self.actor.principal.actor.clone(),
                at: crate::audit::now_rfc3339(),
            };
            let mut closed = false;
            let updated = self
                .airlock
                .store
                .update_review(review, &mut |r| {
                    closed = !r.is_open();
                    match r.items.iter_mut().find(|i| i.item == item) {
                        Some(i) if !closed => {
                            i.decision = Some(decision.clone());
                            true
                        }
                        _ => false,
                    }
                })?
                .ok_or_else(|| no_review(review))?;
            if closed {
                return Err(AppError::Conflict(format!(
                    "access review #{review} was signed off meanwhile; nothing more can be decided in it"
                )));
            }
            let mut d = BTreeMap::from([
                ("review".to_string(), review.to_string()),
                ("item".into(), item.to_string()),
                ("installation".into(), current.installation.clone()),
                ("kind".into(), current.kind.to_string()),
                ("grant".into(), current.grant.clone()),
                ("outcome".into(), outcome.to_string()),
            ]);
            if let Some(reason) = &decision.reason {
                d.insert("reason".into(), reason.clone());
            }
            Ok((updated, d))
        })
    }

    /// The item of an open review.
    fn open_item(&self, review: u64, item: u32) -> AppResult<ReviewItem> {
        let r = self
            .airlock
            .store
            .review(review)?
            .ok_or_else(|| no_review(review))?;
        if !r.is_open() {
            return Err(AppError::Conflict(format!(
                "access review #{review} is signed off; `airlock review start` opens a new one"
            )));
        }
        r.items.into_iter().find(|i| i.item == item).ok_or_else(|| {
            AppError::NotFound(format!(
                "access review #{review} has no item {item}; `airlock review show {review}` lists them"
            ))
        })
    }

    /// Closes a review once every item is decided.
    pub fn sign_off(&self, review: u64, note: Option<&str>) -> AppResult<AccessReview> {
        self.audited("admin.review.sign-off", &review.to_string(), || {
            let note = note.map(str::trim).filter(|n| !n.is_empty());
            if let Some(n) = note {
                check_note(n).map_err(|e| AppError::Invalid(format!("the note: {e}")))?;
            }
            let mut problem = None;
            let signed = self
                .airlock
                .store
                .update_review(review, &mut |r| {
                    problem = match (r.is_open(), r.undecided()) {
                        (false, _) => Some(AppError::Conflict(format!(
                            "access review #{review} is already signed off"
                        ))),
                        (true, 0) => None,
                        (true, n) => Some(AppError::Invalid(format!(
                            "{n} item(s) of access review #{review} have no decision yet: keep, revoke or defer each one"
                        ))),
                    };
                    if problem.is_some() {
                        return false;
                    }
                    r.signed_off = Some(SignOff {
                        by: self.actor.principal.actor.clone(),
                        at: crate::audit::now_rfc3339(),
                        note: note.map(str::to_string),
                    });
                    true
                })?
                .ok_or_else(|| no_review(review))?;
            if let Some(e) = problem {
                return Err(e);
            }
            let d = BTreeMap::from([
                ("review".to_string(), review.to_string()),
                ("items".into(), signed.items.len().to_string()),
                ("kept".into(), signed.count(Outcome::Keep).to_string()),
                ("revoked".into(), signed.count(Outcome::Revoke).to_string()),
                ("deferred".into(), signed.count(Outcome::Defer).to_string()),
            ]);
            Ok((signed, d))
        })
    }
}

fn no_review(id: u64) -> AppError {
    AppError::NotFound(format!(
        "no access review #{id}; `airlock review list` shows them"
    ))
}
