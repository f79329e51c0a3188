//! The single-pass scanner for the built-in detectors.
//!
//! The text is walked once, byte by byte, with a 256-entry byte-class table.
//! Only a few byte kinds start a closer look: a digit or `+`/`(` before a
//! digit (cards, national IDs, phones, IPv4), the start of a word (IBAN, NINO,
//! token prefixes, `password=`-style keys, DOB labels, IPv6), `@` (email),
//! `-----BEGIN` (private keys) and `::` (IPv6). Whole words are consumed at
//! once, so a detector never looks at the middle of a word.

mod numeric;
mod skip;
mod words;

use crate::{Class, Span};

const K_OTHER: u8 = 0;
const K_DIGIT: u8 = 1;
const K_ALPHA: u8 = 2;
const K_AT: u8 = 3;
const K_PLUS: u8 = 4;
const K_LPAREN: u8 = 5;
const K_DASH: u8 = 6;
const K_COLON: u8 = 7;

const TABLE: [u8; 256] = {
    let mut t = [K_OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            K_DIGIT
        } else if b.is_ascii_alphabetic() || b == b'_' {
            K_ALPHA
        } else {
            match b {
                b'@' => K_AT,
                b'+' => K_PLUS,
                b'(' => K_LPAREN,
                b'-' => K_DASH,
                b':' => K_COLON,
                _ => K_OTHER,
            }
        };
        i += 1;
    }
    t
};

const F_WORD: u8 = 1;
const F_SPECIAL: u8 = 2; // digit, uppercase letter or `_`

const FLAGS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_lowercase() {
            t[i] = F_WORD;
        } else if b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'_' {
            t[i] = F_WORD | F_SPECIAL;
        }
        i += 1;
    }
    t
};

/// Whether the word `b[i..end]` (starting with a letter or `_`) can be
/// skipped without running the word detectors: a letter then lowercase
/// letters only (single letters excluded, for `D.O.B.`), not a
/// possible `dob`/`born`/`date`/`birth…` label, and not followed by a byte
/// that a key, token or IPv6 detector needs.
#[inline]
fn plain_word(b: &[u8], i: usize) -> (bool, usize) {
    let (j, special) = skip::word_tail(b, i + 1);
    // The first letter may be uppercase (sentence start, names).
    let label_like = matches!(b[i] | 0x20, b'b' | b'd') && matches!(j - i, 3..=5 | 8 | 9);
    if special || label_like || !b[i].is_ascii_alphabetic() || j - i == 1 {
        return (false, j);
    }
    let n = at(b, j);
    let special_next = matches!(n, b':' | b'=' | b'"' | b'\'' | b'-')
        || (n == b' ' && matches!(at(b, j + 1), b'=' | b':'));
    (!special_next, j)
}

/// Byte at `i`, or 0 past the end.
#[inline]
pub(crate) fn at(b: &[u8], i: usize) -> u8 {
    if i < b.len() { b[i] } else { 0 }
}

/// Word byte: ASCII alphanumeric or `_`.
#[inline]
pub(crate) fn is_word(c: u8) -> bool {
    FLAGS[c as usize] & F_WORD != 0
}

/// End of the word starting at `i`.
#[inline]
pub(crate) fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_word(b[i]) {
        i += 1;
    }
    i
}

/// First occurrence of `needle` (non-empty) in `hay`. For the short
/// haystacks of the detectors this beats building a `memmem` finder.
#[inline]
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (first, rest) = (needle[0], &needle[1..]);
    let mut from = 0;
    while hay.len() >= from + needle.len() {
        let k = from + memchr::memchr(first, &hay[from..=hay.len() - needle.len()])?;
        if hay[k + 1..].starts_with(rest) {
            return Some(k);
        }
        from = k + 1;
    }
    None
}

pub(crate) const BULLET: &[u8] = "•".as_bytes();

/// Whether position `i` directly follows a partial-mask bullet, possibly with
/// one separator in between (`••••-4242`): such text is already masked.
#[inline]
pub(crate) fn after_bullet(b: &[u8], i: usize) -> bool {
    let ends = |e: usize| e >= 3 && &b[e - 3..e] == BULLET;
    ends(i)
        || (i >= 1 && matches!(b[i - 1], b'-' | b'.' | b' ' | b':' | b'/' | b'@') && ends(i - 1))
}

/// Which built-in detectors run.
#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    pub on: [bool; 10],
}

/// Output sink shared by the detectors.
pub(crate) struct Out<'a> {
    pub scanner: &'a Scanner,
    pub spans: &'a mut Vec<Span>,
    /// Length of the text being scanned.
    pub len: usize,
}

impl Out<'_> {
    /// Record a span of a built-in class if that detector is on (and it does
    /// not overlap the previous span; only email looks backwards, bounded).
    #[inline]
    pub fn emit(&mut self, class: Class, start: usize, end: usize) {
        let idx = class.builtin_index().unwrap_or(0);
        if !self.scanner.on[idx] || start >= end {
            return;
        }
        if self.spans.last().is_some_and(|s| s.end > start) {
            return;
        }
        if self.spans.capacity() == 0 {
            // First find: size for a dense text at once (bounded), instead of
            // growing through many small reallocations.
            self.spans.reserve((self.len / 64).min(16384) + 16);
        }
        self.spans.push(Span { class, start, end });
    }
}

impl Scanner {
    /// Append the built-in spans of `text` to `spans`, sorted and non-overlapping.
    pub fn scan(&self, text: &str, spans: &mut Vec<Span>) {
        let b = text.as_bytes();
        let mut out = Out {
            scanner: self,
            spans,
            len: b.len(),
        };
        let mut i = 0;
        let mut run = numeric::new_run();
        while i < b.len() {
            if skip::START[b[i] as usize] {
                i = skip::settle(b, i, skip::run(b, i + 1));
                if i >= b.len() {
                    break;
                }
            }
            let k = TABLE[b[i] as usize];
            if k == K_OTHER {
                i += 1;
                while i < b.len() && TABLE[b[i] as usize] == K_OTHER {
                    i += 1;
                }
                continue;
            }
            // The two common kinds first, as plain branches (better predicted
            // than the jump table a single `match` compiles to).
            let next = if k == K_DIGIT {
                numeric::scan_digits(b, i, &mut out, &mut run)
            } else if k == K_ALPHA {
                match plain_word(b, i) {
                    // Step over the usual single space too.
                    (true, end) => {
                        let c = at(b, end);
                        let e = end + usize::from(matches!(c, b' ' | b'.' | b','));
                        e + usize::from(c != b' ' && at(b, e) == b' ')
                    }
                    (false, end) => words::scan_word(b, i, end, &mut out),
                }
            } else {
                match k {
                    K_AT => words::email(b, i, &mut out),
                    K_PLUS | K_LPAREN => numeric::scan_prefixed(b, i, &mut out, &mut run),
                    K_DASH => words::private_key(b, i, &mut out),
                    _ => words::colon(b, i, &mut out),
                }
            };
            debug_assert!(next > i);
            // A space is never a trigger: stepping over it saves a dispatch.
            i = next.max(i + 1);
            i += usize::from(at(b, i) == b' ');
        }
    }
}
