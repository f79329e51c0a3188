//! The monitor's own error, turned into the application's at the facade.

use crate::error::AppError;
use crate::store::StoreError;

/// Why a monitoring call failed. Messages name fields, installations and ids, never
/// data values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The query is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// No such installation or plugin.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A streamed export stopped part-way (the reader went away, or a write failed).
    #[error("{0}")]
    Interrupted(String),
}

/// What monitoring calls return.
pub type MonitorResult<T> = Result<T, MonitorError>;

impl From<MonitorError> for AppError {
    fn from(e: MonitorError) -> AppError {
        match e {
            MonitorError::Invalid(m) => AppError::Invalid(m),
            MonitorError::NotFound(m) => AppError::NotFound(m),
            MonitorError::Store(e) => AppError::Store(e),
            MonitorError::Interrupted(m) => AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}
