//! Service configuration: an optional TOML file, overridden by environment variables.

use crate::api::server::ServerLimits;
use crate::runtime::RuntimeLimits;
use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What `--config <file.toml>` may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The break-glass admin token (prefer the `AIRLOCK_ADMIN_TOKEN` environment
    /// variable): an admin credential outside the accounts, every use of it audited.
    /// Leave it unset in production.
    pub admin_token: Option<String>,
    /// A PEM certificate chain: with `tls_key`, the service listens with TLS.
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key for `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// Admins and auditors must enrol TOTP (default true).
    pub require_mfa: Option<bool>,
    /// Consecutive failed sign-ins that lock an account (default 5).
    pub lockout_after: Option<u32>,
    /// Minutes a locked account stays locked (default 15).
    pub lockout_minutes: Option<u32>,
    /// Hours a session lives (default 12).
    pub session_hours: Option<u32>,
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
    /// `[retention]`: how long closed tickets, orphan users, kv entries and alerts are
    /// kept (see [`crate::app::retention::RetentionPolicy`]); nothing is deleted unless set.
    pub retention: Option<crate::app::retention::RetentionPolicy>,
    /// An access review is due this many days after the last sign-off (default 90); an
    /// overdue review raises `review-overdue`.
    pub review_interval_days: Option<u32>,
    /// Apply a plugin upgrade that asks for nothing more than the running version at
    /// once, without waiting for approval (default false). Upgrades asking for more
    /// always wait.
    pub auto_apply_reductions: Option<bool>,
    /// A vendor's security review is due this many days after the last one (default
    /// 365); an overdue one raises `vendor-review-overdue`.
    pub vendor_review_days: Option<u32>,
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
            accounts: self.accounts(),
            redaction_config: self.redaction.clone().unwrap_or_default(),
            checkpoint_every: self.checkpoint_every.unwrap_or(1000),
            event_queue: self.event_queue,
            review_interval_days: self.review_interval_days.unwrap_or(90),
            auto_apply_reductions: self.auto_apply_reductions.unwrap_or(false),
            vendor_review_days: self.vendor_review_days.unwrap_or(365),
            ..crate::app::Options::default()
        }
    }

    /// The listen address.
    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"))
    }

    /// The sign-in rules: these keys over [`crate::access::AccountPolicy::default`].
    pub fn accounts(&self) -> crate::access::AccountPolicy {
        let d = crate::access::AccountPolicy::default();
        crate::access::AccountPolicy {
            require_mfa: self.require_mfa.unwrap_or(d.require_mfa),
            lockout_after: self.lockout_after.unwrap_or(d.lockout_after).max(1),
            lockout_for: self
                .lockout_minutes
                .map(|m| time::Duration::minutes(m as i64))
                .unwrap_or(d.lockout_for),
            session_lifetime: self
                .session_hours
                .map(|h| time::Duration::hours(h.max(1) as i64))
                .unwrap_or(d.session_lifetime),
            ..d
        }
    }

    /// The break-glass token, `AIRLOCK_ADMIN_TOKEN` or `admin_token`, when one is set.
    pub fn break_glass_token(&self) -> anyhow::Result<Option<String>> {
        let from_env = std::env::var("AIRLOCK_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        let Some(token) = from_env.or_else(|| self.admin_token.clone().filter(|t| !t.is_empty()))
        else {
            return Ok(None);
        };
        anyhow::ensure!(
            token.len() >= 16,
            "the break-glass admin token (AIRLOCK_ADMIN_TOKEN or admin_token) must be at least 16 characters"
        );
        Ok(Some(token))
    }

    /// The TLS acceptor, when `tls_cert` and `tls_key` are both set.
    pub fn tls(&self) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(crate::api::server::tls_acceptor(cert, key)?)),
            (None, None) => Ok(None),
            _ => anyhow::bail!("set both tls_cert and tls_key, or neither"),
        }
    }
}
