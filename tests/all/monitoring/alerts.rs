//! Each alert rule fires on its synthetic pattern and stays quiet on normal traffic;
//! alerts reach the webhook, the API and the CLI.

use super::*;

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
    assert_eq!(raised[0].delivery.to_string(), "none");
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
            .to_string();
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
