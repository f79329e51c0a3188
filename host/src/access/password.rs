//! Passwords: argon2id hashes in PHC format, and generated one-time passwords.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// The argon2id hash of `password` with a fresh salt (argon2's default cost: 19 MiB,
/// two passes, one lane, as OWASP recommends).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))?
        .to_string())
}

/// Whether `password` matches a stored hash. A hash that does not parse matches nothing.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Spends the time a real check would, for a user who does not exist: an attacker
/// cannot tell unknown names from wrong passwords by timing.
pub fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash("airlock-no-such-user").unwrap_or_default());
    let _ = verify(&DUMMY, password);
}

/// Why a new password is refused, if it is.
pub fn check(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!(
            "the password is too short: use at least {MIN_LENGTH} characters"
        ));
    }
    Ok(())
}

/// A random password to hand out once: 20 characters of an unambiguous alphabet (about
/// 100 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_and_matches_only_its_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse batterY"));
        assert!(!verify("not a hash", "anything"));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn generated_passwords_pass_the_check() {
        let p = generate();
        assert_eq!(p.len(), 20);
        assert!(check(&p).is_ok());
        assert!(check("short").is_err());
    }
}
