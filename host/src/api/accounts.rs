//! Sign-in, the caller's own account, tokens, and the admin's user management.
//!
//! | method | path | permission |
//! | --- | --- | --- |
//! | POST | `/api/v1/auth/login` | public: `{"user", "password", "code"?}` → a session |
//! | POST | `/api/v1/auth/logout` | self |
//! | GET | `/api/v1/auth/me` | self |
//! | POST | `/api/v1/auth/password` | self: `{"current", "new"}` |
//! | POST | `/api/v1/auth/mfa/enrol` | self: a TOTP secret and `otpauth://` address |
//! | POST | `/api/v1/auth/mfa/confirm` | self: `{"code"}` → recovery codes |
//! | GET, POST | `/api/v1/tokens` | self (POST needs step-up): `{"scope", "days", "label"}` |
//! | DELETE | `/api/v1/tokens/{id}` | self: one's own session or token |
//! | GET, POST | `/api/v1/users` | manage-users: `{"name", "role", "vendor"?}` |
//! | PUT | `/api/v1/users/{name}/role` | manage-users: `{"role", "vendor"?}` |
//! | POST | `/api/v1/users/{name}/disable`, `/enable` | manage-users |
//! | DELETE | `/api/v1/credentials/{id}` | manage-users: revoke anyone's |

use super::access::{Peer, Permission as P, StepUp};
use super::error::{ApiResult, blocking, blocking_auth};
use super::extract::ApiJson;
use super::{AppState, Route, route};
use crate::account::{Role, Scope};
use crate::app::{Actor, PublicCredential, PublicUser};
use axum::extract::{Path, State};
use axum::http::Method as M;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

/// The account routes.
pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            M::POST,
            "/api/v1/auth/login",
            P::Public,
            "Sign in",
            post(login),
        ),
        route(
            M::POST,
            "/api/v1/auth/logout",
            P::OwnAccount,
            "Sign out",
            post(logout),
        ),
        route(
            M::GET,
            "/api/v1/auth/me",
            P::OwnAccount,
            "Read who is signed in",
            get(me),
        ),
        route(
            M::POST,
            "/api/v1/auth/password",
            P::OwnAccount,
            "Change one's password",
            post(password),
        ),
        route(
            M::POST,
            "/api/v1/auth/mfa/enrol",
            P::OwnAccount,
            "Start TOTP enrolment",
            post(enrol),
        ),
        route(
            M::POST,
            "/api/v1/auth/mfa/confirm",
            P::OwnAccount,
            "Confirm TOTP enrolment",
            post(confirm),
        ),
        route(
            M::GET,
            "/api/v1/tokens",
            P::OwnAccount,
            "List one's sessions and tokens",
            get(own_tokens),
        ),
        route(
            M::POST,
            "/api/v1/tokens",
            P::OwnAccount,
            "Create a token",
            post(create_token),
        )
        .step_up(StepUp::Always),
        route(
            M::DELETE,
            "/api/v1/tokens/{id}",
            P::OwnAccount,
            "Revoke one's session or token",
            delete(revoke_own),
        ),
        route(
            M::GET,
            "/api/v1/users",
            P::ManageUsers,
            "List users",
            get(users),
        ),
        route(
            M::POST,
            "/api/v1/users",
            P::ManageUsers,
            "Create a user",
            post(create_user),
        ),
        route(
            M::PUT,
            "/api/v1/users/{name}/role",
            P::ManageUsers,
            "Change a user's role",
            put(set_role),
        ),
        route(
            M::POST,
            "/api/v1/users/{name}/disable",
            P::ManageUsers,
            "Disable a user",
            post(disable_user),
        ),
        route(
            M::POST,
            "/api/v1/users/{name}/enable",
            P::ManageUsers,
            "Enable a user",
            post(enable_user),
        ),
        route(
            M::DELETE,
            "/api/v1/credentials/{id}",
            P::ManageUsers,
            "Revoke anyone's session or token",
            delete(revoke_any),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    user: String,
    password: String,
    #[serde(default)]
    code: Option<String>,
}

async fn login(
    State(s): State<AppState>,
    Peer(address): Peer,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Value> {
    let login = blocking_auth(move || {
        s.airlock
            .login(&req.user, &req.password, req.code.as_deref(), address)
    })
    .await?;
    let c = &login.session.credential;
    Ok(Json(json!({
        "session": login.session.bearer,
        "id": c.id,
        "user": c.user,
        "scope": c.scope,
        "expires_at": c.expires_at,
        "setup_only": c.setup_only,
    })))
}

async fn logout(State(s): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult<Value> {
    blocking_auth(move || s.airlock.logout(&actor)).await?;
    Ok(Json(json!({"signed_out": true})))
}

async fn me(State(s): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult<Value> {
    let name = actor.principal.actor.clone();
    let user = blocking_auth(move || s.airlock.accounts().user(&name).map(Some)).await;
    let user = user.ok().flatten().map(PublicUser::from);
    Ok(Json(json!({
        "actor": actor.principal.actor,
        "scope": actor.principal.scope,
        "vendor": actor.principal.vendor,
        "via": actor.principal.via.describe(),
        "setup_only": actor.principal.setup_only,
        "user": user,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordRequest {
    current: String,
    new: String,
}

async fn password(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> ApiResult<Value> {
    blocking_auth(move || s.airlock.change_password(&actor, &req.current, &req.new)).await?;
    Ok(Json(json!({"changed": true})))
}

async fn enrol(State(s): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult<Value> {
    let e = blocking_auth(move || s.airlock.enrol_totp(&actor)).await?;
    Ok(Json(json!({
        "secret": e.secret,
        "otpauth_url": e.url,
        "next": "add it to an authenticator app, then POST /api/v1/auth/mfa/confirm with a code",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
}

async fn confirm(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Value> {
    let codes = blocking_auth(move || s.airlock.confirm_totp(&actor, &req.code)).await?;
    Ok(Json(json!({
        "recovery_codes": codes,
        "note": "each recovery code works once, in place of a TOTP code; store them offline",
    })))
}

async fn own_tokens(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Vec<PublicCredential>> {
    let name = actor.principal.actor.clone();
    let list = blocking_auth(move || s.airlock.accounts().credentials(Some(&name))).await?;
    Ok(Json(list.into_iter().map(PublicCredential::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    scope: String,
    #[serde(default = "default_days")]
    days: u32,
    #[serde(default)]
    label: String,
}

fn default_days() -> u32 {
    90
}

async fn create_token(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<Value> {
    let scope: Scope = req.scope.parse().map_err(super::ApiError::invalid)?;
    let minted = blocking_auth(move || {
        s.airlock
            .create_own_token(&actor, scope, req.days, &req.label)
    })
    .await?;
    Ok(Json(json!({
        "token": minted.bearer,
        "id": minted.credential.id,
        "scope": minted.credential.scope,
        "expires_at": minted.credential.expires_at,
        "note": "shown once: store it now",
    })))
}

async fn revoke_own(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicCredential> {
    let c = blocking_auth(move || s.airlock.revoke_own(&actor, &id)).await?;
    Ok(Json(c.into()))
}

async fn users(State(s): State<AppState>) -> ApiResult<Vec<PublicUser>> {
    let list = blocking_auth(move || s.airlock.accounts().users()).await?;
    Ok(Json(list.into_iter().map(PublicUser::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    name: String,
    role: String,
    #[serde(default)]
    vendor: Option<String>,
}

async fn create_user(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<UserRequest>,
) -> ApiResult<Value> {
    let role: Role = req.role.parse().map_err(super::ApiError::invalid)?;
    let (user, one_time) = blocking(move || {
        s.airlock
            .admin(&actor)
            .create_user(&req.name, role, req.vendor.as_deref())
    })
    .await?;
    Ok(Json(json!({
        "user": PublicUser::from(user),
        "one_time_password": one_time,
        "note": "works once: signing in with it opens a setup session (new password, then TOTP)",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRequest {
    role: String,
    #[serde(default)]
    vendor: Option<String>,
}

async fn set_role(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> ApiResult<Value> {
    let role: Role = req.role.parse().map_err(super::ApiError::invalid)?;
    blocking(move || {
        s.airlock
            .admin(&actor)
            .set_role(&name, role, req.vendor.as_deref())
    })
    .await?;
    Ok(Json(json!({"role": role})))
}

async fn disable_user(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<Value> {
    blocking(move || s.airlock.admin(&actor).set_user_disabled(&name, true)).await?;
    Ok(Json(json!({"disabled": true})))
}

async fn enable_user(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<Value> {
    blocking(move || s.airlock.admin(&actor).set_user_disabled(&name, false)).await?;
    Ok(Json(json!({"disabled": false})))
}

async fn revoke_any(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<PublicCredential> {
    let c = blocking(move || s.airlock.admin(&actor).revoke(&id)).await?;
    Ok(Json(c.into()))
}
