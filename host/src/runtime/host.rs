//! A store's state for one invocation, and how the runtime links each capability's
//! WIT host (in [`crate::capability`]) to it: every call goes straight into the broker.

use super::EventInput;
use crate::broker::{CallError, Invocation};
use crate::capability::helpdesk::{GetRecord, GetRequest, PrefetchTicket};
use crate::capability::log::{LogBook, LogLine};
use crate::capability::wit::types::{self, Comment, Event};
use crate::capability::{CallState, LendCallState, Services, convert};
use crate::model::Kind;
use wasmtime::ResourceLimiter;

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

/// Per-invocation state of a store: the broker invocation, the capabilities' services,
/// limits and logs.
pub struct HostState {
    invocation: Invocation,
    services: Services,
    limiter: MemoryLimiter,
    log: LogBook,
}

impl LendCallState for HostState {
    fn call_state(&mut self) -> CallState<'_> {
        CallState {
            invocation: &mut self.invocation,
            services: &self.services,
            log: &mut self.log,
        }
    }
}

impl HostState {
    /// State for one invocation with the capabilities' services and a memory cap in
    /// bytes.
    pub fn new(invocation: Invocation, services: Services, memory_cap: usize) -> HostState {
        HostState {
            invocation,
            services,
            limiter: MemoryLimiter { cap: memory_cap },
            log: LogBook::default(),
        }
    }

    pub(super) fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    pub(super) fn memory_cap(&self) -> usize {
        self.limiter.cap
    }

    pub(super) fn panic_message(&self) -> Option<&str> {
        self.log.panic.as_deref()
    }

    pub(super) fn into_parts(self) -> (Invocation, Vec<LogLine>) {
        (self.invocation, self.log.lines)
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
        let store = self.services.helpdesk.as_ref();
        let ticket_id = match event {
            EventInput::TicketCreated { ticket_id }
            | EventInput::TicketUpdated { ticket_id }
            | EventInput::CommentAdded { ticket_id, .. }
            | EventInput::Action { ticket_id, .. } => ticket_id.clone(),
            EventInput::Schedule => return Ok(Event::Schedule),
        };
        let ticket = match self.declares(Kind::Ticket) {
            true => match self
                .invocation
                .call(&PrefetchTicket { store }, ticket_id.clone())
            {
                Ok(t) => convert::ticket(&t.record),
                Err(CallError::NotFound(_) | CallError::Denied(_)) => {
                    convert::bare_ticket(&ticket_id)
                }
                Err(e) => anyhow::bail!("cannot pre-fetch the event's ticket: {e}"),
            },
            false => convert::bare_ticket(&ticket_id),
        };
        Ok(match event {
            EventInput::Schedule => Event::Schedule,
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
                            &GetRecord { store },
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
}
