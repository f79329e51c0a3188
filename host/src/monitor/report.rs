//! The blast-radius report for incident response: everything an installation (or every
//! installation of a plugin) read, wrote and sent out in a time window, from the audit
//! log. Ids, field paths, destinations and counts only.

use super::error::{MonitorError, MonitorResult};
use super::{EGRESS_CALL, Monitor, PAGE, is_read_call, is_write_call, normalize_filter};
use crate::audit::{AuditFilter, Decision};
use crate::catalog;
use crate::egress::detail::EgressDetail;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Whose blast radius, and when.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlastRadiusQuery {
    /// The installation (this or `plugin` is required).
    pub installation: Option<String>,
    /// Or every installation of this plugin.
    pub plugin: Option<String>,
    /// From this RFC 3339 time (inclusive).
    pub since: Option<String>,
    /// Until this RFC 3339 time (exclusive).
    pub until: Option<String>,
}

/// One resource touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResourceAccess {
    /// `ticket`, `user`, `organization` or `comment`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Fields returned by reads of it.
    pub fields_read: BTreeSet<String>,
    /// Fields written to it.
    pub fields_written: BTreeSet<String>,
    /// Allowed calls that named it.
    pub calls: u64,
    /// First and last time it was touched.
    pub first: String,
    /// Last time.
    pub last: String,
}

/// One field touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldAccess {
    /// Its sensitivity class.
    pub class: String,
    /// Distinct resources it was read from.
    pub read_from: u64,
    /// Distinct resources it was written to.
    pub written_to: u64,
}

/// Everything sent to one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EgressSummary {
    /// Requests that went out.
    pub requests: u64,
    /// Requests the broker refused.
    pub denied: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Methods used.
    pub methods: BTreeSet<String>,
    /// Paths requested.
    pub paths: BTreeSet<String>,
    /// Response statuses, counted.
    pub statuses: BTreeMap<String, u64>,
    /// Data classes the egress check found in what was sent.
    pub classes: BTreeSet<String>,
    /// First and last request.
    pub first: String,
    /// Last request.
    pub last: String,
}

/// The report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    /// The installation asked about, if one.
    pub installation: Option<String>,
    /// The plugin asked about, if one.
    pub plugin: Option<String>,
    /// The window's start (normalized), if any.
    pub since: Option<String>,
    /// The window's end (normalized), if any.
    pub until: Option<String>,
    /// Installations whose records are included.
    pub installations: BTreeSet<String>,
    /// Audit records examined.
    pub records: u64,
    /// Invocations in the window.
    pub invocations: u64,
    /// Calls the broker denied.
    pub denied_calls: u64,
    /// Resources read or written, by `kind:id`.
    pub resources: BTreeMap<String, ResourceAccess>,
    /// Fields read or written, by path.
    pub fields: BTreeMap<String, FieldAccess>,
    /// Egress, by destination.
    pub egress: BTreeMap<String, EgressSummary>,
}

impl Monitor {
    /// Builds the blast-radius report, paging through the matching records.
    pub fn blast_radius(&self, q: &BlastRadiusQuery) -> MonitorResult<BlastRadius> {
        if q.installation.is_none() && q.plugin.is_none() {
            return Err(MonitorError::Invalid(
                "name an installation (or a plugin) for the blast radius".into(),
            ));
        }
        let mut filter = AuditFilter {
            installation: q.installation.clone(),
            plugin: q.plugin.clone(),
            since: q.since.clone(),
            until: q.until.clone(),
            ..Default::default()
        };
        normalize_filter(&mut filter)?;
        let mut report = BlastRadius {
            installation: q.installation.clone(),
            plugin: q.plugin.clone(),
            since: filter.since.clone(),
            until: filter.until.clone(),
            ..Default::default()
        };
        let mut read_from: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut written_to: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = self.store().query(&AuditFilter {
                after_seq: Some(after),
                limit: Some(PAGE),
                ..filter.clone()
            })?;
            for r in &page {
                after = r.seq;
                if crate::broker::is_intent(&r.entry) {
                    continue;
                }
                report.records += 1;
                let e = &r.entry;
                report.installations.insert(e.installation.clone());
                if e.call == super::OUTCOME_CALL {
                    report.invocations += 1;
                    continue;
                }
                let allowed = e.decision == Some(Decision::Allow);
                if e.decision == Some(Decision::Deny) {
                    report.denied_calls += 1;
                }
                if e.call == EGRESS_CALL {
                    let detail = EgressDetail::read(&e.details);
                    let dest = detail.destination.unwrap_or_default();
                    let g = report.egress.entry(dest).or_default();
                    if !allowed {
                        g.denied += 1;
                        continue;
                    }
                    g.requests += 1;
                    g.bytes_out += detail.bytes_out;
                    g.bytes_in += detail.bytes_in;
                    g.methods.extend(detail.method);
                    g.paths.extend(detail.path);
                    if let Some(status) = detail.status {
                        *g.statuses.entry(status.to_string()).or_default() += 1;
                    }
                    g.classes.extend(detail.classes);
                    if g.first.is_empty() {
                        g.first = r.time.clone();
                    }
                    g.last = r.time.clone();
                    continue;
                }
                let (read, write) = (is_read_call(&e.call), is_write_call(&e.call));
                if !allowed || !(read || write) || e.fields_returned.is_empty() {
                    continue;
                }
                let kind = super::resource_kind(&e.call);
                let key = format!("{kind}:{}", e.resource);
                let access =
                    report
                        .resources
                        .entry(key.clone())
                        .or_insert_with(|| ResourceAccess {
                            kind: kind.into(),
                            id: e.resource.clone(),
                            first: r.time.clone(),
                            ..Default::default()
                        });
                access.calls += 1;
                access.last = r.time.clone();
                for f in &e.fields_returned {
                    if write {
                        access.fields_written.insert(f.clone());
                        written_to.entry(f.clone()).or_default().insert(key.clone());
                    } else {
                        access.fields_read.insert(f.clone());
                        read_from.entry(f.clone()).or_default().insert(key.clone());
                    }
                }
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        let paths: BTreeSet<&String> = read_from.keys().chain(written_to.keys()).collect();
        for path in paths {
            report.fields.insert(
                path.clone(),
                FieldAccess {
                    class: catalog::lookup(path)
                        .map(|s| s.sensitivity.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    read_from: read_from.get(path).map_or(0, |s| s.len() as u64),
                    written_to: written_to.get(path).map_or(0, |s| s.len() as u64),
                },
            );
        }
        Ok(report)
    }
}

impl BlastRadius {
    /// The report as text for the terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let who = self
            .installation
            .clone()
            .or(self.plugin.as_ref().map(|p| format!("plugin {p}")))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "blast radius of {who} from {} until {}",
            self.since.as_deref().unwrap_or("the start"),
            self.until.as_deref().unwrap_or("now")
        );
        let _ = writeln!(
            out,
            "{} records, {} invocations, {} denied calls",
            self.records, self.invocations, self.denied_calls
        );
        let _ = writeln!(out, "fields ({}):", self.fields.len());
        for (path, f) in &self.fields {
            let _ = writeln!(
                out,
                "  {path} [{}]: read from {}, written to {}",
                f.class, f.read_from, f.written_to
            );
        }
        let _ = writeln!(out, "resources ({}):", self.resources.len());
        for (key, r) in &self.resources {
            let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
            let _ = writeln!(
                out,
                "  {key}: read [{}] written [{}] ({} calls, {} .. {})",
                join(&r.fields_read),
                join(&r.fields_written),
                r.calls,
                r.first,
                r.last
            );
        }
        let _ = writeln!(out, "egress ({} destinations):", self.egress.len());
        for (dest, g) in &self.egress {
            let _ = writeln!(
                out,
                "  {dest}: {} requests ({} denied), {} bytes out, {} bytes in, classes [{}]",
                g.requests,
                g.denied,
                g.bytes_out,
                g.bytes_in,
                g.classes.iter().cloned().collect::<Vec<_>>().join(",")
            );
        }
        out
    }
}
