//! `airlock new`: a plugin crate that builds on its own (the SDK and the WIT contract
//! vendored into it, no checkout of this repository needed) and passes its scaffolded
//! `airlock test`; and `airlock sdk export`, which writes the SDK anywhere.

use anyhow::{Context, bail};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Where a scaffolded crate keeps the vendored SDK and WIT.
pub const VENDOR_DIR: &str = "vendor";

/// Writes the SDK crate (`airlock-sdk/`) and the WIT contract (`wit/`) this binary was
/// built with into `dir`; a plugin depends on it with
/// `airlock-sdk = { path = "<dir>/airlock-sdk" }`. Refuses to overwrite files.
pub fn export_sdk(dir: &Path) -> anyhow::Result<usize> {
    for (path, text) in SDK_FILES {
        let file = dir.join(path);
        if file.exists() {
            bail!(
                "{} exists: export into an empty directory (a new SDK version replaces the old folder)",
                file.display()
            );
        }
        std::fs::create_dir_all(file.parent().expect("files are in folders"))?;
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(SDK_FILES.len())
}

/// Creates the crate in `dir` (which must not exist or be empty), with the SDK vendored
/// into it, or depending on the SDK crate at `sdk` (a checkout's `sdk/`).
pub fn create(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<()> {
    let valid = name.len() >= 2
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        bail!(
            "plugin names are 2-63 of lowercase letters, digits and dashes, starting with a letter"
        );
    }
    if dir.exists() && dir.read_dir()?.next().is_some() {
        bail!(
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        );
    }
    let sdk = match sdk {
        Some(sdk) => sdk
            .canonicalize()
            .with_context(|| format!("cannot find the Airlock SDK at {}", sdk.display()))?
            .display()
            .to_string(),
        None => {
            export_sdk(&dir.join(VENDOR_DIR))?;
            format!("{VENDOR_DIR}/airlock-sdk")
        }
    };
    let crate_name = name.replace('-', "_");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    let files = [
        (
            "Cargo.toml",
            CARGO_TOML.replace("{name}", name).replace("{sdk}", &sdk),
        ),
        ("plugin.toml", PLUGIN_TOML.replace("{name}", name)),
        ("src/lib.rs", LIB_RS.replace("{crate}", &crate_name)),
        ("fixture.json", FIXTURE_JSON.to_string()),
        ("event.json", EVENT_JSON.to_string()),
        ("tests/hello.toml", TEST_TOML.to_string()),
        (
            "README.md",
            README_MD
                .replace("{name}", name)
                .replace("{crate}", &crate_name),
        ),
        // The signing key never goes into version control.
        (".gitignore", "/target\n/dist\n*.key\n".to_string()),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text).with_context(|| format!("cannot write {file}"))?;
    }
    Ok(())
}

const README_MD: &str = r#"# {name}

An Airlock plugin.

The SDK and the WIT contract it was made with are vendored in `vendor/` (commit them);
`airlock sdk export vendor.new` writes those of a newer `airlock`, to swap in.

1. Build: `scripts/build-plugins.sh .` (from Airlock's checkout) writes `dist/{name}.wasm`.
   Adding a dependency just works (the lock file is updated); CI builds with
   `scripts/build-plugins.sh --locked .`. Without Airlock's checkout:
   `cargo build --release --target wasm32-unknown-unknown`, then
   `airlock plugin componentize target/wasm32-unknown-unknown/release/{crate}.wasm --out dist/{name}.wasm`.
2. Test it: `airlock test dist/{name}.wasm --manifest plugin.toml` runs every case in
   `tests/` (the event, the data, the grant, HTTP stubs, and what to expect) in the real
   sandbox, and prints a diff for each failure. Pure logic is tested with `cargo test`.
3. Try it: `airlock dev dist/{name}.wasm --manifest plugin.toml --data fixture.json --event event.json`
   (add `--http-stub stubs.toml` to answer outbound requests after every real check).
4. Sign it, once per vendor: `airlock vendor keygen --out vendor.key` makes your signing key
   (keep `vendor.key` secret; `.gitignore` keeps it out of git) and prints its
   fingerprint. Publish the fingerprint where admins can check it.
5. Pack: `airlock plugin pack . --key vendor.key` writes `dist/{name}-<version>.airlock`, the
   one file admins install.
6. Admins install it with `airlock plugin install dist/{name}-<version>.airlock
   --trust-vendor-key <your fingerprint>` the first time; later versions signed by the same
   key install as pending upgrades, which admins approve item by item.

To move to a new key, endorse it with the old one (`airlock vendor endorse --key vendor.key
--new-public-key new.pub --vendor "<vendor in plugin.toml>"`) and pass the endorsement to
`airlock plugin pack --endorsement endorsement.json`.
"#;

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
airlock-sdk = { path = "{sdk}" }

# A standalone crate, not part of any enclosing workspace.
[workspace]

[profile.release]
panic = "abort"
opt-level = "s"
lto = true
codegen-units = 1
strip = "debuginfo"
"#;

const PLUGIN_TOML: &str = r#"name = "{name}"
version = "0.1.0"
vendor = "Your company"
description = "Says hello in an internal note on every new ticket."
events = ["ticket-created"]

[data]
read = ["ticket.subject"]
write = ["ticket.internal_notes"]
"#;

const LIB_RS: &str = r#"//! An Airlock plugin. Build: `scripts/build-plugins.sh <this dir>`.

use airlock_sdk::{Error, Event, Outcome, Plugin, helpdesk};

struct Hello;

impl Plugin for Hello {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::TicketCreated(ticket) = event else {
            return Ok(Outcome::new("ignored"));
        };
        let subject_len = ticket.subject.as_deref().map_or(0, str::len);
        helpdesk::add_internal_note(&ticket.id, &format!("Hello from {crate}: the subject has {subject_len} bytes"))?;
        Ok(Outcome::new("noted"))
    }
}

airlock_sdk::export_plugin!(Hello);
"#;

const FIXTURE_JSON: &str = r#"{
  "users": [{"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.com"}],
  "tickets": []
}
"#;

const EVENT_JSON: &str = r#"{
  "type": "ticket-created",
  "ticket": {"id": "t-1", "subject": "Printer on fire", "requester_id": "u-1", "status": "new"}
}
"#;

const TEST_TOML: &str = r#"# One case for `airlock test`: the event, the data, and what the plugin must do.
name = "a new ticket gets a hello note"
data = "../fixture.json"

[event]
type = "ticket-created"
ticket = { id = "t-1", subject = "Printer on fire", requester_id = "u-1", status = "new" }

[expect]
outcome = "ok"
summary = "noted"
calls = ["event.prefetch-ticket t-1 allow", "helpdesk.add-internal-note t-1 allow"]
withheld = ["ticket.requester_id"]
"#;
