//! Issue 23: a data-subject request finds a person everywhere Airlock holds them (the
//! helpdesk, a plugin's kv store, the audit trail, where their data was sent) and erases
//! them, leaving a verifiable audit trail and no value behind.

use super::*;
use airlock_host::app::Actor;

/// The thief, with destination A allowed to receive the requester's email, and kv.
fn copier(airlock: &Airlock, a: &Server, b: &Server) {
    let send_a = "send = [\"ticket.subject\", \"ticket.requester_id\", \"ticket.tags\", \"ticket.custom_fields.escalation\", \"comment.body\"]\nsecrets = [\"token\"]";
    let text = manifest("secret-thief")
        .replace("127.0.0.1:18081", &a.addr.to_string())
        .replace("127.0.0.1:18082", &b.addr.to_string())
        .replacen(
            send_a,
            &send_a.replace(
                "\"comment.body\"]",
                "\"comment.body\", \"requester.email\"]",
            ),
            1,
        );
    let inst = airlock
        .install("plugin.toml", &text, &component("secret-thief"), None)
        .unwrap();
    let grants = Grants {
        read: inst.manifest.data.read.clone(),
        egress: [format!("http://{}", a.addr)].into(),
        reveal: ["email".to_string()].into(),
        kv: true,
        ..Default::default()
    };
    airlock.set_grants("secret-thief", grants).unwrap();
    airlock
        .set_settings("secret-thief", json!({"label": "public"}))
        .unwrap();
}

/// The host with the copier, which read the requester, stored their email in kv and
/// sent it to destination A (returned).
pub(super) fn host_with_a_copied_email() -> (tempfile::TempDir, Airlock, Server) {
    let (a, b) = (Server::start(), Server::start());
    let (dir, airlock) = open(config());
    copier(&airlock, &a, &b);
    let (lines, _) = act(
        &airlock,
        json!({"read_requester": true, "store": "kv", "requests": [
            request("POST", &a.url("/api/crm"), json!([]), "{email}")
        ]}),
    );
    assert!(lines[0].starts_with("#0 status=200"), "{lines:?}");
    (dir, airlock, a)
}

#[test]
fn a_person_is_found_in_the_helpdesk_kv_audit_and_egress_and_erased_from_all_but_the_trail() {
    let (dir, airlock, a) = host_with_a_copied_email();
    assert!(a.saw(EMAIL), "the approved destination received the email");

    let cli = Actor::cli();
    let admin = airlock.admin(&cli);
    let user = airlock
        .resolve_subject(None, Some("VERA@bigcorp.example"))
        .unwrap();
    assert_eq!(user, "u-vip");
    let export = admin.dsr_export(&user).unwrap();
    assert!(export.record.is_some());
    assert!(export.tickets.iter().any(|t| t["id"] == "t-1"));
    assert_eq!(export.kv.len(), 1, "{:?}", export.kv);
    assert_eq!(
        (
            export.kv[0].installation.as_str(),
            export.kv[0].key.as_str()
        ),
        ("secret-thief", "stash")
    );
    assert!(
        export
            .accesses
            .iter()
            .any(|x| x.call == "helpdesk.get-user" && x.resource == "u-vip")
    );
    let a_dest = a.addr.to_string();
    assert!(
        export.sent.iter().any(|s| s.destination.contains(&a_dest)),
        "{:?}",
        export.sent
    );

    // Sealed at rest: even before the erasure no file holds it in clear.
    assert_eq!(files_holding(dir.path(), EMAIL), Vec::<String>::new());

    // A legal hold stops erasure until it is lifted.
    admin.dsr_hold(&user, true, "litigation 2026-41").unwrap();
    assert!(admin.dsr_erase(&user).is_err());
    admin.dsr_hold(&user, false, "settled").unwrap();
    let erased = admin.dsr_erase(&user).unwrap();
    assert!(erased.records >= 2, "{erased:?}");
    assert_eq!(erased.kv_entries, 1);
    assert!(airlock.verify_audit(&Default::default()).unwrap().is_ok());

    let again = admin.dsr_export(&user).unwrap();
    assert!(
        again.record.is_none() && again.tickets.is_empty() && again.kv.is_empty(),
        "{again:?}"
    );
    assert!(!again.accesses.is_empty(), "the audit trail stays");
    // No file of the data directory holds the email any more.
    assert_eq!(files_holding(dir.path(), EMAIL), Vec::<String>::new());
    let records = airlock
        .audit(&AuditFilter {
            call: Some("admin.dsr.erase".into()),
            ..Default::default()
        })
        .unwrap();
    let done = records.iter().find(|r| r.entry.reason == "ok").unwrap();
    assert_eq!(done.entry.details["kv_entries"], "1");
    assert!(
        records.iter().any(|r| r.entry.reason == "conflict"),
        "the held attempt is recorded"
    );
}

/// The files of the data directory whose bytes contain `needle`.
pub(super) fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains(needle))
        .map(|p| p.display().to_string())
        .collect()
}

/// A person's comments on someone else's ticket are theirs too: exported and erased,
/// while the other person's ticket and comments stay.
#[test]
fn a_person_s_comments_on_other_tickets_are_exported_and_erased() {
    use airlock_host::model::{Comment, Dataset, Kind};
    let (_dir, airlock) = open(config());
    let comment = |id: &str, author: &str, body: &str| Comment {
        id: id.into(),
        ticket_id: "t-sam".into(),
        author_id: Some(author.into()),
        body: Some(body.into()),
        public: true,
        created_at: Some("2026-12-01T10:00:00Z".into()),
    };
    airlock
        .import(&Dataset {
            tickets: vec![ticket("t-sam", "Sam's printer", "jammed", "u-2")],
            comments: vec![
                comment("c-vera", "u-vip", "Vera here: same problem at Big Corp"),
                comment("c-sam", "u-2", "thanks"),
            ],
            ..Default::default()
        })
        .unwrap();
    let admin_actor = Actor::cli();
    let admin = airlock.admin(&admin_actor);
    let export = admin.dsr_export("u-vip").unwrap();
    let ids: Vec<&str> = export
        .comments
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"c-vera") && !ids.contains(&"c-sam"),
        "{ids:?}"
    );
    assert!(export.tickets.iter().all(|t| t["id"] != "t-sam"));

    admin.dsr_erase("u-vip").unwrap();
    let store = airlock.store();
    assert!(store.get(Kind::Comment, "c-vera").unwrap().is_none());
    assert!(store.get(Kind::Comment, "c-sam").unwrap().is_some());
    assert!(store.get(Kind::Ticket, "t-sam").unwrap().is_some());
    assert!(admin.dsr_export("u-vip").unwrap().comments.is_empty());
}
