//! Service configuration: an optional TOML file, overridden by environment variables.

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
            ..d
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
        data.write_text(TOKEN_FILE, &token)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                data.path().join(TOKEN_FILE),
                std::fs::Permissions::from_mode(0o600),
            );
        }
        Ok((token, true))
    }
}
