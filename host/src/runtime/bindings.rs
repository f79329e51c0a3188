//! Host bindings generated from `wit/airlock.wit`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
});

pub use airlock::plugin::types;
