//! Access reviews as a workflow: opened with last use, each grant kept, revoked (applied
//! at once) or deferred with a reason, signed off once all are decided; each step an
//! audit record; an overdue review raises one alert.

use super::Service;
use airlock_host::account::Role;
use airlock_host::app::{Actor, AppError, Options};
use airlock_host::dispatch::EventRequest;
use airlock_host::installation::Grants;
use airlock_host::review::Outcome;
use serde_json::{Value, json};

/// Installs `name` from the command line with these grants.
fn install(service: &Service, name: &str, grants: Grants) -> String {
    let cli = Actor::cli();
    let admin = service.airlock.admin(&cli);
    let inst = admin
        .install_unsigned(
            &crate::support::manifest(name),
            crate::support::component(name),
            &crate::support::unsigned(None),
        )
        .map(|i| i.installation().clone())
        .unwrap();
    admin.set_grants(&inst.id, grants).unwrap();
    inst.id
}

fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn item<'a>(review: &'a Value, installation: &str, grant: &str) -> &'a Value {
    review["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["installation"] == installation && i["grant"] == grant)
        .unwrap_or_else(|| panic!("no item {installation} {grant} in {review}"))
}

#[test]
fn a_review_is_decided_item_by_item_applies_revocations_and_is_signed_off_on_the_record() {
    let service = Service::start();
    let auditor = service.onboard("audrey", Role::Auditor, None, true);
    let viewer = service.onboard("vic", Role::Viewer, None, false);
    let (a, v) = (
        Some(auditor.session.as_str()),
        Some(viewer.session.as_str()),
    );
    service.airlock.import(&crate::support::fixture()).unwrap();
    let tagger = install(
        &service,
        "auto-tagger",
        Grants {
            read: set(&["ticket.subject", "ticket.description"]),
            write: set(&["ticket.tags"]),
            ..Default::default()
        },
    );
    let notify = install(
        &service,
        "slack-notify",
        Grants {
            read: set(&["ticket.subject", "ticket.priority"]),
            ..Default::default()
        },
    );
    // slack-notify is disabled, so only the tagger uses its grants.
    service
        .airlock
        .admin(&Actor::cli())
        .set_enabled(&notify, false)
        .unwrap();
    service
        .airlock
        .handle_event(EventRequest::TicketCreated {
            ticket: crate::support::ticket("t-review", "Refund please", "It broke", "u-2"),
        })
        .unwrap();

    let (status, _) = service.call("POST", "/api/v1/reviews", v, None, None);
    assert_eq!(status, 403, "a viewer cannot open a review");
    let (status, review) = service.call(
        "POST",
        "/api/v1/reviews",
        a,
        None,
        Some(json!({"days": 30})),
    );
    assert_eq!(status, 200, "{review}");
    let id = review["id"].as_u64().unwrap();
    assert_eq!(review["items"].as_array().unwrap().len(), 5, "{review}");
    assert!(
        item(&review, &tagger, "ticket.subject")["last_used"].is_string(),
        "{review}"
    );
    // The tagger has no keyword rules set, so it read but never wrote.
    assert!(
        item(&review, &tagger, "ticket.tags")["last_used"].is_null(),
        "{review}"
    );
    assert!(
        item(&review, &notify, "ticket.priority")["last_used"].is_null(),
        "{review}"
    );
    let (status, again) = service.call("POST", "/api/v1/reviews", a, None, None);
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{again}"
    );

    let decide = |number: &Value, decision: &str, reason: Option<&str>| {
        let mut body = json!({"item": number, "decision": decision});
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        service.call(
            "POST",
            &format!("/api/v1/reviews/{id}/decisions"),
            a,
            None,
            Some(body),
        )
    };
    let priority = item(&review, &notify, "ticket.priority")["item"].clone();
    let (status, body) = decide(&priority, "defer", None);
    assert_eq!(status, 400, "deferring needs a reason: {body}");
    let (status, body) = decide(&priority, "defer", Some("bad\u{1b}[2J"));
    assert_eq!(
        status, 400,
        "a reason with control characters is refused: {body}"
    );
    let (status, body) = decide(&priority, "revoke", None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = service.call(
        "POST",
        &format!("/api/v1/reviews/{id}/sign-off"),
        a,
        None,
        None,
    );
    assert_eq!(status, 400, "four items are undecided: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 item(s)"),
        "{body}"
    );
    for i in review["items"].as_array().unwrap() {
        if i["item"] == priority {
            continue;
        }
        let (decision, reason) = match i["grant"] == "ticket.subject" && i["installation"] == notify
        {
            true => (
                "defer",
                Some("the vendor is checking whether it still needs it"),
            ),
            false => ("keep", None),
        };
        let (status, body) = decide(&i["item"], decision, reason);
        assert_eq!(status, 200, "{body}");
    }
    let (status, signed) = service.call(
        "POST",
        &format!("/api/v1/reviews/{id}/sign-off"),
        a,
        None,
        Some(json!({"note": "Q4 review"})),
    );
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["signed_off"]["by"], "audrey");
    let (status, body) = decide(&priority, "keep", None);
    assert_eq!(
        status, 409,
        "a signed-off review takes no decisions: {body}"
    );

    // The revocation was applied, by the reviewer, on the record.
    let grants = service
        .airlock
        .store()
        .installation(&notify)
        .unwrap()
        .unwrap()
        .grants;
    assert_eq!(grants.read, set(&["ticket.subject"]));
    let revoked = service.records("admin.grants.change");
    let revoked = revoked.last().unwrap();
    assert_eq!(revoked.entry.resource, notify);
    assert_eq!(revoked.entry.details["actor"], "audrey");
    assert_eq!(revoked.entry.details["read.removed"], "ticket.priority");
    let starts = service.records("admin.review.start");
    let reasons: Vec<&str> = starts.iter().map(|r| r.entry.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["ok", "conflict"],
        "the second start is recorded as refused"
    );
    let decisions = service.records("admin.review.decide");
    let allowed: Vec<_> = decisions
        .iter()
        .filter(|r| r.entry.reason == "ok")
        .collect();
    assert_eq!(allowed.len(), 5, "one record per decision");
    assert_eq!(decisions.len(), 8, "and one per refused decision");
    assert!(allowed.iter().any(|r| r.entry.details["outcome"] == "defer"
        && r.entry.details["reason"].starts_with("the vendor")));
    let sign_off = &service.records("admin.review.sign-off");
    let done = sign_off.iter().find(|r| r.entry.reason == "ok").unwrap();
    assert_eq!(done.entry.resource, id.to_string());
    assert_eq!(
        (
            done.entry.details["kept"].as_str(),
            done.entry.details["revoked"].as_str(),
            done.entry.details["deferred"].as_str()
        ),
        ("3", "1", "1")
    );

    let (status, state) = service.call("GET", "/api/v1/reviews/status", a, None, None);
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["last_signed_off"][0], id);
    assert_eq!(
        (state["overdue"].as_bool(), state["interval_days"].as_u64()),
        (Some(false), Some(90))
    );
    let (status, changes) = service.call(
        "GET",
        &format!("/api/v1/plugins/{notify}/changes"),
        a,
        None,
        None,
    );
    assert_eq!(status, 200, "{changes}");
    let actions: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "admin.plugin.install",
            "admin.grants.set",
            "admin.plugin.disable",
            "admin.grants.change"
        ],
        "{changes}"
    );
    assert!(
        changes[3]["actor"]
            .as_str()
            .unwrap()
            .starts_with("audrey via session:"),
        "{changes}"
    );
    assert!(service.airlock.verify_audit(&Default::default()).is_ok());
}

#[test]
fn an_overdue_review_raises_one_alert_and_a_sign_off_clears_it() {
    let service = Service::with(Options {
        review_interval_days: 30,
        ..Options::default()
    });
    let id = install(
        &service,
        "auto-tagger",
        Grants {
            read: set(&["ticket.subject"]),
            ..Default::default()
        },
    );
    let status = service.airlock.check_review_due().unwrap();
    assert!(!status.overdue, "installed just now: {status:?}");
    // Installed 31 days ago, never reviewed.
    service
        .airlock
        .store()
        .update_installation(&id, &mut |i| {
            i.installed_at = airlock_host::audit::rfc3339_millis(
                time::OffsetDateTime::now_utc() - time::Duration::days(31),
            );
            true
        })
        .unwrap();
    for _ in 0..3 {
        assert!(service.airlock.check_review_due().unwrap().overdue);
    }
    let overdue = |s: &Service| {
        s.airlock
            .alerts(&airlock_host::monitor::AlertQuery::default())
            .unwrap()
            .into_iter()
            .filter(|a| a.rule == airlock_host::monitor::Rule::ReviewOverdue)
            .count()
    };
    assert_eq!(
        overdue(&service),
        1,
        "one alert per due date, however often checked"
    );
    assert_eq!(service.records("alert.raised").len(), 1);

    let cli = Actor::cli();
    let admin = service.airlock.admin(&cli);
    let review = admin.start_review(90).unwrap();
    admin.decide(review.id, 1, Outcome::Keep, None).unwrap();
    admin.sign_off(review.id, None).unwrap();
    let status = service.airlock.check_review_due().unwrap();
    assert!(!status.overdue, "{status:?}");
    assert_eq!(overdue(&service), 1);
}

#[test]
fn racing_starts_open_exactly_one_review() {
    let service = Service::start();
    install(
        &service,
        "auto-tagger",
        Grants {
            read: set(&["ticket.subject"]),
            ..Default::default()
        },
    );
    let cli = Actor::cli();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| service.airlock.admin(&cli).start_review(30)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let opened = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(AppError::Conflict(_))))
        .count();
    assert_eq!((opened, refused), (1, 7), "{results:?}");
    assert_eq!(service.airlock.reviews(10).unwrap().len(), 1);
}
