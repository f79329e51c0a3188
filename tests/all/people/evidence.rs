//! The evidence bundle through the real binary: exported from a data directory, verified
//! with nothing but the bundle (the data directory is gone), and any change to it caught.

use airlock_host::account::Role;
use airlock_host::app::{Actor, Airlock, Options};
use airlock_host::installation::Grants;
use airlock_host::review::Outcome;
use std::path::Path;
use std::process::Command;

fn airlock(data_dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("AIRLOCK_LOG", "warn")
        .env_remove("AIRLOCK_MASTER_KEY")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A data directory with a plugin holding a secret setting, two users, a token and a
/// signed-off review. Returns the secrets it holds, to look for in the bundle.
fn populated(dir: &Path) -> Vec<String> {
    let airlock = Airlock::open_with(dir, Options::default()).unwrap();
    let cli = Actor::cli();
    let admin = airlock.admin(&cli);
    let inst = admin
        .install_unsigned(
            &crate::support::manifest("slack-notify"),
            crate::support::component("slack-notify"),
            &crate::support::unsigned(None),
        )
        .map(|i| i.installation().clone())
        .unwrap();
    admin
        .set_grants(
            &inst.id,
            Grants {
                read: ["ticket.subject".to_string()].into(),
                ..Default::default()
            },
        )
        .unwrap();
    let secret = "T0SECRET/B0SECRET/evidencewebhookpath";
    admin
        .set_settings(&inst.id, serde_json::json!({"webhook_path": secret}))
        .unwrap();
    let (_, password) = admin.create_user("root", Role::Admin, None).unwrap();
    let (_, auditor_password) = admin.create_user("audrey", Role::Auditor, None).unwrap();
    let token = airlock
        .accounts()
        .create_token(
            "audrey",
            airlock_host::account::Scope::Role(Role::Auditor),
            30,
            "evidence bot",
            "cli",
        )
        .unwrap()
        .bearer;
    let review = admin.start_review(90).unwrap();
    admin.decide(review.id, 1, Outcome::Keep, None).unwrap();
    admin.sign_off(review.id, Some("quarterly review")).unwrap();
    airlock.checkpoint().unwrap();
    vec![secret.into(), password, auditor_password, token]
}

#[test]
fn a_bundle_verifies_without_the_data_directory_and_any_change_to_it_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let secrets = populated(&data);
    let bundle = tmp.path().join("bundle");
    let (code, text) = airlock(
        &data,
        &[
            "evidence",
            "export",
            "--out",
            bundle.to_str().unwrap(),
            "--with-log",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let (code, key) = airlock(&data, &["audit", "key"]);
    assert_eq!(code, 0, "{key}");
    let key = key.trim().to_string();
    let (code, text) = airlock(
        &data,
        &["evidence", "export", "--out", bundle.to_str().unwrap()],
    );
    assert_ne!(code, 0, "a bundle never overwrites another: {text}");

    // What the bundle holds: the review with its sign-off, the roles, the grants.
    let read = |name: &str| std::fs::read_to_string(bundle.join(name)).unwrap();
    let review: serde_json::Value = serde_json::from_str(&read("review.json")).unwrap();
    assert_eq!(
        review["latest_signed_off"]["signed_off"]["note"],
        "quarterly review"
    );
    let roles: serde_json::Value = serde_json::from_str(&read("roles.json")).unwrap();
    assert_eq!(roles["users"].as_array().unwrap().len(), 2);
    assert_eq!(roles["tokens"][0]["label"], "evidence bot");
    assert!(read("grants.json").contains("ticket.subject"));
    assert!(read("verification.json").contains("\"ok\": true"));
    for file in std::fs::read_dir(&bundle).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret is in the bundle");
        }
    }

    // Verified with the data directory gone.
    std::fs::remove_dir_all(&data).unwrap();
    let nowhere = tmp.path().join("no-data-dir");
    let (code, text) = airlock(
        &nowhere,
        &[
            "evidence",
            "verify",
            bundle.to_str().unwrap(),
            "--public-key",
            &key,
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("evidence OK") && text.contains("audit log OK"),
        "{text}"
    );
    assert!(!nowhere.exists(), "verify never creates a data directory");

    // A grant added after signing, or a file dropped, is caught and named.
    let grants = read("grants.json");
    std::fs::write(
        bundle.join("grants.json"),
        grants.replace("ticket.subject", "requester.email"),
    )
    .unwrap();
    let (code, text) = airlock(&nowhere, &["evidence", "verify", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("grants.json does not match its digest"),
        "{text}"
    );
    std::fs::write(bundle.join("grants.json"), grants).unwrap();
    std::fs::remove_file(bundle.join("review.json")).unwrap();
    let (code, text) = airlock(&nowhere, &["evidence", "verify", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("review.json"), "{text}");
}

#[test]
fn exporting_evidence_is_an_audited_admin_action_needing_step_up() {
    let tmp = tempfile::tempdir().unwrap();
    let airlock = Airlock::open_with(tmp.path(), Options::default()).unwrap();
    let cli = Actor::cli();
    let period = airlock_host::evidence::Period {
        since: "2026-01-01T00:00:00.000Z".into(),
        until: "2027-01-01T00:00:00.000Z".into(),
    };
    let mut not_stepped_up = cli.clone();
    not_stepped_up.stepped_up = false;
    let out = tmp.path().join("b1");
    let refused = airlock
        .admin(&not_stepped_up)
        .export_evidence(&out, period.clone(), false);
    assert!(
        matches!(refused, Err(airlock_host::app::AppError::StepUp(_))),
        "{refused:?}"
    );
    assert!(!out.exists());
    airlock
        .admin(&cli)
        .export_evidence(&out, period, false)
        .unwrap();
    let records = airlock
        .audit(&airlock_host::audit::AuditFilter {
            call: Some("admin.evidence.export".into()),
            ..Default::default()
        })
        .unwrap();
    let reasons: Vec<&str> = records.iter().map(|r| r.entry.reason.as_str()).collect();
    assert_eq!(reasons, ["step-up required", "ok"]);
    assert_eq!(records[1].entry.details["with_log"], "false");
}

#[test]
fn an_audit_export_from_the_command_line_is_on_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text) = airlock(tmp.path(), &["audit", "export", "--format", "csv"]);
    assert_eq!(code, 0, "{text}");
    let airlock = Airlock::open_with(tmp.path(), Options::default()).unwrap();
    let records = airlock
        .audit(&airlock_host::audit::AuditFilter {
            call: Some("admin.audit.export".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].entry.details["actor"], "cli");
    assert_eq!(records[0].entry.details["format"], "csv");
}
