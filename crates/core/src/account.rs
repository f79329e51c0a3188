//! People and automation: user accounts, their roles, and the credentials (sessions and
//! tokens) they act with.
//!
//! This module holds only the vocabulary and what is stored. Password hashing, TOTP and
//! the authorization layer live in the host; a credential's secret is never stored, only
//! its SHA-256.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a person may do. One authorization layer maps each route to the roles allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// Everything.
    Admin,
    /// Reads the audit, exports, proofs, reviews, alerts, activity and the data map; no
    /// changes to plugins, grants or settings.
    Auditor,
    /// Tied to one vendor name: sees only that vendor's installations.
    Vendor,
    /// Read-only listing of plugins and grants.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Auditor, Role::Vendor, Role::Viewer];

    /// `admin`, `auditor`, `vendor` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Vendor => "vendor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether everything `other` may do, this role may do too (a token's scope must be
    /// covered by its user's role). Admin covers every role; auditor covers viewer.
    ///
    /// ```
    /// use airlock_core::account::Role;
    /// assert!(Role::Admin.covers(Role::Vendor));
    /// assert!(Role::Auditor.covers(Role::Viewer));
    /// assert!(!Role::Viewer.covers(Role::Auditor));
    /// assert!(!Role::Vendor.covers(Role::Viewer));
    /// ```
    pub fn covers(self, other: Role) -> bool {
        self == other || self == Role::Admin || (self == Role::Auditor && other == Role::Viewer)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("no role `{s}`: roles are admin, auditor, vendor and viewer"))
    }
}

/// What a credential may be used for: a role's routes, or one machine job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Scope {
    /// Everything the role may do.
    Role(Role),
    /// Only `GET /metrics` (a Prometheus scraper).
    Metrics,
    /// Only `POST /api/v1/events` (the helpdesk sending events).
    Ingest,
}

impl Scope {
    /// `admin` … `viewer`, `metrics` or `ingest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Role(r) => r.as_str(),
            Scope::Metrics => "metrics",
            Scope::Ingest => "ingest",
        }
    }

    /// Whether a user of `role` may hold a credential of this scope: a role no higher
    /// than their own; metrics for admins and auditors; ingest for admins.
    pub fn allowed_for(self, role: Role) -> bool {
        match self {
            Scope::Role(r) => role.covers(r),
            Scope::Metrics => matches!(role, Role::Admin | Role::Auditor),
            Scope::Ingest => role == Role::Admin,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "metrics" => Ok(Scope::Metrics),
            "ingest" => Ok(Scope::Ingest),
            role => role.parse().map(Scope::Role).map_err(|_| {
                format!(
                    "no scope `{s}`: scopes are admin, auditor, vendor, viewer, metrics and ingest"
                )
            }),
        }
    }
}

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The sign-in name: 1-64 of `[a-z0-9._-]`.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// For `vendor`: the vendor name whose installations they see (a manifest's `vendor`).
    #[serde(default)]
    pub vendor: Option<String>,
    /// The argon2id hash of the password, in PHC string format.
    pub password_hash: String,
    /// The password was issued by an admin and works once: it only opens a setup session
    /// that must choose a new password.
    #[serde(default)]
    pub password_expired: bool,
    /// The TOTP secret, sealed with the master key, once enrolment is confirmed.
    #[serde(default)]
    pub totp_sealed: Option<String>,
    /// A TOTP secret offered at enrolment, sealed, until a code from it is confirmed.
    #[serde(default)]
    pub totp_pending: Option<String>,
    /// The last TOTP time step accepted: a code of this step or earlier is a replay.
    #[serde(default)]
    pub totp_last_step: u64,
    /// SHA-256 (hex) of each unused recovery code.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// Failed sign-ins since the last success.
    #[serde(default)]
    pub failed_logins: u32,
    /// No sign-in is accepted before this RFC 3339 time.
    #[serde(default)]
    pub locked_until: Option<String>,
    /// A disabled account cannot sign in, and its credentials stop working.
    #[serde(default)]
    pub disabled: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl User {
    /// Whether a TOTP secret is enrolled.
    pub fn has_mfa(&self) -> bool {
        self.totp_sealed.is_some()
    }
}

/// Whether a credential is a sign-in session or a token for automation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CredentialKind {
    /// Made by signing in; short-lived.
    Session,
    /// Made by `airlock token create` or `POST /api/v1/tokens`; lives until its expiry.
    Token,
}

/// A session or token. The secret is shown once, when made; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The public part of the credential, which names it in the audit: `s-…` or `t-…`.
    pub id: String,
    /// Session or token.
    pub kind: CredentialKind,
    /// The user it acts for.
    pub user: String,
    /// What it may do (never more than the user's role).
    pub scope: Scope,
    /// SHA-256 (hex) of the secret part.
    pub secret_sha256: String,
    /// A label for people ("ci deploys"), host-validated.
    #[serde(default)]
    pub label: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// When it was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// For sessions: the last time its user gave a TOTP code (step-up is fresh for a few
    /// minutes after).
    #[serde(default)]
    pub mfa_at: Option<String>,
    /// For sessions: it may only finish account setup (a new password, TOTP enrolment).
    #[serde(default)]
    pub setup_only: bool,
    /// The address it was made from.
    #[serde(default)]
    pub address: String,
}

/// Whether `name` is a valid user name: 1-64 of `[a-z0-9._-]`, starting with a letter or
/// digit.
///
/// ```
/// use airlock_core::account::valid_user_name;
/// assert!(valid_user_name("ada.l"));
/// assert!(!valid_user_name("Ada"));
/// assert!(!valid_user_name("-x"));
/// ```
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}
