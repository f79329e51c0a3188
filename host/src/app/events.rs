//! Helpdesk events: store what the event carries, then run every subscribed, enabled
//! installation on it, each in its own sandbox, and append their audit records before
//! answering. The service runs them on its worker pool ([`super::admission`]).

use super::{Airlock, AppError, AppResult};
use crate::dispatch::{DispatchResult, EventRequest};
use crate::installation::Installation;
use crate::model::{Kind, to_record, valid_id};
use crate::runtime::{EventInput, InvocationResult};
use serde::Serialize;
use std::sync::Arc;

impl Airlock {
    /// Stores what an event carries and dispatches it to subscribed installations.
    ///
    /// Returns after every invocation's audit records are stored.
    pub fn handle_event(&self, request: EventRequest) -> AppResult<Vec<DispatchResult>> {
        let input = self.store_event(request)?;
        self.targets(input.kind())?
            .into_iter()
            .map(|inst| self.run(inst, &input))
            .collect()
    }

    /// Runs one installation on one event and appends its audit records.
    pub fn run(
        &self,
        inst: impl Into<Arc<Installation>>,
        input: &EventInput,
    ) -> AppResult<DispatchResult> {
        let result = self.invoke(inst, input)?;
        let InvocationResult {
            outcome,
            logs,
            elapsed,
            invocation,
        } = result;
        let installation = invocation.installation.id.clone();
        let invocation_id = invocation.id.clone();
        let records = invocation.finish()?;
        let audit_records = records.len();
        self.follow(records);
        self.recent_logs.keep(&installation, &invocation_id, &logs);
        let (status, summary, failure) = match outcome {
            Ok(summary) => ("ok", Some(summary), None),
            Err(f) => ("failed", None, Some(f)),
        };
        if let Some(f) = &failure {
            tracing::warn!(installation = %installation, invocation = %invocation_id, kind = f.kind.as_str(), "invocation failed");
        }
        Ok(DispatchResult {
            installation,
            invocation: invocation_id,
            status,
            summary,
            failure,
            elapsed_ms: elapsed.as_secs_f64() * 1000.0,
            audit_records,
            logs,
        })
    }

    /// Runs one installation on one event; the caller appends the audit records.
    pub fn invoke(
        &self,
        inst: impl Into<Arc<Installation>>,
        input: &EventInput,
    ) -> AppResult<InvocationResult> {
        let inst = inst.into();
        let plugin = self.loaded_plugin(&inst)?;
        let invocation = self.invocation(inst, input.kind().as_str());
        Ok(self
            .runtime()
            .invoke(&plugin, invocation, self.capabilities(), input))
    }

    pub(super) fn store_event(&self, request: EventRequest) -> AppResult<EventInput> {
        let check = |what: &str, id: &str| match valid_id(id) {
            true => Ok(()),
            false => Err(AppError::Invalid(format!(
                "{what} id must be 1-128 of [A-Za-z0-9._:-]"
            ))),
        };
        let now = crate::audit::now_rfc3339();
        Ok(match request {
            EventRequest::TicketCreated { mut ticket } => {
                check("ticket", &ticket.id)?;
                ticket.created_at.get_or_insert_with(|| now.clone());
                ticket.updated_at.get_or_insert(now);
                let ticket_id = ticket.id.clone();
                self.put(Kind::Ticket, &ticket.id, &ticket)?;
                EventInput::TicketCreated { ticket_id }
            }
            EventRequest::TicketUpdated { mut ticket } => {
                check("ticket", &ticket.id)?;
                ticket.updated_at = Some(now);
                let ticket_id = ticket.id.clone();
                self.put(Kind::Ticket, &ticket.id, &ticket)?;
                EventInput::TicketUpdated { ticket_id }
            }
            EventRequest::CommentAdded { mut comment } => {
                check("comment", &comment.id)?;
                check("ticket", &comment.ticket_id)?;
                self.require_ticket(&comment.ticket_id)?;
                comment.created_at.get_or_insert(now);
                self.put(Kind::Comment, &comment.id, &comment)?;
                EventInput::CommentAdded {
                    ticket_id: comment.ticket_id,
                    comment_id: comment.id,
                }
            }
            EventRequest::Action {
                ticket_id,
                name,
                payload,
            } => {
                check("ticket", &ticket_id)?;
                if name.is_empty() || name.len() > 64 {
                    return Err(AppError::Invalid("an action name is 1-64 bytes".into()));
                }
                self.require_ticket(&ticket_id)?;
                EventInput::Action {
                    ticket_id,
                    name,
                    payload: payload.to_string(),
                }
            }
        })
    }

    fn require_ticket(&self, id: &str) -> AppResult<()> {
        match self.store().get(Kind::Ticket, id)? {
            Some(_) => Ok(()),
            None => Err(AppError::NotFound(format!("ticket {id} not found"))),
        }
    }

    fn put<T: Serialize>(&self, kind: Kind, id: &str, value: &T) -> AppResult<()> {
        let record = to_record(value).map_err(anyhow::Error::from)?;
        self.store().put_many(&[(kind, id.to_string(), record)])?;
        Ok(())
    }
}
