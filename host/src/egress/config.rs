//! The admin's egress settings, the request limits, and how host names resolve.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

pub use airlock_core::manifest::rules::METHODS;
/// Headers the host sets itself; a plugin may not.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-authorization",
    "proxy-connection",
];
/// The longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// The most request headers accepted.
pub const MAX_REQUEST_HEADERS: usize = 64;

/// What to do with data a destination may not receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DlpAction {
    /// Refuse the request (the default).
    #[default]
    Block,
    /// Mask what was found and send the rest. Encoded or re-spaced copies cannot be
    /// masked reliably, so those requests are still refused.
    Mask,
}

/// The admin's egress settings.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Dev mode: plain http is allowed, to loopback addresses only.
    pub dev_mode: bool,
    /// The largest request (URL, headers and body), in bytes.
    pub max_request_bytes: usize,
    /// The largest response body, in bytes.
    pub max_response_bytes: usize,
    /// The deadline of one request, connect to last byte, per hop.
    pub timeout: Duration,
    /// Requests per installation per minute.
    pub rate_per_minute: u32,
    /// Redirects followed at most (each to an allowed destination).
    pub max_redirects: u32,
    /// Block or mask unapproved data.
    pub dlp: DlpAction,
}

impl Default for EgressConfig {
    fn default() -> Self {
        EgressConfig {
            dev_mode: false,
            max_request_bytes: 1 << 20,
            max_response_bytes: 4 << 20,
            timeout: Duration::from_secs(10),
            rate_per_minute: 60,
            max_redirects: 3,
            dlp: DlpAction::Block,
        }
    }
}

/// Resolves host names; injectable so tests can point a name at any address.
pub trait Resolve: Send + Sync {
    /// Every address `host` resolves to.
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// A fixed table of names (tests); other names do not resolve.
///
/// ```
/// use airlock_host::egress::{Resolve, StaticResolver};
/// let r = StaticResolver::new([("rebind.test", "127.0.0.1")]);
/// assert_eq!(r.resolve("rebind.test", 443).unwrap(), vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
/// assert!(r.resolve("other.test", 443).is_err());
/// ```
pub struct StaticResolver(BTreeMap<String, Vec<IpAddr>>);

impl StaticResolver {
    /// A table from (name, address) pairs.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> StaticResolver {
        let mut map: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for (name, ip) in entries {
            map.entry(name.to_ascii_lowercase())
                .or_default()
                .push(ip.parse().expect("StaticResolver takes IP addresses"));
        }
        StaticResolver(map)
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        self.0
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "unknown name"))
    }
}
