//! A load generator for a running service: keep-alive HTTP/1.1 connections on loopback
//! (or anywhere) posting `ticket-created` events to `POST /api/v1/events`, as fast as the
//! service answers, and the throughput and latency it saw.
//!
//! `airlock loadtest` runs it from the command line; `host/benches/service.rs` runs it
//! against a real `airlock serve` with the demo data set and plugins.
//!
//! Each event carries a fresh ticket of about 1 KiB with some personal data in it (an
//! email address and a phone number in the description), from one of the demo data set's
//! requesters, so every demo plugin has something to read, tag and redact.

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::time::{Duration, Instant};

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The service's address, e.g. `127.0.0.1:8080`.
    pub address: std::net::SocketAddr,
    /// The admin token.
    pub token: String,
    /// Concurrent connections, each with one request in flight.
    pub connections: usize,
    /// How long to measure.
    pub duration: Duration,
    /// How long to send before measuring (answers in it are not counted).
    pub warmup: Duration,
    /// Requesters are `u-1000` … `u-<1000+requesters-1>`, as in the demo data set.
    pub requesters: usize,
}

/// What the service answered while measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Events answered `200`.
    pub events: u64,
    /// Events answered `503` (the service was at capacity and said when to retry).
    pub rejected: u64,
    /// Other answers, and failed connections.
    pub errors: u64,
    /// What the first error was (a status such as `401 Unauthorized`, or why a
    /// connection failed), when there was one.
    pub first_error: Option<String>,
    /// Seconds measured.
    pub seconds: f64,
    /// Events answered `200` per second.
    pub events_per_second: f64,
    /// Median latency of a `200`, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency of a `200`, in milliseconds.
    pub p99_ms: f64,
    /// Slowest `200`, in milliseconds.
    pub max_ms: f64,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} events/s ({} ok, {} answered 503, {} errors in {:.1} s); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.events_per_second,
            self.events,
            self.rejected,
            self.errors,
            self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )?;
        match &self.first_error {
            Some(error) => write!(f, "; first error: {error}"),
            None => Ok(()),
        }
    }
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    rejected: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    /// Counts an error seen while measuring, and keeps the first one's description.
    fn error(&mut self, measured: bool, what: impl FnOnce() -> String) {
        if measured {
            self.errors += 1;
            self.first_error.get_or_insert_with(what);
        }
    }
}

/// Sends events until `options.warmup + options.duration` has passed, then reports.
pub async fn run(options: &LoadOptions) -> anyhow::Result<LoadReport> {
    if options.connections == 0 || options.requesters == 0 {
        bail!("connections and requesters must be at least 1");
    }
    let run_id: u32 = rand::random();
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let mut tasks = Vec::with_capacity(options.connections);
    for connection in 0..options.connections {
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            drive(&options, connection, run_id, measure_from, end).await
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.context("a load connection panicked")?;
        total.latencies_us.extend(tally.latencies_us);
        total.rejected += tally.rejected;
        total.errors += tally.errors;
        total.first_error = total.first_error.or(tally.first_error);
    }
    let seconds = options.duration.as_secs_f64();
    let mut latencies = total.latencies_us;
    latencies.sort_unstable();
    let at = |q: f64| match latencies.len() {
        0 => 0.0,
        n => latencies[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0,
    };
    Ok(LoadReport {
        events: latencies.len() as u64,
        rejected: total.rejected,
        errors: total.errors,
        first_error: total.first_error,
        seconds,
        events_per_second: latencies.len() as f64 / seconds,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}

/// One connection's loop: connect (again, after a failure), post, time the answer.
async fn drive(
    options: &LoadOptions,
    connection: usize,
    run_id: u32,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut sent = 0usize;
    while Instant::now() < end {
        let mut sender = match connect(options.address).await {
            Ok(sender) => sender,
            Err(e) => {
                tally.error(Instant::now() >= measure_from, || format!("connect: {e:#}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while Instant::now() < end {
            // The service closed the connection after its last answer (it does past its
            // connection limit): connect again, which is no error.
            if sender.ready().await.is_err() {
                break;
            }
            let body = event_body(run_id, connection, sent, options.requesters);
            sent += 1;
            let request = hyper::Request::post("/api/v1/events")
                .header(hyper::header::HOST, options.address.to_string())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", options.token),
                )
                .body(Full::new(Bytes::from(body)))
                .expect("a well-formed request");
            let began = Instant::now();
            let answer = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status();
                    let retry = response
                        .headers()
                        .get(hyper::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    response
                        .into_body()
                        .collect()
                        .await
                        .map(|_| (status, retry))
                }
                Err(e) => Err(e),
            };
            let measured = began >= measure_from;
            match answer {
                Ok((status, _)) if status.is_success() => {
                    if measured {
                        tally.latencies_us.push(began.elapsed().as_micros() as u64);
                    }
                }
                Ok((status, Some(secs))) if status.as_u16() == 503 => {
                    // A polite client: it waits as long as it is told to.
                    tally.rejected += u64::from(measured);
                    tokio::time::sleep(Duration::from_secs(secs.min(5))).await;
                }
                Ok((status, _)) => tally.error(measured, || status.to_string()),
                Err(e) => {
                    tally.error(measured, || format!("request: {e}"));
                    break;
                }
            }
        }
    }
    tally
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(address: std::net::SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

const SUBJECTS: &[&str] = &[
    "Refund: charged twice for the annual plan",
    "App crash when exporting reports",
    "Password reset link never arrives",
    "Question about our invoice",
    "Outage in the EU region since this morning",
];

/// A `ticket-created` event with a fresh ticket of about 1 KiB.
pub fn event_body(run_id: u32, connection: usize, n: usize, requesters: usize) -> Vec<u8> {
    let requester = 1000 + (connection * 7919 + n) % requesters;
    let subject = SUBJECTS[(connection + n) % SUBJECTS.len()];
    let description = format!(
        "Hello, this is customer u-{requester}. {subject}. You can reach me at \
         jane.doe{n}@example.com or +1 415 555 {:04}. {}",
        n % 10_000,
        "Steps: open the dashboard, choose last month, press export; the page spins and \
         then shows an error. We tried another browser and clearing the cache. "
            .repeat(5)
    );
    serde_json::to_vec(&serde_json::json!({
        "type": "ticket-created",
        "ticket": {
            "id": format!("load-{run_id:08x}-{connection}-{n}"),
            "subject": subject,
            "description": description,
            "status": "new",
            "priority": "normal",
            "requester_id": format!("u-{requester}"),
        }
    }))
    .expect("JSON of strings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_about_a_kibibyte_and_valid() {
        let body = event_body(1, 2, 3, 50);
        assert!((900..1600).contains(&body.len()), "{} bytes", body.len());
        let event: crate::dispatch::EventRequest = serde_json::from_slice(&body).unwrap();
        assert!(matches!(
            event,
            crate::dispatch::EventRequest::TicketCreated { .. }
        ));
    }
}
