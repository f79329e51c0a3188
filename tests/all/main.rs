//! Airlock's integration tests: one binary, real components built from `plugins/` and
//! `tests/plugins/` by `scripts/build-plugins.sh`, real SQLite, real HTTP on loopback.

mod api;
mod at_rest;
mod audit_tamper;
mod author;
mod budget;
mod cli;
mod crash;
mod egress;
mod examples;
mod hostile;
mod install;
mod integrity;
mod keys;
mod kv;
mod layering;
mod lifecycle;
mod monitoring;
mod people;
mod pii_probe;
mod redaction;
mod retention;
mod schedule;
mod service;
mod support;
