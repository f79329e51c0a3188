//! Request extractors that answer bad input in the API's one error shape, naming what is
//! wrong and where, and never quoting what was sent (a body may hold helpdesk data).
//!
//! - [`ApiQuery`]: the query string, refusing parameters the route does not know (a
//!   typo such as `instalation=` would otherwise widen the query to everything);
//! - [`ApiJson`]: a JSON body, naming the path of the first value that does not fit.

use super::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query string parsed into `T`, whose fields are the only parameters accepted.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string; unknown parameters are refused by name (the query structs
/// deny unknown fields), bad values by parameter, without the value.
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner().to_string();
        // Unknown parameters: serde names the parameter, which is the caller's own key.
        if let Some(rest) = inner.strip_prefix("unknown field ") {
            let name = rest.split(',').next().unwrap_or(rest);
            return ApiError::invalid(format!(
                "unknown query parameter {name}; this route takes {}",
                expected(rest)
            ))
            .at(name.trim_matches('`'));
        }
        match e.path().to_string().as_str() {
            "." | "" => ApiError::invalid("the query string is not valid for this route"),
            name => ApiError::invalid(format!(
                "query parameter `{name}` has a value this route does not accept"
            ))
            .at(name),
        }
    })
}

/// The "expected one of …" part of serde's unknown-field message (field names only).
fn expected(message: &str) -> String {
    message
        .split_once("expected ")
        .map(|(_, names)| names.trim_start_matches("one of ").to_string())
        .unwrap_or_else(|| "no parameters".into())
}

/// A JSON body parsed into `T`.
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid",
                "send the body as JSON, with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| match super::server::timed_out(&e) {
                true => ApiError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!("{}; send it faster, or in one piece", e.body_text()),
                ),
                false => ApiError::invalid(format!("cannot read the body: {}", e.body_text())),
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body. The error names the path of the value that does not fit and what
/// kind of problem it is, never the value.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let what = match inner.classify() {
            serde_json::error::Category::Syntax => "is not valid JSON".to_string(),
            serde_json::error::Category::Eof => "ends too early".to_string(),
            serde_json::error::Category::Io => "cannot be read".to_string(),
            serde_json::error::Category::Data => data_problem(&inner.to_string()),
        };
        let at = match path.as_str() {
            "." | "" => "the body".to_string(),
            path => format!("`{path}`"),
        };
        let error = match inner.line() {
            0 => ApiError::invalid(format!("{at} {what}")),
            line => ApiError::invalid(format!(
                "{at} {what} (line {line}, column {})",
                inner.column()
            )),
        };
        match field_at(&path, &inner.to_string()) {
            Some(field) => error.at(field),
            None => error,
        }
    })
}

/// The body path at fault: the path serde stopped at, extended by the field a missing
/// or unknown field message names (a schema name, never a value).
fn field_at(path: &str, message: &str) -> Option<String> {
    // serde_path_to_error writes `.` for the root and `?` for a position it cannot name.
    let path = match path.trim_start_matches('.') {
        "?" => "",
        path => path,
    };
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        ("", None) => None,
        ("", Some(name)) => Some(name.to_string()),
        (path, Some(name)) if !path.ends_with(name) => Some(format!("{path}.{name}")),
        (path, _) => Some(path.to_string()),
    }
}

/// What kind of data problem serde reported, from its message, without the value it
/// quotes: missing and unknown fields are named (they are the schema's names).
fn data_problem(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    for prefix in ["missing field ", "unknown field ", "duplicate field "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let name = rest.split(',').next().unwrap_or(rest);
            return format!(
                "has a {} {name}",
                prefix.trim_end().replace(" field", " field:")
            );
        }
    }
    if message.starts_with("invalid type") {
        return "has a value of the wrong type".into();
    }
    if message.starts_with("unknown variant") {
        return "has a value that is not one of the accepted names".into();
    }
    "has a value this route does not accept".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        installation: Option<String>,
        limit: Option<u32>,
    }

    fn message(e: ApiError) -> String {
        format!("{e:?}")
    }

    #[test]
    fn unknown_query_parameters_are_refused_by_name() {
        let e = parse_query::<Q>("instalation=x").unwrap_err();
        let m = message(e);
        assert!(m.contains("unknown query parameter `instalation`"), "{m}");
        assert!(m.contains("`installation`"), "{m}");
        assert!(parse_query::<Q>("installation=x&limit=3").is_ok());
        let m = message(parse_query::<Q>("limit=secret-value").unwrap_err());
        assert!(m.contains("`limit`") && !m.contains("secret-value"), "{m}");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        ticket: Ticket,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Ticket {
        id: String,
        priority: Option<u32>,
    }

    #[test]
    fn json_errors_name_the_path_never_the_value() {
        let m = message(
            parse_json::<Body>(br#"{"ticket": {"id": "t-1", "priority": "vera@bigcorp.example"}}"#)
                .unwrap_err(),
        );
        assert!(m.contains("`ticket.priority`"), "{m}");
        assert!(!m.contains("vera@"), "{m}");
        let m = message(parse_json::<Body>(br#"{"ticket": {"id": "t-1", "x": 1}}"#).unwrap_err());
        assert!(m.contains("unknown field: `x`"), "{m}");
        let m = message(parse_json::<Body>(b"{\"ticket\": ").unwrap_err());
        assert!(m.contains("ends too early"), "{m}");
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let json = |body: &[u8]| {
            parse_json::<Body>(body)
                .unwrap_err()
                .field()
                .map(str::to_string)
        };
        let query = |q: &str| parse_query::<Q>(q).unwrap_err().field().map(str::to_string);
        let wrong = br#"{"ticket": {"id": "t-1", "priority": "high"}}"#;
        assert_eq!(json(wrong).as_deref(), Some("ticket.priority"));
        let unknown = br#"{"ticket": {"id": "t-1", "x": 1}}"#;
        assert_eq!(json(unknown).as_deref(), Some("ticket.x"));
        assert_eq!(json(br#"{"ticket": {}}"#).as_deref(), Some("ticket.id"));
        assert_eq!(json(b"{"), None);
        assert_eq!(query("instalation=x").as_deref(), Some("instalation"));
        assert_eq!(query("limit=x").as_deref(), Some("limit"));
    }
}
