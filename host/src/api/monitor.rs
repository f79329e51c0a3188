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

use super::auth::{TokenGate, require_token};
use super::error::{ApiError, ApiResult, blocking};
use super::extract::{ApiQuery, parse_query};
use super::stream::streamed_body;
use crate::app::Airlock;
use crate::audit::AuditFilter;
use crate::monitor::{AlertQuery, BlastRadiusQuery, ExportFormat, normalize_filter};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Shared = Arc<Airlock>;

/// The `/api/v1` monitoring routes; the caller adds the admin-token layer.
pub(crate) fn api_routes<S: Clone + Send + Sync + 'static>(airlock: Arc<Airlock>) -> Router<S> {
    Router::new()
        .route("/audit/export", get(export))
        .route("/audit/blast-radius", get(blast_radius))
        .route("/alerts", get(alerts))
        .route("/activity", get(activity))
        .route("/review/unused", get(unused))
        .route("/review/data-map", get(data_map))
        .with_state(airlock)
}

/// `GET /metrics`, accepting the admin token or the configured metrics token.
pub(crate) fn metrics_routes<S: Clone + Send + Sync + 'static>(
    airlock: Arc<Airlock>,
    admin_token: &str,
) -> Router<S> {
    let mut tokens = vec![admin_token.to_string()];
    tokens.extend(airlock.metrics_token().map(str::to_string));
    let gate = TokenGate::new(tokens, "the admin or metrics token");
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(gate, require_token))
        .with_state(airlock)
}

async fn metrics(State(airlock): State<Shared>) -> Result<Response, ApiError> {
    let text = blocking(move || airlock.metrics_text()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Splits an export's query: `format`, and the audit filter (every other parameter).
fn export_query(query: Option<&str>) -> Result<(ExportFormat, AuditFilter), ApiError> {
    let mut format = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "format" => format = Some(value.into_owned()),
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    let format = ExportFormat::parse(format.as_deref().unwrap_or("jsonl"))?;
    Ok((format, parse_query(&rest.finish())?))
}

async fn export(
    State(airlock): State<Shared>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (format, filter) = export_query(query.as_deref())?;
    // Check the filter before the status line goes out; errors later end the body early.
    let mut checked = filter.clone();
    normalize_filter(&mut checked)?;
    let body = streamed_body(move |sink| airlock.export_audit(&checked, format, sink));
    let name = match format {
        ExportFormat::Csv => "audit.csv",
        ExportFormat::Jsonl => "audit.jsonl",
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

async fn blast_radius(
    State(airlock): State<Shared>,
    ApiQuery(q): ApiQuery<BlastRadiusQuery>,
) -> ApiResult<crate::monitor::BlastRadius> {
    Ok(Json(blocking(move || airlock.blast_radius(&q)).await?))
}

async fn alerts(
    State(airlock): State<Shared>,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<serde_json::Value> {
    let alerts = blocking(move || airlock.alerts(&q)).await?;
    Ok(Json(json!({"alerts": alerts})))
}

async fn activity(State(airlock): State<Shared>) -> ApiResult<crate::monitor::Counters> {
    Ok(Json(blocking(move || airlock.activity()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnusedParams {
    days: Option<u32>,
    installation: Option<String>,
}

async fn unused(
    State(airlock): State<Shared>,
    ApiQuery(p): ApiQuery<UnusedParams>,
) -> ApiResult<serde_json::Value> {
    let days = p.days.unwrap_or(30);
    let review = blocking(move || airlock.unused_grants(days, p.installation.as_deref())).await?;
    Ok(Json(json!({"days": days, "installations": review})))
}

async fn data_map(State(airlock): State<Shared>) -> ApiResult<crate::monitor::DataMap> {
    Ok(Json(blocking(move || airlock.data_map()).await?))
}
