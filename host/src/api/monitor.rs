//! The monitoring endpoints, merged into the service's routes.
//!
//! | method | path | query |
//! | --- | --- | --- |
//! | GET | `/api/v1/audit/export` | `format=csv\|jsonl` and the audit filters; a streamed body |
//! | GET | `/api/v1/audit/blast-radius` | `installation` or `plugin`, `since`, `until` |
//! | GET | `/api/v1/alerts` | `installation`, `rule`, `since`, `after_id`, `limit` |
//! | GET | `/api/v1/activity` | the counters as JSON |
//! | GET | `/api/v1/review/unused` | `days` (default 30), `installation` |
//! | GET | `/api/v1/review/data-map` | |
//! | GET | `/metrics` | Prometheus text |
//!
//! `/metrics` takes a scrape-only token (`airlock token create --scope metrics`, or the
//! static `metrics_token` of the config file), so a scraper can read counters without
//! any other right. Counters name installations and destinations, which is why it is
//! not public.

use super::access::{Permission as P, StepUp};
use super::error::{ApiError, ApiResult, blocking};
use super::extract::{ApiQuery, parse_query};
use super::stream::streamed_body;
use super::{Route, route};
use crate::app::Airlock;
use crate::audit::AuditFilter;
use crate::monitor::{AlertQuery, BlastRadiusQuery, ExportFormat, normalize_filter};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{Method as M, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Shared = Arc<Airlock>;

/// The monitoring routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::GET,
            "/api/v1/audit/export",
            P::ExportAudit,
            "Export the audit log",
            get(export),
        )
        .step_up(StepUp::Always)
        .audited(),
        route(
            M::GET,
            "/api/v1/audit/blast-radius",
            P::ReadAudit,
            "Read what an installation touched",
            get(blast_radius),
        )
        .audited(),
        route(
            M::GET,
            "/api/v1/alerts",
            P::ReadMonitoring,
            "List alerts",
            get(alerts),
        ),
        route(
            M::GET,
            "/api/v1/activity",
            P::ReadMonitoring,
            "Read the activity counters",
            get(activity),
        ),
        route(
            M::GET,
            "/api/v1/review/unused",
            P::ReadMonitoring,
            "List unused grants",
            get(unused),
        ),
        route(
            M::GET,
            "/api/v1/review/data-map",
            P::ReadMonitoring,
            "Read the data map",
            get(data_map),
        ),
        route(
            M::GET,
            "/metrics",
            P::ScrapeMetrics,
            "Scrape the Prometheus counters",
            get(metrics),
        ),
    ]
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
