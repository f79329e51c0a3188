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
//! - **TLS**, when configured ([`tls_acceptor`]): the handshake must finish within the
//!   header deadline, and every request learns its peer's address.

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
/// the requests in flight finish (for at most 30 s). With `tls`, every connection is TLS.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let normal = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let (router, overflow_router) = match tls.is_some() {
        true => (
            router.layer(axum::middleware::map_response(strict_transport)),
            overflow_router().layer(axum::middleware::map_response(strict_transport)),
        ),
        false => (router, overflow_router()),
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let connection = Connection {
            router,
            peer,
            keep_alive,
            limits,
        };
        let watcher = graceful.watcher();
        match tls.clone() {
            None => {
                tokio::spawn(async move {
                    let _permit = permit;
                    connection.run(stream, watcher).await;
                });
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    let _permit = permit;
                    let handshake = acceptor.accept(stream);
                    // A client that never finishes its handshake is cut off like one that
                    // never sends a request head.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_timeout, handshake).await
                    {
                        connection.run(stream, watcher).await;
                    }
                });
            }
        }
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

/// One accepted connection, before its transport (plain or TLS) is known.
struct Connection {
    router: Router,
    peer: std::net::SocketAddr,
    keep_alive: bool,
    limits: ServerLimits,
}

impl Connection {
    async fn run<IO>(self, io: IO, watcher: hyper_util::server::graceful::Watcher)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            peer,
            keep_alive,
            limits,
        } = self;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request =
                request.map(|body| Body::new(Deadline::new(body, limits.body_timeout)));
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(keep_alive)
            .serve_connection(TokioIo::new(io), service);
        let _ = watcher.watch(connection).await;
    }
}

/// A TLS acceptor from a PEM certificate chain and private key (rustls, TLS 1.2 and
/// 1.3, HTTP/1.1).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context as _;
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path)
            .with_context(|| format!("cannot read the TLS {what} {}", path.display()))
    };
    let certs = rustls_pemfile::certs(&mut read(cert, "certificate")?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", cert.display());
    let key = rustls_pemfile::private_key(&mut read(key, "key")?.as_slice())
        .with_context(|| format!("{} is not a PEM private key", key.display()))?
        .ok_or_else(|| anyhow::anyhow!("{} holds no private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not make a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Adds HSTS to a response of a TLS listener: every one, whatever route, refusal or
/// overflow answer made it.
async fn strict_transport(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    response
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
