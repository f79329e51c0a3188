//! Helpdesk data: brokered reads and writes of tickets, users, organizations and comments.

use crate::audit::now_rfc3339;
use crate::broker::{CallContext, CallError, CallSpec, Capability, FieldPlan, KindRecord, Need};
use crate::catalog;
use crate::model::{Kind, Record, valid_id};
use crate::store::TicketQuery;
use serde_json::Value;

/// The most records one list or search call returns.
pub const MAX_PAGE: u32 = 100;
/// The most tags one add-tags call may add.
pub const MAX_TAGS_PER_CALL: usize = 20;
/// The largest internal note, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// The largest custom field value, in bytes.
pub const MAX_CUSTOM_VALUE_BYTES: usize = 4 * 1024;

fn check_id(what: &str, id: &str) -> Result<(), CallError> {
    match valid_id(id) {
        true => Ok(()),
        false => Err(CallError::Invalid(format!(
            "{what} id must be 1-128 of [A-Za-z0-9._:-]"
        ))),
    }
}

fn unavailable(e: crate::store::StoreError) -> CallError {
    tracing::error!(error = %e, "store failed during a brokered call");
    CallError::Unavailable("the helpdesk store failed; try again".into())
}

/// One record by the plugin's id; confirms the id once the record is found. The error
/// does not quote the id: the audit holds it, hashed when nothing has that id.
fn load(ctx: &CallContext<'_>, kind: Kind, id: &str) -> Result<Record, CallError> {
    let record = ctx
        .store
        .get(kind, id)
        .map_err(unavailable)?
        .ok_or_else(|| CallError::NotFound(format!("no {kind} has this id")))?;
    ctx.confirm_resource();
    Ok(record)
}

fn call_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Ticket => "helpdesk.get-ticket",
        Kind::User => "helpdesk.get-user",
        Kind::Organization => "helpdesk.get-organization",
        Kind::Comment => "helpdesk.get-comment",
    }
}

/// `get-ticket`, `get-user`, `get-organization`: one record by id.
pub struct GetRecord;

/// Arguments of [`GetRecord`].
pub struct GetRequest {
    /// The record kind.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Field paths asked for; empty for every declared field.
    pub fields: Vec<String>,
}

impl Capability for GetRecord {
    type Request = GetRequest;
    type Output = KindRecord;

    fn describe(&self, r: &GetRequest) -> Result<CallSpec, CallError> {
        check_id(r.kind.path_prefix(), &r.id)?;
        Ok(CallSpec::for_record(
            call_name(r.kind),
            r.kind,
            r.id.clone(),
            Need::Read {
                kind: r.kind,
                fields: r.fields.clone(),
                filter: None,
            },
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        r: GetRequest,
        _: &FieldPlan,
    ) -> Result<KindRecord, CallError> {
        Ok(KindRecord {
            kind: r.kind,
            record: load(ctx, r.kind, &r.id)?,
        })
    }
}

/// The pre-fetch of an event's ticket: the declared ticket fields, or just the id when
/// the plugin declares none.
pub struct PrefetchTicket;

impl Capability for PrefetchTicket {
    type Request = String;
    type Output = KindRecord;

    fn describe(&self, id: &String) -> Result<CallSpec, CallError> {
        check_id("ticket", id)?;
        Ok(CallSpec::new(
            "event.prefetch-ticket",
            id.clone(),
            Need::Read {
                kind: Kind::Ticket,
                fields: Vec::new(),
                filter: None,
            },
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        id: String,
        _: &FieldPlan,
    ) -> Result<KindRecord, CallError> {
        Ok(KindRecord {
            kind: Kind::Ticket,
            record: load(ctx, Kind::Ticket, &id)?,
        })
    }
}

/// `list-comments`: a ticket's comments, oldest first.
pub struct ListComments;

/// Arguments of [`ListComments`].
pub struct ListCommentsRequest {
    /// The ticket.
    pub ticket_id: String,
    /// Comment field paths asked for; empty for every declared one.
    pub fields: Vec<String>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

impl Capability for ListComments {
    type Request = ListCommentsRequest;
    type Output = Vec<KindRecord>;

    fn describe(&self, r: &ListCommentsRequest) -> Result<CallSpec, CallError> {
        check_id("ticket", &r.ticket_id)?;
        Ok(CallSpec::for_record(
            "helpdesk.list-comments",
            Kind::Ticket,
            r.ticket_id.clone(),
            Need::Read {
                kind: Kind::Comment,
                fields: r.fields.clone(),
                filter: None,
            },
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        r: ListCommentsRequest,
        _: &FieldPlan,
    ) -> Result<Vec<KindRecord>, CallError> {
        let records = ctx
            .store
            .comments(&r.ticket_id, r.limit.min(MAX_PAGE))
            .map_err(unavailable)?;
        Ok(records
            .into_iter()
            .map(|record| KindRecord {
                kind: Kind::Comment,
                record,
            })
            .collect())
    }
}

/// `search-tickets`: tickets by requester, tag or status, newest first.
pub struct SearchTickets;

/// Arguments of [`SearchTickets`].
pub struct SearchRequest {
    /// What to select on.
    pub query: TicketQuery,
    /// Ticket field paths asked for; empty for every declared one.
    pub fields: Vec<String>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

impl Capability for SearchTickets {
    type Request = SearchRequest;
    type Output = Vec<KindRecord>;

    fn describe(&self, r: &SearchRequest) -> Result<CallSpec, CallError> {
        let (filter, value) = match &r.query {
            TicketQuery::Requester(v) => ("ticket.requester_id", v),
            TicketQuery::Tag(v) => ("ticket.tags", v),
            TicketQuery::Status(v) => ("ticket.status", v),
        };
        if value.is_empty() || value.len() > 128 {
            return Err(CallError::Invalid(
                "search value must be 1-128 bytes".into(),
            ));
        }
        Ok(CallSpec::new(
            "helpdesk.search-tickets",
            filter,
            Need::Read {
                kind: Kind::Ticket,
                fields: r.fields.clone(),
                filter: Some(filter.to_string()),
            },
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        r: SearchRequest,
        _: &FieldPlan,
    ) -> Result<Vec<KindRecord>, CallError> {
        let records = ctx
            .store
            .search_tickets(&r.query, r.limit.min(MAX_PAGE))
            .map_err(unavailable)?;
        Ok(records
            .into_iter()
            .map(|record| KindRecord {
                kind: Kind::Ticket,
                record,
            })
            .collect())
    }
}

/// A write to one ticket: tags, an internal note or a custom field.
pub enum TicketWrite {
    /// Add tags.
    AddTags(Vec<String>),
    /// Append an internal (non-public) note.
    AddInternalNote(String),
    /// Set a custom field.
    SetCustomField {
        /// Its name.
        name: String,
        /// Its new value.
        value: String,
    },
}

/// `add-tags`, `add-internal-note`, `set-custom-field`.
pub struct WriteTicket;

/// Arguments of [`WriteTicket`].
pub struct WriteRequest {
    /// The ticket.
    pub ticket_id: String,
    /// The write.
    pub write: TicketWrite,
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b':')
        })
}

impl Capability for WriteTicket {
    type Request = WriteRequest;
    type Output = ();

    fn describe(&self, r: &WriteRequest) -> Result<CallSpec, CallError> {
        check_id("ticket", &r.ticket_id)?;
        let (call, field) = match &r.write {
            TicketWrite::AddTags(tags) => {
                if tags.is_empty() || tags.len() > MAX_TAGS_PER_CALL {
                    return Err(CallError::Invalid(format!(
                        "add-tags takes 1-{MAX_TAGS_PER_CALL} tags"
                    )));
                }
                if let Some(i) = tags.iter().position(|t| !valid_tag(t)) {
                    return Err(CallError::Invalid(format!(
                        "tag #{i} must be 1-64 of [a-z0-9-_:]"
                    )));
                }
                ("helpdesk.add-tags", "ticket.tags".to_string())
            }
            TicketWrite::AddInternalNote(body) => {
                if body.is_empty() || body.len() > MAX_NOTE_BYTES {
                    return Err(CallError::Invalid(format!(
                        "a note must be 1-{MAX_NOTE_BYTES} bytes"
                    )));
                }
                (
                    "helpdesk.add-internal-note",
                    "ticket.internal_notes".to_string(),
                )
            }
            TicketWrite::SetCustomField { name, value } => {
                if !catalog::valid_custom_name(name) {
                    return Err(CallError::Invalid(
                        "custom field names are 1-64 of [a-z0-9_]".into(),
                    ));
                }
                if value.len() > MAX_CUSTOM_VALUE_BYTES {
                    return Err(CallError::Limit(format!(
                        "a custom field value is at most {MAX_CUSTOM_VALUE_BYTES} bytes"
                    )));
                }
                (
                    "helpdesk.set-custom-field",
                    format!("{}{name}", catalog::CUSTOM_FIELD_PREFIX),
                )
            }
        };
        Ok(CallSpec::for_record(
            call,
            Kind::Ticket,
            r.ticket_id.clone(),
            Need::Write { field },
        ))
    }

    fn perform(
        &self,
        ctx: &CallContext<'_>,
        r: WriteRequest,
        _: &FieldPlan,
    ) -> Result<(), CallError> {
        let mut ticket = load(ctx, Kind::Ticket, &r.ticket_id)?;
        let now = now_rfc3339();
        let mut records = Vec::new();
        let labels = match r.write {
            TicketWrite::AddTags(tags) => {
                let list = ticket
                    .entry("tags")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    for tag in tags {
                        if !list.iter().any(|t| t.as_str() == Some(&tag)) {
                            list.push(Value::String(tag));
                        }
                    }
                }
                ctx.labels_for(Kind::Ticket, &r.ticket_id, "ticket.tags")
            }
            TicketWrite::AddInternalNote(body) => {
                let id = format!("note_{}", hex::encode(rand::random::<[u8; 8]>()));
                let note = serde_json::json!({
                    "id": id,
                    "ticket_id": r.ticket_id,
                    "author_id": format!("plugin:{}", ctx.installation.id),
                    "body": body,
                    "public": false,
                    "created_at": now,
                });
                let Value::Object(note) = note else {
                    unreachable!()
                };
                let labels = ctx.labels_for(Kind::Comment, &id, "comment.body");
                records.push((Kind::Comment, id, note));
                labels
            }
            TicketWrite::SetCustomField { name, value } => {
                let labels = ctx.labels_for(
                    Kind::Ticket,
                    &r.ticket_id,
                    &format!("{}{name}", catalog::CUSTOM_FIELD_PREFIX),
                );
                let custom = ticket
                    .entry("custom_fields")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(custom) = custom {
                    custom.insert(name, Value::String(value));
                }
                labels
            }
        };
        ticket.insert("updated_at".into(), Value::String(now));
        records.push((Kind::Ticket, r.ticket_id, ticket));
        ctx.store
            .put_labeled(&records, &labels)
            .map_err(unavailable)
    }
}
