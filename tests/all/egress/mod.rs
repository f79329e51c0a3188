//! Brokered outbound HTTP: a real HTTP server on loopback, the service in dev mode, and a
//! hostile plugin (`secret-thief`) that tries every way to read a secret or to send data
//! where it may not go. Each attempt fails and is audited with its reason.
//!
//! Tests: secrets in [`secrets`], where requests may go in [`destinations`], what they
//! may carry in [`data`].

use crate::support::{component, fixture, manifest, ticket};
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditEntry, AuditFilter, Decision};
use airlock_host::broker::is_intent;
use airlock_host::dispatch::EventRequest;
use airlock_host::egress::{DlpAction, EgressConfig, StaticResolver};
use airlock_host::installation::Grants;
use airlock_host::redaction::RedactionConfig;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "S3CRET-tok-9f8e7d6c5b4a";
const EMAIL: &str = "vera@bigcorp.example";

/// How the test server answers a registered path.
#[derive(Clone)]
enum Route {
    /// 302 to this location.
    Redirect(String),
    /// 200 with this body, for paths under this prefix.
    Quiet(&'static str),
}

/// A tiny HTTP/1.1 server: records every request and answers by path: a registered
/// route; `/api/big` → 200 KiB; else the request echoed.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    routes: Arc<Mutex<Vec<(String, Route)>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(Mutex::new(Vec::new()));
        let (log, table) = (seen.clone(), routes.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, table) = (log.clone(), table.clone());
                std::thread::spawn(move || serve(stream, &log, &table));
            }
        });
        Server { addr, seen, routes }
    }

    /// Makes `path` answer 302 to `to`; returns the URL of `path`.
    fn redirect(&self, path: &str, to: &str) -> String {
        self.routes
            .lock()
            .unwrap()
            .push((path.to_string(), Route::Redirect(to.to_string())));
        self.url(path)
    }

    /// Makes every path under `prefix` answer 200 with `body` instead of the echo.
    fn quiet(&self, prefix: &str, body: &'static str) {
        self.routes
            .lock()
            .unwrap()
            .push((prefix.to_string(), Route::Quiet(body)));
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

fn serve(mut s: TcpStream, log: &Mutex<Vec<String>>, routes: &Mutex<Vec<(String, Route)>>) {
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
    let route = routes
        .lock()
        .unwrap()
        .iter()
        .find(|(p, r)| match r {
            Route::Redirect(_) => *p == target,
            Route::Quiet(_) => target.starts_with(p.as_str()),
        })
        .map(|(_, r)| r.clone());
    let (status, extra, body) = if let Some(Route::Redirect(to)) = route {
        ("302 Found", format!("Location: {to}\r\n"), Vec::new())
    } else if let Some(Route::Quiet(text)) = route {
        ("200 OK", String::new(), text.as_bytes().to_vec())
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
    open_with(egress, Default::default())
}

/// [`open`] with the admin's `[redaction]` configuration.
fn open_with(egress: EgressConfig, redaction: RedactionConfig) -> (tempfile::TempDir, Airlock) {
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
            redaction_config: redaction,
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
    let lower = SECRET.to_lowercase();
    assert!(
        !summary.to_lowercase().contains(&lower),
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
        // Each request's outcome; its intent (recorded before it was sent) is a record too.
        .filter(|e| e.invocation == r.invocation && e.call == "http.request" && !is_intent(e))
        .collect::<Vec<_>>();
    for e in &records {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !text.to_lowercase().contains(&lower),
            "the audit holds the secret: {text}"
        );
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

mod audit;
mod backup;
mod data;
mod destinations;
mod dsr;
mod incident;
mod secrets;
mod storage;
