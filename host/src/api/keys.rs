//! The master key and backups over the API, for a running service (the CLI's
//! `airlock keys rotate` and `airlock backup` need the service stopped).
//!
//! | method | path | permission |
//! | --- | --- | --- |
//! | POST | `/api/v1/keys/rotate` | manage-keys (admin), step-up: rotate the master key |
//! | POST | `/api/v1/backups` | manage-keys (admin), step-up: a backup into `<data-dir>/backups/` |

use super::access::{Permission as P, StepUp};
use super::error::{ApiResult, blocking};
use super::{AppState, Route, route};
use crate::app::Actor;
use crate::app::backup::BackupReport;
use crate::app::keys::Rotation;
use axum::extract::State;
use axum::http::Method as M;
use axum::routing::post;
use axum::{Extension, Json};

/// The key and backup routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::POST,
            "/api/v1/keys/rotate",
            P::ManageKeys,
            "Rotate the master key (re-wraps the data keys; the service keeps running)",
            post(rotate),
        )
        .step_up(StepUp::Always),
        route(
            M::POST,
            "/api/v1/backups",
            P::ManageKeys,
            "Take an encrypted backup into the data directory's backups folder",
            post(backup),
        )
        .step_up(StepUp::Always),
    ]
}

async fn backup(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<BackupReport> {
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).backup_in_data_dir()).await?,
    ))
}

async fn rotate(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Rotation> {
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).rotate_master_key(None)).await?,
    ))
}
