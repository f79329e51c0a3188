//! Generators for valid sensitive values and for near-misses.

use super::Rng;
use crate::checks::{IBAN_LENGTHS, luhn, nino_ok};

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(super) fn digits(r: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect()
}

pub(super) fn from(r: &mut Rng, set: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(*r.pick(set))).collect()
}

/// Append the Luhn check digit (or a wrong one when `valid` is false).
fn with_luhn(body: &str, valid: bool) -> String {
    for d in 0..10u8 {
        let s = format!("{body}{}", char::from(b'0' + d));
        if luhn(s.as_bytes()) == valid {
            return s;
        }
    }
    unreachable!()
}

/// Group `d` by `layout`, joined by `sep`.
fn group(d: &str, layout: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut k = 0;
    for (i, &n) in layout.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&d[k..k + n]);
        k += n;
    }
    out
}

fn card_layout(n: usize) -> Vec<usize> {
    match n {
        15 => vec![4, 6, 5],
        14 => vec![4, 6, 4],
        _ => {
            let mut v = vec![4; n / 4];
            if !n.is_multiple_of(4) {
                v.push(n % 4);
            }
            v
        }
    }
}

/// A card number of a random network; Luhn-valid unless `valid` is false.
pub(super) fn card(r: &mut Rng, valid: bool) -> String {
    let (prefix, len): (String, usize) = match r.below(10) {
        0 | 1 => ("4".into(), *r.pick(&[16, 16, 13, 19])),
        2 => (format!("{}", 51 + r.below(5)), 16),
        3 => (format!("{}", 2221 + r.below(500)), 16),
        4 => (r.pick(&["34", "37"]).to_string(), 15),
        5 => (r.pick(&["6011", "65", "644"]).to_string(), 16),
        6 => (format!("{}", 3528 + r.below(62)), 16),
        7 => (r.pick(&["36", "38", "300", "305"]).to_string(), 14),
        8 => ("62".into(), *r.pick(&[16, 17, 19])),
        _ => (
            r.pick(&["6759", "5018", "6304"]).to_string(),
            *r.pick(&[12, 13, 16, 18, 19]),
        ),
    };
    let body = format!("{prefix}{}", digits(r, len - 1 - prefix.len()));
    let d = with_luhn(&body, valid);
    match r.below(3) {
        0 => d,
        1 => group(&d, &card_layout(len), " "),
        _ => group(&d, &card_layout(len), "-"),
    }
}

/// A valid US SSN, `ddd-dd-dddd` (sometimes spaced).
pub(super) fn ssn(r: &mut Rng) -> String {
    let mut area = 1 + r.below(899);
    if area == 666 {
        area = 667;
    }
    let s = format!("{area:03}{:02}{:04}", 1 + r.below(99), 1 + r.below(9999));
    group(&s, &[3, 2, 4], if r.below(5) == 0 { " " } else { "-" })
}

/// An SSN breaking one of the rules.
pub(super) fn bad_ssn(r: &mut Rng) -> String {
    let g = format!("{:02}", 1 + r.below(99));
    let s = format!("{:04}", 1 + r.below(9999));
    match r.below(5) {
        0 => format!("000-{g}-{s}"),
        1 => format!("666-{g}-{s}"),
        2 => format!("9{:02}-{g}-{s}", r.below(100)),
        3 => format!("{:03}-00-{s}", 1 + r.below(665)),
        _ => format!("{:03}-{g}-0000", 1 + r.below(665)),
    }
}

/// A valid UK NINO, compact or spaced.
pub(super) fn nino(r: &mut Rng) -> String {
    loop {
        let (a, b) = (*r.pick(UPPER), *r.pick(UPPER));
        let suf = b"ABCD"[r.below(4) as usize];
        if !nino_ok(a, b, suf) {
            continue;
        }
        let d = digits(r, 6);
        let (a, b, suf) = (char::from(a), char::from(b), char::from(suf));
        return if r.below(2) == 0 {
            format!("{a}{b}{d}{suf}")
        } else {
            format!("{a}{b} {} {} {} {suf}", &d[..2], &d[2..4], &d[4..])
        };
    }
}

/// A Canadian SIN, `ddd-ddd-ddd` or spaced; Luhn-valid unless `valid` is false.
pub(super) fn sin(r: &mut Rng, valid: bool) -> String {
    let first = *r.pick(&["1", "2", "3", "4", "5", "6", "7", "9"]);
    let d = with_luhn(&format!("{first}{}", digits(r, 7)), valid);
    group(&d, &[3, 3, 3], if r.below(3) == 0 { " " } else { "-" })
}

fn iban_check(cc: &str, bban: &str) -> u32 {
    let mut rem = 0u32;
    for c in bban.bytes().chain(cc.bytes()).chain(*b"00") {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    98 - rem
}

/// An IBAN of a random registry country: compact or grouped, sometimes
/// lowercase; checksum valid unless `valid` is false.
pub(super) fn iban(r: &mut Rng, valid: bool) -> String {
    let (cc, len) = *r.pick(IBAN_LENGTHS);
    let cc = std::str::from_utf8(cc).unwrap();
    let n = usize::from(len) - 4;
    let bban = if matches!(cc, "GB" | "NL" | "IE" | "BG" | "MT") {
        format!("{}{}", from(r, UPPER, 4), digits(r, n - 4))
    } else {
        digits(r, n)
    };
    let mut check = iban_check(cc, &bban);
    if !valid {
        check = (check + 1 + r.below(90)) % 97;
        if check == iban_check(cc, &bban) || check < 2 {
            check = if check == 2 { 3 } else { 2 };
        }
    }
    let s = format!("{cc}{check:02}{bban}");
    let s = if r.below(2) == 0 {
        s
    } else {
        let layout = card_layout_fours(s.len());
        group(&s, &layout, " ")
    };
    if r.below(4) == 0 { s.to_lowercase() } else { s }
}

fn card_layout_fours(n: usize) -> Vec<usize> {
    let mut v = vec![4; n / 4];
    if !n.is_multiple_of(4) {
        v.push(n % 4);
    }
    v
}

/// An email address.
pub(super) fn email(r: &mut Rng) -> String {
    let first = *r.pick(&[
        "john",
        "maria",
        "li.wei",
        "o.connor",
        "jp",
        "anna-lena",
        "x",
    ]);
    let sep = *r.pick(&[".", "_", "", "+"]);
    let last = *r.pick(&["smith", "garcia", "tanaka", "support", "42", "billing"]);
    let dom = *r.pick(&[
        "example.com",
        "mail.example.co.uk",
        "acme-corp.io",
        "web.de",
        "orange.fr",
        "uni.edu",
    ]);
    format!("{first}{sep}{last}@{dom}")
}

fn nanp(r: &mut Rng) -> (String, String, String) {
    (
        format!("{}{}", 2 + r.below(8), digits(r, 2)),
        format!("{}{}", 2 + r.below(8), digits(r, 2)),
        digits(r, 4),
    )
}

/// A phone number: E.164 or a US, UK, DE or FR national format.
pub(super) fn phone(r: &mut Rng) -> String {
    let (a, e, s) = nanp(r);
    let nz = |r: &mut Rng| char::from(b'1' + r.below(9) as u8);
    match r.below(20) {
        0 => format!("+1 {a} {e} {s}"),
        1 => format!("+1 ({a}) {e}-{s}"),
        2 => format!("+1{a}{e}{s}"),
        3 => format!("({a}) {e}-{s}"),
        4 => format!("{a}-{e}-{s}"),
        5 => format!("{a}.{e}.{s}"),
        6 => format!("1-{a}-{e}-{s}"),
        7 => format!("+44 20 {} {}", digits(r, 4), digits(r, 4)),
        8 => format!("+44 7700 {}", digits(r, 6)),
        9 => format!("020 {} {}", digits(r, 4), digits(r, 4)),
        10 => format!("0161 {} {}", digits(r, 3), digits(r, 4)),
        11 => format!("07700 {}", digits(r, 6)),
        12 => format!("07{}", digits(r, 9)),
        13 => format!("+49 30 {}", digits(r, 8)),
        14 => format!("030 {}", digits(r, 8)),
        15 => format!("0151 {}", digits(r, 8)),
        16 => format!("(089) {}", digits(r, 7)),
        17 => format!(
            "+33 {} {} {} {} {}",
            nz(r),
            digits(r, 2),
            digits(r, 2),
            digits(r, 2),
            digits(r, 2)
        ),
        18 => format!(
            "0{} {} {} {} {}",
            nz(r),
            digits(r, 2),
            digits(r, 2),
            digits(r, 2),
            digits(r, 2)
        ),
        _ => format!(
            "06.{}.{}.{}.{}",
            digits(r, 2),
            digits(r, 2),
            digits(r, 2),
            digits(r, 2)
        ),
    }
}

/// A credential. Returns (prefix text, secret value, suffix text): only the
/// value is the labelled span (for `key=value` forms the key is context).
pub(super) fn secret(r: &mut Rng) -> (String, String, String) {
    let none = String::new;
    match r.below(11) {
        0 => (
            none(),
            format!("AKIA{}", from(r, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
            none(),
        ),
        1 => (none(), format!("ghp_{}", from(r, ALNUM, 36)), none()),
        2 => (none(), format!("glpat-{}", from(r, B64URL, 20)), none()),
        3 => (
            none(),
            format!(
                "xoxb-{}-{}-{}",
                digits(r, 12),
                digits(r, 13),
                from(r, ALNUM, 24)
            ),
            none(),
        ),
        4 => (none(), format!("sk_live_{}", from(r, ALNUM, 24)), none()),
        5 => {
            let jwt = format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
                from(r, B64URL, 40),
                from(r, B64URL, 43)
            );
            ("Authorization: Bearer ".into(), jwt, none())
        }
        6 => {
            let body: Vec<String> = (0..3).map(|_| from(r, ALNUM, 64)).collect();
            let kind = *r.pick(&["RSA ", "EC ", "OPENSSH ", ""]);
            let v = format!(
                "-----BEGIN {kind}PRIVATE KEY-----\n{}\n-----END {kind}PRIVATE KEY-----",
                body.join("\n")
            );
            (none(), v, none())
        }
        7 => (
            "password=".into(),
            format!("{}{}!", from(r, ALNUM, 8), digits(r, 2)),
            none(),
        ),
        8 => ("api_key: ".into(), from(r, ALNUM, 32), none()),
        9 => (
            "\"client_secret\": \"".into(),
            from(r, ALNUM, 28),
            "\"".into(),
        ),
        _ => (
            "DB_PASSWORD=".into(),
            format!("{}#{}", from(r, ALNUM, 6), digits(r, 3)),
            none(),
        ),
    }
}

/// An IPv4 or IPv6 address.
pub(super) fn ip(r: &mut Rng) -> String {
    let oct = |r: &mut Rng| r.below(256);
    let h = |r: &mut Rng| format!("{:x}", r.below(0x10000));
    match r.below(8) {
        0..=3 => format!(
            "{}.{}.{}.{}",
            1 + r.below(254),
            oct(r),
            oct(r),
            1 + r.below(254)
        ),
        4 => (0..8).map(|_| h(r)).collect::<Vec<_>>().join(":"),
        5 => format!("2001:db8::{}:{}", h(r), h(r)),
        6 => format!("fe80::{}:{}:{}", h(r), h(r), 1 + r.below(9)),
        _ => format!(
            "::ffff:{}.{}.{}.{}",
            1 + r.below(254),
            oct(r),
            oct(r),
            oct(r)
        ),
    }
}

/// (label, date) for a labelled date of birth.
pub(super) fn dob(r: &mut Rng) -> (String, String) {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (y, m, d) = (1940 + r.below(70), 1 + r.below(12), 1 + r.below(28));
    let mn = MONTHS[(m - 1) as usize];
    let date = match r.below(6) {
        0 => format!("{y}-{m:02}-{d:02}"),
        1 => format!("{d:02}/{m:02}/{y}"),
        2 => format!("{d:02}.{m:02}.{y}"),
        3 => format!("{d} {mn} {y}"),
        4 => format!("{mn} {d}, {y}"),
        _ => format!("{d} {} {y}", &mn[..3]),
    };
    let label = *r.pick(&[
        "DOB: ",
        "DOB ",
        "born on ",
        "Date of birth: ",
        "date of birth ",
        "D.O.B. ",
        "Born ",
    ]);
    (label.into(), date)
}

/// A near-miss: text that must not produce any span.
pub(super) fn near_miss(r: &mut Rng) -> String {
    match r.below(30) {
        24 => format!("last digits {}", {
            let d = with_luhn(&digits(r, 11), false);
            group(&d, &[4, 4, 4], " ")
        }),
        25 => format!(
            "ISBN 978-{}-{}-{}-{}",
            r.below(10),
            digits(r, 2),
            digits(r, 6),
            r.below(10)
        ),
        26 => format!(
            "USPS 9400 {} {} {} {} {}",
            digits(r, 4),
            digits(r, 4),
            digits(r, 4),
            digits(r, 4),
            digits(r, 2)
        ),
        27 => format!(
            "invoice {}-{:06} dated {:02}/{:02}/20{}",
            2020 + r.below(6),
            r.below(999_999),
            1 + r.below(28),
            1 + r.below(12),
            10 + r.below(15)
        ),
        28 => format!(
            "order {}{} placed, qty {} x {}",
            1 + r.below(9),
            digits(r, 9),
            1 + r.below(9),
            digits(r, 5)
        ),
        0 => format!("Order #{}", digits(r, 6)),
        1 => format!("ORD-{}-{}", 2020 + r.below(6), digits(r, 6)),
        2 => format!(
            "logged at 2024-0{}-1{} 1{}:3{}:4{}",
            1 + r.below(9),
            r.below(10),
            r.below(10),
            r.below(10),
            r.below(10)
        ),
        3 => format!("timestamp 2024-03-15T10:{}:45Z", 10 + r.below(50)),
        4 => {
            let n = 8 + 3 * r.below(2) as usize;
            format!("epoch 17{}", digits(r, n))
        }
        5 => format!("UPS tracking 1Z{}{}", from(r, UPPER, 5), digits(r, 11)),
        6 => {
            let n = 12 + r.below(11) as usize;
            format!(
                "ref {}",
                with_luhn(&format!("{}{}", 1 + r.below(9), digits(r, n - 2)), false)
            )
        }
        7 => format!(
            "upgraded to v{}.{}.{}.{}",
            r.below(10),
            r.below(20),
            r.below(10),
            r.below(100)
        ),
        8 => format!(
            "version {}.{}.{}.{}",
            1 + r.below(20),
            r.below(10),
            r.below(10),
            r.below(200)
        ),
        9 => format!("release {}.{}.{}", r.below(10), r.below(20), r.below(99)),
        10 => format!("see ticket #{}", digits(r, 6)),
        11 => format!("TKT-{}-{}", 2020 + r.below(6), digits(r, 5)),
        12 => format!("the number {} was declined", card(r, false)),
        13 => format!("ID {}", bad_ssn(r)),
        14 => format!("account {}", iban(r, false)),
        15 => format!(
            "host {}.{}.1.1 is not an address",
            256 + r.below(700),
            r.below(256)
        ),
        16 => format!("meeting on 2024-0{}-{:02}", 1 + r.below(9), 1 + r.below(28)),
        17 => format!(
            "total ${},{}.{}",
            1 + r.below(99),
            digits(r, 3),
            digits(r, 2)
        ),
        18 => format!("code {}", sin(r, false)),
        19 => format!(
            "order number {}",
            with_luhn(&format!("{}{}", 1 + r.below(9), digits(r, 7)), true)
        ),
        20 => format!("EMP-{} is a product code", digits(r, 6)),
        21 => "call std::vector at 10:30:45, MAC 00:1A:2B:3C:4D:5E".into(),
        22 => format!("INC{} escalated, zip {}", digits(r, 7), digits(r, 5)),
        _ => "password reset requested; Password: expired".into(),
    }
}
