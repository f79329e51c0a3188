//! Plugin-controlled strings on their way into the audit log.
//!
//! The audit log, and the alerts, metrics and reports computed from it, hold only
//! host-chosen values. A string a plugin controls gets in one of two ways:
//!
//! * an **id or key** (a record id, a settings key) goes in as written only when the host
//!   confirmed it names something that exists (the record was found, the key is declared
//!   in plugin.toml); otherwise as an opaque keyed hash, `#` and 16 hex digits
//!   ([`AuditSanitizer::opaque`]), which an admin can recompute from a suspected value
//!   (`airlock audit opaque-id`) but nobody can reverse;
//! * **free text** (the plugin's own error, a panic message) goes in with every value the
//!   plugin was handed in the invocation masked as `[<field path>]`, every detector finding
//!   masked as `[<class>]`, control characters replaced, and cut to [`MAX_AUDIT_TEXT`]
//!   bytes ([`AuditSanitizer::text`]).

use super::Seen;
use airlock_redact::Redactor;
use std::sync::Arc;

/// The most bytes of plugin free text one audit field holds.
pub const MAX_AUDIT_TEXT: usize = 200;

/// Handed-out values shorter than this are not masked in free text (they would mask
/// ordinary words).
const MIN_MASKED_VALUE: usize = 4;

/// Free text longer than this is cut before it is scanned, so the work is bounded.
const MAX_SCANNED_TEXT: usize = 4 * MAX_AUDIT_TEXT;

/// Turns plugin-controlled strings into audit-safe ones (see the module docs).
pub struct AuditSanitizer {
    key: [u8; 32],
    detectors: Arc<Redactor>,
}

impl AuditSanitizer {
    /// A sanitizer hashing with `key` and masking with `detectors`.
    pub fn new(key: [u8; 32], detectors: Arc<Redactor>) -> AuditSanitizer {
        AuditSanitizer { key, detectors }
    }

    /// The opaque form of an unconfirmed id: `#` and the first 16 hex digits of
    /// HMAC-SHA256 under the host's audit key. `#` never occurs in a valid id.
    ///
    /// ```
    /// use airlock_host::broker::AuditSanitizer;
    /// let s = AuditSanitizer::new([1; 32], Default::default());
    /// let id = s.opaque("555-0100");
    /// assert_eq!(id.len(), 17);
    /// assert!(id.starts_with('#') && !id.contains("555"));
    /// assert_eq!(id, s.opaque("555-0100"));
    /// ```
    pub fn opaque(&self, value: &str) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("#{}", hex::encode(&digest[..8]))
    }

    /// The detector classes found in `text` (class names only, for a record).
    pub fn classes(&self, text: &str) -> std::collections::BTreeSet<String> {
        self.detectors
            .find_spans(text)
            .into_iter()
            .map(|s| s.class.to_string())
            .collect()
    }

    /// Free text made audit-safe: handed-out values and detector findings masked,
    /// control characters replaced by spaces, cut to [`MAX_AUDIT_TEXT`] bytes.
    ///
    /// ```
    /// use airlock_host::broker::{AuditSanitizer, Seen};
    /// let s = AuditSanitizer::new([1; 32], Default::default());
    /// let seen = [Seen { path: "requester.name".into(), value: "Vera Lindqvist".into() }];
    /// assert_eq!(
    ///     s.text("no VERA LINDQVIST at vera@bigcorp.example\n", &seen),
    ///     "no [requester.name] at [EMAIL] "
    /// );
    /// ```
    pub fn text(&self, text: &str, seen: &[Seen]) -> String {
        let mut text = mask_seen(text, seen);
        let spans = self.detectors.find_spans(&text);
        for span in spans.iter().rev() {
            text.replace_range(
                span.start..span.end,
                &format!("[{}]", span.class.to_string().to_uppercase()),
            );
        }
        truncate(text)
    }

    /// Host-made text (a call's error, which never quotes the plugin's strings) made
    /// bounded: the values handed out masked, control characters replaced, cut to
    /// [`MAX_AUDIT_TEXT`] bytes. Detectors are not applied, so a declared destination
    /// such as `https://169.254.169.254` stays readable.
    pub fn bounded(&self, text: &str, seen: &[Seen]) -> String {
        truncate(mask_seen(text, seen))
    }
}

/// `text` (cut to [`MAX_SCANNED_TEXT`]) with control characters replaced and every
/// handed-out value masked, longest first so a value that contains another is masked
/// whole.
fn mask_seen(text: &str, seen: &[Seen]) -> String {
    let mut text: String = cut(text, MAX_SCANNED_TEXT)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut values: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.value.len() >= MIN_MASKED_VALUE)
        .collect();
    values.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
    for s in values {
        text = mask_ignoring_case(&text, &s.value, &format!("[{}]", s.path));
    }
    text
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_AUDIT_TEXT {
        let end = cut(&text, MAX_AUDIT_TEXT).len();
        text.truncate(end);
        text.push('…');
    }
    text
}

fn cut(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Replaces every occurrence of `needle` in `text`, compared ASCII-case-insensitively.
fn mask_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    if needle.len() > text.len() {
        return text.to_string();
    }
    let (hay, pin) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&pin) {
        if at < last {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + pin.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitizer() -> AuditSanitizer {
        AuditSanitizer::new([9; 32], Default::default())
    }

    #[test]
    fn opaque_ids_depend_on_the_key_and_hide_the_value() {
        let a = sanitizer().opaque("4111111111111111");
        let b = AuditSanitizer::new([8; 32], Default::default()).opaque("4111111111111111");
        assert_ne!(a, b);
        assert!(!a.contains("4111"));
        assert!(!crate::model::valid_id(&a));
    }

    #[test]
    fn free_text_is_masked_and_cut() {
        let s = sanitizer();
        let long = "x".repeat(10_000);
        let out = s.text(&long, &[]);
        assert!(out.len() <= MAX_AUDIT_TEXT + '…'.len_utf8());
        let out = s.text("card 4111 1111 1111 1111, phone +1 (415) 555-0123", &[]);
        assert!(!out.contains("4111") && !out.contains("0123"), "{out}");
        // Multi-byte text is cut on a character boundary.
        let out = s.text(&"é".repeat(500), &[]);
        assert!(out.ends_with('…'));
    }
}
