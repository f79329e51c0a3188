//! Data-loss checks on everything a plugin sends out: its URL (path and query), header
//! values and body.
//!
//! Two kinds of data are looked for:
//! * **detected values**: what the redaction engine's detectors find (`email`, `phone`,
//!   `credit_card`, `secret`, …);
//! * **helpdesk field values** the broker handed this invocation (`requester.email`,
//!   `ticket.description`, …), so a plugin cannot pass on what it read unless the
//!   destination's `send` names the field (or its catalog class).
//!
//! Simple evasions are undone before looking: spacing and punctuation are ignored when
//! matching field values, and URL-encoded, base64 and hex runs are decoded (two levels
//! deep) and scanned too.

use airlock_redact::Redactor;
use base64::Engine as _;
use std::collections::{BTreeMap, BTreeSet};

/// A helpdesk field value the plugin obtained through the broker in this invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The field path, e.g. `requester.email`.
    pub path: String,
    /// The field's catalog class (`internal`, `personal`, `restricted`).
    pub class: String,
    /// The value as the plugin saw it.
    pub raw: String,
    /// [`normalize`]d, for matching despite spacing and punctuation.
    pub norm: String,
}

/// Field values shorter than this (normalized) are not tracked: too many false matches.
pub const MIN_TRACKED_CHARS: usize = 6;

impl Tracked {
    /// A tracked value, or `None` when it is too short or a redaction mask.
    pub fn new(path: &str, class: &str, raw: &str) -> Option<Tracked> {
        let norm = normalize(raw);
        let is_mask = raw.starts_with('[') && raw.ends_with(']') && !raw.contains(' ');
        (norm.chars().count() >= MIN_TRACKED_CHARS && !is_mask).then(|| Tracked {
            path: path.to_string(),
            class: class.to_string(),
            raw: raw.to_string(),
            norm,
        })
    }
}

/// Lowercase alphanumerics only: `"+1 (415) 555-0100"` → `"14155550100"`.
///
/// ```
/// assert_eq!(airlock_host::egress::dlp::normalize("V e-r.a@X"), "verax");
/// ```
pub fn normalize(text: &str) -> String {
    if text.is_ascii() {
        // The common case, a byte at a time.
        let bytes = text.bytes().filter(u8::is_ascii_alphanumeric);
        return bytes.map(|b| b.to_ascii_lowercase() as char).collect();
    }
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where in the request something was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The URL's host, when it is a name (a wildcard destination lets the plugin choose
    /// labels). Never masked: a finding here refuses the request.
    Host,
    /// The URL's path and query.
    Url,
    /// A header name (by index). Never masked.
    HeaderName(usize),
    /// A header value (by index).
    Header(usize),
    /// The body.
    Body,
}

impl Part {
    /// Whether a finding in this part can be masked in place.
    pub fn maskable(self) -> bool {
        matches!(self, Part::Url | Part::Header(_) | Part::Body)
    }
}

/// One thing found in an outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A field path (`requester.email`) or a detector class (`email`).
    pub label: String,
    /// Whether the destination's `send` approves it.
    pub approved: bool,
    /// How it was hidden: `None` when found as is, else `spacing`, `url-encoding`,
    /// `base64` or `hex`.
    pub evasion: Option<&'static str>,
    /// Where.
    pub part: Part,
    /// Its byte range in the part, when found as is (for masking).
    pub range: Option<(usize, usize)>,
}

/// What a destination may receive: its `send` list.
pub struct SendPolicy<'a> {
    /// Field paths and class names (catalog classes or detector classes).
    pub send: &'a BTreeSet<String>,
}

impl SendPolicy<'_> {
    fn field_ok(&self, t: &Tracked) -> bool {
        self.send.contains(&t.path) || self.send.contains(&t.class)
    }
}

/// The result of scanning a request.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Everything found.
    pub findings: Vec<Finding>,
}

impl Scan {
    /// Every label found, sorted, comma-separated (the audit's `classes`).
    pub fn classes(&self) -> String {
        let labels: BTreeSet<&str> = self.findings.iter().map(|f| f.label.as_str()).collect();
        labels.into_iter().collect::<Vec<_>>().join(",")
    }

    /// The labels not approved for the destination, sorted and deduplicated.
    pub fn unapproved(&self) -> Vec<String> {
        let labels: BTreeSet<&str> = self
            .findings
            .iter()
            .filter(|f| !f.approved)
            .map(|f| f.label.as_str())
            .collect();
        labels.into_iter().map(str::to_string).collect()
    }

    /// How unapproved data was hidden, if it was (`base64`, `hex`, …), sorted.
    pub fn evasions(&self) -> Vec<&'static str> {
        let set: BTreeSet<&'static str> = self
            .findings
            .iter()
            .filter(|f| !f.approved)
            .filter_map(|f| f.evasion)
            .collect();
        set.into_iter().collect()
    }

    /// True when every unapproved finding has a range in its part, so it can be masked.
    pub fn maskable(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.approved || (f.part.maskable() && f.evasion.is_none() && f.range.is_some()))
    }

    /// Masks the unapproved findings of one part: `[EMAIL]`, `[REQUESTER.EMAIL]`.
    pub fn mask(&self, part: Part, text: &str) -> String {
        let mut ranges: Vec<(usize, usize, &str)> = self
            .findings
            .iter()
            .filter(|f| !f.approved && f.part == part)
            .filter_map(|f| f.range.map(|(s, e)| (s, e, f.label.as_str())))
            .collect();
        ranges.sort();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, label) in ranges {
            if start < last || end > text.len() {
                continue;
            }
            out.push_str(&text[last..start]);
            out.push('[');
            out.push_str(&label.to_ascii_uppercase());
            out.push(']');
            last = end;
        }
        out.push_str(&text[last..]);
        out
    }
}

/// Encoded runs shorter than this are not decoded.
const MIN_ENCODED_RUN: usize = 8;

/// Scans the parts of a request (URL path and query, header values, body).
///
/// The work is linear in the bytes checked. Each part is looked at as written and in
/// its decoded views, two levels deep; a view holds **every** run of its encoding,
/// decoded and joined (so no run escapes a cap on views), which bounds the bytes of all
/// views at a small multiple of the part's. Field values are matched in one pass per
/// view over all of them at once (Aho-Corasick), not one search per value.
pub fn scan(
    redactor: &Redactor,
    tracked: &[Tracked],
    policy: &SendPolicy<'_>,
    parts: &[(Part, &str)],
) -> Scan {
    let mut findings: BTreeMap<(String, Option<&'static str>, Part), Finding> = BTreeMap::new();
    let mut add = |f: Finding| {
        findings
            .entry((f.label.clone(), f.evasion, f.part))
            .or_insert(f);
    };
    let values = TrackedValues::new(tracked);
    for &(part, text) in parts {
        for (view, evasion) in views(text) {
            // Detected values.
            for span in redactor.find_spans(&view) {
                let value = &view[span.start..span.end];
                let class = span.class.to_string();
                let norm = normalize(value);
                let approved = policy.send.contains(&class)
                    || values.by_norm(&norm).any(|t| policy.field_ok(t));
                add(Finding {
                    label: class,
                    approved,
                    evasion,
                    part,
                    range: evasion.is_none().then_some((span.start, span.end)),
                });
            }
            // Field values the plugin read.
            for (t, exact) in values.found_in(&view) {
                let how = match (evasion, exact) {
                    (Some(e), _) => Some(e),
                    (None, Some(_)) => None,
                    (None, None) => Some("spacing"),
                };
                add(Finding {
                    label: t.path.clone(),
                    approved: policy.field_ok(t),
                    evasion: how,
                    part,
                    range: match how {
                        None => exact.map(|s| (s, s + t.raw.len())),
                        Some(_) => None,
                    },
                });
            }
        }
    }
    Scan {
        findings: findings.into_values().collect(),
    }
}

/// A part as written, then its decoded views, and theirs, each once. Views named by the
/// outer evasion (`base64` for the hex inside base64).
fn views(text: &str) -> Vec<(String, Option<&'static str>)> {
    let mut views: Vec<(String, Option<&'static str>)> = vec![(text.to_string(), None)];
    for (decoded, how) in decodings(text) {
        let inner = decodings(&decoded);
        views.push((decoded, Some(how)));
        for (again, _) in inner {
            views.push((again, Some(how)));
        }
    }
    // At most a dozen views, compared directly.
    let mut unique: Vec<(String, Option<&'static str>)> = Vec::with_capacity(views.len());
    for (view, how) in views {
        if !unique.iter().any(|(u, _)| *u == view) {
            unique.push((view, how));
        }
    }
    unique
}

/// The field values a plugin read, indexed for one-pass matching: by their normalized
/// form (spacing and punctuation ignored) and as written.
struct TrackedValues<'a> {
    tracked: &'a [Tracked],
    by_norm: std::collections::HashMap<&'a str, Vec<&'a Tracked>>,
    norms: Option<aho_corasick::AhoCorasick>,
    raws: Option<aho_corasick::AhoCorasick>,
}

impl<'a> TrackedValues<'a> {
    fn new(tracked: &'a [Tracked]) -> TrackedValues<'a> {
        let build = |patterns: Vec<&str>| {
            (!patterns.is_empty())
                .then(|| aho_corasick::AhoCorasick::new(patterns).ok())
                .flatten()
        };
        let mut by_norm: std::collections::HashMap<&str, Vec<&Tracked>> = Default::default();
        for t in tracked {
            by_norm.entry(t.norm.as_str()).or_default().push(t);
        }
        TrackedValues {
            tracked,
            by_norm,
            norms: build(tracked.iter().map(|t| t.norm.as_str()).collect()),
            raws: build(tracked.iter().map(|t| t.raw.as_str()).collect()),
        }
    }

    /// The values whose normalized form is `norm`.
    fn by_norm(&self, norm: &str) -> impl Iterator<Item = &'a Tracked> + '_ {
        self.by_norm.get(norm).into_iter().flatten().copied()
    }

    /// Every value found in `view` (normalized), with where it is as written, if it is.
    fn found_in(&self, view: &str) -> Vec<(&'a Tracked, Option<usize>)> {
        let Some(norms) = &self.norms else {
            return Vec::new();
        };
        let mut found = vec![false; self.tracked.len()];
        for m in norms.find_overlapping_iter(&normalize(view)) {
            found[m.pattern().as_usize()] = true;
        }
        let mut exact: Vec<Option<usize>> = vec![None; self.tracked.len()];
        if let Some(raws) = &self.raws {
            for m in raws.find_overlapping_iter(view) {
                let slot = &mut exact[m.pattern().as_usize()];
                if slot.is_none_or(|s| m.start() < s) {
                    *slot = Some(m.start());
                }
            }
        }
        self.tracked
            .iter()
            .enumerate()
            .filter(|(i, _)| found[*i])
            .map(|(i, t)| (t, exact[i]))
            .collect()
    }
}

pub(super) static B64_STANDARD: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
static B64_URL_SAFE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decoded views of `text`, at most one per encoding: URL-decoded; every hex run
/// decoded; every base64 run decoded (standard or URL-safe alphabet, as the run's
/// characters say). Runs whose decoding is not mostly printable text are left out; the
/// rest are joined by newlines, so the views together hold at most about twice the
/// bytes of `text`.
fn decodings(text: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if text.contains('%') || text.contains('+') {
        let decoded = url_decode(text);
        if decoded != text {
            out.push((decoded, "url-encoding"));
        }
    }
    let hex_runs = runs(text, |b| b.is_ascii_hexdigit())
        .into_iter()
        .filter(|run| run.len() % 2 == 0)
        .filter_map(|run| hex::decode(run).ok().and_then(|b| printable(&b)));
    push_joined(&mut out, hex_runs, "hex");
    let b64_runs = runs(text, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
    })
    .into_iter()
    .filter_map(decode_base64_run);
    push_joined(&mut out, b64_runs, "base64");
    out
}

fn push_joined(
    out: &mut Vec<(String, &'static str)>,
    pieces: impl Iterator<Item = String>,
    how: &'static str,
) {
    let joined = pieces.collect::<Vec<_>>().join("\n");
    if !joined.is_empty() {
        out.push((joined, how));
    }
}

/// One base64 run's text, when it decodes to mostly printable text in either alphabet.
/// A run may start mid-word, so each alignment a value could start at is tried; the
/// first that decodes wins. At most eight decodings of the run: linear.
fn decode_base64_run(run: &str) -> Option<String> {
    let trimmed = run.trim_end_matches('=');
    [&B64_STANDARD, &B64_URL_SAFE]
        .into_iter()
        .find_map(|engine| {
            (0..4.min(trimmed.len())).find_map(|skip| {
                let candidate = &trimmed[skip..];
                let usable = match candidate.len() % 4 {
                    1 => candidate.len() - 1,
                    _ => candidate.len(),
                };
                engine
                    .decode(&candidate[..usable])
                    .ok()
                    .and_then(|bytes| printable(&bytes))
            })
        })
}

fn runs(text: &str, class: impl Fn(u8) -> bool) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (class(b) && i < bytes.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= MIN_ENCODED_RUN {
                    out.push(&text[s..i]);
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Text when at least 90% of the decoded bytes are printable UTF-8.
fn printable(bytes: &[u8]) -> Option<String> {
    if bytes.is_ascii() {
        // One pass for the common case: printable ASCII and newlines.
        let good = bytes
            .iter()
            .filter(|&&b| b == b'\n' || (b' '..=b'~').contains(&b))
            .count();
        let text = || String::from_utf8_lossy(bytes).into_owned();
        return (good * 10 >= bytes.len().max(1) * 9).then(text);
    }
    let text = String::from_utf8_lossy(bytes);
    let total = text.chars().count().max(1);
    let good = text
        .chars()
        .filter(|c| !c.is_control() && *c != char::REPLACEMENT_CHARACTER || *c == '\n')
        .count();
    (good * 10 >= total * 9).then(|| text.into_owned())
}

/// Percent-decoding, with `+` as a space.
///
/// ```
/// assert_eq!(airlock_host::egress::dlp::url_decode("a%40b.c+d"), "a@b.c d");
/// ```
pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_at = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'%' if hex_at(i + 1).is_some() && hex_at(i + 2).is_some() => {
                out.push((hex_at(i + 1).unwrap_or(0) * 16 + hex_at(i + 2).unwrap_or(0)) as u8);
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes every byte outside `A-Za-z0-9-._~`.
///
/// ```
/// assert_eq!(airlock_host::egress::dlp::url_encode("a@b c"), "a%40b%20c");
/// ```
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked() -> Vec<Tracked> {
        vec![
            Tracked::new("requester.email", "personal", "vera@bigcorp.example").unwrap(),
            Tracked::new("ticket.subject", "internal", "Printer on fire").unwrap(),
        ]
    }

    fn scan_body(body: &str, send: &[&str]) -> Scan {
        let send: BTreeSet<String> = send.iter().map(|s| s.to_string()).collect();
        scan(
            &Redactor::default(),
            &tracked(),
            &SendPolicy { send: &send },
            &[(Part::Body, body)],
        )
    }

    #[test]
    fn plain_values_are_found_and_judged() {
        let s = scan_body(r#"{"email":"vera@bigcorp.example"}"#, &[]);
        assert_eq!(s.unapproved(), ["email", "requester.email"]);
        let s = scan_body(r#"{"email":"vera@bigcorp.example"}"#, &["requester.email"]);
        assert!(s.unapproved().is_empty(), "{s:?}");
        assert_eq!(s.classes(), "email,requester.email");
        let s = scan_body("subject: Printer on fire", &["internal"]);
        assert!(s.unapproved().is_empty(), "{s:?}");
    }

    #[test]
    fn evasions_are_caught() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("vera@bigcorp.example");
        let b64url =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x=vera@bigcorp.example");
        let hexed = hex::encode("vera@bigcorp.example");
        for (body, how) in [
            ("v e r a @ bigcorp . example".to_string(), "spacing"),
            ("vera-@-bigcorp-example".to_string(), "spacing"),
            ("vera%40bigcorp%2Eexample".to_string(), "url-encoding"),
            (format!("{{\"d\":\"{b64}\"}}"), "base64"),
            (format!("d={b64url}"), "base64"),
            (format!("d={hexed}"), "hex"),
            (hexed.to_uppercase(), "hex"),
            (
                base64::engine::general_purpose::STANDARD.encode("PRINTER ON FIRE"),
                "base64",
            ),
        ] {
            let s = scan_body(&body, &[]);
            assert!(!s.unapproved().is_empty(), "{body}: {s:?}");
            assert!(s.evasions().contains(&how), "{body}: {s:?}");
            assert!(!s.maskable(), "{body}");
        }
    }

    /// Issue 13: the old scan decoded at most 64 views per part, so 64 decoy runs hid
    /// the 65th; and it searched each decoded run of each run, quadratic in the runs.
    /// Every run is in a view now, however many there are.
    #[test]
    fn no_number_of_decoy_runs_hides_an_encoded_value() {
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let decoys: Vec<String> = (0..500)
            .map(|i| b64(&format!("nothing here {i}")))
            .collect();
        let hidden = base64::engine::general_purpose::STANDARD.encode("vera@bigcorp.example");
        let hexed = hex::encode("vera@bigcorp.example");
        for hidden in [hidden, hexed] {
            let body = format!("{} {hidden}", decoys.join(" "));
            let s = scan_body(&body, &[]);
            assert!(
                s.unapproved().contains(&"requester.email".to_string()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn masking_replaces_plain_values() {
        let body = "to vera@bigcorp.example now";
        let s = scan_body(body, &[]);
        assert!(s.maskable());
        assert_eq!(s.mask(Part::Body, body), "to [EMAIL] now");
    }

    #[test]
    fn innocent_text_passes() {
        let s = scan_body(r#"{"text":"New urgent ticket t-1","count":3}"#, &[]);
        assert!(s.findings.is_empty(), "{s:?}");
    }
}
