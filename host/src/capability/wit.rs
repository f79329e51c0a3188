//! The WIT contract: host bindings generated from `wit/airlock.wit`, and the names of the
//! interfaces its world imports and exports, read from the same file.
#![allow(missing_docs)]

use std::sync::OnceLock;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    // Every import may end the invocation (a spent budget traps); a call's own refusal
    // is the WIT `error` it returns.
    imports: { default: trappable },
    trappable_error_type: {
        "airlock:plugin/types.error" => crate::capability::CallFailure,
    },
});

pub use airlock::plugin::types;

/// The contract's source, as plugins are built against it.
const WIT: &str = include_str!("../../../wit/airlock.wit");

/// The world plugins target.
const WORLD: &str = "plugin";

/// The interfaces of the world, read from the WIT: (imports, exports), each named as
/// components name them (`airlock:plugin/helpdesk@0.1.0`).
fn world_interfaces() -> &'static (Vec<String>, Vec<String>) {
    static NAMES: OnceLock<(Vec<String>, Vec<String>)> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut resolve = wit_parser::Resolve::new();
        let package = resolve
            .push_source("airlock.wit", WIT)
            .expect("the shipped WIT parses");
        let world = resolve
            .select_world(&[package], Some(WORLD))
            .expect("the shipped WIT has the plugin world");
        let names = |items: &wit_parser::IndexMap<wit_parser::WorldKey, wit_parser::WorldItem>| {
            items
                .values()
                .filter_map(|item| match item {
                    wit_parser::WorldItem::Interface { id, .. } => resolve.id_of(*id),
                    _ => None,
                })
                .collect::<Vec<String>>()
        };
        let world = &resolve.worlds[world];
        (names(&world.imports), names(&world.exports))
    })
}

/// The interfaces a plugin may import: exactly those of the world, and nothing else.
///
/// ```
/// let imports = airlock_host::capability::wit::allowed_imports();
/// assert!(imports.contains(&"airlock:plugin/helpdesk@0.1.0".to_string()));
/// assert!(!imports.iter().any(|i| i.starts_with("wasi:")));
/// ```
pub fn allowed_imports() -> &'static [String] {
    &world_interfaces().0
}

/// The interfaces a plugin must export (the event handler).
pub fn required_exports() -> &'static [String] {
    &world_interfaces().1
}
