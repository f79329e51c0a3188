//! Signed bundles: what is refused, what is pinned, and what the record says.

use super::*;
use base64::Engine;

const READ: &[&str] = &["ticket.subject", "ticket.requester_id", "requester.email"];

/// Flips one bit of a bundle's part, re-encoding it so the file stays well formed.
fn flipped(bundle: &Bundle, part: &str) -> Vec<u8> {
    let mut b = bundle.clone();
    match part {
        "component" => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut bytes = b64.decode(&b.component).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            b.component = b64.encode(bytes);
        }
        "manifest" => b.manifest = b.manifest.replace("over-curious", "over-curiouz"),
        "signature" => {
            let seal = b.seal.as_mut().unwrap();
            let mut sig = hex::decode(&seal.signature).unwrap();
            sig[0] ^= 1;
            seal.signature = hex::encode(sig);
        }
        _ => unreachable!(),
    }
    b.to_bytes()
}

#[test]
fn a_bundle_with_one_flipped_bit_in_any_part_is_refused_and_nothing_installed() {
    let host = TestHost::new();
    let key = VendorKey::generate();
    let bundle = probe_bundle(&key, "1.0.0", READ);
    for part in ["component", "manifest", "signature"] {
        let refused = install(&host, &flipped(&bundle, part), &trusting(&key)).unwrap_err();
        assert!(
            refused.to_string().contains("does not verify"),
            "{part}: {refused}"
        );
    }
    assert!(host.airlock.installations().unwrap().is_empty());
    assert!(
        host.airlock.vendors().unwrap().is_empty(),
        "no key was pinned"
    );
    // Each refusal is on the record.
    let refusals = records(&host, "admin.plugin.install");
    assert_eq!(refusals.len(), 3);
    assert!(refusals.iter().all(|r| r.entry.reason == "invalid"));
    assert!(install(&host, &bundle.to_bytes(), &trusting(&key)).is_ok());
}

#[test]
fn a_new_vendor_needs_its_fingerprint_confirmed_and_is_then_pinned() {
    let host = TestHost::new();
    let key = VendorKey::generate();
    let bytes = probe_bundle(&key, "1.0.0", READ).to_bytes();
    let unconfirmed = install(&host, &bytes, &InstallOptions::default()).unwrap_err();
    let fingerprint = key.public().fingerprint();
    assert!(
        unconfirmed.to_string().contains(&fingerprint),
        "{unconfirmed}"
    );
    let wrong = InstallOptions {
        trust_vendor_key: Some(VendorKey::generate().public().fingerprint()),
        ..Default::default()
    };
    assert!(install(&host, &bytes, &wrong).is_err());

    let installed = install(&host, &bytes, &trusting(&key)).unwrap();
    assert_eq!(
        installed.review.fingerprint.as_deref(),
        Some(fingerprint.as_str())
    );
    assert!(
        installed.installation().grants.is_empty(),
        "installing grants nothing"
    );
    let email = installed
        .review
        .fields
        .iter()
        .find(|f| f.field == "requester.email")
        .unwrap();
    assert_eq!((email.class.as_str(), email.read), ("personal", true));
    assert!(!installed.review.component.imports.is_empty());

    let vendor = host.airlock.vendor("Airlock Tests").unwrap();
    assert_eq!(vendor.keys.len(), 1);
    assert_eq!(vendor.keys[0].fingerprint, fingerprint);
    let pin = &records(&host, "admin.vendor.key.pin")[0];
    assert_eq!(pin.entry.details["fingerprint"], fingerprint);
    let record = records(&host, "admin.plugin.install").pop().unwrap().entry;
    assert_eq!(record.details["signed"], "true");
    assert_eq!(record.details["signer"], fingerprint);
}

#[test]
fn another_key_is_refused_and_a_rotation_only_when_the_pinned_key_endorsed_it() {
    let host = TestHost::new();
    let old = VendorKey::generate();
    install(
        &host,
        &probe_bundle(&old, "1.0.0", READ).to_bytes(),
        &trusting(&old),
    )
    .unwrap();

    // Another key, even with the admin's confirmation: the vendor's key is pinned.
    let other = VendorKey::generate();
    let by_other = probe_bundle(&other, "1.1.0", READ).to_bytes();
    let refused = install(&host, &by_other, &trusting(&other)).unwrap_err();
    assert!(refused.to_string().contains("not pinned"), "{refused}");
    // Endorsed by a key that is not pinned.
    let stranger = VendorKey::generate();
    let unendorsed = probe_bundle(&other, "1.1.0", READ)
        .with_endorsements(vec![stranger.endorse("Airlock Tests", &other.public())])
        .to_bytes();
    assert!(install(&host, &unendorsed, &InstallOptions::default()).is_err());
    assert_eq!(
        host.airlock
            .installation("pii-probe")
            .unwrap()
            .manifest
            .version,
        "1.0.0"
    );
    assert!(
        host.airlock
            .installation("pii-probe")
            .unwrap()
            .pending
            .is_none()
    );

    // Endorsed by the pinned key: accepted, and the new key is pinned.
    let rotated = probe_bundle(&other, "1.1.0", READ)
        .with_endorsements(vec![old.endorse("Airlock Tests", &other.public())])
        .to_bytes();
    let offered = install(&host, &rotated, &InstallOptions::default()).unwrap();
    assert!(!offered.applied, "a new version waits for the admin");
    let keys = host.airlock.vendor("Airlock Tests").unwrap().keys;
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[1].endorsed_by.as_deref(),
        Some(old.public().fingerprint().as_str())
    );
    assert_eq!(records(&host, "admin.vendor.key.rotate").len(), 1);
}

#[test]
fn unsigned_plugins_are_refused_unless_allowed_and_then_recorded_as_unsigned() {
    let host = TestHost::new();
    let admin_cli = Actor::cli();
    let admin = host.airlock.admin(&admin_cli);
    let text = manifest("pii-probe");
    let refused = admin
        .install_unsigned(&text, component("pii-probe"), &InstallOptions::default())
        .unwrap_err();
    assert!(
        refused.to_string().contains("--allow-unsigned"),
        "{refused}"
    );
    let unsigned = Bundle::pack(&text, component("pii-probe"), None)
        .unwrap()
        .to_bytes();
    assert!(install(&host, &unsigned, &InstallOptions::default()).is_err());
    let allowed = admin
        .install_unsigned(
            &text,
            component("pii-probe"),
            &crate::support::unsigned(None),
        )
        .unwrap();
    assert_eq!(allowed.review.fingerprint, None);
    let record = records(&host, "admin.plugin.install").pop().unwrap().entry;
    assert_eq!(record.details["signed"], "false");
    assert!(!record.details.contains_key("signer"));
}
