//! The service under load (issue 15): admission control answers `503` with
//! `Retry-After` when the queue is full while health still answers; the listener closes
//! silent and slow clients and bounds its connections; cached installations follow
//! changes made elsewhere; the monitor applies each record once, in order, from batches
//! in any order; checkpoints are still signed every N records off the request path.

use crate::support::{component, fixture, manifest, ticket};
use airlock_host::api::server::ServerLimits;
use airlock_host::app::{Airlock, Options};
use airlock_host::audit::AuditEntry;
use airlock_host::manifest::EventKind;
use airlock_host::model::Kind;
use airlock_host::monitor::{AlertConfig, Monitor};
use airlock_host::runtime::RuntimeLimits;
use airlock_host::store::{InstallationStore, SqliteStore};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "service-test-token-0123456789";

struct Service {
    address: SocketAddr,
    airlock: Arc<Airlock>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

/// A service on loopback with these options and listener limits, the fixture imported.
fn serve(options: Options, limits: ServerLimits) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let airlock = Arc::new(Airlock::open_with(dir.path(), options).unwrap());
    airlock.import(&fixture()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let router = airlock_host::api::router(
        airlock.clone(),
        airlock_host::api::ApiOptions {
            break_glass: Some(TOKEN.into()),
        },
    );
    runtime.spawn(airlock_host::api::server::serve(
        listener,
        router,
        limits,
        None,
        std::future::pending(),
    ));
    Service {
        address,
        airlock,
        _dir: dir,
        _runtime: runtime,
    }
}

fn limits() -> ServerLimits {
    ServerLimits {
        max_connections: 64,
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
    }
}

/// A service with one worker and `event_queue` places in its queue.
fn one_worker(event_queue: Option<usize>) -> Service {
    let limits = RuntimeLimits {
        max_concurrent_instances: 1,
        ..RuntimeLimits::default()
    };
    serve(
        Options {
            limits,
            event_queue,
            ..Options::default()
        },
        self::limits(),
    )
}

fn install(airlock: &Airlock, name: &str) {
    airlock
        .install("plugin.toml", &manifest(name), &component(name), None)
        .unwrap();
}

/// An answer read off a raw connection: its status, its head, and whether the server
/// then closed the connection.
struct Answer {
    status: u16,
    head: String,
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads one response (head and a `Content-Length` body) off `stream`.
fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => bytes.push(byte[0]),
            Err(e) => panic!("no answer: {e}"),
        }
    }
    let head = String::from_utf8(bytes).unwrap().to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    let status = head[9..12].parse().unwrap();
    Some(Answer { status, head })
}

fn request(stream: &mut TcpStream, method: &str, path: &str, body: &str) -> Answer {
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_answer(stream).expect("an answer before the connection closed")
}

fn post_event(address: SocketAddr, id: &str) -> Answer {
    let body = serde_json::json!({
        "type": "ticket-created",
        "ticket": ticket(id, "Hello", "please help", "u-1"),
    })
    .to_string();
    request(&mut connect(address), "POST", "/api/v1/events", &body)
}

/// Whether the server closes `stream` (reads reach the end) before `within` passes.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 15: events were never refused; every one spawned threads, without bound.
#[test]
fn a_full_queue_answers_503_with_retry_after_while_health_answers() {
    let service = one_worker(Some(1));
    // The looper holds its worker until its 1 s deadline.
    install(&service.airlock, "looper");
    let address = service.address;
    let running = std::thread::spawn(move || post_event(address, "t-1").status);
    wait_until("the first event to run", || {
        service.airlock.admission().in_flight() == 1
    });
    let waiting = std::thread::spawn(move || post_event(address, "t-2").status);
    wait_until("the second event to wait", || {
        service.airlock.admission().in_flight() == 2
    });

    let refused = post_event(address, "t-3");
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert!(refused.head.contains("retry-after: 1"), "{}", refused.head);
    let health = request(&mut connect(address), "GET", "/api/v1/health", "");
    assert_eq!(health.status, 200, "health answers while the queue is full");

    assert_eq!(running.join().unwrap(), 200);
    assert_eq!(
        waiting.join().unwrap(),
        200,
        "a queued event waits its turn"
    );
    assert_eq!(service.airlock.admission().in_flight(), 0);
    assert_eq!(post_event(address, "t-4").status, 200, "admitted again");
    let refused_ticket = service.airlock.store().get(Kind::Ticket, "t-3").unwrap();
    assert!(refused_ticket.is_none(), "a refused event is not stored");
}

/// An admitted event is delivered to every installation even when its client hangs up
/// while it waits for a worker.
#[test]
fn an_admitted_event_is_delivered_after_its_client_hangs_up() {
    let service = one_worker(None);
    install(&service.airlock, "looper");
    install(&service.airlock, "counter");
    let address = service.address;
    let first = std::thread::spawn(move || post_event(address, "t-1").status);
    wait_until("the first event to run", || {
        service.airlock.admission().in_flight() == 1
    });
    let body = serde_json::json!({
        "type": "ticket-created",
        "ticket": ticket("t-gone", "Hello", "please help", "u-1"),
    })
    .to_string();
    let mut gone = connect(address);
    write!(
        gone,
        "POST /api/v1/events HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    wait_until("the second event to wait", || {
        service.airlock.admission().in_flight() == 2
    });
    drop(gone);
    assert_eq!(first.join().unwrap(), 200);
    let delivered = || {
        let filter = airlock_host::audit::AuditFilter {
            installation: Some("counter".into()),
            call: Some(airlock_host::runtime::OUTCOME_CALL.into()),
            ..Default::default()
        };
        service.airlock.store().query(&filter).unwrap().len() == 2
    };
    wait_until(
        "the event whose client left to reach the counter",
        delivered,
    );
}

/// Issue 15: a client that never finished its request head held a connection forever.
#[test]
fn silent_and_slow_clients_are_cut_off() {
    let service = serve(
        Options::default(),
        ServerLimits {
            header_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_millis(300),
            ..limits()
        },
    );
    let mut silent = connect(service.address);
    assert!(closed_within(&mut silent, Duration::from_secs(5)));

    let mut half_a_head = connect(service.address);
    half_a_head
        .write_all(b"POST /api/v1/events HTTP/1.1\r\nHost: airlock\r\n")
        .unwrap();
    assert!(closed_within(&mut half_a_head, Duration::from_secs(5)));

    let mut idle = connect(service.address);
    assert_eq!(request(&mut idle, "GET", "/api/v1/health", "").status, 200);
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "an idle keep-alive connection is closed too"
    );

    let mut slow_body = connect(service.address);
    write!(
        slow_body,
        "POST /api/v1/events HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\":"
    )
    .unwrap();
    let answer = read_answer(&mut slow_body).expect("an answer");
    assert_eq!(answer.status, 408, "{}", answer.head);
}

/// Issue 15: 1,100 slow connections under a 1024 descriptor limit starved health.
#[test]
fn past_the_connection_limit_health_answers_and_the_rest_get_503() {
    let service = serve(
        Options::default(),
        ServerLimits {
            max_connections: 4,
            ..limits()
        },
    );
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect(service.address)).collect();
    for stream in &mut held {
        let answer = request(stream, "GET", "/api/v1/plugins", "");
        assert_eq!(answer.status, 200, "{}", answer.head);
    }
    let health = request(&mut connect(service.address), "GET", "/api/v1/health", "");
    assert_eq!(health.status, 200, "{}", health.head);
    let mut over = connect(service.address);
    let refused = request(&mut over, "GET", "/api/v1/plugins", "");
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert!(refused.head.contains("retry-after: 1"), "{}", refused.head);
    assert!(
        closed_within(&mut over, Duration::from_secs(5)),
        "one request only"
    );

    drop(held);
    wait_until("a freed connection to serve again", || {
        request(&mut connect(service.address), "GET", "/api/v1/plugins", "").status == 200
    });
}

#[test]
fn installations_changed_by_another_process_reach_the_next_event() {
    let service = serve(Options::default(), limits());
    install(&service.airlock, "counter");
    let targets = || {
        service
            .airlock
            .targets(EventKind::TicketCreated)
            .unwrap()
            .len()
    };
    assert_eq!(targets(), 1);

    // Another process (here: another handle on the same database) disables it.
    let other = SqliteStore::open(&service.airlock.data_dir().database_path()).unwrap();
    other
        .update_installation("counter", &mut |i| {
            i.enabled = false;
            true
        })
        .unwrap();
    assert_eq!(targets(), 0, "the cache saw the other process's change");
    service.airlock.set_enabled("counter", true).unwrap();
    assert_eq!(targets(), 1);
}

/// The monitor applies every record once and in order, however batches arrive: late,
/// early, or twice.
#[test]
fn the_monitor_applies_batches_in_any_order_exactly_once() {
    let service = serve(Options::default(), limits());
    let airlock = &service.airlock;
    let monitor = airlock.monitor();
    monitor.sync().unwrap();
    let read = |fields: &[&str]| AuditEntry {
        installation: "nosy".into(),
        plugin: "nosy".into(),
        call: "helpdesk.get-user".into(),
        resource: "u-vip".into(),
        fields_returned: fields.iter().map(|f| f.to_string()).collect(),
        decision: Some(airlock_host::audit::Decision::Allow),
        reason: "ok".into(),
        ..Default::default()
    };
    let records = airlock
        .store()
        .append(vec![
            read(&["requester.email"]),
            read(&["requester.email"]),
            read(&["requester.notes"]),
            read(&["requester.email"]),
        ])
        .unwrap();
    let mut raised = monitor.observe(&records[2..]).unwrap();
    raised.extend(monitor.observe(&records[..2]).unwrap());
    raised.extend(monitor.observe(&records).unwrap());
    raised.extend(monitor.observe(&records[1..3]).unwrap());
    assert_eq!(
        raised.len(),
        1,
        "one restricted read, one alert: {raised:?}"
    );
    assert_eq!(raised[0].trigger_seq, records[2].seq);

    let db = airlock.data_dir().database_path();
    let fresh = Monitor::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        AlertConfig::default(),
    );
    assert_eq!(monitor.counters().unwrap(), fresh.counters().unwrap());
    assert_eq!(
        monitor.counters().unwrap().installations["nosy"]
            .records_read
            .values()
            .sum::<u64>(),
        4
    );
}

/// Checkpoints are signed off the request path, and still every N records.
#[test]
fn a_checkpoint_is_signed_every_n_records() {
    let service = serve(
        Options {
            checkpoint_every: 5,
            ..Options::default()
        },
        limits(),
    );
    install(&service.airlock, "counter");
    for i in 0..6 {
        assert_eq!(post_event(service.address, &format!("t-{i}")).status, 200);
    }
    let records = service.airlock.store().count_audit().unwrap();
    assert!(records >= 5, "{records} records");
    wait_until("the follower to sign", || {
        let checkpoints = service.airlock.store().checkpoints().unwrap();
        checkpoints
            .last()
            .is_some_and(|c| c.size >= records / 5 * 5)
    });
}
