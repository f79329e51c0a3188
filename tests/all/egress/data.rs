//! Data-loss checks: a destination receives only the data it was approved for.

use super::*;
use airlock_host::broker::is_intent;

/// Issue 12: once the plugin has read a value a destination may not receive, every later
/// request to it is refused, however the value is encoded, split or placed, and even
/// when the request carries only approved data.
#[test]
fn a_read_the_destination_may_not_receive_taints_every_later_request() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let encodings = [
        "plain", "spaced", "dashed", "base64", "hex", "url", "rot13", "reversed", "base32",
    ];
    let mut requests: Vec<Value> = encodings
        .iter()
        .map(|how| {
            let mut r = request(
                "POST",
                &a.url("/api/echo"),
                json!([]),
                "{\"who\":\"{email}\"}",
            );
            r["encode"] = json!(how);
            r
        })
        .collect();
    let host = a.addr.to_string();
    let mut more = vec![
        // No `/` after the authority (to B, whose path is `/`), and a backslash.
        request(
            "GET",
            &format!("http://{}?e={{email}}", b.addr),
            json!([]),
            "",
        ),
        request(
            "GET",
            &format!("http://{host}\\api?e={{email}}"),
            json!([]),
            "",
        ),
        // Split over header and body, and a header name.
        request(
            "POST",
            &a.url("/api/echo"),
            json!([["X-A", "{email1}"]]),
            "{email2}",
        ),
        request("GET", &a.url("/api/h"), json!([["X-{email}", "1"]]), ""),
        // Only the subject, which A may receive: still refused after the read.
        request("POST", &a.url("/api/echo"), json!([]), "{subject}"),
    ];
    more[3]["encode"] = json!("dashed");
    requests.extend(more);
    let (lines, records) = act(
        &airlock,
        json!({"read_requester": true, "requests": requests}),
    );
    assert_eq!(records.len(), requests.len(), "{lines:?}");
    for i in 0..requests.len() {
        refused(
            &lines,
            &records,
            i,
            "denied",
            "this invocation read requester.email",
        );
    }
    assert_eq!(
        a.requests() + b.requests(),
        0,
        "a request left after the read"
    );

    // Before the read, the subject goes; the same plugin, a new invocation.
    let (lines, records) = act(
        &airlock,
        json!({"requests": [request("POST", &a.url("/api/echo"), json!([]), "{subject}")]}),
    );
    assert!(lines[0].starts_with("#0 status=200"), "{}", lines[0]);
    assert_eq!(records[0].details["classes"], "ticket.subject");
}

/// The detectors are the second layer: they catch values the broker never handed out
/// (here the email comes in the action payload), and mask when the policy says so.
#[test]
fn detectors_catch_values_the_broker_never_handed_out() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let encodings = ["plain", "base64", "hex", "url"];
    let mut requests: Vec<Value> = encodings
        .iter()
        .map(|how| {
            let mut r = request(
                "POST",
                &a.url("/api/echo"),
                json!([]),
                "{\"who\":\"{email}\"}",
            );
            r["encode"] = json!(how);
            r
        })
        .collect();
    requests.push(request(
        "GET",
        &a.url("/api/h"),
        json!([["X-User", "{email}"]]),
        "",
    ));
    requests.push(request(
        "POST",
        &a.url("/api/echo"),
        json!([]),
        "card 4111 1111 1111 1111",
    ));
    let (lines, records) = act(&airlock, json!({"email": EMAIL, "requests": requests}));
    for (i, how) in encodings.iter().enumerate() {
        refused(&lines, &records, i, "denied", "data not approved for");
        assert!(
            records[i].reason.contains("email"),
            "{how}: {}",
            records[i].reason
        );
        if *how != "plain" {
            let hidden = if *how == "url" { "url-encoding" } else { how };
            assert!(
                records[i].reason.contains(hidden),
                "{how}: {}",
                records[i].reason
            );
        }
    }
    refused(&lines, &records, 4, "denied", "email");
    refused(&lines, &records, 5, "denied", "credit_card");
    assert!(!a.saw("vera") && !a.saw("4111"), "data left");
    assert_eq!(a.requests(), 0);

    // Masking by policy: plain copies are masked and sent; encoded ones still refused.
    let (_dir, airlock) = open(EgressConfig {
        dlp: DlpAction::Mask,
        ..config()
    });
    thief(&airlock, &a, &b);
    let mut encoded = request("POST", &a.url("/api/echo"), json!([]), "{email}");
    encoded["encode"] = json!("base64");
    let (lines, records) = act(
        &airlock,
        json!({"email": EMAIL, "requests": [
            request("POST", &a.url("/api/masked"), json!([]), "to {email} now"),
            encoded,
        ]}),
    );
    assert!(lines[0].starts_with("#0 status=200"), "{}", lines[0]);
    assert!(a.saw("to [EMAIL] now") && !a.saw("vera"));
    assert!(records[0].details["masked"].contains("email"));
    refused(&lines, &records, 1, "denied", "base64");
}

/// Issue 12: the admin's `[redaction]` detectors and allow-list reach the outbound checks
/// (egress used to build a default detector set of its own).
#[test]
fn configured_detectors_and_allow_list_apply_to_egress() {
    let (a, b) = (Server::start(), Server::start());
    let redaction: RedactionConfig = toml::from_str(
        r#"
        allow = ["+1 800 555 0100"]
        custom = [{ name = "employee_id", pattern = "EMP-[0-9]{6}" }]
        "#,
    )
    .unwrap();
    let (_dir, airlock) = open_with(config(), redaction);
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("POST", &a.url("/api/echo"), json!([]), "employee EMP-123456"),
            request("POST", &a.url("/api/echo"), json!([]), "call +1 800 555 0100"),
            request("POST", &a.url("/api/echo"), json!([]), "call +1 415 555 0199"),
        ]}),
    );
    refused(&lines, &records, 0, "denied", "custom:employee_id");
    assert!(lines[1].starts_with("#1 status=200"), "{}", lines[1]);
    refused(&lines, &records, 2, "denied", "phone");
    assert!(!a.saw("EMP-123456") && !a.saw("0199"));
}

#[test]
fn example_plugins_send_only_what_they_declare() {
    let server = Server::start();
    // A real webhook or CRM answers without echoing the credential.
    server.quiet("/services/", "ok");
    server.quiet("/v1/contacts", "{}");
    let (_dir, airlock) = open(config());
    let loopback = format!("http://{}", server.addr);
    for (name, real) in [
        ("slack-notify", "https://hooks.slack.com"),
        ("crm-sync", "https://api.crm.example"),
    ] {
        let text = manifest(name).replace(real, &loopback);
        let inst = airlock
            .install("plugin.toml", &text, &component(name), None)
            .unwrap();
        let grants = Grants {
            read: inst.manifest.data.read.clone(),
            egress: [loopback.clone()].into(),
            reveal: inst.manifest.data.reveal.clone(),
            ..Default::default()
        };
        airlock.set_grants(name, grants).unwrap();
    }
    airlock
        .set_settings(
            "slack-notify",
            json!({"webhook_path": format!("T1/B2/{SECRET}"), "base_url": loopback}),
        )
        .unwrap();
    airlock
        .set_settings(
            "crm-sync",
            json!({"crm_token": SECRET, "endpoint": format!("{loopback}/v1/contacts")}),
        )
        .unwrap();
    let mut urgent = ticket("t-9", "Server room flooded", "help", "u-vip");
    urgent.priority = Some("urgent".into());
    let results = airlock
        .handle_event(EventRequest::TicketCreated { ticket: urgent })
        .unwrap();
    let summary = |name: &str| {
        let r = results.iter().find(|r| r.installation == name).unwrap();
        assert_eq!(r.status, "ok", "{r:?}");
        r.summary.clone().unwrap()
    };
    assert_eq!(summary("slack-notify"), "posted");
    assert_eq!(summary("crm-sync"), "synced");
    assert!(server.saw(&format!("POST /services/T1/B2/{SECRET} ")));
    assert!(server.saw("Urgent ticket t-9: Server room flooded"));
    assert!(server.saw(&format!("Authorization: Bearer {SECRET}")));
    assert!(server.saw(&format!("\"email\":\"{EMAIL}\"")));
    let records = airlock
        .audit(&AuditFilter {
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    let http: Vec<_> = records
        .iter()
        .filter(|r| r.entry.call == "http.request" && !is_intent(&r.entry))
        .collect();
    assert_eq!(http.len(), 2);
    for r in http {
        let text = serde_json::to_string(r).unwrap();
        assert!(!text.contains(SECRET), "{text}");
        assert_eq!(r.entry.decision, Some(Decision::Allow));
        let classes = &r.entry.details["classes"];
        match r.entry.installation.as_str() {
            "crm-sync" => assert!(classes.contains("requester.email"), "{classes}"),
            _ => assert_eq!(classes, "ticket.subject"),
        }
    }
}
