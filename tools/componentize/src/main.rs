//! `componentize`: turns an Airlock plugin's core wasm module (built by wit-bindgen, with
//! its embedded `component-type` section) into a component, and checks components.
//!
//! ```text
//! componentize <core.wasm> <out.wasm>   core module -> validated component
//! componentize --check <component.wasm>...   verify and list imports/exports
//! ```
//!
//! Both modes reject anything that imports more than Airlock's own interfaces
//! (`airlock:plugin/*`): WASI, wasm-bindgen or unresolved `env` symbols mean the plugin
//! was built for the wrong target or pulls in a dependency the sandbox cannot serve.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use wasmparser::{Parser, Payload};

/// Instance imports a plugin component may have (the `plugin` world's imports).
const ALLOWED_PREFIX: &str = "airlock:plugin/";
/// The export every plugin must provide.
const HANDLER_EXPORT: &str = "airlock:plugin/handler@0.1.0";

fn usage() -> ExitCode {
    eprintln!(
        "usage: componentize <core.wasm> <out.wasm>\n       componentize --check <component.wasm>..."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, files @ ..] if flag == "--check" && !files.is_empty() => {
            files.iter().try_for_each(|f| check_file(f))
        }
        [core, out] if !core.starts_with('-') => componentize(core, out),
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("componentize: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

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

fn componentize(core_path: &str, out_path: &str) -> Result<(), String> {
    let module = read(core_path)?;
    if Parser::is_component(&module) {
        return Err(format!(
            "{core_path} is already a component, expected a core module"
        ));
    }
    let mut foreign = Vec::new();
    for payload in Parser::new(0).parse_all(&module) {
        let payload = payload.map_err(|e| format!("{core_path}: not a valid wasm module: {e}"))?;
        if let Payload::ImportSection(reader) = payload {
            for import in reader.into_imports() {
                let import = import.map_err(|e| format!("{core_path}: {e}"))?;
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
            "{core_path} imports {} function(s) that are not Airlock's (only {ALLOWED_PREFIX}* is allowed):\n{}",
            foreign.len(),
            list.join("\n")
        ));
    }
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| {
            format!(
                "{core_path}: cannot make a component: {e:#}\n  (is it built with airlock-sdk and exported with airlock_sdk::export_plugin!?)"
            )
        })?;
    let summary = inspect(&component).map_err(|e| format!("{core_path}: {e}"))?;
    std::fs::write(out_path, &component).map_err(|e| format!("cannot write {out_path}: {e}"))?;
    println!("{out_path}: {} bytes; {summary}", component.len());
    Ok(())
}

fn check_file(path: &str) -> Result<(), String> {
    let bytes = read(path)?;
    let summary = inspect(&bytes).map_err(|e| format!("{path}: {e}"))?;
    println!("{path}: ok; {summary}");
    Ok(())
}

/// Validates a component and checks its top-level imports and exports.
fn inspect(bytes: &[u8]) -> Result<String, String> {
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
