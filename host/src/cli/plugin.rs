//! `airlock plugin …`: install bundles, grant, configure, enable, kill, and move between
//! versions. Every change is an admin action on the record, by `cli` and the OS user.

use crate::app::Airlock;
use crate::app::lifecycle::InstallOptions;
use crate::installation::Grants;
use crate::upgrade::Approval;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

/// Fields, destinations, classes and kv, as `plugin grant` and `plugin approve` take them.
#[derive(clap::Args)]
pub struct GrantArgs {
    /// Fields it may read (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    read: Vec<String>,
    /// Fields it may write (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    write: Vec<String>,
    /// `[[egress]]` destinations it may send HTTP requests to (comma-separated
    /// `scheme://host[:port]`).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    egress: Vec<String>,
    /// Data classes it may see raw instead of masked (comma-separated, e.g. `email`).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    reveal: Vec<String>,
    /// Its own kv storage (`[storage] kv = true`).
    #[arg(long)]
    kv: bool,
}

impl GrantArgs {
    /// The grants given (empty items dropped).
    fn grants(self) -> Grants {
        let set = |v: Vec<String>| v.into_iter().filter(|s| !s.is_empty()).collect();
        Grants {
            read: set(self.read),
            write: set(self.write),
            egress: set(self.egress),
            reveal: set(self.reveal),
            kv: self.kv,
        }
    }
}

/// `airlock plugin …`.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Install a signed bundle (from `airlock plugin pack`), printing what it asks for;
    /// it is granted nothing. A new version of an installed plugin becomes a pending
    /// upgrade.
    Install {
        /// The bundle (or, with --manifest and --allow-unsigned, a bare component).
        file: PathBuf,
        /// The plugin.toml of a bare component (unsigned: needs --allow-unsigned).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Installation id (default: the plugin's name).
        #[arg(long)]
        id: Option<String>,
        /// The fingerprint of a new vendor's key, as the vendor published it: pins it.
        #[arg(long)]
        trust_vendor_key: Option<String>,
        /// Install an unsigned plugin (recorded as unsigned).
        #[arg(long)]
        allow_unsigned: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a signed bundle of a plugin crate (its plugin.toml and built component).
    Pack(super::vendor::PackArgs),
    /// Check a plugin crate's plugin.toml and built component as a host would.
    Validate(super::vendor::ValidateArgs),
    /// Make a plugin's core module (from `cargo build --target wasm32-unknown-unknown`)
    /// into its component.
    Componentize(super::vendor::ComponentizeArgs),
    /// List the versions an installation ran, runs and may run next.
    Versions {
        /// The installation.
        id: String,
    },
    /// Show an installation's pending upgrade: what changes, item by item, with use.
    Upgrade {
        /// The installation.
        id: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending upgrade, granting only the items given here.
    Approve {
        /// The installation.
        id: String,
        /// The new grants ticked.
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Reject a pending upgrade; the installation keeps its version and grant.
    Reject {
        /// The installation.
        id: String,
    },
    /// Return to the previous version and the grant it had.
    Rollback {
        /// The installation.
        id: String,
    },
    /// List installations.
    List,
    /// Replace an installation's grants.
    Grant {
        /// The installation.
        id: String,
        /// The grants.
        #[command(flatten)]
        grant: GrantArgs,
        /// Add these grants to the current ones instead of replacing them.
        #[arg(long, conflicts_with_all = ["remove", "clear"])]
        add: bool,
        /// Revoke these grants, keeping the rest.
        #[arg(long, conflicts_with = "clear")]
        remove: bool,
        /// Allow replacing every grant with none.
        #[arg(long)]
        clear: bool,
    },
    /// Replace an installation's settings with a JSON object (or @file).
    Settings {
        /// The installation.
        id: String,
        /// The settings: a JSON object, or `@file`.
        json: String,
    },
    /// Enable an installation.
    Enable {
        /// The installation.
        id: String,
    },
    /// Disable an installation: it receives no events.
    Disable {
        /// The installation.
        id: String,
    },
    /// Incident kill switch: stop an installation (or every installation of a plugin) now,
    /// running invocations included; audited, and an alert is raised.
    Kill {
        /// The installation id, or a plugin name for all its installations.
        target: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// Revive a killed installation.
    Revive {
        /// The installation.
        id: String,
    },
}

/// Runs a plugin command.
pub fn run(airlock: &Airlock, cmd: PluginCommand) -> anyhow::Result<()> {
    // Every change from the command line is audited, by `cli` and the OS user.
    let actor = crate::app::Actor::cli();
    let admin = airlock.admin(&actor);
    match cmd {
        PluginCommand::Install {
            file,
            manifest,
            id,
            trust_vendor_key,
            allow_unsigned,
            json,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let options = InstallOptions {
                id,
                trust_vendor_key,
                allow_unsigned,
            };
            let installed = match manifest {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    admin.install_unsigned(&text, bytes, &options)?
                }
                None => admin.install_bundle(&bytes, &options)?,
            };
            match json {
                true => println!("{}", serde_json::to_string_pretty(&installed)?),
                false => super::lifecycle::print_installed(&installed),
            }
        }
        PluginCommand::Pack(args) => super::vendor::pack(&args)?,
        PluginCommand::Validate(args) => super::vendor::validate(&args)?,
        PluginCommand::Componentize(args) => super::vendor::componentize(&args)?,
        PluginCommand::Versions { id } => super::lifecycle::print_versions(&airlock.versions(&id)?),
        PluginCommand::Upgrade { id, json } => match airlock.pending_upgrade(&id)? {
            None => println!("`{id}` has no pending upgrade"),
            Some(diff) if json => println!("{}", serde_json::to_string_pretty(&diff)?),
            Some(diff) => super::lifecycle::print_diff(&id, &diff),
        },
        PluginCommand::Approve { id, grant } => {
            let approval = Approval {
                grant: grant.grants(),
            };
            let inst = admin.approve_upgrade(&id, &approval)?;
            println!(
                "`{id}` now runs {} {}; granted read {:?} write {:?} egress {:?} reveal {:?}",
                inst.manifest.name,
                inst.manifest.version,
                inst.grants.read,
                inst.grants.write,
                inst.grants.egress,
                inst.grants.reveal
            );
        }
        PluginCommand::Reject { id } => {
            let inst = admin.reject_upgrade(&id)?;
            println!(
                "upgrade rejected; `{id}` keeps running {}",
                inst.manifest.version
            );
        }
        PluginCommand::Rollback { id } => {
            let inst = admin.rollback(&id)?;
            println!(
                "`{id}` rolled back to {} {}, with the grant it had then",
                inst.manifest.name, inst.manifest.version
            );
        }
        PluginCommand::List => {
            for i in airlock.installations()? {
                let grants = |s: &std::collections::BTreeSet<String>| {
                    s.iter().cloned().collect::<Vec<_>>().join(",")
                };
                // Secret settings are listed by name only, never their values.
                println!(
                    "{}\t{} {}\t{}\tread=[{}]\twrite=[{}]\tegress=[{}]\tsecrets=[{}]\t{}{}",
                    i.id,
                    i.manifest.name,
                    i.manifest.version,
                    match (i.killed.is_some(), i.enabled) {
                        (true, _) => "killed",
                        (_, true) => "enabled",
                        _ => "disabled",
                    },
                    grants(&i.grants.read),
                    grants(&i.grants.write),
                    grants(&i.grants.egress),
                    i.secrets.keys().cloned().collect::<Vec<_>>().join(","),
                    i.signer.as_deref().unwrap_or("unsigned"),
                    i.pending
                        .as_ref()
                        .map(|p| format!("\tpending {}", p.manifest.version))
                        .unwrap_or_default()
                );
            }
        }
        PluginCommand::Grant {
            id,
            grant,
            add,
            remove,
            clear,
        } => {
            let grants = grant.grants();
            let none = Grants::default();
            let inst = match (add, remove) {
                (true, _) => admin.change_grants(&id, &grants, &none),
                (_, true) => admin.change_grants(&id, &none, &grants),
                _ if grants.is_empty() && !clear => anyhow::bail!(
                    "no grants given: that would revoke every grant of `{id}`. Pass --clear to do that, or --add / --remove to change some"
                ),
                _ => admin.set_grants(&id, grants),
            }?;
            println!(
                "granted `{}` read {:?} write {:?} egress {:?} reveal {:?} kv {}",
                inst.id,
                inst.grants.read,
                inst.grants.write,
                inst.grants.egress,
                inst.grants.reveal,
                inst.grants.kv
            );
        }
        PluginCommand::Settings { id, json } => {
            let text = match json.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?
                }
                None => json,
            };
            let value = serde_json::from_str(&text).context("settings must be a JSON object")?;
            admin.set_settings(&id, value)?;
            println!("settings of `{id}` saved");
        }
        PluginCommand::Enable { id } => {
            admin.set_enabled(&id, true)?;
            println!("`{id}` enabled");
        }
        PluginCommand::Disable { id } => {
            admin.set_enabled(&id, false)?;
            println!("`{id}` disabled");
        }
        PluginCommand::Kill { target, reason } => {
            let since = crate::audit::rfc3339_millis(
                time::OffsetDateTime::now_utc() - time::Duration::days(30),
            );
            for inst in admin.kill(&target, &reason)? {
                println!(
                    "`{}` killed; what it touched: airlock audit blast-radius --installation {} --since {since}",
                    inst.id, inst.id
                );
            }
        }
        PluginCommand::Revive { id } => {
            admin.revive(&id)?;
            println!("`{id}` revived and enabled");
        }
    }
    Ok(())
}
