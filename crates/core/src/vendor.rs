//! Vendors: who ships plugins, the signing keys pinned to them, a contact, and their
//! last security review.
//!
//! A vendor's record is made when an admin first trusts one of its keys (installing
//! its first signed bundle). Every later version must be signed by a pinned key, or by a
//! key a pinned key endorsed, which is then pinned too.

use serde::{Deserialize, Serialize};

/// The longest vendor name, contact and review note accepted.
pub const MAX_TEXT: usize = 500;

/// A vendor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    /// The name its manifests give (`vendor = "..."`).
    pub name: String,
    /// Its pinned signing keys, oldest first.
    pub keys: Vec<PinnedKey>,
    /// Whom to contact about security (an address or URL an admin entered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Its last security review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_review: Option<SecurityReview>,
}

/// A signing key pinned to a vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedKey {
    /// The ed25519 public key, hex.
    pub public_key: String,
    /// Its fingerprint (`ed25519:…`), as admins confirm it.
    pub fingerprint: String,
    /// When it was pinned (RFC 3339).
    pub pinned_at: String,
    /// Who pinned it.
    pub pinned_by: String,
    /// The fingerprint of the pinned key that endorsed it (a rotation); `None` when an
    /// admin confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsed_by: Option<String>,
}

/// A recorded security review of a vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityReview {
    /// The day of the review (`YYYY-MM-DD`).
    pub date: String,
    /// The reviewer's notes.
    pub notes: String,
    /// Who recorded it.
    pub by: String,
}

/// Checks free text an admin gave (a contact, review notes): at most [`MAX_TEXT`]
/// characters, no control characters but newlines.
///
/// ```
/// assert!(airlock_core::vendor::check_text("notes", "pen test passed").is_ok());
/// assert!(airlock_core::vendor::check_text("notes", "bell\u{7}").is_err());
/// ```
pub fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_TEXT {
        return Err(format!("{what} is longer than {MAX_TEXT} characters"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{what} holds control characters"));
    }
    Ok(())
}

/// Checks a review date: `YYYY-MM-DD`.
///
/// ```
/// assert!(airlock_core::vendor::check_date("2026-11-30").is_ok());
/// assert!(airlock_core::vendor::check_date("30/11/2026").is_err());
/// ```
pub fn check_date(date: &str) -> Result<(), String> {
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let month = date
        .get(5..7)
        .and_then(|m| m.parse::<u8>().ok())
        .unwrap_or(0);
    let day = date
        .get(8..10)
        .and_then(|d| d.parse::<u8>().ok())
        .unwrap_or(0);
    if !shaped || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(format!(
            "the review date must be YYYY-MM-DD, not `{}`",
            date.escape_debug()
        ));
    }
    Ok(())
}

impl Vendor {
    /// The pinned public keys, hex.
    pub fn public_keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.public_key.as_str())
    }
}
