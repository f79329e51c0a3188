//! Issue 23: retention deletes what its policies say was kept long enough, judged by a
//! clock the test sets, in batches, and only counts on a dry run; each run is recorded.

use crate::support::{TestHost, ticket};
use airlock_host::app::Actor;
use airlock_host::app::retention::RetentionPolicy;
use airlock_host::audit::AuditFilter;
use airlock_host::model::{Dataset, Kind, User};
use airlock_host::monitor::{AlertQuery, Rule};
use std::collections::BTreeMap;

fn with_old_and_new_tickets() -> TestHost {
    let host = TestHost::new();
    let aged = |id: &str, status: &str, updated: &str, requester: &str| {
        let mut t = ticket(id, "subject", "body", requester);
        t.status = Some(status.into());
        t.updated_at = Some(updated.into());
        t
    };
    let data = Dataset {
        users: vec![User {
            id: "u-gone".into(),
            name: Some("Only one old ticket".into()),
            ..Default::default()
        }],
        tickets: vec![
            aged("t-old-closed", "closed", "2026-01-01T00:00:00Z", "u-gone"),
            aged("t-new-closed", "closed", "2026-11-30T00:00:00Z", "u-2"),
            aged("t-old-open", "open", "2026-01-01T00:00:00Z", "u-2"),
        ],
        ..Default::default()
    };
    host.airlock.import(&data).unwrap();
    host
}

fn at(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

#[test]
fn closed_tickets_then_the_users_they_left_behind_and_old_alerts_go_and_nothing_else() {
    let host = with_old_and_new_tickets();
    host.airlock
        .monitor()
        .raise_alert(
            Rule::PluginKilled,
            ("x", "x"),
            "old".into(),
            BTreeMap::new(),
        )
        .unwrap();
    let policy = RetentionPolicy {
        closed_tickets_days: Some(90),
        orphan_users: true,
        alerts_days: Some(30),
        ..Default::default()
    };
    let now = at("2026-12-04T00:00:00Z");
    let cli = Actor::cli();
    let admin = host.airlock.admin(&cli);
    let dry = admin
        .apply_retention(&policy, now, true, &mut |_| {})
        .unwrap();
    assert_eq!((dry.closed_tickets, dry.alerts), (1, 0), "{dry:?}");
    let get = |kind, id: &str| host.airlock.store().get(kind, id).unwrap();
    assert!(
        get(Kind::Ticket, "t-old-closed").is_some(),
        "a dry run deletes nothing"
    );

    let mut progress = Vec::new();
    let done = admin
        .apply_retention(&policy, now, false, &mut |n| progress.push(n))
        .unwrap();
    assert_eq!(done.closed_tickets, 1);
    assert!(done.orphan_users >= 1, "{done:?}");
    assert!(!progress.is_empty());
    assert!(get(Kind::Ticket, "t-old-closed").is_none());
    assert!(
        get(Kind::User, "u-gone").is_none(),
        "its only ticket is gone"
    );
    assert!(get(Kind::Ticket, "t-new-closed").is_some());
    assert!(get(Kind::Ticket, "t-old-open").is_some());
    assert!(get(Kind::User, "u-2").is_some(), "still a requester");
    assert_eq!(
        host.airlock.alerts(&AlertQuery::default()).unwrap().len(),
        1,
        "the alert is new"
    );

    // A clock 40 days on: the alert is old enough now.
    let later = admin
        .apply_retention(
            &policy,
            time::OffsetDateTime::now_utc() + time::Duration::days(40),
            false,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(later.alerts, 1);
    assert!(
        host.airlock
            .alerts(&AlertQuery::default())
            .unwrap()
            .is_empty()
    );

    let runs = host
        .airlock
        .audit(&AuditFilter {
            call: Some("admin.retention.apply".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].entry.details["dry_run"], "true");
    assert_eq!(runs[1].entry.details["closed_tickets"], "1");
    assert!(
        host.airlock
            .verify_audit(&Default::default())
            .unwrap()
            .is_ok()
    );
}
