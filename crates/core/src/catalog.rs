//! The field catalog: every helpdesk field path a plugin can name, with its
//! sensitivity class and whether it can be read or written.
//!
//! A manifest that names a path missing from this table is rejected at install.

use serde::Serialize;
use std::fmt;

/// How sensitive a field is. Drives alerting and access reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Harmless metadata (status, tags).
    Public,
    /// Business data that should stay inside the company (subjects, ids).
    Internal,
    /// Personal data about a person (names, emails, free text).
    Personal,
    /// Data that only a few should ever see (agent notes about a person).
    Restricted,
}

impl Sensitivity {
    /// Every class, least sensitive first.
    pub const ALL: [Sensitivity; 4] = [
        Sensitivity::Public,
        Sensitivity::Internal,
        Sensitivity::Personal,
        Sensitivity::Restricted,
    ];

    /// The class's name, as manifests, grants and audit records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Internal => "internal",
            Sensitivity::Personal => "personal",
            Sensitivity::Restricted => "restricted",
        }
    }

    /// The class of a field path; a path the catalog does not know counts as
    /// `restricted`, so nothing unknown is ever treated as harmless.
    ///
    /// ```
    /// use airlock_core::catalog::Sensitivity;
    /// assert_eq!(Sensitivity::of_path("ticket.status"), Sensitivity::Public);
    /// assert_eq!(Sensitivity::of_path("no.such.field"), Sensitivity::Restricted);
    /// ```
    pub fn of_path(path: &str) -> Sensitivity {
        lookup(path).map_or(Sensitivity::Restricted, |spec| spec.sensitivity)
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Sensitivity {
    type Err = String;

    /// Parses a class name.
    ///
    /// ```
    /// use airlock_core::catalog::Sensitivity;
    /// assert_eq!("personal".parse::<Sensitivity>(), Ok(Sensitivity::Personal));
    /// assert!("email".parse::<Sensitivity>().is_err());
    /// ```
    fn from_str(name: &str) -> Result<Sensitivity, String> {
        Sensitivity::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                format!("`{name}` is not a catalog class (public, internal, personal, restricted)")
            })
    }
}

/// Whether a field can be read, written, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Can only be read.
    Read,
    /// Can only be written (e.g. internal notes are appended, never read back).
    Write,
    /// Can be read and written.
    ReadWrite,
}

impl Access {
    /// True if the field may appear in `[data] read`.
    pub fn readable(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    /// True if the field may appear in `[data] write`.
    pub fn writable(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// One entry of the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldSpec {
    /// The field path, e.g. `requester.email`. A path ending in `.*` matches one more label.
    pub path: &'static str,
    /// Its sensitivity class.
    pub sensitivity: Sensitivity,
    /// Whether it can be read and/or written.
    pub access: Access,
}

const fn field(path: &'static str, sensitivity: Sensitivity, access: Access) -> FieldSpec {
    FieldSpec {
        path,
        sensitivity,
        access,
    }
}

use Access::{Read, ReadWrite, Write};
use Sensitivity::{Internal, Personal, Public, Restricted};

/// The prefix of per-ticket custom field paths.
pub const CUSTOM_FIELD_PREFIX: &str = "ticket.custom_fields.";

/// Every field path Airlock knows, in one table.
pub const FIELDS: &[FieldSpec] = &[
    field("ticket.subject", Internal, Read),
    field("ticket.description", Personal, Read),
    field("ticket.status", Public, Read),
    field("ticket.priority", Public, Read),
    field("ticket.tags", Public, ReadWrite),
    field("ticket.requester_id", Internal, Read),
    field("ticket.assignee_id", Internal, Read),
    field("ticket.organization_id", Internal, Read),
    field("ticket.created_at", Public, Read),
    field("ticket.updated_at", Public, Read),
    field("ticket.custom_fields.*", Internal, ReadWrite),
    field("ticket.internal_notes", Internal, Write),
    field("requester.name", Personal, Read),
    field("requester.email", Personal, Read),
    field("requester.phone", Personal, Read),
    field("requester.organization_id", Internal, Read),
    field("requester.role", Internal, Read),
    field("requester.locale", Internal, Read),
    field("requester.notes", Restricted, Read),
    field("organization.name", Internal, Read),
    field("organization.domain_names", Internal, Read),
    field("organization.tags", Public, Read),
    field("organization.notes", Restricted, Read),
    field("comment.author_id", Internal, Read),
    field("comment.body", Personal, Read),
    field("comment.public", Public, Read),
    field("comment.created_at", Public, Read),
];

/// Looks a field path up in the catalog.
///
/// ```
/// use airlock_core::catalog::{lookup, Sensitivity};
/// assert_eq!(lookup("requester.email").unwrap().sensitivity, Sensitivity::Personal);
/// assert!(lookup("ticket.custom_fields.order_id").is_some());
/// assert!(lookup("requester.ssn").is_none());
/// ```
pub fn lookup(path: &str) -> Option<&'static FieldSpec> {
    if let Some(name) = path.strip_prefix(CUSTOM_FIELD_PREFIX) {
        return valid_custom_name(name)
            .then(|| FIELDS.iter().find(|f| f.path == "ticket.custom_fields.*"))
            .flatten();
    }
    FIELDS.iter().find(|f| f.path == path)
}

/// True if `name` is a usable custom field name: 1–64 of `[a-z0-9_]`.
pub fn valid_custom_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The catalog paths of one record kind (`ticket`, `requester`, ...), excluding the
/// custom-field pattern and write-only entries.
pub fn readable_paths(kind: &str) -> impl Iterator<Item = &'static str> + '_ {
    FIELDS.iter().filter_map(move |f| {
        let readable = f.access.readable() && !f.path.ends_with(".*");
        (readable && f.path.split('.').next() == Some(kind)).then_some(f.path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_field_names_are_checked() {
        assert!(lookup("ticket.custom_fields.order_id").is_some());
        assert!(lookup("ticket.custom_fields.").is_none());
        assert!(lookup("ticket.custom_fields.Bad-Name").is_none());
        assert!(lookup("ticket.custom_fields.*").is_none());
    }

    #[test]
    fn readable_paths_skip_write_only_and_patterns() {
        let paths: Vec<_> = readable_paths("ticket").collect();
        assert!(paths.contains(&"ticket.subject"));
        assert!(!paths.contains(&"ticket.internal_notes"));
        assert!(!paths.iter().any(|p| p.ends_with('*')));
    }
}
