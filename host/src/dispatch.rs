//! Helpdesk events as they arrive, and what each installation did with one. The
//! application ([`crate::app::Airlock::handle_event`]) stores what an event carries, then
//! runs every subscribed, enabled installation on it.

use crate::capability::log::LogLine;
use crate::model::{Comment, Ticket};
use crate::runtime::Failure;
use serde::{Deserialize, Serialize};

/// An event as posted to `POST /api/v1/events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EventRequest {
    /// A new ticket; it is stored, then dispatched.
    TicketCreated {
        /// The ticket.
        ticket: Ticket,
    },
    /// A changed ticket; it replaces the stored one, then is dispatched.
    TicketUpdated {
        /// The ticket.
        ticket: Ticket,
    },
    /// A new comment; it is stored, then dispatched with its ticket.
    CommentAdded {
        /// The comment.
        comment: Comment,
    },
    /// An agent invoked a custom action on a stored ticket.
    Action {
        /// The ticket.
        ticket_id: String,
        /// The action's name.
        name: String,
        /// Its payload.
        #[serde(default)]
        payload: serde_json::Value,
    },
}

/// What one installation did with an event.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchResult {
    /// The installation.
    pub installation: String,
    /// The invocation id (find its audit records with it).
    pub invocation: String,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// The plugin's summary, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Wall time in the sandbox, in milliseconds.
    pub elapsed_ms: f64,
    /// How many audit records the invocation appended.
    pub audit_records: usize,
    /// What the plugin logged (redacted).
    pub logs: Vec<LogLine>,
}
