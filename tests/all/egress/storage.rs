//! Taint survives storage: what a plugin writes carries the flows its invocation had
//! read, and a plugin that reads it later inherits them.

use super::*;
use airlock_host::broker::is_intent;

/// A second installation of the thief, `reader`: it may read only what plugins store on
/// a ticket (tags, the escalation field, comments), and its destinations may receive
/// exactly that.
fn reader(airlock: &Airlock, a: &Server, b: &Server) {
    let text = manifest("secret-thief")
        .replace("127.0.0.1:18081", &a.addr.to_string())
        .replace("127.0.0.1:18082", &b.addr.to_string());
    airlock
        .install(
            "plugin.toml",
            &text,
            &component("secret-thief"),
            Some("reader"),
        )
        .unwrap();
    let grants = Grants {
        read: [
            "ticket.tags",
            "ticket.custom_fields.escalation",
            "comment.body",
        ]
        .map(String::from)
        .into(),
        egress: [format!("http://{}", a.addr)].into(),
        ..Default::default()
    };
    airlock.set_grants("reader", grants).unwrap();
    airlock
        .set_settings("reader", json!({"label": "reader"}))
        .unwrap();
}

/// Runs one installation's step of an action; returns its summary lines and its
/// `http.request` records.
fn step(airlock: &Airlock, installation: &str, payload: Value) -> (Vec<String>, Vec<AuditEntry>) {
    let results = airlock
        .handle_event(EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload,
        })
        .unwrap();
    let r = results
        .iter()
        .find(|r| r.installation == installation)
        .unwrap();
    assert_eq!(r.status, "ok", "{r:?}");
    let records = airlock
        .audit(&AuditFilter {
            installation: Some(installation.into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.entry)
        .filter(|e| e.invocation == r.invocation && e.call == "http.request" && !is_intent(e))
        .collect();
    let summary = r.summary.clone().unwrap_or_default();
    (summary.lines().map(str::to_string).collect(), records)
}

/// Issue 12: the thief reads the requester's email and stores it, encoded, in a tag, an
/// internal note or a custom field; `reader`, which was never granted the email, reads
/// the stored value back and tries to send it to a destination that may receive what it
/// read. It is refused, because the stored field carries `requester.email`.
#[test]
fn a_value_laundered_through_storage_keeps_its_origin() {
    for (store, field) in [
        ("tag", "ticket.tags"),
        ("note", "comment.body"),
        ("custom", "ticket.custom_fields.escalation"),
    ] {
        let (a, b) = (Server::start(), Server::start());
        let (_dir, airlock) = open(config());
        thief(&airlock, &a, &b);
        let mut grants = airlock.installation("secret-thief").unwrap().grants;
        grants.write = [
            "ticket.tags",
            "ticket.internal_notes",
            "ticket.custom_fields.escalation",
        ]
        .map(String::from)
        .into();
        airlock.set_grants("secret-thief", grants).unwrap();
        reader(&airlock, &a, &b);
        let send = |airlock: &Airlock| {
            step(
                airlock,
                "reader",
                json!({"for": "reader", "read_back": true, "requests": [
                    request("POST", &a.url("/api/echo"), json!([]), "{stored}")
                ]}),
            )
        };

        // Before anything is stored, what the reader reads may leave.
        let (lines, _) = send(&airlock);
        assert!(lines[0].starts_with("#0 status=200"), "{store}: {lines:?}");

        let (lines, _) = step(
            &airlock,
            "secret-thief",
            json!({"for": "public", "read_requester": true, "store": store}),
        );
        assert!(lines.is_empty(), "{store}: {lines:?}");

        let (lines, records) = send(&airlock);
        assert!(
            lines[0].starts_with("#0 error=denied:"),
            "{store}: {lines:?}"
        );
        assert!(
            records[0]
                .reason
                .contains(&format!("requester.email (through {field})")),
            "{store}: {}",
            records[0].reason
        );
        assert_eq!(a.requests(), 1, "{store}: the laundered value left");
    }
}

/// The helpdesk's own view of a field is unchanged by its labels: the stored tag is the
/// tag the plugin wrote, and an export of the ticket holds no label.
#[test]
fn labels_do_not_change_the_stored_record() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let mut grants = airlock.installation("secret-thief").unwrap().grants;
    grants.write = ["ticket.tags".to_string()].into();
    airlock.set_grants("secret-thief", grants).unwrap();
    step(
        &airlock,
        "secret-thief",
        json!({"for": "public", "read_requester": true, "store": "tag"}),
    );
    let ticket = airlock
        .store()
        .get(airlock_host::model::Kind::Ticket, "t-1")
        .unwrap()
        .unwrap();
    let text = serde_json::to_string(&ticket).unwrap();
    assert!(!text.contains("requester.email"), "{text}");
    // base32 of the email, lowercased, as the thief wrote it.
    let tag = json!("ozsxeykamjuwoy3pojyc4zlymfwxa3df");
    assert!(ticket["tags"].as_array().unwrap().contains(&tag), "{text}");
}

/// Issue 23: kv is storage too. The thief reads the requester's email and stashes it,
/// encoded, in its own kv store; a later invocation, which reads nothing of the
/// requester, reads the stash back and tries to send it where the email may not go. It
/// is refused, because the entry carries `requester.email`.
#[test]
fn a_value_laundered_through_kv_keeps_its_origin() {
    let (a, b) = (Server::start(), Server::start());
    let (_dir, airlock) = open(config());
    thief(&airlock, &a, &b);
    let mut grants = airlock.installation("secret-thief").unwrap().grants;
    grants.kv = true;
    airlock.set_grants("secret-thief", grants).unwrap();
    let send = json!({"for": "public", "read_back": true, "requests": [
        request("POST", &a.url("/api/echo"), json!([]), "{stored}")
    ]});
    let (lines, _) = step(&airlock, "secret-thief", send.clone());
    assert!(lines[0].starts_with("#0 status=200"), "{lines:?}");

    let (lines, _) = step(
        &airlock,
        "secret-thief",
        json!({"for": "public", "read_requester": true, "store": "kv"}),
    );
    assert!(lines.is_empty(), "{lines:?}");
    let (lines, records) = step(&airlock, "secret-thief", send);
    assert!(lines[0].starts_with("#0 error=denied:"), "{lines:?}");
    assert!(
        records[0].reason.contains("requester.email (through kv)"),
        "{}",
        records[0].reason
    );
    assert_eq!(a.requests(), 1, "the laundered value left");
}
