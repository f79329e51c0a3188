//! `airlock user …` and `airlock token …`: accounts and automation tokens from the host's
//! command line. Every change is audited with the actor `cli`.

use crate::account::{Role, Scope};
use crate::app::{Actor, Airlock, PublicCredential, PublicUser};
use clap::Subcommand;

/// `airlock user …`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints a one-time password that opens a setup session (choose a
    /// password, enrol TOTP).
    Create {
        /// The sign-in name (1-64 of `[a-z0-9._-]`).
        name: String,
        /// `admin`, `auditor`, `vendor` or `viewer`.
        #[arg(long)]
        role: Role,
        /// For vendor users: the `vendor` of their plugins' manifests.
        #[arg(long)]
        vendor: Option<String>,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role. Their tokens above the new role stop working.
    Role {
        /// The user.
        name: String,
        /// The new role.
        #[arg(long)]
        role: Role,
        /// For vendor users: their vendor.
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Disable a user: they cannot sign in, and their sessions and tokens stop working.
    Disable {
        /// The user.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user.
        name: String,
    },
    /// Remove a user's TOTP (a lost phone) and print a new one-time password.
    ResetMfa {
        /// The user.
        name: String,
    },
}

/// `airlock token …`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a user; prints it once.
    Create {
        /// Whose token.
        #[arg(long)]
        user: String,
        /// `admin`, `auditor`, `vendor`, `viewer` (no higher than the user's role),
        /// `metrics` (scrape only) or `ingest` (post events only).
        #[arg(long)]
        scope: Scope,
        /// Days it lives.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// A label for people.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List sessions and tokens (of one user, or everyone's).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a session or token by id.
    Revoke {
        /// Its id (`t-…` or `s-…`).
        id: String,
    },
}

/// Runs `airlock user …`.
pub fn user(airlock: &Airlock, cmd: UserCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let admin = airlock.admin(&actor);
    match cmd {
        UserCommand::Create { name, role, vendor } => {
            let (user, one_time) = admin.create_user(&name, role, vendor.as_deref())?;
            println!("created {} `{}`", user.role, user.name);
            println!("one-time password (shown once): {one_time}");
            println!(
                "Sign in with it (POST /api/v1/auth/login); the session it opens can only set a new password{}.",
                if airlock.accounts().mfa_required(role) {
                    " and enrol TOTP"
                } else {
                    ""
                }
            );
        }
        UserCommand::List { json } => {
            let users: Vec<PublicUser> = airlock
                .accounts()
                .users()?
                .into_iter()
                .map(PublicUser::from)
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            }
            for u in users.iter().filter(|_| !json) {
                println!(
                    "{}\t{}{}\tmfa={}\t{}",
                    u.name,
                    u.role,
                    u.vendor
                        .as_deref()
                        .map(|v| format!(" ({})", super::terminal::safe(v)))
                        .unwrap_or_default(),
                    u.mfa,
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UserCommand::Role { name, role, vendor } => {
            admin.set_role(&name, role, vendor.as_deref())?;
            println!("`{name}` is now {role}");
        }
        UserCommand::Disable { name } => {
            admin.set_user_disabled(&name, true)?;
            println!("`{name}` disabled");
        }
        UserCommand::Enable { name } => {
            admin.set_user_disabled(&name, false)?;
            println!("`{name}` enabled");
        }
        UserCommand::ResetMfa { name } => {
            let one_time = admin.reset_mfa(&name)?;
            println!("TOTP removed from `{name}`; one-time password (shown once): {one_time}");
        }
    }
    Ok(())
}

/// Runs `airlock token …`.
pub fn token(airlock: &Airlock, cmd: TokenCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let admin = airlock.admin(&actor);
    match cmd {
        TokenCommand::Create {
            user,
            scope,
            days,
            label,
        } => {
            let minted = admin.create_token(&user, scope, days, &label)?;
            eprintln!(
                "token {} for `{user}`, scope {scope}, expires {} (shown once):",
                minted.credential.id, minted.credential.expires_at
            );
            println!("{}", minted.bearer);
        }
        TokenCommand::List { user, json } => {
            let list: Vec<PublicCredential> = airlock
                .accounts()
                .credentials(user.as_deref())?
                .into_iter()
                .map(PublicCredential::from)
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            }
            for c in list.iter().filter(|_| !json) {
                println!(
                    "{}\t{}\t{}\texpires {}\t{}",
                    c.id,
                    c.user,
                    c.scope,
                    c.expires_at,
                    if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let c = admin.revoke(&id)?;
            println!("`{}` of `{}` revoked", c.id, c.user);
        }
    }
    Ok(())
}
