//! The SDK's error type.

use core::fmt;

use crate::bindings::airlock::plugin::types::Error as WitError;

/// Why a call (or a plugin run) failed; mirrors the contract's `error` variant.
///
/// Host calls return it, [`Plugin::handle`](crate::Plugin::handle) returns it, and `?`
/// converts JSON and number-parsing errors into [`Error::Invalid`]. Implement
/// `From<YourError> for airlock_sdk::Error` to use `?` with your own error types.
///
/// ```
/// use airlock_sdk::Error;
/// let err = Error::denied("requester.notes is not declared");
/// assert!(err.is_denied());
/// assert_eq!(err.to_string(), "denied: requester.notes is not declared");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The grant does not allow the call; the reason says which field or call.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::Denied("x".into()).kind(), "denied");
    /// ```
    Denied(String),
    /// No such record.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert!(Error::NotFound("ticket 42".into()).is_not_found());
    /// ```
    NotFound(String),
    /// The arguments (or the plugin's input, e.g. its settings) are malformed.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::Invalid("bad".into()).message(), "bad");
    /// ```
    Invalid(String),
    /// A size or rate limit was reached.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::Limit("too many calls".into()).kind(), "limit");
    /// ```
    Limit(String),
    /// The host could not serve the call right now.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::Unavailable("busy".into()).kind(), "unavailable");
    /// ```
    Unavailable(String),
}

impl Error {
    /// Builds [`Error::Denied`].
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::denied("no"), Error::Denied("no".into()));
    /// ```
    pub fn denied(message: impl Into<String>) -> Self {
        Error::Denied(message.into())
    }

    /// Builds [`Error::NotFound`].
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::not_found("ticket 1"), Error::NotFound("ticket 1".into()));
    /// ```
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// Builds [`Error::Invalid`]: the usual choice for a plugin's own failures.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::invalid("rules must be a list"), Error::Invalid("rules must be a list".into()));
    /// ```
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// Builds [`Error::Limit`].
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::limit("too big"), Error::Limit("too big".into()));
    /// ```
    pub fn limit(message: impl Into<String>) -> Self {
        Error::Limit(message.into())
    }

    /// Builds [`Error::Unavailable`].
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::unavailable("later"), Error::Unavailable("later".into()));
    /// ```
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// The variant's name as written in the contract: `denied`, `not-found`, `invalid`,
    /// `limit` or `unavailable`.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::not_found("x").kind(), "not-found");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied(_) => "denied",
            Error::NotFound(_) => "not-found",
            Error::Invalid(_) => "invalid",
            Error::Limit(_) => "limit",
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// The human-readable reason.
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert_eq!(Error::denied("ticket.description").message(), "ticket.description");
    /// ```
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::NotFound(m)
            | Error::Invalid(m)
            | Error::Limit(m)
            | Error::Unavailable(m) => m,
        }
    }

    /// Whether this is [`Error::Denied`] (the grant does not allow the call).
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert!(Error::denied("x").is_denied());
    /// assert!(!Error::invalid("x").is_denied());
    /// ```
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied(_))
    }

    /// Whether this is [`Error::NotFound`].
    ///
    /// ```
    /// # use airlock_sdk::Error;
    /// assert!(Error::not_found("x").is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<WitError> for Error {
    fn from(e: WitError) -> Self {
        match e {
            WitError::Denied(m) => Error::Denied(m),
            WitError::NotFound(m) => Error::NotFound(m),
            WitError::Invalid(m) => Error::Invalid(m),
            WitError::Limit(m) => Error::Limit(m),
            WitError::Unavailable(m) => Error::Unavailable(m),
        }
    }
}

impl From<Error> for WitError {
    fn from(e: Error) -> Self {
        match e {
            Error::Denied(m) => WitError::Denied(m),
            Error::NotFound(m) => WitError::NotFound(m),
            Error::Invalid(m) => WitError::Invalid(m),
            Error::Limit(m) => WitError::Limit(m),
            Error::Unavailable(m) => WitError::Unavailable(m),
        }
    }
}

impl From<crate::JsonError> for Error {
    fn from(e: crate::JsonError) -> Self {
        Error::Invalid(format!("invalid JSON: {e}"))
    }
}

impl From<core::num::ParseIntError> for Error {
    fn from(e: core::num::ParseIntError) -> Self {
        Error::Invalid(format!("invalid integer: {e}"))
    }
}

impl From<core::num::ParseFloatError> for Error {
    fn from(e: core::num::ParseFloatError) -> Self {
        Error::Invalid(format!("invalid number: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_kind() {
        assert_eq!(
            Error::not_found("ticket 9").to_string(),
            "not-found: ticket 9"
        );
        assert_eq!(Error::limit("x").kind(), "limit");
        assert_eq!(Error::unavailable("x").message(), "x");
    }

    #[test]
    fn round_trips_through_the_contract_error() {
        for e in [
            Error::denied("a"),
            Error::not_found("b"),
            Error::invalid("c"),
            Error::limit("d"),
            Error::unavailable("e"),
        ] {
            let wit: WitError = e.clone().into();
            assert_eq!(Error::from(wit), e);
        }
    }

    #[test]
    fn question_mark_conversions() {
        fn int(s: &str) -> crate::Result<i64> {
            Ok(s.parse::<i64>()?)
        }
        fn float(s: &str) -> crate::Result<f64> {
            Ok(s.parse::<f64>()?)
        }
        fn json(s: &str) -> crate::Result<crate::Json> {
            Ok(crate::Json::parse(s)?)
        }
        assert!(matches!(int("x"), Err(Error::Invalid(m)) if m.starts_with("invalid integer")));
        assert!(matches!(float("x"), Err(Error::Invalid(_))));
        assert!(matches!(json("{"), Err(Error::Invalid(m)) if m.starts_with("invalid JSON")));
        assert!(std::error::Error::source(&Error::denied("x")).is_none());
    }
}
