//! Issue 13: host work is bounded by the invocation, not only the guest's instructions.
//! `flooder` makes host calls without end: invalid ones, denied ones, valid ones, log
//! lines, and requests to a server that answers slowly. Each flood ends with `limit` (or
//! `timeout`) after a bounded number of audit records, summed up in one record; a slow
//! server cannot hold an invocation past its deadline.

use crate::support::{component, fixture, manifest, ticket};
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditFilter, AuditRecord};
use airlock_host::broker::{MAX_CALLS_PER_INVOCATION, REFUSED_CALL};
use airlock_host::dispatch::{DispatchResult, EventRequest};
use airlock_host::egress::EgressConfig;
use airlock_host::installation::Grants;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// How long the slow server waits before it answers.
const SLOW: Duration = Duration::from_secs(3);

/// A server that reads a request, waits [`SLOW`], then answers 200.
fn slow_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                std::thread::sleep(SLOW);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            });
        }
    });
    addr
}

/// The service in dev mode with `flooder` installed against `server`, its ticket field
/// and its destination granted.
fn host(server: std::net::SocketAddr) -> (tempfile::TempDir, Airlock) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        egress: EgressConfig {
            dev_mode: true,
            timeout: Duration::from_secs(10),
            rate_per_minute: 100_000,
            ..EgressConfig::default()
        },
        master_key: Some([7; 32]),
        ..Options::default()
    };
    let airlock = Airlock::open_with(dir.path(), options).unwrap();
    airlock.import(&fixture()).unwrap();
    airlock
        .handle_event(EventRequest::TicketCreated {
            ticket: ticket("t-1", "Printer on fire", "It smokes.", "u-2"),
        })
        .unwrap();
    let text = manifest("flooder").replace("127.0.0.1:18081", &server.to_string());
    let inst = airlock
        .install("plugin.toml", &text, &component("flooder"), None)
        .unwrap();
    let grants = Grants {
        read: inst.manifest.data.read.clone(),
        egress: [format!("http://{server}")].into(),
        ..Default::default()
    };
    airlock.set_grants("flooder", grants).unwrap();
    (dir, airlock)
}

fn flood(airlock: &Airlock, mode: &str, server: std::net::SocketAddr) -> DispatchResult {
    let results = airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "flood".into(),
            payload: serde_json::json!({"mode": mode, "server": format!("http://{server}")}),
        })
        .unwrap();
    results
        .into_iter()
        .find(|r| r.installation == "flooder")
        .unwrap()
}

fn records_of(airlock: &Airlock, invocation: &str) -> Vec<AuditRecord> {
    let all = airlock
        .audit(&AuditFilter {
            installation: Some("flooder".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    all.into_iter()
        .filter(|r| r.entry.invocation == invocation)
        .collect()
}

#[test]
fn floods_of_host_calls_end_the_invocation_after_a_bounded_audit() {
    let server = slow_server();
    let (_dir, airlock) = host(server);
    for mode in ["invalid", "refused", "valid", "log"] {
        let r = flood(&airlock, mode, server);
        assert_eq!(r.status, "failed", "{mode}: {r:?}");
        let failure = r.failure.as_ref().unwrap();
        assert_eq!(failure.kind.as_str(), "limit", "{mode}: {failure:?}");
        let records = records_of(&airlock, &r.invocation);
        // The pre-fetch, the calls within the cap, the summary and the outcome.
        assert!(
            records.len() <= MAX_CALLS_PER_INVOCATION as usize + 3,
            "{mode}: {} records",
            records.len()
        );
        let summary = records
            .iter()
            .find(|r| r.entry.call == REFUSED_CALL)
            .unwrap_or_else(|| panic!("{mode}: no summary record"));
        assert_eq!(summary.entry.details["budget"], "calls", "{mode}");
        assert!(summary.entry.reason.starts_with("limit: "), "{mode}");
        assert_eq!(
            records.last().unwrap().entry.call,
            "handler.handle",
            "{mode}: the outcome comes last"
        );
    }
}

#[test]
fn a_slow_server_cannot_hold_an_invocation_past_its_deadline() {
    let server = slow_server();
    let (_dir, airlock) = host(server);
    let r = flood(&airlock, "egress", server);
    assert_eq!(r.status, "failed", "{r:?}");
    let kind = r.failure.as_ref().unwrap().kind.as_str();
    assert!(kind == "timeout" || kind == "limit", "{r:?}");
    // The manifest's deadline is 400 ms; the server answers after 3 s. Before the fix
    // the request waited for the server.
    assert!(
        r.elapsed_ms < SLOW.as_millis() as f64 / 2.0,
        "the invocation took {} ms",
        r.elapsed_ms
    );
    let records = records_of(&airlock, &r.invocation);
    let request = records
        .iter()
        .find(|r| r.entry.call == "http.request" && !airlock_host::broker::is_intent(&r.entry))
        .expect("the request is audited");
    assert!(
        request
            .entry
            .reason
            .starts_with("limit: the invocation's deadline passed"),
        "{}",
        request.entry.reason
    );
}
