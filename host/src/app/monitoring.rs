//! The monitoring facade: counters, alerts, exports and reviews, as the API and the CLI
//! ask for them.

use super::{Airlock, AppResult};
use crate::audit::AuditFilter;
use crate::monitor::{
    Alert, AlertQuery, BlastRadius, BlastRadiusQuery, Counters, DataMap, ExportFormat,
    UnusedGrants, normalize_time,
};

impl Airlock {
    /// Rebuilds the monitor from the audit log now (at service start).
    pub fn warm_monitor(&self) -> AppResult<()> {
        Ok(self.monitor().warm()?)
    }

    /// Every installation's counters.
    pub fn activity(&self) -> AppResult<Counters> {
        Ok(self.monitor().counters()?)
    }

    /// The counters in Prometheus text format.
    pub fn metrics_text(&self) -> AppResult<String> {
        Ok(self.monitor().counters()?.prometheus())
    }

    /// Stored alerts.
    pub fn alerts(&self, query: &AlertQuery) -> AppResult<Vec<Alert>> {
        let mut query = query.clone();
        if let Some(since) = &query.since {
            query.since = Some(normalize_time("since", since)?);
        }
        self.monitor().sync()?;
        Ok(self.monitor().store().alerts(&query)?)
    }

    /// Streams the audit records matching `filter` to `sink`; returns the row count.
    pub fn export_audit(
        &self,
        filter: &AuditFilter,
        format: ExportFormat,
        sink: &mut dyn std::io::Write,
    ) -> AppResult<u64> {
        Ok(self.monitor().export(filter, format, sink)?)
    }

    /// An installation's last log lines on this host, oldest first (at most
    /// [`logs::KEPT_PER_INSTALLATION`](super::logs::KEPT_PER_INSTALLATION)).
    pub fn recent_logs(&self, installation: &str) -> Vec<super::KeptLine> {
        self.recent_logs.of(installation)
    }

    /// The blast-radius report of an installation or plugin in a time window.
    pub fn blast_radius(&self, query: &BlastRadiusQuery) -> AppResult<BlastRadius> {
        Ok(self.monitor().blast_radius(query)?)
    }

    /// Grants unused in the last `days` days, per installation.
    pub fn unused_grants(
        &self,
        days: u32,
        installation: Option<&str>,
    ) -> AppResult<Vec<UnusedGrants>> {
        Ok(self.monitor().unused_grants(days, installation)?)
    }

    /// Which plugin can read or write which field and send which data where.
    pub fn data_map(&self) -> AppResult<DataMap> {
        Ok(self.monitor().data_map()?)
    }
}
