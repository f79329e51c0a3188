//! Airlock's redaction engine: finds sensitive data in text handed to
//! plugins and masks it according to a [`Policy`].
//!
//! Built-in detectors (each validates what it finds, see the module docs of
//! the scanner): payment cards (Luhn + network prefix/length), US SSN, UK
//! NINO, Canadian SIN, IBAN (registry length + mod 97), email, phone numbers
//! (E.164, US, UK, DE, FR and other trunk-0 national formats), credentials
//! (AWS, GitHub, GitLab, Slack, Stripe, JWT, private-key blocks,
//! `password=`/`api_key:` values), IPv4/IPv6 and labelled dates of birth.
//! Custom per-tenant detectors use regexes.
//!
//! Design: one pass over the bytes with a byte-class table; only digits,
//! word starts, `@`, `+`, `(`, `-----BEGIN` and `::` get a closer look, and
//! whole words are consumed at once. No allocation happens unless something
//! is found.
//!
//! Notes on decisions:
//! * A dotted quad is an IPv4 address unless it is glued to a word
//!   (`v1.2.3.4`, `build-1.2.3.4`) or preceded by `version`, `ver`, `v`,
//!   `build`, `release`, `firmware`, `fw` or `rev`.
//! * Compact 9-digit SSN/SIN and compact 10-digit US phone numbers are not
//!   detected (too many order numbers look like them); formatted ones are.
//! * Cards: a number grouped in fours is judged as a whole, so a card is never
//!   cut out of a longer grouped number; a shorter card prefix is accepted only
//!   when the run continues after a separator change (`4111 1111 1111 1111
//!   12/26`). A CVV appended with the same separator makes the whole run the
//!   candidate (and it then usually fails Luhn).
//! * Phones: E.164 (`+`, 8–15 digits; `+1` must be a valid NANP number),
//!   formatted NANP numbers, trunk-`0` national numbers of 10–12 digits in
//!   2–5 groups (UK, DE, FR, ...; not 4-4-4 groups, which look like IBAN
//!   fragments) and compact UK/FR/DE mobiles (`07…`, `06…`, `015…`).
//! * UK NINO must be uppercase with its A–D suffix; `password:`-style values
//!   after a colon must contain a non-letter or be ≥ 16 chars (so prose like
//!   "Password: expired" is left alone); after `=` any value counts.
//! * Text right after a partial-mask bullet `•` is treated as already masked,
//!   and `key=value` secrets whose value is a label, contains `•` or is a
//!   `tok_…` token are skipped; partial masks keep the last four characters
//!   only right after a masked one. This makes redaction idempotent (checked by
//!   property tests). A custom regex that matches its own label or token text
//!   can break idempotence; custom matches right after `•` or inside a
//!   `tok_…` word are skipped for that reason.
//!
//! Throughput can be checked with `cargo bench -p airlock-redact` (wall-clock
//! and per-thread CPU time, next to a memchr baseline) or quickly with
//! `cargo run --release -p airlock-redact --example speed`.
//!
//! ```
//! use airlock_redact::{Class, Mask, Policy, Redactor};
//! let r = Redactor::default();
//! let p = Policy::new([7; 32], "acme/1").with_mask(Class::CreditCard, Mask::Partial);
//! let out = r.redact("card 4242 4242 4242 4242, mail jo@example.com", &p);
//! assert_eq!(out.text, "card •••• •••• •••• 4242, mail [EMAIL]");
//! assert_eq!(out.counts[&Class::CreditCard], 1);
//! ```

#![warn(missing_docs)]
// Only the SSE2 skip loop needs unsafe code (`scan/skip.rs`).
#![deny(unsafe_code)]

pub mod checks;
pub mod class;
pub mod config;
pub mod corpus;
mod custom;
pub mod policy;
mod scan;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use class::Class;
pub use config::{Config, ConfigError, CustomDetector, Validator};
pub use policy::{Mask, Policy};

/// A detected value: its class and byte range in the text (on UTF-8
/// character boundaries).
///
/// ```
/// let spans = airlock_redact::Redactor::default().find_spans("ip 10.1.2.3");
/// assert_eq!((spans[0].start, spans[0].end), (3, 11));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// What was found.
    pub class: Class,
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// Result of [`Redactor::redact`].
///
/// ```
/// use airlock_redact::{Policy, Redactor};
/// let out = Redactor::default().redact("nothing here", &Policy::default());
/// assert!(matches!(out.text, std::borrow::Cow::Borrowed(_)));
/// assert!(out.counts.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// The redacted text; borrowed when nothing was masked.
    pub text: Cow<'a, str>,
    /// Number of masked values per class.
    pub counts: BTreeMap<Class, u32>,
    /// Number of values found but revealed by the policy, per class.
    pub revealed: BTreeMap<Class, u32>,
}

/// The compiled redaction engine. Build once, share freely (`Send + Sync`).
///
/// ```
/// use airlock_redact::{Policy, Redactor};
/// let r = std::sync::Arc::new(Redactor::default());
/// let out = r.redact("SSN 123-45-6789", &Policy::default());
/// assert_eq!(out.text, "SSN [SSN]");
/// ```
#[derive(Debug)]
pub struct Redactor {
    scanner: scan::Scanner,
    custom: Vec<custom::CustomRule>,
    allow: Vec<String>,
}

impl Default for Redactor {
    /// All built-in detectors, no custom detectors, empty allow-list.
    fn default() -> Self {
        Redactor {
            scanner: scan::Scanner { on: [true; 10] },
            custom: Vec::new(),
            allow: Vec::new(),
        }
    }
}

impl Redactor {
    /// Compile a configuration.
    ///
    /// ```
    /// use airlock_redact::{Class, Config, Redactor};
    /// let cfg = Config { disabled: vec![Class::Email], ..Config::default() };
    /// let r = Redactor::new(&cfg).unwrap();
    /// assert!(r.find_spans("a@example.com").is_empty());
    /// ```
    pub fn new(config: &Config) -> Result<Redactor, ConfigError> {
        let mut on = [config.enabled.is_none(); 10];
        for c in config.enabled.iter().flatten() {
            on[c.builtin_index()
                .ok_or_else(|| ConfigError::NotBuiltin(c.to_string()))?] = true;
        }
        for c in &config.disabled {
            on[c.builtin_index()
                .ok_or_else(|| ConfigError::NotBuiltin(c.to_string()))?] = false;
        }
        let mut custom: Vec<custom::CustomRule> = Vec::new();
        for (k, d) in config.custom.iter().enumerate() {
            if config.custom[..k].iter().any(|o| o.name == d.name) {
                return Err(ConfigError::Duplicate(d.name.clone()));
            }
            custom.push(custom::CustomRule::compile(d)?);
        }
        let allow = config
            .allow
            .iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        Ok(Redactor {
            scanner: scan::Scanner { on },
            custom,
            allow,
        })
    }

    /// All detected values, sorted by position and non-overlapping
    /// (leftmost, then longest, wins). Allow-listed values are left out.
    ///
    /// ```
    /// use airlock_redact::{Class, Redactor};
    /// let s = Redactor::default().find_spans("IBAN ES91 2100 0418 4502 0005 1332 please");
    /// assert_eq!(s.len(), 1);
    /// assert_eq!((s[0].class.clone(), s[0].start, s[0].end), (Class::Iban, 5, 34));
    /// ```
    pub fn find_spans(&self, text: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        self.scanner.scan(text, &mut spans);
        if !self.custom.is_empty() {
            for rule in &self.custom {
                rule.find(text, &mut spans);
            }
            spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
            let mut end = 0;
            spans.retain(|s| {
                let keep = s.start >= end;
                if keep {
                    end = s.end;
                }
                keep
            });
        }
        if !self.allow.is_empty() {
            spans.retain(|s| !custom::allowed(&self.allow, &s.class, &text[s.start..s.end]));
        }
        spans
    }

    /// Mask every detected value not revealed by `policy`. Returns the text
    /// borrowed (and allocates nothing) when nothing needs masking.
    ///
    /// ```
    /// use airlock_redact::{Class, Policy, Redactor};
    /// let r = Redactor::default();
    /// let p = Policy::default().reveal(Class::Email);
    /// let out = r.redact("jo@example.com, 415-555-0123", &p);
    /// assert_eq!(out.text, "jo@example.com, [PHONE]");
    /// assert_eq!(out.revealed[&Class::Email], 1);
    /// ```
    pub fn redact<'a>(&self, text: &'a str, policy: &Policy) -> Redacted<'a> {
        let spans = self.find_spans(text);
        // Built-in classes are counted in arrays first (cheap per span).
        let (mut masked_n, mut revealed_n) = ([0u32; 10], [0u32; 10]);
        let mut counts = BTreeMap::new();
        let mut revealed = BTreeMap::new();
        let mut out: Option<String> = None;
        let mut last = 0;
        for s in spans {
            let value = &text[s.start..s.end];
            let idx = s.class.builtin_index();
            match policy.mask_for(&s.class) {
                None => match idx {
                    Some(k) => revealed_n[k] += 1,
                    None => *revealed.entry(s.class).or_insert(0) += 1,
                },
                Some(mask) => {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 32));
                    o.push_str(&text[last..s.start]);
                    policy.write_mask(o, &s.class, value, mask);
                    last = s.end;
                    match idx {
                        Some(k) => masked_n[k] += 1,
                        None => *counts.entry(s.class).or_insert(0) += 1,
                    }
                }
            }
        }
        for (k, c) in Class::BUILTIN.iter().enumerate() {
            if masked_n[k] > 0 {
                counts.insert(c.clone(), masked_n[k]);
            }
            if revealed_n[k] > 0 {
                revealed.insert(c.clone(), revealed_n[k]);
            }
        }
        let text = match out {
            Some(mut o) => {
                o.push_str(&text[last..]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(text),
        };
        Redacted {
            text,
            counts,
            revealed,
        }
    }
}
