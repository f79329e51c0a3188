//! Issue 22: the incident report names each data subject an installation touched, the
//! fields of theirs it read, and where the invocations that touched them sent data.

use super::*;
use airlock_host::app::Actor;
use airlock_host::app::incident::IncidentQuery;

#[test]
fn the_incident_report_lists_each_subject_with_fields_read_and_destinations_reached() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let (lines, _) = act(
        &airlock,
        json!({"requests": [request("POST", &a.url("/api/echo"), json!([]), "{subject}")]}),
    );
    assert!(lines[0].starts_with("#0 status=200"), "{}", lines[0]);

    let cli = Actor::cli();
    let query = IncidentQuery {
        installation: "secret-thief".into(),
        since: "2000-01-01T00:00:00Z".into(),
        until: None,
    };
    let report = airlock.admin(&cli).incident_report(&query).unwrap();
    let vip = report
        .subjects
        .iter()
        .find(|s| s.user == "u-vip")
        .unwrap_or_else(|| panic!("{report:?}"));
    assert!(vip.read.contains("ticket.subject"), "{vip:?}");
    assert!(vip.via.contains("ticket:t-1"), "{vip:?}");
    let a_dest = a.addr.to_string();
    let b_dest = b.addr.to_string();
    assert!(vip.sent_to.iter().any(|d| d.contains(&a_dest)), "{vip:?}");
    assert!(!vip.sent_to.iter().any(|d| d.contains(&b_dest)), "{vip:?}");

    let csv = report.csv();
    assert!(csv.starts_with("user,read,written,sent_to,via\n"), "{csv}");
    assert!(csv.contains("u-vip,"), "{csv}");
    let json = serde_json::to_string(&report).unwrap();
    for text in [&csv, &json] {
        assert!(!text.contains(EMAIL), "a value leaked: {text}");
    }

    // Making the report is on the record; a bad window is refused and recorded too.
    let bad = IncidentQuery {
        since: "last week".into(),
        ..query
    };
    assert!(airlock.admin(&cli).incident_report(&bad).is_err());
    let recorded = airlock
        .audit(&AuditFilter {
            call: Some("admin.incident.report".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].entry.resource, "secret-thief");
    assert_eq!(
        recorded[0].entry.details["subjects"],
        report.subjects.len().to_string()
    );
    assert_eq!(recorded[1].entry.decision, Some(Decision::Deny));
}
