//! Conversions between the broker's projected records and the WIT types.
//!
//! A key missing from a projected record becomes `none`: that is how a field the
//! installation may not see reaches the plugin.

use super::wit::types::{self, Comment, CustomField, Organization, Ticket, User};
use crate::broker::CallError;
use crate::model::Record;
use serde_json::Value;

fn text(r: &Record, key: &str) -> Option<String> {
    r.get(key).and_then(Value::as_str).map(str::to_string)
}

fn list(r: &Record, key: &str) -> Option<Vec<String>> {
    r.get(key).and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

/// A projected ticket record as the WIT ticket.
pub fn ticket(r: &Record) -> Ticket {
    let custom_fields = r
        .get("custom_fields")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(name, v)| {
                    v.as_str().map(|value| CustomField {
                        name: name.clone(),
                        value: value.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ticket {
        id: text(r, "id").unwrap_or_default(),
        subject: text(r, "subject"),
        description: text(r, "description"),
        status: text(r, "status"),
        priority: text(r, "priority"),
        tags: list(r, "tags"),
        requester_id: text(r, "requester_id"),
        assignee_id: text(r, "assignee_id"),
        organization_id: text(r, "organization_id"),
        custom_fields,
        created_at: text(r, "created_at"),
        updated_at: text(r, "updated_at"),
    }
}

/// A ticket with only its id, for plugins that declare no ticket fields.
pub fn bare_ticket(id: &str) -> Ticket {
    let mut r = Record::new();
    r.insert("id".into(), Value::String(id.to_string()));
    ticket(&r)
}

/// A projected user record as the WIT user.
pub fn user(r: &Record) -> User {
    User {
        id: text(r, "id").unwrap_or_default(),
        name: text(r, "name"),
        email: text(r, "email"),
        phone: text(r, "phone"),
        organization_id: text(r, "organization_id"),
        role: text(r, "role"),
        locale: text(r, "locale"),
        notes: text(r, "notes"),
    }
}

/// A projected organization record as the WIT organization.
pub fn organization(r: &Record) -> Organization {
    Organization {
        id: text(r, "id").unwrap_or_default(),
        name: text(r, "name"),
        domain_names: list(r, "domain_names"),
        tags: list(r, "tags"),
        notes: text(r, "notes"),
    }
}

/// A projected comment record as the WIT comment.
pub fn comment(r: &Record) -> Comment {
    Comment {
        id: text(r, "id").unwrap_or_default(),
        ticket_id: text(r, "ticket_id").unwrap_or_default(),
        author_id: text(r, "author_id"),
        body: text(r, "body"),
        public: r.get("public").and_then(Value::as_bool),
        created_at: text(r, "created_at"),
    }
}

/// A broker error as the WIT error.
pub fn error(e: CallError) -> types::Error {
    match e {
        CallError::Denied(m) => types::Error::Denied(m),
        CallError::NotFound(m) => types::Error::NotFound(m),
        CallError::Invalid(m) => types::Error::Invalid(m),
        CallError::Limit(m) => types::Error::Limit(m),
        CallError::Unavailable(m) => types::Error::Unavailable(m),
    }
}

/// A plugin's own error as a message for the audit log (cut to 512 bytes).
pub fn error_message(e: &types::Error) -> String {
    let (code, message) = match e {
        types::Error::Denied(m) => ("denied", m),
        types::Error::NotFound(m) => ("not-found", m),
        types::Error::Invalid(m) => ("invalid", m),
        types::Error::Limit(m) => ("limit", m),
        types::Error::Unavailable(m) => ("unavailable", m),
    };
    let cut = message.floor_char_boundary(512);
    format!("{code}: {}", &message[..cut])
}
