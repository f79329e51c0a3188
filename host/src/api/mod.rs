//! The HTTP API under `/api/v1`, protected by an admin bearer token.
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/api/v1/health` | liveness (no token needed) |
//! | GET | `/api/v1/plugins` | installations |
//! | POST | `/api/v1/plugins` | install: `{"manifest": "<plugin.toml text>", "component_base64": "…", "id": optional}` |
//! | PUT | `/api/v1/plugins/{id}/grants` | `{"read": [...], "write": [...], "egress": [...]}`; replacing with none needs `?clear=true` |
//! | PATCH | `/api/v1/plugins/{id}/grants` | `{"add": {grants}, "remove": {grants}}`, keeping the rest |
//! | PUT | `/api/v1/plugins/{id}/settings` | the settings object (secret settings are write-only) |
//! | POST | `/api/v1/plugins/{id}/enable`, `/disable` | |
//! | POST | `/api/v1/import` | a data set |
//! | POST | `/api/v1/events` | a helpdesk event; answers after dispatch, or `503` with `Retry-After` when the service is at capacity |
//! | GET | `/api/v1/audit` | records; `installation`, `resource`, `since`, `until`, `after_seq`, `limit` |
//! | GET | `/api/v1/audit/verify` | check the chain, Merkle tree and checkpoints |
//! | GET | `/api/v1/audit/proof/{seq}` | one record's inclusion proof, against a signed checkpoint |
//! | GET | `/api/v1/audit/checkpoints` | the signed checkpoints and the public key |
//! | GET | `/api/v1/audit/export`, `/audit/blast-radius`, `/alerts`, `/activity`, `/review/unused`, `/review/data-map` | monitoring (`api/monitor.rs`) |
//! | GET | `/metrics` | Prometheus counters; admin or metrics token |

use crate::app::Airlock;
use crate::audit::AuditFilter;
use crate::dispatch::EventRequest;
use crate::installation::{Grants, Installation, PublicInstallation};
use crate::model::Dataset;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::middleware;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The largest request body accepted (component uploads), in bytes.
pub const MAX_BODY_BYTES: usize = 32 << 20;

mod auth;
mod error;
mod extract;
mod monitor;
pub mod server;
mod stream;

use auth::{TokenGate, require_token};
use error::{ApiError, ApiResult, blocking};
use extract::{ApiJson, ApiQuery};

#[derive(Clone)]
struct AppState {
    airlock: Arc<Airlock>,
}

/// The router, with the admin token required on every route but health.
pub fn router(airlock: Arc<Airlock>, token: &str) -> Router {
    let state = AppState { airlock };
    let admin = TokenGate::new(vec![token.to_string()], "the admin token");
    let protected = Router::new()
        .route("/plugins", get(list_plugins).post(install_plugin))
        .route("/plugins/{id}/grants", put(set_grants).patch(change_grants))
        .route("/plugins/{id}/settings", put(set_settings))
        .route("/plugins/{id}/enable", post(enable))
        .route("/plugins/{id}/disable", post(disable))
        .route("/import", post(import))
        .route("/events", post(post_event))
        .route("/audit", get(audit))
        .route("/audit/verify", get(verify))
        .route("/audit/proof/{seq}", get(proof))
        .route("/audit/checkpoints", get(checkpoints))
        .merge(monitor::api_routes(state.airlock.clone()))
        .route_layer(middleware::from_fn_with_state(admin, require_token));
    let api = Router::new().route("/health", get(health)).merge(protected);
    Router::new()
        .nest("/api/v1", api)
        .merge(monitor::metrics_routes(state.airlock.clone(), token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Liveness only: no token is needed, so nothing about the data is shown.
async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn list_plugins(State(s): State<AppState>) -> ApiResult<Vec<PublicInstallation>> {
    // Secret settings are never returned: only their names.
    let all = blocking(move || s.airlock.installations()).await?;
    Ok(Json(all.into_iter().map(Installation::public).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallRequest {
    manifest: String,
    component_base64: String,
    #[serde(default)]
    id: Option<String>,
}

async fn install_plugin(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<InstallRequest>,
) -> ApiResult<PublicInstallation> {
    let component = base64::engine::general_purpose::STANDARD
        .decode(req.component_base64.as_bytes())
        .map_err(|e| ApiError::invalid(format!("component_base64 is not base64: {e}")))?;
    Ok(Json(
        blocking(move || {
            s.airlock
                .install("plugin.toml", &req.manifest, &component, req.id.as_deref())
                .map(Installation::public)
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceGrants {
    /// Must be set to replace the grants with none at all.
    #[serde(default)]
    clear: bool,
}

/// Replaces the grants. Replacing them with none needs `?clear=true`: an empty body is
/// more often a mistake than a wish to revoke everything.
async fn set_grants(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReplaceGrants>,
    ApiJson(grants): ApiJson<Grants>,
) -> ApiResult<PublicInstallation> {
    if grants.is_empty() && !query.clear {
        return Err(ApiError::invalid(
            "these grants are empty, which would revoke every grant; send ?clear=true to do that, or PATCH to grant or revoke some",
        ));
    }
    Ok(Json(
        blocking(move || s.airlock.set_grants(&id, grants).map(Installation::public)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeGrants {
    #[serde(default)]
    add: Grants,
    #[serde(default)]
    remove: Grants,
}

/// Grants some and revokes some, keeping the rest.
async fn change_grants(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<ChangeGrants>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || {
            s.airlock
                .change_grants(&id, &change.add, &change.remove)
                .map(Installation::public)
        })
        .await?,
    ))
}

async fn set_settings(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(settings): ApiJson<serde_json::Value>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || {
            s.airlock
                .set_settings(&id, settings)
                .map(Installation::public)
        })
        .await?,
    ))
}

async fn enable(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || s.airlock.set_enabled(&id, true).map(Installation::public)).await?,
    ))
}

async fn disable(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || s.airlock.set_enabled(&id, false).map(Installation::public)).await?,
    ))
}

async fn import(
    State(s): State<AppState>,
    ApiJson(data): ApiJson<Dataset>,
) -> ApiResult<serde_json::Value> {
    let n = blocking(move || s.airlock.import(&data)).await?;
    Ok(Json(json!({"imported": n})))
}

async fn post_event(
    State(s): State<AppState>,
    ApiJson(event): ApiJson<EventRequest>,
) -> ApiResult<serde_json::Value> {
    // On the worker pool: a full pool and queue answer 503 with Retry-After at once.
    let results = s.airlock.dispatch(event).await?;
    Ok(Json(json!({"results": results})))
}

async fn audit(
    State(s): State<AppState>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> ApiResult<serde_json::Value> {
    let records = blocking(move || s.airlock.audit(&filter)).await?;
    Ok(Json(json!({"records": records})))
}

async fn verify(State(s): State<AppState>) -> ApiResult<serde_json::Value> {
    let options = crate::integrity::VerifyOptions::default();
    let result = blocking(move || Ok(s.airlock.verify_audit(&options)?)).await?;
    Ok(Json(match result {
        Ok(v) => {
            json!({"ok": true, "records": v.records, "pruned": v.pruned, "checkpoints": v.checkpoints})
        }
        Err(t) => json!({"ok": false, "first_bad_seq": t.first_bad_seq, "problem": t.problem}),
    }))
}

async fn proof(
    State(s): State<AppState>,
    Path(seq): Path<u64>,
) -> ApiResult<crate::integrity::InclusionProof> {
    Ok(Json(
        blocking(move || s.airlock.inclusion_proof(seq)).await?,
    ))
}

async fn checkpoints(State(s): State<AppState>) -> ApiResult<serde_json::Value> {
    let (key, list) = blocking(move || {
        let list = s.airlock.store().checkpoints()?;
        Ok((s.airlock.signer().public_key_hex(), list))
    })
    .await?;
    Ok(Json(json!({"public_key": key, "checkpoints": list})))
}

/// Serves the API until ctrl-c, within `limits` ([`server`]).
pub async fn serve(
    airlock: Arc<Airlock>,
    token: &str,
    listen: std::net::SocketAddr,
    limits: server::ServerLimits,
) -> anyhow::Result<()> {
    let listener = server::bind(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}; is another service using the port? Pass --listen to choose another"))?;
    tracing::info!(address = %listener.local_addr()?, "airlock listening");
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        body_timeout_ms = limits.body_timeout.as_millis() as u64,
        "connection limits"
    );
    server::serve(listener, router(airlock, token), limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
