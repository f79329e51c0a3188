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
