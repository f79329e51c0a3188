//! Digit runs: payment cards, SSN, SIN, phone numbers and IPv4 addresses.
//!
//! A run is a sequence of digit groups joined by single separators
//! (space, `-`, `.`, `/`), optionally starting with `+` and with one
//! parenthesised group (`(415)`, `(0)`). The whole run is classified first;
//! if that fails, each sub-run with a uniform separator is tried.

use super::words::ipv6;
use super::{Out, after_bullet, at, is_word, word_end};
use crate::Class;
use crate::checks::{card_brand_ok, luhn, sin_ok, ssn_ok};

const MAXG: usize = 12;

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    len: usize,
    /// Separator byte before the group (0 for the first or after `)`).
    sep: u8,
    paren: bool,
}

impl Group {
    fn end(&self) -> usize {
        self.start + self.len + usize::from(self.paren)
    }
    fn first(&self) -> usize {
        self.start - usize::from(self.paren)
    }
}

/// Groups of a digit run (scratch space, reused across runs).
pub(super) struct Run {
    g: [Group; MAXG],
    n: usize,
    plus: bool,
}

/// Digits of the groups `g` (at most 32), written into a stack buffer.
/// Copies whole 16-byte blocks where the text allows it (a fixed-size copy
/// is a couple of vector moves; a variable one is a `memcpy` call).
fn digits<'a>(b: &[u8], g: &[Group], buf: &'a mut [u8; 48]) -> &'a [u8] {
    let mut k = 0;
    for gr in g {
        let (mut s, mut n) = (gr.start, gr.len.min(32 - k));
        while n > 0 {
            let m = n.min(16);
            if s + 16 <= b.len() {
                buf[k..k + 16].copy_from_slice(&b[s..s + 16]);
            } else {
                buf[k..k + m].copy_from_slice(&b[s..s + m]);
            }
            (k, s, n) = (k + m, s + m, n - m);
        }
    }
    &buf[..k]
}

/// End of the run of ASCII digits starting at `k`. Eight bytes at a time
/// (no data-dependent loop exit for the usual short groups).
#[inline]
pub(super) fn digit_end(b: &[u8], mut k: usize) -> usize {
    const LO: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    const ADD: u64 = 0x7676_7676_7676_7676;
    const ZERO: u64 = 0x3030_3030_3030_3030;
    while k + 8 <= b.len() {
        let w = u64::from_le_bytes(b[k..k + 8].try_into().expect("8 bytes"));
        let t = w ^ ZERO; // digits become 0..=9
        // High bit set in each byte that is not a digit (t >= 10).
        let bad = (((t & LO) + ADD) | t) & HI;
        if bad != 0 {
            return k + (bad.trailing_zeros() / 8) as usize;
        }
        k += 8;
    }
    while k < b.len() && b[k].is_ascii_digit() {
        k += 1;
    }
    k
}

/// Parse a run at `p` into `run`. Returns whether it is a clean run (not
/// too many groups, at least one group) and where scanning continues.
fn parse(b: &[u8], p: usize, run: &mut Run) -> (bool, usize) {
    run.n = 0;
    run.plus = false;
    let mut j = p;
    if b[j] == b'+' {
        run.plus = true;
        j += 1;
    }
    let mut sep = 0u8;
    let mut ok = true;
    loop {
        let paren = at(b, j) == b'(';
        let s = j + usize::from(paren);
        let k = digit_end(b, s);
        if k == s || (paren && at(b, k) != b')') {
            break;
        }
        if run.n == MAXG {
            ok = false;
        } else {
            run.g[run.n] = Group {
                start: s,
                len: k - s,
                sep,
                paren,
            };
            run.n += 1;
        }
        j = k + usize::from(paren);
        let c = at(b, j);
        let c1 = at(b, j + 1);
        if matches!(c, b' ' | b'-' | b'.' | b'/') && (c1.is_ascii_digit() || c1 == b'(') {
            sep = c;
            j += 1;
        } else if paren && c.is_ascii_digit() {
            sep = 0;
        } else {
            break;
        }
    }
    if run.n == 0 {
        return (false, p + 1);
    }
    if is_word(at(b, j)) {
        // The last group is glued to a word: drop it, keep the rest.
        if run.n > 1 && ok {
            run.n -= 1;
            return (true, run.g[run.n - 1].end());
        }
        return (false, word_end(b, j));
    }
    (ok, j)
}

pub(super) fn new_run() -> Run {
    Run {
        g: [Group::default(); MAXG],
        n: 0,
        plus: false,
    }
}

/// Entry point for a digit at a word start.
pub(super) fn scan_digits(b: &[u8], i: usize, out: &mut Out, run: &mut Run) -> usize {
    let mut we = digit_end(b, i + 1);
    // A word mixing digits and letters is skipped whole (unless IPv6).
    let mixed = is_word(at(b, we));
    if mixed {
        we = word_end(b, we);
    }
    if we - i <= 4
        && at(b, we) == b':'
        && (!mixed || b[i..we].iter().all(u8::is_ascii_hexdigit))
        && let Some(e) = ipv6(b, i)
    {
        out.emit(Class::IpAddress, i, e);
        return e;
    }
    if mixed || after_bullet(b, i) {
        return we;
    }
    // A lone group of fewer than 10 digits (no separator then a digit or
    // `(` after it) can be nothing: skip the run parser.
    let (c, c1) = (at(b, we), at(b, we + 1));
    if we - i < 10
        && !(matches!(c, b' ' | b'-' | b'.' | b'/') && (c1.is_ascii_digit() || c1 == b'('))
    {
        return we;
    }
    // Glued on the left to a word by `-`, `.`, `/` or `,` (TKT-2024-00042, v1.2.3, 1,234).
    if i >= 2 && matches!(b[i - 1], b'-' | b'.' | b'/' | b',') && is_word(b[i - 2]) {
        return parse(b, i, run).1;
    }
    let (ok, end) = parse(b, i, run);
    if ok {
        classify_run(b, run, out);
    }
    end
}

/// Entry point for `+` or `(` followed by a digit.
pub(super) fn scan_prefixed(b: &[u8], i: usize, out: &mut Out, run: &mut Run) -> usize {
    let c1 = at(b, i + 1);
    if !c1.is_ascii_digit() || (i > 0 && is_word(b[i - 1])) || after_bullet(b, i) {
        return i + 1;
    }
    let (ok, end) = parse(b, i, run);
    if ok && phone(b, &run.g[..run.n], run.plus) {
        let start = if run.plus { i } else { run.g[0].first() };
        out.emit(Class::Phone, start, run.g[run.n - 1].end());
        return end;
    }
    i + 1
}

fn classify_run(b: &[u8], run: &Run, out: &mut Out) {
    let g = &run.g[..run.n];
    if classify(b, g, out, false) {
        return;
    }
    // Try each chunk with a uniform separator, then long single groups in it.
    let mut s = 0;
    while s < g.len() {
        let mut e = s + 1;
        while e < g.len() && (e == s + 1 || g[e].sep == g[s + 1].sep) {
            e += 1;
        }
        let whole = s == 0 && e == g.len();
        if (whole || !classify(b, &g[s..e], out, e < g.len())) && e - s > 1 {
            for k in s..e {
                if g[k].len >= 10 {
                    classify(b, &g[k..=k], out, true);
                }
            }
        }
        s = e;
    }
}

/// Classify a (sub-)run; emits at most one span. Returns whether it matched.
/// `cut` says the sub-run is followed by more groups of the run.
fn classify(b: &[u8], g: &[Group], out: &mut Out, cut: bool) -> bool {
    // Cheap reject: a single group needs 10+ digits (card, mobile); several
    // groups need 9+ (SSN, SIN, card, phone) unless four (IPv4).
    // One pass over the groups: digit count, parens, the separator shared
    // by all groups after the first (0xFF if mixed) and the length layout.
    let (mut total, mut any_paren, mut shape) = (0, false, 0u32);
    let mut sep = g.get(1).map_or(0, |x| x.sep);
    for (k, x) in g.iter().enumerate() {
        total += x.len;
        any_paren |= x.paren;
        if k > 0 && x.sep != sep {
            sep = 0xFF;
        }
        if k < 4 {
            shape |= (x.len.min(255) as u32) << (8 * k);
        }
    }
    if total < 9 && g.len() != 4 || (g.len() == 1 && total < 10) {
        return false;
    }
    let mut buf = [0u8; 48];
    let d = digits(b, g, &mut buf);
    let lens = |want: [u32; 3]| g.len() == 3 && shape == want[0] | want[1] << 8 | want[2] << 16;
    let uniform = |seps: &[u8]| seps.contains(&sep);
    let start = g[0].first();
    let end = g[g.len() - 1].end();
    if g.len() == 1 {
        let n = d.len();
        if (12..=19).contains(&n) && !any_paren && card_brand_ok(d) && luhn(d) {
            out.emit(Class::CreditCard, start, end);
            return true;
        }
        let mobile = (n == 11
            && (d.starts_with(b"07")
                || d.starts_with(b"015")
                || d.starts_with(b"016")
                || d.starts_with(b"017")))
            || (n == 10 && (d.starts_with(b"06") || d.starts_with(b"07")));
        if mobile && !any_paren {
            out.emit(Class::Phone, start, end);
            return true;
        }
        return false;
    }
    if !any_paren && uniform(b"- ") {
        if lens([3, 2, 4]) && ssn_ok(&d[..3], &d[3..5], &d[5..]) {
            out.emit(Class::UsSsn, start, end);
            return true;
        }
        if lens([3, 3, 3]) && sin_ok(d) {
            out.emit(Class::CaSin, start, end);
            return true;
        }
    }
    if !any_paren
        && g.len() == 4
        && uniform(b".")
        && ipv4_groups(b, g)
        && !version_context(b, start)
    {
        out.emit(Class::IpAddress, start, end);
        return true;
    }
    if !any_paren
        && uniform(b"- ")
        && let Some(k) = card_prefix(g, d, cut)
    {
        out.emit(Class::CreditCard, start, g[k - 1].end());
        return true;
    }
    if national_phone(g, d) {
        out.emit(Class::Phone, start, end);
        return true;
    }
    false
}

/// Longest group prefix that is a valid card in a known layout. A prefix
/// shorter than the run is accepted only if the next group is not another
/// 4-digit group (so no card is cut out of a longer grouped number).
fn card_prefix(g: &[Group], d: &[u8], cut: bool) -> Option<usize> {
    let mut best = None;
    let mut total = 0;
    // A 4-grouped run of card length is judged whole (so a Luhn-failing
    // 18-digit number does not yield a 16-digit card), unless it was cut
    // from a longer run by a separator change (`4111 1111 1111 1111 12/26`).
    let all: usize = g.iter().map(|x| x.len).sum();
    let whole_shape = !cut
        && (12..=19).contains(&all)
        && g[..g.len() - 1].iter().all(|x| x.len == 4)
        && g[g.len() - 1].len <= 4;
    for k in 1..=g.len() {
        total += g[k - 1].len;
        if total > 19 {
            break;
        }
        if total < 12 {
            continue;
        }
        let gl = &g[..k];
        let fours = gl[..k - 1].iter().all(|x| x.len == 4) && gl[k - 1].len <= 4;
        let l: Shape = (gl.len(), gl[0].len, gl.get(1).map_or(0, |x| x.len));
        let amex_like = l.0 == 3 && l.1 == 4 && l.2 == 6 && (4..=5).contains(&gl[2].len);
        let tail_ok = k == g.len() || (g[k].len != 4 && !whole_shape);
        let cd = &d[..total];
        if (fours || amex_like) && tail_ok && card_brand_ok(cd) && luhn(cd) {
            best = Some(k);
        }
    }
    best
}

type Shape = (usize, usize, usize);

/// Phone number layouts: E.164 with `+`, NANP (US/CA), and trunk-prefix
/// national numbers (UK, DE, FR and similar, starting with a single 0).
fn phone(b: &[u8], g: &[Group], plus: bool) -> bool {
    let mut buf = [0u8; 48];
    if plus {
        // Ignore a "(0)" trunk group in "+44 (0)20 ...".
        let mut n = 0;
        for x in g {
            if !(x.paren && x.len == 1 && b[x.start] == b'0') {
                for &c in &b[x.start..x.start + x.len] {
                    if n < 32 {
                        buf[n] = c;
                        n += 1;
                    }
                }
            }
        }
        let d = &buf[..n];
        if !(8..=15).contains(&n) || d[0] == b'0' || g.iter().any(|x| x.sep == b'/') {
            return false;
        }
        return d[0] != b'1' || (n == 11 && nanp(&d[1..]));
    }
    national_phone(g, digits(b, g, &mut buf))
}

/// [`phone`] without `+`, given the digits `d` of the groups `g`.
fn national_phone(g: &[Group], d: &[u8]) -> bool {
    let lens: Shape = (g.len(), g[0].len, g.get(1).map_or(0, |x| x.len));
    if g.iter().skip(1).any(|x| x.paren) || g.len() < 2 {
        return false;
    }
    // NANP: (415) 555-0123, 415-555-0123, 415.555.0123, 1-415-555-0123.
    let nanp_layout = (lens == (3, 3, 3) && g[2].len == 4)
        || (lens.0 == 4
            && d[0] == b'1'
            && g[0].len == 1
            && g[1].len == 3
            && g[2].len == 3
            && g[3].len == 4);
    if nanp_layout && !g.iter().any(|x| x.sep == b'/') {
        let nd = if d.len() == 11 { &d[1..] } else { d };
        return nanp(nd);
    }
    // Trunk-prefix national numbers, uniform separators; `/` only as in 030/1234567.
    let seps_ok = g[1..].iter().all(|x| x.sep == g[1].sep) && (g[1].sep != b'/' || g.len() == 2);
    seps_ok
        && (10..=12).contains(&d.len())
        && d[0] == b'0'
        && d[1] != b'0'
        && (2..=5).contains(&g[0].len)
        && g.iter().all(|x| x.len >= 2)
        && !g.iter().all(|x| x.len == 4)
}

fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= b'2' && d[3] >= b'2'
}

fn ipv4_groups(b: &[u8], g: &[Group]) -> bool {
    g.iter().all(|x| {
        let s = &b[x.start..x.start + x.len];
        s.len() <= 3
            && (s.len() == 1 || s[0] != b'0')
            && s.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')) <= 255
    })
}

/// Whether the word before `start` says this is a version or section
/// number (`version 1.2.3.4`, `§2.1.3.2`), not an address.
fn version_context(b: &[u8], start: usize) -> bool {
    let mut e = start;
    while e > 0 && b[e - 1] == b' ' && start - e < 2 {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && b[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    if b[..e].ends_with("§".as_bytes()) {
        return true;
    }
    let w = &b[s..e];
    [
        &b"section"[..],
        b"sec",
        b"chapter",
        b"clause",
        b"step",
        b"version",
        b"ver",
        b"build",
        b"release",
        b"firmware",
        b"fw",
        b"rev",
        b"v",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

/// IPv4 address starting at `p` (used for the embedded form in IPv6).
pub(super) fn ipv4_at(b: &[u8], p: usize) -> Option<usize> {
    let mut j = p;
    for k in 0..4 {
        let s = j;
        while j < b.len() && b[j].is_ascii_digit() && j - s < 4 {
            j += 1;
        }
        let seg = &b[s..j];
        if seg.is_empty() || seg.len() > 3 || (seg.len() > 1 && seg[0] == b'0') {
            return None;
        }
        if seg.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')) > 255 {
            return None;
        }
        if k < 3 {
            if at(b, j) != b'.' {
                return None;
            }
            j += 1;
        }
    }
    Some(j)
}
