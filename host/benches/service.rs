//! The service end to end, beside the engine in-process, in one run (issue 15).
//!
//! 1. **Service:** the demo data set and its three plugins (`scripts/run-demo.sh`, set up
//!    only), `airlock serve` with audit durability `Full`, and [`airlock_host::loadgen`]
//!    posting ~1 KiB `ticket-created` events with PII over keep-alive HTTP on loopback,
//!    at 1 and 32 connections. The server's CPU time comes from `/proc/<pid>/stat`.
//! 2. **In-process:** the same demo set opened in this process, the same events handed
//!    to `Airlock::handle_event` one at a time: the per-event median, and per invocation.
//! 3. **Flatness:** that per-event median with the audit log seeded (directly, not over
//!    HTTP) to 10,000 and to 1,000,000 records.
//! 4. **Verify under load:** `GET /api/v1/audit/verify` 100 times while 8 connections
//!    post events: no false alarm.
//! 5. **Overload:** 1,000 connections posting to a plugin that runs to its deadline:
//!    peak RSS, answers by status, health latency meanwhile, and `airlock audit verify`
//!    afterwards.
//!
//! Run: `cargo bench -p airlock-host --bench service` (after `make plugins`); `make bench`
//! runs it with the rest. `AIRLOCK_BENCH_QUICK=1` shortens every phase.

/// The service's allocator, as `src/main.rs` sets it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use airlock_host::app::{Airlock, Options};
use airlock_host::audit::{AuditEntry, Decision};
use airlock_host::dispatch::EventRequest;
use airlock_host::loadgen::{self, LoadOptions, LoadReport};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";
const BIN: &str = env!("CARGO_BIN_EXE_airlock");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn quick() -> bool {
    std::env::var_os("AIRLOCK_BENCH_QUICK").is_some()
}

/// A data directory with the demo data set and plugins, as `make run` sets it up.
fn demo_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let status = Command::new(repo().join("scripts/run-demo.sh"))
        .env("AIRLOCK_DATA_DIR", &dir)
        .env("AIRLOCK_BIN", BIN)
        .env("AIRLOCK_DEMO_SETUP_ONLY", "1")
        .stdout(Stdio::null())
        .status()
        .expect("scripts/run-demo.sh runs");
    assert!(status.success(), "demo setup failed ({status})");
    dir
}

/// The ingest token of each running server, by address.
static INGEST_TOKENS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<std::net::SocketAddr, String>>,
> = std::sync::LazyLock::new(Default::default);

/// `airlock serve` on a free loopback port, answering health.
struct Server {
    child: Child,
    address: std::net::SocketAddr,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--listen", &address.to_string()])
            .env("AIRLOCK_DATA_DIR", dir)
            .env("AIRLOCK_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("airlock serve starts");
        // Events are posted with the directory's ingest token, as a helpdesk would (the
        // break-glass token works too, but each of its uses is one more audit record).
        let token = std::fs::read_to_string(dir.join("demo-ingest-token"))
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|_| TOKEN.to_string());
        INGEST_TOKENS.lock().unwrap().insert(address, token);
        let server = Server { child, address };
        let start = Instant::now();
        while health_ms(address).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the server never answered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }

    /// Peak resident memory, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }

    /// Stops it as ctrl-c does (it signs a closing checkpoint).
    fn stop(mut self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::INT,
        );
        let _ = self.child.wait();
    }
}

/// A process's user and system CPU seconds so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / rustix::param::clock_ticks_per_second() as f64
}

/// `GET path` with the admin token on a new connection: the milliseconds it took and
/// the whole answer, if one came within `within`.
fn get(address: std::net::SocketAddr, path: &str, within: Duration) -> Option<(f64, String)> {
    use std::io::{Read, Write};
    let start = Instant::now();
    let mut stream = std::net::TcpStream::connect_timeout(&address, within).ok()?;
    stream.set_read_timeout(Some(within)).ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    Some((ms, String::from_utf8_lossy(&answer).into_owned()))
}

/// The time `GET /api/v1/health` takes on a new connection, if it answers 200 in 5 s.
fn health_ms(address: std::net::SocketAddr) -> Option<f64> {
    let (ms, answer) = get(address, "/api/v1/health", Duration::from_secs(5))?;
    answer.starts_with("HTTP/1.1 200").then_some(ms)
}

/// `GET /api/v1/audit/verify` up to `times` times while 8 connections post events: how
/// many said the log verifies, how many said it does not, and the median milliseconds.
fn verify_under_load(server: &Server, times: usize) -> String {
    let address = server.address;
    let seconds = if quick() { 8 } else { 75 };
    let load = std::thread::spawn(move || load(address, 8, seconds));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut ok, mut alarms, mut failed, mut took) = (0, 0, 0, Vec::new());
    while ok + alarms + failed < times && Instant::now() < deadline {
        match get(address, "/api/v1/audit/verify", Duration::from_secs(60)) {
            Some((ms, answer)) if answer.contains("\"ok\":true") => {
                ok += 1;
                took.push(ms);
            }
            Some((_, answer)) if answer.contains("\"ok\":false") => alarms += 1,
            _ => failed += 1,
        }
    }
    let report = load.join().unwrap();
    took.sort_by(f64::total_cmp);
    let median = took.get(took.len() / 2).copied().unwrap_or(0.0);
    format!(
        "verify under load (8 connections posting: {report}):\n  {ok} verified, {alarms} said the log \
         does not verify (target 0), {failed} failed to answer; median {median:.0} ms"
    )
}

/// Seconds of load before a measurement, whose answers are not counted.
fn warmup() -> u64 {
    if quick() { 1 } else { 2 }
}

fn load(address: std::net::SocketAddr, connections: usize, seconds: u64) -> LoadReport {
    load_after(address, connections, seconds, warmup())
}

fn load_after(
    address: std::net::SocketAddr,
    connections: usize,
    seconds: u64,
    warmup: u64,
) -> LoadReport {
    let options = LoadOptions {
        address,
        token: INGEST_TOKENS.lock().unwrap()[&address].clone(),
        connections,
        duration: Duration::from_secs(seconds),
        warmup: Duration::from_secs(warmup),
        requesters: 50,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(loadgen::run(&options)).unwrap()
}

/// The service under load: the report and the server's CPU seconds per event answered.
fn service_at(server: &Server, connections: usize) -> (LoadReport, f64) {
    let seconds = if quick() { 3 } else { 10 };
    // Warm up in a run of its own, so the CPU counted is the measured run's alone.
    load_after(server.address, connections, warmup(), 0);
    let before = server.cpu_seconds();
    let report = load_after(server.address, connections, seconds, 0);
    let cpu = server.cpu_seconds() - before;
    let per_event = cpu / (report.events as f64).max(1.0);
    (report, per_event)
}

/// What handing events to the engine in-process, one at a time, cost.
struct InProcess {
    /// The median wall-clock seconds per event.
    median: f64,
    /// This process's CPU seconds per event.
    cpu: f64,
}

fn in_process(airlock: &Airlock, events: usize, salt: usize) -> InProcess {
    let cpu_before = cpu_seconds(std::process::id());
    let mut times: Vec<f64> = (0..events)
        .map(|n| {
            let body = loadgen::event_body(0xbe7c, salt, n, 50);
            let event: EventRequest = serde_json::from_slice(&body).unwrap();
            let start = Instant::now();
            let results = airlock.handle_event(event).unwrap();
            assert_eq!(results.len(), 3, "three demo plugins ran");
            start.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = (cpu_seconds(std::process::id()) - cpu_before) / events as f64;
    times.sort_by(f64::total_cmp);
    InProcess {
        median: times[times.len() / 2],
        cpu,
    }
}

/// Appends synthetic records shaped like an event's until the log holds `target`.
fn seed_audit(airlock: &Airlock, target: u64) {
    let have = airlock.store().count_audit().unwrap();
    let mut n = have;
    while n < target {
        let batch = (target - n).min(20_000);
        let entries = (0..batch)
            .map(|i| AuditEntry {
                installation: "auto-tagger".into(),
                plugin: "auto-tagger".into(),
                version: "0.1.0".into(),
                invocation: format!("seed-{}", (n + i) / 4),
                event: "ticket-created".into(),
                call: "helpdesk.get-ticket".into(),
                resource: format!("t-seed-{}", (n + i) / 4),
                fields_returned: vec!["ticket.subject".into(), "ticket.description".into()],
                decision: Some(Decision::Allow),
                reason: "ok".into(),
                ..Default::default()
            })
            .collect();
        airlock.store().append(entries).unwrap();
        n += batch;
    }
    // Catch the monitor up once, as a restarted service does: not per-event work.
    airlock.monitor().sync().unwrap();
}

fn main() {
    // Criterion-style flags (`--bench`) are ignored.
    let root = tempfile::tempdir().unwrap();
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .ok();

    // 1. The service; 4. verify under load.
    let dir = demo_dir(root.path(), "service");
    let server = Server::start(&dir);
    let (one, one_cpu) = service_at(&server, 1);
    let (many, many_cpu) = service_at(&server, 32);
    let verified = verify_under_load(&server, 100);
    server.stop();

    // 2 and 3. In-process, on a fresh demo set, at 10k and at 1M audit records.
    let events = if quick() { 60 } else { 400 };
    let flat_dir = demo_dir(root.path(), "in-process");
    let airlock = Airlock::open_with(&flat_dir, Options::default()).unwrap();
    seed_audit(&airlock, 10_000);
    in_process(&airlock, 20, 1);
    let at_10k = in_process(&airlock, events, 2);
    seed_audit(&airlock, if quick() { 100_000 } else { 1_000_000 });
    in_process(&airlock, 20, 3);
    let at_1m = in_process(&airlock, events, 4);
    let log_size = airlock.store().count_audit().unwrap();
    drop(airlock);

    // 5. Overload.
    let overload = overload(root.path());

    let ms = |s: f64| s * 1000.0;
    println!();
    println!("service, demo data, 3 plugins, durability full, ~1 KiB events with PII:");
    for (n, report, cpu) in [(1, &one, one_cpu), (32, &many, many_cpu)] {
        println!(
            "  {n:>2} connection(s): {report}\n      server CPU {:.3} ms per event, {:.3} ms per invocation",
            ms(cpu),
            ms(cpu) / 3.0
        );
    }
    println!(
        "in-process (handle_event, one at a time, durability full): per-event median {:.3} ms \
         ({:.3} ms per invocation); CPU {:.3} ms per event ({:.3} ms per invocation)",
        ms(at_10k.median),
        ms(at_10k.median) / 3.0,
        ms(at_10k.cpu),
        ms(at_10k.cpu) / 3.0
    );
    println!("ratios in this run:");
    println!(
        "  throughput: service CPU per invocation at 32 connections / in-process time per invocation = {:.2} \
         (target <= 2); / in-process CPU per invocation = {:.2}",
        many_cpu / at_10k.median,
        many_cpu / at_10k.cpu
    );
    println!(
        "  latency: p99 at 32 connections / in-process per-event median = {:.2} (target <= 10)",
        many.p99_ms / ms(at_10k.median)
    );
    println!(
        "  flatness: per-event median at {log_size} records / at 10,000 = {:.3} ({:.3} ms vs {:.3} ms; \
         CPU {:.3} vs {:.3} ms; target <= 1.2)",
        at_1m.median / at_10k.median,
        ms(at_1m.median),
        ms(at_10k.median),
        ms(at_1m.cpu),
        ms(at_10k.cpu)
    );
    println!("{verified}");
    println!("{overload}");
}

/// 1,000 connections posting to a plugin that runs to its deadline.
fn overload(root: &Path) -> String {
    let dir = demo_dir(root, "overload");
    let plugin = repo().join("tests/plugins/looper/plugin.toml");
    let wasm = repo().join("plugins/dist/looper.wasm");
    let status = Command::new(BIN)
        .args(["plugin", "install"])
        .arg(&wasm)
        .arg("--manifest")
        .arg(&plugin)
        .env("AIRLOCK_DATA_DIR", &dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "installing the looper failed");
    let server = Server::start(&dir);
    let address = server.address;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut times = Vec::new();
            let mut failed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match health_ms(address) {
                    Some(ms) => times.push(ms),
                    None => failed += 1,
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            times.sort_by(f64::total_cmp);
            (times, failed)
        })
    };
    let report = load(address, 1000, if quick() { 4 } else { 10 });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (health, health_failed) = prober.join().unwrap();
    let at = |q: f64| health[((health.len() as f64 * q) as usize).min(health.len() - 1)];
    let over = health.iter().filter(|&&ms| ms > 100.0).count();
    let rss = server.peak_rss_mib();
    let up = health_ms(address).is_some();
    server.stop();
    let verify = Command::new(BIN)
        .args(["audit", "verify"])
        .env("AIRLOCK_DATA_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    format!(
        "overload, 1,000 connections, the looper (1 s deadline) beside the demo plugins:\n  \
         {report}\n  peak RSS {rss:.0} MiB (target <= 1024); health (target <= 100 ms) p50 {:.1} ms, \
         p99 {:.1} ms, worst {:.1} ms, {over} of {} over 100 ms, {health_failed} failed; up afterwards: {up}; audit verify: {}",
        at(0.5),
        at(0.99),
        at(1.0),
        health.len(),
        if verify.success() { "passes" } else { "FAILS" }
    )
}
