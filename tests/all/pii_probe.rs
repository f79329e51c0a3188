//! The over-curious probe: undeclared fields are denied, declared-but-not-granted fields
//! come back as none, and every attempt is in the audit log.

use crate::support::{TestHost, ticket};
use airlock_host::audit::{AuditFilter, Decision};
use airlock_host::broker::{NOT_DECLARED_READ, NOT_GRANTED};

#[test]
fn probe_is_denied_undeclared_and_withheld_ungranted() {
    let host = TestHost::new();
    // Declares subject, requester_id, requester.email and requester.phone; phone is not granted.
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    let results = host.ticket_created(ticket("t-p", "Hello", "SECRET DESCRIPTION", "u-vip"));
    let r = TestHost::result_of(&results, "pii-probe");
    assert_eq!(
        r.summary.as_deref(),
        Some(
            "requester.notes=denied ticket.description=denied requester.phone=none requester.email=present"
        ),
        "{r:?}"
    );

    let records = host
        .airlock
        .audit(&AuditFilter {
            installation: Some("pii-probe".into()),
            ..Default::default()
        })
        .unwrap();
    let denied: Vec<_> = records
        .iter()
        .filter(|r| r.entry.decision == Some(Decision::Deny))
        .collect();
    assert!(
        denied.iter().any(|r| r.entry.call == "helpdesk.get-user"
            && r.entry.resource == "u-vip"
            && r.entry.reason.contains("requester.notes")
            && r.entry.reason.contains(NOT_DECLARED_READ)),
        "{denied:#?}"
    );
    assert!(
        denied.iter().any(|r| r.entry.call == "helpdesk.get-ticket"
            && r.entry.reason.contains("ticket.description")),
        "{denied:#?}"
    );
    let phone = records
        .iter()
        .find(|r| r.entry.call == "helpdesk.get-user" && r.entry.decision == Some(Decision::Allow))
        .expect("the allowed get-user is audited");
    assert_eq!(phone.entry.fields_returned, ["requester.email"]);
    assert!(
        phone
            .entry
            .fields_withheld
            .iter()
            .any(|w| w.field == "requester.phone" && w.reason == NOT_GRANTED),
        "{:?}",
        phone.entry.fields_withheld
    );

    // Values never reach the audit log.
    for record in &records {
        let text = serde_json::to_string(record).unwrap();
        for value in [
            "vera@bigcorp.example",
            "555 0100",
            "SECRET DESCRIPTION",
            "private agent note",
        ] {
            assert!(
                !text.contains(value),
                "audit record {} leaks a value",
                record.seq
            );
        }
    }
}

#[test]
fn probe_with_no_grants_sees_nothing() {
    let host = TestHost::new();
    host.install("pii-probe", &[], &[]);
    let results = host.ticket_created(ticket("t-q", "Hello", "d", "u-vip"));
    let r = TestHost::result_of(&results, "pii-probe");
    // Without ticket.requester_id granted, the probe cannot even learn who asked.
    assert_eq!(
        r.summary.as_deref(),
        Some(
            "requester.notes=skipped ticket.description=denied requester.phone=skipped requester.email=skipped"
        ),
        "{r:?}"
    );
}
