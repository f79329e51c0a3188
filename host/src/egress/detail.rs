//! The facts an outbound request's audit record holds, by key. Egress writes them as it
//! decides; the monitor reads them back with [`EgressDetail::read`], so the keys and
//! their formats are written down once.

use std::collections::{BTreeMap, BTreeSet};

/// The destination, as declared in plugin.toml, or "an undeclared destination".
pub const DESTINATION: &str = "destination";
/// The method, once it is validated.
pub const METHOD: &str = "method";
/// The declared path prefix the request was allowed under.
pub const PATH: &str = "path";
/// The names of the secret settings the request uses, comma-separated.
pub const SECRETS: &str = "secrets";
/// Data classes found in what the request carries, comma-separated.
pub const CLASSES: &str = "classes";
/// Classes and fields the destination may not receive, comma-separated.
pub const BLOCKED: &str = "blocked";
/// What was masked instead of refused, comma-separated.
pub const MASKED: &str = "masked";
/// Bytes sent over every hop.
pub const BYTES_OUT: &str = "bytes_out";
/// Bytes received over every hop.
pub const BYTES_IN: &str = "bytes_in";
/// The final response's status.
pub const STATUS: &str = "status";
/// Every hop's declared destination and status, `" -> "`-separated.
pub const HOPS: &str = "hops";
/// Why a response was withheld from the plugin.
pub const WITHHELD: &str = "withheld";
/// The declared destination a redirect pointed to.
pub const REDIRECT: &str = "redirect";
/// A keyed digest of the URL as the plugin wrote it (tells requests apart, holds none).
pub const URL_DIGEST: &str = "url_digest";

/// The facts of one outbound request's audit record, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressDetail {
    /// [`DESTINATION`].
    pub destination: Option<String>,
    /// [`METHOD`].
    pub method: Option<String>,
    /// [`PATH`].
    pub path: Option<String>,
    /// [`STATUS`], when a response came back.
    pub status: Option<u16>,
    /// [`BYTES_OUT`] (0 when none were sent).
    pub bytes_out: u64,
    /// [`BYTES_IN`] (0 when none were received).
    pub bytes_in: u64,
    /// [`CLASSES`].
    pub classes: BTreeSet<String>,
}

impl EgressDetail {
    /// Reads a record's details. Missing or malformed values read as absent or zero:
    /// the audit chain, not this reader, vouches for what a record holds.
    ///
    /// ```
    /// use airlock_host::egress::detail::EgressDetail;
    /// let details = [("destination", "https://api.example"), ("status", "200"),
    ///     ("bytes_out", "12"), ("classes", "email,personal")]
    ///     .map(|(k, v)| (k.to_string(), v.to_string())).into();
    /// let d = EgressDetail::read(&details);
    /// assert_eq!((d.status, d.bytes_out, d.bytes_in), (Some(200), 12, 0));
    /// assert!(d.classes.contains("email"));
    /// ```
    pub fn read(details: &BTreeMap<String, String>) -> EgressDetail {
        let text = |key: &str| details.get(key).filter(|v| !v.is_empty()).cloned();
        let number = |key: &str| details.get(key).and_then(|v| v.parse().ok());
        EgressDetail {
            destination: text(DESTINATION),
            method: text(METHOD),
            path: text(PATH),
            status: number(STATUS).and_then(|n: u64| u16::try_from(n).ok()),
            bytes_out: number(BYTES_OUT).unwrap_or(0),
            bytes_in: number(BYTES_IN).unwrap_or(0),
            classes: details
                .get(CLASSES)
                .map(|c| {
                    c.split([',', ';', ' '])
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}
