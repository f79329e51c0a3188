//! A `kill -9` of the service mid-load loses no acknowledged event's audit records, and
//! leaves a log that verifies.

use crate::support::{manifest_path, root};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "crash-test-token-0123456789";

fn airlock(data: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
    cmd.arg("--data-dir").arg(data).env("AIRLOCK_LOG", "warn");
    cmd
}

/// Starts `airlock serve` on a free loopback port (with `extra` arguments) and waits until
/// it answers; returns the process, the API's base URL and an HTTP agent.
fn serve(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String, ureq::Agent) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = airlock(data)
        .arg("serve")
        .args(extra)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("AIRLOCK_ADMIN_TOKEN", TOKEN)
        // What it prints is little, and read by the tests that care.
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let started = Instant::now();
    while agent.get(&format!("{base}/health")).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the service did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, base, agent)
}

/// Installs a built plugin through the CLI.
fn install(data: &std::path::Path, name: &str, manifest: &std::path::Path) {
    let wasm = root().join(format!("plugins/dist/{name}.wasm"));
    let ok = airlock(data)
        .args(["plugin", "install"])
        .arg(&wasm)
        .arg("--manifest")
        .arg(manifest)
        .arg("--allow-unsigned")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "cannot install {name}");
}

#[test]
fn kill_9_mid_load_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    install(data, "counter", &manifest_path("counter"));
    let (mut server, base, agent) = serve(data, &[]);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (agent, base) = (agent.clone(), base.clone());
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let event = serde_json::json!({"type": "ticket-created", "ticket": {"id": format!("t-{c}-{i}")}});
                    let response = agent
                        .post(&format!("{base}/events"))
                        .header("Authorization", &format!("Bearer {TOKEN}"))
                        .send_json(&event);
                    let Ok(mut response) = response else { break };
                    let body: serde_json::Value = response.body_mut().read_json().unwrap();
                    for r in body["results"].as_array().unwrap() {
                        acknowledged.lock().unwrap().push(r["invocation"].as_str().unwrap().to_string());
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "too little load: {}",
        acknowledged.len()
    );
    // Recovery indexes what the journal holds beyond the table, then the whole log is
    // verified (a plain verify only reads).
    let verify = airlock(data)
        .args(["audit", "verify", "--recover"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let conn = rusqlite::Connection::open(data.join("airlock.db")).unwrap();
    for invocation in &acknowledged {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE invocation = ?1",
                [invocation],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            n >= 1,
            "acknowledged invocation {invocation} has no audit record"
        );
    }
}

/// Issue 14: records after the newest checkpoint were unprotected for as long as the
/// service liked. It signs one every few seconds when anything was appended, and one
/// when it stops cleanly, so a clean stop leaves every record under a signed checkpoint.
#[test]
fn serve_checkpoints_within_seconds_and_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    install(data, "counter", &manifest_path("counter"));
    let (mut server, base, agent) = serve(data, &[]);
    let checkpoints = || -> Vec<serde_json::Value> {
        let mut r = agent
            .get(&format!("{base}/audit/checkpoints"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        let body: serde_json::Value = r.body_mut().read_json().unwrap();
        body["checkpoints"].as_array().unwrap().clone()
    };
    let post = |id: &str| {
        let event = serde_json::json!({"type": "ticket-created", "ticket": {"id": id}});
        agent
            .post(&format!("{base}/events"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(&event)
            .unwrap();
    };
    post("t-1");
    let size_now =
        |cps: &[serde_json::Value]| cps.last().map_or(0, |c| c["size"].as_u64().unwrap());
    // Within a few checkpoint intervals, the event's records are under a checkpoint.
    let waited = Instant::now();
    loop {
        if size_now(&checkpoints()) > 0 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no checkpoint was signed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    post("t-2");
    // A clean stop (SIGINT, as ctrl-c) signs the last one.
    let stopped = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.wait().unwrap().success());
    let conn = rusqlite::Connection::open(data.join("airlock.db")).unwrap();
    let (records, last_checkpoint): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT MAX(seq) FROM audit), (SELECT MAX(size) FROM audit_checkpoints)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        last_checkpoint, records,
        "records after the last checkpoint"
    );
}

/// Issue 14: a plugin's writes and requests happened at the call, but their records were
/// appended when the invocation ended, so a `kill -9` in between left changes no record
/// names. Now each call with an effect is recorded (durably) before it is performed.
/// `misfit` writes tags and sends requests, then loops; the service is killed mid-loop.
#[test]
fn kill_9_mid_invocation_leaves_no_change_without_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // A loopback server that counts the requests it receives.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 8192];
            if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let manifest = std::fs::read_to_string(manifest_path("misfit"))
        .unwrap()
        .replace("127.0.0.1:18081", &server_addr.to_string());
    let manifest_file = data.join("misfit.toml");
    std::fs::write(&manifest_file, manifest).unwrap();
    let run = |args: &[&str]| {
        let out = airlock(data).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    install(data, "misfit", &manifest_file);
    let destination = format!("http://{server_addr}");
    run(&[
        "plugin",
        "grant",
        "misfit",
        "--read",
        "ticket.subject,ticket.requester_id,ticket.tags,requester.name",
        "--write",
        "ticket.tags",
        "--egress",
        &destination,
    ]);
    let (mut server, base, agent) = serve(data, &["--dev"]);
    let post = move |event: serde_json::Value| {
        agent
            .post(&format!("{base}/events"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(&event)
    };
    post(serde_json::json!({"type": "ticket-created", "ticket": {"id": "t-1", "subject": "s"}}))
        .unwrap();
    let action = serde_json::json!({"type": "action", "ticket_id": "t-1", "name": "probe",
        "payload": {"values": ["probe1"], "server": destination, "end": "fake-panic-then-loop"}});
    let pending = std::thread::spawn(move || post(action).is_ok());
    // The plugin writes and sends within a few milliseconds, then loops for a second.
    let waited = Instant::now();
    while received.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    server.kill().unwrap(); // SIGKILL, mid-invocation
    server.wait().unwrap();
    assert!(
        !pending.join().unwrap(),
        "the action was answered before the kill"
    );
    let sent = received.load(Ordering::SeqCst);
    assert!(sent > 0, "the plugin sent nothing before the kill");

    let verify = airlock(data)
        .args(["audit", "verify", "--recover"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let conn = rusqlite::Connection::open(data.join("airlock.db")).unwrap();
    let doc: String = conn
        .query_row("SELECT doc FROM tickets WHERE id = 't-1'", [], |r| r.get(0))
        .unwrap();
    assert!(
        doc.contains("probe1"),
        "the plugin's tag was written: {doc}"
    );
    let count = |call: &str| -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM audit WHERE installation = 'misfit' AND event = 'action' AND call = ?1",
            [call],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(
        count("helpdesk.add-tags") >= 1,
        "a tag was written with no record"
    );
    assert!(
        count("http.request") as usize >= sent,
        "{sent} requests reached the server, {} are recorded",
        count("http.request")
    );
}

/// Issue 13: the admin token was printed on every start, even when the environment
/// supplied it. Only a token the service generates is shown, once.
#[test]
fn a_supplied_admin_token_is_never_printed() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _, _) = serve(dir.path(), &[]);
    server.kill().unwrap();
    server.wait().unwrap();
    let mut printed = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(!printed.contains(TOKEN), "{printed}");
}
