//! Vendor activity monitoring: counters, alerts, audit exports, blast-radius reports and
//! access reviews, all computed from the audit log.
//!
//! The [`Monitor`] keeps per-installation [counters](metrics) and the state of the
//! [alert rules](alerts) in memory. It is fed each invocation's sealed audit records
//! ([`Monitor::observe`]) and rebuilt from the log on first use (the service warms it at
//! startup), so a restart loses nothing: the log is the only source of truth.
//!
//! Records are applied in sequence order exactly once. Concurrent invocations finish in
//! any order, so records that do not follow the last applied one wait in a reorder
//! buffer until the gap before them is filled; a gap no batch fills (records another
//! process appended) is filled from the store ([`Monitor::catch_up_stalled`], or when the
//! buffer passes [`MAX_PENDING`] records).
//!
//! Like the audit log, everything here names installations, fields, ids, destinations and
//! counts, never helpdesk values.

pub mod alerts;
mod error;
pub mod export;
pub mod metrics;
pub mod report;
pub mod review;

pub use airlock_core::alert::{Alert, AlertQuery, Delivery, Rule};
pub use alerts::AlertConfig;
pub use export::ExportFormat;
pub use metrics::{Counters, InstallationCounters};
pub use report::{BlastRadius, BlastRadiusQuery};
pub use review::{DataMap, GrantUse, UnusedGrants};

use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::capability::CallKind;
use crate::model::Kind;
use crate::store::{AlertStore, AuditStore, InstallationStore};
pub use error::{MonitorError, MonitorResult};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The call of an egress record (details: `destination`, `method`, `path`, `status`,
/// `bytes_out`, `bytes_in`, `classes`).
pub use crate::capability::http::CALL as EGRESS_CALL;
/// The call of an invocation's outcome record (`ok` or `<kind>: message`).
pub use crate::runtime::OUTCOME_CALL;
/// The call of the audit record appended for each alert.
pub const ALERT_CALL: &str = "alert.raised";

/// How many records one page of a scan or export reads (keyset pagination by `seq`).
pub const PAGE: u32 = 1_000;

/// True for calls that read helpdesk records (pre-fetch, get, list, search), as the
/// capabilities declare their calls.
pub fn is_read_call(call: &str) -> bool {
    crate::capability::call_kind(call) == Some(CallKind::Read)
}

/// True for calls that write a helpdesk field.
pub fn is_write_call(call: &str) -> bool {
    crate::capability::call_kind(call) == Some(CallKind::Write)
}

/// The record kind a data call touches: `ticket`, `user`, `organization` or `comment`
/// (searches select tickets; comment lists name their ticket).
pub fn resource_kind(call: &str) -> &'static str {
    match crate::capability::call(call).and_then(|c| c.record) {
        Some(Kind::User) => "user",
        Some(Kind::Organization) => "organization",
        Some(Kind::Comment) => "comment",
        Some(Kind::Ticket) | None => "ticket",
    }
}

/// A record's time as Unix seconds (`None` if it is not RFC 3339).
pub fn record_secs(time: &str) -> Option<i64> {
    time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Rewrites an RFC 3339 time in the audit log's own format (UTC, milliseconds), so that
/// text comparison in the store orders it correctly; refuses anything else.
pub fn normalize_time(what: &str, text: &str) -> MonitorResult<String> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            MonitorError::Invalid(format!(
                "`{what}` must be an RFC 3339 time such as 2026-01-31T09:00:00Z"
            ))
        })?;
    Ok(format_time(parsed))
}

/// Formats a time like the audit log does: `2026-01-31T09:00:00.000Z`.
pub fn format_time(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .expect("formatting a UTC time cannot fail")
}

/// Checks and normalizes a filter's times.
pub fn normalize_filter(filter: &mut AuditFilter) -> MonitorResult<()> {
    if let Some(since) = &filter.since {
        filter.since = Some(normalize_time("since", since)?);
    }
    if let Some(until) = &filter.until {
        filter.until = Some(normalize_time("until", until)?);
    }
    Ok(())
}

/// The most records the reorder buffer holds before the monitor fills the gap from the
/// store instead.
pub const MAX_PENDING: usize = 16_384;

/// What the monitor needs from storage.
pub trait MonitorStore: AuditStore + AlertStore + InstallationStore {}

impl<T: AuditStore + AlertStore + InstallationStore> MonitorStore for T {}

/// The live state: counters and rule state, up to `last_seq`.
struct State {
    last_seq: u64,
    counters: Counters,
    rules: alerts::RuleState,
    /// Records after a gap, by sequence number, waiting for the gap to be filled.
    pending: std::collections::BTreeMap<u64, AuditRecord>,
}

impl State {
    /// Applies one record, the next after the last applied; alerts it triggers are
    /// drafted when `raise` (history only updates the rule state).
    fn apply(
        &mut self,
        config: &AlertConfig,
        record: &AuditRecord,
        raise: bool,
        drafts: &mut Vec<alerts::Draft>,
    ) {
        // Admin and sign-in records are not a plugin's activity.
        if !record.entry.is_host() {
            self.counters.apply(record);
            self.rules.apply(config, record, raise, drafts);
        }
        self.last_seq = record.seq;
    }

    /// Applies the pending records that follow the last applied one.
    fn apply_contiguous(&mut self, config: &AlertConfig, drafts: &mut Vec<alerts::Draft>) {
        while let Some(record) = self.pending.remove(&(self.last_seq + 1)) {
            self.apply(config, &record, true, drafts);
        }
    }
}

/// Counters and alert rules, fed from the audit log.
pub struct Monitor {
    store: Arc<dyn MonitorStore>,
    config: AlertConfig,
    state: Mutex<Option<State>>,
    webhook: Option<alerts::Webhook>,
}

impl Monitor {
    /// A monitor over a store; nothing is read until first use.
    pub fn new(store: Arc<dyn MonitorStore>, config: AlertConfig) -> Monitor {
        let webhook = config
            .webhook
            .clone()
            .filter(|u| !u.is_empty())
            .map(|url| alerts::Webhook::spawn(url, store.clone()));
        Monitor {
            store,
            config,
            state: Mutex::new(None),
            webhook,
        }
    }

    /// The alert thresholds in force.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// The store the monitor reads.
    pub fn store(&self) -> &dyn MonitorStore {
        self.store.as_ref()
    }

    /// Rebuilds the counters and rule state from the audit log now (the service calls
    /// this at startup); later calls only catch up.
    pub fn warm(&self) -> MonitorResult<()> {
        let mut state = self.lock();
        self.ensure(&mut state, u64::MAX)?;
        let state = state.as_mut().expect("ensured");
        let mut drafts = Vec::new();
        self.catch_up(state, &mut drafts)?;
        self.raise(state, drafts).map(|_| ())
    }

    fn lock(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds the state from the log if not built yet. Records up to `quiet_through`
    /// update the rule state without raising alerts (they are history).
    fn ensure(&self, state: &mut Option<State>, quiet_through: u64) -> MonitorResult<()> {
        if state.is_some() {
            return Ok(());
        }
        let mut built = State {
            last_seq: 0,
            counters: Counters::default(),
            rules: alerts::RuleState::default(),
            pending: Default::default(),
        };
        let mut ignored = Vec::new();
        self.page_through(built.last_seq, quiet_through, &mut |r| {
            built.apply(&self.config, r, false, &mut ignored)
        })?;
        *state = Some(built);
        Ok(())
    }

    /// Visits records after `after` up to `through`, a page at a time.
    fn page_through(
        &self,
        mut after: u64,
        through: u64,
        visit: &mut dyn FnMut(&AuditRecord),
    ) -> MonitorResult<()> {
        loop {
            let page = self.store.query(&AuditFilter {
                after_seq: Some(after),
                limit: Some(PAGE),
                ..Default::default()
            })?;
            let full = page.len() == PAGE as usize;
            for r in &page {
                if r.seq > through {
                    return Ok(());
                }
                visit(r);
                after = r.seq;
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn catch_up(&self, state: &mut State, drafts: &mut Vec<alerts::Draft>) -> MonitorResult<()> {
        let config = &self.config;
        self.page_through(state.last_seq, u64::MAX, &mut |r| {
            state.apply(config, r, true, drafts)
        })?;
        // What waited is now applied from the store; anything after it still waits.
        state.pending = state.pending.split_off(&(state.last_seq + 1));
        state.apply_contiguous(config, drafts);
        Ok(())
    }

    /// Applies sealed records to the counters and rules, each exactly once and in
    /// sequence order, raising any alerts they trigger. Records may come in any order
    /// and in several calls; those already applied are ignored. Returns the alerts raised.
    pub fn observe(&self, records: &[AuditRecord]) -> MonitorResult<Vec<Alert>> {
        let Some(first) = records.first() else {
            return Ok(Vec::new());
        };
        let mut guard = self.lock();
        self.ensure(&mut guard, first.seq.saturating_sub(1))?;
        let state = guard.as_mut().expect("ensured");
        let mut drafts = Vec::new();
        self.accept(state, records, &mut drafts);
        if state.pending.len() > MAX_PENDING {
            self.catch_up(state, &mut drafts)?;
        }
        self.raise(state, drafts)
    }

    /// Applies the next record at once, and whatever waited behind it; one after a gap
    /// waits; one already applied is ignored.
    fn accept(&self, state: &mut State, records: &[AuditRecord], drafts: &mut Vec<alerts::Draft>) {
        for r in records {
            if r.seq == state.last_seq + 1 {
                state.apply(&self.config, r, true, drafts);
                state.apply_contiguous(&self.config, drafts);
            } else if r.seq > state.last_seq {
                state.pending.insert(r.seq, r.clone());
            }
        }
    }

    /// Fills a gap that records wait behind from the store: for records appended where
    /// the monitor does not see them (another process). True if records were waiting.
    pub fn catch_up_stalled(&self) -> MonitorResult<bool> {
        let mut guard = self.lock();
        match guard.as_mut() {
            Some(state) if !state.pending.is_empty() => {
                let mut drafts = Vec::new();
                self.catch_up(state, &mut drafts)?;
                self.raise(state, drafts)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Raises an alert the host decided on itself (not from a record) about
    /// `installation` (`airlock` for the host): stored, audited, counted and sent to the
    /// webhook like every other alert.
    pub fn raise_alert(
        &self,
        rule: airlock_core::alert::Rule,
        (installation, plugin): (&str, &str),
        message: String,
        details: BTreeMap<String, String>,
    ) -> MonitorResult<Alert> {
        let draft =
            alerts::Draft::direct(rule, installation.into(), plugin.into(), message, details);
        let mut guard = self.lock();
        let raised = match guard.as_mut() {
            Some(state) => self.raise(state, vec![draft])?,
            // Not built yet: building reads the alert's record from the log.
            None => self.store_alerts(vec![draft])?.0,
        };
        Ok(raised
            .into_iter()
            .next()
            .expect("one draft raises one alert"))
    }

    /// Stores the alerts drafted and applies their records, all under the state's lock:
    /// a reader that catches up under that lock then finds every alert that the records
    /// applied so far raised, never one still on its way to the store.
    fn raise(
        &self,
        state: &mut State,
        mut drafts: Vec<alerts::Draft>,
    ) -> MonitorResult<Vec<Alert>> {
        let mut raised = Vec::new();
        while !drafts.is_empty() {
            let (alerts, records) = self.store_alerts(std::mem::take(&mut drafts))?;
            raised.extend(alerts);
            // Alert records raise no alerts, but they may fill a gap records wait behind.
            self.accept(state, &records, &mut drafts);
        }
        Ok(raised)
    }

    /// Stores alerts, audits them, counts them and hands them to the webhook.
    /// Returns the alerts and their audit records.
    fn store_alerts(
        &self,
        drafts: Vec<alerts::Draft>,
    ) -> MonitorResult<(Vec<Alert>, Vec<AuditRecord>)> {
        let mut raised = Vec::with_capacity(drafts.len());
        let mut entries = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let mut alert = draft.into_alert(self.webhook.is_some());
            alert.id = self.store.put_alert(&alert)?;
            tracing::warn!(alert = alert.id, rule = %alert.rule, installation = %alert.installation, "alert raised");
            entries.push(AuditEntry {
                installation: alert.installation.clone(),
                plugin: alert.plugin.clone(),
                call: ALERT_CALL.into(),
                reason: alert.rule.to_string(),
                details: [
                    ("alert_id".to_string(), alert.id.to_string()),
                    ("rule".to_string(), alert.rule.to_string()),
                    ("trigger_seq".to_string(), alert.trigger_seq.to_string()),
                ]
                .into(),
                ..Default::default()
            });
            raised.push(alert);
        }
        let records = self.store.append(entries)?;
        if let Some(webhook) = &self.webhook {
            for alert in &raised {
                webhook.send(alert.clone());
            }
        }
        Ok((raised, records))
    }

    /// A snapshot of every installation's counters (caught up with the log).
    pub fn counters(&self) -> MonitorResult<Counters> {
        self.synced(|state| state.counters.clone())
    }

    /// Catches up with the log, so that every record appended so far has been applied
    /// and its alerts raised (readers of alerts call this first).
    pub fn sync(&self) -> MonitorResult<()> {
        self.synced(|_| ())
    }

    fn synced<T>(&self, read: impl FnOnce(&State) -> T) -> MonitorResult<T> {
        let mut guard = self.lock();
        self.ensure(&mut guard, u64::MAX)?;
        let state = guard.as_mut().expect("ensured");
        let mut drafts = Vec::new();
        self.catch_up(state, &mut drafts)?;
        self.raise(state, drafts)?;
        Ok(read(state))
    }

    /// Destinations each installation has contacted, from the rule state.
    pub fn destinations(&self, installation: &str) -> MonitorResult<Vec<String>> {
        let counters = self.counters()?;
        Ok(counters
            .installations
            .get(installation)
            .map(|c| c.egress.keys().cloned().collect())
            .unwrap_or_default())
    }
}
