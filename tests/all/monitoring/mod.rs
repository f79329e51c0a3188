//! Activity monitoring: each alert rule fires on its pattern and stays quiet on normal
//! traffic; `/metrics` is Prometheus text behind a token; exports stream CSV and JSON
//! Lines; the blast radius and access review name what was touched, never values.
//!
//! Alert rules are in [`alerts`]; metrics, exports and reports in [`reports`].
//!
//! Plugins run for real (`plugins/dist`). Two kinds of records are synthesized:
//! - egress (`http.request`) records, appended through the store and fed to the monitor
//!   the way `Airlock::run` does, so these tests do not depend on an outbound server;
//! - weeks-old history for the baseline rules, written straight into the audit table
//!   with properly sealed records, because the real path only produces records stamped
//!   "now" and the rules compare against hours of past traffic.

use crate::support::{TestHost, component, fixture, manifest, ticket};
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditEntry, AuditFilter, AuditRecord, Decision, seal};
use airlock_host::dispatch::EventRequest;
use airlock_host::model::{Dataset, User};
use airlock_host::monitor::{AlertConfig, AlertQuery, BlastRadiusQuery, ExportFormat};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "monitor-admin-token-0123456789";
const METRICS_TOKEN: &str = "monitor-metrics-token-0123456789";
const VALUES: &[&str] = &[
    "vera@bigcorp.example",
    "sam@smallshop.example",
    "555 0100",
    "private agent note",
    "Vera Important",
    "Big Corp",
];

fn host_with(alerts: AlertConfig) -> TestHost {
    let dir = tempfile::tempdir().unwrap();
    let airlock = Airlock::open_with(
        dir.path(),
        Options {
            alerts,
            metrics_token: Some(METRICS_TOKEN.into()),
            ..Options::default()
        },
    )
    .unwrap();
    airlock.import(&fixture()).unwrap();
    TestHost { dir, airlock }
}

fn event(host: &TestHost, id: &str, requester: &str) {
    host.airlock
        .handle_event(EventRequest::TicketCreated {
            ticket: ticket(id, "Hello", "please help", requester),
        })
        .unwrap();
}

fn alerts(host: &TestHost, rule: &str) -> Vec<airlock_host::monitor::Alert> {
    host.airlock
        .alerts(&AlertQuery {
            rule: Some(rule.parse().expect("a rule name")),
            ..Default::default()
        })
        .unwrap()
}

fn assert_no_values(text: &str) {
    for v in VALUES {
        assert!(!text.contains(v), "a helpdesk value leaked: {v}");
    }
}

/// An egress record as the egress capability writes it.
fn egress(installation: &str, destination: &str, allowed: bool) -> AuditEntry {
    AuditEntry {
        installation: installation.into(),
        plugin: installation.into(),
        version: "0.1.0".into(),
        invocation: "inv_synthetic".into(),
        event: "ticket-created".into(),
        call: "http.request".into(),
        decision: Some(if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }),
        reason: if allowed { "ok" } else { "denied: not granted" }.into(),
        details: [
            ("destination", destination),
            ("method", "POST"),
            ("path", "/v1/notify"),
            ("status", "200"),
            ("bytes_out", "120"),
            ("bytes_in", "30"),
            ("classes", "email"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    }
}

fn append_and_observe(airlock: &Airlock, entries: Vec<AuditEntry>) -> Vec<AuditRecord> {
    let records = airlock.store().append(entries).unwrap();
    airlock.monitor().observe(&records).unwrap();
    records
}

struct Server {
    base: String,
    _runtime: tokio::runtime::Runtime,
}

fn serve(airlock: Airlock) -> (Server, Arc<Airlock>) {
    let airlock = Arc::new(airlock);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = airlock_host::api::router(
        airlock.clone(),
        airlock_host::api::ApiOptions {
            break_glass: Some(TOKEN.into()),
        },
    );
    runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
    (
        Server {
            base,
            _runtime: runtime,
        },
        airlock,
    )
}

/// GET with a bearer token: (status, content type, transfer encoding, body).
fn get(url: &str, token: Option<&str>) -> (u16, String, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (ctype, encoding) = (header("content-type"), header("transfer-encoding"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .unwrap();
    (status, ctype, encoding, body)
}

mod alerts;
mod race;
mod reports;
