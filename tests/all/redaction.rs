//! Redaction inside the broker: every string handed to a plugin is masked unless an
//! admin approved a `reveal` grant for its class; audit records count redactions by class
//! and never hold values. And the admin tools: `airlock redact`, `--spans`, `backfill`.

use crate::support::{TestHost, component};
use airlock_host::audit::AuditFilter;
use airlock_host::capability::helpdesk::{GetRecord, GetRequest};
use airlock_host::installation::Grants;
use airlock_host::model::{Dataset, Kind, Ticket};
use std::io::Write;
use std::process::{Command, Stdio};

const CARD: &str = "4111 1111 1111 1111";
const SSN: &str = "123-45-6789";

fn manifest(reveal: &str) -> String {
    format!(
        r#"name = "reader"
version = "1.0.0"
vendor = "Tests"
description = "Reads tickets."
events = ["ticket-created"]
[data]
read = ["ticket.subject", "ticket.description", "ticket.custom_fields.national_id"]
reveal = [{reveal}]
"#
    )
}

fn host_with_ticket() -> TestHost {
    let host = TestHost::new();
    let mut ticket = Ticket {
        id: "t-r".into(),
        subject: Some("Billing".into()),
        description: Some(format!(
            "Card {CARD}, SSN {SSN}, mail me at ann@shop.example"
        )),
        ..Default::default()
    };
    ticket
        .custom_fields
        .insert("national_id".into(), SSN.into());
    host.airlock
        .import(&Dataset {
            tickets: vec![ticket],
            ..Default::default()
        })
        .unwrap();
    host
}

fn read_ticket(host: &TestHost, reveal: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let inst = host
        .airlock
        .install(
            "plugin.toml",
            &manifest("\"credit_card\""),
            &component("counter"),
            None,
        )
        .unwrap();
    let inst = host
        .airlock
        .set_grants(
            &inst.id,
            Grants {
                read: inst.manifest.data.read.clone(),
                reveal: reveal.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut invocation = host.airlock.invocation(inst, "test");
    let got = invocation
        .call(
            &GetRecord {
                store: host.airlock.store(),
            },
            GetRequest {
                kind: Kind::Ticket,
                id: "t-r".into(),
                fields: vec![],
            },
        )
        .unwrap();
    invocation.finish().unwrap();
    got.record
}

#[test]
fn strings_handed_to_plugins_are_masked_and_counted() {
    let host = host_with_ticket();
    let record = read_ticket(&host, &[]);
    let description = record["description"].as_str().unwrap();
    assert!(
        !description.contains("4111") && !description.contains(SSN),
        "{description}"
    );
    assert!(
        description.contains("[CARD]") && description.contains("[SSN]"),
        "{description}"
    );
    assert!(
        description.contains("@shop.example") && !description.contains("ann@"),
        "{description}"
    );
    // Structured fields too.
    assert_eq!(record["custom_fields"]["national_id"], "[SSN]");
    assert_eq!(record["subject"], "Billing");

    let records = host.airlock.audit(&AuditFilter::default()).unwrap();
    let read = records
        .iter()
        .find(|r| r.entry.call == "helpdesk.get-ticket")
        .unwrap();
    assert_eq!(read.entry.redactions.get("credit_card"), Some(&1));
    assert_eq!(read.entry.redactions.get("us_ssn"), Some(&2));
    assert_eq!(read.entry.redactions.get("email"), Some(&1));
    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains(SSN) && !text.contains("4111"),
        "values leaked into the audit log"
    );
}

#[test]
fn only_an_approved_reveal_grant_shows_a_class_raw() {
    let host = host_with_ticket();
    let record = read_ticket(&host, &["credit_card"]);
    let description = record["description"].as_str().unwrap();
    assert!(description.contains(CARD), "{description}");
    assert!(
        !description.contains(SSN),
        "only the approved class is revealed: {description}"
    );

    // A reveal grant the manifest did not ask for is refused.
    let inst = host.airlock.installation("reader").unwrap();
    let err = host
        .airlock
        .set_grants(
            &inst.id,
            Grants {
                reveal: ["us_ssn".to_string()].into(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("us_ssn"), "{err}");

    // An unknown class in a manifest is rejected at install.
    let err = host
        .airlock
        .install(
            "plugin.toml",
            &manifest("\"shoe_size\""),
            &component("counter"),
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown data class `shoe_size`"),
        "{err}"
    );
}

fn airlock_cmd(args: &[&str], data_dir: &std::path::Path, stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("AIRLOCK_DATA_DIR", data_dir)
        .env("AIRLOCK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn redact_tool_masks_stdin_and_reports_spans_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = airlock_cmd(&["redact"], dir.path(), &format!("pay with {CARD} now\n"));
    assert!(ok, "{err}");
    assert_eq!(out, "pay with [CARD] now\n");

    let input = format!(
        "{{\"id\": 1, \"text\": \"SSN {SSN}\"}}\nnot json\n{{\"id\": \"x\", \"text\": \"nothing ü\"}}\n{{\"id\": 3, \"text\": \"é {CARD}\"}}\n"
    );
    let (ok, out, err) = airlock_cmd(&["redact", "--spans"], dir.path(), &input);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "one output line per input line");
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(
        lines[0]["spans"],
        serde_json::json!([{"class": "us_ssn", "start": 4, "end": 15}])
    );
    assert!(lines[1]["error"].as_str().unwrap().contains("line 2"));
    assert_eq!(lines[2]["spans"], serde_json::json!([]));
    // Byte offsets into UTF-8: "é " is 3 bytes.
    assert_eq!(lines[3]["spans"][0]["start"], 3);
    assert_eq!(lines[3]["spans"][0]["end"], 3 + CARD.len());
}

#[test]
fn backfill_is_a_dry_run_by_default_and_resumes_after_an_interrupt() {
    let host = TestHost::new();
    let tickets: Vec<Ticket> = (0..30)
        .map(|i| Ticket {
            id: format!("t-{i:02}"),
            description: Some(if i % 3 == 0 {
                format!("card {CARD}")
            } else {
                "fine".into()
            }),
            ..Default::default()
        })
        .collect();
    host.airlock
        .import(&Dataset {
            tickets,
            ..Default::default()
        })
        .unwrap();
    let TestHost {
        dir: _keep,
        airlock,
    } = host;
    drop(airlock);
    let dir = _keep.path().to_path_buf();

    let (ok, out, err) = airlock_cmd(&["redact", "backfill"], &dir, "");
    assert!(ok, "{err}");
    assert!(
        out.contains("dry run") && out.contains("\"credit_card\":10"),
        "{out}"
    );
    // Read as the service reads it (sensitive fields are sealed in the file).
    let stored = |id: &str| {
        let airlock = airlock_host::app::Airlock::open(&dir, Default::default()).unwrap();
        airlock.store().get(Kind::Ticket, id).unwrap().unwrap()["description"].clone()
    };
    assert_eq!(
        stored("t-00"),
        format!("card {CARD}"),
        "a dry run changes nothing"
    );

    // An interrupted run left a cursor after t-14 (tickets are the third kind).
    std::fs::write(
        dir.join("backfill.cursor"),
        r#"{"scanned": 0, "changed": 0, "classes": {}, "cursor": [2, "t-14"]}"#,
    )
    .unwrap();
    let (ok, out, err) = airlock_cmd(&["redact", "backfill", "--apply", "--batch", "4"], &dir, "");
    assert!(ok, "{err}");
    assert!(out.contains("masked"), "{out}");
    assert_eq!(
        stored("t-00"),
        format!("card {CARD}"),
        "records before the cursor are not redone"
    );
    assert_eq!(stored("t-15"), "card [CARD]");
    assert_eq!(stored("t-27"), "card [CARD]");
    assert!(
        !dir.join("backfill.cursor").exists(),
        "a finished run removes its cursor"
    );
}
