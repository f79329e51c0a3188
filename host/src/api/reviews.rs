//! Access reviews over the API.
//!
//! | method | path | permission |
//! | --- | --- | --- |
//! | GET | `/api/v1/reviews` | read-monitoring: the latest reviews, newest first |
//! | POST | `/api/v1/reviews` | conduct-reviews: `{"days"?}` opens one (409 while one is open) |
//! | GET | `/api/v1/reviews/status` | read-monitoring: when the next one is due |
//! | GET | `/api/v1/reviews/{id}` | read-monitoring: one review with its items |
//! | POST | `/api/v1/reviews/{id}/decisions` | conduct-reviews: `{"item", "decision", "reason"?}` |
//! | POST | `/api/v1/reviews/{id}/sign-off` | conduct-reviews: `{"note"?}` |
//! | GET | `/api/v1/plugins/{id}/changes` | read-audit: who changed what for one installation |

use super::access::Permission as P;
use super::error::{ApiError, ApiResult, blocking};
use super::extract::ApiJson;
use super::{AppState, Route, route};
use crate::app::{Actor, Change, DEFAULT_WINDOW_DAYS, ReviewStatus};
use crate::review::{AccessReview, Outcome};
use axum::extract::{Path, State};
use axum::http::Method as M;
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde::Deserialize;

/// The review routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::GET,
            "/api/v1/reviews",
            P::ReadMonitoring,
            "List access reviews",
            get(list),
        ),
        route(
            M::POST,
            "/api/v1/reviews",
            P::ConductReviews,
            "Open an access review",
            post(start),
        ),
        route(
            M::GET,
            "/api/v1/reviews/status",
            P::ReadMonitoring,
            "Read when the next access review is due",
            get(status),
        ),
        route(
            M::GET,
            "/api/v1/reviews/{id}",
            P::ReadMonitoring,
            "Read an access review",
            get(show),
        ),
        route(
            M::POST,
            "/api/v1/reviews/{id}/decisions",
            P::ConductReviews,
            "Keep, revoke or defer one grant under review",
            post(decide),
        ),
        route(
            M::POST,
            "/api/v1/reviews/{id}/sign-off",
            P::ConductReviews,
            "Sign off an access review",
            post(sign_off),
        ),
        route(
            M::GET,
            "/api/v1/plugins/{id}/changes",
            P::ReadAudit,
            "Read who changed what for one installation",
            get(changes),
        )
        .audited(),
    ]
}

fn review_id(id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::invalid("a review id is a number (`GET /api/v1/reviews` lists them)").at("id")
    })
}

async fn list(State(s): State<AppState>) -> ApiResult<Vec<AccessReview>> {
    Ok(Json(blocking(move || s.airlock.reviews(20)).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    #[serde(default)]
    days: Option<u32>,
}

async fn start(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<StartRequest>,
) -> ApiResult<AccessReview> {
    let days = req.days.unwrap_or(DEFAULT_WINDOW_DAYS);
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).start_review(days)).await?,
    ))
}

async fn status(State(s): State<AppState>) -> ApiResult<ReviewStatus> {
    Ok(Json(blocking(move || s.airlock.check_review_due()).await?))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<AccessReview> {
    let id = review_id(&id)?;
    Ok(Json(blocking(move || s.airlock.review(Some(id))).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideRequest {
    item: u32,
    decision: Outcome,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DecideRequest>,
) -> ApiResult<AccessReview> {
    let id = review_id(&id)?;
    Ok(Json(
        blocking(move || {
            s.airlock
                .admin(&actor)
                .decide(id, req.item, req.decision, req.reason.as_deref())
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignOffRequest {
    #[serde(default)]
    note: Option<String>,
}

async fn sign_off(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SignOffRequest>,
) -> ApiResult<AccessReview> {
    let id = review_id(&id)?;
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).sign_off(id, req.note.as_deref())).await?,
    ))
}

async fn changes(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Vec<Change>> {
    if !crate::model::valid_id(&id) {
        return Err(ApiError::invalid("not an installation id").at("id"));
    }
    Ok(Json(blocking(move || s.airlock.changes_to(&id)).await?))
}
