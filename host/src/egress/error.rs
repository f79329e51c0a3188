//! Why egress refused or failed a request. The HTTP capability turns it into the
//! broker's call error; egress itself knows nothing of the broker.

use std::fmt;

/// Why a request did not go out, or did not come back. Messages name declared
/// destinations, fields and limits, never a URL, header or body the plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EgressError {
    /// The installation's rules or grants do not allow the request.
    Denied(String),
    /// The request is malformed.
    Invalid(String),
    /// A size, rate, time or tracking limit was reached.
    Limit(String),
    /// The destination could not be resolved or reached.
    Unavailable(String),
}

impl EgressError {
    /// A short code: `denied`, `invalid`, `limit`, `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            EgressError::Denied(_) => "denied",
            EgressError::Invalid(_) => "invalid",
            EgressError::Limit(_) => "limit",
            EgressError::Unavailable(_) => "unavailable",
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        match self {
            EgressError::Denied(m)
            | EgressError::Invalid(m)
            | EgressError::Limit(m)
            | EgressError::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for EgressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for EgressError {}
