//! Data-loss checks: a destination receives only the data it was approved for.

use super::*;

#[test]
fn data_loss_checks_catch_evasions_and_are_audited() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let encodings = ["plain", "spaced", "dashed", "base64", "hex", "url"];
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
    // In the URL (URL-encoded) and in a header.
    let mut in_url = request("GET", &a.url("/api/q?u={email}"), json!([]), "");
    in_url["encode"] = json!("url");
    requests.push(in_url);
    requests.push(request(
        "GET",
        &a.url("/api/h"),
        json!([["X-User", "{email}"]]),
        "",
    ));
    // A card number never came from the helpdesk, but the detectors know it.
    requests.push(request(
        "POST",
        &a.url("/api/echo"),
        json!([]),
        "card 4111 1111 1111 1111",
    ));
    // The subject is approved for A.
    requests.push(request("POST", &a.url("/api/echo"), json!([]), "{subject}"));
    let (lines, records) = act(
        &airlock,
        json!({"read_requester": true, "requests": requests}),
    );
    for (i, how) in encodings.iter().enumerate() {
        refused(&lines, &records, i, "denied", "data not approved for");
        assert!(
            records[i].reason.contains("requester.email"),
            "{how}: {}",
            records[i].reason
        );
        assert!(
            records[i].details["classes"].contains("requester.email"),
            "{how}"
        );
        if *how != "plain" {
            let hidden = match *how {
                "dashed" | "spaced" => "spacing",
                "url" => "url-encoding",
                other => other,
            };
            assert!(
                records[i].reason.contains(hidden),
                "{how}: {}",
                records[i].reason
            );
        }
    }
    refused(&lines, &records, 6, "denied", "requester.email");
    refused(&lines, &records, 7, "denied", "requester.email");
    refused(&lines, &records, 8, "denied", "credit_card");
    assert!(lines[9].starts_with("#9 status=200"), "{}", lines[9]);
    assert_eq!(records[9].details["classes"], "ticket.subject");
    assert!(!a.saw("vera") && !a.saw("4111"), "data left");
    assert_eq!(a.requests(), 1);

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
        json!({"read_requester": true, "requests": [
            request("POST", &a.url("/api/masked"), json!([]), "to {email} now"),
            encoded,
        ]}),
    );
    assert!(lines[0].starts_with("#0 status=200"), "{}", lines[0]);
    assert!(a.saw("to [EMAIL] now") && !a.saw("vera"));
    assert!(records[0].details["masked"].contains("requester.email"));
    refused(&lines, &records, 1, "denied", "base64");
}

#[test]
fn example_plugins_send_only_what_they_declare() {
    let server = Server::start();
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
            json!({"webhook_url": format!("{loopback}/services/T1/B2/{SECRET}")}),
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
        .filter(|r| r.entry.call == "http.request")
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
