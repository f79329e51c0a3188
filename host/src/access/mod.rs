//! Who is calling, and may they: user accounts, sign-in with TOTP, sessions and tokens.
//!
//! [`Accounts`] is the one place credentials are checked. It answers:
//! - [`Accounts::login`]: a name, a password and (when enrolled) a TOTP or recovery code
//!   give a session. Failures count per account (a lockout after
//!   [`AccountPolicy::lockout_after`]) and per address (a rate limit);
//! - [`Accounts::authenticate`]: a bearer credential gives a [`Principal`];
//! - [`Accounts::step_up`]: a fresh TOTP code for actions that widen what a plugin may do.
//!
//! It records nothing itself: each outcome says what happened (an [`AuthError`] names
//! the reason), and the caller appends the audit record. Nothing here logs or returns a
//! password, TOTP secret or credential secret, except the one place each is handed out.

pub mod credential;
mod limiter;
pub mod password;
pub mod totp;

use crate::account::{Credential, CredentialKind, Role, Scope, User, valid_user_name};
use crate::egress::secrets::MasterKey;
use crate::store::{AccountStore, StoreError};
pub use credential::Minted;
use std::net::IpAddr;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How many recovery codes a user gets at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// Sign-in and credential rules (`[accounts]` in the config file).
#[derive(Debug, Clone)]
pub struct AccountPolicy {
    /// Admins and auditors must enrol TOTP before their session can do anything else.
    pub require_mfa: bool,
    /// How long a session lives.
    pub session_lifetime: Duration,
    /// Consecutive failed sign-ins that lock an account.
    pub lockout_after: u32,
    /// How long a locked account stays locked.
    pub lockout_for: Duration,
    /// Failed sign-ins one address may make per [`AccountPolicy::address_window`].
    pub address_failures: u32,
    /// The window the per-address limit counts over.
    pub address_window: std::time::Duration,
    /// A session's TOTP code counts as a step-up for this long.
    pub step_up_window: Duration,
    /// The longest a token may live.
    pub max_token_lifetime: Duration,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            require_mfa: true,
            session_lifetime: Duration::hours(12),
            lockout_after: 5,
            lockout_for: Duration::minutes(15),
            address_failures: 20,
            address_window: std::time::Duration::from_secs(600),
            step_up_window: Duration::minutes(5),
            max_token_lifetime: Duration::days(365),
        }
    }
}

/// Why a credential or request was refused. Messages say what to do, and never echo a
/// password, code or secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong name, password or code (which one is not said).
    #[error("wrong user name, password or code")]
    BadCredentials {
        /// For the audit: `unknown user`, `wrong password`, `wrong code`, `disabled`.
        reason: &'static str,
        /// The account this failure locked, when it did.
        locked: bool,
    },
    /// Too many failures: the account is locked for a while.
    #[error(
        "this account is locked after repeated failed sign-ins; try again after {until}, or ask an admin"
    )]
    Locked {
        /// When it unlocks (RFC 3339).
        until: String,
    },
    /// Too many failures from this address.
    #[error("too many failed sign-ins from this address; retry after {retry_after_secs} s")]
    RateLimited {
        /// When to retry.
        retry_after_secs: u32,
        /// Whether this refusal is the first of its window (the one worth recording).
        first: bool,
    },
    /// The password was right, but the account has TOTP: send `code` too.
    #[error("this account needs a TOTP code: send `code` (or a recovery code)")]
    MfaRequired,
    /// The action needs a fresh TOTP code.
    #[error("{0}")]
    StepUpRequired(String),
    /// No credential, or one that does not (or no longer) work.
    #[error("{0}")]
    Unauthenticated(String),
    /// The request is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// No such user or credential.
    #[error("{0}")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something failed inside the host.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Results of account operations.
pub type AuthResult<T> = Result<T, AuthError>;

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// A sign-in session, by id.
    Session(String),
    /// An automation token, by id.
    Token(String),
    /// The configured break-glass token (`admin_token`).
    BreakGlass,
    /// The `airlock` command line on the host, by the OS user running it.
    Cli(String),
    /// Nobody yet: a sign-in attempt.
    Anonymous,
}

impl Via {
    /// `session:<id>`, `token:<id>`, `break-glass` or `cli:<user>`.
    pub fn describe(&self) -> String {
        match self {
            Via::Session(id) => format!("session:{id}"),
            Via::Token(id) => format!("token:{id}"),
            Via::BreakGlass => "break-glass".into(),
            Via::Cli(user) => format!("cli:{user}"),
            Via::Anonymous => "anonymous".into(),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user name; `break-glass` or `cli` for those.
    pub actor: String,
    /// What the credential may do.
    pub scope: Scope,
    /// For vendor users: the vendor whose installations they see.
    pub vendor: Option<String>,
    /// How they proved it.
    pub via: Via,
    /// The session may only finish account setup.
    pub setup_only: bool,
}

impl Principal {
    /// The break-glass token's principal: an admin, recorded as `break-glass`.
    pub fn break_glass() -> Principal {
        Principal {
            actor: "break-glass".into(),
            scope: Scope::Role(Role::Admin),
            vendor: None,
            via: Via::BreakGlass,
            setup_only: false,
        }
    }

    /// The host's command line, run by `os_user`: an admin, recorded as `cli`.
    pub fn cli() -> Principal {
        let os_user = std::env::var("USER").unwrap_or_default();
        let os_user = if valid_user_name(&os_user) {
            os_user
        } else {
            "unknown".into()
        };
        Principal {
            actor: "cli".into(),
            scope: Scope::Role(Role::Admin),
            vendor: None,
            via: Via::Cli(os_user),
            setup_only: false,
        }
    }
}

/// A successful sign-in.
#[derive(Debug)]
pub struct Login {
    /// The session.
    pub session: Minted,
    /// Whether a recovery code was used (it is now spent).
    pub used_recovery_code: bool,
}

/// What TOTP enrolment hands the user, once.
#[derive(Debug)]
pub struct Enrolment {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` address, for a QR code.
    pub url: String,
}

/// User accounts and credentials over an [`AccountStore`].
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    key: MasterKey,
    policy: AccountPolicy,
    limiter: limiter::FailureLimiter,
}

/// What the TOTP secrets' key was derived for, from the master key, before it became a
/// data key of its own (`#totp`, wrapped by the master key).
pub const TOTP_KEY_PURPOSE: &str = "airlock account totp secrets v1";

impl Accounts {
    /// Accounts over `store`, sealing TOTP secrets under `totp_key`.
    pub fn new(
        store: Arc<dyn AccountStore>,
        totp_key: MasterKey,
        policy: AccountPolicy,
    ) -> Accounts {
        let limiter = limiter::FailureLimiter::new(policy.address_failures, policy.address_window);
        Accounts {
            store,
            key: totp_key,
            policy,
            limiter,
        }
    }

    /// The rules in force.
    pub fn policy(&self) -> &AccountPolicy {
        &self.policy
    }

    /// Creates a user with a one-time password, which is returned (and shown once). The
    /// first sign-in with it opens a setup session: choose a password, enrol TOTP.
    pub fn create_user(
        &self,
        name: &str,
        role: Role,
        vendor: Option<&str>,
    ) -> AuthResult<(User, String)> {
        if !valid_user_name(name) {
            return Err(AuthError::Invalid(
                "user names are 1-64 of [a-z0-9._-], starting with a letter or digit".into(),
            ));
        }
        let vendor = match (role, vendor) {
            (Role::Vendor, Some(v)) if !v.trim().is_empty() && v.len() <= 128 => {
                Some(v.to_string())
            }
            (Role::Vendor, _) => {
                return Err(AuthError::Invalid(
                    "a vendor user needs --vendor <name>, the `vendor` of its plugins' manifests"
                        .into(),
                ));
            }
            (_, Some(_)) => {
                return Err(AuthError::Invalid(
                    "--vendor is only for users of role vendor".into(),
                ));
            }
            (_, None) => None,
        };
        let one_time = password::generate();
        let user = User {
            name: name.to_string(),
            role,
            vendor,
            password_hash: password::hash(&one_time)?,
            password_expired: true,
            totp_sealed: None,
            totp_pending: None,
            totp_last_step: 0,
            recovery_codes: Vec::new(),
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            created_at: now_rfc3339(),
        };
        if !self.store.create_user(&user)? {
            return Err(AuthError::Invalid(format!(
                "a user named `{name}` exists already"
            )));
        }
        Ok((user, one_time))
    }

    /// One user, or `NotFound`.
    pub fn user(&self, name: &str) -> AuthResult<User> {
        self.store.user(name)?.ok_or_else(|| {
            AuthError::NotFound(format!("no user `{name}`; `airlock user list` shows them"))
        })
    }

    /// Every user.
    pub fn users(&self) -> AuthResult<Vec<User>> {
        Ok(self.store.users()?)
    }

    /// Changes a user atomically; `change` fails to leave them unchanged.
    fn update_user(
        &self,
        name: &str,
        mut change: impl FnMut(&mut User) -> AuthResult<()>,
    ) -> AuthResult<User> {
        let mut failed = None;
        let updated = self.store.update_user(name, &mut |u| match change(u) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        updated.ok_or_else(|| AuthError::NotFound(format!("no user `{name}`")))
    }

    /// Signs in. See the module documentation for what is counted and when.
    pub fn login(
        &self,
        name: &str,
        password_given: &str,
        code: Option<&str>,
        address: IpAddr,
    ) -> AuthResult<Login> {
        if let Some(retry_after_secs) = self.limiter.blocked(address) {
            return Err(AuthError::RateLimited {
                retry_after_secs,
                first: self.limiter.first_refusal(address),
            });
        }
        let outcome = self.check_login(name, password_given, code);
        if let Err(AuthError::BadCredentials { .. } | AuthError::Locked { .. }) = &outcome {
            self.limiter.fail(address);
        }
        let (user, used_recovery_code) = outcome?;
        let setup_only = user.password_expired || (self.mfa_required(user.role) && !user.has_mfa());
        let mut session = credential::mint(credential::Request {
            kind: CredentialKind::Session,
            user: &user.name,
            scope: Scope::Role(user.role),
            lifetime: self.policy.session_lifetime,
            label: "",
            address: &address.to_string(),
        });
        session.credential.setup_only = setup_only;
        session.credential.mfa_at = code.map(|_| now_rfc3339());
        self.store.put_credential(&session.credential)?;
        Ok(Login {
            session,
            used_recovery_code,
        })
    }

    /// Whether the policy makes this role enrol TOTP.
    pub fn mfa_required(&self, role: Role) -> bool {
        self.policy.require_mfa && matches!(role, Role::Admin | Role::Auditor)
    }

    /// Checks a sign-in against the account, counting failures and locking it.
    fn check_login(
        &self,
        name: &str,
        password_given: &str,
        code: Option<&str>,
    ) -> AuthResult<(User, bool)> {
        let Some(user) = self.store.user(name)?.filter(|_| valid_user_name(name)) else {
            password::verify_nothing(password_given);
            return Err(AuthError::BadCredentials {
                reason: "unknown user",
                locked: false,
            });
        };
        if user.disabled {
            password::verify_nothing(password_given);
            return Err(AuthError::BadCredentials {
                reason: "disabled",
                locked: false,
            });
        }
        if let Some(until) = user
            .locked_until
            .as_deref()
            .filter(|u| *u > now_rfc3339().as_str())
        {
            // No hash is checked while locked: a guess cannot even be tested.
            return Err(AuthError::Locked {
                until: until.to_string(),
            });
        }
        if !password::verify(&user.password_hash, password_given) {
            return Err(self.count_failure(&user.name, "wrong password"));
        }
        let Some(sealed) = user.totp_sealed.as_deref() else {
            return Ok((self.clear_failures(&user.name)?, false));
        };
        let Some(code) = code else {
            return Err(AuthError::MfaRequired);
        };
        let secret = self.open_totp(&user.name, sealed)?;
        let now = unix_now();
        let recovery = credential::digest(code.trim());
        let mut used_recovery = false;
        let mut accepted = false;
        let updated = self.update_user(&user.name, |u| {
            if let Some(step) = totp::accept(&secret, code, now, u.totp_last_step) {
                u.totp_last_step = step;
                accepted = true;
            } else if let Some(at) = u.recovery_codes.iter().position(|c| *c == recovery) {
                u.recovery_codes.remove(at);
                accepted = true;
                used_recovery = true;
            }
            if accepted {
                u.failed_logins = 0;
                u.locked_until = None;
            }
            Ok(())
        })?;
        if !accepted {
            return Err(self.count_failure(&user.name, "wrong code"));
        }
        Ok((updated, used_recovery))
    }

    /// Counts a failed sign-in, locking the account at the threshold.
    fn count_failure(&self, name: &str, reason: &'static str) -> AuthError {
        let mut locked = false;
        let after = self.policy.lockout_after.max(1);
        let lock_until = rfc3339(OffsetDateTime::now_utc() + self.policy.lockout_for);
        let result = self.update_user(name, |u| {
            u.failed_logins += 1;
            if u.failed_logins >= after {
                u.failed_logins = 0;
                u.locked_until = Some(lock_until.clone());
                locked = true;
            }
            Ok(())
        });
        match result {
            Ok(_) => AuthError::BadCredentials { reason, locked },
            Err(e) => e,
        }
    }

    fn clear_failures(&self, name: &str) -> AuthResult<User> {
        self.update_user(name, |u| {
            u.failed_logins = 0;
            u.locked_until = None;
            Ok(())
        })
    }

    /// The caller a bearer credential stands for.
    pub fn authenticate(&self, bearer: &str) -> AuthResult<Principal> {
        let refused = |why: &str| AuthError::Unauthenticated(why.to_string());
        let (id, secret) = credential::parse(bearer)
            .ok_or_else(|| refused("this is not an Airlock session or token"))?;
        let credential = self
            .store
            .credential(id)?
            .filter(|c| credential::matches(c, secret))
            .ok_or_else(|| refused("this session or token is not known"))?;
        if credential.revoked_at.is_some() {
            return Err(refused("this session or token was revoked"));
        }
        if credential.expires_at.as_str() <= now_rfc3339().as_str() {
            return Err(refused(
                "this session or token has expired; sign in again or make a new token",
            ));
        }
        let user = self
            .store
            .user(&credential.user)?
            .filter(|u| !u.disabled)
            .ok_or_else(|| refused("the user of this session or token is disabled"))?;
        // A user whose role was lowered loses what their older credentials could do.
        if !credential.scope.allowed_for(user.role) {
            return Err(refused(
                "this token's scope is above its user's role now; make a new one",
            ));
        }
        Ok(Principal {
            actor: user.name,
            scope: credential.scope,
            vendor: user.vendor,
            via: match credential.kind {
                CredentialKind::Session => Via::Session(credential.id),
                _ => Via::Token(credential.id),
            },
            setup_only: credential.setup_only,
        })
    }

    /// Checks a step-up: a session whose user gave a TOTP code in the last
    /// [`AccountPolicy::step_up_window`], or a fresh TOTP `code` now (consumed).
    pub fn step_up(&self, principal: &Principal, code: Option<&str>) -> AuthResult<()> {
        let needed = |why: &str| {
            AuthError::StepUpRequired(format!(
                "{why}: send a fresh TOTP code in the `X-Airlock-TOTP` header"
            ))
        };
        match &principal.via {
            Via::BreakGlass | Via::Cli(_) => return Ok(()),
            Via::Anonymous => return Err(needed("sign in first")),
            Via::Session(id) => {
                let fresh = rfc3339(OffsetDateTime::now_utc() - self.policy.step_up_window);
                let recent = self
                    .store
                    .credential(id)?
                    .and_then(|c| c.mfa_at)
                    .is_some_and(|at| at >= fresh);
                if recent && code.is_none() {
                    return Ok(());
                }
            }
            Via::Token(_) => {}
        }
        let Some(code) = code else {
            return Err(needed("this action needs multi-factor step-up"));
        };
        let user = self.user(&principal.actor)?;
        let Some(sealed) = user.totp_sealed.as_deref() else {
            return Err(needed(
                "this action needs TOTP, and this user has none enrolled; enrol at POST /api/v1/auth/mfa/enrol",
            ));
        };
        let secret = self.open_totp(&user.name, sealed)?;
        let now = unix_now();
        let mut accepted = false;
        self.update_user(&user.name, |u| {
            if let Some(step) = totp::accept(&secret, code, now, u.totp_last_step) {
                u.totp_last_step = step;
                accepted = true;
            }
            Ok(())
        })?;
        if !accepted {
            return Err(needed("the TOTP code is wrong, expired or already used"));
        }
        if let Via::Session(id) = &principal.via {
            self.touch_mfa(id)?;
        }
        Ok(())
    }

    fn touch_mfa(&self, session: &str) -> AuthResult<()> {
        let now = now_rfc3339();
        self.store.update_credential(session, &mut |c| {
            c.mfa_at = Some(now.clone());
            true
        })?;
        Ok(())
    }

    /// Starts TOTP enrolment: a new secret, pending until a code from it is confirmed.
    /// Re-enrolling a user who has TOTP needs an admin to reset it first.
    pub fn enrol_totp(&self, name: &str) -> AuthResult<Enrolment> {
        let secret = totp::new_secret();
        let sealed = self
            .key
            .seal(&totp_owner(name), "totp", &totp::encode(&secret))?;
        self.update_user(name, |u| {
            if u.has_mfa() {
                return Err(AuthError::Invalid(
                    "TOTP is enrolled already; an admin can reset it with `airlock user reset-mfa`"
                        .into(),
                ));
            }
            u.totp_pending = Some(sealed.clone());
            Ok(())
        })?;
        Ok(Enrolment {
            secret: totp::encode(&secret),
            url: totp::url(name, &secret),
        })
    }

    /// Confirms enrolment with a code from the pending secret, and returns the recovery
    /// codes (shown once). The session that confirmed counts as freshly stepped up, and
    /// leaves setup when nothing else is left to do.
    pub fn confirm_totp(&self, principal: &Principal, code: &str) -> AuthResult<Vec<String>> {
        let name = &principal.actor;
        let user = self.user(name)?;
        let pending = user.totp_pending.clone().ok_or_else(|| {
            AuthError::Invalid(
                "no TOTP enrolment is pending; start one with POST /api/v1/auth/mfa/enrol".into(),
            )
        })?;
        let secret = self.open_totp(name, &pending)?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| credential::digest(c)).collect();
        let now = unix_now();
        let user = self.update_user(name, |u| {
            let step = totp::accept(&secret, code, now, u.totp_last_step).ok_or_else(|| {
                AuthError::Invalid(
                    "the TOTP code does not match the secret being enrolled; check the app's clock"
                        .into(),
                )
            })?;
            u.totp_last_step = step;
            u.totp_sealed = u.totp_pending.take();
            u.recovery_codes = hashes.clone();
            Ok(())
        })?;
        if let Via::Session(id) = &principal.via {
            self.touch_mfa(id)?;
            self.leave_setup_if_done(id, &user)?;
        }
        Ok(codes)
    }

    /// Sets a new password (`current` must match, unless it was a one-time password
    /// being replaced in a setup session).
    pub fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> AuthResult<()> {
        password::check(new).map_err(AuthError::Invalid)?;
        let name = &principal.actor;
        let stored = self.user(name)?;
        if !password::verify(&stored.password_hash, current) {
            return Err(AuthError::Invalid("the current password is wrong".into()));
        }
        let hash = password::hash(new)?;
        let user = self.update_user(name, |u| {
            u.password_hash = hash.clone();
            u.password_expired = false;
            Ok(())
        })?;
        if let Via::Session(id) = &principal.via {
            self.leave_setup_if_done(id, &user)?;
        }
        Ok(())
    }

    fn leave_setup_if_done(&self, session: &str, user: &User) -> AuthResult<()> {
        if user.password_expired || (self.mfa_required(user.role) && !user.has_mfa()) {
            return Ok(());
        }
        self.store.update_credential(session, &mut |c| {
            let change = c.setup_only;
            c.setup_only = false;
            change
        })?;
        Ok(())
    }

    /// Makes an automation token for `user`, of a scope their role covers, living `days`.
    pub fn create_token(
        &self,
        user: &str,
        scope: Scope,
        days: u32,
        label: &str,
        address: &str,
    ) -> AuthResult<Minted> {
        let owner = self.user(user)?;
        if !scope.allowed_for(owner.role) {
            return Err(AuthError::Invalid(format!(
                "a {} may not hold a token of scope {scope}",
                owner.role
            )));
        }
        let lifetime = Duration::days(days.max(1) as i64);
        if lifetime > self.policy.max_token_lifetime {
            return Err(AuthError::Invalid(format!(
                "tokens live at most {} days",
                self.policy.max_token_lifetime.whole_days()
            )));
        }
        if label.len() > 64 || !label.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(AuthError::Invalid(
                "a token label is at most 64 printable ASCII characters".into(),
            ));
        }
        let minted = credential::mint(credential::Request {
            kind: CredentialKind::Token,
            user,
            scope,
            lifetime,
            label,
            address,
        });
        self.store.put_credential(&minted.credential)?;
        Ok(minted)
    }

    /// The credentials of one user, or of everyone.
    pub fn credentials(&self, user: Option<&str>) -> AuthResult<Vec<Credential>> {
        Ok(self.store.credentials(user)?)
    }

    /// One credential, or `NotFound`.
    pub fn credential(&self, id: &str) -> AuthResult<Credential> {
        self.store
            .credential(id)?
            .ok_or_else(|| AuthError::NotFound(format!("no session or token `{id}`")))
    }

    /// Revokes a session or token: it stops working at once.
    pub fn revoke(&self, id: &str) -> AuthResult<Credential> {
        let now = now_rfc3339();
        self.store
            .update_credential(id, &mut |c| {
                let change = c.revoked_at.is_none();
                c.revoked_at.get_or_insert_with(|| now.clone());
                change
            })?
            .ok_or_else(|| AuthError::NotFound(format!("no session or token `{id}`")))
    }

    /// Changes a user's role (and vendor); returns the role before.
    pub fn set_role(&self, name: &str, role: Role, vendor: Option<&str>) -> AuthResult<Role> {
        if (role == Role::Vendor) != vendor.is_some() {
            return Err(AuthError::Invalid(
                "a vendor user needs --vendor, and only vendor users have one".into(),
            ));
        }
        let mut before = role;
        self.update_user(name, |u| {
            before = u.role;
            u.role = role;
            u.vendor = vendor.map(str::to_string);
            Ok(())
        })?;
        Ok(before)
    }

    /// Disables or enables a user; a disabled user's credentials stop working.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> AuthResult<()> {
        self.update_user(name, |u| {
            u.disabled = disabled;
            Ok(())
        })?;
        Ok(())
    }

    /// Removes a user's TOTP (a lost phone), and issues a new one-time password: their
    /// next sign-in is a setup session again.
    pub fn reset_mfa(&self, name: &str) -> AuthResult<String> {
        let one_time = password::generate();
        let hash = password::hash(&one_time)?;
        self.update_user(name, |u| {
            u.totp_sealed = None;
            u.totp_pending = None;
            u.recovery_codes.clear();
            u.password_hash = hash.clone();
            u.password_expired = true;
            u.failed_logins = 0;
            u.locked_until = None;
            Ok(())
        })?;
        Ok(one_time)
    }

    fn open_totp(&self, name: &str, sealed: &str) -> AuthResult<Vec<u8>> {
        let encoded = self.key.open(&totp_owner(name), "totp", sealed)?;
        totp::decode(&encoded)
            .ok_or_else(|| AuthError::Internal(anyhow::anyhow!("a stored TOTP secret is corrupt")))
    }
}

/// Who a TOTP secret is sealed for (the associated data).
fn totp_owner(name: &str) -> String {
    format!("user:{name}")
}

/// A recovery code: `xxxxx-xxxxx` of an unambiguous alphabet (about 50 bits).
fn recovery_code() -> String {
    let p = password::generate();
    format!("{}-{}", &p[..5], &p[5..10])
}

fn unix_now() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// A time as the audit log spells it (sortable as text).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    crate::audit::rfc3339_millis(t.to_offset(time::UtcOffset::UTC))
}

fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}
