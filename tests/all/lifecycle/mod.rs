//! Issue 22: vendor-signed bundles, upgrades that wait for field-level consent, versions
//! and rollback, and vendors' reviews.

use crate::support::{TestHost, component, manifest, ticket};
use airlock_bundle::{Bundle, VendorKey};
use airlock_host::app::lifecycle::{InstallOptions, Installed};
use airlock_host::app::{Actor, AppResult};
use airlock_host::audit::{AuditFilter, AuditRecord};

mod bundles;
mod cli;
mod upgrades;

/// The fields pii-probe 2.0.0 reads: 1.0.0's and requester.phone.
fn upgrades_v2() -> &'static [&'static str] {
    &[
        "ticket.subject",
        "ticket.requester_id",
        "requester.email",
        "requester.phone",
    ]
}

/// pii-probe's manifest at `version`, reading exactly `read`.
fn probe_manifest(version: &str, read: &[&str]) -> String {
    let fields: Vec<String> = read.iter().map(|f| format!("\"{f}\"")).collect();
    manifest("pii-probe")
        .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
        .replace(
            "read = [\"ticket.subject\", \"ticket.requester_id\", \"requester.email\", \"requester.phone\"]",
            &format!("read = [{}]", fields.join(", ")),
        )
}

/// A pii-probe bundle at `version` reading `read`, signed by `key`.
fn probe_bundle(key: &VendorKey, version: &str, read: &[&str]) -> Bundle {
    Bundle::pack(
        &probe_manifest(version, read),
        component("pii-probe"),
        Some(key),
    )
    .unwrap()
}

/// Installs a bundle as the command line's admin.
fn install(host: &TestHost, bundle: &[u8], options: &InstallOptions) -> AppResult<Installed> {
    host.airlock
        .admin(&Actor::cli())
        .install_bundle(bundle, options)
}

/// Options confirming `key` as the vendor's on first install.
fn trusting(key: &VendorKey) -> InstallOptions {
    InstallOptions {
        trust_vendor_key: Some(key.public().fingerprint()),
        ..Default::default()
    }
}

/// The records of `call`, oldest first.
fn records(host: &TestHost, call: &str) -> Vec<AuditRecord> {
    host.airlock
        .audit(&AuditFilter {
            call: Some(call.into()),
            ..Default::default()
        })
        .unwrap()
}

/// What the probe saw of each field on a new ticket.
fn probe_sees(host: &TestHost, ticket_id: &str) -> String {
    let results = host.ticket_created(ticket(ticket_id, "Hello", "text", "u-vip"));
    TestHost::result_of(&results, "pii-probe")
        .summary
        .clone()
        .unwrap_or_default()
}
