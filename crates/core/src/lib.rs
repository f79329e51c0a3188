//! # Airlock's core model
//!
//! The vocabulary every other Airlock crate speaks, with no engine and no database:
//! - [`account`]: user accounts, roles, sessions and tokens;
//! - [`addr`]: IP address classes (public, private, loopback, cloud metadata, …);
//! - [`catalog`]: every helpdesk field path, its access and its sensitivity;
//! - [`model`]: helpdesk records and the information-flow labels stored beside them;
//! - [`manifest`]: `plugin.toml` parsing and validation, including its egress rules and
//!   destinations;
//! - [`installation`]: installed plugins, their grants and settings;
//! - [`alert`]: the activity monitor's alerts;
//! - [`review`]: access reviews, their items, decisions and sign-off;
//! - [`store`]: the storage traits a backend implements, and their typed [`StoreError`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod addr;
pub mod alert;
pub mod catalog;
pub mod installation;
pub mod manifest;
pub mod model;
pub mod review;
pub mod store;
pub mod upgrade;
pub mod vendor;

pub use store::{StoreError, StoreResult};
