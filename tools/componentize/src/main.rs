//! `componentize`: turns an Airlock plugin's core wasm module into a component, and
//! checks components (the `airlock-componentize` library does the work).
//!
//! ```text
//! componentize <core.wasm> <out.wasm>   core module -> validated component
//! componentize --check <component.wasm>...   verify and list imports/exports
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;

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

fn componentize(core_path: &str, out_path: &str) -> Result<(), String> {
    let (component, summary) = airlock_componentize::componentize(core_path, &read(core_path)?)?;
    std::fs::write(out_path, &component).map_err(|e| format!("cannot write {out_path}: {e}"))?;
    println!("{out_path}: {} bytes; {summary}", component.len());
    Ok(())
}

fn check_file(path: &str) -> Result<(), String> {
    let summary =
        airlock_componentize::inspect(&read(path)?).map_err(|e| format!("{path}: {e}"))?;
    println!("{path}: ok; {summary}");
    Ok(())
}
