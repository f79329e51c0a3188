//! The request as it crosses the wire: URL parts, header checks and sizes.

use super::EgressError;
use super::{MAX_REQUEST_HEADERS, RESERVED_HEADERS, client};

pub(super) fn wire_size(w: &client::WireRequest<'_>) -> usize {
    w.target.len()
        + w.body.len()
        + w.headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
}

/// Everything after `scheme://authority`: the path, query and fragment. The authority
/// ends at the first `/`, `?`, `#` or `\` after the slashes that follow the scheme (URL
/// parsers skip any number of either), so `https://host?q` and `https://host\p` keep
/// their query and path. Without `://` there is no tail (such URLs are refused).
pub(super) fn url_tail(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return "";
    };
    let rest = rest.trim_start_matches(['/', '\\']);
    &rest[rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())..]
}

/// The scheme and authority: everything before [`url_tail`].
pub(super) fn url_head(url: &str) -> &str {
    &url[..url.len() - url_tail(url).len()]
}

pub(super) fn check_headers(headers: &[(String, String)]) -> Result<(), EgressError> {
    if headers.len() > MAX_REQUEST_HEADERS {
        return Err(EgressError::Limit(format!(
            "at most {MAX_REQUEST_HEADERS} headers"
        )));
    }
    for (i, (name, value)) in headers.iter().enumerate() {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(EgressError::Invalid(format!(
                "header #{i} has an invalid name (secret placeholders are allowed only in values)"
            )));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(EgressError::Invalid(format!(
                "the host sets the {} header; plugins may not",
                name.to_ascii_lowercase()
            )));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(EgressError::Invalid(format!(
                "the value of header #{i} contains a line break"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tail_and_head() {
        assert_eq!(url_tail("https://a.example/x?y"), "/x?y");
        assert_eq!(url_tail("https://a.example"), "");
        assert_eq!(
            url_tail("https://a.example:8443?e=v@x.example"),
            "?e=v@x.example"
        );
        assert_eq!(url_tail("https://a.example\\p?e=1"), "\\p?e=1");
        assert_eq!(url_tail("https:///\\a.example#x"), "#x");
        assert_eq!(url_tail("{{secret.hook}}?x=1"), "");
        assert_eq!(url_head("https://a.example/x"), "https://a.example");
        assert_eq!(
            url_head("https://{{secret.a}}.x.example?q"),
            "https://{{secret.a}}.x.example"
        );
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
