//! Session and token secrets: made at random, shown once, kept only as SHA-256.
//!
//! A bearer credential reads `<id>.<secret>`: the id (`s-…` for a session, `t-…` for a
//! token) names it in the audit and in listings; the secret is 256 random bits.

use crate::account::{Credential, CredentialKind, Scope};
use sha2::{Digest, Sha256};

/// A credential just made, with the bearer text to hand out once.
pub struct Minted {
    /// What is stored.
    pub credential: Credential,
    /// `<id>.<secret>`: shown once, never stored.
    pub bearer: String,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("id", &self.credential.id)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 (hex) of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What a credential is made for.
pub struct Request<'a> {
    /// Session or token.
    pub kind: CredentialKind,
    /// Whose.
    pub user: &'a str,
    /// What it may do.
    pub scope: Scope,
    /// How long it lives.
    pub lifetime: time::Duration,
    /// A label for people.
    pub label: &'a str,
    /// The address it is made from.
    pub address: &'a str,
}

/// Makes a credential.
pub fn mint(request: Request<'_>) -> Minted {
    let prefix = match request.kind {
        CredentialKind::Session => "s",
        _ => "t",
    };
    let id = format!("{prefix}-{}", hex::encode(rand::random::<[u8; 8]>()));
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let now = time::OffsetDateTime::now_utc();
    let credential = Credential {
        id: id.clone(),
        kind: request.kind,
        user: request.user.to_string(),
        scope: request.scope,
        secret_sha256: digest(&secret),
        label: request.label.to_string(),
        created_at: super::rfc3339(now),
        expires_at: super::rfc3339(now + request.lifetime),
        revoked_at: None,
        mfa_at: None,
        setup_only: false,
        address: request.address.to_string(),
    };
    Minted {
        credential,
        bearer: format!("{id}.{secret}"),
    }
}

/// Splits a bearer credential into its id and secret, if it has that shape.
pub fn parse(bearer: &str) -> Option<(&str, &str)> {
    let (id, secret) = bearer.split_once('.')?;
    let well_formed = (id.starts_with("s-") || id.starts_with("t-"))
        && id.len() == 18
        && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && secret.len() == 64;
    well_formed.then_some((id, secret))
}

/// Whether `secret` hashes to the stored digest, compared in constant time.
pub fn matches(credential: &Credential, secret: &str) -> bool {
    constant_time_eq(
        digest(secret).as_bytes(),
        credential.secret_sha256.as_bytes(),
    )
}

/// Compares in time independent of where the inputs differ (their lengths aside).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Role;

    #[test]
    fn a_minted_bearer_parses_and_matches_only_its_own_hash() {
        let m = mint(Request {
            kind: CredentialKind::Token,
            user: "ada",
            scope: Scope::Role(Role::Viewer),
            lifetime: time::Duration::days(1),
            label: "ci",
            address: "127.0.0.1",
        });
        let (id, secret) = parse(&m.bearer).unwrap();
        assert_eq!(id, m.credential.id);
        assert!(matches(&m.credential, secret));
        // One character changed (whatever the random secret holds).
        let mut other: Vec<char> = secret.chars().collect();
        let last = other.len() - 1;
        other[last] = if other[last] == 'a' { 'b' } else { 'a' };
        let other: String = other.into_iter().collect();
        assert!(!matches(&m.credential, &other));
        assert!(!m.credential.secret_sha256.contains(secret));
        assert!(parse("t-zz.x").is_none());
        assert!(parse("nodot").is_none());
    }
}
