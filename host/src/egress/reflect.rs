//! Whether a response reflects one of the installation's secrets.
//!
//! A plugin never receives a secret from the host: placeholders are substituted only on
//! the way out. What remains is a destination that echoes the secret back. Scrubbing
//! known encodings of the whole value loses to any encoding an attacker picks, so this
//! check is structural instead:
//!
//! * every secret is cut into **windows** of [`WINDOW`] bytes (lowercased), as written,
//!   with its non-alphanumerics dropped, and in each form it was sent in (the base64 of a
//!   `Basic` credential);
//! * the response (every header name and value, and the body) is looked at in several
//!   **views**: as is, reversed, alphanumerics only (so separators and split halves do
//!   not hide it), ROT13, URL-decoded, and every hex and base64 run decoded (at every
//!   alignment), two levels deep; all compared case-insensitively;
//! * if any view holds any window, the **whole response is withheld** from the plugin.
//!
//! So no substring of a secret of [`WINDOW`] or more bytes reaches the plugin in any of
//! those views. Secrets shorter than [`WINDOW`] bytes are looked for whole. A destination
//! that encrypts or compresses the secret with a key the plugin knows is not caught: a
//! destination bound to a secret receives it, and is trusted with it, by the admin who
//! approved that binding.

use base64::Engine as _;
use std::collections::HashSet;

/// The length of the secret substrings looked for.
pub const WINDOW: usize = 8;
/// Secrets shorter than this are not looked for (they would match by chance).
const MIN_SECRET: usize = 4;
/// Encoded runs shorter than this are not decoded.
const MIN_RUN: usize = 12;

/// The secrets of one request, cut into windows.
#[derive(Debug, Default)]
pub struct ReflectionGuard {
    windows: HashSet<[u8; WINDOW]>,
    short: Vec<Vec<u8>>,
}

impl ReflectionGuard {
    /// A guard for these secret values and the wire forms they were sent in.
    ///
    /// ```
    /// use airlock_host::egress::reflect::ReflectionGuard;
    /// let guard = ReflectionGuard::new(["S3cret-Token-123"]);
    /// assert!(guard.reflected(&[], b"...NEKOT-TERC3S..."));       // reversed, uppercase
    /// assert!(guard.reflected(&[], b"74 6f 6b 65 6e 2d 31 32 33")); // hex of a part, spaced
    /// assert!(!guard.reflected(&[], b"{\"ok\":true}"));
    /// ```
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> ReflectionGuard {
        let mut guard = ReflectionGuard::default();
        for secret in secrets {
            let lower = secret.as_ref().to_ascii_lowercase().into_bytes();
            let alnum: Vec<u8> = lower
                .iter()
                .copied()
                .filter(u8::is_ascii_alphanumeric)
                .collect();
            for form in [lower, alnum] {
                if form.len() >= WINDOW {
                    for w in form.windows(WINDOW) {
                        guard.windows.insert(w.try_into().expect("window size"));
                    }
                } else if form.len() >= MIN_SECRET && !guard.short.contains(&form) {
                    guard.short.push(form);
                }
            }
        }
        guard
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.short.is_empty()
    }

    /// Whether the headers or body hold a secret in any view.
    pub fn reflected(&self, headers: &[(String, String)], body: &[u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut text = Vec::with_capacity(body.len() + 64 * headers.len());
        for (name, value) in headers {
            text.extend_from_slice(name.as_bytes());
            text.extend_from_slice(b": ");
            text.extend_from_slice(value.as_bytes());
            text.push(b'\n');
        }
        text.extend_from_slice(body);
        let mut views = vec![text];
        for level in 0..2 {
            let start = if level == 0 { 0 } else { 1 };
            let mut decoded = Vec::new();
            for view in &views[start..] {
                decoded.extend(decodings(view));
            }
            views.extend(decoded);
        }
        views.iter().any(|v| self.holds_any_form(v))
    }

    fn holds_any_form(&self, view: &[u8]) -> bool {
        let lower = view.to_ascii_lowercase();
        let alnum: Vec<u8> = lower
            .iter()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .collect();
        let rot13: Vec<u8> = alnum.iter().map(|&b| rot13(b)).collect();
        [lower, alnum, rot13].into_iter().any(|mut v| {
            if self.holds(&v) {
                return true;
            }
            v.reverse();
            self.holds(&v)
        })
    }

    fn holds(&self, view: &[u8]) -> bool {
        view.windows(WINDOW).any(|w| {
            self.windows
                .contains::<[u8; WINDOW]>(w.try_into().expect("window size"))
        }) || self
            .short
            .iter()
            .any(|s| view.windows(s.len()).any(|w| w == s.as_slice()))
    }
}

fn rot13(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
        _ => b,
    }
}

/// Decoded forms of `bytes`: URL-decoded, and each hex and base64 run decoded at every
/// alignment (hex with separators between its digit pairs too).
fn decodings(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if bytes.contains(&b'%') {
        out.push(percent_decode(bytes));
    }
    let hex_digits: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(u8::is_ascii_hexdigit)
        .collect();
    for run in runs(bytes, |b| b.is_ascii_hexdigit()).chain([hex_digits.as_slice()]) {
        for skip in 0..2.min(run.len()) {
            let even = &run[skip..run.len() - (run.len() - skip) % 2];
            if let Ok(decoded) = hex::decode(even) {
                out.push(decoded);
            }
        }
    }
    for run in runs(bytes, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
    }) {
        let standard: Vec<u8> = run
            .iter()
            .map(|&b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b => b,
            })
            .collect();
        for skip in 0..4.min(standard.len()) {
            let aligned = &standard[skip..];
            let usable = aligned.len() - aligned.len() % 4;
            if let Ok(decoded) = super::dlp::B64_STANDARD.decode(&aligned[..usable]) {
                out.push(decoded);
            }
        }
    }
    out
}

fn runs(bytes: &[u8], class: impl Fn(u8) -> bool) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(move |&b| !class(b))
        .filter(|run| run.len() >= MIN_RUN)
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes.get(i + 1..i + 3).and_then(|h| hex::decode(h).ok());
        match (bytes[i], pair) {
            (b'%', Some(decoded)) => {
                out.push(decoded[0]);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "S3CRET-tok-9f8e7d6c5b4a";

    fn hit(body: &str) -> bool {
        ReflectionGuard::new([SECRET]).reflected(&[], body.as_bytes())
    }

    #[test]
    fn every_encoding_of_a_part_is_caught() {
        let half = &SECRET[..11];
        let other = &SECRET[11..];
        let b64 = base64::engine::general_purpose::STANDARD;
        let cases = [
            SECRET.to_string(),
            SECRET.to_uppercase(),
            hex::encode_upper(SECRET),
            hex::encode(half),
            SECRET.chars().rev().collect(),
            format!("{half} and later {other}"),
            SECRET.chars().map(|c| format!("{c}.")).collect(),
            b64.encode(SECRET),
            b64.encode(format!("x{half}")),
            SECRET.bytes().map(|b| format!("%{b:02X}")).collect(),
            b64.encode(hex::encode(SECRET)),
            hex::encode(b64.encode(SECRET)),
            SECRET
                .bytes()
                .map(|b| rot13(b.to_ascii_lowercase()) as char)
                .collect(),
        ];
        for case in cases {
            assert!(hit(&format!("{{\"echo\":\"{case}\"}}")), "missed {case}");
        }
    }

    #[test]
    fn the_wire_form_of_a_basic_credential_is_caught_in_any_case() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let wire = b64.encode(format!("bot:{SECRET}"));
        let guard = ReflectionGuard::new([SECRET, wire.as_str()]);
        assert!(guard.reflected(&[], wire.to_lowercase().as_bytes()));
    }

    #[test]
    fn a_header_name_is_looked_at() {
        let guard = ReflectionGuard::new([SECRET]);
        let headers = vec![(format!("x-{}", &SECRET[4..14]), "1".to_string())];
        assert!(guard.reflected(&headers, b"ok"));
    }

    #[test]
    fn unrelated_responses_pass() {
        for body in [
            "{\"ok\":true,\"id\":\"c-12345678\"}",
            "<html><body>Thanks</body></html>",
            &hex::encode("an unrelated hex payload"),
        ] {
            assert!(!hit(body), "{body}");
        }
        assert!(!ReflectionGuard::new(["ab"]).reflected(&[], b"ab ab ab"));
    }

    #[test]
    fn short_secrets_are_looked_for_whole() {
        let guard = ReflectionGuard::new(["pin-42x"]);
        assert!(guard.reflected(&[], b"your PIN-42X"));
        assert!(!guard.reflected(&[], b"pin-4"));
    }
}
