//! The error every application operation returns, sorted by whose fault it is. The
//! HTTP API and the CLI each map it once.

use crate::store::StoreError;

/// Errors of application operations, sorted by whose fault they are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No such installation (or record).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The action conflicts with the current state (e.g. a review is already open);
    /// nothing was done.
    #[error("{0}")]
    Conflict(String),
    /// The action needs a fresh TOTP code (multi-factor step-up); nothing was done.
    #[error("{0}")]
    StepUp(String),
    /// The service is at capacity: retry after `retry_after_secs` (nothing was done).
    #[error("{message}")]
    Busy {
        /// When to retry.
        retry_after_secs: u32,
        /// What is full.
        message: String,
    },
    /// Storage failed. A transient failure may pass if the caller retries.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something failed inside the host.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Results of application operations.
pub type AppResult<T> = Result<T, AppError>;
