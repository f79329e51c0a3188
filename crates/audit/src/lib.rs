//! # Airlock's audit log
//!
//! Every call a plugin makes, and every admin action, is one [`record::AuditRecord`]:
//! sealed into a SHA-256 hash chain ([`record::seal`], [`record::ChainVerifier`]) and a
//! leaf of an RFC 6962 Merkle tree ([`merkle`]). Signed [`checkpoint`]s commit to the
//! tree; [`integrity`] verifies a stored log against them, proves a record's inclusion
//! and prunes old records while keeping their hashes.
//!
//! Storage is a trait, [`AuditStore`]: the host implements it over SQLite. This crate
//! depends on neither wasmtime nor SQLite.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod evidence;
pub mod integrity;
pub mod merkle;
pub mod offline;
pub mod record;
mod store;

pub use store::{AuditStore, StoreError, StoreResult};
