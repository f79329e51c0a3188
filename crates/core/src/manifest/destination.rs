//! `[[egress]]` destinations: `scheme://host[:port]` with at most one leading `*.`
//! label, and how a request URL is matched against them.

use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// The host part of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this DNS name (lowercase, ASCII).
    Name(String),
    /// Any name with exactly one more label in front of this suffix (`*.example.com`).
    Wildcard(String),
    /// This IP address, named explicitly.
    Ip(IpAddr),
}

/// A parsed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `https` or `http`.
    pub scheme: String,
    /// The host.
    pub host: HostPattern,
    /// The port (the scheme's default when none is written).
    pub port: u16,
}

impl Destination {
    /// Parses `scheme://host[:port]`. Only `https` and `http` are accepted; `http` only
    /// for a loopback IP address (usable in dev mode).
    ///
    /// ```
    /// use airlock_core::manifest::destination::Destination;
    /// let d = Destination::parse("HTTPS://*.Slack.com:443").unwrap();
    /// assert_eq!(d.to_string(), "https://*.slack.com");
    /// assert!(Destination::parse("https://*.*.example.com").is_err());
    /// assert!(Destination::parse("http://example.com").is_err());
    /// assert!(Destination::parse("http://127.0.0.1:8080").is_ok());
    /// ```
    pub fn parse(text: &str) -> Result<Destination, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}` is not scheme://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!(
                "`{text}`: only https destinations are allowed (http only to loopback, in dev mode)"
            ));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', '\\']) || rest.contains('%') {
            return Err(format!(
                "`{text}` must be only scheme://host[:port], without user, path or query"
            ));
        }
        let (wildcard, rest) = match rest.strip_prefix("*.") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.contains('*') {
            return Err(format!(
                "`{text}`: only one leading `*.` label may be a wildcard"
            ));
        }
        let url = Url::parse(&format!("{scheme}://{rest}/"))
            .map_err(|e| format!("`{text}` is not a valid destination: {e}"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("`{text}` has no port"))?;
        let host = match url.host() {
            Some(Host::Domain(d)) if wildcard => {
                if !d.contains('.') {
                    return Err(format!(
                        "`{text}`: a wildcard needs at least two labels after `*.`"
                    ));
                }
                HostPattern::Wildcard(d.to_string())
            }
            Some(Host::Domain(d)) => HostPattern::Name(d.trim_end_matches('.').to_string()),
            Some(_) if wildcard => {
                return Err(format!("`{text}`: an IP address cannot have a wildcard"));
            }
            Some(Host::Ipv4(ip)) => HostPattern::Ip(ip.into()),
            Some(Host::Ipv6(ip)) => HostPattern::Ip(ip.into()),
            None => return Err(format!("`{text}` has no host")),
        };
        let d = Destination { scheme, host, port };
        if d.scheme == "http" && !d.is_loopback_ip() {
            return Err(format!(
                "`{text}`: plain http is allowed only to a loopback IP address (127.0.0.1, ::1), and only in dev mode; use https"
            ));
        }
        Ok(d)
    }

    /// True when the host is a loopback IP address.
    pub fn is_loopback_ip(&self) -> bool {
        matches!(self.host, HostPattern::Ip(ip) if crate::addr::is_loopback(ip))
    }

    /// The destination a concrete URL goes to (never a wildcard), if it is http(s).
    ///
    /// ```
    /// use airlock_core::manifest::destination::Destination;
    /// let url = url::Url::parse("https://Hooks.Slack.com/services/x?y=1").unwrap();
    /// assert_eq!(Destination::of_url(&url).unwrap().to_string(), "https://hooks.slack.com");
    /// ```
    pub fn of_url(url: &Url) -> Option<Destination> {
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return None;
        }
        let host = match url.host()? {
            Host::Domain(d) => HostPattern::Name(d.trim_end_matches('.').to_ascii_lowercase()),
            Host::Ipv4(ip) => HostPattern::Ip(ip.into()),
            Host::Ipv6(ip) => HostPattern::Ip(ip.into()),
        };
        Some(Destination {
            scheme: scheme.to_string(),
            host,
            port: url.port_or_known_default()?,
        })
    }

    /// True when a concrete destination (from [`Destination::of_url`]) is covered by
    /// this pattern: same scheme, port and host; `*.` matches exactly one label.
    ///
    /// ```
    /// use airlock_core::manifest::destination::Destination;
    /// let pattern = Destination::parse("https://*.example.com").unwrap();
    /// let d = |s: &str| Destination::parse(s).unwrap();
    /// assert!(pattern.covers(&d("https://api.example.com")));
    /// assert!(!pattern.covers(&d("https://example.com")));
    /// assert!(!pattern.covers(&d("https://a.b.example.com")));
    /// assert!(!pattern.covers(&d("https://api.example.com:8443")));
    /// ```
    pub fn covers(&self, concrete: &Destination) -> bool {
        if self.scheme != concrete.scheme || self.port != concrete.port {
            return false;
        }
        match (&self.host, &concrete.host) {
            (HostPattern::Name(a), HostPattern::Name(b)) => a == b,
            (HostPattern::Wildcard(suffix), HostPattern::Name(b)) => b
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            (HostPattern::Ip(a), HostPattern::Ip(b)) => a == b,
            _ => false,
        }
    }

    fn default_port(&self) -> u16 {
        if self.scheme == "https" { 443 } else { 80 }
    }
}

impl fmt::Display for Destination {
    /// The canonical form: lowercase, IPv6 in brackets, the default port left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        match &self.host {
            HostPattern::Name(n) => write!(f, "{n}")?,
            HostPattern::Wildcard(s) => write!(f, "*.{s}")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if self.port != self.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// The canonical form of a destination string, or why it is not one.
///
/// ```
/// assert_eq!(airlock_core::manifest::destination::canonical("https://API.example.com:443/").unwrap(), "https://api.example.com");
/// ```
pub fn canonical(text: &str) -> Result<String, String> {
    Destination::parse(text).map(|d| d.to_string())
}

/// True when `path` is `prefix` or lies under it (at a `/`, `?` boundary when the prefix
/// does not end in `/`).
///
/// ```
/// use airlock_core::manifest::destination::path_allowed;
/// assert!(path_allowed("/v1/contacts", "/v1/contacts/9"));
/// assert!(path_allowed("/v1/", "/v1/x"));
/// assert!(!path_allowed("/v1/contacts", "/v1/contactsX"));
/// assert!(path_allowed("/", "/anything"));
/// ```
pub fn path_allowed(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_destinations_are_refused() {
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://user@example.com",
            "https://example.com/path",
            "https://*.com",
            "https://a.*.example.com",
            "https://*.127.0.0.1",
            "http://10.0.0.1",
            "http://localhost",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical("https://[::1]:8443").unwrap(),
            "https://[::1]:8443"
        );
        assert_eq!(
            canonical("http://127.0.0.1:80").unwrap(),
            "http://127.0.0.1"
        );
        assert_eq!(
            canonical("https://Example.COM.").unwrap(),
            "https://example.com"
        );
    }

    #[test]
    fn ip_destinations_match_only_the_same_address() {
        let p = Destination::parse("http://127.0.0.1:9000").unwrap();
        let u = |s: &str| Destination::of_url(&Url::parse(s).unwrap()).unwrap();
        assert!(p.covers(&u("http://127.0.0.1:9000/x")));
        assert!(!p.covers(&u("http://127.0.0.2:9000/x")));
        assert!(!p.covers(&u("https://127.0.0.1:9000/x")));
        assert!(!p.covers(&u("http://localhost:9000/x")));
    }
}
