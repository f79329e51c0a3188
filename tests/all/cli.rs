//! The plugin author's path through the real `airlock` binary: `airlock dev` shows each
//! call, and `airlock new` scaffolds a crate that builds and runs unchanged.

use crate::support::root;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn airlock(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(cwd)
        .env("AIRLOCK_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_fixtures(dir: &Path) {
    let data = serde_json::to_string(&crate::support::fixture()).unwrap();
    std::fs::write(dir.join("data.json"), data).unwrap();
    std::fs::write(
        dir.join("event.json"),
        r#"{"type": "ticket-created", "ticket": {"id": "t-1", "subject": "Refund", "description": "crash", "requester_id": "u-vip"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("settings.json"),
        r#"{"rules": [{"keyword": "refund", "tag": "billing"}]}"#,
    )
    .unwrap();
}

#[test]
fn dev_prints_each_call_and_what_was_withheld() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixtures(tmp.path());
    let root = root();
    let wasm = root.join("plugins/dist/auto-tagger.wasm");
    let manifest = root.join("plugins/auto-tagger/plugin.toml");
    let base = [
        "dev",
        wasm.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--data",
        "data.json",
        "--event",
        "event.json",
        "--settings",
        "settings.json",
    ];
    let (ok, text, err) = airlock(&base, tmp.path());
    assert!(ok, "{text}{err}");
    assert!(text.contains("event.prefetch-ticket t-1 → allow"), "{text}");
    // Undeclared fields in one summary line, and the value written.
    let undeclared = text
        .lines()
        .find(|l| {
            l.contains("undeclared fields withheld (not declared in plugin.toml [data] read)")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(undeclared.contains("ticket.requester_id"), "{text}");
    assert!(!text.contains("ticket.requester_id withheld:"), "{text}");
    assert!(text.contains("wrote ticket.tags = [\"billing\"]"), "{text}");
    assert!(text.contains("outcome: ok: added 1 tag(s)"), "{text}");

    // Grant only the subject: the description is withheld as not granted.
    let mut args = base.to_vec();
    args.extend([
        "--json",
        "--grant-read",
        "ticket.subject",
        "--grant-write",
        "ticket.tags",
    ]);
    let (ok, text, err) = airlock(&args, tmp.path());
    assert!(ok, "{text}{err}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let prefetch = &lines[0];
    assert_eq!(prefetch["call"], "event.prefetch-ticket");
    assert_eq!(prefetch["decision"], "allow");
    assert_eq!(
        prefetch["fields_returned"],
        serde_json::json!(["ticket.subject"])
    );
    let withheld = prefetch["fields_withheld"].as_array().unwrap();
    assert!(
        withheld.iter().any(|w| w["field"] == "ticket.description"
            && w["reason"] == "not granted to this installation")
    );
    for key in [
        "call",
        "resource",
        "fields_returned",
        "fields_withheld",
        "decision",
        "reason",
    ] {
        assert!(prefetch.get(key).is_some(), "missing {key}");
    }
    assert_eq!(lines.last().unwrap()["outcome"], "ok");

    // Without the write grant the write is denied and the run fails.
    let mut args = base.to_vec();
    args.extend(["--json", "--grant-write"]);
    let (ok, text, _) = airlock(&args, tmp.path());
    assert!(!ok);
    assert!(
        text.lines()
            .any(|l| l.contains("\"helpdesk.add-tags\"") && l.contains("\"deny\"")),
        "{text}"
    );
}

#[test]
fn new_scaffolds_a_plugin_that_builds_and_runs_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("made-here");
    let (ok, text, err) = airlock(
        &["new", "hello-notes", "--dir", made.to_str().unwrap()],
        tmp.path(),
    );
    assert!(ok, "{text}{err}");
    // The SDK and WIT are vendored: nothing points into this checkout, and the crate
    // builds wherever it is moved.
    let cargo_toml = std::fs::read_to_string(made.join("Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains("path = \"vendor/airlock-sdk\""),
        "{cargo_toml}"
    );
    assert!(made.join("vendor/wit/airlock.wit").is_file());
    let dir = tmp.path().join("moved").join("hello-notes");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::rename(&made, &dir).unwrap();
    let build = Command::new(root().join("scripts/build-plugins.sh"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = dir.join("dist/hello-notes.wasm");
    let (ok, text, err) = airlock(
        &[
            "dev",
            wasm.to_str().unwrap(),
            "--manifest",
            "plugin.toml",
            "--data",
            "fixture.json",
            "--event",
            "event.json",
        ],
        &dir,
    );
    assert!(ok, "{text}{err}");
    assert!(
        text.contains("helpdesk.add-internal-note t-1 → allow"),
        "{text}"
    );
    assert!(text.contains("outcome: ok: noted"), "{text}");

    // Its scaffolded test passes.
    let (ok, text, err) = airlock(
        &["test", wasm.to_str().unwrap(), "--manifest", "plugin.toml"],
        &dir,
    );
    assert!(
        ok && text.contains("PASS a new ticket gets a hello note"),
        "{text}{err}"
    );

    // Adding a dependency after the first build (its lock file exists) just works.
    let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(dir.join("Cargo.lock").is_file());
    std::fs::write(
        dir.join("Cargo.toml"),
        cargo_toml.replace("[dependencies]\n", "[dependencies]\nitoa = \"1\"\n"),
    )
    .unwrap();
    let rebuild = Command::new(root().join("scripts/build-plugins.sh"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        rebuild.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuild.stderr)
    );

    // Without the build script: cargo's core module, made a component by the binary.
    let core = root().join("plugins/target/wasm32-unknown-unknown/release/hello_notes.wasm");
    let own = dir.join("own/hello-notes.wasm");
    let (ok, text, err) = airlock(
        &[
            "plugin",
            "componentize",
            core.to_str().unwrap(),
            "--out",
            own.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(
        ok && text.contains("exports [airlock:plugin/handler@0.1.0]"),
        "{text}{err}"
    );
    let (ok, text, err) = airlock(
        &["test", own.to_str().unwrap(), "--manifest", "plugin.toml"],
        &dir,
    );
    assert!(ok && text.contains("PASS"), "{text}{err}");

    // Validate before shipping: what a host checks on install.
    let (ok, text, err) = airlock(&["plugin", "validate", "."], &dir);
    assert!(
        ok && text.contains("hello-notes 0.1.0 is valid"),
        "{text}{err}"
    );
    std::fs::write(dir.join("not-a-component.wasm"), b"\0asm junk").unwrap();
    let (ok, _, err) = airlock(
        &[
            "plugin",
            "validate",
            ".",
            "--component",
            "not-a-component.wasm",
        ],
        &dir,
    );
    assert!(!ok && err.contains("not a valid plugin component"), "{err}");

    // Signing is part of the kit: a key, a bundle, and what an admin installs.
    let (ok, text, err) = airlock(&["vendor", "keygen", "--out", "vendor.key"], &dir);
    assert!(ok, "{text}{err}");
    let ignored = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignored.contains("*.key"), "the key stays out of git");
    let (ok, text, err) = airlock(&["plugin", "pack", ".", "--key", "vendor.key"], &dir);
    assert!(ok, "{text}{err}");
    assert!(
        dir.join("dist/hello-notes-0.1.0.airlock").is_file(),
        "{text}"
    );

    let (ok, _, err) = airlock(
        &["new", "hello-notes", "--dir", dir.to_str().unwrap()],
        tmp.path(),
    );
    assert!(!ok && err.contains("not empty"), "{err}");
}

/// A data directory whose log holds one event's records (auto-tagger on a ticket), with
/// the service closed; and the checkpoint key's public half.
fn closed_log_with_one_event() -> (tempfile::TempDir, String) {
    let host = crate::support::TestHost::new();
    host.install("auto-tagger", &["ticket.subject"], &[]);
    host.ticket_created(crate::support::ticket("t-1", "Refund", "crash", "u-vip"));
    let key = host.airlock.signer().public_key_hex();
    let crate::support::TestHost { dir, airlock } = host;
    drop(airlock);
    (dir, key)
}

/// Issue 13: `airlock audit prune` deleted the whole log without confirmation. Without
/// `--yes` it now only says what it would delete.
#[test]
fn prune_deletes_nothing_without_yes() {
    let (tmp, _) = closed_log_with_one_event();
    let data = tmp.path().to_str().unwrap();
    let count = || {
        let (ok, text, err) = airlock(&["--data-dir", data, "audit", "verify"], tmp.path());
        assert!(ok, "{text}{err}");
        text
    };
    let before = count();
    let prune = [
        "--data-dir",
        data,
        "audit",
        "prune",
        "--older-than-days",
        "0",
    ];
    let (ok, text, err) = airlock(&prune, tmp.path());
    assert!(ok, "{text}{err}");
    assert!(text.contains("Run again with --yes"), "{text}");
    assert_eq!(count(), before, "nothing was pruned");
    let mut confirmed = prune.to_vec();
    confirmed.push("--yes");
    let (ok, text, err) = airlock(&confirmed, tmp.path());
    assert!(ok, "{text}{err}");
    assert!(text.starts_with("pruned "), "{text}");
}

/// Issue 13: plugin strings reached the terminal raw. `misfit` fails with an error
/// message holding a terminal escape and a right-to-left override; `airlock audit tail`
/// shows them as visible escapes.
#[test]
fn plugin_strings_reach_the_terminal_without_escapes_or_bidi_controls() {
    let host = crate::support::TestHost::new();
    host.install("misfit", &["ticket.requester_id", "requester.name"], &[]);
    host.ticket_created(crate::support::ticket("t-1", "s", "d", "u-2"));
    let hostile = "\u{1b}[2J\u{202e}evil";
    host.airlock
        .handle_event(airlock_host::dispatch::EventRequest::Action {
            ticket_id: "t-1".into(),
            name: "probe".into(),
            payload: serde_json::json!({"values": [hostile], "end": "error"}),
        })
        .unwrap();
    let crate::support::TestHost {
        dir,
        airlock: service,
    } = host;
    drop(service);
    let data = dir.path().to_str().unwrap();
    let (ok, text, err) = airlock(
        &["--data-dir", data, "audit", "tail", "-n", "1000"],
        dir.path(),
    );
    assert!(ok, "{text}{err}");
    assert!(text.contains("handler.handle"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
}

/// Issue 14: without exported checkpoints or a pinned key, verify proves only internal
/// consistency; it says so, and `--strict` fails (exit 2) on it.
#[test]
fn verify_says_what_it_proves_and_strict_requires_an_anchor() {
    let (dir, key) = closed_log_with_one_event();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["--data-dir", data, "audit", "verify"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("internally consistent"), "{text}");
    assert_eq!(run(&["--strict"]).0, Some(2));
    let (code, text) = run(&["--strict", "--public-key", &key]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("internally consistent"), "{text}");
}

/// Issue 23: an operator's path through the binary: back up, restore (saying where later
/// erasures are recorded), then rotate the restored host's master key.
#[test]
fn backup_restore_and_key_rotation_through_the_binary() {
    let (tmp, _) = closed_log_with_one_event();
    let data = tmp.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a.backup");
    let file = file.to_str().unwrap();
    let (ok, text, err) = airlock(&["--data-dir", data, "backup", "--out", file], tmp.path());
    assert!(ok && text.starts_with("backed up "), "{text}{err}");

    let restored = out.path().join("restored");
    let restored = restored.to_str().unwrap();
    let key_file = tmp.path().join("master.key");
    let key_file = key_file.to_str().unwrap();
    let restore = [
        "--data-dir",
        restored,
        "restore",
        file,
        "--master-key-file",
        key_file,
    ];
    let (ok, _, err) = airlock(&restore, out.path());
    assert!(!ok && err.contains("--erasures-from"), "{err}");
    let mut with_log = restore.to_vec();
    with_log.extend(["--erasures-from", data]);
    let (ok, text, err) = airlock(&with_log, out.path());
    assert!(
        ok && text.contains("verify with their checkpoints"),
        "{text}{err}"
    );
    let (ok, text, err) = airlock(&["--data-dir", restored, "audit", "verify"], out.path());
    assert!(ok, "{text}{err}");

    let fingerprint = || airlock(&["--data-dir", restored, "keys", "fingerprint"], out.path()).1;
    let before = fingerprint();
    let (ok, text, err) = airlock(&["--data-dir", restored, "keys", "rotate"], out.path());
    assert!(
        ok && text.starts_with("rotated the master key"),
        "{text}{err}"
    );
    assert_ne!(fingerprint(), before);
    let (ok, text, err) = airlock(&["--data-dir", restored, "audit", "verify"], out.path());
    assert!(ok, "{text}{err}");

    // A key from the environment cannot be rewritten: the new key must be given.
    let key = std::fs::read_to_string(Path::new(restored).join("master.key")).unwrap();
    let from_env = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--data-dir", restored, "keys", "rotate"])
        .env("AIRLOCK_LOG", "warn")
        .env("AIRLOCK_MASTER_KEY", key.trim())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&from_env.stderr);
    assert!(
        !from_env.status.success() && err.contains("--new-key-file"),
        "{err}"
    );
}

/// Issue 16: `airlock sdk export` writes the SDK and its WIT anywhere, and never
/// overwrites them.
#[test]
fn sdk_export_writes_the_sdk_and_its_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sdk");
    let (ok, text, err) = airlock(&["sdk", "export", out.to_str().unwrap()], tmp.path());
    assert!(ok, "{text}{err}");
    for file in [
        "airlock-sdk/Cargo.toml",
        "airlock-sdk/src/lib.rs",
        "wit/airlock.wit",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let wit = std::fs::read_to_string(out.join("wit/airlock.wit")).unwrap();
    assert_eq!(
        wit,
        std::fs::read_to_string(root().join("wit/airlock.wit")).unwrap()
    );
    let (ok, _, err) = airlock(&["sdk", "export", out.to_str().unwrap()], tmp.path());
    assert!(!ok && err.contains("exists"), "{err}");
}
