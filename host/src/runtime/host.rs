//! The host side of each import: every call goes straight into the broker.

use super::bindings::airlock::plugin::{helpdesk, http, log, settings, types};
use super::bindings::types::{Comment, Event, Organization, Ticket, TicketQuery, User};
use super::{EventInput, convert};
use crate::broker::{CallError, Invocation};
use crate::capability::helpdesk::{
    GetRecord, GetRequest, ListComments, ListCommentsRequest, PrefetchTicket, SearchRequest,
    SearchTickets, TicketWrite, WriteRequest, WriteTicket,
};
use crate::capability::log::{Level, Log, LogLine};
use crate::capability::settings::Settings;
use crate::model::Kind;
use crate::store::TicketQuery as StoreQuery;
use wasmtime::ResourceLimiter;

/// The most log lines one invocation keeps.
pub const MAX_LOG_LINES: usize = 200;

/// The error the limiter raises when a plugin grows memory past its cap: the host's
/// own knowledge that the invocation failed for memory, whatever else the plugin did.
#[derive(Debug)]
pub struct MemoryCapReached(pub usize);

impl std::fmt::Display for MemoryCapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory cap of {} bytes reached", self.0)
    }
}

impl std::error::Error for MemoryCapReached {}

/// A failure of the host itself (its store, its pre-fetch), as opposed to the plugin's.
#[derive(Debug)]
pub struct HostFault(pub String);

impl std::fmt::Display for HostFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostFault {}

/// Caps linear memory.
pub struct MemoryLimiter {
    cap: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryCapReached(self.cap)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Per-invocation state of a store: the broker invocation, limits and logs.
pub struct HostState {
    invocation: Invocation,
    limiter: MemoryLimiter,
    logs: Vec<LogLine>,
    panic: Option<String>,
}

impl HostState {
    /// State for one invocation with a memory cap in bytes.
    pub fn new(invocation: Invocation, memory_cap: usize) -> HostState {
        HostState {
            invocation,
            limiter: MemoryLimiter { cap: memory_cap },
            logs: Vec::new(),
            panic: None,
        }
    }

    pub(super) fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    pub(super) fn memory_cap(&self) -> usize {
        self.limiter.cap
    }

    pub(super) fn panic_message(&self) -> Option<&str> {
        self.panic.as_deref()
    }

    pub(super) fn into_parts(self) -> (Invocation, Vec<LogLine>) {
        (self.invocation, self.logs)
    }

    fn declares(&self, kind: Kind) -> bool {
        let prefix = format!("{}.", kind.path_prefix());
        self.invocation
            .installation
            .manifest
            .data
            .read
            .iter()
            .any(|f| f.starts_with(&prefix))
    }

    /// Builds the WIT event, pre-fetching its ticket (and comment) through the broker
    /// with the fields the installation may read.
    pub(super) fn prefetch(&mut self, event: &EventInput) -> anyhow::Result<Event> {
        let ticket_id = match event {
            EventInput::TicketCreated { ticket_id }
            | EventInput::TicketUpdated { ticket_id }
            | EventInput::CommentAdded { ticket_id, .. }
            | EventInput::Action { ticket_id, .. } => ticket_id.clone(),
        };
        let ticket = match self.declares(Kind::Ticket) {
            true => match self.invocation.call(&PrefetchTicket, ticket_id.clone()) {
                Ok(t) => convert::ticket(&t.record),
                Err(CallError::NotFound(_) | CallError::Denied(_)) => {
                    convert::bare_ticket(&ticket_id)
                }
                Err(e) => anyhow::bail!("cannot pre-fetch the event's ticket: {e}"),
            },
            false => convert::bare_ticket(&ticket_id),
        };
        Ok(match event {
            EventInput::TicketCreated { .. } => Event::TicketCreated(ticket),
            EventInput::TicketUpdated { .. } => Event::TicketUpdated(ticket),
            EventInput::Action { name, payload, .. } => Event::Action(types::Action {
                name: name.clone(),
                ticket,
                payload: payload.clone(),
            }),
            EventInput::CommentAdded { comment_id, .. } => {
                let comment = match self.declares(Kind::Comment) {
                    true => self
                        .invocation
                        .call(
                            &GetRecord,
                            GetRequest {
                                kind: Kind::Comment,
                                id: comment_id.clone(),
                                fields: Vec::new(),
                            },
                        )
                        .map(|c| convert::comment(&c.record))
                        .ok(),
                    false => None,
                };
                Event::CommentAdded(types::CommentEvent {
                    comment: comment.unwrap_or_else(|| Comment {
                        id: comment_id.clone(),
                        ticket_id: ticket_id.clone(),
                        author_id: None,
                        body: None,
                        public: None,
                        created_at: None,
                    }),
                    ticket,
                })
            }
        })
    }

    fn get(
        &mut self,
        kind: Kind,
        id: String,
        fields: Vec<String>,
    ) -> Result<crate::model::Record, types::Error> {
        self.invocation
            .call(&GetRecord, GetRequest { kind, id, fields })
            .map(|r| r.record)
            .map_err(convert::error)
    }

    fn write(&mut self, ticket_id: String, write: TicketWrite) -> Result<(), types::Error> {
        self.invocation
            .call(&WriteTicket, WriteRequest { ticket_id, write })
            .map_err(convert::error)
    }

    fn log(&mut self, level: Level, message: String) {
        if self.logs.len() >= MAX_LOG_LINES && level != Level::Panic {
            return;
        }
        if let Ok(line) = self.invocation.call(&Log, LogLine { level, message }) {
            let inv = &self.invocation;
            // Plugin text may quote helpdesk data the detectors do not recognise (names,
            // subjects), so it reaches the host log only when asked for:
            // `AIRLOCK_LOG=info,airlock::plugin=debug`. It is always in the event's result.
            tracing::debug!(
                target: "airlock::plugin",
                installation = %inv.installation.id,
                invocation = %inv.id,
                level = line.level.as_str(),
                message = %line.message,
                "plugin log"
            );
            if level == Level::Panic {
                self.panic = Some(line.message.clone());
            }
            self.logs.push(line);
        }
    }
}

impl types::Host for HostState {}

impl helpdesk::Host for HostState {
    fn get_ticket(&mut self, id: String, fields: Vec<String>) -> Result<Ticket, types::Error> {
        self.get(Kind::Ticket, id, fields)
            .map(|r| convert::ticket(&r))
    }

    fn get_user(&mut self, id: String, fields: Vec<String>) -> Result<User, types::Error> {
        self.get(Kind::User, id, fields).map(|r| convert::user(&r))
    }

    fn get_organization(
        &mut self,
        id: String,
        fields: Vec<String>,
    ) -> Result<Organization, types::Error> {
        self.get(Kind::Organization, id, fields)
            .map(|r| convert::organization(&r))
    }

    fn list_comments(
        &mut self,
        ticket_id: String,
        fields: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Comment>, types::Error> {
        self.invocation
            .call(
                &ListComments,
                ListCommentsRequest {
                    ticket_id,
                    fields,
                    limit,
                },
            )
            .map(|rs| rs.iter().map(|r| convert::comment(&r.record)).collect())
            .map_err(convert::error)
    }

    fn search_tickets(
        &mut self,
        query: TicketQuery,
        fields: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Ticket>, types::Error> {
        let query = match query {
            TicketQuery::Requester(v) => StoreQuery::Requester(v),
            TicketQuery::Tag(v) => StoreQuery::Tag(v),
            TicketQuery::Status(v) => StoreQuery::Status(v),
        };
        self.invocation
            .call(
                &SearchTickets,
                SearchRequest {
                    query,
                    fields,
                    limit,
                },
            )
            .map(|rs| rs.iter().map(|r| convert::ticket(&r.record)).collect())
            .map_err(convert::error)
    }

    fn add_tags(&mut self, ticket_id: String, tags: Vec<String>) -> Result<(), types::Error> {
        self.write(ticket_id, TicketWrite::AddTags(tags))
    }

    fn add_internal_note(&mut self, ticket_id: String, body: String) -> Result<(), types::Error> {
        self.write(ticket_id, TicketWrite::AddInternalNote(body))
    }

    fn set_custom_field(
        &mut self,
        ticket_id: String,
        name: String,
        value: String,
    ) -> Result<(), types::Error> {
        self.write(ticket_id, TicketWrite::SetCustomField { name, value })
    }
}

impl log::Host for HostState {
    fn write(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        self.log(level, message);
    }

    fn report_panic(&mut self, message: String) {
        self.log(Level::Panic, message);
    }
}

impl settings::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.invocation.call(&Settings, Some(key)).ok().flatten()
    }

    fn all(&mut self) -> String {
        self.invocation
            .call(&Settings, None)
            .ok()
            .flatten()
            .unwrap_or_else(|| "{}".into())
    }
}

impl http::Host for HostState {
    fn request(&mut self, req: http::HttpRequest) -> Result<http::HttpResponse, types::Error> {
        let capability = crate::capability::http::Http::for_invocation(&self.invocation);
        let request = crate::egress::OutboundRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        self.invocation
            .call(&capability, request)
            .map(|r| http::HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(convert::error)
    }
}
