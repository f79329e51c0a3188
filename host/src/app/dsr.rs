//! Data-subject requests: everything Airlock holds about a person, across the helpdesk
//! records, every plugin's kv entries and the audit log, exported or erased.
//!
//! - **Export** (`admin.dsr.export`): the person's user record, their tickets and the
//!   comments on them or by them; every kv entry tagged with them (written by an
//!   invocation that had read their records), decrypted, with its installation; every
//!   audit record of a plugin or admin touching their records (installation, call,
//!   fields, time); and every outbound request made by an invocation that touched them
//!   (destination, time, classes): an upper bound of where their values went.
//! - **Erasure** (`admin.dsr.erase`): deletes the helpdesk records and the tagged kv
//!   entries, overwriting the freed space. Audit records stay: they hold ids, never
//!   values, and the chain still verifies. A person under legal hold
//!   (`admin.dsr.hold`, lifted by `admin.dsr.release`, both in the log) is not erased.
//!
//! Each request is one audit record with the counts of what was found or deleted;
//! `airlock dsr receipt <seq>` proves it with an inclusion proof against a signed
//! checkpoint.

use super::admin::Admin;
use super::{Airlock, AppError, AppResult};
use crate::audit::{AuditFilter, AuditRecord};
use crate::model::{Kind, Record};
use crate::monitor::EGRESS_CALL;
use crate::store::{HelpdeskStore, KvStore, TicketQuery};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The most tickets of one person a request covers.
pub const MAX_TICKETS: u32 = 10_000;

/// One kv entry found for a person.
#[derive(Debug, Clone, Serialize)]
pub struct KvFound {
    /// The installation whose entry it is.
    pub installation: String,
    /// The key name.
    pub key: String,
    /// The value (UTF-8, lossy).
    pub value: String,
    /// When it was written.
    pub written_at: String,
}

/// An audit record that touched a person's records.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// Its sequence number (for `airlock audit proof`).
    pub seq: u64,
    /// When.
    pub time: String,
    /// The installation (`airlock` for an admin).
    pub installation: String,
    /// The call.
    pub call: String,
    /// The record touched.
    pub resource: String,
    /// The fields returned or written.
    pub fields: Vec<String>,
    /// `allow` or `deny`.
    pub decision: String,
}

/// An outbound request of an invocation that touched the person's records.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// Its sequence number.
    pub seq: u64,
    /// When.
    pub time: String,
    /// The installation.
    pub installation: String,
    /// Where it went.
    pub destination: String,
    /// The data classes found in it.
    pub classes: String,
}

/// Everything held about one person.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectExport {
    /// The user id.
    pub user: String,
    /// Their user record, if still stored.
    pub record: Option<Record>,
    /// Their tickets.
    pub tickets: Vec<Record>,
    /// Comments on their tickets, and theirs on other tickets.
    pub comments: Vec<Record>,
    /// Plugin kv entries tagged with them.
    pub kv: Vec<KvFound>,
    /// Per installation, how many kv entries were written by an invocation that read
    /// more people than are tracked one by one (tagged `*`): they may hold this person's
    /// data too. They are neither exported (they may hold others') nor erased; kv
    /// retention (`kv_days`) ages them out.
    pub kv_unattributed: BTreeMap<String, u64>,
    /// Audit records touching their records.
    pub accesses: Vec<Access>,
    /// Outbound requests of invocations that touched them.
    pub sent: Vec<Sent>,
    /// Whether a legal hold keeps them from erasure.
    pub held: bool,
}

/// What an erasure deleted.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// The user id.
    pub user: String,
    /// Helpdesk records deleted (user, tickets with their comments).
    pub records: u64,
    /// kv entries deleted.
    pub kv_entries: u64,
}

impl Airlock {
    /// The user id of a person named by id or by email address (exactly one).
    pub fn resolve_subject(&self, user: Option<&str>, email: Option<&str>) -> AppResult<String> {
        match (user, email) {
            (Some(id), None) => Ok(id.to_string()),
            (None, Some(email)) => {
                let wanted = email.trim().to_ascii_lowercase();
                let mut after = String::new();
                loop {
                    let page = self.store.page(Kind::User, &after, 1_000)?;
                    for (id, record) in &page {
                        let found = record.get("email").and_then(|e| e.as_str());
                        if found.is_some_and(|e| e.to_ascii_lowercase() == wanted) {
                            return Ok(id.clone());
                        }
                    }
                    match page.last() {
                        Some((id, _)) if page.len() == 1_000 => after = id.clone(),
                        _ => break,
                    }
                }
                Err(AppError::NotFound("no user has that email address".into()))
            }
            _ => Err(AppError::Invalid(
                "name the person with exactly one of --user or --email".into(),
            )),
        }
    }

    /// Whether a legal hold keeps `user` from erasure: their last hold record is later
    /// than their last release record.
    pub fn is_held(&self, user: &str) -> AppResult<bool> {
        // Every record, not a first page: the last one decides.
        let last = |call: &str| -> AppResult<u64> {
            let mut seq = 0;
            let filter = AuditFilter {
                call: Some(call.into()),
                resource: Some(user.into()),
                ..Default::default()
            };
            self.each_record(filter, |r| {
                if r.entry.reason == "ok" {
                    seq = r.seq;
                }
            })?;
            Ok(seq)
        };
        Ok(last("admin.dsr.hold")? > last("admin.dsr.release")?)
    }

    /// The records that are about `user`: their user record, their tickets, and the
    /// comments on those tickets or written by them anywhere.
    fn subject_records(&self, user: &str) -> AppResult<(Option<Record>, Vec<Record>, Vec<Record>)> {
        let record = self.store.get(Kind::User, user)?;
        let tickets = self
            .store
            .search_tickets(&TicketQuery::Requester(user.into()), MAX_TICKETS)?;
        let mut comments = Vec::new();
        for t in &tickets {
            if let Some(id) = t.get("id").and_then(|v| v.as_str()) {
                comments.extend(self.store.comments(id, 10_000)?);
            }
        }
        let seen: BTreeSet<String> = comments.iter().filter_map(record_id).collect();
        for c in self.store.comments_by(user, MAX_TICKETS)? {
            if record_id(&c).is_some_and(|id| !seen.contains(&id)) {
                comments.push(c);
            }
        }
        Ok((record, tickets, comments))
    }

    /// Per installation, the kv entries tagged `*` (written after reading more people
    /// than are tracked).
    fn unattributed_kv(&self) -> AppResult<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for (installation, _) in self
            .store
            .kv_tagged(&[crate::broker::ALL_SUBJECTS.to_string()])?
        {
            *counts.entry(installation).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The kv subject tags that mean `user`: the user and each of their tickets.
    fn subject_tags(user: &str, tickets: &[Record]) -> Vec<String> {
        let mut tags = vec![format!("user:{user}")];
        tags.extend(
            tickets
                .iter()
                .filter_map(|t| t.get("id").and_then(|v| v.as_str()))
                .map(|id| format!("ticket:{id}")),
        );
        tags
    }

    fn build_export(&self, user: &str) -> AppResult<SubjectExport> {
        let (record, tickets, comments) = self.subject_records(user)?;
        let kv_service = &self.capabilities.kv;
        let master = self.capabilities.egress.key();
        let mut kv = Vec::new();
        for (installation, entry) in self.store.kv_tagged(&Self::subject_tags(user, &tickets))? {
            let (key, value) = kv_service
                .open_entry(master, &installation, &entry)
                .map_err(|e| AppError::Internal(e.into()))?;
            kv.push(KvFound {
                installation,
                key,
                value: String::from_utf8_lossy(&value).into_owned(),
                written_at: entry.written_at.clone(),
            });
        }
        let mut resources: BTreeSet<String> = BTreeSet::from([user.to_string()]);
        for r in tickets.iter().chain(&comments) {
            if let Some(id) = r.get("id").and_then(|v| v.as_str()) {
                resources.insert(id.to_string());
            }
        }
        let mut accesses = Vec::new();
        let mut invocations = BTreeSet::new();
        for resource in &resources {
            for r in self.all_records(AuditFilter {
                resource: Some(resource.clone()),
                ..Default::default()
            })? {
                if !r.entry.invocation.is_empty() {
                    invocations.insert(r.entry.invocation.clone());
                }
                accesses.push(access(&r));
            }
        }
        accesses.sort_by_key(|a| a.seq);
        let mut sent = Vec::new();
        for r in self.all_records(AuditFilter {
            call: Some(EGRESS_CALL.into()),
            decision: Some(crate::audit::Decision::Allow),
            ..Default::default()
        })? {
            if invocations.contains(&r.entry.invocation) && !crate::broker::is_intent(&r.entry) {
                let detail = |k: &str| r.entry.details.get(k).cloned().unwrap_or_default();
                sent.push(Sent {
                    seq: r.seq,
                    time: r.time.clone(),
                    installation: r.entry.installation.clone(),
                    destination: detail(crate::egress::detail::DESTINATION),
                    classes: detail("classes"),
                });
            }
        }
        Ok(SubjectExport {
            user: user.to_string(),
            record,
            tickets,
            comments,
            kv,
            accesses,
            sent,
            kv_unattributed: self.unattributed_kv()?,
            held: self.is_held(user)?,
        })
    }

    /// Deletes `user`'s helpdesk records and tagged kv entries; the erasure and its
    /// record's details (the counts, added to `details`).
    fn erase_subject(
        &self,
        user: &str,
        mut details: BTreeMap<String, String>,
    ) -> AppResult<(Erasure, BTreeMap<String, String>)> {
        let (_, tickets, comments) = self.subject_records(user)?;
        let mut kv_entries = 0;
        for (installation, entry) in self.store.kv_tagged(&Self::subject_tags(user, &tickets))? {
            let erased = self
                .capabilities
                .kv
                .erase_entry(&installation, &entry.key_hash)
                .map_err(|e| AppError::Internal(e.into()))?;
            kv_entries += u64::from(erased);
        }
        let mut doomed: Vec<(Kind, String)> = tickets
            .iter()
            .filter_map(|t| t.get("id").and_then(|v| v.as_str()))
            .map(|id| (Kind::Ticket, id.to_string()))
            .collect();
        // Their comments on other tickets (those on theirs go with the tickets).
        let own: BTreeSet<&str> = tickets
            .iter()
            .filter_map(|t| t.get("id").and_then(|v| v.as_str()))
            .collect();
        doomed.extend(
            comments
                .iter()
                .filter(|c| {
                    !c.get("ticket_id")
                        .and_then(|v| v.as_str())
                        .is_some_and(|t| own.contains(t))
                })
                .filter_map(record_id)
                .map(|id| (Kind::Comment, id)),
        );
        doomed.push((Kind::User, user.to_string()));
        let records = self.store.erase(&doomed)?;
        details.insert("records".into(), records.to_string());
        details.insert("kv_entries".into(), kv_entries.to_string());
        let erasure = Erasure {
            user: user.to_string(),
            records,
            kv_entries,
        };
        Ok((erasure, details))
    }

    /// Every record matching `filter` (read a page at a time).
    fn all_records(&self, filter: AuditFilter) -> AppResult<Vec<AuditRecord>> {
        let mut out = Vec::new();
        self.each_record(filter, |r| out.push(r))?;
        Ok(out)
    }
}

fn record_id(r: &Record) -> Option<String> {
    r.get("id").and_then(|v| v.as_str()).map(str::to_string)
}

fn access(r: &AuditRecord) -> Access {
    Access {
        seq: r.seq,
        time: r.time.clone(),
        installation: r.entry.installation.clone(),
        call: r.entry.call.clone(),
        resource: r.entry.resource.clone(),
        fields: r.entry.fields_returned.clone(),
        decision: r
            .entry
            .decision
            .map(|d| format!("{d:?}").to_lowercase())
            .unwrap_or_default(),
    }
}

impl Admin<'_> {
    /// Exports everything held about `user`, recorded as `admin.dsr.export` with the
    /// counts found.
    pub fn dsr_export(&self, user: &str) -> AppResult<SubjectExport> {
        self.audited("admin.dsr.export", user, || {
            checked(user)?;
            let export = self.airlock.build_export(user)?;
            let d = BTreeMap::from([
                (
                    "user_record".to_string(),
                    export.record.is_some().to_string(),
                ),
                ("tickets".into(), export.tickets.len().to_string()),
                ("comments".into(), export.comments.len().to_string()),
                ("kv_entries".into(), export.kv.len().to_string()),
                (
                    "kv_unattributed".into(),
                    export.kv_unattributed.values().sum::<u64>().to_string(),
                ),
                ("accesses".into(), export.accesses.len().to_string()),
                ("sent".into(), export.sent.len().to_string()),
            ]);
            Ok((export, d))
        })
    }

    /// Erases `user`'s helpdesk records and the kv entries tagged with them, recorded
    /// as `admin.dsr.erase` with the counts deleted; refused under a legal hold.
    pub fn dsr_erase(&self, user: &str) -> AppResult<Erasure> {
        self.audited("admin.dsr.erase", user, || {
            checked(user)?;
            if self.airlock.is_held(user)? {
                return Err(AppError::Conflict(format!(
                    "`{user}` is under a legal hold; `airlock dsr release` lifts it"
                )));
            }
            self.airlock.erase_subject(user, BTreeMap::new())
        })
    }

    /// Erases `user` again in a restored store, because the live log recorded their
    /// erasure (`seq`) after the backup was taken; recorded as `admin.dsr.erase` with
    /// `reapplied_from`. No hold check: the erasure already happened.
    pub(super) fn dsr_reapply_erasure(&self, user: &str, seq: u64) -> AppResult<Erasure> {
        self.audited("admin.dsr.erase", user, || {
            checked(user)?;
            let d = BTreeMap::from([("reapplied_from".to_string(), seq.to_string())]);
            self.airlock.erase_subject(user, d)
        })
    }

    /// Puts `user` under a legal hold (`admin.dsr.hold`), or lifts it
    /// (`admin.dsr.release`).
    pub fn dsr_hold(&self, user: &str, hold: bool, reason: &str) -> AppResult<()> {
        let call = match hold {
            true => "admin.dsr.hold",
            false => "admin.dsr.release",
        };
        self.audited(call, user, || {
            checked(user)?;
            crate::review::check_note(reason)
                .map_err(|e| AppError::Invalid(format!("the reason: {e}")))?;
            Ok((
                (),
                BTreeMap::from([("reason".to_string(), reason.to_string())]),
            ))
        })
    }
}

fn checked(user: &str) -> AppResult<()> {
    match crate::model::valid_id(user) {
        true => Ok(()),
        false => Err(AppError::Invalid("not a user id".into())),
    }
}
