//! HTTP stubs for `airlock dev` and `airlock test`: the author's canned answers, in
//! place of the network, behind every real check.
//!
//! A request reaches a stub only after everything a real one passes: the declared and
//! approved destination, path and method, the information-flow and data-loss checks,
//! secret substitution, and the SSRF check of the address the name resolves to (a stub
//! may say what its host resolves to, to try that check). Nothing reaches the network:
//! a host no stub names does not resolve.
//!
//! ```toml
//! [[stub]]
//! destination = "https://api.crm.example"
//! method = "POST"                 # any method when left out
//! path = "/v1/contacts"           # exact, or a prefix ending in `*`
//! status = 201
//! headers = { content-type = "application/json" }
//! body = '{"id": "c-1"}'
//! # resolves_to = "10.0.0.7"      # the address the host resolves to (default: public)
//! ```

use super::client::{ClientError, Target, Transport, WireRequest, WireResponse};
use super::config::Resolve;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The address a stubbed host resolves to unless its stub says otherwise: a public one
/// (`example.com`'s), so the SSRF check passes as it would for a real service.
const PUBLIC_ADDRESS: &str = "93.184.216.34";

/// One canned answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stub {
    /// `scheme://host[:port]`, as in `[[egress]]`.
    pub destination: String,
    /// The method; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// The path: exact, or a prefix when it ends in `*`; any when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// The status.
    #[serde(default = "ok")]
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The response body.
    #[serde(default)]
    pub body: String,
    /// What the destination's host resolves to.
    #[serde(default)]
    pub resolves_to: Option<IpAddr>,
}

fn ok() -> u16 {
    200
}

/// A request a stub answered (or none did), as an author's test sees it: no header
/// values and no query string, which may hold substituted secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StubbedRequest {
    /// `scheme://host[:port]`.
    pub destination: String,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered, or `None` when no stub matched.
    pub status: Option<u16>,
    /// The body's size in bytes.
    pub body_bytes: usize,
}

/// The stubs of one run, and the requests they answered.
#[derive(Debug, Default)]
pub struct Stubs {
    stubs: Vec<Stub>,
    seen: Mutex<Vec<StubbedRequest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StubFile {
    #[serde(default)]
    stub: Vec<Stub>,
}

/// `scheme://host[:port]`, lowercase, without a default port.
fn origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

impl Stubs {
    /// The stubs given.
    pub fn new(stubs: Vec<Stub>) -> anyhow::Result<Stubs> {
        for (i, s) in stubs.iter().enumerate() {
            anyhow::ensure!(
                origin(&s.destination).is_some(),
                "stub #{i}: destination {:?} is not scheme://host[:port]",
                s.destination
            );
        }
        Ok(Stubs {
            stubs,
            seen: Mutex::new(Vec::new()),
        })
    }

    /// The stubs in a TOML file (`[[stub]]` tables).
    pub fn load(path: &std::path::Path) -> anyhow::Result<Stubs> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stub file {}", path.display()))?;
        let file: StubFile = toml::from_str(&text)
            .with_context(|| format!("{} is not a stub file ([[stub]] tables)", path.display()))?;
        Stubs::new(file.stub)
    }

    /// The requests made so far, in order.
    pub fn requests(&self) -> Vec<StubbedRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn matching(&self, origin: &str, method: &str, path: &str) -> Option<&Stub> {
        self.stubs.iter().find(|s| {
            self::origin(&s.destination).as_deref() == Some(origin)
                && s.method
                    .as_ref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && s.path.as_ref().is_none_or(|p| match p.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => p == path,
                })
        })
    }
}

impl Resolve for Stubs {
    fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        let host = host.to_ascii_lowercase();
        let stub = self.stubs.iter().find(|s| {
            url::Url::parse(&s.destination)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .as_deref()
                == Some(host.as_str())
        });
        match stub {
            Some(s) => {
                Ok(vec![s.resolves_to.unwrap_or_else(|| {
                    PUBLIC_ADDRESS.parse().expect("an address")
                })])
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no stub names this host",
            )),
        }
    }
}

impl Transport for Stubs {
    fn exchange(
        &self,
        target: &Target,
        request: &WireRequest<'_>,
        _timeout: Duration,
        max_body: usize,
    ) -> Result<WireResponse, ClientError> {
        let scheme = if target.tls_name.is_some() {
            "https"
        } else {
            "http"
        };
        let origin = origin(&format!("{scheme}://{}", target.host_header)).unwrap_or_default();
        let path = request.target.split('?').next().unwrap_or("").to_string();
        let stub = self.matching(&origin, request.method, &path);
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(StubbedRequest {
                destination: origin.clone(),
                method: request.method.to_string(),
                path,
                status: stub.map(|s| s.status),
                body_bytes: request.body.len(),
            });
        let Some(stub) = stub else {
            return Err(ClientError::Io(format!(
                "no stub answers this {} request to {origin}; add one to the stub file",
                request.method
            )));
        };
        if stub.body.len() > max_body {
            return Err(ClientError::TooLarge(stub.body.len()));
        }
        Ok(WireResponse {
            status: stub.status,
            headers: stub
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: stub.body.clone().into_bytes(),
            bytes_out: request.body.len(),
            bytes_in: stub.body.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stubs() -> Stubs {
        Stubs::new(vec![
            Stub {
                destination: "https://api.crm.example".into(),
                method: Some("POST".into()),
                path: Some("/v1/*".into()),
                status: 201,
                headers: Default::default(),
                body: "{}".into(),
                resolves_to: None,
            },
            Stub {
                destination: "https://inside.example".into(),
                method: None,
                path: None,
                status: 200,
                headers: Default::default(),
                body: String::new(),
                resolves_to: Some("10.0.0.7".parse().unwrap()),
            },
        ])
        .unwrap()
    }

    fn target(host: &str) -> Target {
        Target {
            ip: PUBLIC_ADDRESS.parse().unwrap(),
            port: 443,
            tls_name: Some(host.into()),
            host_header: host.into(),
        }
    }

    fn request<'a>(method: &'a str, path: &'a str) -> WireRequest<'a> {
        WireRequest {
            method,
            target: path,
            headers: &[],
            body: b"abc",
        }
    }

    #[test]
    fn matches_by_destination_method_and_path_and_records_without_the_query() {
        let s = stubs();
        let t = target("api.crm.example");
        let got = s
            .exchange(
                &t,
                &request("post", "/v1/contacts?key=s3cret"),
                Duration::ZERO,
                1024,
            )
            .unwrap();
        assert_eq!(got.status, 201);
        let err = s
            .exchange(&t, &request("GET", "/v1/contacts"), Duration::ZERO, 1024)
            .unwrap_err();
        assert!(matches!(err, ClientError::Io(m) if !m.contains("/v1")));
        let seen = s.requests();
        assert_eq!(seen[0].path, "/v1/contacts");
        assert_eq!((seen[0].status, seen[1].status), (Some(201), None));
        assert!(!format!("{seen:?}").contains("s3cret"));
    }

    #[test]
    fn only_stubbed_hosts_resolve_and_a_stub_may_resolve_inside() {
        let s = stubs();
        assert_eq!(
            s.resolve("API.crm.example", 443).unwrap(),
            [PUBLIC_ADDRESS.parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            s.resolve("inside.example", 443).unwrap(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        assert!(s.resolve("real.example.com", 443).is_err());
        assert!(
            Stubs::new(vec![Stub {
                destination: "nope".into(),
                ..stubs().stubs[0].clone()
            }])
            .is_err()
        );
    }
}
