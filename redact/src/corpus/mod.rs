//! Deterministic corpus of ticket-like texts with labelled spans, for the
//! quality test, property tests and benchmarks.
//!
//! Each sample mixes filler sentences, sensitive values of every class
//! (in their hard formats) and near-misses that must not match: order and
//! ticket numbers, timestamps, tracking numbers, version strings,
//! Luhn-failing card numbers, invalid SSNs, IBANs with a bad checksum, ...
//!
//! ```
//! let samples = airlock_redact::corpus::generate(42, 10);
//! assert_eq!(samples.len(), 10);
//! assert_eq!(samples, airlock_redact::corpus::generate(42, 10));
//! ```

mod values;

use crate::config::{Config, CustomDetector, Validator};
use crate::{Class, Span};

/// A splitmix64 pseudo-random generator (deterministic, no dependencies).
///
/// ```
/// let mut r = airlock_redact::corpus::Rng::new(1);
/// assert!(r.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    ///
    /// ```
    /// let _ = airlock_redact::corpus::Rng::new(7);
    /// ```
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    ///
    /// ```
    /// let mut r = airlock_redact::corpus::Rng::new(7);
    /// assert_ne!(r.next_u64(), r.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform value in `0..n` (`n > 0`).
    ///
    /// ```
    /// let mut r = airlock_redact::corpus::Rng::new(7);
    /// assert_eq!(r.below(1), 0);
    /// ```
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// A random element of a non-empty slice.
    ///
    /// ```
    /// let mut r = airlock_redact::corpus::Rng::new(7);
    /// assert_eq!(*r.pick(&[5]), 5);
    /// ```
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u32) as usize]
    }
}

/// One generated text with its expected spans (sorted).
///
/// ```
/// let s = &airlock_redact::corpus::generate(1, 1)[0];
/// assert!(s.spans.iter().all(|sp| sp.end <= s.text.len()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The text.
    pub text: String,
    /// Expected spans.
    pub spans: Vec<Span>,
}

/// The configuration the corpus is labelled for: all built-ins plus the
/// custom detector `employee_id` (`EMP-` and six digits, only near the word
/// "employee").
///
/// ```
/// assert_eq!(airlock_redact::corpus::config().custom.len(), 1);
/// ```
pub fn config() -> Config {
    Config {
        custom: vec![CustomDetector {
            name: "employee_id".into(),
            pattern: r"\bEMP-\d{6}\b".into(),
            validator: Validator::None,
            context: vec!["employee".into()],
            window: 48,
        }],
        ..Config::default()
    }
}

const FILLER: &[&str] = &[
    "Hi team,",
    "Thanks for your patience.",
    "The customer reports that the app crashes on login after the last update.",
    "Please escalate to tier 2 if this happens again.",
    "Kind regards, Support",
    "Grüße aus München — der Kunde wartet seit drei Tagen.",
    "Merci beaucoup, à bientôt !",
    "お問い合わせありがとうございます。",
    "Status changed from open to pending at 10:30.",
    "We shipped 3 items in 2 boxes; 1 is missing.",
    "Steps: 1. open settings 2. tap sync 3. wait",
    "Priority: high. Queue: billing.",
    "See https://status.example.com/incidents for details.",
    "Customer is on plan Pro (annual), renewal in 30 days.",
];

struct Builder {
    text: String,
    spans: Vec<Span>,
}

impl Builder {
    fn lit(&mut self, s: &str) {
        self.text.push_str(s);
    }
    fn pii(&mut self, class: Class, s: &str) {
        let start = self.text.len();
        self.text.push_str(s);
        self.spans.push(Span {
            class,
            start,
            end: self.text.len(),
        });
    }
}

fn positive(r: &mut Rng, b: &mut Builder, kind: u32) {
    use values as v;
    let tpl = |r: &mut Rng, xs: &[(&'static str, &'static str)]| *r.pick(xs);
    let (pre, post, class, val) = match kind {
        0 => {
            let t = tpl(
                r,
                &[
                    ("Customer paid with card ", "."),
                    ("CC: ", " exp 12/27"),
                    ("my card number is ", " please refund"),
                    ("card ", " 12/26"),
                    ("Card ending in the full number ", " was charged twice."),
                ],
            );
            (t.0, t.1, Class::CreditCard, v::card(r, true))
        }
        1 => {
            let t = tpl(
                r,
                &[
                    ("SSN: ", ""),
                    ("social security number ", " on file"),
                    ("her SSN is ", "."),
                ],
            );
            (t.0, t.1, Class::UsSsn, v::ssn(r))
        }
        2 => {
            let t = tpl(
                r,
                &[
                    ("NI number ", ""),
                    ("National Insurance: ", "."),
                    ("nino ", " confirmed"),
                ],
            );
            (t.0, t.1, Class::UkNino, v::nino(r))
        }
        3 => {
            let t = tpl(
                r,
                &[
                    ("SIN ", ""),
                    ("Canadian SIN: ", " (verified)"),
                    ("sin number ", "."),
                ],
            );
            (t.0, t.1, Class::CaSin, v::sin(r, true))
        }
        4 => {
            let t = tpl(
                r,
                &[
                    ("IBAN ", " please"),
                    ("transfer to ", "."),
                    ("account: ", " thanks"),
                    ("IBAN: ", "\nThanks"),
                ],
            );
            (t.0, t.1, Class::Iban, v::iban(r, true))
        }
        5 => {
            let t = tpl(
                r,
                &[("reply to ", ""), ("Contact: <", ">"), ("sent from ", ".")],
            );
            (t.0, t.1, Class::Email, v::email(r))
        }
        6 => {
            let t = tpl(
                r,
                &[
                    ("call me at ", ""),
                    ("Phone: ", "."),
                    ("mobile ", " (evenings)"),
                    ("Tel ", " or email"),
                ],
            );
            (t.0, t.1, Class::Phone, v::phone(r))
        }
        7 => {
            let (kp, val, ks) = v::secret(r);
            let t = tpl(
                r,
                &[
                    ("here is the key ", " oops"),
                    ("env file: ", ""),
                    ("leaked in logs: ", "\nrotate it"),
                ],
            );
            b.lit(t.0);
            b.lit(&kp);
            b.pii(Class::Secret, &val);
            b.lit(&ks);
            b.lit(t.1);
            return;
        }
        8 => {
            let t = tpl(
                r,
                &[
                    ("from IP ", ""),
                    ("server ", " is down"),
                    ("client address ", "."),
                    ("blocked ", " at the firewall"),
                ],
            );
            (t.0, t.1, Class::IpAddress, v::ip(r))
        }
        9 => {
            let (label, date) = v::dob(r);
            let t = tpl(
                r,
                &[
                    ("Patient ", "."),
                    ("", ""),
                    ("Verified identity, ", " matches"),
                ],
            );
            b.lit(t.0);
            b.lit(&label);
            b.pii(Class::DateOfBirth, &date);
            b.lit(t.1);
            return;
        }
        _ => {
            let t = tpl(
                r,
                &[("employee ", " requested access"), ("Employee ID: ", "")],
            );
            (
                t.0,
                t.1,
                Class::Custom("employee_id".into()),
                format!("EMP-{}", values::digits(r, 6)),
            )
        }
    };
    b.lit(pre);
    b.pii(class, &val);
    b.lit(post);
}

/// Generate `n` samples from `seed`. About one in four sentences is a
/// near-miss; every class appears in all its formats.
///
/// ```
/// let c = airlock_redact::corpus::generate(3, 100);
/// assert!(c.iter().map(|s| s.spans.len()).sum::<usize>() > 100);
/// ```
pub fn generate(seed: u64, n: usize) -> Vec<Sample> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut b = Builder {
                text: String::new(),
                spans: Vec::new(),
            };
            let parts = 2 + r.below(5);
            let mut has_custom = false;
            let mut has_emp_miss = false;
            for k in 0..parts {
                if k > 0 {
                    b.lit(if r.below(3) == 0 { "\n" } else { " " });
                }
                match r.below(10) {
                    0 | 1 => {
                        let f: &&str = r.pick(FILLER);
                        b.lit(f)
                    }
                    2 | 3 => {
                        let mut m = values::near_miss(&mut r);
                        while has_custom && m.starts_with("EMP-") {
                            m = values::near_miss(&mut r);
                        }
                        has_emp_miss |= m.starts_with("EMP-");
                        b.lit(&m);
                    }
                    _ => {
                        let mut kind = r.below(11);
                        if kind == 10 && has_emp_miss {
                            kind = r.below(10);
                        }
                        has_custom |= kind == 10;
                        positive(&mut r, &mut b, kind);
                    }
                }
            }
            Sample {
                text: b.text,
                spans: b.spans,
            }
        })
        .collect()
}

/// The corpus as one string (samples joined by blank lines), for benchmarks.
///
/// ```
/// assert!(airlock_redact::corpus::text(1, 5).contains("\n\n"));
/// ```
pub fn text(seed: u64, n: usize) -> String {
    generate(seed, n)
        .into_iter()
        .map(|s| s.text)
        .collect::<Vec<_>>()
        .join("\n\n")
}
