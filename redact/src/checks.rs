//! Check-digit algorithms and validity rules used by the detectors.
//!
//! Everything here works on byte slices and never allocates.

/// Luhn (mod 10) check over the ASCII digits of `s`; other bytes are ignored.
///
/// ```
/// assert!(airlock_redact::checks::luhn(b"4242 4242 4242 4242"));
/// assert!(!airlock_redact::checks::luhn(b"4242 4242 4242 4241"));
/// ```
pub fn luhn(s: &[u8]) -> bool {
    // Value of a digit in an even position from the right (doubled).
    const DOUBLED: [u8; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let mut sum = 0u32;
    let mut double = false;
    let mut n = 0;
    for &b in s.iter().rev() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            continue;
        }
        sum += u32::from(if double { DOUBLED[d as usize] } else { d });
        double = !double;
        n += 1;
    }
    n > 1 && sum.is_multiple_of(10)
}

/// ISO 7064 mod-97-10 check as used by IBAN: the first four alphanumerics are
/// moved to the end, letters become 10..35, and the number must be ≡ 1 mod 97.
/// Separators (anything not alphanumeric) are ignored; letters are case-insensitive.
///
/// ```
/// assert!(airlock_redact::checks::mod97(b"ES91 2100 0418 4502 0005 1332"));
/// assert!(!airlock_redact::checks::mod97(b"ES92 2100 0418 4502 0005 1332"));
/// ```
pub fn mod97(s: &[u8]) -> bool {
    // Digit/letter values, 255 for separators.
    const VAL: [u8; 256] = {
        let mut t = [255u8; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            if c.is_ascii_digit() {
                t[i] = c - b'0';
            } else if c.is_ascii_uppercase() {
                t[i] = c - b'A' + 10;
            } else if c.is_ascii_lowercase() {
                t[i] = c - b'a' + 10;
            }
            i += 1;
        }
        t
    };
    #[inline]
    fn feed(rem: u64, v: u8) -> u64 {
        if v >= 10 {
            rem * 100 + u64::from(v)
        } else {
            rem * 10 + u64::from(v)
        }
    }
    let mut head = [0u8; 4];
    let mut n = 0;
    // Reduced every 8 values: rem stays below 97 * 100^8 < 2^64.
    let mut rem = 0u64;
    let mut pending = 0;
    for &c in s {
        let v = VAL[c as usize];
        if v == 255 {
            continue;
        }
        if n < 4 {
            head[n] = v;
        } else {
            rem = feed(rem, v);
            pending += 1;
            if pending == 8 {
                rem %= 97;
                pending = 0;
            }
        }
        n += 1;
    }
    if n < 5 {
        return false;
    }
    for v in head {
        rem = feed(rem % 97, v);
    }
    rem % 97 == 1
}

/// IBAN registry: country code and total IBAN length.
///
/// ```
/// assert!(airlock_redact::checks::IBAN_LENGTHS.iter().any(|(c, n)| *c == b"DE" && *n == 22));
/// ```
#[rustfmt::skip]
pub const IBAN_LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BI", 27), (b"BR", 29), (b"BY", 28),
    (b"CH", 21), (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DJ", 27),
    (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18),
    (b"FK", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23),
    (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HN", 28), (b"HR", 21), (b"HU", 28),
    (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27), (b"JO", 30),
    (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32), (b"LI", 21), (b"LT", 20),
    (b"LU", 20), (b"LV", 21), (b"LY", 25), (b"MC", 27), (b"MD", 24), (b"ME", 22),
    (b"MK", 19), (b"MN", 20), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28),
    (b"NL", 18), (b"NO", 15), (b"OM", 23), (b"PK", 24), (b"PL", 28), (b"PS", 29),
    (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"RU", 33), (b"SA", 24),
    (b"SC", 31), (b"SD", 18), (b"SE", 24), (b"SI", 19), (b"SK", 24), (b"SM", 27),
    (b"SO", 23), (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24), (b"TR", 26),
    (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20), (b"YE", 30),
];

/// Total IBAN length for a two-letter country code (case-insensitive).
///
/// ```
/// assert_eq!(airlock_redact::checks::iban_length(b"es"), Some(24));
/// assert_eq!(airlock_redact::checks::iban_length(b"ZZ"), None);
/// ```
pub fn iban_length(cc: &[u8]) -> Option<usize> {
    // Lengths indexed by the two letters (0 = no IBAN country).
    const BY_CODE: [u8; 26 * 26] = {
        let mut t = [0u8; 26 * 26];
        let mut k = 0;
        while k < IBAN_LENGTHS.len() {
            let (c, n) = IBAN_LENGTHS[k];
            t[(c[0] - b'A') as usize * 26 + (c[1] - b'A') as usize] = n;
            k += 1;
        }
        t
    };
    if cc.len() != 2 || !cc[0].is_ascii_alphabetic() || !cc[1].is_ascii_alphabetic() {
        return None;
    }
    let ix = |c: u8| usize::from(c.to_ascii_uppercase() - b'A');
    match BY_CODE[ix(cc[0]) * 26 + ix(cc[1])] {
        0 => None,
        n => Some(usize::from(n)),
    }
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

/// Card network prefix and length check on a digits-only slice.
///
/// Covers Visa, Mastercard (51–55 and 2221–2720), Amex, Discover, JCB,
/// Diners Club, UnionPay and Maestro.
///
/// ```
/// assert!(airlock_redact::checks::card_brand_ok(b"2223000048400011"));
/// assert!(!airlock_redact::checks::card_brand_ok(b"2024031512304512"));
/// ```
pub fn card_brand_ok(d: &[u8]) -> bool {
    let n = d.len();
    if !(12..=19).contains(&n) {
        return false;
    }
    let p2 = || num(&d[..2]);
    let p3 = || num(&d[..3]);
    let p4 = || num(&d[..4]);
    let p6 = || num(&d[..6]);
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),
        b'2' => n == 16 && (2221..=2720).contains(&p4()),
        b'5' => {
            ((51..=55).contains(&p2()) && n == 16)
                || ((p2() == 50 || (56..=58).contains(&p2())) && n >= 12)
        }
        b'3' => {
            ((p2() == 34 || p2() == 37) && n == 15)
                || ((3528..=3589).contains(&p4()) && n >= 16)
                || (((300..=305).contains(&p3())
                    || p4() == 3095
                    || p2() == 36
                    || p2() == 38
                    || p2() == 39)
                    && n >= 14)
        }
        b'6' => {
            let discover = p4() == 6011
                || (644..=649).contains(&p3())
                || p2() == 65
                || (622126..=622925).contains(&p6());
            let unionpay = p2() == 62;
            let maestro = matches!(p4(), 6304 | 6390 | 6759 | 6761 | 6762 | 6763) || p2() == 67;
            ((discover || unionpay) && n >= 16) || maestro
        }
        _ => false,
    }
}

/// US SSN rules on the three digit groups (area, group, serial).
///
/// ```
/// assert!(airlock_redact::checks::ssn_ok(b"123", b"45", b"6789"));
/// assert!(!airlock_redact::checks::ssn_ok(b"666", b"45", b"6789"));
/// ```
pub fn ssn_ok(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    let a = num(area);
    a != 0 && a != 666 && a < 900 && num(group) != 0 && num(serial) != 0
}

/// Canadian SIN: nine digits, Luhn-valid, first digit not 0 or 8.
///
/// ```
/// assert!(airlock_redact::checks::sin_ok(b"046454286") == false);
/// assert!(airlock_redact::checks::sin_ok(b"130692544"));
/// ```
pub fn sin_ok(d: &[u8]) -> bool {
    d.len() == 9 && d[0] != b'0' && d[0] != b'8' && luhn(d)
}

/// UK National Insurance number prefix/suffix rules (uppercase input).
///
/// ```
/// assert!(airlock_redact::checks::nino_ok(b'A', b'B', b'C'));
/// assert!(!airlock_redact::checks::nino_ok(b'G', b'B', b'C'));
/// ```
pub fn nino_ok(p0: u8, p1: u8, suffix: u8) -> bool {
    if !p0.is_ascii_uppercase() || !p1.is_ascii_uppercase() || !(b'A'..=b'D').contains(&suffix) {
        return false;
    }
    if b"DFIQUV".contains(&p0) || b"DFIOQUV".contains(&p1) {
        return false;
    }
    !matches!(
        &[p0, p1],
        b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
    )
}

/// Plausible calendar date (year 1900–2099).
///
/// ```
/// assert!(airlock_redact::checks::date_ok(1985, 2, 28));
/// assert!(!airlock_redact::checks::date_ok(1985, 2, 30));
/// ```
pub fn date_ok(y: u32, m: u32, d: u32) -> bool {
    if !(1900..=2099).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let max = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= max
}

/// Month number for an English month name or three-letter abbreviation.
///
/// ```
/// assert_eq!(airlock_redact::checks::month_name(b"March"), Some(3));
/// assert_eq!(airlock_redact::checks::month_name(b"sep"), Some(9));
/// ```
pub fn month_name(w: &[u8]) -> Option<u32> {
    #[rustfmt::skip]
    const M: [&[u8]; 12] = [
        b"january", b"february", b"march", b"april", b"may", b"june", b"july", b"august",
        b"september", b"october", b"november", b"december",
    ];
    if w.len() < 3 {
        return None;
    }
    for (i, name) in M.iter().enumerate() {
        let full = w.len() == name.len() && w.eq_ignore_ascii_case(name);
        let abbr = w.len() == 3 && w.eq_ignore_ascii_case(&name[..3]);
        let sept = w.len() == 4 && i == 8 && w.eq_ignore_ascii_case(b"sept");
        if full || abbr || sept {
            return Some(i as u32 + 1);
        }
    }
    None
}
