//! Storage behind narrow traits: helpdesk data, installations, alerts and the audit log.
//!
//! The traits live in `airlock-core` (and the audit log's in `airlock-audit`);
//! [`SqliteStore`], from `airlock-store-sqlite`, is the embedded default. A PostgreSQL
//! backend for several hosts implements the same traits.

pub use airlock_audit::AuditStore;
pub use airlock_core::store::{
    AccountStore, AlertStore, FieldSealer, HelpdeskStore, InstallationStore, KvChange, KvEntry,
    KvQuota, KvStore, ReviewStore, StoreError, StoreResult, TicketQuery, VendorStore,
};
pub use airlock_store_sqlite::{Durability, SqliteStore, copy_database};

/// Everything the service needs from storage.
pub trait Store: HelpdeskStore + InstallationStore + AuditStore {}

impl<T: HelpdeskStore + InstallationStore + AuditStore> Store for T {}
