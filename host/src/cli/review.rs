//! `airlock review …`: the access-review workflow (start, show, decide, sign off,
//! status), who changed what for an installation, unused grants and the data map.

use crate::app::{Actor, Airlock, DEFAULT_WINDOW_DAYS};
use crate::review::{AccessReview, Outcome};
use clap::Subcommand;

/// `airlock review …`.
#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Open an access review of every installation's grants, with last use.
    Start {
        /// How far back "last used" looks, in days.
        #[arg(long, default_value_t = DEFAULT_WINDOW_DAYS)]
        days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a review's items and decisions (default: the open review, else the latest).
    Show {
        /// The review's id.
        id: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the latest reviews.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide one item of the open review: keep, revoke (applied now) or defer.
    Decide {
        /// The item's number (`airlock review show` lists them).
        item: u32,
        /// `keep`, `revoke` or `defer`.
        decision: Outcome,
        /// Why (required to defer).
        #[arg(long)]
        reason: Option<String>,
        /// The review (default: the open one).
        #[arg(long)]
        review: Option<u64>,
    },
    /// Close the open review once every item is decided.
    SignOff {
        /// A note for the record.
        #[arg(long)]
        note: Option<String>,
        /// The review (default: the open one).
        #[arg(long)]
        review: Option<u64>,
    },
    /// When the next review is due (raises `review-overdue` when it is late).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who changed what for one installation: grants, settings keys, enablement.
    Changes {
        /// The installation.
        installation: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Grants not used in the last N days: candidates to revoke.
    Unused {
        /// The window, in days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Only this installation.
        #[arg(long)]
        installation: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which plugin can read or write which field, and send which data where.
    DataMap {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A review as text: a header and one line per item.
fn text(r: &AccessReview) -> String {
    let state = match &r.signed_off {
        Some(s) => format!("signed off by {} at {}", s.by, s.at),
        None => format!("open, {} of {} undecided", r.undecided(), r.items.len()),
    };
    let mut out = format!(
        "access review #{} opened by {} at {} (last use over {} days): {state}\n",
        r.id, r.opened_by, r.opened_at, r.window_days
    );
    for i in &r.items {
        let used = match (&i.last_used, i.usage_recorded) {
            (Some(t), _) => format!("last used {t}"),
            (None, true) => "UNUSED".into(),
            (None, false) => "use not recorded".into(),
        };
        let decided = match &i.decision {
            Some(d) => format!(
                "{} by {}{}",
                d.outcome,
                d.by,
                d.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            None => "-".into(),
        };
        out.push_str(&format!(
            "{:>4}  {}  {} {}  {used}  {decided}\n",
            i.item, i.installation, i.kind, i.grant
        ));
    }
    out
}

/// The review a command names, or the open one.
fn open_or(airlock: &Airlock, review: Option<u64>) -> anyhow::Result<u64> {
    match review {
        Some(id) => Ok(id),
        None => Ok(airlock.review(None).and_then(|r| match r.is_open() {
            true => Ok(r.id),
            false => Err(crate::app::AppError::NotFound(
                "no access review is open; `airlock review start` opens one".into(),
            )),
        })?),
    }
}

/// Runs `airlock review …`.
pub fn run(airlock: &Airlock, cmd: ReviewCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let admin = airlock.admin(&actor);
    let show = |r: &AccessReview, as_json: bool| match as_json {
        true => json(r),
        false => {
            super::terminal::print(&text(r));
            Ok(())
        }
    };
    match cmd {
        ReviewCommand::Start { days, json } => show(&admin.start_review(days)?, json)?,
        ReviewCommand::Show { id, json } => show(&airlock.review(id)?, json)?,
        ReviewCommand::List { json: as_json } => {
            let reviews = airlock.reviews(20)?;
            if as_json {
                return json(&reviews);
            }
            for r in reviews {
                let state = match &r.signed_off {
                    Some(s) => format!("signed off {} by {}", s.at, s.by),
                    None => format!("open, {} undecided", r.undecided()),
                };
                super::terminal::println(&format!(
                    "#{}\topened {} by {}\t{} items\t{state}",
                    r.id,
                    r.opened_at,
                    r.opened_by,
                    r.items.len()
                ));
            }
        }
        ReviewCommand::Decide {
            item,
            decision,
            reason,
            review,
        } => {
            let id = open_or(airlock, review)?;
            let r = admin.decide(id, item, decision, reason.as_deref())?;
            let left = r.undecided();
            println!("item {item}: {decision}; {left} item(s) of review #{id} left to decide");
        }
        ReviewCommand::SignOff { note, review } => {
            let id = open_or(airlock, review)?;
            let r = admin.sign_off(id, note.as_deref())?;
            println!(
                "access review #{id} signed off: {} kept, {} revoked, {} deferred",
                r.count(Outcome::Keep),
                r.count(Outcome::Revoke),
                r.count(Outcome::Defer)
            );
        }
        ReviewCommand::Status { json: as_json } => {
            let s = airlock.check_review_due()?;
            if as_json {
                return json(&s);
            }
            let last = s
                .last_signed_off
                .as_ref()
                .map(|(id, at)| format!("#{id} signed off {at}"))
                .unwrap_or_else(|| "none signed off yet".into());
            let due = s.due.as_deref().unwrap_or("nothing to review yet");
            let late = if s.overdue { " (OVERDUE)" } else { "" };
            let open = s
                .open
                .map(|id| format!("; #{id} is open"))
                .unwrap_or_default();
            println!(
                "last review: {last}; next due: {due}{late} (every {} days){open}",
                s.interval_days
            );
        }
        ReviewCommand::Changes {
            installation,
            json: as_json,
        } => {
            let changes = airlock.changes_to(&installation)?;
            if as_json {
                return json(&changes);
            }
            for c in changes {
                let diff: Vec<String> = c.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
                super::terminal::println(&format!(
                    "#{}\t{}\t{}\t{}\t{}\t{}",
                    c.seq,
                    c.time,
                    c.actor,
                    c.action,
                    c.outcome,
                    diff.join(" ")
                ));
            }
        }
        ReviewCommand::Unused {
            days,
            installation,
            json: as_json,
        } => {
            let review = airlock.unused_grants(days, installation.as_deref())?;
            if as_json {
                return json(&serde_json::json!({"days": days, "installations": review}));
            }
            for r in review {
                super::terminal::print(&r.text());
            }
        }
        ReviewCommand::DataMap { json: as_json } => {
            let map = airlock.data_map()?;
            if as_json {
                return json(&map);
            }
            super::terminal::print(&map.text());
        }
    }
    Ok(())
}
