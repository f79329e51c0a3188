//! Service configuration: an optional TOML file, overridden by environment variables.

use crate::api::server::ServerLimits;
use crate::blobs::DataDir;
use crate::runtime::RuntimeLimits;
use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The file in the data directory that holds a generated admin token.
pub const TOKEN_FILE: &str = "admin-token";

/// What `--config <file.toml>` may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The admin bearer token (prefer the `AIRLOCK_ADMIN_TOKEN` environment variable).
    pub admin_token: Option<String>,
    /// The longest deadline a manifest may ask for, in ms.
    pub max_timeout_ms: Option<u64>,
    /// The largest memory cap a manifest may ask for, in MiB.
    pub max_memory_mib: Option<u64>,
    /// Invocations running at once (default 64): the worker pool's size.
    pub max_concurrent_instances: Option<u32>,
    /// Events that may wait for a worker before the API answers `503` (default 8 per
    /// worker).
    pub event_queue: Option<usize>,
    /// Connections served at once (default: what the file-descriptor limit leaves room
    /// for); past it, health is still answered and the rest get `503`.
    pub max_connections: Option<usize>,
    /// The time a client has to send a request's head, in ms (default 10,000).
    pub header_timeout_ms: Option<u64>,
    /// The time a client has to send a request's body after its head, in ms (default
    /// 30,000).
    pub body_timeout_ms: Option<u64>,
    /// Dev mode: plugins may send plain http to loopback addresses (also `serve --dev`).
    pub dev_mode: Option<bool>,
    /// The largest outbound request (URL, headers, body), in bytes.
    pub egress_max_request_bytes: Option<usize>,
    /// The largest outbound response body, in bytes.
    pub egress_max_response_bytes: Option<usize>,
    /// The deadline of one outbound request, in ms.
    pub egress_timeout_ms: Option<u64>,
    /// Outbound requests per installation per minute.
    pub egress_rate_per_minute: Option<u32>,
    /// Redirects followed at most (each to an approved destination).
    pub egress_max_redirects: Option<u32>,
    /// What to do with data a destination may not receive: `block` (default) or `mask`.
    pub egress_dlp: Option<crate::egress::DlpAction>,
    /// A token that may read `GET /metrics` besides the admin token (for a scraper).
    pub metrics_token: Option<String>,
    /// `[alerts]`: thresholds and the webhook (see [`crate::monitor::AlertConfig`]).
    pub alerts: Option<crate::monitor::AlertConfig>,
    /// `[redaction]`: detectors, masks per class and the allow-list (see
    /// [`crate::redaction::RedactionConfig`]).
    pub redaction: Option<crate::redaction::RedactionConfig>,
    /// Sign an audit checkpoint after this many new records (default 1000).
    pub checkpoint_every: Option<u64>,
    /// Delete audit records older than this many days (default: keep forever).
    pub audit_retention_days: Option<u64>,
}

impl Config {
    /// Reads the config file, if one is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))
    }

    /// The runtime's admin limits.
    pub fn limits(&self) -> RuntimeLimits {
        let d = RuntimeLimits::default();
        RuntimeLimits {
            max_timeout_ms: self.max_timeout_ms.unwrap_or(d.max_timeout_ms),
            max_memory_mib: self.max_memory_mib.unwrap_or(d.max_memory_mib),
            max_concurrent_instances: self
                .max_concurrent_instances
                .unwrap_or(d.max_concurrent_instances)
                .max(1),
        }
    }

    /// What the listener bounds: these keys over [`ServerLimits::default`].
    pub fn server_limits(&self) -> ServerLimits {
        let d = ServerLimits::default();
        let ms = |v: Option<u64>, d| v.map(std::time::Duration::from_millis).unwrap_or(d);
        ServerLimits {
            max_connections: self.max_connections.unwrap_or(d.max_connections).max(1),
            header_timeout: ms(self.header_timeout_ms, d.header_timeout),
            body_timeout: ms(self.body_timeout_ms, d.body_timeout),
        }
    }

    /// The egress settings: these keys over the defaults.
    pub fn egress(&self) -> crate::egress::EgressConfig {
        let d = crate::egress::EgressConfig::default();
        crate::egress::EgressConfig {
            dev_mode: self.dev_mode.unwrap_or(d.dev_mode),
            max_request_bytes: self.egress_max_request_bytes.unwrap_or(d.max_request_bytes),
            max_response_bytes: self
                .egress_max_response_bytes
                .unwrap_or(d.max_response_bytes),
            timeout: self
                .egress_timeout_ms
                .map(std::time::Duration::from_millis)
                .unwrap_or(d.timeout),
            rate_per_minute: self.egress_rate_per_minute.unwrap_or(d.rate_per_minute),
            max_redirects: self.egress_max_redirects.unwrap_or(d.max_redirects),
            dlp: self.egress_dlp.unwrap_or(d.dlp),
        }
    }

    /// Options to open the service with: limits and egress settings from this file.
    pub fn options(&self) -> crate::app::Options {
        crate::app::Options {
            limits: self.limits(),
            egress: self.egress(),
            alerts: self.alerts.clone().unwrap_or_default(),
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
            redaction_config: self.redaction.clone().unwrap_or_default(),
            checkpoint_every: self.checkpoint_every.unwrap_or(1000),
            event_queue: self.event_queue,
            ..crate::app::Options::default()
        }
    }

    /// The listen address.
    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"))
    }

    /// The admin token: `AIRLOCK_ADMIN_TOKEN`, the config file, or the one saved in the
    /// data directory; generated and saved on first start. Returns (token, generated).
    pub fn admin_token(&self, data: &DataDir) -> anyhow::Result<(String, bool)> {
        let from_env = std::env::var("AIRLOCK_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        if let Some(token) = from_env.or_else(|| self.admin_token.clone()) {
            anyhow::ensure!(
                token.len() >= 16,
                "the admin token must be at least 16 characters"
            );
            return Ok((token, false));
        }
        if let Some(saved) = data.read_text(TOKEN_FILE) {
            return Ok((saved.trim().to_string(), false));
        }
        let token = format!("alk_{}", hex::encode(rand::random::<[u8; 24]>()));
        data.write_secret(TOKEN_FILE, &token)?;
        Ok((token, true))
    }
}
