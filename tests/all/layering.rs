//! The host's modules import one way: a module may use only modules on its own layer or
//! below. This reads the host's source and fails naming every import that points up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The host's top-level modules, top layer first (the README's "Architecture" order).
const LAYERS: &[&[&str]] = &[
    &["api", "cli", "loadgen"],
    &["app"],
    &["dispatch", "monitor", "integrity", "access"],
    &["runtime"],
    &["capability", "redaction"],
    &["broker"],
    &[
        "egress",
        "store",
        "audit",
        "checkpoint",
        "evidence",
        "merkle",
        "error",
    ],
    &[
        "manifest",
        "account",
        "review",
        "upgrade",
        "vendor",
        "installation",
        "model",
        "catalog",
        "blobs",
        "demo",
    ],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::<module>` paths in code (comments are skipped: doc links may point anywhere).
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
            rest = after;
        }
    }
    found
}

#[test]
fn no_host_module_imports_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut unknown = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str();
        let top = top.to_str().unwrap().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(from) = layer_of(&top) else {
            unknown.insert(top.clone(), relative.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&text) {
            match layer_of(&target) {
                Some(to) if to < from => {
                    upward.push(format!("{} imports crate::{target}", relative.display()))
                }
                Some(_) => {}
                None => {
                    unknown.insert(target, relative.display().to_string());
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS in tests/all/layering.rs (module: first file seen): {unknown:?}"
    );
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports pointing up the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_import_scan_finds_crate_paths_in_code_only() {
    let text = "use crate::app::Airlock;\n/// see [`crate::api`]\nlet x = crate::model::Kind::Ticket; // crate::cli";
    assert_eq!(imports(text), ["app", "model"]);
}
