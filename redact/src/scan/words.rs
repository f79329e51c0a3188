//! Word-started detectors: IBAN, NINO, credential tokens, `key=value`
//! secrets, labelled dates of birth, IPv6; plus email (`@`) and private keys.

use super::numeric::ipv4_at;
use super::{BULLET, Out, after_bullet, at, find, is_word, word_end};
use crate::Class;
use crate::checks::{date_ok, iban_length, mod97, month_name, nino_ok};

fn starts_ci(b: &[u8], p: usize, pat: &[u8]) -> bool {
    b.len() >= p + pat.len() && b[p..p + pat.len()].eq_ignore_ascii_case(pat)
}

/// Extend from `p` over bytes accepted by `f`.
fn ext(b: &[u8], mut p: usize, f: impl Fn(u8) -> bool) -> usize {
    while p < b.len() && f(b[p]) {
        p += 1;
    }
    p
}

/// `ext` over base64url bytes, stopping before a `-----` run (a PEM fence).
fn ext_b64(b: &[u8], p: usize, f: impl Fn(u8) -> bool) -> usize {
    let e = ext(b, p, f);
    find(&b[p..e], b"-----").map_or(e, |d| p + d)
}

fn b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Entry point at the start of a word that begins with a letter or `_`.
/// `end` is the end of the word (`word_end(b, i)`).
pub(super) fn scan_word(b: &[u8], i: usize, end: usize, out: &mut Out) -> usize {
    debug_assert_eq!(end, word_end(b, i));
    if after_bullet(b, i) {
        return end;
    }
    let w = &b[i..end];
    if let Some(e) = token(b, i, end)
        && find(&b[i..e], b"tok_").is_none()
    {
        out.emit(Class::Secret, i, e);
        return e;
    }
    if w.len() >= 2 && w[0].is_ascii_alphabetic() && w[1].is_ascii_alphabetic() {
        if w.len() >= 4
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
            && let Some(len) = iban_length(&w[..2])
            && let Some(e) = iban(b, i, end, len, out)
        {
            return e;
        }
        if let Some(e) = nino(b, i, end) {
            out.emit(Class::UkNino, i, e);
            return e;
        }
    }
    let next = at(b, end);
    if next == b':'
        && w.len() <= 4
        && w.iter().all(u8::is_ascii_hexdigit)
        && let Some(e) = ipv6(b, i)
    {
        out.emit(Class::IpAddress, i, e);
        return e;
    }
    if matches!(w[0] | 0x20, b'd' | b'b')
        && let Some((s, e)) = dob(b, i, end)
    {
        out.emit(Class::DateOfBirth, s, e);
        return e;
    }
    if matches!(next, b'=' | b':' | b'"' | b'\'' | b' ')
        && let Some((s, e)) = kv_secret(b, i, end, out.spans.last().map_or(0, |x| x.end))
    {
        out.emit(Class::Secret, s, e);
        return e;
    }
    end
}

/// Credential tokens recognised by their prefix and shape.
fn token(b: &[u8], i: usize, end: usize) -> Option<usize> {
    let w = &b[i..end];
    match w[0] {
        b'A' => {
            const AWS: [&[u8]; 11] = [
                b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA",
                b"ANVA", b"APKA",
            ];
            let ok = w.len() == 20
                && AWS.iter().any(|p| w.starts_with(p))
                && w[4..]
                    .iter()
                    .all(|&c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c));
            ok.then_some(end)
        }
        b'g' => {
            const GH: [&[u8]; 5] = [b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"];
            if w.len() >= 40 && w.starts_with(b"github_pat_") {
                return Some(end);
            }
            if w.len() >= 40
                && GH.iter().any(|p| w.starts_with(p))
                && w[4..].iter().all(u8::is_ascii_alphanumeric)
            {
                return Some(end);
            }
            if matches!(w, b"glpat" | b"glptt" | b"gldt" | b"glrt" | b"glcbt") && at(b, end) == b'-'
            {
                let e = ext_b64(b, end + 1, b64url);
                return (e - end > 20 && !b[end + 1..].starts_with(b"tok_")).then_some(e);
            }
            None
        }
        b'x' => {
            if matches!(
                w,
                b"xoxb" | b"xoxp" | b"xoxa" | b"xoxr" | b"xoxs" | b"xoxe" | b"xapp"
            ) && at(b, end) == b'-'
            {
                let mut e = ext_b64(b, end + 1, |c| c.is_ascii_alphanumeric() || c == b'-');
                while b[e - 1] == b'-' {
                    e -= 1;
                }
                return (e - end > 10).then_some(e);
            }
            None
        }
        b's' | b'r' | b'w' => {
            const ST: [&[u8]; 5] = [
                b"sk_live_",
                b"sk_test_",
                b"rk_live_",
                b"rk_test_",
                b"whsec_",
            ];
            ST.iter()
                .find(|p| w.starts_with(p))
                .and_then(|p| (w.len() >= p.len() + 16).then_some(end))
        }
        b'e' if w.starts_with(b"eyJ") => {
            let e1 = ext_b64(b, i, b64url);
            if e1 - i < 10 || at(b, e1) != b'.' || !b[e1 + 1..].starts_with(b"eyJ") {
                return None;
            }
            let e2 = ext_b64(b, e1 + 1, b64url);
            if e2 - e1 < 10 || at(b, e2) != b'.' {
                return None;
            }
            let e3 = ext_b64(b, e2 + 1, b64url);
            (e3 > e2 + 1).then_some(e3)
        }
        _ => None,
    }
}

/// IBAN, compact or in groups of four, of exactly the registry length.
/// Returns the consumed end when the text is IBAN-shaped (even with a bad
/// checksum, so its digits are not re-read as cards or phones).
fn iban(b: &[u8], i: usize, end: usize, len: usize, out: &mut Out) -> Option<usize> {
    let w = end - i;
    if w == len {
        if !b[i..end].iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        if mod97(&b[i..end]) {
            out.emit(Class::Iban, i, end);
        }
        return Some(end);
    }
    if w != 4 {
        return None;
    }
    let mut count = 4;
    let mut j = end;
    while count < len && at(b, j) == b' ' && at(b, j + 1).is_ascii_alphanumeric() {
        let ge = word_end(b, j + 1);
        let gl = ge - (j + 1);
        if gl > 4 || count + gl > len || (gl < 4 && count + gl != len) {
            return None;
        }
        if !b[j + 1..ge].iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        count += gl;
        j = ge;
    }
    if count != len {
        return None;
    }
    if mod97(&b[i..j]) {
        out.emit(Class::Iban, i, j);
    }
    Some(j)
}

/// UK NINO: `AB123456C` or `AB 12 34 56 C`.
fn nino(b: &[u8], i: usize, end: usize) -> Option<usize> {
    let w = &b[i..end];
    if w.len() == 9 && w[2..8].iter().all(u8::is_ascii_digit) && nino_ok(w[0], w[1], w[8]) {
        return Some(end);
    }
    if w.len() == 2 && b.len() >= end + 11 {
        let t = &b[end..end + 11];
        let shape = t[0] == b' '
            && t[3] == b' '
            && t[6] == b' '
            && t[9] == b' '
            && [1, 2, 4, 5, 7, 8].iter().all(|&k| t[k].is_ascii_digit());
        if shape && !is_word(at(b, end + 11)) && nino_ok(w[0], w[1], t[10]) {
            return Some(end + 11);
        }
    }
    None
}

/// IPv6 address starting at `p` (which is a hex digit or `::`). An address never
/// starts right after a colon, nor ends glued to more colons: inside a longer
/// colon-separated token (`11::1::`, `2::::0`, which are no addresses) no part of it is
/// one, so redacting twice masks nothing more.
pub(super) fn ipv6(b: &[u8], p: usize) -> Option<usize> {
    if p > 0 && b[p - 1] == b':' {
        return None;
    }
    let mut j = p;
    let mut groups = 0;
    let mut double = false;
    let mut has_digit = false;
    if b[j..].starts_with(b"::") {
        double = true;
        j += 2;
    }
    loop {
        let k = ext(b, j, |c| c.is_ascii_hexdigit());
        let hl = k - j;
        if hl == 0 {
            break;
        }
        if hl > 4 {
            return None;
        }
        if at(b, k) == b'.' {
            if let Some(e) = ipv4_at(b, j).filter(|_| groups <= 6 && (groups > 0 || double)) {
                j = e;
                groups += 2;
                has_digit = true;
                break;
            }
            if at(b, k + 1).is_ascii_digit() {
                return None;
            }
        }
        has_digit |= b[j..k].iter().any(u8::is_ascii_digit);
        groups += 1;
        j = k;
        if at(b, j) == b':' && at(b, j + 1) == b':' {
            if double {
                return None;
            }
            double = true;
            j += 2;
        } else if at(b, j) == b':' && at(b, j + 1).is_ascii_hexdigit() {
            j += 1;
        } else {
            break;
        }
    }
    let valid = if double {
        (1..=7).contains(&groups)
    } else {
        groups == 8
    };
    // Nor does one end glued to more of a colon-run (`2::` of `2::::0`).
    let glued = at(b, j) == b':' && (at(b, j + 1) == b':' || at(b, j + 1).is_ascii_hexdigit());
    if !valid || glued || is_word(at(b, j)) || (double && groups < 3 && !has_digit) {
        return None;
    }
    Some(j)
}

/// `::` at a word boundary may start an IPv6 address (`::1`, `::ffff:10.0.0.1`).
pub(super) fn colon(b: &[u8], i: usize, out: &mut Out) -> usize {
    if at(b, i + 1) == b':'
        && (i == 0 || !is_word(b[i - 1]))
        && !after_bullet(b, i)
        && let Some(e) = ipv6(b, i)
    {
        out.emit(Class::IpAddress, i, e);
        return e;
    }
    i + 1
}

/// Email address around the `@` at `a`.
pub(super) fn email(b: &[u8], a: usize, out: &mut Out) -> usize {
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let floor = out.spans.last().map_or(0, |x| x.end);
    let mut s = a;
    while s > floor && a - s < 64 && local(b[s - 1]) {
        s -= 1;
    }
    if s > floor && local(b[s - 1]) {
        return a + 1; // local part longer than 64: not an address
    }
    while s < a && b[s] == b'.' {
        s += 1;
    }
    // Not glued to an IPv6-looking `::` on the left, not a mask.
    let after_colons = s >= 2 && b[s - 1] == b':' && b[s - 2] == b':';
    if s == a
        || b[a - 1] == b'.'
        || after_bullet(b, s)
        || after_colons
        || b[s..].starts_with(b"tok_")
    {
        return a + 1;
    }
    let mut j = a + 1;
    let mut labels = 0;
    let mut end = j;
    let mut last = j;
    loop {
        let ls = j;
        j = ext(b, j, |c| c.is_ascii_alphanumeric() || c == b'-');
        // "---" never occurs in a hostname; it starts e.g. a PEM block.
        if let Some(d) = find(&b[ls..j], b"---") {
            j = ls + d;
        }
        if j == ls || b[ls] == b'-' || b[j - 1] == b'-' {
            break;
        }
        labels += 1;
        end = j;
        last = ls;
        if at(b, j) == b'.' && at(b, j + 1).is_ascii_alphanumeric() {
            j += 1;
        } else {
            break;
        }
    }
    let tld = &b[last..end];
    if labels < 2
        || tld.len() < 2
        || !tld.iter().all(u8::is_ascii_alphabetic)
        || is_word(at(b, end))
        || at(b, end) == b'@'
    {
        return a + 1;
    }
    out.emit(Class::Email, s, end);
    end
}

/// `-----BEGIN ... PRIVATE KEY-----` through the matching END line (or the
/// end of the text when the block is truncated).
pub(super) fn private_key(b: &[u8], i: usize, out: &mut Out) -> usize {
    if at(b, i + 1) != b'-' || !b[i..].starts_with(b"-----BEGIN ") {
        return i + 1;
    }
    let hs = i + 11;
    let lim = (hs + 80).min(b.len());
    let Some(h) = find(&b[hs..lim], b"-----") else {
        return i + 1;
    };
    if find(&b[hs..hs + h], b"PRIVATE KEY").is_none() {
        return i + 1;
    }
    let body = hs + h + 5;
    let end = match find(&b[body..], b"-----END ") {
        Some(k) => {
            let e0 = body + k + 9;
            let lim = (e0 + 80).min(b.len());
            find(&b[e0..lim], b"-----").map_or(lim, |x| e0 + x + 5)
        }
        None => b.len(),
    };
    out.emit(Class::Secret, i, end);
    end
}

const KEYS: [&[u8]; 18] = [
    b"password",
    b"passwd",
    b"pwd",
    b"pass",
    b"passphrase",
    b"secret",
    b"token",
    b"api_key",
    b"apikey",
    b"api-key",
    b"access_key",
    b"secret_key",
    b"private_key",
    b"client_secret",
    b"auth_token",
    b"access_token",
    b"authorization",
    b"credentials",
];

/// `password=value`, `api_key: value`, `"token": "value"`: the value span. The key
/// does not reach back into a span found before it (ending at `floor`): after an
/// email, `.-password` is a key of its own, as it is once the email is masked.
fn kv_secret(b: &[u8], i: usize, end: usize, floor: usize) -> Option<(usize, usize)> {
    let mut p = end;
    if matches!(at(b, p), b'"' | b'\'') {
        p += 1;
    }
    if at(b, p) == b' ' {
        p += 1;
    }
    let sep = at(b, p);
    if !(sep == b'=' || sep == b':') || at(b, p + 1) == b':' {
        return None;
    }
    let mut ks = i;
    while ks > floor && i - ks < 64 && (is_word(b[ks - 1]) || matches!(b[ks - 1], b'-' | b'.')) {
        ks -= 1;
    }
    if ks > 0 && b[ks - 1] == b'@' {
        return None; // an email domain, not a key
    }
    let key = &b[ks..end];
    let key_ok = KEYS.iter().any(|k| {
        key.len() >= k.len()
            && key[key.len() - k.len()..].eq_ignore_ascii_case(k)
            && (key.len() == k.len() || matches!(key[key.len() - k.len() - 1], b'_' | b'-' | b'.'))
    });
    if !key_ok {
        return None;
    }
    p += 1;
    while at(b, p) == b' ' && p < end + 6 {
        p += 1;
    }
    let q = at(b, p);
    let quoted = q == b'"' || q == b'\'';
    let (mut vs, mut ve);
    if quoted {
        vs = p + 1;
        ve = ext(b, vs, |c| c != q && c != b'\n');
        ve = ve.min(vs + 512);
    } else {
        let stop = |c: u8| {
            c.is_ascii_whitespace() || matches!(c, b'&' | b',' | b';' | b'"' | b'\'' | b'<' | b'>')
        };
        vs = p;
        ve = ext(b, vs, |c| !stop(c)).min(vs + 512);
        if (b[vs..ve].eq_ignore_ascii_case(b"bearer") || b[vs..ve].eq_ignore_ascii_case(b"basic"))
            && at(b, ve) == b' '
        {
            vs = ve + 1;
            ve = ext(b, vs, |c| !stop(c)).min(vs + 512);
        }
        let raw = &b[vs..ve];
        if raw.first() == Some(&b'[') && raw.contains(&b']') {
            return None; // already a label mask
        }
        while ve > vs && matches!(b[ve - 1], b'.' | b')' | b']' | b'}') {
            ve -= 1;
        }
    }
    let v = &b[vs..ve];
    if v.is_empty()
        || v.starts_with(b"tok_")
        || find(v, BULLET).is_some()
        || (v[0] == b'[' && v[v.len() - 1] == b']')
    {
        return None;
    }
    // Placeholders (`{token}`, `${API_KEY}`, `<password>`) and punctuation-only
    // values (closing code) are not secrets.
    if matches!(v[0], b'{' | b'$' | b'<' | b'%') || !v.iter().any(u8::is_ascii_alphanumeric) {
        return None;
    }
    if !quoted && sep == b':' && v.len() < 16 && v.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    // Do not cut a multi-byte character.
    while ve < b.len() && (b[ve] & 0xC0) == 0x80 {
        ve += 1;
    }
    Some((vs, ve))
}

/// A labelled date of birth: `DOB: 1985-03-12`, `born on 12/03/1985`,
/// `date of birth 12 March 1985`. Returns the date span.
fn dob(b: &[u8], i: usize, end: usize) -> Option<(usize, usize)> {
    let w = &b[i..end];
    let mut p = if w.eq_ignore_ascii_case(b"dob")
        || w.eq_ignore_ascii_case(b"birthdate")
        || w.eq_ignore_ascii_case(b"birthday")
        || w.eq_ignore_ascii_case(b"born")
    {
        end
    } else if w.eq_ignore_ascii_case(b"date") && starts_ci(b, end, b" of birth") {
        end + 9
    } else if w.eq_ignore_ascii_case(b"birth") && starts_ci(b, end, b" date") {
        end + 5
    } else if w == b"D" && starts_ci(b, end, b".O.B") {
        end + 4
    } else {
        return None;
    };
    let skip = |mut p: usize| {
        let lim = p + 6;
        while p < lim && matches!(at(b, p), b' ' | b':' | b'-' | b'=' | b'.' | b'\t') {
            p += 1;
        }
        p
    };
    p = skip(p);
    if starts_ci(b, p, b"on ") || starts_ci(b, p, b"is ") {
        p = skip(p + 3);
    }
    parse_date(b, p).map(|e| (p, e))
}

/// Number at `p`: (value, digit count).
fn num_at(b: &[u8], p: usize) -> (u32, usize) {
    let e = ext(b, p, |c| c.is_ascii_digit());
    if e - p > 4 {
        return (0, 9);
    }
    (
        b[p..e].iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0')),
        e - p,
    )
}

fn parse_date(b: &[u8], p: usize) -> Option<usize> {
    let c = at(b, p);
    if c.is_ascii_digit() {
        let (n1, l1) = num_at(b, p);
        let j = p + l1;
        let s1 = at(b, j);
        if matches!(s1, b'-' | b'/' | b'.') && at(b, j + 1).is_ascii_digit() {
            let (n2, l2) = num_at(b, j + 1);
            let k = j + 1 + l2;
            if l2 > 2 || at(b, k) != s1 || !at(b, k + 1).is_ascii_digit() {
                return None;
            }
            let (n3, l3) = num_at(b, k + 1);
            let e = k + 1 + l3;
            let ok = if l1 == 4 && l3 <= 2 {
                date_ok(n1, n2, n3)
            } else if l1 <= 2 && (l3 == 4 || l3 == 2) {
                let y = if l3 == 2 {
                    if n3 > 30 { 1900 + n3 } else { 2000 + n3 }
                } else {
                    n3
                };
                date_ok(y, n2, n1) || date_ok(y, n1, n2)
            } else {
                false
            };
            return (ok && !is_word(at(b, e))).then_some(e);
        }
        if l1 > 2 {
            return None;
        }
        let mut j = skip_ordinal(b, j);
        if at(b, j) != b' ' {
            return None;
        }
        let me = word_end(b, j + 1);
        let m = month_name(&b[j + 1..me])?;
        j = me;
        if at(b, j) == b',' {
            j += 1;
        }
        if at(b, j) != b' ' {
            return None;
        }
        let (y, ly) = num_at(b, j + 1);
        let e = j + 1 + ly;
        return (ly == 4 && date_ok(y, m, n1) && !is_word(at(b, e))).then_some(e);
    }
    if !c.is_ascii_alphabetic() {
        return None;
    }
    let me = word_end(b, p);
    let m = month_name(&b[p..me])?;
    if at(b, me) != b' ' {
        return None;
    }
    let (d, ld) = num_at(b, me + 1);
    if ld == 0 || ld > 2 {
        return None;
    }
    let mut j = skip_ordinal(b, me + 1 + ld);
    if at(b, j) == b',' {
        j += 1;
    }
    if at(b, j) != b' ' {
        return None;
    }
    let (y, ly) = num_at(b, j + 1);
    let e = j + 1 + ly;
    (ly == 4 && date_ok(y, m, d) && !is_word(at(b, e))).then_some(e)
}

fn skip_ordinal(b: &[u8], j: usize) -> usize {
    for suf in [b"st", b"nd", b"rd", b"th"] {
        if starts_ci(b, j, suf) && !is_word(at(b, j + 2)) {
            return j + 2;
        }
    }
    j
}
