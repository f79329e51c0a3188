//! The storage port: small traits a backend implements (SQLite embedded by default,
//! PostgreSQL for several hosts), and the one error type they all return.
//!
//! The audit log's own trait, `AuditStore`, lives in the `airlock-audit` crate and
//! returns the same [`StoreError`].

use crate::alert::{Alert, AlertQuery, Delivery};
use crate::installation::Installation;
use crate::model::{FieldLabel, Kind, Record};
use std::error::Error as StdError;

/// What a store call returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// The boxed cause of a [`StoreError`]: the backend's own error.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// Why a store call failed. Messages name tables, files and ids, never data values.
///
/// The variant tells a caller what to do: retry a [`Conflict`](StoreError::Conflict)
/// after reading again, retry a [`Transient`](StoreError::Transient) failure later,
/// and stop and call an operator on [`Corrupt`](StoreError::Corrupt) data.
///
/// ```
/// use airlock_core::StoreError;
/// let e = StoreError::transient("the database is locked", None);
/// assert!(e.is_transient());
/// assert_eq!(e.to_string(), "the database is locked (transient: retry later)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer changed the same thing first (a uniqueness or compare-and-swap
    /// conflict). Read again and retry.
    #[error("{what} (conflict: read again and retry)")]
    Conflict {
        /// What conflicted.
        what: String,
        /// The backend's error.
        #[source]
        source: Option<Cause>,
    },
    /// The backend is busy, locked, out of space or unreachable. The same call may
    /// succeed later; nothing was changed.
    #[error("{what} (transient: retry later)")]
    Transient {
        /// What failed.
        what: String,
        /// The backend's error.
        #[source]
        source: Option<Cause>,
    },
    /// Stored data does not decode, or fails its own consistency checks. Retrying does
    /// not help; an operator must look.
    #[error("{what} (corrupt: the stored data needs an operator)")]
    Corrupt {
        /// What is corrupt.
        what: String,
        /// The decoder's or backend's error.
        #[source]
        source: Option<Cause>,
    },
    /// Any other failure: misuse, misconfiguration or a backend bug.
    #[error("{what}")]
    Failed {
        /// What failed.
        what: String,
        /// The backend's error.
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// A conflict with another writer.
    pub fn conflict(what: impl Into<String>, source: Option<Cause>) -> StoreError {
        StoreError::Conflict {
            what: what.into(),
            source,
        }
    }

    /// A failure that may pass.
    pub fn transient(what: impl Into<String>, source: Option<Cause>) -> StoreError {
        StoreError::Transient {
            what: what.into(),
            source,
        }
    }

    /// Stored data that is corrupt.
    pub fn corrupt(what: impl Into<String>, source: Option<Cause>) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            source,
        }
    }

    /// Any other failure.
    pub fn failed(what: impl Into<String>, source: Option<Cause>) -> StoreError {
        StoreError::Failed {
            what: what.into(),
            source,
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }

    /// Whether another writer got there first.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Whether stored data is corrupt.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. })
    }

    /// An error of the same kind with the same message, without its source: one failure
    /// handed to several callers (a group commit's).
    pub fn shared(&self) -> StoreError {
        let (make, what) = self.parts();
        make(what.to_string(), None)
    }

    /// The same error, with `context` in front of what failed (`"context: what"`).
    pub fn context(self, context: impl std::fmt::Display) -> StoreError {
        let make = self.parts().0;
        match self {
            StoreError::Conflict { what, source }
            | StoreError::Transient { what, source }
            | StoreError::Corrupt { what, source }
            | StoreError::Failed { what, source } => make(format!("{context}: {what}"), source),
        }
    }

    /// The constructor of this error's kind, and its message.
    fn parts(&self) -> (Make, &str) {
        match self {
            StoreError::Conflict { what, .. } => (StoreError::conflict, what),
            StoreError::Transient { what, .. } => (StoreError::transient, what),
            StoreError::Corrupt { what, .. } => (StoreError::corrupt, what),
            StoreError::Failed { what, .. } => (StoreError::failed, what),
        }
    }
}

/// The constructor of one kind of [`StoreError`].
type Make = fn(String, Option<Cause>) -> StoreError;

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

/// Seals the values of sensitive helpdesk fields before a store writes them, and opens
/// them as it reads them: encryption at rest, with ids and other fields left searchable.
pub trait FieldSealer: Send + Sync {
    /// The stored form of `value`, field `key` of record `kind`/`id`.
    fn seal(&self, kind: Kind, id: &str, key: &str, value: &str) -> Result<String, String>;
    /// The value of a stored form; a value not in sealed form is returned as it is
    /// (written before sealing began).
    fn open(&self, kind: Kind, id: &str, key: &str, stored: &str) -> Result<String, String>;
    /// Whether `stored` is in sealed form.
    fn is_sealed(&self, stored: &str) -> bool;
}

/// The top-level keys of a record kind whose values are sealed at rest: its fields the
/// catalog classes `personal` or `restricted`.
///
/// ```
/// use airlock_core::{model::Kind, store::sealed_keys};
/// assert!(sealed_keys(Kind::User).contains(&"email"));
/// assert!(!sealed_keys(Kind::User).contains(&"organization_id"));
/// assert_eq!(sealed_keys(Kind::Comment), ["body"]);
/// ```
pub fn sealed_keys(kind: Kind) -> &'static [&'static str] {
    use crate::catalog::{FIELDS, Sensitivity};
    use std::sync::OnceLock;
    // Read on every record a store reads: worked out once per kind.
    static KEYS: [OnceLock<Vec<&'static str>>; 4] = [const { OnceLock::new() }; 4];
    let slot = match kind {
        Kind::Ticket => 0,
        Kind::User => 1,
        Kind::Organization => 2,
        Kind::Comment => 3,
    };
    KEYS[slot].get_or_init(|| {
        let prefix = kind.path_prefix();
        FIELDS
            .iter()
            .filter(|f| {
                matches!(
                    f.sensitivity,
                    Sensitivity::Personal | Sensitivity::Restricted
                )
            })
            .filter_map(|f| f.path.strip_prefix(prefix)?.strip_prefix('.'))
            .filter(|key| !key.contains(['.', '*']))
            .collect()
    })
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
    /// Up to `limit` comments written by a user (on any ticket), oldest first.
    fn comments_by(&self, author_id: &str, limit: u32) -> StoreResult<Vec<Record>>;
    /// Up to `limit` tickets matching the query, newest first.
    fn search_tickets(&self, query: &TicketQuery, limit: u32) -> StoreResult<Vec<Record>>;
    /// How many records of a kind are stored.
    fn count(&self, kind: Kind) -> StoreResult<u64>;
    /// Up to `limit` records of a kind with ids after `after_id`, by id (for scans that
    /// must not hold a whole table in memory).
    fn page(&self, kind: Kind, after_id: &str, limit: u32) -> StoreResult<Vec<(String, Record)>>;
    /// Deletes records and everything stored beside them (a ticket's tags, comments and
    /// their labels), all in one transaction, overwriting the freed space so no deleted
    /// value lingers in the file. Returns how many records were deleted.
    fn erase(&self, records: &[(Kind, String)]) -> StoreResult<u64>;
    /// Up to `limit` ids of tickets with status `closed` last updated before `before`
    /// (RFC 3339, compared as text), oldest first: what retention deletes.
    fn closed_tickets_before(&self, before: &str, limit: u32) -> StoreResult<Vec<String>>;
    /// Up to `limit` ids of users no ticket or comment refers to any more (not a
    /// requester, assignee or author).
    fn orphan_users(&self, limit: u32) -> StoreResult<Vec<String>>;
}

/// Installations and their grants and settings.
pub trait InstallationStore: Send + Sync {
    /// Inserts or replaces an installation.
    fn put_installation(&self, installation: &Installation) -> StoreResult<()>;
    /// One installation by id.
    fn installation(&self, id: &str) -> StoreResult<Option<Installation>>;
    /// All installations, by id.
    fn installations(&self) -> StoreResult<Vec<Installation>>;
    /// A number that changes whenever any installation is added, changed or removed, by
    /// any process sharing the store: a cache of [`InstallationStore::installations`] is
    /// current while this is unchanged.
    fn installations_version(&self) -> StoreResult<u64>;
    /// Changes one installation atomically: reads it, lets `change` modify it, and writes
    /// it back, with no other writer in between (concurrent updates never lose one
    /// another's changes). `change` returns `false` to leave it unchanged. Returns the
    /// installation as stored afterwards, or `None` when there is no such installation.
    fn update_installation(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Installation) -> bool,
    ) -> StoreResult<Option<Installation>>;
}

/// Alerts raised by the activity monitor.
pub trait AlertStore: Send + Sync {
    /// Stores a new alert; returns its id (ids increase).
    fn put_alert(&self, alert: &Alert) -> StoreResult<u64>;
    /// Alerts matching a query, oldest first.
    fn alerts(&self, query: &AlertQuery) -> StoreResult<Vec<Alert>>;
    /// Records how delivery to the webhook went.
    fn set_alert_delivery(&self, id: u64, delivery: &Delivery) -> StoreResult<()>;
    /// Deletes up to `limit` alerts raised before `before` (RFC 3339), oldest first, or
    /// only counts them when `dry_run`. Returns how many.
    fn prune_alerts(&self, before: &str, limit: u32, dry_run: bool) -> StoreResult<u64>;
}

/// User accounts and their credentials (sessions and tokens).
pub trait AccountStore: Send + Sync {
    /// Stores a new user; `false` (storing nothing) when the name is taken.
    fn create_user(&self, user: &crate::account::User) -> StoreResult<bool>;
    /// One user by name.
    fn user(&self, name: &str) -> StoreResult<Option<crate::account::User>>;
    /// Every user, by name.
    fn users(&self) -> StoreResult<Vec<crate::account::User>>;
    /// Changes one user atomically, as [`InstallationStore::update_installation`] does.
    fn update_user(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut crate::account::User) -> bool,
    ) -> StoreResult<Option<crate::account::User>>;
    /// Stores a new credential (ids are random, so never taken).
    fn put_credential(&self, credential: &crate::account::Credential) -> StoreResult<()>;
    /// One credential by id.
    fn credential(&self, id: &str) -> StoreResult<Option<crate::account::Credential>>;
    /// The credentials of one user, or of everyone, newest first.
    fn credentials(&self, user: Option<&str>) -> StoreResult<Vec<crate::account::Credential>>;
    /// Changes one credential atomically.
    fn update_credential(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut crate::account::Credential) -> bool,
    ) -> StoreResult<Option<crate::account::Credential>>;
}

/// A plugin's key-value entry as stored: its key name and value sealed (the store never
/// sees either in clear), with what the value was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The keyed hash of the key name (hex): how the entry is found and ordered.
    pub key_hash: String,
    /// The key name, sealed.
    pub key_sealed: Vec<u8>,
    /// The value, sealed.
    pub value_sealed: Vec<u8>,
    /// Bytes the entry counts against the quota (key and value in clear).
    pub size: u64,
    /// When it was last written (RFC 3339).
    pub written_at: String,
    /// The flows the writing invocation had read: inherited by whoever reads it.
    pub flows: Vec<crate::model::Flow>,
    /// The data subjects (`user:<id>`, `ticket:<id>`) whose records the writing
    /// invocation had read: what data-subject requests look for.
    pub subjects: std::collections::BTreeSet<String>,
}

/// An installation's kv quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    /// Bytes of keys and values.
    pub max_bytes: u64,
    /// Number of keys.
    pub max_keys: u64,
}

/// What [`KvStore::kv_update`] should do with an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvChange {
    /// Write this entry (insert or replace).
    Put(KvEntry),
    /// Delete the entry.
    Delete,
    /// Leave it as it is.
    Keep,
}

/// Plugin key-value storage, one namespace per installation.
pub trait KvStore: Send + Sync {
    /// One entry.
    fn kv_get(&self, installation: &str, key_hash: &str) -> StoreResult<Option<KvEntry>>;
    /// Changes one entry atomically: reads it, lets `change` decide, and writes the
    /// result with no other writer in between. A put that would take the installation
    /// past `quota` writes nothing and returns `false`; otherwise `true`.
    fn kv_update(
        &self,
        installation: &str,
        key_hash: &str,
        quota: KvQuota,
        change: &mut dyn FnMut(Option<&KvEntry>) -> KvChange,
    ) -> StoreResult<bool>;
    /// Up to `limit` entries after `after` (a key hash), in key-hash order.
    fn kv_page(
        &self,
        installation: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<KvEntry>>;
    /// Every entry tagged with one of `subjects`, with its installation.
    fn kv_tagged(&self, subjects: &[String]) -> StoreResult<Vec<(String, KvEntry)>>;
    /// The wrapped data key of an installation's kv values, if it has one.
    fn kv_data_key(&self, installation: &str) -> StoreResult<Option<String>>;
    /// The wrapped data key of `owner` (an installation, or a store-wide owner such as
    /// `#helpdesk`): the one stored, or else `wrap()`'s, stored now. `wrap` runs inside
    /// the store's write transaction, so no master-key rotation
    /// ([`MasterSealedStore::reseal_all`]) can fall between sealing and storing.
    fn kv_init_data_key(
        &self,
        owner: &str,
        wrap: &mut dyn FnMut() -> Result<String, String>,
    ) -> StoreResult<String>;
    /// Bytes and keys an installation uses.
    fn kv_usage(&self, installation: &str) -> StoreResult<(u64, u64)>;
    /// Up to `limit` entries not written since `before` (RFC 3339), of one installation
    /// or of all, as (installation, key hash), oldest first.
    fn kv_written_before(
        &self,
        installation: Option<&str>,
        before: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, String)>>;
}

/// A value sealed directly under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MasterSealed {
    /// A wrapped data key ([`KvStore::kv_init_data_key`]), by owner.
    DataKey {
        /// The installation, or a store-wide owner such as `#helpdesk`.
        owner: String,
    },
    /// A secret setting of an installation ([`Installation::secrets`]).
    Secret {
        /// The installation.
        installation: String,
        /// The setting's name.
        name: String,
    },
}

/// Everything sealed directly under the master key, for its rotation.
pub trait MasterSealedStore: Send + Sync {
    /// Replaces every value sealed directly under the master key with
    /// `reseal(what, sealed)`, in one write transaction: an error from `reseal` (which
    /// names what failed, never a value) leaves every value as it was. After the commit,
    /// and before any other writer of this process can seal and store a value, it runs
    /// `committed` (which swaps the key in use). Returns how many values were resealed.
    fn reseal_all(
        &self,
        reseal: &mut dyn FnMut(&MasterSealed, &str) -> Result<String, String>,
        committed: &mut dyn FnMut(),
    ) -> StoreResult<u64>;
    /// One value sealed directly under the master key, if any: enough to tell which of
    /// two keys the store is under.
    fn master_sealed_sample(&self) -> StoreResult<Option<(MasterSealed, String)>>;
}

/// Vendors and their pinned keys.
pub trait VendorStore: Send + Sync {
    /// One vendor by name.
    fn vendor(&self, name: &str) -> StoreResult<Option<crate::vendor::Vendor>>;
    /// Every vendor, by name.
    fn vendors(&self) -> StoreResult<Vec<crate::vendor::Vendor>>;
    /// Changes one vendor atomically (`None` if there is none yet): reads it, lets
    /// `change` modify it, and writes it back with no other writer in between.
    /// `change` returns `false` to leave it unchanged. Returns the vendor afterwards.
    fn update_vendor(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut Option<crate::vendor::Vendor>) -> bool,
    ) -> StoreResult<Option<crate::vendor::Vendor>>;
}

/// Access reviews.
pub trait ReviewStore: Send + Sync {
    /// Stores a new review, assigning its id (ids increase). `None`, storing nothing,
    /// when another review is still open: at most one is open at a time, however many
    /// callers race.
    fn open_review(&self, review: &crate::review::AccessReview) -> StoreResult<Option<u64>>;
    /// One review by id.
    fn review(&self, id: u64) -> StoreResult<Option<crate::review::AccessReview>>;
    /// The latest reviews, newest first, at most `limit`.
    fn reviews(&self, limit: u32) -> StoreResult<Vec<crate::review::AccessReview>>;
    /// The open review, if any.
    fn open_review_now(&self) -> StoreResult<Option<crate::review::AccessReview>>;
    /// The latest signed-off review, if any.
    fn last_signed_off(&self) -> StoreResult<Option<crate::review::AccessReview>>;
    /// Changes one review atomically, as [`InstallationStore::update_installation`] does.
    fn update_review(
        &self,
        id: u64,
        change: &mut dyn FnMut(&mut crate::review::AccessReview) -> bool,
    ) -> StoreResult<Option<crate::review::AccessReview>>;
}
