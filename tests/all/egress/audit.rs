//! The audit log holds only host-chosen values: a hostile plugin (`misfit`) pushes every
//! PII class through every channel it controls (settings keys, record ids, field paths,
//! custom field names, tags, search values, log lines, HTTP method, host, path, query and
//! header names, its error and panic text), and none of it reaches the audit export,
//! `/metrics`, the alerts or the reports, raw or in the forms the channels accept.

use super::*;
use airlock_host::monitor::{AlertQuery, BlastRadiusQuery, ExportFormat};

/// One value per PII class, and `{name}`: the requester's name, which the plugin reads
/// through the broker (no detector recognises a name).
const PII: &[&str] = &[
    "mallory@evil.example",
    "+1 (415) 555-0123",
    "4111 1111 1111 1111",
    "123-45-6789",
    "GB82 WEST 1234 5698 7654 32",
    "{name}",
];
const NAME: &str = "Vera Important";

/// What `misfit` turns a value into for channels with a grammar.
fn forms(v: &str) -> Vec<String> {
    let slug: String = v
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '_',
        })
        .collect();
    let idish: String = v
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | ':' | '-' => c,
            _ => '.',
        })
        .collect();
    let encoded: String = v
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    let mut forms = vec![
        v.to_string(),
        slug.clone(),
        slug.to_uppercase(),
        idish.clone(),
    ];
    forms.push(idish.replace('.', "-"));
    forms.push(encoded);
    if digits.len() >= 8 {
        forms.push(digits);
    }
    forms
}

fn misfit(airlock: &Airlock, server: &Server) {
    let text = manifest("misfit").replace("127.0.0.1:18081", &server.addr.to_string());
    let inst = airlock
        .install("plugin.toml", &text, &component("misfit"), None)
        .unwrap();
    let grants = Grants {
        read: inst.manifest.data.read.clone(),
        write: inst.manifest.data.write.clone(),
        egress: [
            format!("http://{}", server.addr),
            "https://*.pii.test".to_string(),
        ]
        .into(),
        ..Default::default()
    };
    airlock.set_grants("misfit", grants).unwrap();
    airlock
        .set_settings("misfit", json!({"label": "x"}))
        .unwrap();
}

fn run(airlock: &Airlock, server: &Server, end: &str) -> String {
    let results = airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload: json!({"values": PII, "server": server.url(""), "end": end}),
        })
        .unwrap();
    let r = results.iter().find(|r| r.installation == "misfit").unwrap();
    r.status.to_string()
}

/// Everything the audit feeds, as text: the export (JSON Lines and CSV), `/metrics`, the
/// alerts, the blast radius, the access review and the data map.
fn everything(airlock: &Airlock) -> String {
    let mut text = String::new();
    for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
        let mut out = Vec::new();
        airlock
            .export_audit(&AuditFilter::default(), format, &mut out)
            .unwrap();
        text.push_str(&String::from_utf8(out).unwrap());
    }
    text.push_str(&airlock.metrics_text().unwrap());
    let alerts = airlock.alerts(&AlertQuery::default()).unwrap();
    text.push_str(&serde_json::to_string(&alerts).unwrap());
    let blast = airlock
        .blast_radius(&BlastRadiusQuery {
            installation: Some("misfit".into()),
            ..Default::default()
        })
        .unwrap();
    text.push_str(&serde_json::to_string(&blast).unwrap());
    let review = airlock.unused_grants(30, None).unwrap();
    text.push_str(&serde_json::to_string(&review).unwrap());
    text.push_str(&serde_json::to_string(&airlock.data_map().unwrap()).unwrap());
    text
}

/// Issue 12: every PII class through every plugin-controlled channel, ending with an
/// error, a panic, a denial and success; the raw values appear nowhere the audit feeds.
#[test]
fn no_plugin_string_reaches_the_audit_metrics_alerts_or_reports() {
    let server = Server::start();
    let (_dir, airlock) = open(config());
    misfit(&airlock, &server);
    for (end, status) in [
        ("error", "failed"),
        ("panic", "failed"),
        ("denied", "failed"),
        ("ok", "ok"),
    ] {
        assert_eq!(run(&airlock, &server, end), status, "{end}");
    }
    // The channels were used: the plugin's calls are in the log.
    let records = airlock
        .audit(&AuditFilter {
            installation: Some("misfit".into()),
            limit: Some(100_000),
            ..Default::default()
        })
        .unwrap();
    for call in [
        "settings.get",
        "helpdesk.get-ticket",
        "helpdesk.set-custom-field",
        "helpdesk.add-tags",
        "helpdesk.search-tickets",
        "http.request",
        "log.write",
        "handler.handle",
    ] {
        assert!(records.iter().any(|r| r.entry.call == call), "no {call}");
    }
    // Unconfirmed ids and keys are there, opaque.
    assert!(
        records
            .iter()
            .any(|r| r.entry.call == "helpdesk.get-ticket" && r.entry.resource.starts_with('#')),
        "no opaque record id"
    );
    let text = everything(&airlock);
    for value in PII {
        let value = value.replace("{name}", NAME);
        for form in forms(&value) {
            assert!(
                !text.to_lowercase().contains(&form.to_lowercase()),
                "`{form}` (from a PII value) reached the audit or what it feeds"
            );
        }
    }
}
