//! The incident kill switch: a running invocation stops at its next epoch tick, new
//! ones do not start, the kill is an audit record and an alert, a killed installation
//! cannot merely be enabled, and reviving it needs a step-up.

use super::Service;
use airlock_host::account::Role;
use airlock_host::app::{Actor, AppError};
use airlock_host::dispatch::{DispatchResult, EventRequest};
use serde_json::json;
use std::time::Duration;

/// Installs the looper (it never returns) with a 10 s deadline, so only a kill ends it
/// sooner than that.
fn looper(service: &Service) {
    let manifest = format!(
        "{}\n[limits]\ntimeout_ms = 10000\n",
        crate::support::manifest("looper")
    );
    let cli = Actor::cli();
    service
        .airlock
        .admin(&cli)
        .install_unsigned(
            &manifest,
            crate::support::component("looper"),
            &crate::support::unsigned(None),
        )
        .map(|i| i.installation().clone())
        .unwrap();
    service.airlock.import(&crate::support::fixture()).unwrap();
}

/// Posts an event on another thread; returns its handle.
fn event_in_background(
    service: &Service,
    id: &str,
) -> std::thread::JoinHandle<Vec<DispatchResult>> {
    let airlock = service.airlock.clone();
    let ticket = crate::support::ticket(id, "Refund", "x", "u-2");
    std::thread::spawn(move || {
        airlock
            .handle_event(EventRequest::TicketCreated { ticket })
            .unwrap()
    })
}

fn kind(results: &[DispatchResult]) -> Option<&str> {
    let looper = results.iter().find(|r| r.installation == "looper")?;
    looper.failure.as_ref().map(|f| f.kind.as_str())
}

#[test]
fn a_kill_stops_the_running_invocation_and_is_recorded_and_alerted() {
    let service = Service::start();
    let admin = service.onboard("root", Role::Admin, None, true);
    looper(&service);
    let running = event_in_background(&service, "t-kill");
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = service.call(
        "POST",
        "/api/v1/plugins/looper/kill",
        Some(&admin.session),
        None,
        Some(json!({"reason": "exfiltration suspected"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["killed"][0]["id"], "looper");
    let radius = body["blast_radius"][0].as_str().unwrap();
    assert!(
        radius.starts_with("/api/v1/audit/blast-radius?installation=looper&since="),
        "{radius}"
    );
    let results = running.join().unwrap();
    assert_eq!(kind(&results), Some("killed"), "{results:?}");

    // Nothing new starts; enabling is not enough to bring it back.
    let after = service
        .airlock
        .handle_event(EventRequest::TicketCreated {
            ticket: crate::support::ticket("t-after", "x", "y", "u-2"),
        })
        .unwrap();
    assert!(
        after.iter().all(|r| r.installation != "looper"),
        "{after:?}"
    );
    let (status, body) = service.call(
        "POST",
        "/api/v1/plugins/looper/enable",
        Some(&admin.session),
        None,
        None,
    );
    assert_eq!(status, 409, "{body}");

    let kill = &service.records("admin.plugin.kill")[0];
    assert_eq!(kill.entry.resource, "looper");
    assert_eq!(kill.entry.details["actor"], "root");
    assert_eq!(kill.entry.details["reason"], "exfiltration suspected");
    let outcome = service.records("handler.handle");
    assert!(
        outcome
            .iter()
            .any(|r| r.entry.installation == "looper" && r.entry.reason.starts_with("killed"))
    );
    let alerts = service.airlock.alerts(&Default::default()).unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.rule == airlock_host::monitor::Rule::PluginKilled
                && a.installation == "looper"),
        "{alerts:?}"
    );

    // Reviving needs a step-up; then it is enabled and out of the switch.
    let mut not_stepped_up = Actor::cli();
    not_stepped_up.stepped_up = false;
    let refused = service.airlock.admin(&not_stepped_up).revive("looper");
    assert!(matches!(refused, Err(AppError::StepUp(_))), "{refused:?}");
    let cli = Actor::cli();
    let revived = service.airlock.admin(&cli).revive("looper").unwrap();
    assert!(revived.enabled && revived.killed.is_none());
    assert!(!service.airlock.runtime().kill_switch().is_killed("looper"));
}

#[test]
fn a_kill_recorded_by_another_process_reaches_running_invocations() {
    let service = Service::start();
    looper(&service);
    let running = event_in_background(&service, "t-elsewhere");
    std::thread::sleep(Duration::from_millis(300));
    // What a kill by another process sharing the store leaves there.
    service
        .airlock
        .store()
        .update_installation("looper", &mut |i| {
            i.enabled = false;
            i.killed = Some(airlock_host::installation::Kill {
                reason: "from the command line".into(),
                by: "cli".into(),
                at: airlock_host::audit::now_rfc3339(),
            });
            true
        })
        .unwrap();
    // A serving host runs this every second.
    service.airlock.sync_kill_switch().unwrap();
    let results = running.join().unwrap();
    assert_eq!(kind(&results), Some("killed"), "{results:?}");
}
