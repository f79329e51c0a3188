//! Issue 16: the plugin author's kit through the real binary. `airlock test` runs cases
//! against the built component and fails with a diff; `airlock dev --http-stub` sends
//! egress through every real check to a stub, never the network.

use crate::support::root;
use std::path::Path;
use std::process::Command;

fn airlock(args: &[&str], cwd: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(cwd)
        .env_remove("AIRLOCK_LOG")
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

const TAGGER_CASE: &str = r#"
name = "refunds are tagged billing"
settings = { rules = [{ keyword = "refund", tag = "billing" }] }

[data]
users = [{ id = "u-vip", name = "Vera", email = "vera@bigcorp.example" }]

[event]
type = "ticket-created"
ticket = { id = "t-1", subject = "Refund", description = "crash", requester_id = "u-vip" }

[expect]
outcome = "ok"
summary = "added 1 tag"
calls = ["event.prefetch-ticket t-1 allow", "settings.get rules allow", "helpdesk.add-tags t-1 allow", "log.write debug allow"]
withheld = ["ticket.requester_id"]
writes = { "ticket.tags" = ["billing"] }
"#;

#[test]
fn airlock_test_passes_a_right_case_and_fails_a_wrong_one_with_a_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = tmp.path().join("tests");
    std::fs::create_dir(&cases).unwrap();
    std::fs::write(cases.join("a_refund.toml"), TAGGER_CASE).unwrap();
    let wasm = root().join("plugins/dist/auto-tagger.wasm");
    let manifest = root().join("plugins/auto-tagger/plugin.toml");
    let args = |case: &str| {
        vec![
            "test".to_string(),
            wasm.display().to_string(),
            "--manifest".into(),
            manifest.display().to_string(),
            case.to_string(),
        ]
    };
    let run = |case: &str| {
        let a = args(case);
        airlock(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            tmp.path(),
        )
    };
    let (code, text) = run("tests");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("PASS refunds are tagged billing"), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
    assert!(!text.contains("INFO"), "no housekeeping noise: {text}");

    // The same case with a wrong tag and a missing call: a failure, with a diff.
    let wrong = TAGGER_CASE
        .replace("= [\"billing\"]", "= [\"sales\"]")
        .replace("\"helpdesk.add-tags t-1 allow\", ", "");
    std::fs::write(cases.join("b_wrong.toml"), wrong).unwrap();
    let (code, text) = run("tests");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL refunds are tagged billing"), "{text}");
    assert!(
        text.contains(r#"writes: ticket.tags: expected ["sales"], got ["billing"]"#),
        "{text}"
    );
    assert!(text.contains("calls differ:"), "{text}");
    assert!(text.contains("+ helpdesk.add-tags t-1 allow"), "{text}");
    assert!(text.contains("1 passed, 1 failed"), "{text}");

    // A case that is not valid says where.
    std::fs::write(cases.join("c_bad.toml"), "[event]\ntype = \"nope\"\n").unwrap();
    let (code, text) = run("tests/c_bad.toml");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL c_bad") && text.contains("not a valid event"),
        "{text}"
    );
}

/// The hostile test plugin sends what its action payload says, so each request below
/// meets one check.
const THIEF_DATA: &str = r#"{
  "users": [{"id": "u-vip", "email": "vera@bigcorp.example"}],
  "tickets": [{"id": "t-1", "subject": "Printer", "requester_id": "u-vip"}]
}"#;

const STUBS: &str = r#"
[[stub]]
destination = "http://127.0.0.1:18081"
path = "/api/*"
status = 200
body = "fine"

[[stub]]
destination = "http://127.0.0.1:18083"
status = 200
"#;

#[test]
fn dev_sends_egress_through_every_check_to_a_stub() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.json"), THIEF_DATA).unwrap();
    std::fs::write(tmp.path().join("stubs.toml"), STUBS).unwrap();
    std::fs::write(
        tmp.path().join("settings.json"),
        r#"{"label": "dev", "token": "tok-12345678"}"#,
    )
    .unwrap();
    let request = |url: &str, body: &str| serde_json::json!({"method": "POST", "url": url, "headers": [], "body": body});
    let event = serde_json::json!({
        "type": "action", "ticket_id": "t-1", "name": "probe",
        "payload": {"requests": [
            // Allowed: a declared, approved destination, carrying the subject.
            request("http://127.0.0.1:18081/api/echo", "subject={subject}"),
            // Refused by the data-loss check: an email the plugin never read.
            request("http://127.0.0.1:18081/api/echo", "write to sam@smallshop.example"),
            // Refused by the allow-list: undeclared, though a stub would answer.
            request("http://127.0.0.1:18083/x", "hi"),
        ]}
    });
    std::fs::write(tmp.path().join("event.json"), event.to_string()).unwrap();
    let wasm = root().join("plugins/dist/secret-thief.wasm");
    let manifest = root().join("tests/plugins/secret-thief/plugin.toml");
    let mut args = vec![
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
        "--http-stub",
        "stubs.toml",
    ];
    // Without dev mode, plain http is refused before anything is sent.
    let (_, text) = airlock(&args, tmp.path());
    assert!(!text.contains("sent POST"), "{text}");
    assert!(text.contains("HTTPS only"), "{text}");

    args.push("--dev");
    let (code, text) = airlock(&args, tmp.path());
    assert_eq!(code, Some(0), "{text}");
    let sent: Vec<&str> = text.lines().filter(|l| l.starts_with("sent ")).collect();
    assert_eq!(
        sent.len(),
        1,
        "only the allowed request reaches the stub: {text}"
    );
    assert!(
        sent[0].starts_with("sent POST http://127.0.0.1:18081/api/echo")
            && sent[0].ends_with("stub answered 200"),
        "{text}"
    );
    assert!(text.contains("#0 status=200"), "{text}");
    assert!(
        text.contains("#1 error=denied: data not approved"),
        "{text}"
    );
    assert!(
        text.contains("#2 error=denied: an undeclared destination"),
        "{text}"
    );
    assert!(
        !text.contains("tok-12345678"),
        "the secret never shows: {text}"
    );
}

/// A scheduled plugin is tested like any other: `{"type": "schedule"}` as the event.
#[test]
fn airlock_test_runs_a_scheduled_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tick.toml"),
        "[event]\ntype = \"schedule\"\n[expect]\noutcome = \"ok\"\nsummary = \"count=1\"\ncalls = []\n",
    )
    .unwrap();
    let wasm = root().join("plugins/dist/counter.wasm");
    let manifest = root().join("tests/plugins/counter/plugin.toml");
    let (code, text) = airlock(
        &[
            "test",
            wasm.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "tick.toml",
        ],
        tmp.path(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("PASS tick"), "{text}");
}

/// A recorded invocation re-runs against another build, in a copy: the changed calls show
/// as a diff, and the live data directory is left as it was.
#[test]
fn replay_shows_how_a_new_build_changes_a_recorded_invocation() {
    let host = crate::support::TestHost::new();
    host.install(
        "auto-tagger",
        &["ticket.subject", "ticket.description"],
        &["ticket.tags"],
    );
    host.airlock
        .set_settings(
            "auto-tagger",
            serde_json::json!({"rules": [{"keyword": "refund", "tag": "billing"}]}),
        )
        .unwrap();
    let results = host.ticket_created(crate::support::ticket("t-1", "Refund", "crash", "u-vip"));
    let invocation = results[0].invocation.clone();
    let crate::support::TestHost { dir, airlock: live } = host;
    let records_before = live.store().count_audit().unwrap();
    drop(live);
    let data = dir.path().to_str().unwrap();
    let replay = |plugin: &str, manifest: &str| {
        let wasm = root().join(format!("plugins/dist/{plugin}.wasm"));
        let manifest = root().join(manifest);
        airlock(
            &[
                "--data-dir",
                data,
                "dev",
                wasm.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "--replay",
                &invocation,
            ],
            dir.path(),
        )
    };
    let (code, text) = replay("auto-tagger", "plugins/auto-tagger/plugin.toml");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("calls: the same"), "{text}");
    assert!(text.contains("outcome: recorded ok, replayed ok"), "{text}");

    // Another build under the same grant: its calls differ, and the diff says how.
    let (code, text) = replay("vip-escalation", "plugins/vip-escalation/plugin.toml");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("calls differ:"), "{text}");
    assert!(text.contains("- helpdesk.add-tags t-1 allow"), "{text}");

    // The live directory is unchanged: no record, no write.
    let live = airlock_host::app::Airlock::open(dir.path(), Default::default()).unwrap();
    assert_eq!(live.store().count_audit().unwrap(), records_before);
    let (code, text) = airlock(
        &[
            "--data-dir",
            data,
            "dev",
            "x.wasm",
            "--manifest",
            "m",
            "--replay",
            "inv_nope",
        ],
        dir.path(),
    );
    assert_ne!(code, Some(0));
    assert!(
        text.contains("no audit records of invocation inv_nope"),
        "{text}"
    );
}
