//! The example plugins run on their events and make the expected writes.

use crate::support::{TestHost, ticket};
use airlock_host::audit::{AuditFilter, Decision};
use airlock_host::model::Kind;
use serde_json::json;

#[test]
fn auto_tagger_tags_by_keyword_rules() {
    let host = TestHost::new();
    host.install(
        "auto-tagger",
        &["ticket.subject", "ticket.description"],
        &["ticket.tags"],
    );
    host.airlock
        .set_settings(
            "auto-tagger",
            json!({"rules": [
                {"keyword": "refund", "tag": "billing"},
                {"keyword": "crash", "tag": "bug"},
                {"keyword": "password", "tag": "auth"},
            ]}),
        )
        .unwrap();
    let results = host.ticket_created(ticket(
        "t-1",
        "Refund please",
        "The app CRASHED twice",
        "u-2",
    ));
    let r = TestHost::result_of(&results, "auto-tagger");
    assert_eq!(r.status, "ok", "{r:?}");
    let mut tags = host.ticket("t-1").tags;
    tags.sort();
    assert_eq!(tags, ["billing", "bug"]);

    // The write went through the broker and is in the audit log.
    let records = host
        .airlock
        .audit(&AuditFilter {
            resource: Some("t-1".into()),
            ..Default::default()
        })
        .unwrap();
    let write = records
        .iter()
        .find(|r| r.entry.call == "helpdesk.add-tags")
        .expect("add-tags audited");
    assert_eq!(write.entry.decision, Some(Decision::Allow));
    assert_eq!(write.entry.fields_returned, ["ticket.tags"]);
}

#[test]
fn auto_tagger_cannot_write_tags_without_the_grant() {
    let host = TestHost::new();
    host.install(
        "auto-tagger",
        &["ticket.subject", "ticket.description"],
        &[],
    );
    host.airlock
        .set_settings(
            "auto-tagger",
            json!({"rules": [{"keyword": "refund", "tag": "billing"}]}),
        )
        .unwrap();
    let results = host.ticket_created(ticket("t-2", "Refund", "", "u-2"));
    let r = TestHost::result_of(&results, "auto-tagger");
    assert_eq!(r.status, "failed");
    assert!(host.ticket("t-2").tags.is_empty());
    let records = host.airlock.audit(&AuditFilter::default()).unwrap();
    let denied = records
        .iter()
        .find(|r| r.entry.call == "helpdesk.add-tags")
        .expect("denied write audited");
    assert_eq!(denied.entry.decision, Some(Decision::Deny));
    assert!(
        denied.entry.reason.contains("not granted"),
        "{}",
        denied.entry.reason
    );
}

#[test]
fn vip_escalation_escalates_vip_domains_only() {
    let host = TestHost::new();
    host.install_all_granted("vip-escalation");
    host.airlock
        .set_settings(
            "vip-escalation",
            json!({"vip_domains": ["bigcorp.example"]}),
        )
        .unwrap();

    let results = host.ticket_created(ticket("t-vip", "Help", "Hi", "u-vip"));
    assert_eq!(TestHost::result_of(&results, "vip-escalation").status, "ok");
    let t = host.ticket("t-vip");
    assert_eq!(
        t.custom_fields.get("escalation").map(String::as_str),
        Some("vip")
    );
    let notes = host.airlock.store().comments("t-vip", 10).unwrap();
    assert_eq!(notes.len(), 1, "one internal note");
    assert_eq!(notes[0]["public"], json!(false));
    let body = notes[0]["body"].as_str().unwrap();
    assert!(
        !body.contains("vera@bigcorp.example"),
        "the note must not copy the email"
    );

    let results = host.ticket_created(ticket("t-small", "Help", "Hi", "u-2"));
    assert_eq!(TestHost::result_of(&results, "vip-escalation").status, "ok");
    assert!(
        !host
            .ticket("t-small")
            .custom_fields
            .contains_key("escalation")
    );
    assert!(
        host.airlock
            .store()
            .comments("t-small", 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        host.airlock
            .store()
            .get(Kind::Ticket, "t-small")
            .unwrap()
            .is_some()
    );
}

#[test]
fn two_events_to_one_plugin_share_no_state() {
    let host = TestHost::new();
    host.install("counter", &[], &[]);
    for id in ["t-a", "t-b", "t-c"] {
        let results = host.ticket_created(ticket(id, "s", "d", "u-2"));
        let r = TestHost::result_of(&results, "counter");
        assert_eq!(r.summary.as_deref(), Some("count=1"), "{r:?}");
    }
}

#[test]
fn disabled_installations_receive_no_events() {
    let host = TestHost::new();
    host.install("counter", &[], &[]);
    host.airlock.set_enabled("counter", false).unwrap();
    let results = host.ticket_created(ticket("t-d", "s", "d", "u-2"));
    assert!(results.is_empty(), "{results:?}");
}
