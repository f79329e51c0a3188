//! People's actions, audited: signing in and out, account setup, and the admin's user
//! and token changes. Each is one record in the audit chain (see [`super::admin`]),
//! naming the user, never a password, TOTP secret, code or credential secret.

use super::admin::{Actor, Admin};
use super::{Airlock, AppError, AppResult};
use crate::access::{AuthError, AuthResult, Enrolment, Login, Minted, Principal, Via};
use crate::account::{Credential, Role, Scope, User};
use std::collections::BTreeMap;
use std::net::IpAddr;

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> AppError {
        match e {
            AuthError::NotFound(m) => AppError::NotFound(m),
            AuthError::StepUpRequired(m) => AppError::StepUp(m),
            AuthError::Store(e) => AppError::Store(e),
            AuthError::Internal(e) => AppError::Internal(e),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

/// The reason an account error gives in a record: its kind, never its message.
fn refusal(e: &AuthError) -> &'static str {
    match e {
        AuthError::BadCredentials { reason, .. } => reason,
        AuthError::Locked { .. } => "locked",
        AuthError::RateLimited { .. } => "rate-limited",
        AuthError::MfaRequired => "mfa required",
        AuthError::StepUpRequired(_) => "step-up required",
        AuthError::Unauthenticated(_) => "unauthenticated",
        AuthError::Invalid(_) => "invalid",
        AuthError::NotFound(_) => "not found",
        AuthError::Store(_) | AuthError::Internal(_) => "failed",
    }
}

fn details(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl Airlock {
    /// Signs in, recording `auth.login`, `auth.login.failed` (with the reason),
    /// `auth.lockout` when this failure locked the account, and `auth.rate-limited` once
    /// per window. The attempted name is recorded only when it is a user's.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        code: Option<&str>,
        address: IpAddr,
    ) -> AuthResult<Login> {
        let outcome = self.accounts.login(name, password, code, address);
        let known = self.accounts.user(name).is_ok();
        let who = if known { name } else { "unknown" };
        let mut actor = Actor::anonymous(who, &address.to_string());
        let mut entries = Vec::new();
        match &outcome {
            Ok(login) => {
                actor.principal.via = Via::Session(login.session.credential.id.clone());
                let extra = details(&[
                    (
                        "setup_only",
                        login.session.credential.setup_only.to_string(),
                    ),
                    ("mfa", code.is_some().to_string()),
                    ("recovery_code", login.used_recovery_code.to_string()),
                ]);
                entries.push(super::host_entry(&actor, "auth.login", who, Ok(()), extra));
            }
            Err(AuthError::RateLimited { first: false, .. }) | Err(AuthError::MfaRequired) => {}
            Err(e) => {
                let call = match e {
                    AuthError::RateLimited { .. } => "auth.rate-limited",
                    AuthError::BadCredentials {
                        reason: "wrong code",
                        ..
                    } => "auth.mfa.failed",
                    _ => "auth.login.failed",
                };
                entries.push(super::host_entry(
                    &actor,
                    call,
                    who,
                    Err(refusal(e)),
                    BTreeMap::new(),
                ));
                if let AuthError::BadCredentials { locked: true, .. } = e {
                    let until = self.accounts.user(name).ok().and_then(|u| u.locked_until);
                    let extra = details(&[("until", until.unwrap_or_default())]);
                    entries.push(super::host_entry(
                        &actor,
                        "auth.lockout",
                        who,
                        Ok(()),
                        extra,
                    ));
                }
            }
        }
        if !entries.is_empty() {
            self.record(entries).map_err(app_to_auth)?;
        }
        outcome
    }

    /// Records a self-service action's outcome and passes it on.
    fn record_own<T>(
        &self,
        actor: &Actor,
        call: &str,
        outcome: AuthResult<T>,
        extra: BTreeMap<String, String>,
    ) -> AuthResult<T> {
        let target = actor.principal.actor.clone();
        let result = match &outcome {
            Ok(_) => Ok(()),
            Err(e) => Err(refusal(e)),
        };
        let extra = if result.is_ok() {
            extra
        } else {
            BTreeMap::new()
        };
        self.record_by(actor, call, &target, result, extra)
            .map_err(app_to_auth)?;
        outcome
    }

    /// Signs out: revokes the session, recording `auth.logout`.
    pub fn logout(&self, actor: &Actor) -> AuthResult<()> {
        let outcome = match &actor.principal.via {
            Via::Session(id) => self.accounts.revoke(id).map(|_| ()),
            _ => Err(AuthError::Invalid(
                "only a session can sign out; revoke a token with DELETE /api/v1/tokens/{id}"
                    .into(),
            )),
        };
        self.record_own(actor, "auth.logout", outcome, BTreeMap::new())
    }

    /// Starts TOTP enrolment, recording `auth.mfa.enrol` (not the secret).
    pub fn enrol_totp(&self, actor: &Actor) -> AuthResult<Enrolment> {
        let outcome = self.accounts.enrol_totp(&actor.principal.actor);
        self.record_own(actor, "auth.mfa.enrol", outcome, BTreeMap::new())
    }

    /// Confirms TOTP enrolment, recording `auth.mfa.confirm` (not the codes).
    pub fn confirm_totp(&self, actor: &Actor, code: &str) -> AuthResult<Vec<String>> {
        let outcome = self.accounts.confirm_totp(&actor.principal, code);
        self.record_own(actor, "auth.mfa.confirm", outcome, BTreeMap::new())
    }

    /// Changes the caller's password, recording `auth.password.change`.
    pub fn change_password(&self, actor: &Actor, current: &str, new: &str) -> AuthResult<()> {
        let outcome = self
            .accounts
            .change_password(&actor.principal, current, new);
        self.record_own(actor, "auth.password.change", outcome, BTreeMap::new())
    }

    /// Makes a token for the caller, recording `token.create` with its id and scope.
    pub fn create_own_token(
        &self,
        actor: &Actor,
        scope: Scope,
        days: u32,
        label: &str,
    ) -> AuthResult<Minted> {
        let outcome =
            self.accounts
                .create_token(&actor.principal.actor, scope, days, label, &actor.address);
        let extra = match &outcome {
            Ok(m) => details(&[
                ("token", m.credential.id.clone()),
                ("token_scope", scope.as_str().into()),
                ("expires_at", m.credential.expires_at.clone()),
            ]),
            Err(_) => BTreeMap::new(),
        };
        self.record_own(actor, "token.create", outcome, extra)
    }

    /// Revokes one of the caller's own sessions or tokens, recording `token.revoke`.
    pub fn revoke_own(&self, actor: &Actor, id: &str) -> AuthResult<Credential> {
        let outcome = self.accounts.credential(id).and_then(|c| {
            if c.user != actor.principal.actor {
                // Someone else's: reported as unknown, so ids cannot be probed.
                return Err(AuthError::NotFound(format!(
                    "you hold no session or token `{id}`"
                )));
            }
            self.accounts.revoke(id)
        });
        let extra = details(&[("token", recordable(id).to_string())]);
        self.record_own(actor, "token.revoke", outcome, extra)
    }
}

/// A caller-supplied user name or credential id as a record may hold it: itself when
/// it has that shape (both are `[a-z0-9._-]`), nothing otherwise.
fn recordable(name: &str) -> &str {
    if crate::account::valid_user_name(name) {
        name
    } else {
        ""
    }
}

fn app_to_auth(e: AppError) -> AuthError {
    match e {
        AppError::Store(e) => AuthError::Store(e),
        other => AuthError::Internal(anyhow::anyhow!("{other}")),
    }
}

/// A user as listed: no hashes, secrets or codes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicUser {
    /// The name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The vendor, for vendor users.
    pub vendor: Option<String>,
    /// Whether TOTP is enrolled.
    pub mfa: bool,
    /// How many recovery codes are left.
    pub recovery_codes_left: usize,
    /// Whether they must still choose a password.
    pub password_expired: bool,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Locked until, after failed sign-ins.
    pub locked_until: Option<String>,
    /// When it was created.
    pub created_at: String,
}

impl From<User> for PublicUser {
    fn from(u: User) -> PublicUser {
        PublicUser {
            mfa: u.has_mfa(),
            recovery_codes_left: u.recovery_codes.len(),
            name: u.name,
            role: u.role,
            vendor: u.vendor,
            password_expired: u.password_expired,
            disabled: u.disabled,
            locked_until: u.locked_until,
            created_at: u.created_at,
        }
    }
}

/// A session or token as listed: no secret or hash.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicCredential {
    /// Its id.
    pub id: String,
    /// `session` or `token`.
    pub kind: crate::account::CredentialKind,
    /// Whose.
    pub user: String,
    /// What it may do.
    pub scope: Scope,
    /// Its label.
    pub label: String,
    /// When made.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: String,
    /// When revoked.
    pub revoked_at: Option<String>,
    /// Where it was made from.
    pub address: String,
}

impl From<Credential> for PublicCredential {
    fn from(c: Credential) -> PublicCredential {
        PublicCredential {
            id: c.id,
            kind: c.kind,
            user: c.user,
            scope: c.scope,
            label: c.label,
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
            address: c.address,
        }
    }
}

impl Admin<'_> {
    /// Runs an account change by this admin, once this process may record it, records
    /// it about `target` (given its outcome), and passes the outcome on.
    fn people<T>(
        &self,
        call: &str,
        target: impl FnOnce(&AuthResult<T>) -> String,
        action: impl FnOnce() -> AuthResult<T>,
        extra: impl FnOnce(&T) -> BTreeMap<String, String>,
    ) -> AppResult<T> {
        self.ensure_recordable()?;
        let outcome = action();
        let target = target(&outcome);
        let (result, extra) = match &outcome {
            Ok(v) => (Ok(()), extra(v)),
            Err(e) => (Err(refusal(e)), BTreeMap::new()),
        };
        let target = recordable(&target);
        self.airlock
            .record_by(self.actor, call, target, result, extra)?;
        Ok(outcome?)
    }

    /// Creates a user with a one-time password, recording `user.create`.
    pub fn create_user(
        &self,
        name: &str,
        role: Role,
        vendor: Option<&str>,
    ) -> AppResult<(User, String)> {
        let target = |_: &_| match crate::account::valid_user_name(name) {
            true => name.to_string(),
            false => String::new(),
        };
        let create = || self.airlock.accounts.create_user(name, role, vendor);
        self.people("user.create", target, create, |(u, _)| {
            details(&[
                ("role", u.role.as_str().into()),
                ("vendor", u.vendor.clone().unwrap_or_default()),
            ])
        })
    }

    /// Changes a user's role, recording `user.role` with the role before and after.
    pub fn set_role(&self, name: &str, role: Role, vendor: Option<&str>) -> AppResult<()> {
        let change = || self.airlock.accounts.set_role(name, role, vendor);
        self.people(
            "user.role",
            |_| name.into(),
            change,
            |before| {
                details(&[
                    ("role.before", before.as_str().into()),
                    ("role.after", role.as_str().into()),
                ])
            },
        )?;
        Ok(())
    }

    /// Disables or enables a user, recording `user.disable` or `user.enable`.
    pub fn set_user_disabled(&self, name: &str, disabled: bool) -> AppResult<()> {
        let call = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        let change = || self.airlock.accounts.set_disabled(name, disabled);
        self.people(call, |_| name.into(), change, |_| BTreeMap::new())
    }

    /// Resets a user's TOTP with a new one-time password, recording `user.reset-mfa`.
    pub fn reset_mfa(&self, name: &str) -> AppResult<String> {
        let reset = || self.airlock.accounts.reset_mfa(name);
        self.people(
            "user.reset-mfa",
            |_| name.into(),
            reset,
            |_| BTreeMap::new(),
        )
    }

    /// Makes a token for any user, recording `token.create`.
    pub fn create_token(
        &self,
        user: &str,
        scope: Scope,
        days: u32,
        label: &str,
    ) -> AppResult<Minted> {
        let create = || {
            self.airlock
                .accounts
                .create_token(user, scope, days, label, &self.actor.address)
        };
        self.people(
            "token.create",
            |_| user.into(),
            create,
            |m| {
                details(&[
                    ("token", m.credential.id.clone()),
                    ("token_scope", scope.as_str().into()),
                    ("expires_at", m.credential.expires_at.clone()),
                ])
            },
        )
    }

    /// Revokes anyone's session or token, recording `token.revoke`.
    pub fn revoke(&self, id: &str) -> AppResult<Credential> {
        let target =
            |o: &AuthResult<Credential>| o.as_ref().map(|c| c.user.clone()).unwrap_or_default();
        let revoke = || self.airlock.accounts.revoke(id);
        self.people("token.revoke", target, revoke, |c| {
            details(&[("token", c.id.clone())])
        })
    }
}

impl Actor {
    /// Someone not signed in (a sign-in attempt), named `who`.
    pub fn anonymous(who: &str, address: &str) -> Actor {
        Actor {
            principal: Principal {
                actor: who.to_string(),
                scope: Scope::Role(Role::Viewer),
                vendor: None,
                via: Via::Anonymous,
                setup_only: true,
            },
            address: address.to_string(),
            stepped_up: false,
        }
    }
}
