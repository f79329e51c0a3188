//! `airlock dsr …`: data-subject requests (export, erase, legal holds, receipts), and
//! `airlock retention apply`.

use crate::app::{Actor, Airlock};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Names one person.
#[derive(Args)]
pub struct Subject {
    /// The user id.
    #[arg(long, conflicts_with = "email")]
    pub user: Option<String>,
    /// The email address (looked up among users).
    #[arg(long)]
    pub email: Option<String>,
}

/// `airlock dsr …`.
#[derive(Subcommand)]
pub enum DsrCommand {
    /// Everything held about a person as one JSON bundle: helpdesk records, plugin kv
    /// entries, who touched their records, and where their data may have gone.
    Export {
        /// The person.
        #[command(flatten)]
        subject: Subject,
        /// Write the bundle here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a person's helpdesk records and the plugin kv entries tagged with them.
    Erase {
        /// The person.
        #[command(flatten)]
        subject: Subject,
        /// Really erase (without it, nothing is deleted).
        #[arg(long)]
        yes: bool,
    },
    /// Put a person under a legal hold: they cannot be erased until it is released.
    Hold {
        /// The person.
        #[command(flatten)]
        subject: Subject,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// Lift a legal hold.
    Release {
        /// The person.
        #[command(flatten)]
        subject: Subject,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// A signed receipt of a request: its audit record, its inclusion proof and the
    /// signed checkpoint, as JSON.
    Receipt {
        /// The request's audit record (its sequence number, printed by the request).
        seq: u64,
    },
}

/// Runs a dsr command.
pub fn run(airlock: &Airlock, cmd: DsrCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let admin = airlock.admin(&actor);
    let who = |s: &Subject| airlock.resolve_subject(s.user.as_deref(), s.email.as_deref());
    match cmd {
        DsrCommand::Export { subject, out } => {
            let export = admin.dsr_export(&who(&subject)?)?;
            let text = serde_json::to_string_pretty(&export)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {}: {} ticket(s), {} kv entr(ies), {} access(es), {} request(s) out; receipt: airlock dsr receipt {}",
                        path.display(),
                        export.tickets.len(),
                        export.kv.len(),
                        export.accesses.len(),
                        export.sent.len(),
                        last_seq(airlock, "admin.dsr.export")?
                    );
                }
                None => println!("{text}"),
            }
        }
        DsrCommand::Erase { subject, yes } => {
            let user = who(&subject)?;
            if !yes {
                anyhow::bail!(
                    "this erases `{user}`'s helpdesk records and plugin data for good; pass --yes to do it"
                );
            }
            let erased = admin.dsr_erase(&user)?;
            println!(
                "erased `{user}`: {} helpdesk record(s), {} kv entr(ies); the audit trail stays. Receipt: airlock dsr receipt {}",
                erased.records,
                erased.kv_entries,
                last_seq(airlock, "admin.dsr.erase")?
            );
        }
        DsrCommand::Hold { subject, reason } => {
            let user = who(&subject)?;
            admin.dsr_hold(&user, true, &reason)?;
            println!("`{user}` is under a legal hold");
        }
        DsrCommand::Release { subject, reason } => {
            let user = who(&subject)?;
            admin.dsr_hold(&user, false, &reason)?;
            println!("the legal hold on `{user}` is lifted");
        }
        DsrCommand::Receipt { seq } => {
            let record = airlock
                .audit(&crate::audit::AuditFilter {
                    after_seq: Some(seq.saturating_sub(1)),
                    limit: Some(1),
                    ..Default::default()
                })?
                .into_iter()
                .find(|r| r.seq == seq && r.entry.call.starts_with("admin.dsr."))
                .with_context(|| format!("record {seq} is not a data-subject request"))?;
            let proof = airlock.inclusion_proof(seq)?;
            let receipt = serde_json::json!({"record": record, "proof": proof});
            println!("{}", serde_json::to_string_pretty(&receipt)?);
        }
    }
    Ok(())
}

/// The sequence number of the last record of `call` (the request just made), read
/// through every page.
fn last_seq(airlock: &Airlock, call: &str) -> anyhow::Result<u64> {
    let mut seq = 0;
    let filter = crate::audit::AuditFilter {
        call: Some(call.into()),
        ..Default::default()
    };
    airlock.each_record(filter, |r| seq = r.seq)?;
    Ok(seq)
}

/// `airlock retention apply`: counts (`dry_run`) or deletes, with a progress bar.
pub fn apply_retention(
    airlock: &Airlock,
    policy: &crate::app::retention::RetentionPolicy,
    dry_run: bool,
) -> anyhow::Result<()> {
    if policy.is_empty() {
        anyhow::bail!(
            "no [retention] policy in the config file: nothing is ever deleted by retention until one is set"
        );
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(if dry_run { "counting" } else { "deleting" });
    let actor = Actor::cli();
    let report = airlock.admin(&actor).apply_retention(
        policy,
        time::OffsetDateTime::now_utc(),
        dry_run,
        &mut |done| bar.set_position(done),
    )?;
    bar.finish_and_clear();
    println!(
        "{}closed tickets {}, orphan users {}, kv entries {}, alerts {}{}",
        if dry_run {
            "would delete: "
        } else {
            "deleted: "
        },
        report.closed_tickets,
        report.orphan_users,
        report.kv_entries,
        report.alerts,
        if dry_run {
            " (pass --yes to delete)"
        } else {
            ""
        }
    );
    Ok(())
}
