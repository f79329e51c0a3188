//! Brokered outbound HTTP ("egress"): the best-guarded door out of Airlock.
//!
//! A plugin's `http.request` reaches [`Egress::execute`] through the broker
//! ([`crate::capability::http`]). In order, a request must:
//! 1. be well-formed and within the size limit, with secret placeholders only in the URL
//!    or header values, and within the installation's rate limit;
//! 2. go to a destination declared in `[[egress]]` **and** approved by the admin for this
//!    installation, on an allowed path prefix and method, with every secret it references
//!    bound to that destination ([`rules`]);
//! 3. be HTTPS (plain http only to a loopback address in dev mode);
//! 4. pass the data-loss checks ([`dlp`]) for what the destination may receive;
//! 5. resolve only to addresses that pass the SSRF guard ([`ssrf`]); the connection goes
//!    to that checked address ([`client`]).
//!
//! Redirects are followed (at most [`EgressConfig::max_redirects`]) only when the target
//! passes steps 2-5 itself. Secrets are substituted last, and scrubbed from the response.

pub mod client;
mod config;
pub mod destination;
pub mod dlp;
pub mod rate;
pub mod rules;
pub mod secrets;
pub mod ssrf;
mod wire;

pub use config::{
    DlpAction, EgressConfig, MAX_REQUEST_HEADERS, MAX_URL_BYTES, METHODS, RESERVED_HEADERS,
    Resolve, StaticResolver, SystemResolver,
};
pub use rules::{EgressRule, secret_settings};
use wire::{check_headers, scrub_response, url_head, url_tail, wire_size};

use crate::broker::CallError;
use crate::installation::Installation;
use destination::{Destination, HostPattern};
use dlp::{Part, Scan, SendPolicy, Tracked};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use url::Url;

/// A plugin's outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// The method.
    pub method: String,
    /// The URL, possibly with `{{secret.NAME}}` placeholders.
    pub url: String,
    /// Headers; values may hold placeholders.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What comes back to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundResponse {
    /// The status.
    pub status: u16,
    /// Headers (lowercase names), secrets scrubbed.
    pub headers: Vec<(String, String)>,
    /// The body, secrets scrubbed.
    pub body: Vec<u8>,
}

/// The egress service shared by all invocations.
pub struct Egress {
    config: EgressConfig,
    resolver: Arc<dyn Resolve>,
    limiter: rate::RateLimiter,
    key: secrets::MasterKey,
    redactor: airlock_redact::Redactor,
}

/// Adds one fact to the call's audit record.
pub type Note<'a> = &'a dyn Fn(&str, String);

fn denied(m: impl Into<String>) -> CallError {
    CallError::Denied(m.into())
}

impl Egress {
    /// The service with its configuration, resolver and master key.
    pub fn new(
        config: EgressConfig,
        resolver: Arc<dyn Resolve>,
        key: secrets::MasterKey,
    ) -> Egress {
        Egress {
            limiter: rate::RateLimiter::new(config.rate_per_minute),
            config,
            resolver,
            key,
            redactor: airlock_redact::Redactor::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EgressConfig {
        &self.config
    }

    /// The master key that seals secret settings.
    pub fn key(&self) -> &secrets::MasterKey {
        &self.key
    }

    /// Checks, performs and audits (through `note`) one outbound request.
    pub fn execute(
        &self,
        inst: &Installation,
        tracked: &[Tracked],
        req: OutboundRequest,
        note: Note<'_>,
    ) -> Result<InboundResponse, CallError> {
        let method = req.method.to_ascii_uppercase();
        note("method", method.clone());
        note("path", self.audit_path(&req.url, tracked));
        if !METHODS.contains(&method.as_str()) {
            return Err(CallError::Invalid(format!(
                "method must be one of {}",
                METHODS.join(", ")
            )));
        }
        let size = req.url.len()
            + req.body.len()
            + req
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>();
        if size > self.config.max_request_bytes || req.url.len() > MAX_URL_BYTES {
            return Err(CallError::Limit(format!(
                "the request is {size} bytes; at most {} are sent (URL at most {MAX_URL_BYTES})",
                self.config.max_request_bytes
            )));
        }
        check_headers(&req.headers)?;
        let body_text = String::from_utf8_lossy(&req.body);
        if !secrets::placeholders(&body_text).is_ok_and(|p| p.is_empty()) {
            return Err(denied(
                "a secret placeholder may appear only in the URL or a header value, never in the body",
            ));
        }
        if !self.limiter.try_acquire(&inst.id) {
            return Err(CallError::Limit(format!(
                "more than {} outbound requests per minute for this installation",
                self.limiter.per_minute()
            )));
        }
        // Secrets referenced, by name.
        let mut names = secrets::names(&req.url).map_err(denied)?;
        for (_, value) in &req.headers {
            names.extend(secrets::names(value).map_err(denied)?);
        }
        if !names.is_empty() {
            note(
                "secrets",
                names.iter().cloned().collect::<Vec<_>>().join(","),
            );
        }
        let values = self.secret_values(inst, &names)?;
        let lookup = |n: &str| values.get(n).cloned();
        let url_text = secrets::substitute(&req.url, &lookup).map_err(denied)?;
        let url = Url::parse(&url_text)
            .map_err(|e| CallError::Invalid(format!("the URL is not an absolute URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CallError::Invalid(
                "credentials in the URL are not allowed; use a header".into(),
            ));
        }
        let dest = Destination::of_url(&url).ok_or_else(|| {
            CallError::Invalid("only https:// URLs (http:// in dev mode) can be requested".into())
        })?;
        note("destination", dest.to_string());
        let rule = self.select_rule(inst, &dest, url.path(), &method, &names)?;
        self.check_scheme(&dest)?;

        // Data-loss checks, on what the plugin wrote (placeholders unsubstituted).
        let mut url_part = url_tail(&req.url).to_string();
        let mut headers = req.headers.clone();
        let mut body = req.body.clone();
        let mut parts: Vec<(Part, &str)> = vec![(Part::Url, url_tail(&req.url))];
        for (i, (_, v)) in req.headers.iter().enumerate() {
            parts.push((Part::Header(i), v));
        }
        parts.push((Part::Body, &body_text));
        let scan = self.scan(tracked, &rule.send, &parts);
        note("classes", scan.classes());
        let unapproved = scan.unapproved();
        if !unapproved.is_empty() {
            note("blocked", unapproved.join(","));
            if self.config.dlp == DlpAction::Mask && scan.maskable() {
                note("masked", unapproved.join(","));
                url_part = scan.mask(Part::Url, &url_part);
                for (i, (_, v)) in headers.iter_mut().enumerate() {
                    *v = scan.mask(Part::Header(i), v);
                }
                body = scan.mask(Part::Body, &body_text).into_bytes();
            } else {
                return Err(dlp_denial(&dest, &unapproved, &scan));
            }
        }
        let mut url = url;
        if url_part != url_tail(&req.url) {
            let masked = secrets::substitute(&format!("{}{url_part}", url_head(&req.url)), &lookup)
                .map_err(denied)?;
            url = Url::parse(&masked).map_err(|_| {
                CallError::Invalid("the URL is not valid after masking".to_string())
            })?;
        }

        // Secrets go in last.
        let mut wire_headers = Vec::with_capacity(headers.len());
        let mut scrub: Vec<String> = values.values().cloned().collect();
        for (name, value) in &headers {
            let substituted = secrets::substitute(value, &lookup).map_err(denied)?;
            let substituted = secrets::basic_auth(name, &substituted);
            if substituted != *value {
                scrub.push(substituted.clone());
            }
            wire_headers.push((name.clone(), substituted));
        }

        let mut method = method;
        let mut dest = dest;
        let (mut bytes_out, mut bytes_in) = (0usize, 0usize);
        for hop in 0..=self.config.max_redirects {
            let target = self.pin(&dest, &url)?;
            let target_path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let wire = client::WireRequest {
                method: &method,
                target: &target_path,
                headers: &wire_headers,
                body: &body,
            };
            let result = client::exchange(
                &target,
                &wire,
                self.config.timeout,
                self.config.max_response_bytes,
            );
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let (out, inn) = match &e {
                        client::ClientError::TooLarge(n) => (wire_size(&wire), *n),
                        _ => (0, 0),
                    };
                    note("bytes_out", (bytes_out + out).to_string());
                    note("bytes_in", (bytes_in + inn).to_string());
                    return Err(self.client_error(&dest, e));
                }
            };
            bytes_out += response.bytes_out;
            bytes_in += response.bytes_in;
            note("bytes_out", bytes_out.to_string());
            note("bytes_in", bytes_in.to_string());
            note("status", response.status.to_string());
            let location = response
                .headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone());
            let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            let Some(location) = location.filter(|_| redirect) else {
                return Ok(scrub_response(response, &scrub));
            };
            if hop == self.config.max_redirects {
                return Err(denied(format!(
                    "more than {} redirects",
                    self.config.max_redirects
                )));
            }
            let next = url
                .join(&location)
                .map_err(|_| denied("a redirect to an invalid URL was refused"))?;
            let next_dest = Destination::of_url(&next)
                .ok_or_else(|| denied("a redirect to a non-http(s) URL was refused"))?;
            note("redirect", next_dest.to_string());
            if response.status == 303 || (matches!(response.status, 301 | 302) && method == "POST")
            {
                if method != "HEAD" {
                    method = "GET".into();
                }
                body.clear();
            }
            let refused =
                |e: CallError| denied(format!("redirect to {next_dest} refused: {}", e.message()));
            let next_rule = self
                .select_rule(inst, &next_dest, next.path(), &method, &names)
                .map_err(refused)?;
            self.check_scheme(&next_dest).map_err(refused)?;
            let body_text = String::from_utf8_lossy(&body).into_owned();
            let mut parts: Vec<(Part, &str)> = headers
                .iter()
                .enumerate()
                .map(|(i, (_, v))| (Part::Header(i), v.as_str()))
                .collect();
            parts.push((Part::Body, &body_text));
            let rescan = self.scan(tracked, &next_rule.send, &parts);
            let unapproved = rescan.unapproved();
            if !unapproved.is_empty() {
                note("blocked", unapproved.join(","));
                return Err(refused(dlp_denial(&next_dest, &unapproved, &rescan)));
            }
            url = next;
            dest = next_dest;
        }
        Err(denied("too many redirects"))
    }

    fn scan(&self, tracked: &[Tracked], send: &BTreeSet<String>, parts: &[(Part, &str)]) -> Scan {
        dlp::scan(&self.redactor, tracked, &SendPolicy { send }, parts)
    }

    fn secret_values(
        &self,
        inst: &Installation,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>, CallError> {
        let declared = secret_settings(inst.manifest.settings.as_ref());
        let mut values = BTreeMap::new();
        for name in names {
            if !declared.contains(name) {
                return Err(denied(format!(
                    "`{name}` is not a secret setting of this plugin (writeOnly in [settings])"
                )));
            }
            let sealed = inst.secrets.get(name).ok_or_else(|| {
                denied(format!("secret `{name}` is not set for this installation"))
            })?;
            let value = self.key.open(&inst.id, name, sealed).map_err(|e| {
                tracing::error!(installation = %inst.id, secret = %name, error = %e, "cannot open a secret");
                CallError::Unavailable(format!("secret `{name}` cannot be decrypted"))
            })?;
            values.insert(name.clone(), value);
        }
        Ok(values)
    }

    /// The approved rule that allows this destination, path, method and secrets.
    fn select_rule<'a>(
        &self,
        inst: &'a Installation,
        dest: &Destination,
        path: &str,
        method: &str,
        names: &BTreeSet<String>,
    ) -> Result<&'a EgressRule, CallError> {
        let declared: Vec<&EgressRule> = inst
            .manifest
            .egress
            .iter()
            .filter(|r| Destination::parse(&r.destination).is_ok_and(|d| d.covers(dest)))
            .collect();
        if declared.is_empty() {
            return Err(denied(format!(
                "{dest} is not a destination declared in plugin.toml [[egress]]"
            )));
        }
        let approved: Vec<&EgressRule> = declared
            .into_iter()
            .filter(|r| inst.grants.egress.contains(&r.destination))
            .collect();
        if approved.is_empty() {
            return Err(denied(format!(
                "{dest} is not approved for this installation"
            )));
        }
        let on_path: Vec<&EgressRule> = approved
            .into_iter()
            .filter(|r| destination::path_allowed(&r.path, path))
            .collect();
        if on_path.is_empty() {
            return Err(denied(format!("the path is not allowed for {dest}")));
        }
        let with_method: Vec<&EgressRule> = on_path
            .into_iter()
            .filter(|r| r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            .collect();
        if with_method.is_empty() {
            return Err(denied(format!("method {method} is not allowed for {dest}")));
        }
        if let Some(rule) = with_method.iter().find(|r| names.is_subset(&r.secrets)) {
            return Ok(rule);
        }
        let missing = names
            .iter()
            .find(|n| !with_method.iter().any(|r| r.secrets.contains(*n)))
            .unwrap_or_else(|| names.iter().next().expect("names is not empty"));
        Err(denied(format!(
            "secret `{missing}` is not bound to {dest} in plugin.toml [[egress]]"
        )))
    }

    fn check_scheme(&self, dest: &Destination) -> Result<(), CallError> {
        if dest.scheme == "http" && !(self.config.dev_mode && dest.is_loopback_ip()) {
            return Err(denied(
                "plain http is refused: HTTPS only (http only to a loopback address in dev mode)",
            ));
        }
        Ok(())
    }

    /// Resolves and checks the address to connect to.
    fn pin(&self, dest: &Destination, url: &Url) -> Result<client::Target, CallError> {
        let (ips, literal) = match &dest.host {
            HostPattern::Ip(ip) => (vec![*ip], true),
            HostPattern::Name(name) => (
                self.resolver
                    .resolve(name, dest.port)
                    .map_err(|_| CallError::Unavailable(format!("cannot resolve {dest}")))?,
                false,
            ),
            HostPattern::Wildcard(_) => return Err(denied("a wildcard is not a host")),
        };
        let Some(&ip) = ips.first() else {
            return Err(CallError::Unavailable(format!("{dest} has no address")));
        };
        for &ip in &ips {
            // A non-public address is reachable only when the destination names it
            // explicitly (and the admin approved that destination, checked before).
            if let Some(class) = ssrf::classify(ip)
                && !literal
            {
                return Err(denied(format!(
                    "{dest} resolves to a {class} address; names may resolve only to public addresses (SSRF protection)"
                )));
            }
        }
        if dest.scheme == "http" && !ssrf::is_loopback(ip) {
            return Err(denied("plain http is allowed only to loopback addresses"));
        }
        let host = url.host_str().unwrap_or_default().to_string();
        Ok(client::Target {
            ip,
            port: dest.port,
            tls_name: (dest.scheme == "https").then(|| {
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string()
            }),
            host_header: match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            },
        })
    }

    fn client_error(&self, dest: &Destination, e: client::ClientError) -> CallError {
        match e {
            client::ClientError::Timeout => CallError::Limit(format!(
                "{dest} did not answer within {} ms",
                self.config.timeout.as_millis()
            )),
            client::ClientError::TooLarge(_) => CallError::Limit(format!(
                "the response from {dest} is larger than {} bytes",
                self.config.max_response_bytes
            )),
            client::ClientError::Io(kind) => {
                CallError::Unavailable(format!("cannot reach {dest}: {kind}"))
            }
            client::ClientError::Protocol(m) => {
                CallError::Unavailable(format!("bad response from {dest}: {m}"))
            }
        }
    }

    /// The URL's path for the audit record: no query, placeholders kept, detected values
    /// and field values masked, at most 256 bytes.
    fn audit_path(&self, url: &str, tracked: &[Tracked]) -> String {
        let tail = url_tail(url);
        let mut path = tail[..tail.find(['?', '#']).unwrap_or(tail.len())].to_string();
        if path.is_empty() {
            path = "/".into();
        }
        for t in tracked {
            path = path.replace(&t.raw, &format!("[{}]", t.path));
        }
        let spans = self.redactor.find_spans(&path);
        for span in spans.iter().rev() {
            path.replace_range(span.start..span.end, &format!("[{}]", span.class));
        }
        if path.len() > 256 {
            let cut = path.floor_char_boundary(256);
            path.truncate(cut);
            path.push('…');
        }
        path
    }
}

fn dlp_denial(dest: &Destination, unapproved: &[String], scan: &Scan) -> CallError {
    let evasions = scan.evasions();
    denied(format!(
        "data not approved for {dest}: {}{}",
        unapproved.join(", "),
        if evasions.is_empty() {
            String::new()
        } else {
            format!(" (hidden by {})", evasions.join(", "))
        }
    ))
}
