//! The vendor's and the admin's paths through the real binary: keygen, pack, install
//! with the fingerprint confirmed, a tampered bundle refused, an upgrade reviewed,
//! approved item by item, and rolled back.

use super::*;
use std::path::Path;
use std::process::Command;

/// Runs `airlock` with `args` against the data directory `data`.
fn airlock(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_vendor_signs_with_the_cli_and_an_admin_installs_approves_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, dir) = (tmp.path().join("data"), tmp.path().join("probe"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |p: &str| tmp.path().join(p).display().to_string();
    let wasm = crate::support::root().join("plugins/dist/pii-probe.wasm");
    let wasm = wasm.to_str().unwrap();

    let (ok, text) = airlock(&data, &["vendor", "keygen", "--out", &path("vendor.key")]);
    assert!(ok, "{text}");
    let (ok, fingerprint) = airlock(&data, &["vendor", "fingerprint", &path("vendor.pub")]);
    assert!(
        ok && text.contains(fingerprint.trim()),
        "{text} {fingerprint}"
    );
    let fingerprint = fingerprint.trim().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path("vendor.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pack = |version: &str, read: &[&str], out: &str| {
        std::fs::write(dir.join("plugin.toml"), probe_manifest(version, read)).unwrap();
        let (ok, text) = airlock(
            &data,
            &[
                "plugin",
                "pack",
                dir.to_str().unwrap(),
                "--key",
                &path("vendor.key"),
                "--component",
                wasm,
                "--out",
                &path(out),
            ],
        );
        assert!(ok, "{text}");
    };
    pack(
        "1.0.0",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        "v1.airlock",
    );

    let (ok, text) = airlock(&data, &["plugin", "install", &path("v1.airlock")]);
    assert!(!ok && text.contains(&fingerprint), "{text}");
    let (ok, text) = airlock(
        &data,
        &[
            "plugin",
            "install",
            &path("v1.airlock"),
            "--trust-vendor-key",
            &fingerprint,
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("requester.email") && text.contains("personal"),
        "{text}"
    );
    assert!(text.contains("imports airlock:plugin/"), "{text}");

    // One changed character in the component: refused.
    let mut bundle: Bundle =
        serde_json::from_slice(&std::fs::read(path("v1.airlock")).unwrap()).unwrap();
    let flipped = if bundle.component.ends_with('A') {
        'B'
    } else {
        'A'
    };
    bundle.component.pop();
    bundle.component.push(flipped);
    std::fs::write(path("bad.airlock"), bundle.to_bytes()).unwrap();
    let (ok, text) = airlock(&data, &["plugin", "install", &path("bad.airlock")]);
    assert!(!ok, "{text}");

    pack("2.0.0", super::upgrades_v2(), "v2.airlock");
    let (ok, text) = airlock(&data, &["plugin", "install", &path("v2.airlock")]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ASKS FOR MORE") && text.contains("+ Read requester.phone [personal]"),
        "{text}"
    );
    let (ok, json) = airlock(&data, &["plugin", "upgrade", "pii-probe", "--json"]);
    assert!(ok, "{json}");
    let diff: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(diff["items"][0]["name"], "requester.phone");
    let (ok, text) = airlock(
        &data,
        &[
            "plugin",
            "approve",
            "pii-probe",
            "--read",
            "requester.phone",
        ],
    );
    assert!(
        ok && text.contains("2.0.0") && text.contains("requester.phone"),
        "{text}"
    );
    let (ok, text) = airlock(&data, &["plugin", "versions", "pii-probe"]);
    assert!(
        ok && text.contains("1.0.0") && text.contains("* 2.0.0"),
        "{text}"
    );
    let (ok, text) = airlock(&data, &["plugin", "rollback", "pii-probe"]);
    assert!(ok && text.contains("1.0.0"), "{text}");
    let (ok, text) = airlock(&data, &["vendor", "list"]);
    assert!(
        ok && text.contains("Airlock Tests") && text.contains(&fingerprint),
        "{text}"
    );
    let (ok, text) = airlock(&data, &["audit", "verify"]);
    assert!(ok, "{text}");
}
