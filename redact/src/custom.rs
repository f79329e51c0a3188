//! Compiled custom detectors and the allow-list.

use regex::{Regex, RegexBuilder};

use crate::config::{ConfigError, CustomDetector, Validator};
use crate::policy::normalized;
use crate::scan::after_bullet;
use crate::{Class, Span, checks};

#[derive(Debug)]
pub(crate) struct CustomRule {
    class: Class,
    re: Regex,
    validator: Validator,
    context: Vec<Vec<u8>>,
    window: usize,
}

impl CustomRule {
    pub fn compile(d: &CustomDetector) -> Result<Self, ConfigError> {
        if !crate::class::valid_custom_name(&d.name) {
            return Err(ConfigError::BadName(d.name.clone()));
        }
        let re = RegexBuilder::new(&d.pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|source| ConfigError::BadPattern {
                name: d.name.clone(),
                source,
            })?;
        if re.is_match("") {
            return Err(ConfigError::EmptyMatch(d.name.clone()));
        }
        Ok(CustomRule {
            class: Class::Custom(d.name.clone()),
            re,
            validator: d.validator,
            context: d
                .context
                .iter()
                .filter(|w| !w.is_empty())
                .map(|w| w.as_bytes().to_vec())
                .collect(),
            window: d.window,
        })
    }

    pub fn find(&self, text: &str, out: &mut Vec<Span>) {
        let b = text.as_bytes();
        for m in self.re.find_iter(text) {
            let v = m.as_str().as_bytes();
            if v.is_empty() || after_bullet(b, m.start()) || in_token(b, m.start()) {
                continue;
            }
            let ok = match self.validator {
                Validator::None => true,
                Validator::Luhn => checks::luhn(v),
                Validator::Mod97 => checks::mod97(v),
            };
            if ok && self.context_ok(b, m.start(), m.end()) {
                out.push(Span {
                    class: self.class.clone(),
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }

    fn context_ok(&self, b: &[u8], s: usize, e: usize) -> bool {
        if self.context.is_empty() {
            return true;
        }
        let lo = s.saturating_sub(self.window);
        let hi = (e + self.window).min(b.len());
        let win = &b[lo..hi];
        self.context.iter().any(|w| {
            w.len() <= win.len() && win.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w))
        })
    }
}

/// Whether `p` is inside a `tok_…` word (a token mask).
fn in_token(b: &[u8], p: usize) -> bool {
    let mut s = p;
    while s > 0 && crate::scan::is_word(b[s - 1]) {
        s -= 1;
    }
    s < p && b[s..].starts_with(b"tok_")
}

/// Allow-list comparison in normalized form.
pub(crate) fn allowed(allow: &[String], class: &Class, value: &str) -> bool {
    allow.iter().any(|a| {
        if *class == Class::Phone {
            phone_equiv(value, a)
        } else {
            normalized(class, value).eq(normalized(class, a.trim()))
        }
    })
}

fn digits(s: &str, buf: &mut [u8; 32]) -> usize {
    let mut n = 0;
    for c in s.bytes().filter(u8::is_ascii_digit) {
        if n == 32 {
            return 33;
        }
        buf[n] = c;
        n += 1;
    }
    n
}

/// Same phone number, allowing a missing country code / trunk `0`.
fn phone_equiv(a: &str, b: &str) -> bool {
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    let (nx, ny) = (digits(a, &mut x), digits(b, &mut y));
    if nx > 32 || ny > 32 || nx == 0 || ny == 0 {
        return false;
    }
    let strip = |d: &[u8]| -> usize {
        if d.starts_with(b"00") {
            2
        } else {
            usize::from(d.starts_with(b"0"))
        }
    };
    let (x, y) = (&x[..nx], &y[..ny]);
    if x == y {
        return true;
    }
    let (x, y) = (&x[strip(x)..], &y[strip(y)..]);
    let (s, l) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    s.len() >= 7 && l.len() - s.len() <= 3 && l.ends_with(s)
}
