//! Activity counters per installation, and their Prometheus text exposition.
//!
//! | metric | labels | counts |
//! | --- | --- | --- |
//! | `airlock_invocations_total` | `installation` | invocations (outcome records) |
//! | `airlock_invocation_errors_total` | `installation`, `kind` | failed invocations by kind (`timeout`, `panic`, …) |
//! | `airlock_denied_calls_total` | `installation` | host calls the broker refused |
//! | `airlock_records_read_total` | `installation`, `class` | records read, once per sensitivity class among the fields returned |
//! | `airlock_egress_requests_total` | `installation`, `destination` | outbound HTTP requests (refused ones under one `destination="refused"` series) |
//! | `airlock_egress_bytes_total` | `installation`, `destination`, `direction` (`out`, `in`) | bytes sent and received |
//! | `airlock_alerts_total` | `installation`, `rule` | alerts raised |
//!
//! Counters cover the records the audit log holds: after pruning, a restart counts only
//! what was kept.

use super::{ALERT_CALL, EGRESS_CALL, OUTCOME_CALL, is_read_call};
use crate::audit::{AuditRecord, Decision};
use crate::catalog;
use crate::egress::detail::EgressDetail;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Egress counters for one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EgressCounters {
    /// Requests made (allowed or not).
    pub requests: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
}

/// The counters of one installation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstallationCounters {
    /// Invocations.
    pub invocations: u64,
    /// Failed invocations, by failure kind.
    pub errors: BTreeMap<String, u64>,
    /// Calls the broker denied.
    pub denied: u64,
    /// Records read, by sensitivity class of the fields returned.
    pub records_read: BTreeMap<String, u64>,
    /// Egress, by destination.
    pub egress: BTreeMap<String, EgressCounters>,
    /// Alerts raised, by rule.
    pub alerts: BTreeMap<String, u64>,
}

/// The destination label every refused outbound request is counted under.
pub const REFUSED_DESTINATION: &str = "refused";

/// Every installation's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// By installation id.
    pub installations: BTreeMap<String, InstallationCounters>,
}

/// The sensitivity classes among a record's returned fields.
pub fn classes_of(fields: &[String]) -> BTreeSet<catalog::Sensitivity> {
    fields
        .iter()
        .filter_map(|f| catalog::lookup(f).map(|s| s.sensitivity))
        .collect()
}

impl Counters {
    /// Counts one sealed record.
    pub fn apply(&mut self, r: &AuditRecord) {
        let e = &r.entry;
        // A call's intent is followed by its outcome record, which is what is counted.
        if e.installation.is_empty() || crate::broker::is_intent(e) {
            return;
        }
        let c = self
            .installations
            .entry(e.installation.clone())
            .or_default();
        let call = e.call.as_str();
        if call == ALERT_CALL {
            *c.alerts.entry(e.reason.clone()).or_default() += 1;
            return;
        }
        if call == OUTCOME_CALL {
            c.invocations += 1;
            if e.decision == Some(Decision::Deny) {
                let kind = e.reason.split(':').next().unwrap_or("").trim();
                let kind = if kind.is_empty() { "unknown" } else { kind };
                *c.errors.entry(kind.to_string()).or_default() += 1;
            }
            return;
        }
        if e.decision == Some(Decision::Deny) {
            c.denied += 1;
        }
        if call == EGRESS_CALL {
            let detail = EgressDetail::read(&e.details);
            // Refused requests share one series: their destinations are whatever the
            // plugin asked for, and would make the series unbounded.
            let destination = match e.decision {
                Some(Decision::Allow) => detail.destination.unwrap_or_else(|| "unknown".into()),
                _ => REFUSED_DESTINATION.to_string(),
            };
            let g = c.egress.entry(destination).or_default();
            g.requests += 1;
            g.bytes_out += detail.bytes_out;
            g.bytes_in += detail.bytes_in;
            return;
        }
        if e.decision == Some(Decision::Allow) && is_read_call(call) {
            for class in classes_of(&e.fields_returned) {
                *c.records_read.entry(class.to_string()).or_default() += 1;
            }
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, help: &str, samples: Vec<(Vec<(&str, &str)>, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, value) in samples {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
            }
        };
        let all = &self.installations;
        family(
            "airlock_invocations_total",
            "Plugin invocations.",
            all.iter()
                .map(|(i, c)| (vec![("installation", i.as_str())], c.invocations))
                .collect(),
        );
        family(
            "airlock_invocation_errors_total",
            "Failed plugin invocations, by failure kind.",
            all.iter()
                .flat_map(|(i, c)| {
                    c.errors.iter().map(move |(k, n)| {
                        (vec![("installation", i.as_str()), ("kind", k.as_str())], *n)
                    })
                })
                .collect(),
        );
        family(
            "airlock_denied_calls_total",
            "Host calls the broker denied.",
            all.iter()
                .map(|(i, c)| (vec![("installation", i.as_str())], c.denied))
                .collect(),
        );
        family(
            "airlock_records_read_total",
            "Helpdesk records read, by sensitivity class of the fields returned.",
            all.iter()
                .flat_map(|(i, c)| {
                    c.records_read.iter().map(move |(k, n)| {
                        (
                            vec![("installation", i.as_str()), ("class", k.as_str())],
                            *n,
                        )
                    })
                })
                .collect(),
        );
        family(
            "airlock_egress_requests_total",
            "Outbound HTTP requests, by destination.",
            all.iter()
                .flat_map(|(i, c)| {
                    c.egress.iter().map(move |(d, g)| {
                        (
                            vec![("installation", i.as_str()), ("destination", d.as_str())],
                            g.requests,
                        )
                    })
                })
                .collect(),
        );
        family(
            "airlock_egress_bytes_total",
            "Outbound HTTP bytes, by destination and direction.",
            all.iter()
                .flat_map(|(i, c)| {
                    c.egress.iter().flat_map(move |(d, g)| {
                        [("out", g.bytes_out), ("in", g.bytes_in)].map(|(dir, n)| {
                            (
                                vec![
                                    ("installation", i.as_str()),
                                    ("destination", d.as_str()),
                                    ("direction", dir),
                                ],
                                n,
                            )
                        })
                    })
                })
                .collect(),
        );
        family(
            "airlock_alerts_total",
            "Alerts raised, by rule.",
            all.iter()
                .flat_map(|(i, c)| {
                    c.alerts.iter().map(move |(k, n)| {
                        (vec![("installation", i.as_str()), ("rule", k.as_str())], *n)
                    })
                })
                .collect(),
        );
        out
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEntry, seal};

    fn record(call: &str, decision: Decision, reason: &str, fields: &[&str]) -> AuditRecord {
        seal(
            None,
            "2026-01-01T00:00:00.000Z".into(),
            AuditEntry {
                installation: "a\"b".into(),
                call: call.into(),
                decision: Some(decision),
                reason: reason.into(),
                fields_returned: fields.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        )
    }

    #[test]
    fn counts_and_escapes() {
        let mut c = Counters::default();
        c.apply(&record(OUTCOME_CALL, Decision::Allow, "ok", &[]));
        c.apply(&record(OUTCOME_CALL, Decision::Deny, "timeout: slow", &[]));
        c.apply(&record(
            "helpdesk.get-user",
            Decision::Deny,
            "denied: x",
            &[],
        ));
        c.apply(&record(
            "helpdesk.get-user",
            Decision::Allow,
            "ok",
            &["requester.email", "requester.name", "requester.role"],
        ));
        c.apply(&record(
            "helpdesk.add-tags",
            Decision::Allow,
            "ok",
            &["ticket.tags"],
        ));
        let text = c.prometheus();
        assert!(text.contains("airlock_invocations_total{installation=\"a\\\"b\"} 2"));
        assert!(text.contains("kind=\"timeout\"} 1"));
        assert!(text.contains("airlock_denied_calls_total{installation=\"a\\\"b\"} 1"));
        assert!(text.contains("class=\"personal\"} 1"));
        assert!(text.contains("class=\"internal\"} 1"));
        assert!(!text.contains("class=\"public\""), "writes are not reads");
    }

    /// Issue 13: one series per refused destination was unbounded.
    #[test]
    fn refused_requests_share_one_series() {
        let mut c = Counters::default();
        for i in 0..50 {
            let mut r = record(EGRESS_CALL, Decision::Deny, "denied: x", &[]);
            r.entry
                .details
                .insert("destination".into(), format!("https://h{i}.example"));
            c.apply(&r);
        }
        let mut ok = record(EGRESS_CALL, Decision::Allow, "ok", &[]);
        ok.entry
            .details
            .insert("destination".into(), "https://crm.example".into());
        c.apply(&ok);
        let text = c.prometheus();
        let series = text
            .lines()
            .filter(|l| l.starts_with("airlock_egress_requests_total{"))
            .count();
        assert_eq!(series, 2, "{text}");
        assert!(text.contains("destination=\"refused\"} 50"), "{text}");
    }
}
