//! Airlock's integration tests: one binary, real components built from `plugins/` and
//! `tests/plugins/` by `scripts/build-plugins.sh`, real SQLite, real HTTP on loopback.

mod api;
mod audit_tamper;
mod cli;
mod examples;
mod hostile;
mod install;
mod pii_probe;
mod support;
