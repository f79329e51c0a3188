//! What to do with each detected class: reveal it or mask it, and how.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Class;

/// How a detected value is replaced.
///
/// ```
/// use airlock_redact::Mask;
/// let m: Mask = serde_json::from_str("\"partial\"").unwrap();
/// assert_eq!(m, Mask::Partial);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mask {
    /// `[CARD]`, `[SSN]`, `[CUSTOM:name]`, ...
    #[default]
    Label,
    /// Alphanumerics replaced by `•` except the last four (kept only when the
    /// value has at least eight, and never for secrets); separators kept: `••••-••••-••••-4242`.
    /// Emails keep their domain: `••••••@example.com`.
    Partial,
    /// Deterministic keyed token `tok_card_7f3a9c01b2d4e5f6`: HMAC-SHA256 over
    /// (scope, class, normalized value) with the policy's key, truncated to 64 bits.
    Token,
}

/// Per-request redaction policy: which classes an admin approved to reveal,
/// which mask each other class gets, and the token key and scope.
///
/// ```
/// use airlock_redact::{Class, Mask, Policy};
/// let p = Policy::new([7u8; 32], "tenant-1/inst-9")
///     .reveal(Class::Email)
///     .with_mask(Class::CreditCard, Mask::Partial);
/// assert_eq!(p.mask_for(&Class::Email), None);
/// assert_eq!(p.mask_for(&Class::CreditCard), Some(Mask::Partial));
/// assert_eq!(p.mask_for(&Class::Phone), Some(Mask::Label));
/// ```
#[derive(Clone)]
pub struct Policy {
    reveal: BTreeSet<Class>,
    masks: BTreeMap<Class, Mask>,
    default_mask: Mask,
    token_key: [u8; 32],
    token_scope: String,
    /// `mask_for` of each built-in class, kept in sync by the builders.
    builtin: [Option<Mask>; 10],
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("reveal", &self.reveal)
            .field("masks", &self.masks)
            .field("default_mask", &self.default_mask)
            .field("token_scope", &self.token_scope)
            .finish_non_exhaustive()
    }
}

impl Default for Policy {
    /// Everything masked with labels; an all-zero token key and empty scope.
    fn default() -> Self {
        Policy::new([0; 32], "")
    }
}

impl Policy {
    /// A policy that masks everything with [`Mask::Label`], with the token key
    /// and scope (e.g. `"tenant/installation"`) used by [`Mask::Token`].
    ///
    /// ```
    /// let p = airlock_redact::Policy::new([1; 32], "acme/42");
    /// assert_eq!(p.scope(), "acme/42");
    /// ```
    pub fn new(token_key: [u8; 32], scope: impl Into<String>) -> Self {
        Policy {
            reveal: BTreeSet::new(),
            masks: BTreeMap::new(),
            default_mask: Mask::Label,
            token_key,
            token_scope: scope.into(),
            builtin: [Some(Mask::Label); 10],
        }
    }

    fn sync(mut self) -> Self {
        for (k, c) in Class::BUILTIN.iter().enumerate() {
            self.builtin[k] = self.mask_for_slow(c);
        }
        self
    }

    /// Reveal `class` raw (an admin-approved grant).
    ///
    /// ```
    /// use airlock_redact::{Class, Policy};
    /// assert!(Policy::default().reveal(Class::Phone).is_revealed(&Class::Phone));
    /// ```
    pub fn reveal(mut self, class: Class) -> Self {
        self.reveal.insert(class);
        self.sync()
    }

    /// Use `mask` for `class`.
    ///
    /// ```
    /// use airlock_redact::{Class, Mask, Policy};
    /// let p = Policy::default().with_mask(Class::Iban, Mask::Token);
    /// assert_eq!(p.mask_for(&Class::Iban), Some(Mask::Token));
    /// ```
    pub fn with_mask(mut self, class: Class, mask: Mask) -> Self {
        self.masks.insert(class, mask);
        self.sync()
    }

    /// Mask used for classes without an explicit entry (initially `Label`).
    ///
    /// ```
    /// use airlock_redact::{Class, Mask, Policy};
    /// let p = Policy::default().with_default_mask(Mask::Partial);
    /// assert_eq!(p.mask_for(&Class::Phone), Some(Mask::Partial));
    /// ```
    pub fn with_default_mask(mut self, mask: Mask) -> Self {
        self.default_mask = mask;
        self.sync()
    }

    /// Whether `class` is revealed raw.
    ///
    /// ```
    /// assert!(!airlock_redact::Policy::default().is_revealed(&airlock_redact::Class::Email));
    /// ```
    pub fn is_revealed(&self, class: &Class) -> bool {
        self.reveal.contains(class)
    }

    /// The mask for `class`, or `None` when it is revealed.
    ///
    /// ```
    /// use airlock_redact::{Class, Mask, Policy};
    /// assert_eq!(Policy::default().mask_for(&Class::Secret), Some(Mask::Label));
    /// ```
    pub fn mask_for(&self, class: &Class) -> Option<Mask> {
        match class.builtin_index() {
            Some(k) => self.builtin[k],
            None => self.mask_for_slow(class),
        }
    }

    fn mask_for_slow(&self, class: &Class) -> Option<Mask> {
        if self.reveal.contains(class) {
            return None;
        }
        Some(*self.masks.get(class).unwrap_or(&self.default_mask))
    }

    /// The token scope (tenant/installation).
    ///
    /// ```
    /// assert_eq!(airlock_redact::Policy::default().scope(), "");
    /// ```
    pub fn scope(&self) -> &str {
        &self.token_scope
    }

    /// The deterministic token for `value` of `class`, e.g. `tok_card_7f3a9c01b2d4e5f6`.
    /// The value is normalized first (see [`normalized`]) so formatting does not matter.
    ///
    /// ```
    /// use airlock_redact::{Class, Policy};
    /// let p = Policy::new([9; 32], "acme/1");
    /// let a = p.token(&Class::CreditCard, "4242 4242 4242 4242");
    /// assert_eq!(a, p.token(&Class::CreditCard, "4242-4242-4242-4242"));
    /// assert!(a.starts_with("tok_card_") && a.len() == "tok_card_".len() + 16);
    /// ```
    pub fn token(&self, class: &Class, value: &str) -> String {
        let mut out = String::new();
        self.write_token(&mut out, class, value);
        out
    }

    fn write_token(&self, out: &mut String, class: &Class, value: &str) {
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for i in 0..32 {
            ipad[i] ^= self.token_key[i];
            opad[i] ^= self.token_key[i];
        }
        let mut h = Sha256::new();
        h.update(ipad);
        h.update(self.token_scope.as_bytes());
        h.update([0]);
        if let Class::Custom(n) = class {
            h.update(b"custom:");
            h.update(n.as_bytes());
        } else {
            h.update(class.name().as_bytes());
        }
        h.update([0]);
        // Normalized value, hashed through a stack buffer (no allocation).
        let mut buf = [0u8; 64];
        let mut n = 0;
        for c in normalized(class, value) {
            if n == buf.len() {
                h.update(buf);
                n = 0;
            }
            buf[n] = c;
            n += 1;
        }
        h.update(&buf[..n]);
        let inner = h.finalize();
        let mut h = Sha256::new();
        h.update(opad);
        h.update(inner);
        let mac = h.finalize();
        out.push_str("tok_");
        out.push_str(class.tag());
        out.push('_');
        for b in &mac[..8] {
            let _ = write!(out, "{b:02x}");
        }
    }

    /// Append the masked form of `value` (of `class`) to `out` using `mask`.
    ///
    /// ```
    /// use airlock_redact::{Class, Mask, Policy};
    /// let p = Policy::default();
    /// let mut s = String::new();
    /// p.write_mask(&mut s, &Class::CreditCard, "4242-4242-4242-4242", Mask::Partial);
    /// assert_eq!(s, "••••-••••-••••-4242");
    /// ```
    pub fn write_mask(&self, out: &mut String, class: &Class, value: &str, mask: Mask) {
        match mask {
            Mask::Label => write_label(out, class),
            Mask::Token => self.write_token(out, class, value),
            Mask::Partial => write_partial(out, class, value),
        }
    }
}

/// Append the label mask for `class`: `[CARD]`, `[CUSTOM:name]`, ...
///
/// ```
/// let mut s = String::new();
/// airlock_redact::policy::write_label(&mut s, &airlock_redact::Class::Custom("emp".into()));
/// assert_eq!(s, "[CUSTOM:emp]");
/// ```
pub fn write_label(out: &mut String, class: &Class) {
    const LABELS: [&str; 10] = [
        "[CARD]", "[SSN]", "[NINO]", "[SIN]", "[IBAN]", "[EMAIL]", "[PHONE]", "[SECRET]", "[IP]",
        "[DOB]",
    ];
    match class {
        Class::Custom(n) => {
            out.push_str("[CUSTOM:");
            out.push_str(n);
            out.push(']');
        }
        c => out.push_str(LABELS[c.builtin_index().unwrap_or(0)]),
    }
}

fn write_partial(out: &mut String, class: &Class, value: &str) {
    if *class == Class::Email
        && let Some(at) = value.rfind('@')
    {
        value[..at].chars().for_each(|_| out.push('•'));
        out.push_str(&value[at..]);
        return;
    }
    let total = value.chars().filter(char::is_ascii_alphanumeric).count();
    // Nothing of a credential is ever kept: its tail is no safer than its head.
    let mut keep = if total >= 8 && *class != Class::Secret {
        4
    } else {
        0
    };
    if keep > 0 {
        // Keep the tail only when it directly follows a masked character or
        // one separator after it, so the kept part is recognisably masked
        // (`••••-4242`) and never re-detected on its own.
        let b = value.as_bytes();
        let mut seen = 0;
        let k = (0..b.len())
            .rev()
            .find(|&i| {
                seen += usize::from(b[i].is_ascii_alphanumeric());
                seen == keep
            })
            .unwrap_or(0);
        let ok = k >= 1
            && (b[k - 1].is_ascii_alphanumeric()
                || (k >= 2 && b"-. :/@".contains(&b[k - 1]) && b[k - 2].is_ascii_alphanumeric()));
        if !ok {
            keep = 0;
        }
    }
    let mut seen = 0;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            seen += 1;
            out.push(if seen > total - keep { c } else { '•' });
        } else if c.is_alphanumeric() {
            out.push('•');
        } else {
            out.push(c);
        }
    }
}

/// The normalized bytes of a value, used for tokens and the allow-list:
/// digits only for cards, SSN, SIN and phones; uppercase alphanumerics for
/// IBAN and NINO; lowercase for email and IP addresses; unchanged otherwise.
///
/// ```
/// use airlock_redact::{policy::normalized, Class};
/// let n: Vec<u8> = normalized(&Class::Phone, "+1 (415) 555-0123").collect();
/// assert_eq!(n, b"14155550123");
/// ```
pub fn normalized<'a>(class: &Class, value: &'a str) -> impl Iterator<Item = u8> + 'a {
    #[derive(Clone, Copy)]
    enum N {
        Digits,
        Upper,
        Lower,
        Raw,
    }
    let n = match class {
        Class::CreditCard | Class::UsSsn | Class::CaSin | Class::Phone => N::Digits,
        Class::Iban | Class::UkNino => N::Upper,
        Class::Email | Class::IpAddress => N::Lower,
        _ => N::Raw,
    };
    value.bytes().filter_map(move |b| match n {
        N::Digits => b.is_ascii_digit().then_some(b),
        N::Upper => b.is_ascii_alphanumeric().then(|| b.to_ascii_uppercase()),
        N::Lower => Some(b.to_ascii_lowercase()),
        N::Raw => Some(b),
    })
}
