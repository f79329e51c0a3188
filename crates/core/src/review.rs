//! Access reviews: a point-in-time list of every grant of every installation, each
//! decided by a reviewer (keep, revoke or defer with a reason), closed by a sign-off.
//!
//! A review is opened with the grants as they stand and how recently each was used; the
//! host applies a revocation when it is decided, and records every decision and the
//! sign-off in the audit chain. At most one review is open at a time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of grant an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GrantKind {
    /// A field the installation may read.
    Read,
    /// A field the installation may write.
    Write,
    /// A destination the installation may send requests to.
    Egress,
    /// A data class the installation may see unmasked.
    Reveal,
}

impl GrantKind {
    /// The kind's name, as in `grants` (`read`, `write`, `egress`, `reveal`).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Read => "read",
            GrantKind::Write => "write",
            GrantKind::Egress => "egress",
            GrantKind::Reveal => "reveal",
        }
    }
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reviewer's decision on one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// The grant stays.
    Keep,
    /// The grant is taken away (the host applies it when decided).
    Revoke,
    /// Decided later; a reason is required.
    Defer,
}

impl Outcome {
    /// The outcome's name: `keep`, `revoke` or `defer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Keep => "keep",
            Outcome::Revoke => "revoke",
            Outcome::Defer => "defer",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;

    /// Parses `keep`, `revoke` or `defer`.
    ///
    /// ```
    /// use airlock_core::review::Outcome;
    /// assert_eq!("revoke".parse::<Outcome>(), Ok(Outcome::Revoke));
    /// assert!("maybe".parse::<Outcome>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Outcome, String> {
        match text {
            "keep" => Ok(Outcome::Keep),
            "revoke" => Ok(Outcome::Revoke),
            "defer" => Ok(Outcome::Defer),
            _ => Err("a decision is `keep`, `revoke` or `defer`".into()),
        }
    }
}

/// One decision, by whom and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What was decided.
    pub outcome: Outcome,
    /// Why (required to defer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reviewer (user name, or `cli:<user>`).
    pub by: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// One grant under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// The item's number within its review, from 1.
    pub item: u32,
    /// The installation holding the grant.
    pub installation: String,
    /// Its plugin.
    pub plugin: String,
    /// Its plugin's vendor.
    pub vendor: String,
    /// The kind of grant.
    pub kind: GrantKind,
    /// What is granted: a field path, a destination or a data class.
    pub grant: String,
    /// When the audit log last shows the grant used, within the review's window; `None`
    /// when unused in the window (or, for `reveal`, when use is not recorded per class).
    pub last_used: Option<String>,
    /// Whether the log records use of this kind of grant (`reveal` is not recorded per
    /// class): an unused grant with `usage_recorded` is a candidate to revoke.
    pub usage_recorded: bool,
    /// The decision, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// The sign-off that closes a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// Who signed off.
    pub by: String,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// A note, if the reviewer left one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An access review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReview {
    /// Its id, assigned by the store (increasing).
    pub id: u64,
    /// When it was opened.
    pub opened_at: String,
    /// Who opened it.
    pub opened_by: String,
    /// The usage window, in days: `last_used` looks this far back.
    pub window_days: u32,
    /// Every grant of every installation when it was opened.
    pub items: Vec<ReviewItem>,
    /// The sign-off; `None` while the review is open.
    #[serde(default)]
    pub signed_off: Option<SignOff>,
}

impl AccessReview {
    /// Whether the review is still open.
    pub fn is_open(&self) -> bool {
        self.signed_off.is_none()
    }

    /// Items with no decision yet.
    pub fn undecided(&self) -> usize {
        self.items.iter().filter(|i| i.decision.is_none()).count()
    }

    /// How many items were decided `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.items
            .iter()
            .filter(|i| i.decision.as_ref().is_some_and(|d| d.outcome == outcome))
            .count()
    }
}

/// The longest reason or note a reviewer may write, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Checks a reviewer's reason or note: non-empty, at most [`MAX_NOTE_CHARS`]
/// characters, no control characters (it goes into the audit log and onto terminals).
///
/// ```
/// use airlock_core::review::check_note;
/// assert!(check_note("waiting for the vendor's answer").is_ok());
/// assert!(check_note("").is_err());
/// assert!(check_note("line\u{1b}[2J").is_err());
/// ```
pub fn check_note(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("it is empty".into());
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(format!("it is longer than {MAX_NOTE_CHARS} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("it holds control characters".into());
    }
    Ok(())
}
