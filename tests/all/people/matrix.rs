//! Every route, with every kind of caller, against this test's own table of who may call
//! what. The route list comes from the router itself ([`airlock_host::api::route_specs`]),
//! so a new route cannot skip the matrix: it fails here until the table names its
//! permission.

use super::{BREAK_GLASS, Service};
use airlock_host::account::{Role, Scope};
use airlock_host::store::AccountStore;
use std::collections::BTreeMap;

/// Who may hold each permission, written out here rather than read from the gate.
fn expected(permission: &str, caller: &str) -> bool {
    let allowed: &[&str] = match permission {
        "public" => return true,
        "self" => &[
            "admin",
            "auditor",
            "vendor",
            "viewer",
            "admin-as-viewer",
            "break-glass",
        ],
        "list-plugins" => &[
            "admin",
            "auditor",
            "vendor",
            "viewer",
            "admin-as-viewer",
            "break-glass",
        ],
        "read-plugin-logs" => &["admin", "vendor", "break-glass"],
        "change-plugins" | "change-grants" | "change-settings" | "import-data" | "manage-users"
        | "manage-keys" => &["admin", "break-glass"],
        "post-events" => &["admin", "ingest", "break-glass"],
        "read-audit" | "export-audit" | "read-monitoring" | "conduct-reviews" => {
            &["admin", "auditor", "break-glass"]
        }
        "scrape-metrics" => &["admin", "auditor", "metrics", "break-glass"],
        other => panic!("the matrix has no row for permission `{other}`: add one"),
    };
    allowed.contains(&caller)
}

/// The path with its parameters filled with ids that exist nowhere (the gate decides
/// before any lookup).
fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-id")
        .replace("{seq}", "1")
        .replace("{name}", "no-such-user")
}

#[test]
fn every_route_admits_exactly_the_callers_its_permission_names() {
    let service = Service::start();
    let mut callers: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let admin = service.onboard("root", Role::Admin, None, true);
    let auditor = service.onboard("audrey", Role::Auditor, None, true);
    let vendor = service.onboard("vera", Role::Vendor, Some("Airlock Examples"), false);
    let viewer = service.onboard("vic", Role::Viewer, None, false);
    let accounts = service.airlock.accounts();
    let token = |user: &str, scope: Scope| {
        accounts
            .create_token(user, scope, 1, "matrix", "127.0.0.1")
            .unwrap()
            .bearer
    };
    callers.insert("admin", Some(admin.session));
    callers.insert("auditor", Some(auditor.session));
    callers.insert("vendor", Some(vendor.session));
    callers.insert("viewer", Some(viewer.session));
    callers.insert("metrics", Some(token("root", Scope::Metrics)));
    callers.insert("ingest", Some(token("root", Scope::Ingest)));
    callers.insert(
        "admin-as-viewer",
        Some(token("root", Scope::Role(Role::Viewer))),
    );
    callers.insert("break-glass", Some(BREAK_GLASS.into()));
    callers.insert("nobody", None);
    let revoked = accounts
        .create_token("root", Scope::Role(Role::Admin), 1, "", "")
        .unwrap();
    accounts.revoke(&revoked.credential.id).unwrap();
    callers.insert("revoked", Some(revoked.bearer));
    let expired = accounts
        .create_token("root", Scope::Role(Role::Admin), 1, "", "")
        .unwrap();
    let store = airlock_host::store::SqliteStore::open(&service.airlock.data_dir().database_path())
        .unwrap();
    store
        .update_credential(&expired.credential.id, &mut |c| {
            c.expires_at = "2020-01-01T00:00:00.000Z".into();
            true
        })
        .unwrap();
    callers.insert("expired", Some(expired.bearer));
    callers.insert("garbage", Some("t-0123456789abcdef.nope".into()));

    let specs = airlock_host::api::route_specs();
    assert!(specs.len() >= 35, "{} routes", specs.len());
    // Signing out ends the session, so it goes last.
    let (last, first): (Vec<_>, Vec<_>) =
        specs.iter().partition(|s| s.path == "/api/v1/auth/logout");
    let mut wrong = Vec::new();
    for (caller, credential) in &callers {
        for spec in first.iter().chain(&last) {
            let (status, body) = service.call(
                spec.method.as_str(),
                &concrete(spec.path),
                credential.as_deref(),
                None,
                None,
            );
            let code = body["error"]["code"].as_str().unwrap_or("");
            let refused = status == 401 || (status == 403 && code != "step-up-required");
            let should = expected(spec.permission.as_str(), caller);
            if refused == should {
                wrong.push(format!(
                    "{caller} {} {}: {status} {code} (expected {})",
                    spec.method,
                    spec.path,
                    if should { "allowed" } else { "refused" }
                ));
            }
            // Every answer, allowed or not, is the one error shape or a success.
            if status >= 400 {
                assert!(
                    body["error"]["message"].is_string(),
                    "{caller} {}: {body}",
                    spec.path
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_setup_session_may_only_finish_setup() {
    let service = Service::start();
    let one_time = service.create_user("newbie", Role::Admin, None);
    let (status, body) = service.login("newbie", &one_time, None);
    assert_eq!(status, 200);
    let setup = body["session"].as_str().unwrap().to_string();
    for spec in airlock_host::api::route_specs() {
        if spec.permission.as_str() == "public" || spec.path == "/api/v1/auth/logout" {
            continue;
        }
        let (status, body) = service.call(
            spec.method.as_str(),
            &concrete(spec.path),
            Some(&setup),
            None,
            None,
        );
        let code = body["error"]["code"].as_str().unwrap_or("");
        let own = spec.permission.as_str() == "self";
        assert_eq!(
            code == "setup-required",
            !own,
            "{} {}: {status} {body}",
            spec.method,
            spec.path
        );
    }
    // The one-time password worked once: it no longer signs in after a new one is set.
    let (status, _) = service.call(
        "POST",
        "/api/v1/auth/password",
        Some(&setup),
        None,
        Some(serde_json::json!({"current": one_time, "new": super::PASSWORD})),
    );
    assert_eq!(status, 200);
    assert_eq!(service.login("newbie", &one_time, None).0, 401);
}

#[test]
fn the_openapi_document_lists_every_route_the_router_serves() {
    let service = Service::start();
    let (status, doc) = service.call("GET", "/api/v1/openapi.json", None, None, None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for spec in airlock_host::api::route_specs() {
        let op = &doc["paths"][spec.path][spec.method.as_str().to_lowercase()];
        assert_eq!(
            op["x-airlock-permission"],
            spec.permission.as_str(),
            "{} {} is missing from the OpenAPI document",
            spec.method,
            spec.path
        );
    }
    // And nothing is documented that is not served: an undocumented method answers 405.
    let (status, _) = service.call("DELETE", "/api/v1/plugins", Some(BREAK_GLASS), None, None);
    assert_eq!(status, 405);
}

#[test]
fn a_vendor_sees_only_their_own_installations_without_grants_or_settings() {
    let service = Service::start();
    let actor = airlock_host::app::Actor::cli();
    let admin = service.airlock.admin(&actor);
    for (name, id) in [("auto-tagger", "mine"), ("pii-probe", "also-mine")] {
        admin
            .install_unsigned(
                &crate::support::manifest(name),
                crate::support::component(name),
                &crate::support::unsigned(Some(id)),
            )
            .map(|i| i.installation().clone())
            .unwrap();
    }
    let vendor = service.onboard("vera", Role::Vendor, Some("Nobody Else"), false);
    let (status, body) = service.call("GET", "/api/v1/plugins", Some(&vendor.session), None, None);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!([]),
        "another vendor's installations are hidden"
    );
    let vendor = service.onboard("ava", Role::Vendor, Some("Airlock Examples"), false);
    let (_, body) = service.call("GET", "/api/v1/plugins", Some(&vendor.session), None, None);
    let listed = body.as_array().unwrap();
    // pii-probe is "Airlock Tests"' plugin: only auto-tagger is this vendor's.
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["id"], "mine");
    for inst in listed {
        assert!(
            inst.get("grants").is_none() && inst.get("settings").is_none(),
            "{inst}"
        );
        assert_eq!(inst["vendor"], "Airlock Examples");
    }

    // Health and failure counts, and the plugin's own log lines: only for its vendor.
    admin
        .set_grants(
            "mine",
            airlock_host::installation::Grants {
                read: ["ticket.subject".to_string()].into(),
                ..Default::default()
            },
        )
        .unwrap();
    service.airlock.import(&crate::support::fixture()).unwrap();
    service
        .airlock
        .handle_event(airlock_host::dispatch::EventRequest::TicketCreated {
            ticket: crate::support::ticket("t-logs", "Refund", "x", "u-2"),
        })
        .unwrap();
    let (_, body) = service.call("GET", "/api/v1/plugins", Some(&vendor.session), None, None);
    assert_eq!(
        (
            body[0]["invocations"].as_u64(),
            body[0]["failures"].as_u64()
        ),
        (Some(1), Some(0)),
        "{body}"
    );
    let (status, lines) = service.call(
        "GET",
        "/api/v1/plugins/mine/logs",
        Some(&vendor.session),
        None,
        None,
    );
    assert_eq!(status, 200, "{lines}");
    assert!(
        lines[0]["message"].as_str().unwrap().contains("rule(s)"),
        "{lines}"
    );
    assert!(
        lines[0]["invocation"].as_str().unwrap().starts_with("inv_"),
        "{lines}"
    );
    let (status, _) = service.call(
        "GET",
        "/api/v1/plugins/also-mine/logs",
        Some(&vendor.session),
        None,
        None,
    );
    assert_eq!(
        status, 404,
        "another vendor's plugin does not exist for this vendor"
    );
    let stranger = service.login("vera", super::PASSWORD, None).1["session"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = service.call(
        "GET",
        "/api/v1/plugins/mine/logs",
        Some(&stranger),
        None,
        None,
    );
    assert_eq!(status, 404);
}
