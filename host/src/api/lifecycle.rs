//! Plugin lifecycle over the API: installing bundles, pending upgrades, versions,
//! rollback and vendors.
//!
//! | method | path | permission |
//! | --- | --- | --- |
//! | POST | `/api/v1/plugins` | change-plugins: `{"bundle"}` or `{"manifest", "component_base64", "allow_unsigned": true}`, with `"id"?`, `"trust_vendor_key"?` |
//! | GET | `/api/v1/plugins/{id}/upgrade` | read-monitoring: the pending upgrade's diff, with grant use |
//! | POST | `/api/v1/plugins/{id}/upgrade/approve` | change-grants: `{"grant": {"read": […], …}}`, step-up when it grants |
//! | POST | `/api/v1/plugins/{id}/upgrade/reject` | change-plugins |
//! | POST | `/api/v1/plugins/{id}/rollback` | change-plugins, step-up when it widens |
//! | GET | `/api/v1/plugins/{id}/versions` | read-monitoring |
//! | GET | `/api/v1/vendors` | read-monitoring: vendors, pinned keys, last review |
//! | POST | `/api/v1/vendors/{name}/review` | change-plugins: `{"date", "notes", "contact"?}` |
//! | GET | `/api/v1/incidents/report` | read-audit: `installation`, `since`, `until`?, `format=json\|csv`; recorded |

use super::access::{Permission as P, StepUp};
use super::error::{ApiError, ApiResult, blocking};
use super::extract::{ApiJson, ApiQuery};
use super::{AppState, Route, route};
use crate::app::Actor;
use crate::app::incident::IncidentQuery;
use crate::app::lifecycle::{InstallOptions, Installed, Versions};
use crate::installation::{Installation, PublicInstallation};
use crate::upgrade::{Approval, UpgradeDiff};
use crate::vendor::Vendor;
use axum::extract::{Path, State};
use axum::http::Method as M;
use axum::routing::{get, post};
use axum::{Extension, Json};
use base64::Engine;
use serde::Deserialize;

/// The lifecycle routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::POST,
            "/api/v1/plugins",
            P::ChangePlugins,
            "Install a plugin bundle, or offer a new version of an installed one",
            post(install),
        ),
        route(
            M::GET,
            "/api/v1/plugins/{id}/upgrade",
            P::ReadMonitoring,
            "Read an installation's pending upgrade and its diff",
            get(pending),
        ),
        route(
            M::POST,
            "/api/v1/plugins/{id}/upgrade/approve",
            P::ChangeGrants,
            "Approve a pending upgrade, granting the items ticked",
            post(approve),
        )
        .step_up(StepUp::WhenWidening),
        route(
            M::POST,
            "/api/v1/plugins/{id}/upgrade/reject",
            P::ChangePlugins,
            "Reject a pending upgrade",
            post(reject),
        ),
        route(
            M::POST,
            "/api/v1/plugins/{id}/rollback",
            P::ChangePlugins,
            "Return an installation to its previous version and grant",
            post(rollback),
        )
        .step_up(StepUp::WhenWidening),
        route(
            M::GET,
            "/api/v1/plugins/{id}/versions",
            P::ReadMonitoring,
            "List the versions an installation ran, runs and may run",
            get(versions),
        ),
        route(
            M::GET,
            "/api/v1/vendors",
            P::ReadMonitoring,
            "List vendors with their pinned keys and last review",
            get(vendors),
        ),
        route(
            M::POST,
            "/api/v1/vendors/{name}/review",
            P::ChangePlugins,
            "Record a vendor's security review",
            post(review_vendor),
        ),
        route(
            M::GET,
            "/api/v1/incidents/report",
            P::ReadAudit,
            "Report the data subjects an installation touched in a window",
            get(incident_report),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallRequest {
    /// A bundle, as `airlock plugin pack` writes it.
    #[serde(default)]
    bundle: Option<serde_json::Value>,
    /// An unsigned plugin's manifest text (with `component_base64`).
    #[serde(default)]
    manifest: Option<String>,
    #[serde(default)]
    component_base64: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    trust_vendor_key: Option<String>,
    #[serde(default)]
    allow_unsigned: bool,
}

async fn install(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<InstallRequest>,
) -> ApiResult<Installed> {
    let options = InstallOptions {
        id: req.id,
        trust_vendor_key: req.trust_vendor_key,
        allow_unsigned: req.allow_unsigned,
    };
    let installed = match (req.bundle, req.manifest, req.component_base64) {
        (Some(bundle), None, None) => {
            let bytes = serde_json::to_vec(&bundle).expect("a JSON value serializes");
            blocking(move || s.airlock.admin(&actor).install_bundle(&bytes, &options)).await?
        }
        (None, Some(manifest), Some(component)) => {
            let component = base64::engine::general_purpose::STANDARD
                .decode(component.as_bytes())
                .map_err(|_| {
                    ApiError::invalid("component_base64 is not base64").at("component_base64")
                })?;
            blocking(move || {
                s.airlock
                    .admin(&actor)
                    .install_unsigned(&manifest, component, &options)
            })
            .await?
        }
        _ => {
            return Err(ApiError::invalid(
                "send either `bundle` (from `airlock plugin pack`) or `manifest` with `component_base64`",
            )
            .at("bundle"));
        }
    };
    Ok(Json(installed))
}

fn checked(id: &str) -> Result<(), ApiError> {
    match crate::model::valid_id(id) {
        true => Ok(()),
        false => Err(ApiError::invalid("not an installation id").at("id")),
    }
}

async fn pending(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<UpgradeDiff> {
    checked(&id)?;
    let diff = blocking(move || s.airlock.pending_upgrade(&id)).await?;
    diff.map(Json)
        .ok_or_else(|| ApiError::not_found("this installation has no pending upgrade"))
}

async fn approve(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(approval): ApiJson<Approval>,
) -> ApiResult<PublicInstallation> {
    checked(&id)?;
    let inst = blocking(move || s.airlock.admin(&actor).approve_upgrade(&id, &approval)).await?;
    Ok(Json(inst.public()))
}

async fn reject(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    checked(&id)?;
    let inst = blocking(move || s.airlock.admin(&actor).reject_upgrade(&id)).await?;
    Ok(Json(inst.public()))
}

async fn rollback(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    checked(&id)?;
    let inst: Installation = blocking(move || s.airlock.admin(&actor).rollback(&id)).await?;
    Ok(Json(inst.public()))
}

async fn versions(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Versions> {
    checked(&id)?;
    Ok(Json(blocking(move || s.airlock.versions(&id)).await?))
}

async fn vendors(State(s): State<AppState>) -> ApiResult<Vec<Vendor>> {
    Ok(Json(blocking(move || s.airlock.vendors()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    date: String,
    notes: String,
    #[serde(default)]
    contact: Option<String>,
}

async fn review_vendor(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<Vendor> {
    Ok(Json(
        blocking(move || {
            s.airlock.admin(&actor).review_vendor(
                &name,
                &req.date,
                &req.notes,
                req.contact.as_deref(),
            )
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentParams {
    installation: String,
    since: String,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

async fn incident_report(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiQuery(q): ApiQuery<IncidentParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format is `json` or `csv`").at("format")),
    };
    let query = IncidentQuery {
        installation: q.installation,
        since: q.since,
        until: q.until,
    };
    let report = blocking(move || s.airlock.admin(&actor).incident_report(&query)).await?;
    Ok(match csv {
        true => (
            [(axum::http::header::CONTENT_TYPE, "text/csv")],
            report.csv(),
        )
            .into_response(),
        false => Json(report).into_response(),
    })
}
