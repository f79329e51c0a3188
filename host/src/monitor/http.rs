//! The monitoring endpoints, merged into the service's router.
//!
//! Under `/api/v1` (admin token, applied by the service's router):
//!
//! | method | path | query |
//! | --- | --- | --- |
//! | GET | `/audit/export` | `format=csv\|jsonl` and the audit filters; a streamed body |
//! | GET | `/audit/blast-radius` | `installation` or `plugin`, `since`, `until` |
//! | GET | `/alerts` | `installation`, `rule`, `since`, `after_id`, `limit` |
//! | GET | `/activity` | the counters as JSON |
//! | GET | `/review/unused` | `days` (default 30), `installation` |
//! | GET | `/review/data-map` | |
//!
//! And `GET /metrics` (Prometheus text), outside `/api/v1`: it needs the admin token or
//! the separate `metrics_token` from the config file, so a scraper can be given read
//! access to counters without admin rights. Counters name installations and
//! destinations, which is why `/metrics` is not public.

use super::{AlertQuery, BlastRadiusQuery, ExportFormat, export::streamed_body};
use crate::app::{Airlock, AppError};
use crate::audit::AuditFilter;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Shared = Arc<Airlock>;

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn app_error(e: AppError) -> Response {
    match e {
        AppError::NotFound(m) => error(StatusCode::NOT_FOUND, "not-found", m),
        AppError::Invalid(m) => error(StatusCode::BAD_REQUEST, "invalid", m),
        AppError::Internal(e) => {
            tracing::error!(error = %format!("{e:#}"), "request failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service could not complete the request; see its log".into(),
            )
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "a worker panicked".into(),
            )
        })?
        .map_err(app_error)
}

/// The `/api/v1` monitoring routes; the caller adds the admin-token layer.
pub fn api_routes<S: Clone + Send + Sync + 'static>(airlock: Arc<Airlock>) -> Router<S> {
    Router::new()
        .route("/audit/export", get(export))
        .route("/audit/blast-radius", get(blast_radius))
        .route("/alerts", get(alerts))
        .route("/activity", get(activity))
        .route("/review/unused", get(unused))
        .route("/review/data-map", get(data_map))
        .with_state(airlock)
}

#[derive(Clone)]
struct MetricsState {
    airlock: Shared,
    tokens: Arc<Vec<String>>,
}

/// `GET /metrics`, accepting the admin token or the configured metrics token.
pub fn metrics_routes<S: Clone + Send + Sync + 'static>(
    airlock: Arc<Airlock>,
    admin_token: &str,
) -> Router<S> {
    let mut tokens = vec![admin_token.to_string()];
    tokens.extend(airlock.metrics_token().map(str::to_string));
    let state = MetricsState {
        airlock,
        tokens: Arc::new(tokens),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics_auth))
        .with_state(state)
}

async fn metrics_auth(State(s): State<MetricsState>, request: Request, next: Next) -> Response {
    match crate::service::bearer_token(&request) {
        Some(token)
            if s.tokens
                .iter()
                .any(|t| crate::service::constant_time_eq(t.as_bytes(), token.as_bytes())) =>
        {
            next.run(request).await
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the admin or metrics token as `Authorization: Bearer <token>`".into(),
        ),
    }
}

async fn metrics(State(s): State<MetricsState>) -> Response {
    match blocking(move || s.airlock.metrics_text()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct FormatParam {
    format: Option<String>,
}

async fn export(
    State(airlock): State<Shared>,
    Query(filter): Query<AuditFilter>,
    Query(format): Query<FormatParam>,
) -> Response {
    let format = match ExportFormat::parse(format.format.as_deref().unwrap_or("jsonl")) {
        Ok(f) => f,
        Err(e) => return app_error(e),
    };
    // Check the filter before the status line goes out; errors later end the body early.
    let mut checked = filter.clone();
    if let Err(e) = super::normalize_filter(&mut checked) {
        return app_error(e);
    }
    let body = streamed_body(move |sink| airlock.export_audit(&checked, format, sink));
    let name = match format {
        ExportFormat::Csv => "audit.csv",
        ExportFormat::Jsonl => "audit.jsonl",
    };
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn blast_radius(
    State(airlock): State<Shared>,
    Query(q): Query<BlastRadiusQuery>,
) -> Response {
    match blocking(move || airlock.blast_radius(&q)).await {
        Ok(report) => Json(report).into_response(),
        Err(r) => r,
    }
}

async fn alerts(State(airlock): State<Shared>, Query(q): Query<AlertQuery>) -> Response {
    match blocking(move || airlock.alerts(&q)).await {
        Ok(alerts) => Json(json!({"alerts": alerts})).into_response(),
        Err(r) => r,
    }
}

async fn activity(State(airlock): State<Shared>) -> Response {
    match blocking(move || airlock.activity()).await {
        Ok(counters) => Json(counters).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct UnusedParams {
    days: Option<u32>,
    installation: Option<String>,
}

async fn unused(State(airlock): State<Shared>, Query(p): Query<UnusedParams>) -> Response {
    let days = p.days.unwrap_or(30);
    match blocking(move || airlock.unused_grants(days, p.installation.as_deref())).await {
        Ok(review) => Json(json!({"days": days, "installations": review})).into_response(),
        Err(r) => r,
    }
}

async fn data_map(State(airlock): State<Shared>) -> Response {
    match blocking(move || airlock.data_map()).await {
        Ok(map) => Json(map).into_response(),
        Err(r) => r,
    }
}
