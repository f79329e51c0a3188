//! Time-based one-time passwords (RFC 6238): HMAC-SHA1, six digits, 30-second steps, a
//! code accepted one step either side of now, and never twice.

use super::credential::constant_time_eq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;

/// A new random secret (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    rand::random::<[u8; 20]>().to_vec()
}

/// The secret in base32, as authenticator apps take it.
pub fn encode(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The secret from its base32 form.
pub fn decode(encoded: &str) -> Option<Vec<u8>> {
    Secret::Encoded(encoded.to_string()).to_bytes().ok()
}

/// The `otpauth://` address an authenticator app scans.
pub fn url(user: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/Airlock:{user}?secret={}&issuer=Airlock&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        encode(secret)
    )
}

fn totp(secret: &[u8], digits: usize) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, digits, 0, STEP, secret.to_vec()).ok()
}

/// The code for the step holding `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp(secret, DIGITS)
        .map(|t| t.generate(unix_secs))
        .unwrap_or_default()
}

/// The step `code` belongs to, if it is the code of the step holding `now` or of one
/// step either side (clock skew), and that step is later than `last_step` (a code
/// already used, or one older than it, is a replay).
pub fn accept(secret: &[u8], code: &str, now: u64, last_step: u64) -> Option<u64> {
    let totp = totp(secret, DIGITS)?;
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP;
    // Every candidate is computed and compared in constant time, so timing does not say
    // which step matched.
    let mut matched = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && step > last_step {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn matches_the_vectors_of_rfc_6238_appendix_b() {
        let t = totp(RFC_SECRET, 8).unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "time {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_only_once() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        let step = accept(&secret, &code, now, 0).unwrap();
        assert_eq!(step, now / STEP);
        assert_eq!(accept(&secret, &code, now, step), None, "a replay");
        // Clock skew: the server a step behind, or a step ahead, still accepts it.
        assert!(accept(&secret, &code, now - STEP, 0).is_some());
        assert!(accept(&secret, &code, now + STEP, 0).is_some());
        assert_eq!(accept(&secret, &code, now + 2 * STEP, 0), None);
        assert_eq!(accept(&secret, &code, now - 2 * STEP, 0), None);
        assert_eq!(accept(&secret, "12345", now, 0), None);
        assert_eq!(accept(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let secret = new_secret();
        assert_eq!(decode(&encode(&secret)).unwrap(), secret);
        assert!(url("ada", &secret).starts_with("otpauth://totp/Airlock:ada?secret="));
    }
}
