//! Upgrades wait for consent item by item; reductions apply when approved; rollback
//! returns to the previous version and its grant.

use super::*;
use airlock_host::installation::Grants;
use airlock_host::upgrade::{Approval, Change, ItemKind};

const V1: &[&str] = &["ticket.subject", "ticket.requester_id", "requester.email"];
const V2: &[&str] = &[
    "ticket.subject",
    "ticket.requester_id",
    "requester.email",
    "requester.phone",
];

/// pii-probe 1.0.0 reading `read`, from a pinned vendor, granted all of it.
fn probe_v1(host: &TestHost, key: &VendorKey, read: &[&str]) {
    install(
        host,
        &probe_bundle(key, "1.0.0", read).to_bytes(),
        &trusting(key),
    )
    .unwrap();
    let grants = Grants {
        read: read.iter().map(|f| f.to_string()).collect(),
        ..Default::default()
    };
    host.airlock
        .admin(&Actor::cli())
        .set_grants("pii-probe", grants)
        .unwrap();
}

fn version(host: &TestHost) -> String {
    host.airlock
        .installation("pii-probe")
        .unwrap()
        .manifest
        .version
}

#[test]
fn an_upgrade_asking_for_a_new_field_waits_and_the_old_version_keeps_running_without_it() {
    let host = TestHost::new();
    let key = VendorKey::generate();
    probe_v1(&host, &key, V1);
    // The probe asks for phone and email in one call, which 1.0.0 may not make.
    assert!(probe_sees(&host, "t-1").contains("requester.phone=denied"));
    let before = probe_sees(&host, "t-2");

    let offered = install(
        &host,
        &probe_bundle(&key, "2.0.0", V2).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    assert!(!offered.applied);
    let diff = offered.upgrade.unwrap();
    assert!(diff.increases());
    let phone = &diff.items[0];
    assert_eq!(
        (phone.kind, phone.name.as_str(), phone.change),
        (ItemKind::Read, "requester.phone", Change::Added)
    );
    assert_eq!(phone.class.as_deref(), Some("personal"));
    assert!(!phone.granted);
    // The diff shows how much today's grants were used.
    let subject = diff
        .kept
        .iter()
        .find(|i| i.name == "ticket.subject")
        .unwrap();
    assert!(subject.uses_30d.unwrap() >= 2, "{subject:?}");

    // Pending: events still run 1.0.0 with its grant; the new field is not read.
    assert_eq!(version(&host), "1.0.0");
    assert_eq!(probe_sees(&host, "t-3"), before);
    assert_eq!(
        host.airlock
            .pending_upgrade("pii-probe")
            .unwrap()
            .unwrap()
            .to_version,
        "2.0.0"
    );
    let offer = records(&host, "admin.plugin.install")
        .pop()
        .unwrap()
        .entry
        .details;
    assert_eq!(offer["increases"], "true");
    assert_eq!(offer["read.added"], "requester.phone");

    // Rejecting keeps the old version and grant.
    host.airlock
        .admin(&Actor::cli())
        .reject_upgrade("pii-probe")
        .unwrap();
    assert_eq!(version(&host), "1.0.0");
    assert!(host.airlock.pending_upgrade("pii-probe").unwrap().is_none());
    assert_eq!(probe_sees(&host, "t-4"), before);
    assert_eq!(records(&host, "admin.plugin.upgrade.reject").len(), 1);

    // Approving without ticking the field runs 2.0.0 without it.
    install(
        &host,
        &probe_bundle(&key, "2.0.0", V2).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    let admin_cli = Actor::cli();
    let admin = host.airlock.admin(&admin_cli);
    let inst = admin
        .approve_upgrade("pii-probe", &Approval::default())
        .unwrap();
    assert_eq!(inst.manifest.version, "2.0.0");
    assert!(
        !inst.grants.read.contains("requester.phone"),
        "approving grants nothing by itself"
    );
    let seen = probe_sees(&host, "t-5");
    assert!(
        seen.contains("requester.phone=none requester.email=present"),
        "{seen}"
    );
    // Ticking it, on a later upgrade, grants it.
    install(
        &host,
        &probe_bundle(&key, "2.1.0", V2).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    let tick = Approval {
        grant: Grants {
            read: ["requester.phone".to_string()].into(),
            ..Default::default()
        },
    };
    admin.approve_upgrade("pii-probe", &tick).unwrap();
    let seen = probe_sees(&host, "t-6");
    assert!(
        seen.contains("requester.phone=present requester.email=present"),
        "{seen}"
    );
    let approved = records(&host, "admin.plugin.upgrade.approve");
    assert_eq!(approved.len(), 2);
    assert_eq!(approved[1].entry.details["read.added"], "requester.phone");
    assert_eq!(approved[1].entry.details["version.after"], "2.1.0");
}

#[test]
fn an_upgrade_dropping_a_field_applies_and_rollback_restores_the_version_and_grant() {
    let host = TestHost::new();
    let key = VendorKey::generate();
    probe_v1(&host, &key, V2);
    let seen = probe_sees(&host, "t-1");
    assert!(seen.contains("requester.email=present"), "{seen}");

    let fewer = &["ticket.subject", "ticket.requester_id", "requester.phone"];
    let offered = install(
        &host,
        &probe_bundle(&key, "1.1.0", fewer).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    let diff = offered.upgrade.unwrap();
    assert!(!diff.increases());
    assert_eq!(diff.items[0].change, Change::Removed);
    assert!(diff.items[0].granted);
    let admin_cli = Actor::cli();
    let admin = host.airlock.admin(&admin_cli);
    let inst = admin
        .approve_upgrade("pii-probe", &Approval::default())
        .unwrap();
    assert!(!inst.grants.read.contains("requester.email"));
    assert!(
        probe_sees(&host, "t-2").contains("requester.email=denied"),
        "no longer returned"
    );
    let versions = host.airlock.versions("pii-probe").unwrap();
    assert_eq!(versions.history.len(), 1);
    assert_eq!(versions.current, "1.1.0");

    let back = admin.rollback("pii-probe").unwrap();
    assert_eq!(back.manifest.version, "1.0.0");
    assert!(
        back.grants.read.contains("requester.email"),
        "the grant it had then"
    );
    assert!(probe_sees(&host, "t-3").contains("requester.email=present"));
    assert!(
        host.airlock
            .versions("pii-probe")
            .unwrap()
            .history
            .is_empty()
    );
    assert!(admin.rollback("pii-probe").is_err(), "nothing earlier");
    let record = &records(&host, "admin.plugin.rollback")[0].entry;
    assert_eq!(record.details["version.after"], "1.0.0");
    assert_eq!(record.details["read.added"], "requester.email");
}

#[test]
fn with_the_policy_an_upgrade_asking_for_nothing_more_applies_at_once_and_one_asking_more_still_waits()
 {
    let dir = tempfile::tempdir().unwrap();
    let airlock = airlock_host::app::Airlock::open_with(
        dir.path(),
        airlock_host::app::Options {
            auto_apply_reductions: true,
            ..Default::default()
        },
    )
    .unwrap();
    airlock.import(&crate::support::fixture()).unwrap();
    let host = TestHost { dir, airlock };
    let key = VendorKey::generate();
    probe_v1(&host, &key, V1);
    let fewer = &["ticket.subject", "ticket.requester_id"];
    let applied = install(
        &host,
        &probe_bundle(&key, "1.1.0", fewer).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    assert!(applied.applied);
    assert_eq!(version(&host), "1.1.0");
    let more = install(
        &host,
        &probe_bundle(&key, "2.0.0", V2).to_bytes(),
        &Default::default(),
    )
    .unwrap();
    assert!(!more.applied);
    assert_eq!(version(&host), "1.1.0");
}

#[test]
fn a_vendor_review_is_recorded_and_an_overdue_one_raises_one_alert() {
    let host = TestHost::new();
    let key = VendorKey::generate();
    probe_v1(&host, &key, V1);
    let map = host.airlock.data_map().unwrap();
    assert_eq!(map.vendors["Airlock Tests"], ["pii-probe"]);
    assert_eq!(
        map.installations[0].signer,
        Some(key.public().fingerprint())
    );
    let overdue = host.airlock.check_vendor_reviews(365).unwrap();
    assert_eq!(overdue, ["Airlock Tests"]);
    host.airlock.check_vendor_reviews(365).unwrap();
    let alerts = |host: &TestHost| {
        host.airlock
            .alerts(&airlock_host::monitor::AlertQuery {
                rule: Some(airlock_host::monitor::Rule::VendorReviewOverdue),
                ..Default::default()
            })
            .unwrap()
    };
    assert_eq!(alerts(&host).len(), 1, "once per vendor and review");

    let today = time::OffsetDateTime::now_utc().date().to_string();
    let admin_cli = Actor::cli();
    let admin = host.airlock.admin(&admin_cli);
    assert!(
        admin
            .review_vendor("Airlock Tests", "yesterday", "ok", None)
            .is_err()
    );
    assert!(admin.review_vendor("Nobody", &today, "ok", None).is_err());
    let vendor = admin
        .review_vendor(
            "Airlock Tests",
            &today,
            "pen test report 2026-11",
            Some("security@tests.example"),
        )
        .unwrap();
    assert_eq!(vendor.last_review.unwrap().date, today);
    assert!(host.airlock.check_vendor_reviews(365).unwrap().is_empty());
    let record = &records(&host, "admin.vendor.review")
        .into_iter()
        .find(|r| r.entry.reason == "ok")
        .unwrap()
        .entry;
    assert_eq!(record.details["vendor"], "Airlock Tests");
    assert!(
        !serde_json::to_string(record)
            .unwrap()
            .contains("pen test report")
    );
    assert_eq!(alerts(&host).len(), 1);
}
