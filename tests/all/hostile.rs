//! Hostile plugins fail with a recorded reason, and only their own invocation fails.

use crate::support::{TestHost, ticket};
use airlock_host::audit::AuditFilter;
use airlock_host::dispatch::{DispatchResult, EventRequest};
use std::sync::atomic::{AtomicBool, Ordering};

fn failure_kind(host: &TestHost, plugin: &str, id: &str) -> String {
    let results = host.ticket_created(ticket(id, "s", "d", "u-2"));
    outcome_kind(host, plugin, &results)
}

/// The failure kind of `plugin`'s result, checked against its audited outcome.
fn outcome_kind(host: &TestHost, plugin: &str, results: &[DispatchResult]) -> String {
    let r = TestHost::result_of(results, plugin);
    assert_eq!(r.status, "failed", "{r:?}");
    let kind = r.failure.as_ref().unwrap().kind.as_str().to_string();
    // The outcome is in the audit log with its reason.
    let records = host
        .airlock
        .audit(&AuditFilter {
            installation: Some(plugin.into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    let outcome = records
        .iter()
        .rev()
        .find(|r| r.entry.call == "handler.handle")
        .expect("outcome audited");
    assert!(
        outcome.entry.reason.starts_with(&format!("{kind}:")),
        "{}",
        outcome.entry.reason
    );
    kind
}

#[test]
fn looper_times_out() {
    let host = TestHost::new();
    host.install("looper", &[], &[]);
    assert_eq!(failure_kind(&host, "looper", "t-1"), "timeout");
}

#[test]
fn memory_hog_hits_its_cap() {
    let host = TestHost::new();
    host.install("memory-hog", &[], &[]);
    assert_eq!(failure_kind(&host, "memory-hog", "t-1"), "memory");
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let host = TestHost::new();
    host.install("stack-overflow", &[], &[]);
    assert_eq!(failure_kind(&host, "stack-overflow", "t-1"), "stack");
}

#[test]
fn panic_message_reaches_the_host() {
    let host = TestHost::new();
    host.install("panicker", &[], &[]);
    let results = host.ticket_created(ticket("t-1", "s", "d", "u-2"));
    let r = TestHost::result_of(&results, "panicker");
    let failure = r.failure.as_ref().expect("failed");
    assert_eq!(failure.kind.as_str(), "panic");
    assert!(
        failure.message.contains("probe panic: intentional"),
        "{failure:?}"
    );
}

#[test]
fn enormous_result_is_refused() {
    let host = TestHost::new();
    host.install("huge-result", &[], &[]);
    assert_eq!(failure_kind(&host, "huge-result", "t-1"), "limit");
}

#[test]
fn a_well_behaved_plugin_keeps_serving_while_hostile_ones_run() {
    let host = TestHost::new();
    for hostile in [
        "looper",
        "memory-hog",
        "stack-overflow",
        "panicker",
        "huge-result",
    ] {
        host.install(hostile, &[], &[]);
    }
    host.install("counter", &[], &[]);
    let hostile_running = AtomicBool::new(true);
    let served = std::thread::scope(|s| {
        // Events to the counter alone, on another thread, while the hostile batch runs.
        let worker = s.spawn(|| {
            let inst = host.airlock.installation("counter").unwrap();
            let mut served = 0;
            while hostile_running.load(Ordering::Relaxed) {
                let input = airlock_host::runtime::EventInput::TicketCreated {
                    ticket_id: "t-side".into(),
                };
                let r = host.airlock.run(inst.clone(), &input).unwrap();
                assert_eq!(r.summary.as_deref(), Some("count=1"), "{r:?}");
                served += 1;
            }
            served
        });
        host.ticket_created(ticket("t-side", "s", "d", "u-2"));
        let results = host.ticket_created(ticket("t-main", "s", "d", "u-2"));
        hostile_running.store(false, Ordering::Relaxed);
        for r in &results {
            let expected_ok = r.installation == "counter";
            assert_eq!(r.status == "ok", expected_ok, "{r:?}");
        }
        worker.join().unwrap()
    });
    assert!(
        served > 0,
        "the counter served no event while hostile plugins ran"
    );
}

/// Issue 12: the failure kind comes from the host's knowledge (the limiter, the epoch,
/// the trap code), not from what the plugin reported. `misfit` reports a panic and then
/// runs out of time or memory, recurses through two functions until its shadow stack
/// overflows, or returns a string that is not UTF-8.
#[test]
fn failure_kinds_come_from_the_host_not_the_plugin() {
    let host = TestHost::new();
    host.install("misfit", &["ticket.requester_id", "requester.name"], &[]);
    host.ticket_created(ticket("t-1", "s", "d", "u-2"));
    for (end, kind) in [
        ("fake-panic-then-loop", "timeout"),
        ("fake-panic-then-oom", "memory"),
        ("mutual-recursion", "stack"),
        ("bad-utf8", "abi"),
        ("panic", "panic"),
        ("error", "plugin-error"),
    ] {
        let results = host
            .airlock
            .handle_event(EventRequest::Action {
                ticket_id: "t-1".into(),
                name: "probe".into(),
                payload: serde_json::json!({"values": [], "end": end}),
            })
            .unwrap();
        assert_eq!(outcome_kind(&host, "misfit", &results), kind, "{end}");
    }
}
