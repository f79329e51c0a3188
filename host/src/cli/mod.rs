//! The `airlock` command line, above the application: each module parses one group of
//! subcommands and calls [`crate::app::Airlock`].
//!
//! - [`config`]: the config file, turned into [`crate::app::Options`];
//! - [`audit`]: `airlock audit verify | key | checkpoint | proof | prune`;
//! - [`monitor`]: `airlock audit export | blast-radius`, `alerts`, `metrics`, `review`;
//! - [`people`]: `airlock user` and `airlock token`;
//! - [`redact`]: `airlock redact` and its backfill;
//! - [`dev`]: `airlock dev`, one plugin against sample data, egress answered by stubs;
//! - [`plugin_test`]: `airlock test`, a plugin's test cases;
//! - [`replay`]: `airlock dev --replay`, a recorded invocation against a new build;
//! - [`scaffold`]: `airlock new`;
//! - [`plugin`], [`lifecycle`]: `airlock plugin`, bundles, upgrades and versions;
//! - [`vendor`]: `airlock vendor` and `airlock plugin pack`;
//! - [`incident`]: `airlock incident report`;
//! - [`dsr`]: `airlock dsr export | erase | hold | release | receipt`;
//! - [`keys`]: `airlock keys fingerprint | rotate`;
//! - [`backup`]: `airlock backup` and `airlock restore`;
//! - [`terminal`]: what reaches a terminal carries no escapes or bidi controls.

pub mod audit;
pub mod backup;
pub mod config;
pub mod dev;
pub mod dsr;
pub mod evidence;
pub mod incident;
pub mod keys;
pub mod lifecycle;
pub mod monitor;
pub mod people;
pub mod plugin;
pub mod plugin_test;
pub mod redact;
pub mod replay;
pub mod review;
pub mod scaffold;
pub mod terminal;
pub mod vendor;
