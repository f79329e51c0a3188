//! The HTTP listener: connection hygiene in front of the API's router.
//!
//! What it guarantees, whatever clients do:
//! - **Header deadline.** A connection that has not sent a whole request head within
//!   [`ServerLimits::header_timeout`] (a new connection, or an idle keep-alive one) is
//!   closed.
//! - **Body deadline.** A request whose body has not fully arrived within
//!   [`ServerLimits::body_timeout`] of its head is answered `408` and its connection
//!   closed.
//! - **Connection limit.** At most [`ServerLimits::max_connections`] connections are
//!   served normally, a number kept below the process's file-descriptor limit. Past it,
//!   [`OVERFLOW_CONNECTIONS`] more are served one request each, with keep-alive off:
//!   `GET /api/v1/health` is answered and every other request gets `503` with
//!   `Retry-After`. Past those, a connection is closed as soon as it is accepted. The
//!   listener never stops accepting, so health is answered at the limit.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Connections beyond [`ServerLimits::max_connections`] that are still answered (health,
/// or `503`), one request each.
pub const OVERFLOW_CONNECTIONS: usize = 32;

/// Descriptors kept free for everything but connections: the database, its journal and
/// WAL, plugin components, outbound requests, logs.
const RESERVED_DESCRIPTORS: u64 = 128;

/// How the listener bounds what clients may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served normally at once.
    pub max_connections: usize,
    /// The time a client has to send a request's head.
    pub header_timeout: Duration,
    /// The time a client has to send a request's body, from its head.
    pub body_timeout: Duration,
}

impl Default for ServerLimits {
    /// 10 s for a head, 30 s for a body, and as many connections as the descriptor
    /// limit leaves room for ([`ServerLimits::connections_for_descriptors`]).
    fn default() -> Self {
        let descriptors = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        ServerLimits {
            max_connections: Self::connections_for_descriptors(descriptors),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    /// The connection limit for a process allowed `descriptors` open files: what is left
    /// after [`RESERVED_DESCRIPTORS`] and [`OVERFLOW_CONNECTIONS`], at least 16, at most
    /// 16,384.
    ///
    /// ```
    /// use airlock_host::api::server::ServerLimits;
    /// assert_eq!(ServerLimits::connections_for_descriptors(1024), 864);
    /// assert_eq!(ServerLimits::connections_for_descriptors(100), 16);
    /// ```
    pub fn connections_for_descriptors(descriptors: u64) -> usize {
        let free = descriptors.saturating_sub(RESERVED_DESCRIPTORS + OVERFLOW_CONNECTIONS as u64);
        free.clamp(16, 16_384) as usize
    }
}

/// The kernel's queue of connections not yet accepted (capped by `net.core.somaxconn`):
/// a burst of new connections is queued rather than dropped and retried a second later.
pub const ACCEPT_BACKLOG: u32 = 4096;

/// A listener on `address` with an [`ACCEPT_BACKLOG`] queue (call within a tokio
/// runtime).
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match address {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets
/// the requests in flight finish (for at most 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let normal = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let overflow_router = overflow_router();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin, and go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (router, keep_alive, permit) = match normal.clone().try_acquire_owned() {
            Ok(permit) => (router.clone(), true, permit),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(permit) => (overflow_router.clone(), false, permit),
                Err(_) => continue, // dropped: closed at once
            },
        };
        let _ = stream.set_nodelay(true);
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let request = request.map(|body| Body::new(Deadline::new(body, body_timeout)));
            router.clone().oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(keep_alive)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight 30 s after shutdown began were cut off");
    }
    Ok(())
}

/// What a connection past the limit is served: health, and `503` for the rest.
fn overflow_router() -> Router {
    Router::new()
        .route("/api/v1/health", axum::routing::get(super::health))
        .fallback(|| async {
            let secs = crate::app::admission::RETRY_AFTER_SECS;
            let error = super::error::ApiError::busy(
                secs,
                format!("the service is at its connection limit; retry after {secs} s"),
            );
            axum::response::IntoResponse::into_response(error)
        })
}

/// A request body that fails with [`BodyTimedOut`] unless it has fully arrived by a
/// deadline.
struct Deadline {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl Deadline {
    fn new(inner: Incoming, timeout: Duration) -> Deadline {
        Deadline {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

/// A request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimedOut(Duration);

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(this.timeout).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> SizeHint {
        hyper::body::Body::size_hint(&self.inner)
    }
}

/// Whether a body error (anywhere in its source chain) is a [`BodyTimedOut`].
pub(crate) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        next = e.source();
    }
    false
}
