//! `/metrics` behind its token, streamed exports, the blast radius and the access
//! review: each names what was touched, never values.

use super::*;

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
        403,
        "the metrics token is known, but may only scrape"
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
