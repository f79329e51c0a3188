//! Data-subject requests over the API.
//!
//! | method | path | permission |
//! | --- | --- | --- |
//! | GET | `/api/v1/dsr/export` | read-audit (admin, auditor), step-up: `user` or `email`; the bundle |
//! | POST | `/api/v1/dsr/erase` | import-data (admin), step-up: `{"user"}` |
//! | POST | `/api/v1/dsr/hold` | import-data: `{"user", "hold": true\|false, "reason"}` |

use super::access::{Permission as P, StepUp};
use super::error::{ApiResult, blocking};
use super::extract::{ApiJson, ApiQuery};
use super::{AppState, Route, route};
use crate::app::Actor;
use crate::app::dsr::{Erasure, SubjectExport};
use axum::extract::State;
use axum::http::Method as M;
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde::Deserialize;

/// The data-subject routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::GET,
            "/api/v1/dsr/export",
            P::ReadAudit,
            "Export everything held about a person",
            get(export),
        )
        .step_up(StepUp::Always),
        route(
            M::POST,
            "/api/v1/dsr/erase",
            P::ImportData,
            "Erase a person's helpdesk records and plugin data",
            post(erase),
        )
        .step_up(StepUp::Always),
        route(
            M::POST,
            "/api/v1/dsr/hold",
            P::ImportData,
            "Put a person under a legal hold, or lift it",
            post(hold),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Who {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

async fn export(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiQuery(who): ApiQuery<Who>,
) -> ApiResult<SubjectExport> {
    Ok(Json(
        blocking(move || {
            let user = s
                .airlock
                .resolve_subject(who.user.as_deref(), who.email.as_deref())?;
            s.airlock.admin(&actor).dsr_export(&user)
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseRequest {
    user: String,
}

async fn erase(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<EraseRequest>,
) -> ApiResult<Erasure> {
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).dsr_erase(&req.user)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    user: String,
    hold: bool,
    reason: String,
}

async fn hold(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<HoldRequest>,
) -> ApiResult<serde_json::Value> {
    let held = req.hold;
    blocking(move || {
        s.airlock
            .admin(&actor)
            .dsr_hold(&req.user, req.hold, &req.reason)
    })
    .await?;
    Ok(Json(serde_json::json!({ "held": held })))
}
