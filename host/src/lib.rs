//! # Airlock host
//!
//! Airlock runs third-party helpdesk plugins as sandboxed WebAssembly components. Every
//! call a plugin makes passes through one [broker]: it is authorized against the
//! installation's grant, projected down to the granted fields, redacted, and recorded
//! in a hash-chained [audit] log.
//!
//! Modules, each with one job, top layer first (`tests/all/layering.rs` keeps imports
//! pointing down):
//! - [`api`]: the HTTP API; [`cli`]: the `airlock` subcommands; [`loadgen`]: the load
//!   generator behind `airlock loadtest`;
//! - [`app`]: the composition root, and every operation the surfaces call;
//! - [`dispatch`]: helpdesk events; [`monitor`]: activity counters, alerts, audit
//!   exports and access reviews;
//! - [`runtime`]: the wasmtime sandbox;
//! - [`capability`]: what plugins can call, one module per WIT interface;
//!   [`redaction`]: the broker's redaction step;
//! - [`broker`]: the pipeline;
//! - [`egress`]: brokered outbound HTTP (destinations, secrets, data-loss checks);
//!   [`store`]: the storage traits and the SQLite backend;
//! - [`catalog`], [`manifest`], [`installation`], [`model`]: the `airlock-core` crate's
//!   vocabulary, re-exported;
//! - [`audit`], [`merkle`], [`checkpoint`], [`integrity`]: the audit log's records,
//!   chain, Merkle tree, signed checkpoints and verification (the `airlock-audit` crate,
//!   re-exported here).
#![warn(missing_docs)]
// Only the runtime's compiled-component cache needs unsafe code (`runtime/cache.rs`).
#![deny(unsafe_code)]

pub mod access;
pub use airlock_core::account;
pub use airlock_core::review;
pub use airlock_core::upgrade;
pub use airlock_core::vendor;
pub mod app;
pub use airlock_audit::record as audit;
pub mod blobs;
pub mod broker;
pub mod capability;
pub mod cli;
pub use airlock_audit::checkpoint;
pub use airlock_audit::evidence;
pub use airlock_core::catalog;
pub mod demo;
pub mod dispatch;
pub mod egress;
pub mod error;
pub mod loadgen;
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
