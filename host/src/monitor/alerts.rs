//! Alert rules over the audit log, their thresholds, and webhook delivery.
//!
//! | rule | fires when |
//! | --- | --- |
//! | `new-destination` | an installation's egress reaches a destination it never contacted before |
//! | `denied-burst` | more than `denied_calls` denied calls within `denied_window_minutes` |
//! | `read-spike` | records read in one clock hour exceed `read_factor` × the installation's mean per hour over the trailing `baseline_hours` (and at least `min_reads_per_hour`) |
//! | `restricted-read` | any read returns a field of the `restricted` class |
//! | `requester-spike` | distinct users read in one clock hour exceed `requester_factor` × the trailing mean (and at least `min_requesters_per_hour`) |
//! | `plugin-killed` | an admin killed an installation (raised by the host) |
//! | `review-overdue` | no access review was signed off within `review_interval_days` (raised by the host once per due date, not from records) |
//!
//! Rules run on record times, so rebuilding from the log at startup restores their state
//! exactly (history raises nothing). The baseline rules stay quiet until an installation
//! has `min_baseline_hours` of history. Each burst or spike fires once per window or hour.

use super::{
    ALERT_CALL, EGRESS_CALL, MonitorStore, OUTCOME_CALL, is_read_call, record_secs, resource_kind,
};
use crate::audit::{AuditRecord, Decision};
use crate::catalog::{self, Sensitivity};
use airlock_core::alert::{Alert, Delivery, Rule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::mpsc;

/// Thresholds: the `[alerts]` section of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// Where alerts are POSTed as JSON (plain `http://`), if anywhere.
    pub webhook: Option<String>,
    /// Raise `new-destination`.
    pub new_destination: bool,
    /// Raise `restricted-read`.
    pub restricted_read: bool,
    /// `denied-burst`: more than this many denied calls …
    pub denied_calls: u32,
    /// … within this many minutes.
    pub denied_window_minutes: u32,
    /// `read-spike`: reads in an hour above this multiple of the baseline …
    pub read_factor: f64,
    /// … and at least this many.
    pub min_reads_per_hour: u64,
    /// `requester-spike`: distinct users in an hour above this multiple of the baseline …
    pub requester_factor: f64,
    /// … and at least this many.
    pub min_requesters_per_hour: u64,
    /// The trailing window the baselines average over, in hours.
    pub baseline_hours: u32,
    /// How much history an installation needs before the baseline rules apply, in hours.
    pub min_baseline_hours: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            webhook: None,
            new_destination: true,
            restricted_read: true,
            denied_calls: 10,
            denied_window_minutes: 5,
            read_factor: 5.0,
            min_reads_per_hour: 50,
            requester_factor: 5.0,
            min_requesters_per_hour: 20,
            baseline_hours: 168,
            min_baseline_hours: 24,
        }
    }
}

/// An alert before it is stored.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    rule: Rule,
    installation: String,
    plugin: String,
    message: String,
    details: BTreeMap<String, String>,
    trigger_seq: u64,
}

impl Draft {
    /// An alert the host raises itself, not from a record (an overdue review, a kill).
    pub(crate) fn direct(
        rule: Rule,
        installation: String,
        plugin: String,
        message: String,
        details: BTreeMap<String, String>,
    ) -> Draft {
        Draft {
            rule,
            installation,
            plugin,
            message,
            details,
            trigger_seq: 0,
        }
    }

    pub(crate) fn into_alert(self, webhook: bool) -> Alert {
        Alert {
            id: 0,
            time: crate::audit::now_rfc3339(),
            rule: self.rule,
            installation: self.installation,
            plugin: self.plugin,
            message: self.message,
            details: self.details,
            trigger_seq: self.trigger_seq,
            delivery: if webhook {
                Delivery::Pending
            } else {
                Delivery::None
            },
        }
    }
}

/// Counts per clock hour, with the hour already alerted on.
#[derive(Debug, Default)]
struct Hourly {
    counts: BTreeMap<i64, u64>,
    alerted: Option<i64>,
}

impl Hourly {
    /// The mean per hour over the trailing window before `hour`, once there is enough
    /// history (counted from the installation's first record).
    fn baseline(&self, hour: i64, first_hour: i64, c: &AlertConfig) -> Option<f64> {
        let start = first_hour.max(hour - c.baseline_hours as i64);
        let hours = hour - start;
        if hours < c.min_baseline_hours.max(1) as i64 {
            return None;
        }
        let sum: u64 = self.counts.range(start..hour).map(|(_, n)| n).sum();
        Some(sum as f64 / hours as f64)
    }

    fn prune(&mut self, hour: i64, c: &AlertConfig) {
        let keep_from = hour - c.baseline_hours as i64;
        self.counts = self.counts.split_off(&keep_from);
    }

    /// Returns (count, baseline) when this hour first crosses the threshold.
    fn check(
        &mut self,
        hour: i64,
        first_hour: i64,
        factor: f64,
        minimum: u64,
        c: &AlertConfig,
    ) -> Option<(u64, f64)> {
        let count = *self.counts.get(&hour).unwrap_or(&0);
        if self.alerted == Some(hour) || count < minimum {
            return None;
        }
        let baseline = self.baseline(hour, first_hour, c)?;
        if count as f64 > factor * baseline {
            self.alerted = Some(hour);
            return Some((count, baseline));
        }
        None
    }
}

/// One installation's rule state.
#[derive(Debug, Default)]
struct Installation {
    first_hour: Option<i64>,
    destinations: HashSet<String>,
    denials: VecDeque<i64>,
    denied_alerted_at: Option<i64>,
    reads: Hourly,
    requesters: Hourly,
    requesters_hour: i64,
    requesters_now: HashSet<String>,
}

/// The state of every rule, by installation.
#[derive(Debug, Default)]
pub(crate) struct RuleState {
    installations: HashMap<String, Installation>,
}

impl RuleState {
    /// Applies one record; pushes the alerts it raises when `emit` is set.
    pub(crate) fn apply(
        &mut self,
        c: &AlertConfig,
        r: &AuditRecord,
        emit: bool,
        out: &mut Vec<Draft>,
    ) {
        let e = &r.entry;
        // A call's intent is followed by its outcome record, which the rules judge.
        if e.installation.is_empty() || e.call == ALERT_CALL || crate::broker::is_intent(e) {
            return;
        }
        let Some(secs) = record_secs(&r.time) else {
            return;
        };
        let hour = secs.div_euclid(3600);
        let s = self
            .installations
            .entry(e.installation.clone())
            .or_default();
        let first_hour = *s.first_hour.get_or_insert(hour);
        let mut raise = |rule: Rule, message: String, details: Vec<(&str, String)>| {
            if emit {
                out.push(Draft {
                    rule,
                    installation: e.installation.clone(),
                    plugin: e.plugin.clone(),
                    message,
                    details: details
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    trigger_seq: r.seq,
                });
            }
        };

        // new-destination
        if e.call == EGRESS_CALL
            && e.decision == Some(Decision::Allow)
            && let Some(dest) = e.details.get(crate::egress::detail::DESTINATION)
            && s.destinations.insert(dest.clone())
            && c.new_destination
        {
            raise(
                Rule::NewDestination,
                format!("{} contacted {dest} for the first time", e.installation),
                vec![("destination", dest.clone())],
            );
        }

        // denied-burst (invocation failures are errors, not denied calls)
        if e.decision == Some(Decision::Deny) && e.call != OUTCOME_CALL {
            let window = c.denied_window_minutes as i64 * 60;
            s.denials.push_back(secs);
            while s.denials.front().is_some_and(|t| *t <= secs - window) {
                s.denials.pop_front();
            }
            while s.denials.len() > c.denied_calls as usize + 1 {
                s.denials.pop_front();
            }
            let cooled = s.denied_alerted_at.is_none_or(|t| secs - t >= window);
            if s.denials.len() > c.denied_calls as usize && cooled {
                s.denied_alerted_at = Some(secs);
                raise(
                    Rule::DeniedBurst,
                    format!(
                        "{} had more than {} denied calls within {} minutes",
                        e.installation, c.denied_calls, c.denied_window_minutes
                    ),
                    vec![
                        ("denied", s.denials.len().to_string()),
                        ("threshold", c.denied_calls.to_string()),
                        ("window_minutes", c.denied_window_minutes.to_string()),
                    ],
                );
            }
        }

        if e.decision != Some(Decision::Allow) || !is_read_call(&e.call) {
            return;
        }

        // restricted-read
        if c.restricted_read {
            let restricted: Vec<&String> = e
                .fields_returned
                .iter()
                .filter(|f| {
                    catalog::lookup(f).is_some_and(|s| s.sensitivity == Sensitivity::Restricted)
                })
                .collect();
            if !restricted.is_empty() {
                let fields = restricted
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                raise(
                    Rule::RestrictedRead,
                    format!(
                        "{} read restricted field(s) {fields} of {}",
                        e.installation, e.resource
                    ),
                    vec![("fields", fields.clone()), ("resource", e.resource.clone())],
                );
            }
        }

        // read-spike
        if !e.fields_returned.is_empty() {
            *s.reads.counts.entry(hour).or_default() += 1;
            s.reads.prune(hour, c);
            if let Some((count, baseline)) =
                s.reads
                    .check(hour, first_hour, c.read_factor, c.min_reads_per_hour, c)
            {
                raise(
                    Rule::ReadSpike,
                    format!(
                        "{} read {count} records this hour; its baseline is {baseline:.1} per hour",
                        e.installation
                    ),
                    vec![
                        ("reads", count.to_string()),
                        ("baseline_per_hour", format!("{baseline:.2}")),
                        ("factor", c.read_factor.to_string()),
                    ],
                );
            }
        }

        // requester-spike
        if resource_kind(&e.call) == "user" && is_read_call(&e.call) && !e.resource.is_empty() {
            if s.requesters_hour != hour {
                s.requesters_hour = hour;
                s.requesters_now.clear();
            }
            if s.requesters_now.insert(e.resource.clone()) {
                s.requesters
                    .counts
                    .insert(hour, s.requesters_now.len() as u64);
                s.requesters.prune(hour, c);
                if let Some((count, baseline)) = s.requesters.check(
                    hour,
                    first_hour,
                    c.requester_factor,
                    c.min_requesters_per_hour,
                    c,
                ) {
                    raise(
                        Rule::RequesterSpike,
                        format!(
                            "{} read {count} distinct users this hour; its baseline is {baseline:.1} per hour",
                            e.installation
                        ),
                        vec![
                            ("requesters", count.to_string()),
                            ("baseline_per_hour", format!("{baseline:.2}")),
                            ("factor", c.requester_factor.to_string()),
                        ],
                    );
                }
            }
        }
    }
}

/// Delivers alerts to the configured webhook from a background thread, so invocations
/// never wait on it; each alert's delivery outcome is stored with it.
pub(crate) struct Webhook {
    tx: mpsc::Sender<Alert>,
}

impl Webhook {
    pub(crate) fn spawn(url: String, store: Arc<dyn MonitorStore>) -> Webhook {
        let (tx, rx) = mpsc::channel::<Alert>();
        std::thread::Builder::new()
            .name("airlock-alert-webhook".into())
            .spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(std::time::Duration::from_secs(5)))
                    .http_status_as_error(false)
                    .build()
                    .into();
                for alert in rx {
                    let outcome = deliver(&agent, &url, &alert);
                    if let Err(problem) = &outcome {
                        tracing::warn!(alert = alert.id, %problem, "alert webhook delivery failed");
                    }
                    let status = match outcome {
                        Ok(()) => Delivery::Delivered,
                        Err(problem) => Delivery::Failed(problem),
                    };
                    if let Err(e) = store.set_alert_delivery(alert.id, &status) {
                        tracing::warn!(error = %e, "cannot record alert delivery");
                    }
                }
            })
            .expect("spawning the webhook thread");
        Webhook { tx }
    }

    pub(crate) fn send(&self, alert: Alert) {
        let _ = self.tx.send(alert);
    }
}

/// POSTs one alert, retrying twice on failure.
fn deliver(agent: &ureq::Agent, url: &str, alert: &Alert) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..3u64 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(500 * attempt));
        }
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send_json(serde_json::json!({"alert": alert}))
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
