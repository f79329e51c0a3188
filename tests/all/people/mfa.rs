//! TOTP at sign-in and for step-up: a wrong code, a replayed code, recovery codes that
//! work once, and the actions that need a fresh code. (RFC 6238's vectors and the ±1
//! step of clock skew are unit tests of `access::totp`.)

use super::{PASSWORD, Service, now};
use airlock_host::access::{AccountPolicy, totp};
use airlock_host::account::Role;
use airlock_host::app::Options;
use serde_json::json;

#[test]
fn sign_in_needs_the_code_refuses_a_wrong_or_replayed_one_and_spends_recovery_codes() {
    let service = Service::start();
    let admin = service.onboard("root", Role::Admin, None, true);
    let secret = admin.secret.clone().unwrap();
    let (status, body) = service.login("root", PASSWORD, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("mfa-required"))
    );
    let wrong = if totp::code_at(&secret, now()) == "000000" {
        "000001"
    } else {
        "000000"
    };
    let (status, _) = service.login("root", PASSWORD, Some(wrong));
    assert_eq!(status, 401, "a wrong code");
    // Enrolment spent this step's code; the next step's works (clock skew), once.
    assert_eq!(
        service
            .login("root", PASSWORD, Some(&totp::code_at(&secret, now())))
            .0,
        401,
        "the code enrolment used"
    );
    let next = totp::code_at(&secret, now() + totp::STEP);
    assert_eq!(service.login("root", PASSWORD, Some(&next)).0, 200);
    assert_eq!(
        service.login("root", PASSWORD, Some(&next)).0,
        401,
        "a replayed code"
    );
    let recovery = &admin.recovery[0];
    assert_eq!(admin.recovery.len(), 9, "ten codes, one spent signing in");
    assert_eq!(service.login("root", PASSWORD, Some(recovery)).0, 200);
    assert_eq!(
        service.login("root", PASSWORD, Some(recovery)).0,
        401,
        "a recovery code works once"
    );
    assert_eq!(service.records("auth.mfa.failed").len(), 4);
    let logins = service.records("auth.login");
    assert_eq!(
        logins.last().unwrap().entry.details["recovery_code"],
        "true"
    );
}

#[test]
fn admins_must_enrol_before_their_session_does_anything_else() {
    let service = Service::start();
    let one_time = service.create_user("root", Role::Admin, None);
    let (_, body) = service.login("root", &one_time, None);
    let setup = body["session"].as_str().unwrap().to_string();
    let (status, _) = service.call(
        "POST",
        "/api/v1/auth/password",
        Some(&setup),
        None,
        Some(json!({"current": one_time, "new": PASSWORD})),
    );
    assert_eq!(status, 200);
    // A new password alone does not finish an admin's setup: TOTP is required.
    let (_, body) = service.login("root", PASSWORD, None);
    assert_eq!(body["setup_only"], true, "{body}");
    let session = body["session"].as_str().unwrap();
    let (status, body) = service.call("GET", "/api/v1/plugins", Some(session), None, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("setup-required"))
    );
    // A confirmation with a code of another secret is refused and changes nothing.
    let (_, enrol) = service.call("POST", "/api/v1/auth/mfa/enrol", Some(session), None, None);
    let other = totp::new_secret();
    let (status, _) = service.call(
        "POST",
        "/api/v1/auth/mfa/confirm",
        Some(session),
        None,
        Some(json!({"code": totp::code_at(&other, now())})),
    );
    assert_eq!(status, 400);
    let secret = totp::decode(enrol["secret"].as_str().unwrap()).unwrap();
    let (status, _) = service.call(
        "POST",
        "/api/v1/auth/mfa/confirm",
        Some(session),
        None,
        Some(json!({"code": totp::code_at(&secret, now())})),
    );
    assert_eq!(status, 200);
    let (status, _) = service.call("GET", "/api/v1/plugins", Some(session), None, None);
    assert_eq!(status, 200, "the session that enrolled leaves setup");
}

#[test]
fn widening_a_grant_setting_a_secret_and_making_a_token_need_a_fresh_code() {
    // No grace period after sign-in: every step-up needs its own code.
    let service = Service::with(Options {
        accounts: AccountPolicy {
            step_up_window: time::Duration::ZERO,
            ..Default::default()
        },
        ..Default::default()
    });
    let actor = airlock_host::app::Actor::cli();
    service
        .airlock
        .admin(&actor)
        .install_unsigned(
            &crate::support::manifest("auto-tagger"),
            crate::support::component("auto-tagger"),
            &crate::support::unsigned(None),
        )
        .map(|i| i.installation().clone())
        .unwrap();
    let admin = service.onboard("root", Role::Admin, None, true);
    let secret = admin.secret.unwrap();
    let s = Some(admin.session.as_str());
    let widen = json!({"add": {"read": ["ticket.subject"]}});
    let path = "/api/v1/plugins/auto-tagger/grants";
    let (status, body) = service.call("PATCH", path, s, None, Some(widen.clone()));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("step-up-required")),
        "{body}"
    );
    let (status, _) = service.call("PATCH", path, s, Some("123456"), Some(widen.clone()));
    assert_eq!(status, 403, "a wrong code");
    // Enrolment spent this step's code; the next step's is fresh.
    let code = totp::code_at(&secret, now() + totp::STEP);
    let (status, body) = service.call("PATCH", path, s, Some(&code), Some(widen.clone()));
    assert_eq!(status, 200, "{body}");
    // Revoking needs no code: it narrows.
    let narrow = json!({"remove": {"read": ["ticket.subject"]}});
    let (status, body) = service.call("PATCH", path, s, None, Some(narrow));
    assert_eq!(status, 200, "{body}");
    let (status, body) = service.call(
        "POST",
        "/api/v1/tokens",
        s,
        None,
        Some(json!({"scope": "viewer"})),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("step-up-required"))
    );
    let (status, body) = service.call("GET", "/api/v1/audit/export", s, None, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("step-up-required"))
    );
    let denied = service.records("admin.grants.change");
    assert!(
        denied.iter().any(|r| r.entry.reason == "step-up required"),
        "refusals are recorded"
    );
}
