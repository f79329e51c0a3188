//! People and accountability: accounts, sign-in with TOTP, the route × role matrix, admin
//! actions in the audit chain, and brute force. A real service on loopback (the
//! listener the product runs, so sign-ins see their source address).

mod audit;
mod brute_force;
mod evidence;
mod kill;
mod matrix;
mod mfa;
mod review;
mod tls;
mod upgrade;

use airlock_host::access::totp;
use airlock_host::account::Role;
use airlock_host::app::{Actor, Airlock, Options};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The break-glass token the test services accept.
pub const BREAK_GLASS: &str = "people-break-glass-0123456789";
/// The password every test user ends up with.
pub const PASSWORD: &str = "a long test passphrase";

/// A service on loopback.
pub struct Service {
    pub base: String,
    pub airlock: Arc<Airlock>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Service {
    /// A new service over a new data directory.
    pub fn start() -> Service {
        Self::with(Options::default())
    }

    /// A new service with these options.
    pub fn with(options: Options) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let airlock = Arc::new(
            Airlock::open_with(
                dir.path(),
                Options {
                    master_key: Some([7; 32]),
                    ..options
                },
            )
            .unwrap(),
        );
        airlock.claim_audit_log(Duration::from_secs(5)).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let router = airlock_host::api::router(
            airlock.clone(),
            airlock_host::api::ApiOptions {
                break_glass: Some(BREAK_GLASS.into()),
            },
        );
        runtime.spawn(airlock_host::api::server::serve(
            listener,
            router,
            Default::default(),
            None,
            std::future::pending(),
        ));
        Service {
            base: format!("http://{address}"),
            airlock,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Sends a request; returns the status and the JSON body (or `null`).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        totp_code: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let mut headers = Vec::new();
        if let Some(t) = token {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        if let Some(c) = totp_code {
            headers.push(("X-Airlock-TOTP", c.to_string()));
        }
        macro_rules! send {
            ($builder:expr, $body:expr) => {{
                let mut b = $builder;
                for (k, v) in &headers {
                    b = b.header(*k, v);
                }
                $body(b)
            }};
        }
        let response = match method {
            "GET" => send!(agent.get(&url), |b: ureq::RequestBuilder<_>| b.call()),
            "DELETE" => send!(agent.delete(&url), |b: ureq::RequestBuilder<_>| b.call()),
            "POST" => send!(agent.post(&url), |b: ureq::RequestBuilder<_>| b
                .send_json(body.clone().unwrap_or(json!({})))),
            "PUT" => send!(agent.put(&url), |b: ureq::RequestBuilder<_>| b
                .send_json(body.clone().unwrap_or(json!({})))),
            "PATCH" => send!(agent.patch(&url), |b: ureq::RequestBuilder<_>| b
                .send_json(body.clone().unwrap_or(json!({})))),
            other => panic!("no method {other}"),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a user from the command line's side; returns the one-time password.
    pub fn create_user(&self, name: &str, role: Role, vendor: Option<&str>) -> String {
        self.airlock
            .admin(&Actor::cli())
            .create_user(name, role, vendor)
            .unwrap()
            .1
    }

    /// Signs in with the one-time password, sets [`PASSWORD`], enrols TOTP when
    /// `with_mfa` (confirming with this step's code), and signs in again with a recovery
    /// code; returns the full session and the TOTP secret.
    pub fn onboard(
        &self,
        name: &str,
        role: Role,
        vendor: Option<&str>,
        with_mfa: bool,
    ) -> Onboarded {
        let one_time = self.create_user(name, role, vendor);
        let setup = self.login(name, &one_time, None);
        assert_eq!(setup.0, 200, "{name}: {}", setup.1);
        assert_eq!(setup.1["setup_only"], true);
        let setup = setup.1["session"].as_str().unwrap().to_string();
        let (status, body) = self.call(
            "POST",
            "/api/v1/auth/password",
            Some(&setup),
            None,
            Some(json!({"current": one_time, "new": PASSWORD})),
        );
        assert_eq!(status, 200, "{body}");
        let mut secret = None;
        let mut recovery = Vec::new();
        if with_mfa {
            let (status, body) =
                self.call("POST", "/api/v1/auth/mfa/enrol", Some(&setup), None, None);
            assert_eq!(status, 200, "{body}");
            let s = totp::decode(body["secret"].as_str().unwrap()).unwrap();
            let (status, body) = self.call(
                "POST",
                "/api/v1/auth/mfa/confirm",
                Some(&setup),
                None,
                Some(json!({"code": totp::code_at(&s, now())})),
            );
            assert_eq!(status, 200, "{body}");
            recovery = body["recovery_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            secret = Some(s);
        }
        // A recovery code, so that no TOTP code but the enrolment's is spent yet.
        let code = (!recovery.is_empty()).then(|| recovery.remove(0));
        let (status, body) = self.login(name, PASSWORD, code.as_deref());
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["setup_only"], false, "{body}");
        Onboarded {
            session: body["session"].as_str().unwrap().to_string(),
            secret,
            recovery,
        }
    }

    /// `POST /api/v1/auth/login`.
    pub fn login(&self, name: &str, password: &str, code: Option<&str>) -> (u16, Value) {
        let mut body = json!({"user": name, "password": password});
        if let Some(c) = code {
            body["code"] = json!(c);
        }
        self.call("POST", "/api/v1/auth/login", None, None, Some(body))
    }

    /// Every audit record, as JSON text, one per line.
    pub fn audit_text(&self) -> String {
        let records = self
            .airlock
            .audit(&airlock_host::audit::AuditFilter {
                limit: Some(10_000),
                ..Default::default()
            })
            .unwrap();
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The audit records of one call.
    pub fn records(&self, call: &str) -> Vec<airlock_host::audit::AuditRecord> {
        self.airlock
            .audit(&airlock_host::audit::AuditFilter {
                call: Some(call.into()),
                limit: Some(10_000),
                ..Default::default()
            })
            .unwrap()
    }
}

/// A user ready to act.
pub struct Onboarded {
    /// A full session.
    pub session: String,
    /// The TOTP secret, when enrolled.
    pub secret: Option<Vec<u8>>,
    /// Unused recovery codes (one was spent signing in).
    pub recovery: Vec<String>,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
