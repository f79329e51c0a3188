//! The vendor's side of signing (`airlock vendor keygen`, `airlock vendor endorse`,
//! `airlock plugin pack`), which needs no data directory, and the admin's view of
//! vendors (`airlock vendor list`, `airlock vendor review`).

use crate::app::{Actor, Airlock};
use airlock_bundle::{Bundle, Endorsement, PublicKey, VendorKey};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// `airlock vendor …`.
#[derive(Subcommand)]
pub enum VendorCommand {
    /// Make an ed25519 signing key: the seed file (mode 0600) and `<file>.pub`.
    Keygen {
        /// Where to write the key (default `vendor.key`).
        #[arg(long, default_value = "vendor.key")]
        out: PathBuf,
    },
    /// Print the fingerprint of a public key (hex, or a `.pub` file), as admins confirm
    /// it with `airlock plugin install --trust-vendor-key`.
    Fingerprint {
        /// The public key: hex, or a `.pub` file.
        public_key: String,
    },
    /// Endorse a new key with the current one (key rotation): hosts that pinned the
    /// current key accept bundles signed by the new one that carry this endorsement.
    Endorse {
        /// The current (pinned) key file.
        #[arg(long)]
        key: PathBuf,
        /// The new key's public half: hex, or a `.pub` file.
        #[arg(long)]
        new_public_key: String,
        /// The vendor name, as the manifests give it.
        #[arg(long)]
        vendor: String,
        /// Where to write the endorsement (JSON).
        #[arg(long, default_value = "endorsement.json")]
        out: PathBuf,
    },
    /// List vendors: pinned keys, contact, last security review.
    List,
    /// Record a security review of a vendor.
    Review {
        /// The vendor's name.
        name: String,
        /// The day of the review (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// What was reviewed and found.
        #[arg(long)]
        notes: String,
        /// Set the vendor's security contact.
        #[arg(long)]
        contact: Option<String>,
    },
}

/// `airlock plugin pack`.
#[derive(Args)]
pub struct PackArgs {
    /// The plugin crate (holding plugin.toml).
    pub crate_dir: PathBuf,
    /// The vendor key file (`airlock vendor keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// The built component (default: `<crate>/dist/<name>.wasm`, or the workspace's
    /// `dist/<name>.wasm` beside the crate).
    #[arg(long)]
    pub component: Option<PathBuf>,
    /// Endorsements leading from a pinned key to this one, oldest first.
    #[arg(long)]
    pub endorsement: Vec<PathBuf>,
    /// Where to write the bundle (default: `<crate>/dist/<name>-<version>.airlock`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `airlock plugin validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// The plugin crate (holding plugin.toml).
    pub crate_dir: PathBuf,
    /// The built component (default: as for `airlock plugin pack`).
    #[arg(long)]
    pub component: Option<PathBuf>,
}

/// Checks a crate's plugin.toml and built component as a host would on install: the
/// manifest against its schema and the field catalog, the component against the
/// contract (only Airlock's imports, the handler exported).
pub fn validate(args: &ValidateArgs) -> anyhow::Result<()> {
    let manifest_path = args.crate_dir.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest = crate::manifest::Manifest::parse(&manifest_path.display().to_string(), &text)?;
    let component_path = match &args.component {
        Some(p) => p.clone(),
        None => default_component(&args.crate_dir, &manifest.name)?,
    };
    let component = std::fs::read(&component_path)
        .with_context(|| format!("cannot read {}", component_path.display()))?;
    let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeLimits::default(), None)?;
    runtime.load(&component).with_context(|| {
        format!(
            "{} is not a valid plugin component",
            component_path.display()
        )
    })?;
    let events: Vec<&str> = manifest.events.iter().map(|e| e.as_str()).collect();
    println!(
        "{} {} is valid: events {}; reads {} fields, writes {}; {} destinations",
        manifest.name,
        manifest.version,
        events.join(", "),
        manifest.data.read.len(),
        manifest.data.write.len(),
        manifest.egress.len()
    );
    Ok(())
}

/// `airlock plugin componentize`.
#[derive(Args)]
pub struct ComponentizeArgs {
    /// The core module `cargo build --release --target wasm32-unknown-unknown` made
    /// (`target/wasm32-unknown-unknown/release/<crate>.wasm`).
    pub module: PathBuf,
    /// Where to write the component (it must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

/// Turns a plugin's core module into its component, refusing imports that are not
/// Airlock's: the step after `cargo build` for a crate built without
/// `scripts/build-plugins.sh`.
pub fn componentize(args: &ComponentizeArgs) -> anyhow::Result<()> {
    let module = std::fs::read(&args.module)
        .with_context(|| format!("cannot read {}", args.module.display()))?;
    let name = args.module.display().to_string();
    let (component, summary) =
        airlock_componentize::componentize(&name, &module).map_err(anyhow::Error::msg)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &component))
        .with_context(|| format!("cannot write {} (it must not exist)", args.out.display()))?;
    println!(
        "{}: {} bytes; {summary}",
        args.out.display(),
        component.len()
    );
    Ok(())
}

/// True for the commands that need no data directory.
pub fn is_offline(cmd: &VendorCommand) -> bool {
    matches!(
        cmd,
        VendorCommand::Keygen { .. } | VendorCommand::Endorse { .. }
    )
}

/// Runs a vendor command; `airlock` is `None` for the offline ones.
pub fn run(airlock: Option<&Airlock>, cmd: VendorCommand) -> anyhow::Result<()> {
    match (cmd, airlock) {
        (VendorCommand::Keygen { out }, _) => keygen(&out),
        (VendorCommand::Fingerprint { public_key }, _) => {
            println!("{}", read_public(&public_key)?.fingerprint());
            Ok(())
        }
        (
            VendorCommand::Endorse {
                key,
                new_public_key,
                vendor,
                out,
            },
            _,
        ) => endorse(&key, &new_public_key, &vendor, &out),
        (VendorCommand::List, Some(airlock)) => {
            for v in airlock.vendors()? {
                let review = v
                    .last_review
                    .as_ref()
                    .map(|r| format!("reviewed {} by {}", r.date, r.by))
                    .unwrap_or_else(|| "never reviewed".into());
                println!(
                    "{}\t{review}\tcontact: {}",
                    v.name,
                    v.contact.as_deref().unwrap_or("-")
                );
                for k in &v.keys {
                    let how = match &k.endorsed_by {
                        Some(by) => format!("endorsed by {by}"),
                        None => format!("confirmed by {}", k.pinned_by),
                    };
                    println!("  {}\tpinned {}\t{how}", k.fingerprint, k.pinned_at);
                }
            }
            Ok(())
        }
        (
            VendorCommand::Review {
                name,
                date,
                notes,
                contact,
            },
            Some(airlock),
        ) => {
            let actor = Actor::cli();
            airlock
                .admin(&actor)
                .review_vendor(&name, &date, &notes, contact.as_deref())?;
            println!("security review of {name} on {date} recorded");
            Ok(())
        }
        (_, None) => bail!("this vendor command needs the data directory"),
    }
}

fn keygen(out: &Path) -> anyhow::Result<()> {
    let key = VendorKey::generate();
    write_new(out, &key.seed_hex(), true)?;
    let public = out.with_extension("pub");
    write_new(&public, &key.public().to_hex(), false)?;
    println!(
        "wrote {} (keep it secret) and {}\nfingerprint: {}\npublish the fingerprint where admins can check it; they confirm it on first install",
        out.display(),
        public.display(),
        key.public().fingerprint()
    );
    Ok(())
}

fn endorse(key: &Path, new_public: &str, vendor: &str, out: &Path) -> anyhow::Result<()> {
    let key = read_key(key)?;
    let next = read_public(new_public)?;
    let endorsement = key.endorse(vendor, &next);
    write_new(out, &serde_json::to_string_pretty(&endorsement)?, false)?;
    println!(
        "wrote {}: {} endorses {} for vendor `{vendor}`; pass it to `airlock plugin pack --endorsement`",
        out.display(),
        key.public().fingerprint(),
        next.fingerprint()
    );
    Ok(())
}

/// `airlock plugin pack`: reads the crate's manifest and built component, signs them.
pub fn pack(args: &PackArgs) -> anyhow::Result<()> {
    let manifest_path = args.crate_dir.join("plugin.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let parsed = crate::manifest::Manifest::parse(&manifest_path.display().to_string(), &manifest)?;
    let component_path = match &args.component {
        Some(p) => p.clone(),
        None => default_component(&args.crate_dir, &parsed.name)?,
    };
    let component = std::fs::read(&component_path)
        .with_context(|| format!("cannot read {}", component_path.display()))?;
    let key = read_key(&args.key)?;
    let chain = args
        .endorsement
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str::<Endorsement>(&text)
                .with_context(|| format!("{} is not an endorsement", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bundle = Bundle::pack(&manifest, component, Some(&key))?.with_endorsements(chain);
    // Check what hosts will check before handing it out.
    bundle.open()?;
    let out = args.out.clone().unwrap_or_else(|| {
        args.crate_dir.join("dist").join(format!(
            "{}-{}.{}",
            parsed.name,
            parsed.version,
            airlock_bundle::EXTENSION
        ))
    });
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, bundle.to_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} {}, signed by {})",
        out.display(),
        parsed.name,
        parsed.version,
        key.public().fingerprint()
    );
    Ok(())
}

fn default_component(crate_dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let file = format!("{name}.wasm");
    let candidates = [
        crate_dir.join("dist").join(&file),
        crate_dir.join("..").join("dist").join(&file),
    ];
    candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!(
            "no built component at {}; build it with `scripts/build-plugins.sh {}` or pass --component",
            candidates[0].display(),
            crate_dir.display()
        )
    })
}

/// A public key given as hex, or as the path of a `.pub` file.
fn read_public(given: &str) -> anyhow::Result<PublicKey> {
    let text = match Path::new(given).is_file() {
        true => std::fs::read_to_string(given).with_context(|| format!("cannot read {given}"))?,
        false => given.to_string(),
    };
    Ok(PublicKey::from_hex(&text)?)
}

fn read_key(path: &Path) -> anyhow::Result<VendorKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the vendor key {}", path.display()))?;
    VendorKey::from_seed_hex(&text)
        .with_context(|| format!("{} is not a vendor key", path.display()))
}

/// Writes a new file, refusing to overwrite one; `secret` files get mode 0600.
fn write_new(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (it may exist already; it is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}
