//! The TLS listener: a real handshake against a self-signed certificate, HSTS on every
//! answer, plain HTTP refused on the TLS port; and plain HTTP on a non-loopback address
//! refused at start unless `--insecure-http` is given.

use airlock_host::app::{Airlock, Options};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn certificate(dir: &std::path::Path) -> rustls::pki_types::CertificateDer<'static> {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.der().clone()
}

/// One HTTPS GET over a client that trusts only `root`; the raw response head and body.
fn https_get(
    address: std::net::SocketAddr,
    root: rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> std::io::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(address)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    match tls.read_to_end(&mut response) {
        // The server may close without a close_notify once the response is sent.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        other => {
            other?;
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[test]
fn the_tls_listener_serves_https_with_hsts_and_refuses_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let root = certificate(dir.path());
    let acceptor = airlock_host::api::server::tls_acceptor(
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
    )
    .unwrap();
    let airlock = Arc::new(
        Airlock::open_with(
            &dir.path().join("data"),
            Options {
                master_key: Some([7; 32]),
                ..Options::default()
            },
        )
        .unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let router =
        airlock_host::api::router(airlock, airlock_host::api::ApiOptions { break_glass: None });
    runtime.spawn(airlock_host::api::server::serve(
        listener,
        router,
        Default::default(),
        Some(acceptor),
        std::future::pending(),
    ));

    for path in ["/api/v1/health", "/api/v1/plugins"] {
        let response = https_get(address, root.clone(), path).unwrap();
        let head = response
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 "), "{response}");
        assert!(
            head.contains("strict-transport-security: max-age="),
            "HSTS on {path}: {head}"
        );
    }
    let health = https_get(address, root.clone(), "/api/v1/health").unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    // A client that does not trust the certificate gets no connection.
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let refused = https_get(address, stranger.cert.der().clone(), "/api/v1/health");
    assert!(
        refused.is_err(),
        "an untrusted certificate must fail the handshake"
    );

    // Plain HTTP on the TLS port is not served.
    let mut plain = std::net::TcpStream::connect(address).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "plain HTTP was served on the TLS port"
    );
}

#[test]
fn serve_refuses_plain_http_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("AIRLOCK_LOG", "warn")
        .env_remove("AIRLOCK_ADMIN_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve must not start: {text}");
    assert!(
        text.contains("refusing to serve plain HTTP on 0.0.0.0:0")
            && text.contains("--insecure-http"),
        "{text}"
    );
}
