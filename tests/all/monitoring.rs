//! Activity monitoring: each alert rule fires on its pattern and stays quiet on normal
//! traffic; `/metrics` is Prometheus text behind a token; exports stream CSV and JSON
//! Lines; the blast radius and access review name what was touched, never values.
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
            rule: Some(rule.into()),
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
    airlock.observe(&records);
    records
}

#[test]
fn denied_burst_fires_on_a_probe_storm_and_not_on_normal_traffic() {
    let host = host_with(AlertConfig {
        denied_calls: 5,
        denied_window_minutes: 10,
        ..AlertConfig::default()
    });
    host.install_all_granted("auto-tagger");
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    // Each probe run makes two denied reads: 4 in two events is within the threshold.
    event(&host, "t-1", "u-2");
    event(&host, "t-2", "u-2");
    assert!(alerts(&host, "denied-burst").is_empty());
    // The third makes 6 > 5.
    event(&host, "t-3", "u-2");
    let raised = alerts(&host, "denied-burst");
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].installation, "pii-probe");
    assert_eq!(raised[0].details["threshold"], "5");
    assert_eq!(raised[0].delivery, "none");
    // Once per window, not once per denial.
    event(&host, "t-4", "u-2");
    assert_eq!(alerts(&host, "denied-burst").len(), 1);
    // Normal traffic never raised anything.
    let all = host.airlock.alerts(&AlertQuery::default()).unwrap();
    assert!(all.iter().all(|a| a.installation == "pii-probe"), "{all:?}");
    assert!(alerts(&host, "restricted-read").is_empty());

    // The alert is itself audited: installation and rule, no values.
    let audited = host
        .airlock
        .audit(&AuditFilter {
            call: Some("alert.raised".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].entry.installation, "pii-probe");
    assert_eq!(audited[0].entry.reason, "denied-burst");
    assert_eq!(audited[0].entry.details["rule"], "denied-burst");
    assert_eq!(
        audited[0].entry.details["alert_id"],
        raised[0].id.to_string()
    );
    assert_no_values(&serde_json::to_string(&raised).unwrap());
    assert!(
        host.airlock
            .verify_audit(&Default::default())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn restricted_read_fires_on_any_read_of_a_restricted_field() {
    let host = host_with(AlertConfig::default());
    // The ordinary probe asks for requester.notes and is denied: not a read.
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    event(&host, "t-1", "u-vip");
    assert!(alerts(&host, "restricted-read").is_empty());

    // The same component, installed with a manifest that declares requester.notes and
    // granted it, reads the restricted field for real.
    let nosy = manifest("pii-probe").replace(
        "read = [\"ticket.subject\"",
        "read = [\"requester.notes\", \"ticket.subject\"",
    );
    assert!(nosy.contains("requester.notes"));
    host.airlock
        .install("plugin.toml", &nosy, &component("pii-probe"), Some("nosy"))
        .unwrap();
    host.airlock
        .set_grants(
            "nosy",
            airlock_host::installation::Grants {
                read: ["ticket.requester_id", "requester.notes"]
                    .map(String::from)
                    .into(),
                ..Default::default()
            },
        )
        .unwrap();
    event(&host, "t-2", "u-vip");
    let raised = alerts(&host, "restricted-read");
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].installation, "nosy");
    assert_eq!(raised[0].details["fields"], "requester.notes");
    assert_eq!(raised[0].details["resource"], "u-vip");
    assert_no_values(&serde_json::to_string(&raised).unwrap());
    let metrics = host.airlock.metrics_text().unwrap();
    assert!(
        metrics
            .contains("airlock_records_read_total{installation=\"nosy\",class=\"restricted\"} 1"),
        "{metrics}"
    );
}

#[test]
fn new_destination_alerts_once_per_destination_and_survives_restart() {
    let host = host_with(AlertConfig::default());
    let a = &host.airlock;
    append_and_observe(a, vec![egress("crm-sync", "https://crm.example", true)]);
    assert_eq!(alerts(&host, "new-destination").len(), 1);
    append_and_observe(
        a,
        vec![
            egress("crm-sync", "https://crm.example", true),
            egress("crm-sync", "https://crm.example", true),
        ],
    );
    assert_eq!(
        alerts(&host, "new-destination").len(),
        1,
        "same destination"
    );
    // A refused request is not contact (it counts as a denial).
    append_and_observe(a, vec![egress("crm-sync", "https://evil.example", false)]);
    assert_eq!(alerts(&host, "new-destination").len(), 1);
    append_and_observe(a, vec![egress("crm-sync", "https://other.example", true)]);
    append_and_observe(a, vec![egress("second", "https://crm.example", true)]);
    let raised = alerts(&host, "new-destination");
    let got: Vec<(&str, &str)> = raised
        .iter()
        .map(|r| (r.installation.as_str(), r.details["destination"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("crm-sync", "https://crm.example"),
            ("crm-sync", "https://other.example"),
            ("second", "https://crm.example"),
        ]
    );

    // After a restart the rule state is rebuilt from the log: nothing is new again.
    let TestHost { dir, airlock } = host;
    let before = airlock.metrics_text().unwrap();
    drop(airlock);
    let host = TestHost {
        airlock: Airlock::open(dir.path(), Default::default()).unwrap(),
        dir,
    };
    host.airlock.warm_monitor().unwrap();
    append_and_observe(
        &host.airlock,
        vec![egress("crm-sync", "https://crm.example", true)],
    );
    assert_eq!(alerts(&host, "new-destination").len(), 3);
    let after = host.airlock.metrics_text().unwrap();
    assert!(
        after.contains("airlock_egress_requests_total{installation=\"crm-sync\",destination=\"https://crm.example\"} 4"),
        "{after}"
    );
    assert!(before.contains("destination=\"https://crm.example\"} 3"));
    assert!(after.contains(
        "airlock_egress_bytes_total{installation=\"crm-sync\",destination=\"https://crm.example\",direction=\"out\"} 480"
    ));
    assert!(after.contains("airlock_denied_calls_total{installation=\"crm-sync\"} 1"));
    assert!(
        after
            .contains("airlock_alerts_total{installation=\"crm-sync\",rule=\"new-destination\"} 2")
    );
}

/// Writes sealed, back-dated records into the audit table: `hours` hours of history for
/// `installation`, each hour with `per_hour` pre-fetches and `per_hour` user reads over
/// `users` distinct users.
fn write_history(db: &Path, installation: &str, hours: i64, per_hour: i64, users: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let now = time::OffsetDateTime::now_utc();
    // Whole hours back from the start of this hour: exactly `hours` hours of history.
    let this_hour = now.replace_time(time::Time::from_hms(now.hour(), 0, 0).unwrap());
    let mut prev: Option<(u64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )
        .ok();
    assert!(prev.is_none(), "history goes first");
    let tx = conn.unchecked_transaction().unwrap();
    for h in (1..=hours).rev() {
        for i in 0..per_hour {
            let at = this_hour - time::Duration::hours(h) + time::Duration::minutes(i);
            let t = airlock_host::monitor::format_time(at);
            for (call, resource, field) in [
                (
                    "event.prefetch-ticket",
                    format!("t-h{h}-{i}"),
                    "ticket.requester_id",
                ),
                (
                    "helpdesk.get-user",
                    format!("u-h{}", i % users),
                    "requester.email",
                ),
            ] {
                let entry = AuditEntry {
                    installation: installation.into(),
                    plugin: installation.into(),
                    version: "0.1.0".into(),
                    invocation: format!("inv_h{h}_{i}"),
                    event: "ticket-created".into(),
                    call: call.into(),
                    resource,
                    fields_returned: vec![field.into()],
                    decision: Some(Decision::Allow),
                    reason: "ok".into(),
                    ..Default::default()
                };
                let r = seal(
                    prev.as_ref().map(|(s, h)| (*s, h.as_str())),
                    t.clone(),
                    entry,
                );
                let e = &r.entry;
                tx.execute(
                    "INSERT INTO audit (seq, time, installation, plugin, version, invocation, event, call, resource, fields_returned, fields_withheld, decision, reason, redactions, details, prev_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '[]', 'allow', 'ok', '{}', '{}', ?11, ?12)",
                    rusqlite::params![
                        r.seq as i64, r.time, e.installation, e.plugin, e.version, e.invocation,
                        e.event, e.call, e.resource, serde_json::to_string(&e.fields_returned).unwrap(),
                        r.prev_hash, r.hash
                    ],
                )
                .unwrap();
                prev = Some((r.seq, r.hash.clone()));
            }
        }
    }
    tx.commit().unwrap();
}

#[test]
fn read_and_requester_spikes_are_measured_against_the_installations_own_baseline() {
    let host = host_with(AlertConfig {
        read_factor: 3.0,
        min_reads_per_hour: 10,
        requester_factor: 3.0,
        min_requesters_per_hour: 5,
        min_baseline_hours: 24,
        ..AlertConfig::default()
    });
    let users: Vec<User> = (1..=12)
        .map(|i| User {
            id: format!("u-r{i}"),
            email: Some(format!("r{i}@smallshop.example")),
            organization_id: Some("org-2".into()),
            ..Default::default()
        })
        .collect();
    host.airlock
        .import(&Dataset {
            users,
            ..Default::default()
        })
        .unwrap();
    host.install_all_granted("vip-escalation");
    host.install_all_granted("auto-tagger");
    // Two days of vip-escalation at 4 reads and 2 distinct requesters an hour:
    // thresholds are > 12 reads and > 6 requesters in an hour.
    write_history(
        &host.airlock.data_dir().database_path(),
        "vip-escalation",
        48,
        2,
        2,
    );

    // Normal traffic: 3 events, 2 requesters (6 reads).
    for (i, u) in ["u-r1", "u-r2", "u-r1"].iter().enumerate() {
        event(&host, &format!("t-n{i}"), u);
    }
    assert!(alerts(&host, "read-spike").is_empty());
    assert!(alerts(&host, "requester-spike").is_empty());

    // A sweep over 8 more requesters: 22 reads, 10 requesters.
    for i in 3..=10 {
        event(&host, &format!("t-s{i}"), &format!("u-r{i}"));
    }
    let reads = alerts(&host, "read-spike");
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].installation, "vip-escalation");
    assert_eq!(reads[0].details["baseline_per_hour"], "4.00");
    let requesters = alerts(&host, "requester-spike");
    assert_eq!(requesters.len(), 1, "{requesters:?}");
    assert_eq!(requesters[0].installation, "vip-escalation");
    assert_eq!(requesters[0].details["requesters"], "7");
    // auto-tagger read 11 records this hour too, but has no history to compare with.
    assert!(
        host.airlock
            .alerts(&AlertQuery {
                installation: Some("auto-tagger".into()),
                ..Default::default()
            })
            .unwrap()
            .is_empty()
    );
    // The history is a valid continuation of the chain.
    assert!(
        host.airlock
            .verify_audit(&Default::default())
            .unwrap()
            .is_ok()
    );
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
    let router = airlock_host::service::router(airlock.clone(), TOKEN);
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

#[test]
fn metrics_are_prometheus_text_behind_a_token() {
    let host = host_with(AlertConfig::default());
    host.install_all_granted("auto-tagger");
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    host.install("panicker", &[], &[]);
    event(&host, "t-1", "u-2");
    event(&host, "t-2", "u-2");
    let TestHost { dir: _dir, airlock } = host;
    let (server, _airlock) = serve(airlock);
    let url = format!("{}/metrics", server.base);

    assert_eq!(get(&url, None).0, 401);
    assert_eq!(get(&url, Some("wrong-token-0123456789")).0, 401);
    let plugins = format!("{}/api/v1/plugins", server.base);
    assert_eq!(
        get(&plugins, Some(METRICS_TOKEN)).0,
        401,
        "metrics token is not admin"
    );
    assert_eq!(get(&url, Some(TOKEN)).0, 200);
    let (status, ctype, _, text) = get(&url, Some(METRICS_TOKEN));
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");

    // Every line is a comment or `name{labels} value`, and every family is typed.
    let mut typed = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "counter");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        value.parse::<u64>().expect(line);
        let (name, labels) = series.split_once('{').expect(line);
        assert!(typed.contains(name), "{name} has no TYPE line");
        assert!(labels.ends_with('}'), "{line}");
        for pair in labels.trim_end_matches('}').split(',') {
            let (k, v) = pair.split_once('=').expect(line);
            assert!(k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
        }
    }
    for expected in [
        "airlock_invocations_total{installation=\"auto-tagger\"} 2",
        "airlock_invocations_total{installation=\"panicker\"} 2",
        "airlock_invocation_errors_total{installation=\"panicker\",kind=\"panic\"} 2",
        "airlock_denied_calls_total{installation=\"pii-probe\"} 4",
        "airlock_denied_calls_total{installation=\"auto-tagger\"} 0",
        "airlock_records_read_total{installation=\"auto-tagger\",class=\"personal\"} 2",
        "airlock_records_read_total{installation=\"auto-tagger\",class=\"internal\"} 2",
        "airlock_records_read_total{installation=\"pii-probe\",class=\"personal\"} 2",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    assert_no_values(&text);
}

#[test]
fn export_streams_csv_and_jsonl_for_a_filter() {
    let host = host_with(AlertConfig::default());
    // 2,500 synthetic records (more than two export pages), then real ones.
    let entries: Vec<AuditEntry> = (0..2500)
        .map(|i| AuditEntry {
            installation: if i % 2 == 0 { "even" } else { "odd" }.into(),
            plugin: "bulk".into(),
            call: "helpdesk.get-user".into(),
            resource: format!("u-{}", i % 7),
            fields_returned: vec!["requester.email".into()],
            fields_withheld: if i % 5 == 0 {
                vec![airlock_host::audit::Withheld {
                    field: "requester.notes".into(),
                    reason: "not granted to this installation".into(),
                }]
            } else {
                vec![]
            },
            decision: Some(if i % 3 == 0 {
                Decision::Deny
            } else {
                Decision::Allow
            }),
            reason: "ok, \"quoted\"".into(),
            ..Default::default()
        })
        .collect();
    host.airlock.store().append(entries).unwrap();
    host.install_all_granted("auto-tagger");
    event(&host, "t-1", "u-2");

    let expected = |pred: &dyn Fn(usize) -> bool| (0..2500).filter(|i| pred(*i)).count();
    let even_denied = expected(&|i| i % 2 == 0 && i % 3 == 0);
    let notes = expected(&|i| i % 5 == 0);

    // In-process, to a writer.
    let mut out = Vec::new();
    let n = host
        .airlock
        .export_audit(
            &AuditFilter {
                installation: Some("even".into()),
                decision: Some(Decision::Deny),
                ..Default::default()
            },
            ExportFormat::Jsonl,
            &mut out,
        )
        .unwrap();
    assert_eq!(n as usize, even_denied);

    let dir = host.dir.path().to_path_buf();
    let (server, airlock) = serve(host.airlock);
    let base = format!("{}/api/v1/audit/export", server.base);
    let (status, ctype, encoding, body) = get(
        &format!("{base}?format=jsonl&installation=even&decision=deny"),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype, "application/x-ndjson");
    assert_eq!(encoding, "chunked", "streamed, not buffered");
    let rows: Vec<AuditRecord> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), even_denied);
    assert_eq!(body.as_bytes(), &out[..]);
    assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        rows.iter()
            .all(|r| r.entry.installation == "even" && r.entry.decision == Some(Decision::Deny))
    );

    let (status, ctype, _, body) = get(
        &format!("{base}?format=csv&field=requester.notes&plugin=bulk"),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/csv"));
    let mut lines = body.lines();
    assert_eq!(
        lines.next().unwrap(),
        airlock_host::monitor::export::CSV_HEADER
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), notes);
    assert!(rows[0].contains(",\"ok, \"\"quoted\"\"\","), "{}", rows[0]);
    assert!(rows[0].contains("requester.notes=not granted to this installation"));

    // The real event's records are found by field and resource too.
    let (_, _, _, body) = get(
        &format!("{base}?format=jsonl&field=ticket.description&resource=t-1"),
        Some(TOKEN),
    );
    assert_eq!(body.lines().count(), 1, "{body}");
    let (status, _, _, _) = get(&format!("{base}?format=xml"), Some(TOKEN));
    assert_eq!(status, 400);
    let (status, _, _, _) = get(&format!("{base}?since=yesterday"), Some(TOKEN));
    assert_eq!(status, 400);
    assert_eq!(get(&base, None).0, 401);
    // The query API takes the same filters.
    let (_, _, _, body) = get(
        &format!(
            "{}/api/v1/audit?installation=odd&field=requester.notes&limit=10000",
            server.base
        ),
        Some(TOKEN),
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["records"].as_array().unwrap().len(),
        expected(&|i| i % 2 == 1 && i % 5 == 0)
    );

    // The CLI streams the same rows.
    drop(airlock);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--data-dir", dir.to_str().unwrap()])
        .args([
            "audit",
            "export",
            "--format",
            "csv",
            "--installation",
            "even",
        ])
        .args(["--decision", "deny"])
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        even_denied + 1
    );
}

#[test]
fn blast_radius_names_every_resource_field_and_destination() {
    let host = host_with(AlertConfig::default());
    let start = airlock_host::audit::now_rfc3339();
    host.install_all_granted("vip-escalation");
    host.airlock
        .set_settings(
            "vip-escalation",
            json!({"vip_domains": ["bigcorp.example"]}),
        )
        .unwrap();
    event(&host, "t-b", "u-vip");
    append_and_observe(
        &host.airlock,
        vec![
            egress("vip-escalation", "https://crm.example", true),
            egress("vip-escalation", "https://evil.example", false),
        ],
    );
    let report = host
        .airlock
        .blast_radius(&BlastRadiusQuery {
            installation: Some("vip-escalation".into()),
            since: Some(start.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.invocations, 1);
    let keys: Vec<&str> = report.resources.keys().map(String::as_str).collect();
    assert_eq!(keys, ["organization:org-vip", "ticket:t-b", "user:u-vip"]);
    let user = &report.resources["user:u-vip"];
    assert_eq!(
        user.fields_read
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["requester.email", "requester.organization_id"]
    );
    let t = &report.resources["ticket:t-b"];
    assert!(t.fields_written.contains("ticket.custom_fields.escalation"));
    assert!(t.fields_written.contains("ticket.internal_notes"));
    assert_eq!(report.fields["requester.email"].class, "personal");
    assert_eq!(report.fields["ticket.internal_notes"].written_to, 1);
    assert_eq!(report.fields["organization.name"].read_from, 1);
    let crm = &report.egress["https://crm.example"];
    assert_eq!((crm.requests, crm.bytes_out, crm.bytes_in), (1, 120, 30));
    assert!(crm.classes.contains("email") && crm.paths.contains("/v1/notify"));
    assert_eq!(report.egress["https://evil.example"].denied, 1);
    assert_eq!(report.denied_calls, 1);
    let text = serde_json::to_string(&report).unwrap();
    assert_no_values(&text);

    // Outside the window there is nothing.
    let empty = host
        .airlock
        .blast_radius(&BlastRadiusQuery {
            installation: Some("vip-escalation".into()),
            until: Some(start.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((empty.records, empty.resources.len()), (0, 0));
    assert!(
        host.airlock
            .blast_radius(&BlastRadiusQuery::default())
            .is_err()
    );

    let dir = host.dir.path().to_path_buf();
    let (server, airlock) = serve(host.airlock);
    let (status, _, _, body) = get(
        &format!(
            "{}/api/v1/audit/blast-radius?plugin=vip-escalation&since={}",
            server.base,
            start.replace(':', "%3A")
        ),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["resources"]["user:u-vip"]["kind"], "user");
    drop(airlock);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--data-dir", dir.to_str().unwrap(), "audit", "blast-radius"])
        .args(["--installation", "vip-escalation", "--since", &start])
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("user:u-vip: read [requester.email,requester.organization_id]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://crm.example: 1 requests (0 denied), 120 bytes out"),
        "{stdout}"
    );
}

#[test]
fn access_review_finds_unused_grants_and_maps_the_data() {
    let host = host_with(AlertConfig::default());
    host.install_all_granted("auto-tagger");
    host.install_all_granted("vip-escalation");
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    // A non-VIP requester: vip-escalation reads the user, never the organization, and
    // writes nothing; auto-tagger has no rules, so it never tags.
    event(&host, "t-1", "u-2");
    let review = host.airlock.unused_grants(30, None).unwrap();
    let of = |id: &str| review.iter().find(|r| r.installation == id).unwrap();
    assert!(of("auto-tagger").unused_read.is_empty());
    assert_eq!(of("auto-tagger").unused_write, ["ticket.tags"]);
    let vip = of("vip-escalation");
    assert_eq!(
        vip.unused_read,
        ["organization.name", "ticket.custom_fields.escalation"]
    );
    assert_eq!(
        vip.unused_write,
        ["ticket.custom_fields.escalation", "ticket.internal_notes"]
    );
    assert!(vip.used_read.contains(&"requester.email".to_string()));
    assert!(host.airlock.unused_grants(0, None).is_err());
    assert!(host.airlock.unused_grants(30, Some("ghost")).is_err());

    let map = host.airlock.data_map().unwrap();
    let email = &map.fields["requester.email"];
    assert_eq!(email.class, "personal");
    assert_eq!(
        email.readers.iter().map(String::as_str).collect::<Vec<_>>(),
        ["pii-probe", "vip-escalation"]
    );
    assert_eq!(
        map.fields["ticket.tags"].writers.iter().collect::<Vec<_>>(),
        ["auto-tagger"]
    );
    assert!(
        !map.fields.contains_key("requester.phone"),
        "declared but not granted"
    );
    let probe = map
        .installations
        .iter()
        .find(|i| i.installation == "pii-probe")
        .unwrap();
    let phone = probe
        .read
        .iter()
        .find(|f| f.field == "requester.phone")
        .unwrap();
    assert!(!phone.granted);

    let dir = host.dir.path().to_path_buf();
    let (server, airlock) = serve(host.airlock);
    let (status, _, _, body) = get(
        &format!(
            "{}/api/v1/review/unused?days=30&installation=auto-tagger",
            server.base
        ),
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["installations"][0]["unused_write"],
        json!(["ticket.tags"])
    );
    let (status, _, _, body) = get(
        &format!("{}/api/v1/review/data-map", server.base),
        Some(TOKEN),
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["fields"]["ticket.tags"]["writers"],
        json!(["auto-tagger"])
    );
    drop(airlock);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["--data-dir", dir.to_str().unwrap()])
            .args(args)
            .env("AIRLOCK_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = cli(&["review", "unused", "--days", "30"]);
    assert!(
        text.contains("auto-tagger\tunused read: -\tunused write: ticket.tags"),
        "{text}"
    );
    let text = cli(&["review", "data-map"]);
    assert!(
        text.contains("  reads requester.email [personal]"),
        "{text}"
    );
    assert!(
        text.contains("  reads requester.phone [personal] (declared, not granted)"),
        "{text}"
    );
}

/// A one-request-at-a-time HTTP server on loopback that hands each body to a channel.
fn webhook_server() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8(body).unwrap());
        }
    });
    (url, rx)
}

#[test]
fn alerts_reach_the_webhook_the_api_and_the_cli() {
    let (url, bodies) = webhook_server();
    let host = host_with(AlertConfig {
        webhook: Some(url),
        denied_calls: 1,
        ..AlertConfig::default()
    });
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    event(&host, "t-1", "u-vip");
    let body = bodies
        .recv_timeout(Duration::from_secs(10))
        .expect("webhook called");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alert"]["rule"], "denied-burst");
    assert_eq!(v["alert"]["installation"], "pii-probe");
    assert_no_values(&body);
    let id = v["alert"]["id"].as_u64().unwrap();
    let mut delivery = String::new();
    for _ in 0..100 {
        delivery = host.airlock.alerts(&AlertQuery::default()).unwrap()[0]
            .delivery
            .clone();
        if delivery == "delivered" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(delivery, "delivered");

    let dir = host.dir.path().to_path_buf();
    let (server, airlock) = serve(host.airlock);
    let (status, _, _, body) = get(
        &format!("{}/api/v1/alerts?installation=pii-probe", server.base),
        Some(TOKEN),
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"][0]["id"].as_u64(), Some(id));
    let (_, _, _, body) = get(
        &format!("{}/api/v1/alerts?rule=read-spike", server.base),
        Some(TOKEN),
    );
    assert_eq!(body, r#"{"alerts":[]}"#);
    drop(airlock);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--data-dir", dir.to_str().unwrap(), "alerts"])
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("#{id}\t")) && stdout.contains("denied-burst\tpii-probe"),
        "{stdout}"
    );
}
