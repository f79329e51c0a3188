//! The incident report: the data subjects an installation touched in a window, with
//! the fields it read or wrote of each and where data may have gone. The list a breach
//! notification needs.
//!
//! From the audit log alone (the log is the source of truth), one pass over the
//! installation's records in the window:
//! - an allowed read or write of a user names that user; of a ticket, its requester; of
//!   a comment, its author (looked up in the helpdesk store; a record that is gone is
//!   listed under `unresolved`);
//! - `sent_to` holds the destinations an allowed outbound request of the *same
//!   invocation* reached: egress is governed by what the invocation read, so those are
//!   the places the subject's data may have gone (an upper bound, never less).
//!
//! The report names user ids, field paths and destinations, never values. Running it is
//! an admin action on the record (`admin.incident.report`).

use super::admin::Admin;
use super::{Airlock, AppError, AppResult};
use crate::audit::{AuditFilter, AuditRecord, Decision};
use crate::model::Kind;
use crate::monitor::{EGRESS_CALL, is_read_call, is_write_call, normalize_time};
use crate::store::HelpdeskStore;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the report covers.
#[derive(Debug, Clone)]
pub struct IncidentQuery {
    /// The installation.
    pub installation: String,
    /// The window's start (RFC 3339).
    pub since: String,
    /// The window's end, if any.
    pub until: Option<String>,
}

/// One data subject's exposure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectExposure {
    /// The user's id.
    pub user: String,
    /// Fields of theirs the installation read.
    pub read: BTreeSet<String>,
    /// Fields of theirs it wrote.
    pub written: BTreeSet<String>,
    /// Destinations an invocation that touched their data reached.
    pub sent_to: BTreeSet<String>,
    /// The records (`kind:id`) through which they were touched.
    pub via: BTreeSet<String>,
}

/// The incident report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentReport {
    /// The installation.
    pub installation: String,
    /// The window (normalized).
    pub since: String,
    /// Its end, if given.
    pub until: Option<String>,
    /// Audit records examined.
    pub records: u64,
    /// Every data subject, by user id.
    pub subjects: Vec<SubjectExposure>,
    /// Records touched whose subject is unknown now (`kind:id`: deleted since).
    pub unresolved: BTreeSet<String>,
}

impl IncidentReport {
    /// The report as CSV: one row per subject, lists joined with `;`, cells quoted and
    /// neutralized as the audit export's are.
    pub fn csv(&self) -> String {
        let mut out = String::from("user,read,written,sent_to,via\n");
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(";");
        for s in &self.subjects {
            let cells = [
                s.user.clone(),
                join(&s.read),
                join(&s.written),
                join(&s.sent_to),
                join(&s.via),
            ];
            for (i, text) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::monitor::export::cell(&mut out, text);
            }
            out.push('\n');
        }
        out
    }
}

/// What one invocation touched: subjects and the destinations it reached.
#[derive(Default)]
struct Touched {
    subjects: BTreeSet<String>,
    destinations: BTreeSet<String>,
}

impl Airlock {
    /// Builds the incident report (unrecorded; [`Admin::incident_report`] records it).
    fn build_incident_report(&self, q: &IncidentQuery) -> AppResult<IncidentReport> {
        let since = normalize_time("since", &q.since)?;
        let until = q
            .until
            .as_deref()
            .map(|u| normalize_time("until", u))
            .transpose()?;
        let mut report = IncidentReport {
            installation: q.installation.clone(),
            since: since.clone(),
            until: until.clone(),
            ..Default::default()
        };
        let mut subjects: BTreeMap<String, SubjectExposure> = BTreeMap::new();
        let mut invocations: HashMap<String, Touched> = HashMap::new();
        let mut owners: HashMap<(Kind, String), Option<String>> = HashMap::new();
        let filter = AuditFilter {
            installation: Some(q.installation.clone()),
            since: Some(since.clone()),
            until: until.clone(),
            ..Default::default()
        };
        let mut failed = None;
        self.each_record(filter, |r| {
            report.records += 1;
            if failed.is_none()
                && let Err(e) = self.note(
                    &r,
                    &mut owners,
                    &mut subjects,
                    &mut invocations,
                    &mut report.unresolved,
                )
            {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        for touched in invocations.values() {
            for user in &touched.subjects {
                if let Some(s) = subjects.get_mut(user) {
                    s.sent_to.extend(touched.destinations.iter().cloned());
                }
            }
        }
        report.subjects = subjects.into_values().collect();
        Ok(report)
    }

    /// Adds one record to the report's state.
    fn note(
        &self,
        r: &AuditRecord,
        owners: &mut HashMap<(Kind, String), Option<String>>,
        subjects: &mut BTreeMap<String, SubjectExposure>,
        invocations: &mut HashMap<String, Touched>,
        unresolved: &mut BTreeSet<String>,
    ) -> AppResult<()> {
        let e = &r.entry;
        if e.decision != Some(Decision::Allow) || crate::broker::is_intent(e) {
            return Ok(());
        }
        let touched = invocations.entry(e.invocation.clone()).or_default();
        if e.call == EGRESS_CALL {
            if let Some(dest) = e.details.get(crate::egress::detail::DESTINATION) {
                touched.destinations.insert(dest.clone());
            }
            return Ok(());
        }
        let (read, write) = (is_read_call(&e.call), is_write_call(&e.call));
        if !(read || write) || e.fields_returned.is_empty() || e.resource.is_empty() {
            return Ok(());
        }
        let kind_name = crate::monitor::resource_kind(&e.call);
        let kind = match kind_name {
            "user" => Kind::User,
            "comment" => Kind::Comment,
            "organization" => return Ok(()),
            _ => Kind::Ticket,
        };
        let key = (kind, e.resource.clone());
        let owner = match owners.get(&key) {
            Some(o) => o.clone(),
            None => {
                let o = self.subject_of(kind, &e.resource)?;
                owners.insert(key, o.clone());
                o
            }
        };
        let via = format!("{kind_name}:{}", e.resource);
        let Some(user) = owner else {
            unresolved.insert(via);
            return Ok(());
        };
        touched.subjects.insert(user.clone());
        let s = subjects
            .entry(user.clone())
            .or_insert_with(|| SubjectExposure {
                user,
                ..Default::default()
            });
        let into = if write { &mut s.written } else { &mut s.read };
        into.extend(e.fields_returned.iter().cloned());
        s.via.insert(via);
        Ok(())
    }

    /// The person a record is about: a user is themself, a ticket its requester, a
    /// comment its author.
    fn subject_of(&self, kind: Kind, id: &str) -> AppResult<Option<String>> {
        if kind == Kind::User {
            return Ok(self.store.get(kind, id)?.map(|_| id.to_string()));
        }
        let key = match kind {
            Kind::Comment => "author_id",
            _ => "requester_id",
        };
        Ok(self
            .store
            .get(kind, id)?
            .and_then(|r| r.get(key).and_then(|v| v.as_str()).map(str::to_string)))
    }
}

impl Admin<'_> {
    /// The incident report of an installation in a window, recorded as
    /// `admin.incident.report` with the window and the number of subjects.
    pub fn incident_report(&self, q: &IncidentQuery) -> AppResult<IncidentReport> {
        self.audited("admin.incident.report", &q.installation, || {
            // Not looked up: one removed since is still reported on from the log.
            if !crate::model::valid_id(&q.installation) {
                return Err(AppError::Invalid("not an installation id".into()));
            }
            let report = self.airlock.build_incident_report(q)?;
            let mut d = BTreeMap::from([
                ("since".to_string(), report.since.clone()),
                ("subjects".into(), report.subjects.len().to_string()),
                ("records".into(), report.records.to_string()),
            ]);
            if let Some(u) = &report.until {
                d.insert("until".into(), u.clone());
            }
            Ok((report, d))
        })
    }
}
