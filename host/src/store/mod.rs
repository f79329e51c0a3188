//! Storage behind narrow traits: helpdesk data, installations and the audit log.
//!
//! [`SqliteStore`] (embedded SQLite) is the default. Each trait is small so that a
//! PostgreSQL backend for several hosts can implement the same three.

mod audit_blocks;
mod audit_journal;
mod audit_table;
mod audit_writer;
mod raw_statement;
mod sqlite;
mod sqlite_alerts;
mod sqlite_audit;

pub use sqlite::{Durability, SqliteStore};

use crate::installation::Installation;
use crate::model::{FieldLabel, Kind, Record};
pub use airlock_audit::AuditStore;

/// Errors from a store, without data values.
pub type StoreResult<T> = anyhow::Result<T>;

/// How to select tickets in a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketQuery {
    /// Tickets of this requester id.
    Requester(String),
    /// Tickets with this tag.
    Tag(String),
    /// Tickets with this status.
    Status(String),
}

/// Helpdesk records: tickets, users, organizations and comments.
pub trait HelpdeskStore: Send + Sync {
    /// One record by kind and id.
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Record>>;
    /// Inserts or replaces records, all in one transaction.
    fn put_many(&self, records: &[(Kind, String, Record)]) -> StoreResult<()> {
        self.put_labeled(records, &[])
    }
    /// Inserts or replaces records and adds information-flow labels to their fields, all
    /// in one transaction, so no value a plugin wrote is ever stored without the flows it
    /// carries. Labels are kept beside the records: the records themselves (what the
    /// helpdesk sees) are unchanged. Labels only accumulate.
    fn put_labeled(
        &self,
        records: &[(Kind, String, Record)],
        labels: &[FieldLabel],
    ) -> StoreResult<()>;
    /// The labels stored on the fields of these records.
    fn labels(&self, records: &[(Kind, String)]) -> StoreResult<Vec<FieldLabel>>;
    /// Up to `limit` comments of a ticket, oldest first.
    fn comments(&self, ticket_id: &str, limit: u32) -> StoreResult<Vec<Record>>;
    /// Up to `limit` tickets matching the query, newest first.
    fn search_tickets(&self, query: &TicketQuery, limit: u32) -> StoreResult<Vec<Record>>;
    /// How many records of a kind are stored.
    fn count(&self, kind: Kind) -> StoreResult<u64>;
    /// Up to `limit` records of a kind with ids after `after_id`, by id (for scans that
    /// must not hold a whole table in memory).
    fn page(&self, kind: Kind, after_id: &str, limit: u32) -> StoreResult<Vec<(String, Record)>>;
}

/// Installations and their grants and settings.
pub trait InstallationStore: Send + Sync {
    /// Inserts or replaces an installation.
    fn put_installation(&self, installation: &Installation) -> StoreResult<()>;
    /// One installation by id.
    fn installation(&self, id: &str) -> StoreResult<Option<Installation>>;
    /// All installations, by id.
    fn installations(&self) -> StoreResult<Vec<Installation>>;
}

/// Alerts raised by the activity monitor ([`crate::monitor`]).
pub trait AlertStore: Send + Sync {
    /// Stores a new alert; returns its id (ids increase).
    fn put_alert(&self, alert: &crate::monitor::Alert) -> StoreResult<u64>;
    /// Alerts matching a query, oldest first.
    fn alerts(&self, query: &crate::monitor::AlertQuery)
    -> StoreResult<Vec<crate::monitor::Alert>>;
    /// Records how delivery to the webhook went (`delivered`, `failed: …`).
    fn set_alert_delivery(&self, id: u64, delivery: &str) -> StoreResult<()>;
}

/// Everything the service needs from storage.
pub trait Store: HelpdeskStore + InstallationStore + AuditStore {}

impl<T: HelpdeskStore + InstallationStore + AuditStore> Store for T {}
