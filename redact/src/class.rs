//! The stable class names used in config, JSON and counts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of sensitive data. `Display`/`FromStr`/serde use the stable names
/// `credit_card`, `us_ssn`, `uk_nino`, `ca_sin`, `iban`, `email`, `phone`,
/// `secret`, `ip_address`, `date_of_birth` and `custom:<name>`.
///
/// ```
/// use airlock_redact::Class;
/// assert_eq!(Class::CreditCard.to_string(), "credit_card");
/// assert_eq!("custom:employee_id".parse::<Class>().unwrap(), Class::Custom("employee_id".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Payment card number (PAN).
    CreditCard,
    /// US Social Security number.
    UsSsn,
    /// UK National Insurance number.
    UkNino,
    /// Canadian Social Insurance number.
    CaSin,
    /// International bank account number.
    Iban,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// Credential: API token, private key, password value.
    Secret,
    /// IPv4 or IPv6 address.
    IpAddress,
    /// Labelled date of birth.
    DateOfBirth,
    /// Tenant-defined detector, by name.
    Custom(String),
}

impl Class {
    /// Every built-in class, in a stable order.
    ///
    /// ```
    /// assert_eq!(airlock_redact::Class::BUILTIN.len(), 10);
    /// ```
    pub const BUILTIN: [Class; 10] = [
        Class::CreditCard,
        Class::UsSsn,
        Class::UkNino,
        Class::CaSin,
        Class::Iban,
        Class::Email,
        Class::Phone,
        Class::Secret,
        Class::IpAddress,
        Class::DateOfBirth,
    ];

    /// The stable name (`custom:` prefix excluded for custom classes).
    ///
    /// ```
    /// assert_eq!(airlock_redact::Class::UkNino.name(), "uk_nino");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            Class::CreditCard => "credit_card",
            Class::UsSsn => "us_ssn",
            Class::UkNino => "uk_nino",
            Class::CaSin => "ca_sin",
            Class::Iban => "iban",
            Class::Email => "email",
            Class::Phone => "phone",
            Class::Secret => "secret",
            Class::IpAddress => "ip_address",
            Class::DateOfBirth => "date_of_birth",
            Class::Custom(n) => n,
        }
    }

    /// Short tag used in labels (`[CARD]`) and tokens (`tok_card_…`).
    ///
    /// ```
    /// assert_eq!(airlock_redact::Class::CreditCard.tag(), "card");
    /// ```
    pub fn tag(&self) -> &str {
        match self {
            Class::CreditCard => "card",
            Class::UsSsn => "ssn",
            Class::UkNino => "nino",
            Class::CaSin => "sin",
            Class::Iban => "iban",
            Class::Email => "email",
            Class::Phone => "phone",
            Class::Secret => "secret",
            Class::IpAddress => "ip",
            Class::DateOfBirth => "dob",
            Class::Custom(n) => n,
        }
    }

    /// Index of a built-in class in [`Class::BUILTIN`]; `None` for custom.
    ///
    /// ```
    /// assert_eq!(airlock_redact::Class::CreditCard.builtin_index(), Some(0));
    /// ```
    pub fn builtin_index(&self) -> Option<usize> {
        Some(match self {
            Class::CreditCard => 0,
            Class::UsSsn => 1,
            Class::UkNino => 2,
            Class::CaSin => 3,
            Class::Iban => 4,
            Class::Email => 5,
            Class::Phone => 6,
            Class::Secret => 7,
            Class::IpAddress => 8,
            Class::DateOfBirth => 9,
            Class::Custom(_) => return None,
        })
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Custom(n) => write!(f, "custom:{n}"),
            c => f.write_str(c.name()),
        }
    }
}

/// Error for an unknown class name.
///
/// ```
/// assert!("credit".parse::<airlock_redact::Class>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown class name `{0}`")]
pub struct UnknownClass(pub String);

/// Whether `name` is a valid custom detector name: `[a-z0-9_-]{1,64}`.
///
/// ```
/// assert!(airlock_redact::class::valid_custom_name("employee_id"));
/// assert!(!airlock_redact::class::valid_custom_name("Employee ID"));
/// ```
pub fn valid_custom_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl FromStr for Class {
    type Err = UnknownClass;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(n) = s.strip_prefix("custom:") {
            return if valid_custom_name(n) {
                Ok(Class::Custom(n.to_string()))
            } else {
                Err(UnknownClass(s.to_string()))
            };
        }
        Class::BUILTIN
            .iter()
            .find(|c| c.name() == s)
            .cloned()
            .ok_or_else(|| UnknownClass(s.to_string()))
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Class {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
