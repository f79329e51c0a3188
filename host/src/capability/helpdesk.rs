//! Helpdesk data: brokered reads and writes of tickets, users, organizations and comments.

use super::wit::airlock::plugin as wit_interfaces;
use super::wit::types as wit;
use super::{CallFailure, CallKind, CallName, CallState, convert};
use crate::audit::now_rfc3339;
use crate::broker::{CallContext, CallError, CallSpec, Capability, FieldPlan, KindRecord, Need};
use crate::catalog;
use crate::model::{Kind, Record, valid_id};
use crate::store::{HelpdeskStore, TicketQuery};
use serde_json::Value;

const GET_TICKET: &str = "helpdesk.get-ticket";
const GET_USER: &str = "helpdesk.get-user";
const GET_ORGANIZATION: &str = "helpdesk.get-organization";
const GET_COMMENT: &str = "helpdesk.get-comment";
const PREFETCH_TICKET: &str = "event.prefetch-ticket";
const LIST_COMMENTS: &str = "helpdesk.list-comments";
const SEARCH_TICKETS: &str = "helpdesk.search-tickets";
const ADD_TAGS: &str = "helpdesk.add-tags";
const ADD_INTERNAL_NOTE: &str = "helpdesk.add-internal-note";
const SET_CUSTOM_FIELD: &str = "helpdesk.set-custom-field";

/// The helpdesk capability's calls. Each names a record of the kind given (a search
/// names its filter, and selects tickets).
pub const CALLS: &[CallName] = &[
    CallName::new(PREFETCH_TICKET, CallKind::Read, Some(Kind::Ticket)),
    CallName::new(GET_TICKET, CallKind::Read, Some(Kind::Ticket)),
    CallName::new(GET_USER, CallKind::Read, Some(Kind::User)),
    CallName::new(GET_ORGANIZATION, CallKind::Read, Some(Kind::Organization)),
    CallName::new(GET_COMMENT, CallKind::Read, Some(Kind::Comment)),
    CallName::new(LIST_COMMENTS, CallKind::Read, Some(Kind::Ticket)),
    CallName::new(SEARCH_TICKETS, CallKind::Read, Some(Kind::Ticket)),
    CallName::new(ADD_TAGS, CallKind::Write, Some(Kind::Ticket)),
    CallName::new(ADD_INTERNAL_NOTE, CallKind::Write, Some(Kind::Ticket)),
    CallName::new(SET_CUSTOM_FIELD, CallKind::Write, Some(Kind::Ticket)),
];

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
fn load(
    store: &dyn HelpdeskStore,
    ctx: &CallContext,
    kind: Kind,
    id: &str,
) -> Result<Record, CallError> {
    let record = store
        .get(kind, id)
        .map_err(unavailable)?
        .ok_or_else(|| CallError::NotFound(format!("no {kind} has this id")))?;
    ctx.confirm_resource();
    Ok(record)
}

fn call_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Ticket => GET_TICKET,
        Kind::User => GET_USER,
        Kind::Organization => GET_ORGANIZATION,
        Kind::Comment => GET_COMMENT,
    }
}

/// `get-ticket`, `get-user`, `get-organization`: one record by id.
pub struct GetRecord<'a> {
    /// The records it reads.
    pub store: &'a dyn HelpdeskStore,
}

/// Arguments of [`GetRecord`].
pub struct GetRequest {
    /// The record kind.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Field paths asked for; empty for every declared field.
    pub fields: Vec<String>,
}

impl Capability for GetRecord<'_> {
    type Request = GetRequest;
    type Output = KindRecord;
    type Approval = ();

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
        ctx: &CallContext,
        r: GetRequest,
        (): (),
        _: &FieldPlan,
    ) -> Result<KindRecord, CallError> {
        Ok(KindRecord {
            kind: r.kind,
            record: load(self.store, ctx, r.kind, &r.id)?,
        })
    }
}

/// The pre-fetch of an event's ticket: the declared ticket fields, or just the id when
/// the plugin declares none.
pub struct PrefetchTicket<'a> {
    /// The records it reads.
    pub store: &'a dyn HelpdeskStore,
}

impl Capability for PrefetchTicket<'_> {
    type Request = String;
    type Output = KindRecord;
    type Approval = ();

    fn describe(&self, id: &String) -> Result<CallSpec, CallError> {
        check_id("ticket", id)?;
        Ok(CallSpec::new(
            PREFETCH_TICKET,
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
        ctx: &CallContext,
        id: String,
        (): (),
        _: &FieldPlan,
    ) -> Result<KindRecord, CallError> {
        Ok(KindRecord {
            kind: Kind::Ticket,
            record: load(self.store, ctx, Kind::Ticket, &id)?,
        })
    }
}

/// `list-comments`: a ticket's comments, oldest first.
pub struct ListComments<'a> {
    /// The records it reads.
    pub store: &'a dyn HelpdeskStore,
}

/// Arguments of [`ListComments`].
pub struct ListCommentsRequest {
    /// The ticket.
    pub ticket_id: String,
    /// Comment field paths asked for; empty for every declared one.
    pub fields: Vec<String>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

impl Capability for ListComments<'_> {
    type Request = ListCommentsRequest;
    type Output = Vec<KindRecord>;
    type Approval = ();

    fn describe(&self, r: &ListCommentsRequest) -> Result<CallSpec, CallError> {
        check_id("ticket", &r.ticket_id)?;
        Ok(CallSpec::for_record(
            LIST_COMMENTS,
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
        _: &CallContext,
        r: ListCommentsRequest,
        (): (),
        _: &FieldPlan,
    ) -> Result<Vec<KindRecord>, CallError> {
        let records = self
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
pub struct SearchTickets<'a> {
    /// The records it reads.
    pub store: &'a dyn HelpdeskStore,
}

/// Arguments of [`SearchTickets`].
pub struct SearchRequest {
    /// What to select on.
    pub query: TicketQuery,
    /// Ticket field paths asked for; empty for every declared one.
    pub fields: Vec<String>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

impl Capability for SearchTickets<'_> {
    type Request = SearchRequest;
    type Output = Vec<KindRecord>;
    type Approval = ();

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
            SEARCH_TICKETS,
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
        _: &CallContext,
        r: SearchRequest,
        (): (),
        _: &FieldPlan,
    ) -> Result<Vec<KindRecord>, CallError> {
        let records = self
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
pub struct WriteTicket<'a> {
    /// The records it reads and writes.
    pub store: &'a dyn HelpdeskStore,
}

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

impl Capability for WriteTicket<'_> {
    type Request = WriteRequest;
    type Output = ();
    type Approval = ();

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
                (ADD_TAGS, "ticket.tags".to_string())
            }
            TicketWrite::AddInternalNote(body) => {
                if body.is_empty() || body.len() > MAX_NOTE_BYTES {
                    return Err(CallError::Invalid(format!(
                        "a note must be 1-{MAX_NOTE_BYTES} bytes"
                    )));
                }
                (ADD_INTERNAL_NOTE, "ticket.internal_notes".to_string())
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
                    SET_CUSTOM_FIELD,
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
        ctx: &CallContext,
        r: WriteRequest,
        (): (),
        _: &FieldPlan,
    ) -> Result<(), CallError> {
        let mut ticket = load(self.store, ctx, Kind::Ticket, &r.ticket_id)?;
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
        self.store
            .put_labeled(&records, &labels)
            .map_err(unavailable)
    }
}

/// The helpdesk interface as a plugin sees it: each WIT function is one brokered call
/// on the invocation, performed against the helpdesk store.
impl CallState<'_> {
    fn get(&mut self, kind: Kind, id: String, fields: Vec<String>) -> Result<Record, CallFailure> {
        let store = self.services.helpdesk.as_ref();
        let got = self
            .invocation
            .call(&GetRecord { store }, GetRequest { kind, id, fields });
        self.settle(got.map(|r| r.record))
    }

    fn write(&mut self, ticket_id: String, write: TicketWrite) -> Result<(), CallFailure> {
        let store = self.services.helpdesk.as_ref();
        let written = self
            .invocation
            .call(&WriteTicket { store }, WriteRequest { ticket_id, write });
        self.settle(written)
    }
}

impl wit_interfaces::helpdesk::Host for CallState<'_> {
    fn get_ticket(&mut self, id: String, fields: Vec<String>) -> Result<wit::Ticket, CallFailure> {
        self.get(Kind::Ticket, id, fields)
            .map(|r| convert::ticket(&r))
    }

    fn get_user(&mut self, id: String, fields: Vec<String>) -> Result<wit::User, CallFailure> {
        self.get(Kind::User, id, fields).map(|r| convert::user(&r))
    }

    fn get_organization(
        &mut self,
        id: String,
        fields: Vec<String>,
    ) -> Result<wit::Organization, CallFailure> {
        self.get(Kind::Organization, id, fields)
            .map(|r| convert::organization(&r))
    }

    fn list_comments(
        &mut self,
        ticket_id: String,
        fields: Vec<String>,
        limit: u32,
    ) -> Result<Vec<wit::Comment>, CallFailure> {
        let store = self.services.helpdesk.as_ref();
        let request = ListCommentsRequest {
            ticket_id,
            fields,
            limit,
        };
        let listed = self.invocation.call(&ListComments { store }, request);
        self.settle(listed.map(|rs| rs.iter().map(|r| convert::comment(&r.record)).collect()))
    }

    fn search_tickets(
        &mut self,
        query: wit::TicketQuery,
        fields: Vec<String>,
        limit: u32,
    ) -> Result<Vec<wit::Ticket>, CallFailure> {
        let query = match query {
            wit::TicketQuery::Requester(v) => TicketQuery::Requester(v),
            wit::TicketQuery::Tag(v) => TicketQuery::Tag(v),
            wit::TicketQuery::Status(v) => TicketQuery::Status(v),
        };
        let store = self.services.helpdesk.as_ref();
        let request = SearchRequest {
            query,
            fields,
            limit,
        };
        let found = self.invocation.call(&SearchTickets { store }, request);
        self.settle(found.map(|rs| rs.iter().map(|r| convert::ticket(&r.record)).collect()))
    }

    fn add_tags(&mut self, ticket_id: String, tags: Vec<String>) -> Result<(), CallFailure> {
        self.write(ticket_id, TicketWrite::AddTags(tags))
    }

    fn add_internal_note(&mut self, ticket_id: String, body: String) -> Result<(), CallFailure> {
        self.write(ticket_id, TicketWrite::AddInternalNote(body))
    }

    fn set_custom_field(
        &mut self,
        ticket_id: String,
        name: String,
        value: String,
    ) -> Result<(), CallFailure> {
        self.write(ticket_id, TicketWrite::SetCustomField { name, value })
    }
}
