//! A thousand wrong passwords: the account locks after a few, the address is throttled,
//! the correct password does not get through while locked, and the log does not flood.

use super::{PASSWORD, Service};
use airlock_host::account::Role;

#[test]
fn the_lockout_holds_under_a_thousand_wrong_passwords() {
    let service = Service::start();
    service.onboard("vic", Role::Viewer, None, false);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1000 {
        let (status, _) = service.login("vic", &format!("guess number {i}"), None);
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(!statuses.contains_key(&200), "{statuses:?}");
    assert!(
        statuses[&429] >= 950,
        "the address is throttled: {statuses:?}"
    );
    // The right password, from this address: throttled.
    assert_eq!(service.login("vic", PASSWORD, None).0, 429);
    // From a fresh address: the account itself is locked.
    let other: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let locked = service.airlock.login("vic", PASSWORD, None, other);
    assert!(
        matches!(locked, Err(airlock_host::access::AuthError::Locked { .. })),
        "{locked:?}"
    );
    assert!(!service.records("auth.lockout").is_empty());
    // Refusals are recorded per attempt only up to the address's limit, then once.
    let failed = service.records("auth.login.failed").len();
    assert!(failed <= 25, "{failed} failure records");
    assert_eq!(service.records("auth.rate-limited").len(), 1);
}

#[test]
fn unknown_names_are_not_recorded_as_typed() {
    let service = Service::start();
    // Someone types their password into the name field.
    let (status, _) = service.login("Hunter2-my-password", "x", None);
    assert_eq!(status, 401);
    let text = service.audit_text();
    assert!(!text.contains("Hunter2"), "{text}");
    assert_eq!(
        service.records("auth.login.failed")[0].entry.resource,
        "unknown"
    );
}
