//! Brokered outbound HTTP ("egress"): the best-guarded door out of Airlock.
//!
//! A plugin's `http.request` reaches [`Egress::execute`] through the broker
//! (the `http` capability). In order, a request must:
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
pub mod detail;
mod error;
mod exchange;
pub use airlock_core::manifest::destination;
pub mod dlp;
pub mod rate;
pub mod reflect;
pub use airlock_core::manifest::rules;
pub mod secrets;
pub mod stub;
pub use airlock_core::addr as ssrf;
mod taint;
mod wire;

pub use config::{
    DlpAction, EgressConfig, MAX_REQUEST_HEADERS, MAX_URL_BYTES, METHODS, RESERVED_HEADERS,
    Resolve, StaticResolver, SystemResolver,
};
use reflect::ReflectionGuard;
pub use rules::{EgressRule, secret_settings};
use taint::check_taint;
use wire::{check_headers, url_head, url_tail, wire_size};

use crate::installation::Installation;
use destination::{Destination, HostPattern};
use dlp::{Part, Scan, SendPolicy, Tracked};
pub use error::EgressError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
pub use taint::ReadFlows;
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

/// A request on its way: what is sent, where, and under which declared name.
struct Exchange {
    method: String,
    url: Url,
    dest: Destination,
    label: String,
    /// Headers as the plugin wrote them (placeholders kept), for re-checks on redirects.
    headers: Vec<(String, String)>,
    /// Headers as sent, secrets substituted.
    wire_headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// When the invocation's time is up: every hop ends by then.
    deadline: Option<std::time::Instant>,
}

/// A request [`Egress::authorize`] allowed: what [`Egress::send`] sends it under.
#[derive(Debug)]
pub struct Approved {
    method: String,
    names: BTreeSet<String>,
    dest: Destination,
    label: String,
    /// The `[[egress]]` rule it falls under.
    rule: EgressRule,
    /// When the invocation's time is up, if it has a deadline.
    deadline: Option<std::time::Instant>,
}

/// The egress service shared by all invocations.
pub struct Egress {
    config: EgressConfig,
    resolver: Arc<dyn Resolve>,
    transport: Arc<dyn client::Transport>,
    limiter: rate::RateLimiter,
    key: secrets::MasterKey,
    redactor: Arc<airlock_redact::Redactor>,
}

/// Adds one fact to the call's audit record.
pub type Note<'a> = &'a dyn Fn(&str, String);

/// What passed the data-loss checks, masked where the policy says so; placeholders
/// still unsubstituted.
struct Checked {
    url_tail: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn denied(m: impl Into<String>) -> EgressError {
    EgressError::Denied(m.into())
}

fn out_of_time(label: &str) -> EgressError {
    EgressError::Limit(format!(
        "the invocation's deadline passed before {label} answered"
    ))
}

impl Egress {
    /// The service with its configuration, resolver, transport and master key.
    ///
    /// `redactor` holds the admin's `[redaction]` detectors and allow-list, so outbound
    /// checks find what the broker's redaction finds.
    pub fn new(
        config: EgressConfig,
        resolver: Arc<dyn Resolve>,
        transport: Arc<dyn client::Transport>,
        key: secrets::MasterKey,
        redactor: Arc<airlock_redact::Redactor>,
    ) -> Egress {
        Egress {
            limiter: rate::RateLimiter::new(config.rate_per_minute),
            config,
            resolver,
            transport,
            key,
            redactor,
        }
    }

    /// The detectors outbound checks use (the admin's `[redaction]` configuration);
    /// the broker finds revealed classes with them too.
    pub fn detector(&self) -> &airlock_redact::Redactor {
        &self.redactor
    }

    /// The configuration.
    pub fn config(&self) -> &EgressConfig {
        &self.config
    }

    /// The master key that seals secret settings.
    pub fn key(&self) -> &secrets::MasterKey {
        &self.key
    }

    /// Checks, performs and audits (through `note`) one outbound request:
    /// [`Egress::authorize`], then [`Egress::send`].
    pub fn execute(
        &self,
        inst: &Installation,
        tracked: &[Tracked],
        taint: &dyn ReadFlows,
        req: OutboundRequest,
        note: Note<'_>,
    ) -> Result<InboundResponse, EgressError> {
        let approved = self.authorize(inst, &req, note, None)?;
        self.send(inst, approved, tracked, taint, req, note)
    }

    /// Whether the installation may send this request at all, judged on the request
    /// as the plugin wrote it: its form and size, the rate limit, the secrets it names,
    /// and a declared **and** approved destination, path prefix and method with every
    /// named secret bound to it. Notes `method`, `destination` (as declared), `path`
    /// (the declared prefix) and `secrets` (names) as each becomes known.
    ///
    /// No error or audit detail holds a substituted string: destinations are named as
    /// declared in plugin.toml, or as "an undeclared destination".
    ///
    /// `time_left` is what remains of the invocation's deadline: every hop of the
    /// exchange must end by then, as well as within the configured timeout.
    pub fn authorize(
        &self,
        inst: &Installation,
        req: &OutboundRequest,
        note: Note<'_>,
        time_left: Option<std::time::Duration>,
    ) -> Result<Approved, EgressError> {
        let deadline = time_left.map(|left| std::time::Instant::now() + left);
        let method = req.method.to_ascii_uppercase();
        self.check_form(&method, req)?;
        note(detail::METHOD, method.clone());
        if !self.limiter.try_acquire(&inst.id) {
            return Err(EgressError::Limit(format!(
                "more than {} outbound requests per minute for this installation",
                self.limiter.per_minute()
            )));
        }
        let names = placeholder_names(req)?;
        let declared = secret_settings(inst.manifest.settings.as_ref());
        // The name is not quoted: it is the plugin's string until it matches a declared one.
        if !names.is_subset(&declared) {
            return Err(denied(
                "a placeholder names a secret that is not a secret setting of this plugin (writeOnly in [settings])",
            ));
        }
        if !names.is_empty() {
            note(
                detail::SECRETS,
                names.iter().cloned().collect::<Vec<_>>().join(","),
            );
        }
        let url = Url::parse(&req.url)
            .map_err(|e| EgressError::Invalid(format!("the URL is not an absolute URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::Invalid(
                "credentials in the URL are not allowed; use a header".into(),
            ));
        }
        let dest = Destination::of_url(&url).ok_or_else(|| {
            EgressError::Invalid("only https:// URLs (http:// in dev mode) can be requested".into())
        })?;
        let label = declared_label(inst, &dest);
        note(detail::DESTINATION, label.clone());
        let rule = self.select_rule(inst, &dest, &label, url.path(), &method, &names)?;
        // The declared path, not the plugin's: the capability adds a keyed digest of it.
        note(detail::PATH, rule.path.clone());
        self.check_scheme(&dest)?;
        let rule = rule.clone();
        Ok(Approved {
            method,
            names,
            dest,
            label,
            rule,
            deadline,
        })
    }

    /// Sends an [authorized](Egress::authorize) request: the information-flow check
    /// (what the invocation read may go to this destination), the data-loss checks on
    /// what the plugin wrote, then its secrets substituted last, and only into the path,
    /// query and header values. Redirects are followed only when the target passes every
    /// check itself.
    pub fn send(
        &self,
        inst: &Installation,
        approved: Approved,
        tracked: &[Tracked],
        taint: &dyn ReadFlows,
        req: OutboundRequest,
        note: Note<'_>,
    ) -> Result<InboundResponse, EgressError> {
        let Approved {
            method,
            names,
            dest,
            label,
            rule,
            deadline,
        } = approved;
        let rule = &rule;
        check_taint(taint, &rule.send, &label)?;
        let Checked {
            url_tail: url_part,
            headers,
            body,
        } = self.check_data(tracked, rule, &label, &dest, &req, note)?;

        // Secrets go in last.
        let values = self.secret_values(inst, &names)?;
        let lookup = |n: &str| values.get(n).cloned();
        let sent = secrets::substitute(&format!("{}{url_part}", url_head(&req.url)), &lookup)
            .map_err(denied)?;
        let url = Url::parse(&sent).ok().filter(|u| {
            Destination::of_url(u).as_ref() == Some(&dest)
                && destination::path_allowed(&rule.path, u.path())
        });
        let url = url.ok_or_else(|| {
            denied(format!(
                "a secret's value would change the destination or leave the allowed path of {label}; fix the secret setting"
            ))
        })?;
        let mut forms: Vec<String> = Vec::new();
        let mut wire_headers = Vec::with_capacity(headers.len());
        for (name, value) in &headers {
            let substituted = secrets::substitute(value, &lookup).map_err(denied)?;
            let substituted = secrets::basic_auth(name, &substituted);
            if substituted != *value {
                forms.push(substituted.clone());
            }
            wire_headers.push((name.clone(), substituted));
        }
        let every = secret_settings(inst.manifest.settings.as_ref())
            .into_iter()
            .filter(|n| inst.secrets.contains_key(n))
            .collect();
        let all = self.secret_values(inst, &every)?;
        let guard = ReflectionGuard::new(all.values().chain(&forms));
        let exchange = Exchange {
            method,
            url,
            dest,
            label,
            headers,
            wire_headers,
            body,
            deadline,
        };
        self.follow(inst, tracked, taint, &names, exchange, &guard, note)
    }

    /// Method, size, URL form, header names and where placeholders are.
    fn check_form(&self, method: &str, req: &OutboundRequest) -> Result<(), EgressError> {
        if !METHODS.contains(&method) {
            return Err(EgressError::Invalid(format!(
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
            return Err(EgressError::Limit(format!(
                "the request is {size} bytes; at most {} are sent (URL at most {MAX_URL_BYTES})",
                self.config.max_request_bytes
            )));
        }
        if !req.url.contains("://") || req.url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(EgressError::Invalid(
                "the URL must be absolute (scheme://host/path) with no spaces or control characters; percent-encode them".into(),
            ));
        }
        check_headers(&req.headers)?;
        let head = url_head(&req.url);
        if head.contains("{{") || head.to_ascii_lowercase().contains("secret.") {
            return Err(denied(
                "a secret placeholder may appear only in the URL's path or query or in a header value, never in its scheme or host",
            ));
        }
        let body_text = String::from_utf8_lossy(&req.body);
        if !secrets::placeholders(&body_text).is_ok_and(|p| p.is_empty()) {
            return Err(denied(
                "a secret placeholder may appear only in the URL or a header value, never in the body",
            ));
        }
        Ok(())
    }

    /// The data-loss checks on what the plugin wrote (placeholders unsubstituted): the
    /// URL's tail, header names and values, the body, and a host name. Returns the URL
    /// tail, headers and body to send, masked when the configuration says so.
    fn check_data(
        &self,
        tracked: &[Tracked],
        rule: &EgressRule,
        label: &str,
        dest: &Destination,
        req: &OutboundRequest,
        note: Note<'_>,
    ) -> Result<Checked, EgressError> {
        let body_text = String::from_utf8_lossy(&req.body);
        let host = match &dest.host {
            HostPattern::Name(name) => name.as_str(),
            _ => "",
        };
        let mut parts: Vec<(Part, &str)> =
            vec![(Part::Host, host), (Part::Url, url_tail(&req.url))];
        for (i, (name, value)) in req.headers.iter().enumerate() {
            parts.push((Part::HeaderName(i), name));
            parts.push((Part::Header(i), value));
        }
        parts.push((Part::Body, &body_text));
        let scan = self.scan(tracked, &rule.send, &parts);
        note(detail::CLASSES, scan.classes());
        let unapproved = scan.unapproved();
        let mut headers = req.headers.clone();
        if unapproved.is_empty() {
            return Ok(Checked {
                url_tail: url_tail(&req.url).to_string(),
                headers,
                body: req.body.clone(),
            });
        }
        note(detail::BLOCKED, unapproved.join(","));
        if self.config.dlp != DlpAction::Mask || !scan.maskable() {
            return Err(dlp_denial(label, &unapproved, &scan));
        }
        note(detail::MASKED, unapproved.join(","));
        for (i, (_, v)) in headers.iter_mut().enumerate() {
            *v = scan.mask(Part::Header(i), v);
        }
        Ok(Checked {
            url_tail: scan.mask(Part::Url, url_tail(&req.url)),
            headers,
            body: scan.mask(Part::Body, &body_text).into_bytes(),
        })
    }

    fn scan(&self, tracked: &[Tracked], send: &BTreeSet<String>, parts: &[(Part, &str)]) -> Scan {
        dlp::scan(&self.redactor, tracked, &SendPolicy { send }, parts)
    }

    fn secret_values(
        &self,
        inst: &Installation,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>, EgressError> {
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
                EgressError::Unavailable(format!("secret `{name}` cannot be decrypted"))
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
        label: &str,
        path: &str,
        method: &str,
        names: &BTreeSet<String>,
    ) -> Result<&'a EgressRule, EgressError> {
        let declared: Vec<&EgressRule> = inst
            .manifest
            .egress
            .iter()
            .filter(|r| Destination::parse(&r.destination).is_ok_and(|d| d.covers(dest)))
            .collect();
        if declared.is_empty() {
            return Err(denied(
                "an undeclared destination: the URL's host is not in plugin.toml [[egress]]",
            ));
        }
        let approved: Vec<&EgressRule> = declared
            .into_iter()
            .filter(|r| inst.grants.egress.contains(&r.destination))
            .collect();
        if approved.is_empty() {
            return Err(denied(format!(
                "{label} is not approved for this installation"
            )));
        }
        let on_path: Vec<&EgressRule> = approved
            .into_iter()
            .filter(|r| destination::path_allowed(&r.path, path))
            .collect();
        if on_path.is_empty() {
            return Err(denied(format!("the path is not allowed for {label}")));
        }
        let with_method: Vec<&EgressRule> = on_path
            .into_iter()
            .filter(|r| r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            .collect();
        if with_method.is_empty() {
            return Err(denied(format!(
                "method {method} is not allowed for {label}"
            )));
        }
        if let Some(rule) = with_method.iter().find(|r| names.is_subset(&r.secrets)) {
            return Ok(rule);
        }
        let missing = names
            .iter()
            .find(|n| !with_method.iter().any(|r| r.secrets.contains(*n)))
            .unwrap_or_else(|| names.iter().next().expect("names is not empty"));
        Err(denied(format!(
            "secret `{missing}` is not bound to {label} in plugin.toml [[egress]]"
        )))
    }

    fn check_scheme(&self, dest: &Destination) -> Result<(), EgressError> {
        if dest.scheme == "http" && !(self.config.dev_mode && dest.is_loopback_ip()) {
            return Err(denied(
                "plain http is refused: HTTPS only (http only to a loopback address in dev mode)",
            ));
        }
        Ok(())
    }
}

/// How a destination is named in errors and audit details: the `[[egress]]` destination
/// that covers it, as declared, or "an undeclared destination". Never the URL's host as
/// the plugin wrote it.
fn declared_label(inst: &Installation, dest: &Destination) -> String {
    inst.manifest
        .egress
        .iter()
        .find(|r| Destination::parse(&r.destination).is_ok_and(|d| d.covers(dest)))
        .map_or_else(
            || "an undeclared destination".to_string(),
            |r| r.destination.clone(),
        )
}

/// The names of the secrets the URL and header values refer to.
fn placeholder_names(req: &OutboundRequest) -> Result<BTreeSet<String>, EgressError> {
    let mut names = secrets::names(&req.url).map_err(denied)?;
    for (_, value) in &req.headers {
        names.extend(secrets::names(value).map_err(denied)?);
    }
    Ok(names)
}

fn dlp_denial(label: &str, unapproved: &[String], scan: &Scan) -> EgressError {
    let evasions = scan.evasions();
    denied(format!(
        "data not approved for {label}: {}{}",
        unapproved.join(", "),
        if evasions.is_empty() {
            String::new()
        } else {
            format!(" (hidden by {})", evasions.join(", "))
        }
    ))
}
