//! Fast skipping over bytes no detector starts at.
//!
//! A "boring" byte is a lowercase ASCII letter, a space, most punctuation or
//! a non-ASCII byte (a run may also start with a capitalised word). The scanner skips whole runs of them 16 bytes at a time
//! (SSE2 on x86_64, a scalar loop elsewhere). A run stops at any byte that
//! can start a detector or end a word in a way a detector cares about:
//! digits, uppercase letters, `_`, `@`, `+`, `(`, `-`, `:`, `=`, `"`, `'`,
//! and a `b`/`d` that starts a word (a possible `dob`/`born`/`date` label).
//! [`settle`] then steps back to the start of the word the run ended in when
//! that word still needs the word detectors.

use super::is_word;

/// Bytes that may start a run: the boring ones and uppercase letters (a
/// capitalised word), but no `b`/`d`/`B`/`D` (possible labels).
pub(super) const START: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = (inner(c) || c.is_ascii_uppercase()) && !matches!(c, b'b' | b'd' | b'B' | b'D');
        i += 1;
    }
    t
};

/// Bytes that may be skipped inside a run (`b`/`d` only mid-word).
const fn inner(c: u8) -> bool {
    if c.is_ascii_lowercase() {
        return true;
    }
    !(c.is_ascii_digit()
        || c.is_ascii_uppercase()
        || matches!(
            c,
            b'_' | b'@' | b'+' | b'(' | b'-' | b':' | b'=' | b'"' | b'\''
        ))
}

const INNER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = inner(i as u8);
        i += 1;
    }
    t
};

/// First position `>= j` (with `j >= 1`) that ends a run of boring bytes.
#[inline]
pub(super) fn run(b: &[u8], j: usize) -> usize {
    debug_assert!(j >= 1);
    #[cfg(target_arch = "x86_64")]
    let j = sse2::run(b, j);
    scalar(b, j)
}

#[inline]
fn scalar(b: &[u8], mut j: usize) -> usize {
    while j < b.len() {
        let c = b[j];
        if !INNER[c as usize] || (matches!(c, b'b' | b'd') && !b[j - 1].is_ascii_alphabetic()) {
            return j;
        }
        j += 1;
    }
    j
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::*;

    /// Every lane set to `c`.
    #[inline(always)]
    fn set(c: u8) -> __m128i {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe { _mm_set1_epi8(c as i8) }
    }

    /// Lanes whose (signed) byte lies in `lo..=hi`; bytes >= 0x80 never do.
    #[inline(always)]
    fn range(v: __m128i, lo: u8, hi: u8) -> __m128i {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, set(lo - 1)),
                _mm_cmplt_epi8(v, set(hi + 1)),
            )
        }
    }

    /// Skips whole 16-byte blocks of boring bytes; returns the position of
    /// the first non-boring byte found, or where fewer than 16 bytes remain.
    #[inline]
    pub fn run(b: &[u8], mut j: usize) -> usize {
        // The loads below read the byte before `j`: the precondition is checked, not
        // assumed, so no caller can make them read out of bounds.
        assert!(j >= 1, "a run starts after its first byte");
        // SAFETY: SSE2 is part of the x86_64 baseline. Every load reads 16
        // bytes at `j - 1` or `j` with `j >= 1` (asserted) and `j + 16 <= b.len()`.
        unsafe {
            let eq = |v: __m128i, c: u8| _mm_cmpeq_epi8(v, set(c));
            while j + 16 <= b.len() {
                let p = b.as_ptr().add(j);
                let v = _mm_loadu_si128(p.cast());
                let prev = _mm_loadu_si128(p.sub(1).cast());
                // Bytes >= 0x80 compare as negative, so no range catches them.
                let mut stop = _mm_or_si128(range(v, b'0', b':'), range(v, b'@', b'Z'));
                for c in [b'_', b'+', b'(', b'-', b'=', b'"', b'\''] {
                    stop = _mm_or_si128(stop, eq(v, c));
                }
                let bd = _mm_or_si128(eq(v, b'b'), eq(v, b'd'));
                // After a letter (the run may start with an uppercase one).
                let alpha = range(_mm_or_si128(prev, set(0x20)), b'a', b'z');
                let word_start = _mm_andnot_si128(alpha, bd);
                stop = _mm_or_si128(stop, word_start);
                let m = _mm_movemask_epi8(stop) as u32;
                if m != 0 {
                    return j + m.trailing_zeros() as usize;
                }
                j += 16;
            }
        }
        j
    }

    /// [`super::word_tail`] for `j + 16 <= b.len()`.
    #[inline]
    pub fn word_tail(b: &[u8], mut j: usize) -> (usize, bool) {
        let mut special = 0u32;
        // SAFETY: SSE2 is part of the x86_64 baseline; each load reads 16
        // bytes at `j` with `j + 16 <= b.len()` (checked before each load).
        unsafe {
            loop {
                let v = _mm_loadu_si128(b.as_ptr().add(j).cast());
                let sp = _mm_or_si128(
                    _mm_or_si128(range(v, b'0', b'9'), range(v, b'A', b'Z')),
                    _mm_cmpeq_epi8(v, set(b'_')),
                );
                let word = _mm_movemask_epi8(_mm_or_si128(sp, range(v, b'a', b'z'))) as u32;
                let n = (!word).trailing_zeros(); // 16..=32 when all are word bytes
                let sm = _mm_movemask_epi8(sp) as u32;
                if n < 16 {
                    special |= sm & ((1 << n) - 1);
                    return (j + n as usize, special != 0);
                }
                special |= sm;
                j += 16;
                if j + 16 > b.len() {
                    let (e, s) = super::word_tail(b, j);
                    return (e, s || special != 0);
                }
            }
        }
    }
}

/// End of the word bytes (ASCII alphanumerics and `_`) from `j`, and whether
/// any of them is a digit, an uppercase letter or `_`.
#[inline]
pub(super) fn word_tail(b: &[u8], j: usize) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    if j + 16 <= b.len() {
        return sse2::word_tail(b, j);
    }
    let mut j = j;
    let mut special = false;
    while j < b.len() && is_word(b[j]) {
        special |= !b[j].is_ascii_lowercase();
        j += 1;
    }
    (j, special)
}

/// Where scanning resumes after the run `b[i..j]` (`i` a dispatch position,
/// `j > i`): `j`, or the start of the word that the run ended in
/// when that word is glued to a word byte or followed by a key/value
/// separator (`:`, `=`, quotes, `-`, or one space then `=`/`:`).
#[inline]
pub(super) fn settle(b: &[u8], i: usize, j: usize) -> usize {
    if j >= b.len() {
        return j;
    }
    let c = b[j];
    let p = b[j - 1];
    // Word bytes in a run are lowercase letters, or an uppercase one at `i`.
    if is_word(p) {
        if is_word(c) || matches!(c, b':' | b'=' | b'"' | b'\'' | b'-') {
            return word_start(b, i, j);
        }
    } else if p == b' ' && matches!(c, b'=' | b':') && j >= i + 2 && is_word(b[j - 2]) {
        return word_start(b, i, j - 1);
    }
    j
}

/// Start of the word ending at `e`, not before `lo`.
#[inline]
fn word_start(b: &[u8], lo: usize, e: usize) -> usize {
    let mut s = e;
    while s > lo && is_word(b[s - 1]) {
        s -= 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector paths agree with the byte-at-a-time definitions.
    #[test]
    fn vector_and_scalar_agree() {
        let mut r = crate::corpus::Rng::new(11);
        let alphabet = b"abdxyz ABDZ09_:=-'\"@+(.,\n\xc3\xa9bd";
        for _ in 0..2000 {
            let n = 1 + r.below(70) as usize;
            let t: Vec<u8> = (0..n).map(|_| *r.pick(alphabet)).collect();
            for j in 1..t.len() {
                assert_eq!(run(&t, j), scalar(&t, j), "{:?} at {j}", t);
                let mut e = j;
                while e < t.len() && is_word(t[e]) {
                    e += 1;
                }
                let special = t[j..e].iter().any(|c| !c.is_ascii_lowercase());
                assert_eq!(word_tail(&t, j), (e, special), "{:?} at {j}", t);
            }
        }
    }
}
