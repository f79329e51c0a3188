//! The request and response as they cross the wire: URL parts, header checks, sizes,
//! and scrubbing secrets out of what comes back.

use super::{InboundResponse, MAX_REQUEST_HEADERS, RESERVED_HEADERS, client};
use crate::broker::CallError;

pub(super) fn wire_size(w: &client::WireRequest<'_>) -> usize {
    w.target.len()
        + w.body.len()
        + w.headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
}

/// Everything after `scheme://authority` (the path and query), or the whole text when
/// it starts with a placeholder for the whole URL.
pub(super) fn url_tail(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => url
            .strip_prefix("{{")
            .and_then(|r| r.find("}}").map(|i| &url[i + 4..]))
            .unwrap_or(url),
    }
}

pub(super) fn url_head(url: &str) -> &str {
    &url[..url.len() - url_tail(url).len()]
}

pub(super) fn check_headers(headers: &[(String, String)]) -> Result<(), CallError> {
    if headers.len() > MAX_REQUEST_HEADERS {
        return Err(CallError::Limit(format!(
            "at most {MAX_REQUEST_HEADERS} headers"
        )));
    }
    for (i, (name, value)) in headers.iter().enumerate() {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(CallError::Invalid(format!(
                "header #{i} has an invalid name (secret placeholders are allowed only in values)"
            )));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(CallError::Invalid(format!(
                "the host sets the {name} header; plugins may not"
            )));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(CallError::Invalid(format!(
                "the value of header {name} contains a line break"
            )));
        }
    }
    Ok(())
}

/// Replaces every secret value (and its base64 and hex forms) in the response.
pub(super) fn scrub_response(r: client::WireResponse, secrets: &[String]) -> InboundResponse {
    use base64::Engine as _;
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        needles.push(s.as_bytes().to_vec());
        needles.push(
            base64::engine::general_purpose::STANDARD
                .encode(s)
                .trim_end_matches('=')
                .as_bytes()
                .to_vec(),
        );
        needles.push(hex::encode(s).into_bytes());
        needles.push(crate::egress::dlp::url_encode(s).into_bytes());
    }
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let scrub = |bytes: &[u8]| -> Vec<u8> {
        let mut out = bytes.to_vec();
        for needle in &needles {
            out = replace_bytes(&out, needle, b"[SECRET]");
        }
        out
    };
    InboundResponse {
        status: r.status,
        headers: r
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    String::from_utf8_lossy(&scrub(v.as_bytes())).into_owned(),
                )
            })
            .collect(),
        body: scrub(&r.body),
    }
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tail_and_head() {
        assert_eq!(url_tail("https://a.example/x?y"), "/x?y");
        assert_eq!(url_tail("https://a.example"), "");
        assert_eq!(url_tail("{{secret.hook}}"), "");
        assert_eq!(url_tail("{{secret.hook}}?x=1"), "?x=1");
        assert_eq!(url_head("https://a.example/x"), "https://a.example");
    }

    #[test]
    fn scrubbing_covers_encodings() {
        let r = client::WireResponse {
            status: 200,
            headers: vec![("x".into(), "tok-123456".into())],
            body: format!("a tok-123456 b {}", hex::encode("tok-123456")).into_bytes(),
            ..Default::default()
        };
        let out = scrub_response(r, &["tok-123456".into()]);
        assert_eq!(out.headers[0].1, "[SECRET]");
        assert_eq!(out.body, b"a [SECRET] b [SECRET]");
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert!(check_headers(&h("Host", "x")).is_err());
        assert!(check_headers(&h("{{secret.a}}", "x")).is_err());
        assert!(check_headers(&h("X-A", "a\r\nB: c")).is_err());
        assert!(check_headers(&h("X-A", "{{secret.a}}")).is_ok());
    }
}
