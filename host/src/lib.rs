//! # Airlock host
//!
//! Airlock runs third-party helpdesk plugins as sandboxed WebAssembly components. Every
//! call a plugin makes passes through one [broker](broker): it is authorized against the
//! installation's grant, projected down to the granted fields, redacted, and recorded
//! in a hash-chained [audit](audit) log.
//!
//! Modules, each with one job:
//! - [`catalog`]: every field path and its sensitivity;
//! - [`manifest`]: `plugin.toml` parsing and validation;
//! - [`installation`]: installed plugins, grants and settings;
//! - [`model`]: helpdesk records;
//! - [`store`]: storage traits and the SQLite backend;
//! - [`audit`], [`merkle`], [`checkpoint`], [`integrity`]: the audit log's records,
//!   chain, Merkle tree, signed checkpoints and verification (the `airlock-audit` crate,
//!   re-exported here);
//! - [`broker`]: the pipeline; [`capability`]: what plugins can call through it;
//! - [`egress`]: brokered outbound HTTP (destinations, secrets, data-loss checks);
//! - [`runtime`]: the wasmtime sandbox;
//! - [`monitor`]: activity counters, alerts, audit exports and access reviews;
//! - [`service`]: the HTTP API; [`dispatch`]: events to installations.
#![warn(missing_docs)]
// Only the runtime's compiled-component cache needs unsafe code (`runtime/cache.rs`).
#![deny(unsafe_code)]

pub mod app;
pub use airlock_audit::record as audit;
pub mod blobs;
pub mod broker;
pub mod capability;
pub mod cli;
pub use airlock_audit::checkpoint;
pub use airlock_core::catalog;
pub mod demo;
pub mod dispatch;
pub mod egress;
pub mod error;
pub use airlock_audit::integrity;
pub use airlock_audit::merkle;
pub use airlock_core::installation;
pub use airlock_core::manifest;
pub use airlock_core::model;
pub mod api;
pub mod monitor;
pub mod redaction;
pub mod runtime;
pub mod store;
