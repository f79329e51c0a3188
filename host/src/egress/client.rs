//! A small HTTP/1.1 client that connects to one already-checked IP address and never
//! resolves names itself, follows no redirects, and stops reading at a size cap.
//!
//! HTTPS uses rustls with the Mozilla root store (`webpki-roots`); the certificate is
//! checked against the destination's name, while the TCP connection goes to the pinned
//! address. One request per connection (`Connection: close`).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The largest response head (status line and headers) read, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most response headers kept.
pub const MAX_HEADERS: usize = 100;

/// Where to connect, already resolved and checked.
#[derive(Debug, Clone)]
pub struct Target {
    /// The checked address.
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
    /// `Some(name)` for TLS with this server name (a DNS name or IP literal); `None`
    /// for plain http.
    pub tls_name: Option<String>,
    /// The `Host` header value.
    pub host_header: String,
}

/// A request on the wire.
#[derive(Debug, Clone)]
pub struct WireRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// Path and query.
    pub target: &'a str,
    /// Headers (the client adds `Host`, `Connection`, `Content-Length`, `User-Agent`).
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// A response.
#[derive(Debug, Clone, Default)]
pub struct WireResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// Bytes written to the connection.
    pub bytes_out: usize,
    /// Bytes read from the connection.
    pub bytes_in: usize,
}

/// Why the exchange failed; messages carry no data values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// Could not connect or the connection broke.
    Io(String),
    /// The deadline passed.
    Timeout,
    /// The response is larger than allowed (bytes read so far).
    TooLarge(usize),
    /// The response is not valid HTTP/1.1.
    Protocol(String),
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

fn io_err(e: std::io::Error) -> ClientError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError::Timeout,
        _ => ClientError::Io(e.kind().to_string()),
    }
}

/// Where a request goes once every check has passed: the network ([`Network`]), or, in
/// `airlock dev` and `airlock test`, an author's stubs
/// ([`Stubs`](super::stub::Stubs)). Nothing before this point differs between them.
pub trait Transport: Send + Sync {
    /// Sends one request to the pinned target and reads the response, within `timeout`
    /// overall and at most `max_body` body bytes.
    fn exchange(
        &self,
        target: &Target,
        request: &WireRequest<'_>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<WireResponse, ClientError>;
}

/// The network: TCP (and TLS) to the pinned address.
pub struct Network;

impl Transport for Network {
    fn exchange(
        &self,
        target: &Target,
        request: &WireRequest<'_>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<WireResponse, ClientError> {
        exchange(target, request, timeout, max_body)
    }
}

/// Sends one request to the pinned target and reads the response, within `timeout`
/// overall and at most `max_body` body bytes.
pub fn exchange(
    target: &Target,
    request: &WireRequest<'_>,
    timeout: Duration,
    max_body: usize,
) -> Result<WireResponse, ClientError> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(ClientError::Timeout)
    };
    let tcp = TcpStream::connect_timeout(&SocketAddr::new(target.ip, target.port), remaining()?)
        .map_err(io_err)?;
    let _ = tcp.set_nodelay(true);
    tcp.set_write_timeout(Some(remaining()?)).map_err(io_err)?;
    tcp.set_read_timeout(Some(remaining()?)).map_err(io_err)?;
    let mut stream: Box<dyn Stream> = match &target.tls_name {
        None => Box::new(tcp.try_clone().map_err(io_err)?),
        Some(name) => {
            let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|_| ClientError::Protocol("not a valid TLS server name".into()))?;
            let conn = rustls::ClientConnection::new(tls_config(), server_name)
                .map_err(|e| ClientError::Protocol(format!("TLS setup failed: {e}")))?;
            Box::new(rustls::StreamOwned::new(
                conn,
                tcp.try_clone().map_err(io_err)?,
            ))
        }
    };

    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: airlock-egress/{}\r\n",
        request.method,
        request.target,
        target.host_header,
        env!("CARGO_PKG_VERSION")
    );
    if !request.body.is_empty() || !matches!(request.method, "GET" | "HEAD" | "DELETE") {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(request.body);
    stream.write_all(&out).map_err(io_err)?;
    stream.flush().map_err(io_err)?;
    let bytes_out = out.len();

    // Read the head.
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ClientError::Protocol(format!(
                "the response head is larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        tcp.set_read_timeout(Some(remaining()?)).map_err(io_err)?;
        let n = read_some(&mut stream, &mut chunk)?;
        if n == 0 {
            return Err(ClientError::Protocol(
                "the connection closed before a response".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut parsed_headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut parsed_headers);
    parsed
        .parse(&buf[..head_end])
        .map_err(|e| ClientError::Protocol(format!("malformed response head: {e}")))?;
    let status = parsed
        .code
        .ok_or_else(|| ClientError::Protocol("no status code".into()))?;
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let content_length: Option<usize> = match header("content-length") {
        Some(v) => Some(
            v.parse()
                .map_err(|_| ClientError::Protocol("bad Content-Length".into()))?,
        ),
        None => None,
    };
    let no_body = request.method == "HEAD" || status == 204 || status == 304 || status < 200;
    let mut body = buf.split_off(head_end);
    let mut bytes_in = head_end + body.len();
    if no_body {
        body.clear();
    } else {
        if let Some(len) = content_length.filter(|_| !chunked)
            && len > max_body
        {
            return Err(ClientError::TooLarge(bytes_in));
        }
        // Chunk framing adds a little; cap the raw bytes accordingly.
        let raw_cap = max_body + if chunked { 16 * 1024 + max_body / 8 } else { 0 };
        loop {
            if let Some(len) = content_length.filter(|_| !chunked)
                && body.len() >= len
            {
                body.truncate(len);
                break;
            }
            if body.len() > raw_cap {
                return Err(ClientError::TooLarge(bytes_in));
            }
            tcp.set_read_timeout(Some(remaining()?)).map_err(io_err)?;
            let n = read_some(&mut stream, &mut chunk)?;
            if n == 0 {
                break;
            }
            bytes_in += n;
            body.extend_from_slice(&chunk[..n]);
        }
        if let Some(len) = content_length.filter(|_| !chunked)
            && body.len() < len
        {
            return Err(ClientError::Protocol(
                "the connection closed before the whole body arrived".into(),
            ));
        }
        if chunked {
            body = dechunk(&body)?;
        }
        if body.len() > max_body {
            return Err(ClientError::TooLarge(bytes_in));
        }
    }
    Ok(WireResponse {
        status,
        headers,
        body,
        bytes_out,
        bytes_in,
    })
}

/// One read; a TLS peer that closes without `close_notify` counts as end of stream.
fn read_some(stream: &mut Box<dyn Stream>, chunk: &mut [u8]) -> Result<usize, ClientError> {
    match stream.read(chunk) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(io_err(e)),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body (trailers ignored).
///
/// ```
/// # use airlock_host::egress::client::dechunk;
/// assert_eq!(dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
/// ```
pub fn dechunk(raw: &[u8]) -> Result<Vec<u8>, ClientError> {
    let bad = || ClientError::Protocol("malformed chunked body".into());
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    loop {
        let line_end = find(&raw[at..], b"\r\n").ok_or_else(bad)? + at;
        let line = std::str::from_utf8(&raw[at..line_end]).map_err(|_| bad())?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        at = line_end + 2;
        if size == 0 {
            return Ok(out);
        }
        let end = at
            .checked_add(size)
            .filter(|&e| e <= raw.len())
            .ok_or_else(bad)?;
        out.extend_from_slice(&raw[at..end]);
        at = end;
        if raw.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(response: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while find(&got, b"\r\n\r\n").is_none() {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(response).unwrap();
            got
        });
        (port, handle)
    }

    fn target(port: u16) -> Target {
        Target {
            ip: "127.0.0.1".parse().unwrap(),
            port,
            tls_name: None,
            host_header: format!("127.0.0.1:{port}"),
        }
    }

    fn get() -> WireRequest<'static> {
        WireRequest {
            method: "GET",
            target: "/x?y=1",
            headers: &[],
            body: b"",
        }
    }

    #[test]
    fn reads_a_content_length_response() {
        let (port, h) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
        let r = exchange(&target(port), &get(), Duration::from_secs(5), 100).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        assert!(r.headers.contains(&("x-a".into(), "b".into())));
        let sent = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(
            sent.starts_with("GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{sent}"
        );
    }

    #[test]
    fn refuses_an_oversize_body() {
        let (port, _h) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n");
        let e = exchange(&target(port), &get(), Duration::from_secs(5), 100).unwrap_err();
        assert!(matches!(e, ClientError::TooLarge(_)), "{e:?}");
        let (port, _h) = serve_once(b"HTTP/1.1 200 OK\r\n\r\n0123456789012345678901234567890");
        let e = exchange(&target(port), &get(), Duration::from_secs(5), 10).unwrap_err();
        assert!(matches!(e, ClientError::TooLarge(_)), "{e:?}");
    }

    #[test]
    fn decodes_chunked_and_times_out() {
        let (port, _h) = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        );
        let r = exchange(&target(port), &get(), Duration::from_secs(5), 100).unwrap();
        assert_eq!(r.body, b"ok");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let e = exchange(&target(port), &get(), Duration::from_millis(200), 10).unwrap_err();
        assert_eq!(e, ClientError::Timeout);
        drop(listener);
    }
}
