//! Requests go only to approved destinations, paths and methods: no SSRF targets, no
//! redirects elsewhere, and within the size and rate limits.

use super::*;

#[test]
fn disallowed_destinations_paths_and_methods_are_refused() {
    let (a, b, c) = (Server::start(), Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("GET", "https://evil.example/api", json!([]), ""),
            request("GET", &c.url("/api"), json!([]), ""),
            request("GET", &a.url("/admin"), json!([]), ""),
            request("GET", &a.url("/apix"), json!([]), ""),
            request("DELETE", &a.url("/api/x"), json!([]), ""),
            request("GET", "https://169.254.169.254/latest/meta-data/", json!([]), ""),
            request("GET", &format!("https://{}/api", a.addr), json!([]), ""),
            request("GET", &a.url("/api/../admin"), json!([]), ""),
            request("GET", "file:///etc/passwd", json!([]), ""),
            request("GET", &format!("http://user:pw@{}/api", a.addr), json!([]), ""),
        ]}),
    );
    // Undeclared hosts are never quoted back: the plugin wrote them, and a host may
    // hold a secret or a field value.
    refused(&lines, &records, 0, "denied", "an undeclared destination");
    refused(&lines, &records, 1, "denied", "an undeclared destination");
    refused(&lines, &records, 2, "denied", "the path is not allowed");
    refused(&lines, &records, 3, "denied", "the path is not allowed");
    refused(
        &lines,
        &records,
        4,
        "denied",
        "method DELETE is not allowed",
    );
    refused(
        &lines,
        &records,
        5,
        "denied",
        "https://169.254.169.254 is not approved",
    );
    refused(&lines, &records, 6, "denied", "an undeclared destination");
    refused(&lines, &records, 7, "denied", "the path is not allowed");
    refused(&lines, &records, 8, "invalid", "only https://");
    refused(&lines, &records, 9, "invalid", "credentials in the URL");
    assert_eq!(records[4].details["method"], "DELETE");
    assert_eq!(
        records[0].details["destination"],
        "an undeclared destination"
    );
    assert_eq!(records[5].details["destination"], "https://169.254.169.254");
    for (i, line) in lines.iter().enumerate() {
        assert!(!line.contains("evil"), "#{i} quotes the host: {line}");
        assert!(!line.contains(&c.addr.to_string()), "#{i}: {line}");
    }
    assert_eq!(a.requests() + c.requests(), 0);
}

#[test]
fn ssrf_targets_are_refused_after_resolution() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let cases = [
        ("rebind", "loopback"),
        ("meta", "cloud-metadata"),
        ("private", "private"),
        ("ula", "unique-local"),
        ("v6meta", "cloud-metadata"),
        ("cgnat", "cgnat"),
        ("linklocal", "link-local"),
        ("zero", "unspecified"),
        ("mixed", "private"),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(name, _)| request("GET", &format!("https://{name}.ssrf.test/"), json!([]), ""))
        .collect();
    let (lines, records) = act(&airlock, json!({ "requests": requests }));
    for (i, (_, class)) in cases.iter().enumerate() {
        refused(
            &lines,
            &records,
            i,
            "denied",
            &format!("resolves to a {class} address"),
        );
    }

    // Plain http outside dev mode is refused, even to an approved loopback server.
    let (_dir, airlock) = open(EgressConfig {
        dev_mode: false,
        ..config()
    });
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [request("GET", &a.url("/api/x"), json!([]), "")]}),
    );
    refused(&lines, &records, 0, "denied", "plain http is refused");
    assert_eq!(a.requests(), 0);
}

#[test]
fn redirects_are_followed_only_to_allowed_destinations() {
    let (a, b, c) = (Server::start(), Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("GET", &a.redirect("/api/r/1", &c.url("/x")), json!([]), ""),
            request("GET", &a.redirect("/api/r/2", &b.url("/ok")), json!([]), ""),
            request("GET", &a.redirect("/api/r/3", "https://meta.ssrf.test/"), json!([]), ""),
            // A → B → A: every hop is in the record, not just the first destination.
            request(
                "GET",
                &a.redirect("/api/r/4", &b.redirect("/hop", &a.url("/api/end"))),
                json!([]),
                "",
            ),
        ]}),
    );
    refused(
        &lines,
        &records,
        0,
        "denied",
        "redirect to an undeclared destination refused",
    );
    assert_eq!(records[0].details["redirect"], "an undeclared destination");
    assert!(!lines[0].contains(&c.addr.to_string()), "{}", lines[0]);
    assert_eq!(c.requests(), 0);
    assert!(lines[1].starts_with("#1 status=200"), "{}", lines[1]);
    assert!(b.saw("GET /ok "));
    refused(
        &lines,
        &records,
        2,
        "denied",
        "resolves to a cloud-metadata address",
    );
    assert!(lines[3].starts_with("#3 status=200"), "{}", lines[3]);
    let (la, lb) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    assert_eq!(
        records[3].details["hops"],
        format!("{la} 302 -> {lb} 302 -> {la} 200")
    );
    assert!(b.saw("GET /hop "));
}

#[test]
fn size_and_rate_limits_hold() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(EgressConfig {
        rate_per_minute: 3,
        max_request_bytes: 4096,
        ..config()
    });
    thief(&airlock, &a, &b);
    let big_body = "x".repeat(5000);
    let (lines, records) = act(
        &airlock,
        json!({"requests": [
            request("GET", &a.url("/api/big"), json!([]), ""),
            request("POST", &a.url("/api/x"), json!([]), &big_body),
            request("GET", &a.url("/api/1"), json!([]), ""),
            request("GET", &a.url("/api/2"), json!([]), ""),
            request("GET", &a.url("/api/3"), json!([]), ""),
        ]}),
    );
    refused(&lines, &records, 0, "limit", "larger than 65536 bytes");
    assert!(records[0].details["bytes_in"].parse::<u64>().unwrap() > 0);
    refused(&lines, &records, 1, "limit", "at most 4096 are sent");
    assert!(lines[2].starts_with("#2 status=200"), "{}", lines[2]);
    assert!(lines[3].starts_with("#3 status=200"), "{}", lines[3]);
    // The oversize response, the two fine ones: the fourth attempt within the minute.
    refused(
        &lines,
        &records,
        4,
        "limit",
        "more than 3 outbound requests per minute",
    );
}
