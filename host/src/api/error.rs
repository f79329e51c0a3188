//! The API's one error shape, `{"error": {"code", "message", "field"?}}` (`field` names
//! the request's parameter or body path at fault, when there is one), and the one mapping
//! from [`AppError`] to a status.

use crate::app::AppError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: a status, a stable machine-readable code and a message for people.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The query parameter or body path at fault (`grants.read`, `days`), if any.
    field: Option<String>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u32>,
}

/// What a JSON handler returns.
pub(crate) type ApiResult<T> = Result<Json<T>, ApiError>;

impl ApiError {
    /// An error with this status, code and message.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// This error, naming the parameter or body path at fault.
    pub(crate) fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// The parameter or body path at fault, if the error names one.
    #[cfg(test)]
    pub(crate) fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// A 403 with code `forbidden`.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A 404 with code `not-found`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// A 400 with code `invalid`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// A 401 with code `unauthorized`.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A 503 with code `busy` and a `Retry-After` header: the service is at capacity,
    /// and the same request may succeed after `retry_after_secs`.
    pub(crate) fn busy(retry_after_secs: u32, message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
        }
    }

    /// A failure inside the host: logged in full, answered without detail.
    fn unavailable(problem: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %problem, "request failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service could not complete the request; see its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        let body = json!({ "error": error });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not-found", m),
            AppError::Invalid(m) => ApiError::invalid(m),
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AppError::StepUp(m) => ApiError::new(StatusCode::FORBIDDEN, "step-up-required", m),
            AppError::Busy {
                retry_after_secs,
                message,
            } => ApiError::busy(retry_after_secs, message),
            AppError::Store(e) if e.is_conflict() => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "another change got there first; read again and retry",
            ),
            AppError::Store(e) => ApiError::unavailable(&e),
            AppError::Internal(e) => ApiError::unavailable(&format!("{e:#}")),
        }
    }
}

impl From<crate::access::AuthError> for ApiError {
    fn from(e: crate::access::AuthError) -> ApiError {
        use crate::access::AuthError as E;
        let message = e.to_string();
        match e {
            E::BadCredentials { .. } | E::Unauthenticated(_) => ApiError::unauthorized(message),
            E::MfaRequired => ApiError::new(StatusCode::UNAUTHORIZED, "mfa-required", message),
            E::Locked { .. } => ApiError::new(StatusCode::FORBIDDEN, "locked", message),
            E::RateLimited {
                retry_after_secs, ..
            } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message)
            },
            E::StepUpRequired(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "step-up-required", message)
            }
            E::Invalid(m) => ApiError::invalid(m),
            E::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not-found", m),
            E::Store(e) => ApiError::from(AppError::Store(e)),
            E::Internal(e) => ApiError::from(AppError::Internal(e)),
        }
    }
}

impl From<crate::monitor::MonitorError> for ApiError {
    fn from(e: crate::monitor::MonitorError) -> ApiError {
        ApiError::from(AppError::from(e))
    }
}

/// Runs blocking work (SQLite, wasmtime) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, ApiError> {
    off_the_runtime(f).await
}

/// [`blocking`] for account operations, whose errors are [`crate::access::AuthError`].
pub(crate) async fn blocking_auth<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::access::AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    off_the_runtime(f).await
}

async fn off_the_runtime<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "a worker panicked",
            )
        })?
        .map_err(Into::into)
}
