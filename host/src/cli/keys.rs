//! `airlock keys …`: the master key's fingerprint and its rotation.

use crate::app::{Actor, Airlock};
use crate::egress::secrets::read_key_file;
use clap::Subcommand;
use std::path::PathBuf;

/// `airlock keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print the fingerprint of the master key in use and where it comes from.
    Fingerprint,
    /// Rotate the master key: re-wrap every data key and re-seal the secret settings
    /// under a new one, rewriting no stored value. With the service running, rotate
    /// through it instead: `POST /api/v1/keys/rotate`.
    Rotate {
        /// The new key (64 hex digits) in this file; default: a fresh random key,
        /// written to the key file. Required when the key comes from AIRLOCK_MASTER_KEY.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

/// Runs a keys command.
pub fn run(airlock: &Airlock, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Fingerprint => {
            let key = airlock.master_key();
            println!("{} ({:?})", key.fingerprint()?, key.source()?);
        }
        KeysCommand::Rotate { new_key_file } => {
            let new_key = new_key_file.as_deref().map(read_key_file).transpose()?;
            let rotation = airlock
                .admin(&Actor::cli())
                .rotate_master_key(new_key)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "rotated the master key {} -> {}: {} values resealed; the new key is in {}",
                rotation.old_fingerprint,
                rotation.new_fingerprint,
                rotation.resealed,
                rotation.stored_in
            );
            if rotation.stored_in == crate::egress::secrets::MASTER_KEY_ENV {
                println!(
                    "set AIRLOCK_MASTER_KEY to the new key before the next start: the store no longer opens with the old one"
                );
            }
        }
    }
    Ok(())
}
