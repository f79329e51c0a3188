//! # Airlock's embedded store
//!
//! [`SqliteStore`] keeps helpdesk data, installations, alerts and the audit log in one
//! SQLite database in WAL mode. It implements every storage trait of `airlock-core`
//! and the audit log's [`AuditStore`]:
//! - audit appends go first to an append-only journal file, group-committed with one
//!   write and one sync for all concurrent callers, and are then indexed into SQLite in
//!   the background (`audit_writer`, `audit_journal`, `audit_table`, `audit_blocks`);
//! - verification scans the audit table through `raw_statement`, a prepared statement
//!   that hands out column bytes without copying them.
//!
//! Errors come back as a typed [`airlock_core::StoreError`]: busy and full databases are
//! transient, constraint violations are conflicts, and undecodable rows are corrupt.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod audit_blocks;
mod audit_journal;
mod audit_table;
mod audit_writer;
mod error;
mod group_commit;
mod helpdesk_writes;
#[allow(unsafe_code)]
mod raw_statement;
mod readers;
mod sqlite;
mod sqlite_accounts;
mod sqlite_alerts;
mod sqlite_audit;
mod sqlite_backup;
mod sqlite_kv;
mod sqlite_rekey;
mod sqlite_reviews;
mod sqlite_sealing;
mod sqlite_vendors;

pub use sqlite::{Durability, SqliteStore};
pub use sqlite_backup::{BackupPoint, copy_database};

use airlock_audit::AuditStore;
#[cfg(test)]
use airlock_audit::integrity;
use airlock_audit::record as audit;
use airlock_audit::{checkpoint, merkle};
use airlock_core::store::{AlertStore, HelpdeskStore, InstallationStore, TicketQuery};
use airlock_core::{installation, model};
