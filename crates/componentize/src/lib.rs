//! Airlock plugin components: a core wasm module built with airlock-sdk (with its
//! embedded `component-type` section) made into a component, and components checked.
//! Both refuse anything that imports more than Airlock's own interfaces
//! (`airlock:plugin/*`): WASI, wasm-bindgen or unresolved `env` symbols mean the plugin
//! was built for the wrong target or pulls in a dependency the sandbox cannot serve.
//!
//! Used by `tools/componentize` (the build script's step) and by `airlock plugin
//! componentize` / `airlock plugin build`.
#![forbid(unsafe_code)]

use wasmparser::{Parser, Payload};

/// Instance imports a plugin component may have (the `plugin` world's imports).
pub const ALLOWED_PREFIX: &str = "airlock:plugin/";
/// The export every plugin must provide.
pub const HANDLER_EXPORT: &str = "airlock:plugin/handler@0.1.0";

/// Explains where a foreign import most likely comes from.
fn hint(module: &str) -> &'static str {
    if module.starts_with("wasi") {
        "WASI imports: build for wasm32-unknown-unknown (not wasm32-wasip1/p2), and avoid dependencies that need WASI"
    } else if module.starts_with("__wbindgen") || module == "wbg" {
        "wasm-bindgen imports: a dependency targets the browser (js-sys/web-sys/getrandom \"js\"); remove it"
    } else if module == "env" {
        "an unresolved `env` symbol: usually C code or an `extern` block without a definition"
    } else {
        "plugins may only import Airlock's interfaces, through airlock-sdk"
    }
}

/// Turns `module` (a core module built with airlock-sdk; `name` names it in errors) into
/// a validated component; returns it with a summary of its imports and exports.
/// Refuses a module importing anything but Airlock's interfaces, with a hint of where
/// such an import comes from.
pub fn componentize(name: &str, module: &[u8]) -> Result<(Vec<u8>, String), String> {
    if Parser::is_component(module) {
        return Err(format!(
            "{name} is already a component, expected a core module"
        ));
    }
    let mut foreign = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| format!("{name}: not a valid wasm module: {e}"))?;
        if let Payload::ImportSection(reader) = payload {
            for import in reader.into_imports() {
                let import = import.map_err(|e| format!("{name}: {e}"))?;
                if !import.module.starts_with(ALLOWED_PREFIX) {
                    foreign.push((import.module.to_owned(), import.name.to_owned()));
                }
            }
        }
    }
    if !foreign.is_empty() {
        let list: Vec<String> = foreign
            .iter()
            .map(|(m, n)| format!("  {m}::{n}  ({})", hint(m)))
            .collect();
        return Err(format!(
            "{name} imports {} function(s) that are not Airlock's (only {ALLOWED_PREFIX}* is allowed):\n{}",
            foreign.len(),
            list.join("\n")
        ));
    }
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| {
            format!(
                "{name}: cannot make a component: {e:#}\n  (is it built with airlock-sdk and exported with airlock_sdk::export_plugin!?)"
            )
        })?;
    let summary = inspect(&component).map_err(|e| format!("{name}: {e}"))?;
    Ok((component, summary))
}

/// Validates a component and checks its top-level imports and exports.
pub fn inspect(bytes: &[u8]) -> Result<String, String> {
    if !Parser::is_component(bytes) {
        return Err("not a component (a core module? run componentize on it first)".into());
    }
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| format!("invalid component: {e}"))?;
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.push(import.map_err(|e| e.to_string())?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.map_err(|e| e.to_string())?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|i| !i.starts_with(ALLOWED_PREFIX))
        .collect();
    if !foreign.is_empty() {
        return Err(format!(
            "imports that are not Airlock's: {} (only {ALLOWED_PREFIX}* is allowed)",
            foreign
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !exports.iter().any(|e| e == HANDLER_EXPORT) {
        return Err(format!(
            "does not export {HANDLER_EXPORT} (exports: {})",
            exports.join(", ")
        ));
    }
    Ok(format!(
        "imports [{}]; exports [{}]",
        imports.join(", "),
        exports.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (import "<module>" "<name>" (func)))`, by hand.
    fn importing(module: &str, name: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]);
        let mut section = vec![1, module.len() as u8];
        section.extend(module.as_bytes());
        section.push(name.len() as u8);
        section.extend(name.as_bytes());
        section.extend([0, 0]);
        wasm.extend([2, section.len() as u8]);
        wasm.extend(section);
        wasm
    }

    #[test]
    fn foreign_imports_are_refused_with_a_hint() {
        let err =
            componentize("x.wasm", &importing("wasi_snapshot_preview1", "fd_write")).unwrap_err();
        assert!(err.contains("wasi_snapshot_preview1::fd_write"), "{err}");
        assert!(err.contains("build for wasm32-unknown-unknown"), "{err}");
        let err = componentize("x.wasm", &importing("env", "memcpy")).unwrap_err();
        assert!(err.contains("unresolved `env` symbol"), "{err}");
    }

    #[test]
    fn a_module_without_the_contract_is_no_plugin_and_junk_is_no_module() {
        let err = componentize("x.wasm", b"\0asm\x01\0\0\0").unwrap_err();
        assert!(
            err.contains("does not export airlock:plugin/handler"),
            "{err}"
        );
        assert!(componentize("x.wasm", b"junk").is_err());
        assert!(
            inspect(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("not a component")
        );
    }
}
