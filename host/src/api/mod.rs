//! The HTTP API under `/api/v1`, with one authorization layer in front of every route.
//!
//! Every route is declared once, in [`routes`], with its permission
//! ([`access::Permission`]), whether it needs a TOTP step-up, and what is audited; the
//! router, the gate and the OpenAPI document (`GET /api/v1/openapi.json`) are all built
//! from that list. The README's "Admin path" lists the routes and the role matrix.
//!
//! Callers authenticate with `Authorization: Bearer <credential>`: a session from
//! `POST /api/v1/auth/login`, a token from `POST /api/v1/tokens` (or `airlock token
//! create`), or the break-glass `admin_token` when one is configured (every use of it
//! is audited as such).

use crate::app::{Actor, Airlock};
use crate::audit::AuditFilter;
use crate::dispatch::EventRequest;
use crate::installation::{Grants, Installation, PublicInstallation};
use crate::model::Dataset;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodRouter, get, patch, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The largest request body accepted (component uploads), in bytes.
pub const MAX_BODY_BYTES: usize = 32 << 20;

pub mod access;
mod accounts;
mod dsr;
mod error;
mod extract;
mod keys;
mod lifecycle;
mod monitor;
pub mod openapi;
mod reviews;
pub mod server;
mod stream;

use access::{Audited, Permission, RouteSpec, StepUp};
use error::{ApiError, ApiResult, blocking};
use extract::{ApiJson, ApiQuery};

#[derive(Clone)]
pub(crate) struct AppState {
    airlock: Arc<Airlock>,
}

impl FromRef<AppState> for Arc<Airlock> {
    fn from_ref(state: &AppState) -> Arc<Airlock> {
        state.airlock.clone()
    }
}

/// How the router is built.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// The break-glass token (`admin_token`): an admin credential outside the accounts,
    /// every use of it audited. Leave unset in production.
    pub break_glass: Option<String>,
}

/// One route: its spec and its handler.
struct Route {
    spec: RouteSpec,
    handler: MethodRouter<AppState>,
}

fn route(
    method: Method,
    path: &'static str,
    permission: Permission,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        spec: RouteSpec {
            method,
            path,
            permission,
            step_up: StepUp::No,
            audited: Audited::No,
            summary,
        },
        handler,
    }
}

impl Route {
    fn step_up(mut self, step_up: StepUp) -> Route {
        self.spec.step_up = step_up;
        self
    }

    fn audited(mut self) -> Route {
        self.spec.audited = Audited::Read;
        self
    }
}

/// Every route of the service, with what it needs.
fn routes() -> Vec<Route> {
    use Method as M;
    use Permission as P;
    let mut all = vec![
        route(
            M::GET,
            "/api/v1/health",
            P::Public,
            "Check liveness",
            get(health),
        ),
        route(
            M::GET,
            "/api/v1/openapi.json",
            P::Public,
            "Read the OpenAPI document",
            get(openapi_document),
        ),
        route(
            M::GET,
            "/api/v1/plugins",
            P::ListPlugins,
            "List installations",
            get(list_plugins),
        ),
        route(
            M::GET,
            "/api/v1/plugins/{id}/logs",
            P::ReadPluginLogs,
            "Read an installation's recent log lines",
            get(plugin_logs),
        )
        .audited(),
        route(
            M::PUT,
            "/api/v1/plugins/{id}/grants",
            P::ChangeGrants,
            "Replace an installation's grants",
            put(set_grants),
        )
        .step_up(StepUp::WhenWidening),
        route(
            M::PATCH,
            "/api/v1/plugins/{id}/grants",
            P::ChangeGrants,
            "Grant and revoke some of an installation's grants",
            patch(change_grants),
        )
        .step_up(StepUp::WhenWidening),
        route(
            M::PUT,
            "/api/v1/plugins/{id}/settings",
            P::ChangeSettings,
            "Replace an installation's settings",
            put(set_settings),
        )
        .step_up(StepUp::WhenWidening),
        route(
            M::POST,
            "/api/v1/plugins/{id}/enable",
            P::ChangePlugins,
            "Enable an installation",
            post(enable),
        ),
        route(
            M::POST,
            "/api/v1/plugins/{id}/disable",
            P::ChangePlugins,
            "Disable an installation",
            post(disable),
        ),
        route(
            M::POST,
            "/api/v1/plugins/{id}/kill",
            P::ChangePlugins,
            "Kill an installation, or every installation of a plugin, now",
            post(kill),
        ),
        route(
            M::POST,
            "/api/v1/plugins/{id}/revive",
            P::ChangePlugins,
            "Revive a killed installation",
            post(revive),
        )
        .step_up(StepUp::Always),
        route(
            M::POST,
            "/api/v1/import",
            P::ImportData,
            "Import helpdesk data",
            post(import),
        ),
        route(
            M::POST,
            "/api/v1/events",
            P::PostEvents,
            "Post a helpdesk event",
            post(post_event),
        ),
        route(
            M::GET,
            "/api/v1/audit",
            P::ReadAudit,
            "Read audit records",
            get(audit),
        )
        .audited(),
        route(
            M::GET,
            "/api/v1/audit/verify",
            P::ReadAudit,
            "Verify the audit chain",
            get(verify),
        )
        .audited(),
        route(
            M::GET,
            "/api/v1/audit/proof/{seq}",
            P::ReadAudit,
            "Prove a record's inclusion",
            get(proof),
        )
        .audited(),
        route(
            M::GET,
            "/api/v1/audit/checkpoints",
            P::ReadAudit,
            "Read the signed checkpoints",
            get(checkpoints),
        )
        .audited(),
    ];
    all.extend(monitor::routes());
    all.extend(accounts::routes());
    all.extend(reviews::routes());
    all.extend(lifecycle::routes());
    all.extend(dsr::routes());
    all.extend(keys::routes());
    all
}

/// Every route's spec, in declaration order: what the gate enforces and the OpenAPI
/// document lists.
pub fn route_specs() -> Vec<RouteSpec> {
    routes().into_iter().map(|r| r.spec).collect()
}

/// The router: every route behind the gate ([`access`]).
pub fn router(airlock: Arc<Airlock>, options: ApiOptions) -> Router {
    let state = AppState { airlock };
    let routes = routes();
    let specs: Vec<RouteSpec> = routes.iter().map(|r| r.spec.clone()).collect();
    let gate = access::Gate::new(state.clone(), options.break_glass.as_deref(), &specs);
    let mut router = Router::new();
    for r in routes {
        router = router.route(r.spec.path, r.handler);
    }
    router
        .route_layer(middleware::from_fn_with_state(gate, access::gate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi::document(&route_specs()))
}

/// Liveness only: no token is needed, so nothing about the data is shown.
async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Installations: every one, or a vendor's own (with versions and state, but no grants
/// or settings).
async fn list_plugins(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<serde_json::Value> {
    let vendor_view = actor.principal.vendor.is_some();
    let (all, counters) = blocking(move || {
        let all = s.airlock.installations()?;
        let counters = match vendor_view {
            true => Some(s.airlock.activity()?),
            false => None,
        };
        Ok((all, counters))
    })
    .await?;
    let counters = counters.unwrap_or_default();
    let listed: Vec<serde_json::Value> = match &actor.principal.vendor {
        // Secret settings are never returned: only their names.
        None => all
            .into_iter()
            .map(|i| serde_json::to_value(i.public()).unwrap_or_default())
            .collect(),
        Some(vendor) => all
            .into_iter()
            .filter(|i| &i.manifest.vendor == vendor)
            .map(|i| {
                // Health and failure counts, never what the plugin read or where it sent it.
                let c = counters.installations.get(&i.id).cloned().unwrap_or_default();
                json!({"id": i.id, "plugin": i.manifest.name, "version": i.manifest.version,
                       "vendor": i.manifest.vendor, "enabled": i.enabled, "installed_at": i.installed_at,
                       "invocations": c.invocations, "failures": c.errors.values().sum::<u64>(),
                       "failures_by_kind": c.errors, "denied_calls": c.denied})
            })
            .collect(),
    };
    Ok(Json(serde_json::Value::Array(listed)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillRequest {
    reason: String,
}

async fn kill(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<KillRequest>,
) -> ApiResult<serde_json::Value> {
    let killed = blocking(move || s.airlock.admin(&actor).kill(&id, &req.reason)).await?;
    // What each touched: the blast radius over the preceding 30 days and since.
    let since =
        crate::audit::rfc3339_millis(time::OffsetDateTime::now_utc() - time::Duration::days(30));
    let radius: Vec<String> = killed
        .iter()
        .map(|i| {
            format!(
                "/api/v1/audit/blast-radius?installation={}&since={since}",
                i.id
            )
        })
        .collect();
    let killed: Vec<PublicInstallation> = killed.into_iter().map(Installation::public).collect();
    Ok(Json(json!({"killed": killed, "blast_radius": radius})))
}

async fn revive(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || s.airlock.admin(&actor).revive(&id))
            .await?
            .public(),
    ))
}

/// An installation's recent log lines; a vendor's credential sees only its own plugins'
/// (another vendor's installation is "not found", as if it did not exist).
async fn plugin_logs(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Vec<crate::app::KeptLine>> {
    let lines = blocking(move || {
        let inst = s.airlock.installation(&id)?;
        if let Some(vendor) = &actor.principal.vendor
            && &inst.manifest.vendor != vendor
        {
            return Err(crate::app::AppError::NotFound(format!(
                "no installation `{id}`"
            )));
        }
        Ok(s.airlock.recent_logs(&inst.id))
    })
    .await?;
    Ok(Json(lines))
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
    Extension(actor): Extension<Actor>,
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
        blocking(move || {
            s.airlock
                .admin(&actor)
                .set_grants(&id, grants)
                .map(Installation::public)
        })
        .await?,
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
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<ChangeGrants>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || {
            s.airlock
                .admin(&actor)
                .change_grants(&id, &change.add, &change.remove)
                .map(Installation::public)
        })
        .await?,
    ))
}

async fn set_settings(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(settings): ApiJson<serde_json::Value>,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || {
            s.airlock
                .admin(&actor)
                .set_settings(&id, settings)
                .map(Installation::public)
        })
        .await?,
    ))
}

async fn enable(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    set_enabled(s, actor, id, true).await
}

async fn disable(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicInstallation> {
    set_enabled(s, actor, id, false).await
}

async fn set_enabled(
    s: AppState,
    actor: Actor,
    id: String,
    enabled: bool,
) -> ApiResult<PublicInstallation> {
    Ok(Json(
        blocking(move || {
            s.airlock
                .admin(&actor)
                .set_enabled(&id, enabled)
                .map(Installation::public)
        })
        .await?,
    ))
}

async fn import(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(data): ApiJson<Dataset>,
) -> ApiResult<serde_json::Value> {
    let n = blocking(move || s.airlock.admin(&actor).import(&data)).await?;
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

/// How often a serving host checks whether the access review is overdue.
const REVIEW_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Raises `review-overdue` when the access review is late, and `vendor-review-overdue`
/// for each vendor whose security review is: at start, then hourly (each alert is raised
/// once per due date, however often this runs).
async fn watch_review_due(airlock: Arc<Airlock>) {
    let mut every = tokio::time::interval(REVIEW_CHECK_EVERY);
    loop {
        every.tick().await;
        let a = airlock.clone();
        let checked = error::blocking(move || {
            a.check_review_due()?;
            a.check_vendor_reviews(a.vendor_review_days()).map(|_| ())
        });
        if let Err(e) = checked.await {
            tracing::warn!(code = e.code(), "cannot check whether reviews are due");
        }
    }
}

/// Applies kills made by another process (the command line) to this host's running
/// invocations, every second.
async fn watch_kill_switch(airlock: Arc<Airlock>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        every.tick().await;
        let a = airlock.clone();
        if let Err(e) = error::blocking(move || a.sync_kill_switch()).await {
            tracing::warn!(code = e.code(), "cannot read kills from the store");
        }
    }
}

/// Serves the API until ctrl-c, within `limits` ([`server`]), over TLS when `tls` is
/// given.
pub async fn serve(
    airlock: Arc<Airlock>,
    options: ApiOptions,
    listen: std::net::SocketAddr,
    limits: server::ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> anyhow::Result<()> {
    let listener = server::bind(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}; is another service using the port? Pass --listen to choose another"))?;
    tracing::info!(address = %listener.local_addr()?, tls = tls.is_some(), "airlock listening");
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        body_timeout_ms = limits.body_timeout.as_millis() as u64,
        "connection limits"
    );
    tokio::spawn(watch_review_due(airlock.clone()));
    tokio::spawn(watch_kill_switch(airlock.clone()));
    server::serve(listener, router(airlock, options), limits, tls, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
