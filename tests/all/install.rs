//! Installing: bad manifests are rejected with a message naming the problem, components
//! outside Airlock's world are refused, and nothing is granted until an admin says so.

use crate::support::{TestHost, component, manifest};
use airlock_host::app::AppError;
use airlock_host::installation::Grants;
use serde_json::json;

fn rejected(host: &TestHost, manifest_text: &str, wasm: &[u8]) -> String {
    match host
        .airlock
        .install("plugins/x/plugin.toml", manifest_text, wasm, None)
    {
        Err(AppError::Invalid(message)) => message,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn bad_manifests_are_rejected_with_the_problem_named() {
    let host = TestHost::new();
    let good = manifest("auto-tagger");
    let wasm = component("auto-tagger");
    let cases = [
        (
            good.replace("\"ticket.description\"", "\"requester.shoe_size\""),
            "unknown field path `requester.shoe_size`",
        ),
        (
            good.replace("\"ticket-created\"", "\"ticket-exploded\""),
            "events[0]",
        ),
        (
            good.replace("type = \"array\"", "type = \"arrray\""),
            "key `settings`: not a valid JSON Schema",
        ),
        (good.replace("[data]", "[data"), "invalid TOML"),
        (
            good.replace("name = \"auto-tagger\"", "name = \"Auto Tagger!\""),
            "key `name`",
        ),
        (
            good.replace("write = [\"ticket.tags\"]", "write = [\"ticket.subject\"]"),
            "cannot be written",
        ),
    ];
    for (text, expected) in cases {
        let message = rejected(&host, &text, &wasm);
        assert!(
            message.contains(expected),
            "expected {expected:?} in: {message}"
        );
        assert!(
            message.starts_with("plugins/x/plugin.toml"),
            "names the file: {message}"
        );
    }
    assert!(host.airlock.installations().unwrap().is_empty());
}

#[test]
fn components_outside_airlocks_world_are_refused() {
    let host = TestHost::new();
    let wasi = wat::parse_str(
        r#"(component
            (import "wasi:sockets/tcp@0.2.0" (instance))
            (import "airlock:plugin/log@0.1.0" (instance))
        )"#,
    )
    .unwrap();
    let message = rejected(&host, &manifest("counter"), &wasi);
    assert!(message.contains("wasi:sockets/tcp@0.2.0"), "{message}");
    assert!(message.contains("outside Airlock's world"), "{message}");

    let no_handler = wat::parse_str("(component)").unwrap();
    let message = rejected(&host, &manifest("counter"), &no_handler);
    assert!(message.contains("airlock:plugin/handler"), "{message}");

    let message = rejected(&host, &manifest("counter"), b"\0asm garbage");
    assert!(message.contains("component rejected"), "{message}");
}

#[test]
fn installing_grants_nothing_and_grants_must_be_declared() {
    let host = TestHost::new();
    let inst = host
        .airlock
        .install(
            "plugin.toml",
            &manifest("auto-tagger"),
            &component("auto-tagger"),
            None,
        )
        .unwrap();
    assert!(inst.grants.read.is_empty() && inst.grants.write.is_empty());

    let undeclared = Grants {
        read: ["requester.email".to_string()].into(),
        ..Default::default()
    };
    match host.airlock.set_grants("auto-tagger", undeclared) {
        Err(AppError::Invalid(m)) => assert!(m.contains("requester.email"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        host.airlock.set_grants("nope", Grants::default()),
        Err(AppError::NotFound(_))
    ));
}

#[test]
fn settings_are_validated_against_the_schema_when_saved() {
    let host = TestHost::new();
    host.install("auto-tagger", &[], &[]);
    let bad = json!({"rules": [{"keyword": "refund"}]});
    match host.airlock.set_settings("auto-tagger", bad) {
        Err(AppError::Invalid(m)) => assert!(m.contains("settings.rules[0]"), "{m}"),
        other => panic!("{other:?}"),
    }
    let good = json!({"rules": [{"keyword": "refund", "tag": "billing"}]});
    host.airlock
        .set_settings("auto-tagger", good.clone())
        .unwrap();
    assert_eq!(
        host.airlock.installation("auto-tagger").unwrap().settings,
        good
    );
}

/// Issue 13: concurrent admin changes to one installation lost one another's changes
/// (each was a read-modify-write without a transaction): a revoked grant came back, a
/// disable was undone. Three admins change three things at once, forty times; after
/// every round each change is there.
#[test]
fn concurrent_admin_changes_never_undo_one_another() {
    use std::sync::{Arc, Barrier};
    let host = Arc::new(crate::support::TestHost::new());
    host.install("auto-tagger", &["ticket.subject"], &[]);
    const ROUNDS: usize = 40;
    let start = Arc::new(Barrier::new(4));
    let done = Arc::new(Barrier::new(4));
    let grants = |round: usize| airlock_host::installation::Grants {
        read: match round % 2 {
            0 => ["ticket.subject".to_string()].into(),
            _ => [
                "ticket.subject".to_string(),
                "ticket.description".to_string(),
            ]
            .into(),
        },
        ..Default::default()
    };
    let settings =
        |round: usize| serde_json::json!({"rules": [{"keyword": format!("k{round}"), "tag": "t"}]});
    let workers: Vec<_> = (0..3)
        .map(|who| {
            let (host, start, done) = (host.clone(), start.clone(), done.clone());
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    start.wait();
                    let airlock = &host.airlock;
                    match who {
                        0 => airlock.set_enabled("auto-tagger", round % 2 == 0).map(drop),
                        1 => airlock.set_grants("auto-tagger", grants(round)).map(drop),
                        _ => airlock
                            .set_settings("auto-tagger", settings(round))
                            .map(drop),
                    }
                    .unwrap();
                    done.wait();
                }
            })
        })
        .collect();
    for round in 0..ROUNDS {
        start.wait();
        done.wait();
        let inst = host.airlock.installation("auto-tagger").unwrap();
        assert_eq!(inst.enabled, round % 2 == 0, "round {round}: enabled");
        assert_eq!(
            inst.grants.read,
            grants(round).read,
            "round {round}: grants"
        );
        assert_eq!(inst.settings, settings(round), "round {round}: settings");
    }
    for w in workers {
        w.join().unwrap();
    }
}

/// Issue 13: the data directory's files were 0644 in a 0755 folder. They are the
/// service's alone: the folder 0700, every file 0600, narrowed again on every start.
#[cfg(unix)]
#[test]
fn the_data_directory_is_the_service_s_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let host = TestHost::new();
    host.install("auto-tagger", &["ticket.subject"], &[]);
    let dir = host.dir.path().to_path_buf();
    let loose = dir.join("demo-data.json");
    std::fs::write(&loose, "{}").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(host.airlock);
    let reopened = airlock_host::app::Airlock::open(&dir, Default::default()).unwrap();
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
    }
    drop(reopened);
}
