//! Issue 22 over the API: a signed bundle installed with its vendor's fingerprint
//! confirmed, its upgrade's diff read, and approving a new field needing step-up.

use super::{Service, now};
use airlock_bundle::{Bundle, VendorKey};
use airlock_host::access::{AccountPolicy, totp};
use airlock_host::account::Role;
use airlock_host::app::Options;
use serde_json::{Value, json};

fn probe(key: &VendorKey, version: &str, read: &str) -> Value {
    let manifest = crate::support::manifest("pii-probe")
        .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
        .replace(
            "read = [\"ticket.subject\", \"ticket.requester_id\", \"requester.email\", \"requester.phone\"]",
            &format!("read = [{read}]"),
        );
    let bundle =
        Bundle::pack(&manifest, crate::support::component("pii-probe"), Some(key)).unwrap();
    serde_json::to_value(bundle).unwrap()
}

#[test]
fn a_bundle_installs_over_the_api_and_approving_a_new_field_needs_a_fresh_code() {
    let service = Service::with(Options {
        accounts: AccountPolicy {
            step_up_window: time::Duration::ZERO,
            ..Default::default()
        },
        ..Default::default()
    });
    let admin = service.onboard("root", Role::Admin, None, true);
    let secret = admin.secret.unwrap();
    let s = Some(admin.session.as_str());
    let key = VendorKey::generate();
    let v1 = probe(&key, "1.0.0", "\"ticket.subject\"");

    let (status, body) = service.call(
        "POST",
        "/api/v1/plugins",
        s,
        None,
        Some(json!({"bundle": v1})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&key.public().fingerprint())
    );
    let confirm = json!({"bundle": v1, "trust_vendor_key": key.public().fingerprint()});
    let (status, body) = service.call("POST", "/api/v1/plugins", s, None, Some(confirm));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["review"]["key"], "first-trusted");
    assert_eq!(body["installation"]["grants"]["read"], json!([]));

    let v2 = probe(&key, "2.0.0", "\"ticket.subject\", \"requester.email\"");
    let (status, body) = service.call(
        "POST",
        "/api/v1/plugins",
        s,
        None,
        Some(json!({"bundle": v2})),
    );
    assert_eq!(
        (status, body["applied"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let (status, diff) = service.call("GET", "/api/v1/plugins/pii-probe/upgrade", s, None, None);
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["items"][0]["name"], "requester.email");
    assert_eq!(diff["items"][0]["increase"], true);

    let approve = "/api/v1/plugins/pii-probe/upgrade/approve";
    let tick = json!({"grant": {"read": ["requester.email"]}});
    let (status, body) = service.call("POST", approve, s, None, Some(tick.clone()));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("step-up-required")),
        "{body}"
    );
    let code = totp::code_at(&secret, now() + totp::STEP);
    let (status, body) = service.call("POST", approve, s, Some(&code), Some(tick));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["manifest"]["version"], "2.0.0");
    assert_eq!(body["grants"]["read"], json!(["requester.email"]));
    let (status, _) = service.call("GET", "/api/v1/plugins/pii-probe/upgrade", s, None, None);
    assert_eq!(status, 404, "nothing pending any more");
    let (status, versions) =
        service.call("GET", "/api/v1/plugins/pii-probe/versions", s, None, None);
    assert_eq!(
        (status, versions["current"].as_str()),
        (200, Some("2.0.0")),
        "{versions}"
    );
    let (status, vendors) = service.call("GET", "/api/v1/vendors", s, None, None);
    assert_eq!(status, 200);
    assert_eq!(
        vendors[0]["keys"][0]["fingerprint"],
        key.public().fingerprint()
    );
}
