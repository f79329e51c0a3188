//! Admin actions are records in the one audit chain: the actor, the action, the target
//! and what changed, never a password, TOTP secret, token or setting value.

use super::{BREAK_GLASS, PASSWORD, Service, now};
use airlock_host::access::totp;
use airlock_host::account::Role;
use serde_json::json;

#[test]
fn each_admin_action_is_one_record_naming_actor_target_and_change_and_no_secret() {
    let service = Service::start();
    let admin = service.onboard("root", Role::Admin, None, true);
    let secret = admin.secret.clone().unwrap();
    let s = Some(admin.session.as_str());
    let manifest = crate::support::manifest("slack-notify");
    let component = base64_of(&crate::support::component("slack-notify"));
    let (status, body) = service.call(
        "POST",
        "/api/v1/plugins",
        s,
        None,
        Some(json!({"manifest": manifest, "component_base64": component, "allow_unsigned": true})),
    );
    assert_eq!(status, 200, "{body}");
    let id = body["installation"]["id"].as_str().unwrap().to_string();
    // A fresh session counts as stepped up for a few minutes: no code needed here.
    let path = format!("/api/v1/plugins/{id}/grants");
    let (status, body) = service.call(
        "PATCH",
        &path,
        s,
        None,
        Some(json!({"add": {"read": ["ticket.subject"]}})),
    );
    assert_eq!(status, 200, "{body}");
    let webhook_secret = "xoxb-super-secret-webhook-value";
    let (status, body) = service.call(
        "PUT",
        &format!("/api/v1/plugins/{id}/settings"),
        s,
        None,
        Some(json!({"channel": "#support", "webhook_token": webhook_secret})),
    );
    assert!(status == 200 || status == 400, "{status} {body}");
    let (status, _) = service.call(
        "POST",
        &format!("/api/v1/plugins/{id}/disable"),
        s,
        None,
        None,
    );
    assert_eq!(status, 200);
    let (status, token) = service.call(
        "POST",
        "/api/v1/tokens",
        s,
        Some(&totp::code_at(&secret, now() + totp::STEP)),
        Some(json!({"scope": "auditor", "label": "evidence bot"})),
    );
    assert_eq!(status, 200, "{token}");
    let token_text = token["token"].as_str().unwrap().to_string();
    let (status, _) = service.call("GET", "/api/v1/audit/export", s, None, None);
    assert_eq!(status, 200);
    let (status, _) = service.call("GET", "/api/v1/plugins", Some(BREAK_GLASS), None, None);
    assert_eq!(status, 200);

    let grant = &service.records("admin.grants.change")[0];
    assert_eq!(grant.entry.installation, "airlock");
    assert_eq!(grant.entry.resource, id);
    assert_eq!(grant.entry.details["actor"], "root");
    assert_eq!(grant.entry.details["scope"], "admin");
    assert!(grant.entry.details["via"].starts_with("session:s-"));
    assert_eq!(grant.entry.details["address"], "127.0.0.1");
    assert_eq!(grant.entry.details["read.added"], "ticket.subject");
    let install = &service.records("admin.plugin.install")[0];
    assert_eq!(install.entry.details["plugin"], "slack-notify");
    let disable = &service.records("admin.plugin.disable")[0];
    assert_eq!(disable.entry.details["enabled.before"], "true");
    assert_eq!(disable.entry.details["enabled.after"], "false");
    let token_record = &service.records("token.create")[0];
    assert_eq!(token_record.entry.details["token_scope"], "auditor");
    assert_eq!(
        service.records("auth.login").len(),
        2,
        "setup and full sign-in"
    );
    let export = service.records("api.read");
    assert!(
        export
            .iter()
            .any(|r| r.entry.details["route"] == "GET /api/v1/audit/export")
    );
    let glass = service.records("auth.break-glass");
    assert_eq!(glass[0].entry.details["break_glass"], "true");
    // "Who changed what for installation X": its records, by resource.
    let changes = service
        .airlock
        .audit(&airlock_host::audit::AuditFilter {
            installation: Some("airlock".into()),
            resource: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert!(changes.len() >= 3, "{changes:?}");
    assert!(changes.iter().all(|r| r.entry.details["actor"] == "root"));
    let by_actor = service
        .airlock
        .audit(&airlock_host::audit::AuditFilter {
            actor: Some("break-glass".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_actor.len(), 1);

    let verified = service.airlock.verify_audit(&Default::default()).unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    let text = service.audit_text();
    let secret_b32 = totp::encode(&secret);
    let (_, secret_part) = token_text.split_once('.').unwrap();
    for needle in [
        PASSWORD,
        secret_b32.as_str(),
        secret_part,
        webhook_secret,
        BREAK_GLASS,
    ] {
        assert!(!text.contains(needle), "the audit holds a secret");
    }
    for code in &admin.recovery {
        assert!(
            !text.contains(code.as_str()),
            "the audit holds a recovery code"
        );
    }
}

#[test]
fn refused_calls_by_signed_in_users_are_recorded_as_refused() {
    let service = Service::start();
    let viewer = service.onboard("vic", Role::Viewer, None, false);
    let (status, _) = service.call(
        "POST",
        "/api/v1/plugins/any/disable",
        Some(&viewer.session),
        None,
        None,
    );
    assert_eq!(status, 403);
    let refused = service.records("auth.refused");
    assert_eq!(refused.len(), 1);
    let r = &refused[0].entry;
    assert_eq!(r.decision, Some(airlock_host::audit::Decision::Deny));
    assert_eq!(r.details["actor"], "vic");
    assert_eq!(r.details["route"], "POST /api/v1/plugins/{id}/disable");
}

#[test]
fn the_command_line_s_changes_are_recorded_as_cli() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("AIRLOCK_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created = run(&["user", "create", "ada", "--role", "auditor"]);
    let password = created
        .lines()
        .find_map(|l| l.strip_prefix("one-time password (shown once): "))
        .unwrap()
        .to_string();
    let token = run(&["token", "create", "--user", "ada", "--scope", "viewer"]);
    let exported = run(&["audit", "export", "--actor", "cli", "--format", "jsonl"]);
    let calls: Vec<String> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["call"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(calls, ["user.create", "token.create"]);
    assert!(!exported.contains(&password) && !exported.contains(token.trim()));
}

#[test]
fn ids_the_caller_made_up_are_not_recorded_as_sent() {
    let service = Service::start();
    let admin = service.onboard("root", Role::Admin, None, true);
    for path in [
        "/api/v1/plugins/Evil%20%1B%5B31m%20id/disable",
        "/api/v1/users/Hunter2%20pass/disable",
        "/api/v1/tokens/Hunter2%20pass",
    ] {
        let method = if path.starts_with("/api/v1/tokens") {
            "DELETE"
        } else {
            "POST"
        };
        let (status, _) = service.call(method, path, Some(&admin.session), None, None);
        assert_eq!(status, 404, "{path}");
    }
    let text = service.audit_text();
    assert!(
        !text.contains("Evil") && !text.contains("Hunter2"),
        "{text}"
    );
    assert_eq!(
        service.records("admin.plugin.disable")[0].entry.resource,
        ""
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_command_line_beside_a_serving_host_changes_nothing_it_cannot_record() {
    let tmp = tempfile::tempdir().unwrap();
    let serving = airlock_host::app::Airlock::open_with(tmp.path(), Default::default()).unwrap();
    serving
        .admin(&airlock_host::app::Actor::cli())
        .install_unsigned(
            &crate::support::manifest("auto-tagger"),
            crate::support::component("auto-tagger"),
            &crate::support::unsigned(None),
        )
        .map(|i| i.installation().clone())
        .unwrap();
    serving
        .claim_audit_log(std::time::Duration::from_secs(5))
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["plugin", "disable", "auto-tagger"])
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("another airlock process"), "{err}");
    assert!(
        serving.installation("auto-tagger").unwrap().enabled,
        "the change was made without its record"
    );
    // Account changes too: no user is made that the log cannot show.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["user", "create", "eve", "--role", "viewer"])
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        serving.accounts().user("eve").is_err(),
        "a user was made without its record"
    );
}
