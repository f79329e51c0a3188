//! Embeds the plugin SDK's sources and the WIT contract, so that `airlock sdk export` and
//! `airlock new` can write a plugin crate that builds without this repository.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                files(&path, out);
            }
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "wit" || e == "toml")
        {
            out.push(path);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut code = String::from(
        "/// The SDK crate and the WIT contract, by path.\npub const SDK_FILES: &[(&str, &str)] = &[\n",
    );
    for (dir, prefix) in [("sdk", "airlock-sdk"), ("wit", "wit")] {
        let base = root
            .join(dir)
            .canonicalize()
            .expect("the sdk and wit folders");
        println!("cargo:rerun-if-changed={}", base.display());
        let mut found = Vec::new();
        files(&base, &mut found);
        for path in found {
            println!("cargo:rerun-if-changed={}", path.display());
            let rel = path.strip_prefix(&base).expect("under its folder");
            code.push_str(&format!(
                "    ({:?}, include_str!({:?})),\n",
                format!("{prefix}/{}", rel.display()),
                path.display().to_string()
            ));
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("sdk_files.rs"), code).expect("write sdk_files.rs");
}
