//! The one authorization layer: every route's permission, the role matrix, and the gate
//! in front of every route that authenticates, authorizes, checks step-up and audits.
//!
//! Handlers never check roles. Each route is declared once, in [`super::routes`], with
//! a [`RouteSpec`]; the router and the OpenAPI document are both built from that list,
//! so a route cannot exist without a permission. A route the gate finds no spec for is
//! refused (deny by default).
//!
//! | permission | admin | auditor | vendor | viewer | metrics | ingest |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | `public` | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ (and no credential) |
//! | `self` (own account, sessions, tokens) | ✓ | ✓ | ✓ | ✓ | | |
//! | `list-plugins` (vendors: their own only) | ✓ | ✓ | ✓ | ✓ | | |
//! | `change-plugins`, `change-grants`, `change-settings`, `import-data` | ✓ | | | | | |
//! | `post-events` | ✓ | | | | | ✓ |
//! | `read-audit`, `export-audit`, `read-monitoring` | ✓ | ✓ | | | | |
//! | `manage-users` | ✓ | | | | | |
//! | `scrape-metrics` | ✓ | ✓ | | | ✓ | |

use super::AppState;
use super::error::ApiError;
use crate::access::credential::constant_time_eq;
use crate::access::{AuthError, Principal};
use crate::account::{Role, Scope};
use crate::app::Actor;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The header that carries a fresh TOTP code for step-up.
pub const TOTP_HEADER: &str = "x-airlock-totp";

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// No credential at all (health, sign-in, the OpenAPI document).
    Public,
    /// The caller's own account: who am I, password, TOTP, own tokens, sign out.
    OwnAccount,
    /// List installations (a vendor sees only their own).
    ListPlugins,
    /// Read an installation's recent log lines (a vendor only their own plugins').
    ReadPluginLogs,
    /// Install, upgrade, enable and disable plugins.
    ChangePlugins,
    /// Change an installation's grants.
    ChangeGrants,
    /// Change an installation's settings and secrets.
    ChangeSettings,
    /// Import helpdesk data, erase a person's data (data-subject requests), legal holds.
    ImportData,
    /// Post helpdesk events.
    PostEvents,
    /// Read audit records, proofs, checkpoints and verification.
    ReadAudit,
    /// Export the audit log.
    ExportAudit,
    /// Alerts, activity, reviews and the data map.
    ReadMonitoring,
    /// Open access reviews, decide their items (a revocation applies at once) and sign
    /// them off.
    ConductReviews,
    /// Create users, change their roles, disable them, revoke their credentials.
    ManageUsers,
    /// `GET /metrics`.
    ScrapeMetrics,
    /// Rotate the master key and take backups (admin only).
    ManageKeys,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 16] = [
        Permission::Public,
        Permission::OwnAccount,
        Permission::ListPlugins,
        Permission::ReadPluginLogs,
        Permission::ChangePlugins,
        Permission::ChangeGrants,
        Permission::ChangeSettings,
        Permission::ImportData,
        Permission::PostEvents,
        Permission::ReadAudit,
        Permission::ExportAudit,
        Permission::ReadMonitoring,
        Permission::ConductReviews,
        Permission::ManageUsers,
        Permission::ScrapeMetrics,
        Permission::ManageKeys,
    ];

    /// Its name in docs and the OpenAPI document.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::OwnAccount => "self",
            Permission::ListPlugins => "list-plugins",
            Permission::ReadPluginLogs => "read-plugin-logs",
            Permission::ChangePlugins => "change-plugins",
            Permission::ChangeGrants => "change-grants",
            Permission::ChangeSettings => "change-settings",
            Permission::ImportData => "import-data",
            Permission::PostEvents => "post-events",
            Permission::ReadAudit => "read-audit",
            Permission::ExportAudit => "export-audit",
            Permission::ReadMonitoring => "read-monitoring",
            Permission::ConductReviews => "conduct-reviews",
            Permission::ManageUsers => "manage-users",
            Permission::ScrapeMetrics => "scrape-metrics",
            Permission::ManageKeys => "manage-keys",
        }
    }
}

/// The role matrix: whether a credential of `scope` holds `permission`.
pub fn allowed(scope: Scope, permission: Permission) -> bool {
    use Permission::*;
    match permission {
        Public => true,
        _ => match scope {
            Scope::Role(Role::Admin) => true,
            Scope::Role(Role::Auditor) => matches!(
                permission,
                OwnAccount
                    | ListPlugins
                    | ReadAudit
                    | ExportAudit
                    | ReadMonitoring
                    | ConductReviews
                    | ScrapeMetrics
            ),
            Scope::Role(Role::Vendor) => {
                matches!(permission, OwnAccount | ListPlugins | ReadPluginLogs)
            }
            Scope::Role(Role::Viewer) => matches!(permission, OwnAccount | ListPlugins),
            Scope::Metrics => permission == ScrapeMetrics,
            Scope::Ingest => permission == PostEvents,
            _ => false,
        },
    }
}

/// Whether a route needs a fresh TOTP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// Never.
    No,
    /// Always (creating a token, exporting the audit).
    Always,
    /// When the change widens what a plugin may do or sets a secret: the action itself
    /// decides ([`crate::app::Admin`]), from whether the request stepped up.
    WhenWidening,
}

/// What the gate records for a route, besides what its handler records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audited {
    /// Nothing (its handler records its changes, or it reads nothing personal).
    No,
    /// Every request: a read of audit or personal data, as `api.read`.
    Read,
}

/// One route: where, what it needs, what is recorded, and what it does.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path template, as the router spells it (`/api/v1/plugins/{id}/grants`).
    pub path: &'static str,
    /// What it needs.
    pub permission: Permission,
    /// Whether it needs a fresh TOTP code.
    pub step_up: StepUp,
    /// What the gate records.
    pub audited: Audited,
    /// One line for people (and the OpenAPI document).
    pub summary: &'static str,
}

/// What the gate needs: the service, the break-glass and static metrics tokens, and the
/// route specs by method and path.
#[derive(Clone)]
pub(crate) struct Gate {
    state: AppState,
    break_glass: Option<Arc<str>>,
    metrics_token: Option<Arc<str>>,
    specs: Arc<HashMap<(Method, &'static str), RouteSpec>>,
}

impl Gate {
    pub(crate) fn new(state: AppState, break_glass: Option<&str>, specs: &[RouteSpec]) -> Gate {
        let metrics_token = state.airlock.metrics_token().map(Arc::from);
        Gate {
            state,
            break_glass: break_glass.filter(|t| !t.is_empty()).map(Arc::from),
            metrics_token,
            specs: Arc::new(
                specs
                    .iter()
                    .map(|s| ((s.method.clone(), s.path), s.clone()))
                    .collect(),
            ),
        }
    }
}

/// The credential of an `Authorization: Bearer <token>` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The peer's address (unspecified when the server did not say).
fn peer(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The peer's address, as an extractor.
pub(crate) struct Peer(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(&parts.extensions)))
    }
}

impl Gate {
    /// Who sent this credential.
    fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        if let Some(bg) = &self.break_glass
            && constant_time_eq(bg.as_bytes(), token.as_bytes())
        {
            return Ok(Principal::break_glass());
        }
        if let Some(m) = &self.metrics_token
            && constant_time_eq(m.as_bytes(), token.as_bytes())
        {
            return Ok(Principal {
                actor: "metrics-token".into(),
                scope: Scope::Metrics,
                vendor: None,
                via: crate::access::Via::Token("config".into()),
                setup_only: false,
            });
        }
        self.state
            .airlock
            .accounts()
            .authenticate(token)
            .map_err(ApiError::from)
    }
}

/// The gate: see the module documentation.
pub(crate) async fn gate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let Some(spec) = gate
        .specs
        .get(&(request.method().clone(), path.as_str()))
        .cloned()
    else {
        if gate.specs.keys().any(|(_, p)| *p == path) {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                format!(
                    "{path} does not take {}; see /api/v1/openapi.json",
                    request.method()
                ),
            )
            .into_response();
        }
        return ApiError::forbidden("this route has no permission declared, so nobody may call it")
            .into_response();
    };
    let address = peer(request.extensions());
    if spec.permission == Permission::Public {
        return next.run(request).await;
    }
    let Some(token) = bearer(request.headers()) else {
        return ApiError::unauthorized(
            "sign in (POST /api/v1/auth/login) and send the session as `Authorization: Bearer <session>`, or send a token",
        )
        .into_response();
    };
    let principal = match gate.principal(token) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut actor = Actor {
        principal,
        address: address.to_string(),
        stepped_up: false,
    };
    let refusal = if actor.principal.setup_only && spec.permission != Permission::OwnAccount {
        Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "setup-required",
            "finish account setup first: choose a password (POST /api/v1/auth/password) and enrol TOTP (POST /api/v1/auth/mfa/enrol, then /confirm)",
        ))
    } else if !allowed(actor.principal.scope, spec.permission) {
        Some(ApiError::forbidden(format!(
            "a credential of scope {} may not {} (this route needs `{}`)",
            actor.principal.scope,
            spec.summary.to_lowercase(),
            spec.permission.as_str()
        )))
    } else {
        step_up(&gate, &spec, &mut actor, request.headers()).err()
    };
    if let Some(refused) = refusal {
        let reason = refused.code();
        let recorded = record_request(&gate, &actor, &spec, Err(reason)).await;
        return recorded.err().unwrap_or(refused).into_response();
    }
    request.extensions_mut().insert(actor.clone());
    let response = next.run(request).await;
    // Reads of audit or personal data are recorded; so is every use of the break-glass
    // token (its changes are recorded by their handlers, like anyone's).
    let record = spec.audited == Audited::Read
        || (actor.principal.via == crate::access::Via::BreakGlass
            && !changes_record_themselves(&spec));
    if record {
        let outcome = match response.status().is_success() {
            true => Ok(()),
            false => Err("failed"),
        };
        if let Err(e) = record_request(&gate, &actor, &spec, outcome).await {
            return e.into_response();
        }
    }
    response
}

/// Routes whose handlers record each request through [`crate::app::Admin`] or the
/// account operations.
fn changes_record_themselves(spec: &RouteSpec) -> bool {
    spec.method != Method::GET && spec.permission != Permission::PostEvents
}

/// Checks the step-up a route asks for, marking the actor as stepped up when a code (or
/// a fresh session) proves it.
fn step_up(
    gate: &Gate,
    spec: &RouteSpec,
    actor: &mut Actor,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if spec.step_up == StepUp::No {
        return Ok(());
    }
    let code = headers.get(TOTP_HEADER).and_then(|v| v.to_str().ok());
    match gate
        .state
        .airlock
        .accounts()
        .step_up(&actor.principal, code)
    {
        Ok(()) => {
            actor.stepped_up = true;
            Ok(())
        }
        // A change that does not widen anything needs no code: the action decides.
        Err(AuthError::StepUpRequired(_))
            if spec.step_up == StepUp::WhenWidening && code.is_none() =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Records one request by its route (`api.read`, `auth.forbidden`, `auth.break-glass`).
async fn record_request(
    gate: &Gate,
    actor: &Actor,
    spec: &RouteSpec,
    outcome: Result<(), &'static str>,
) -> Result<(), ApiError> {
    let call = match (outcome, spec.audited) {
        (Err(_), _) => "auth.refused",
        (Ok(()), Audited::Read) => "api.read",
        (Ok(()), Audited::No) => "auth.break-glass",
    };
    let mut extra = BTreeMap::new();
    extra.insert(
        "route".to_string(),
        format!("{} {}", spec.method, spec.path),
    );
    extra.insert(
        "permission".to_string(),
        spec.permission.as_str().to_string(),
    );
    let airlock = gate.state.airlock.clone();
    let actor = actor.clone();
    super::error::blocking(move || airlock.record_by(&actor, call, "", outcome, extra)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_scopes_hold_exactly_their_one_permission() {
        use Permission::*;
        for p in Permission::ALL.into_iter().filter(|p| *p != Public) {
            assert_eq!(allowed(Scope::Metrics, p), p == ScrapeMetrics, "{p:?}");
            assert_eq!(allowed(Scope::Ingest, p), p == PostEvents, "{p:?}");
            assert!(allowed(Scope::Role(Role::Admin), p));
            assert!(
                !allowed(Scope::Role(Role::Auditor), p)
                    || !matches!(p, ChangeGrants | ChangePlugins | ChangeSettings),
            );
        }
    }
}
