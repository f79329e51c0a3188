//! Brokered outbound HTTP: plugins have no sockets, so they ask the host.
//!
//! The host sends a request only to a destination the plugin declares in `plugin.toml`
//! (`[[egress]]`) **and** the admin approved for the installation, on an allowed path
//! prefix and method. It scans the URL, headers and body for data the destination may
//! not receive (`send = [...]`), follows redirects only to approved destinations, and
//! records every request in the audit log.
//!
//! Secrets (settings marked `writeOnly = true`) are never readable by the plugin. Refer
//! to one with a placeholder — [`secret`] gives `{{secret.NAME}}` — in the URL or in a
//! header value; the host substitutes it on the way out, and only for destinations the
//! manifest binds the secret to (`secrets = [...]`). A placeholder in the body is
//! refused.
//!
//! ```no_run
//! use airlock_sdk::http::{self, Request};
//! let response = Request::post("https://api.crm.example/v1/contacts")
//!     .bearer_secret("crm_token")
//!     .json_text(r#"{"email":"ada@example.com"}"#)
//!     .send()?;
//! if !response.is_success() {
//!     airlock_sdk::log::warn!("CRM answered {}", response.status);
//! }
//! # Ok::<(), airlock_sdk::Error>(())
//! ```

use crate::bindings::airlock::plugin::http as wit;
use crate::{Error, Json};

/// The placeholder for a secret setting: `{{secret.NAME}}`.
///
/// ```
/// assert_eq!(airlock_sdk::http::secret("slack_token"), "{{secret.slack_token}}");
/// ```
pub fn secret(name: &str) -> String {
    format!("{{{{secret.{name}}}}}")
}

/// An outbound request, built step by step and sent with [`Request::send`].
///
/// ```
/// use airlock_sdk::http::Request;
/// let req = Request::get("https://api.example.com/v1/status").header("Accept", "application/json");
/// assert_eq!(req.method, "GET");
/// assert_eq!(req.headers, vec![("Accept".to_string(), "application/json".to_string())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// An absolute `https://` URL; may hold `{{secret.NAME}}` placeholders.
    pub url: String,
    /// Header names and values; values may hold placeholders.
    pub headers: Vec<(String, String)>,
    /// The body (no placeholders allowed).
    pub body: Vec<u8>,
}

impl Request {
    /// A request with any method.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::new("PATCH", "https://api.example.com/x");
    /// assert_eq!(req.method, "PATCH");
    /// ```
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    ///
    /// ```
    /// assert_eq!(airlock_sdk::http::Request::get("https://a.example/").method, "GET");
    /// ```
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request.
    ///
    /// ```
    /// assert_eq!(airlock_sdk::http::Request::post("https://a.example/").method, "POST");
    /// ```
    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// A `PUT` request.
    ///
    /// ```
    /// assert_eq!(airlock_sdk::http::Request::put("https://a.example/").method, "PUT");
    /// ```
    pub fn put(url: &str) -> Request {
        Request::new("PUT", url)
    }

    /// A `DELETE` request.
    ///
    /// ```
    /// assert_eq!(airlock_sdk::http::Request::delete("https://a.example/").method, "DELETE");
    /// ```
    pub fn delete(url: &str) -> Request {
        Request::new("DELETE", url)
    }

    /// Adds a header.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::get("https://a.example/").header("X-Trace", "1");
    /// assert_eq!(req.headers[0].0, "X-Trace");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer {{secret.NAME}}`.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::get("https://a.example/").bearer_secret("token");
    /// assert_eq!(req.headers[0].1, "Bearer {{secret.token}}");
    /// ```
    pub fn bearer_secret(self, name: &str) -> Request {
        let value = format!("Bearer {}", secret(name));
        self.header("Authorization", &value)
    }

    /// `Authorization: Basic …` for `user` and the secret `NAME` as the password; the host
    /// substitutes the secret and base64-encodes `user:password`.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::get("https://a.example/").basic_secret("api", "pw");
    /// assert_eq!(req.headers[0].1, "Basic api:{{secret.pw}}");
    /// ```
    pub fn basic_secret(self, user: &str, name: &str) -> Request {
        let value = format!("Basic {user}:{}", secret(name));
        self.header("Authorization", &value)
    }

    /// Sets the body.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::post("https://a.example/").body(b"hi".to_vec());
    /// assert_eq!(req.body, b"hi");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    ///
    /// ```
    /// use airlock_sdk::{http::Request, Json};
    /// let doc = Json::Object(vec![("text".into(), Json::String("hi".into()))]);
    /// let req = Request::post("https://a.example/").json(&doc);
    /// assert_eq!(req.body, br#"{"text":"hi"}"#);
    /// ```
    pub fn json(self, doc: &Json) -> Request {
        self.json_text(&doc.to_string())
    }

    /// Sets a body that is already JSON text, and `Content-Type: application/json`.
    ///
    /// ```
    /// let req = airlock_sdk::http::Request::post("https://a.example/").json_text("{}");
    /// assert_eq!(req.headers[0], ("Content-Type".to_string(), "application/json".to_string()));
    /// ```
    pub fn json_text(self, text: &str) -> Request {
        self.header("Content-Type", "application/json")
            .body(text.as_bytes().to_vec())
    }

    /// Sends the request through the host. Fails with [`Error::Denied`] when the
    /// destination, path, method, secret or data is not allowed, [`Error::Limit`] for size,
    /// rate and time limits, and [`Error::Unavailable`] when the destination cannot be
    /// reached. A response with any status is `Ok`.
    ///
    /// ```no_run
    /// let r = airlock_sdk::http::Request::get("https://api.example.com/ping").send()?;
    /// # Ok::<(), airlock_sdk::Error>(())
    /// ```
    pub fn send(self) -> Result<Response, Error> {
        crate::host_call!("http::Request::send");
        let response = wit::request(&wit::HttpRequest {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
        })?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

/// A destination's answer. Secrets the host sent are replaced by `[SECRET]`.
///
/// ```
/// use airlock_sdk::http::Response;
/// let r = Response { status: 201, headers: vec![("content-type".into(), "text/plain".into())], body: b"ok".to_vec() };
/// assert!(r.is_success());
/// assert_eq!(r.header("Content-Type"), Some("text/plain"));
/// assert_eq!(r.text().unwrap(), "ok");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers (lowercase names).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// True for 2xx.
    ///
    /// ```
    /// # use airlock_sdk::http::Response;
    /// assert!(!Response { status: 404, headers: vec![], body: vec![] }.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header of that name (case-insensitive).
    ///
    /// ```
    /// # use airlock_sdk::http::Response;
    /// let r = Response { status: 200, headers: vec![("x-id".into(), "7".into())], body: vec![] };
    /// assert_eq!(r.header("X-Id"), Some("7"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    ///
    /// ```
    /// # use airlock_sdk::http::Response;
    /// let r = Response { status: 200, headers: vec![], body: vec![0xff] };
    /// assert!(r.text().is_err());
    /// ```
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|_| Error::Invalid("the response body is not UTF-8".into()))
    }

    /// The body parsed as JSON.
    ///
    /// ```
    /// # use airlock_sdk::http::Response;
    /// let r = Response { status: 200, headers: vec![], body: br#"{"ok":true}"#.to_vec() };
    /// assert_eq!(r.json().unwrap()["ok"].as_bool(), Some(true));
    /// ```
    pub fn json(&self) -> Result<Json, Error> {
        Ok(Json::parse(self.text()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_compose() {
        let req = Request::post("https://{{secret.host}}/x")
            .bearer_secret("t")
            .json_text("{}");
        assert_eq!(req.headers.len(), 2);
        assert_eq!(req.headers[0].1, "Bearer {{secret.t}}");
        assert_eq!(req.body, b"{}");
    }

    #[test]
    fn response_helpers() {
        let r = Response {
            status: 299,
            headers: vec![("a".into(), "1".into()), ("A".into(), "2".into())],
            body: b"[1]".to_vec(),
        };
        assert!(r.is_success());
        assert_eq!(r.header("a"), Some("1"));
        assert_eq!(r.json().unwrap()[0].as_u64(), Some(1));
    }
}
