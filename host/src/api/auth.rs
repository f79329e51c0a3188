//! Bearer-token authentication: one middleware for every protected route.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The tokens a group of routes accepts, and what to tell a caller that sent none.
#[derive(Clone)]
pub(crate) struct TokenGate {
    tokens: Arc<[String]>,
    /// Which token to send, in words ("the admin token").
    which: &'static str,
}

impl TokenGate {
    /// A gate that accepts any of `tokens`.
    pub(crate) fn new(tokens: Vec<String>, which: &'static str) -> TokenGate {
        TokenGate {
            tokens: tokens.into(),
            which,
        }
    }

    fn accepts(&self, token: &str) -> bool {
        // Every token is compared, so the time taken does not say which one matched.
        self.tokens.iter().fold(false, |ok, t| {
            ok | constant_time_eq(t.as_bytes(), token.as_bytes())
        })
    }
}

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `Authorization: Bearer <token>` header, if any.
fn bearer_token(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Passes the request on only with a token the gate accepts.
pub(crate) async fn require_token(
    State(gate): State<TokenGate>,
    request: Request,
    next: Next,
) -> Response {
    match bearer_token(&request) {
        Some(token) if gate.accepts(token) => next.run(request).await,
        Some(_) => {
            ApiError::unauthorized(format!("wrong token: send {}", gate.which)).into_response()
        }
        None => ApiError::unauthorized(format!(
            "send {} as `Authorization: Bearer <token>`",
            gate.which
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_accepts_exactly_its_tokens() {
        let gate = TokenGate::new(vec!["admin-token".into(), "metrics".into()], "x");
        assert!(gate.accepts("admin-token"));
        assert!(gate.accepts("metrics"));
        assert!(!gate.accepts("admin-toke"));
        assert!(!gate.accepts(""));
    }
}
