//! Helpdesk data as Airlock stores it: tickets, users, organizations and comments.
//!
//! Records travel through the broker as [`Record`]s: a JSON object whose keys are the
//! record's field names. The broker projects and redacts records generically, by field
//! path (`<kind>.<key>`), so no step of the pipeline is written per record type.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The kinds of helpdesk record, named as in field paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A ticket (`ticket.*`).
    Ticket,
    /// A user (`requester.*`).
    User,
    /// An organization (`organization.*`).
    Organization,
    /// A comment (`comment.*`).
    Comment,
}

impl Kind {
    /// The prefix of this kind's field paths.
    pub fn path_prefix(self) -> &'static str {
        match self {
            Kind::Ticket => "ticket",
            Kind::User => "requester",
            Kind::Organization => "organization",
            Kind::Comment => "comment",
        }
    }

    /// The table name used by stores.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Ticket => "tickets",
            Kind::User => "users",
            Kind::Organization => "organizations",
            Kind::Comment => "comments",
        }
    }

    /// Keys that identify a record rather than describe it: always returned, never
    /// projected away or redacted.
    pub fn identity_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Comment => &["id", "ticket_id"],
            _ => &["id"],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path_prefix())
    }
}

/// A ticket, as imported and stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// Unique id.
    pub id: String,
    /// One-line subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `new`, `open`, `pending`, `solved`, `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `low`, `normal`, `high`, `urgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Tags, unique, lowercase.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The requesting user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_id: Option<String>,
    /// The assigned agent's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    /// The requester's organization id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Custom fields by name.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339 last update time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A user: a requester or an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Unique id.
    pub id: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Organization id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// `end-user`, `agent` or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Preferred locale, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Agents' private notes about the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A customer organization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email domains that belong to it.
    #[serde(default)]
    pub domain_names: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Agents' private notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A comment on a ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    /// Unique id.
    pub id: String,
    /// The ticket it belongs to.
    pub ticket_id: String,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Visible to the requester (true) or internal (false).
    #[serde(default = "yes")]
    pub public: bool,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// A data set to import: `airlock import <file.json>` and `POST /api/v1/import`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Organizations.
    #[serde(default)]
    pub organizations: Vec<Organization>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Tickets.
    #[serde(default)]
    pub tickets: Vec<Ticket>,
    /// Comments.
    #[serde(default)]
    pub comments: Vec<Comment>,
}

impl Dataset {
    /// Every record as (kind, id, document), in an order that keeps references sane.
    pub fn records(&self) -> Result<Vec<(Kind, String, Record)>, serde_json::Error> {
        let mut out = Vec::new();
        for o in &self.organizations {
            out.push((Kind::Organization, o.id.clone(), to_record(o)?));
        }
        for u in &self.users {
            out.push((Kind::User, u.id.clone(), to_record(u)?));
        }
        for t in &self.tickets {
            out.push((Kind::Ticket, t.id.clone(), to_record(t)?));
        }
        for c in &self.comments {
            out.push((Kind::Comment, c.id.clone(), to_record(c)?));
        }
        Ok(out)
    }
}

/// A record on its way through the broker: field name → value.
pub type Record = Map<String, Value>;

/// Serializes a typed record into a [`Record`].
pub fn to_record<T: Serialize>(value: &T) -> Result<Record, serde_json::Error> {
    match serde_json::to_value(value)? {
        Value::Object(map) => Ok(map),
        _ => Err(serde::ser::Error::custom(
            "a record must serialize to an object",
        )),
    }
}

/// The field paths of a record's present values (identity keys excluded), e.g.
/// `ticket.subject`, `ticket.custom_fields.order_id`.
pub fn field_paths(kind: Kind, record: &Record) -> Vec<String> {
    let mut paths = Vec::new();
    for (key, value) in record {
        if kind.identity_keys().contains(&key.as_str()) {
            continue;
        }
        match (key.as_str(), value) {
            ("custom_fields", Value::Object(custom)) => {
                for name in custom.keys() {
                    paths.push(format!("{}.custom_fields.{name}", kind.path_prefix()));
                }
            }
            _ => paths.push(format!("{}.{key}", kind.path_prefix())),
        }
    }
    paths
}

/// Ids must be short, printable and safe to log: 1–128 of `[A-Za-z0-9._:-]`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_flatten_custom_fields_and_skip_ids() {
        let mut t = Ticket {
            id: "t1".into(),
            subject: Some("Hi".into()),
            ..Default::default()
        };
        t.custom_fields.insert("order_id".into(), "42".into());
        let paths = field_paths(Kind::Ticket, &to_record(&t).unwrap());
        assert!(paths.contains(&"ticket.subject".to_string()));
        assert!(paths.contains(&"ticket.custom_fields.order_id".to_string()));
        assert!(!paths.iter().any(|p| p == "ticket.id"));
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("t-100"));
        assert!(!valid_id("../etc/passwd"));
        assert!(!valid_id(""));
    }
}

/// An information-flow label: data from `path`, of class `class`, may be in a value.
///
/// The broker attaches the flows an invocation has read to every field it writes
/// ([`FieldLabel`]), and a later invocation that reads the field inherits them, so a
/// value keeps its origin through storage (the host's broker tracks those flows per invocation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Flow {
    /// The field path the data was first read from, e.g. `requester.email`.
    pub path: String,
    /// Its class: the catalog sensitivity (`personal`, …), or the detector class
    /// (`email`, …) of a value read raw through a reveal grant.
    pub class: String,
    /// Whether a destination whose `send` names `path` may receive it. False for a
    /// revealed value inside a larger field: only its class approves it.
    pub by_path: bool,
}

/// A [`Flow`] attached to one stored field of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldLabel {
    /// The record's kind.
    pub kind: Kind,
    /// The record's id.
    pub record_id: String,
    /// The labelled field's path, e.g. `ticket.tags` or `comment.body`.
    pub field: String,
    /// What may be in it.
    pub flow: Flow,
}
