//! The HTTP API on loopback: the admin token is required, and the admin's path works end
//! to end: install, grant, configure, post an event, read the audit log.

use crate::support::{TestHost, component, manifest};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;

const TOKEN: &str = "test-token-0123456789abcdef";

struct Server {
    base: String,
    _host: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn serve() -> Server {
    let TestHost { dir, airlock } = TestHost::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let router = airlock_host::api::router(
        Arc::new(airlock),
        airlock_host::api::ApiOptions {
            break_glass: Some(TOKEN.into()),
        },
    );
    runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server {
        base,
        _host: dir,
        _runtime: runtime,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call().unwrap()
        }
        (m, body) => {
            let mut r = match m {
                "PUT" => agent.put(url),
                "PATCH" => agent.patch(url),
                _ => agent.post(url),
            };
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_json(body.unwrap_or(json!({}))).unwrap()
        }
    };
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_json::<Value>()
        .unwrap_or(Value::Null);
    (status, body)
}

#[test]
fn requests_without_the_right_token_are_refused() {
    let server = serve();
    let url = format!("{}/plugins", server.base);
    let (status, body) = call("GET", &url, None, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    for wrong in ["wrong", "test-token-0123456789abcdeX", ""] {
        let (status, _) = call("GET", &url, Some(wrong), None);
        assert_eq!(status, 401, "token {wrong:?} was accepted");
    }
    let (status, _) = call(
        "POST",
        &format!("{}/events", server.base),
        Some("nope"),
        Some(json!({})),
    );
    assert_eq!(status, 401);
    let (status, _) = call("GET", &url, Some(TOKEN), None);
    assert_eq!(status, 200);
    let (status, body) = call("GET", &format!("{}/health", server.base), None, None);
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

/// Installs auto-tagger through the API; returns the installation as answered.
fn install_auto_tagger(base: &str) -> Value {
    let install = json!({
        "manifest": manifest("auto-tagger"),
        "component_base64": base64::engine::general_purpose::STANDARD.encode(component("auto-tagger")),
        "allow_unsigned": true,
    });
    let (status, body) = call(
        "POST",
        &format!("{base}/plugins"),
        Some(TOKEN),
        Some(install),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["review"]["key"], "unsigned");
    body["installation"].clone()
}

#[test]
fn admin_path_end_to_end() {
    let server = serve();
    let b = &server.base;
    let body = install_auto_tagger(b);
    assert_eq!(body["grants"], json!({"read": [], "write": []}));

    let grants =
        json!({"read": ["ticket.subject", "ticket.description"], "write": ["ticket.tags"]});
    let (status, body) = call(
        "PUT",
        &format!("{b}/plugins/auto-tagger/grants"),
        Some(TOKEN),
        Some(grants),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        "PUT",
        &format!("{b}/plugins/auto-tagger/grants"),
        Some(TOKEN),
        Some(json!({"read": ["requester.email"]})),
    );
    assert_eq!(status, 400, "{body}");

    let settings = json!({"rules": [{"keyword": "refund", "tag": "billing"}]});
    let (status, _) = call(
        "PUT",
        &format!("{b}/plugins/auto-tagger/settings"),
        Some(TOKEN),
        Some(settings),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        "PUT",
        &format!("{b}/plugins/auto-tagger/settings"),
        Some(TOKEN),
        Some(json!({"rules": "nope"})),
    );
    assert_eq!(status, 400, "{body}");

    let event = json!({"type": "ticket-created", "ticket": {"id": "t-api", "subject": "Refund!", "requester_id": "u-2"}});
    let (status, body) = call("POST", &format!("{b}/events"), Some(TOKEN), Some(event));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "ok", "{body}");
    assert_eq!(body["results"][0]["summary"], "added 1 tag(s)");

    let (status, body) = call(
        "GET",
        &format!("{b}/audit?resource=t-api"),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 200);
    let calls: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["call"].as_str().unwrap())
        .collect();
    assert!(
        calls.contains(&"event.prefetch-ticket") && calls.contains(&"helpdesk.add-tags"),
        "{calls:?}"
    );
    let (_, body) = call(
        "GET",
        &format!("{b}/audit?installation=nobody"),
        Some(TOKEN),
        None,
    );
    assert_eq!(body["records"], json!([]));
    let (_, body) = call("GET", &format!("{b}/audit/verify"), Some(TOKEN), None);
    assert_eq!(body["ok"], true, "{body}");

    let (status, _) = call(
        "POST",
        &format!("{b}/plugins/auto-tagger/disable"),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 200);
    let event = json!({"type": "ticket-created", "ticket": {"id": "t-api2", "subject": "Refund!"}});
    let (_, body) = call("POST", &format!("{b}/events"), Some(TOKEN), Some(event));
    assert_eq!(body["results"], json!([]));
}

#[test]
fn bad_input_gets_a_clear_error_not_a_crash() {
    let server = serve();
    let b = &server.base;
    let (status, body) = call(
        "POST",
        &format!("{b}/events"),
        Some(TOKEN),
        Some(json!({"type": "nonsense"})),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    let event = json!({"type": "ticket-created", "ticket": {"id": "../../etc"}});
    let (status, body) = call("POST", &format!("{b}/events"), Some(TOKEN), Some(event));
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        "PUT",
        &format!("{b}/plugins/ghost/grants"),
        Some(TOKEN),
        Some(json!({"read": ["ticket.subject"]})),
    );
    assert_eq!(status, 404);
    let (status, body) = call(
        "POST",
        &format!("{b}/plugins"),
        Some(TOKEN),
        Some(json!({"manifest": "x", "component_base64": "!!!"})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = call("GET", &format!("{b}/health"), None, None);
    assert_eq!(status, 200, "still serving: {body}");
}

/// Issues 13 and 14: a typo in a query parameter is refused by name instead of widening
/// the query to everything; a body that does not fit is refused naming the path, never
/// quoting the value (it may be helpdesk data); health shows liveness only.
#[test]
fn unknown_parameters_are_refused_and_bad_bodies_are_named_not_echoed() {
    let server = serve();
    let b = &server.base;
    for url in [
        format!("{b}/audit?instalation=x"),
        format!("{b}/audit/export?format=csv&instalation=x"),
        format!("{b}/alerts?rul=read-spike"),
        format!("{b}/audit/blast-radius?instalation=x"),
        format!("{b}/review/unused?day=3"),
    ] {
        let (status, body) = call("GET", &url, Some(TOKEN), None);
        assert_eq!(status, 400, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("unknown query parameter"),
            "{url}: {message}"
        );
    }
    let (status, _) = call(
        "GET",
        &format!("{b}/audit?installation=x"),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 200);

    let event = json!({"type": "ticket-created",
        "ticket": {"id": "t-9", "tags": "vera@bigcorp.example"}});
    let (status, body) = call("POST", &format!("{b}/events"), Some(TOKEN), Some(event));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong type"),
        "{body}"
    );
    assert!(!body.to_string().contains("vera@"), "{body}");
    let grants = json!({"read": "vera@bigcorp.example"});
    let (status, body) = call(
        "PUT",
        &format!("{b}/plugins/x/grants"),
        Some(TOKEN),
        Some(grants),
    );
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`read`"), "{message}");
    assert!(!body.to_string().contains("vera@"), "{body}");

    let (status, body) = call("GET", &format!("{b}/health"), None, None);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

/// Issue 13: `PUT …/grants` with `[]` answered 200 and cleared every grant, and grants
/// were replace-only. Clearing needs `?clear=true`; `PATCH` grants and revokes some.
#[test]
fn grants_are_cleared_only_on_purpose_and_changed_item_by_item() {
    let server = serve();
    let b = &server.base;
    install_auto_tagger(b);
    let url = format!("{b}/plugins/auto-tagger/grants");
    let both = json!({"read": ["ticket.subject", "ticket.description"], "write": ["ticket.tags"]});
    let (status, _) = call("PUT", &url, Some(TOKEN), Some(both));
    assert_eq!(status, 200);

    let (status, body) = call("PUT", &url, Some(TOKEN), Some(json!({})));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clear=true"),
        "{body}"
    );

    let change = json!({"remove": {"read": ["ticket.description"]}});
    let (status, body) = call("PATCH", &url, Some(TOKEN), Some(change));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grants"]["read"], json!(["ticket.subject"]), "{body}");
    assert_eq!(
        body["grants"]["write"],
        json!(["ticket.tags"]),
        "the rest is kept: {body}"
    );

    let (status, body) = call(
        "PUT",
        &format!("{url}?clear=true"),
        Some(TOKEN),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grants"]["read"], json!([]), "{body}");
}
