//! How the command line shows install reviews, upgrade diffs and versions.

use crate::app::lifecycle::{InstallReview, Installed, Versions};
use crate::upgrade::{Change, DiffItem, UpgradeDiff};

/// `println!` through [`super::terminal`]: manifests are the vendor's words.
macro_rules! say {
    ($($arg:tt)*) => {
        super::terminal::println(&format!($($arg)*))
    };
}

/// Prints what an install did and what the plugin asks for.
pub fn print_installed(installed: &Installed) {
    let inst = &installed.installation;
    let id = &inst.installation().id;
    print_review(&installed.review);
    match (&installed.upgrade, installed.applied) {
        (None, _) => say!(
            "\ninstalled `{id}`; it is granted nothing until you run `airlock plugin grant {id}`"
        ),
        (Some(diff), true) => {
            print_diff(id, diff);
            say!("\napplied at once: it asks for nothing more (auto_apply_reductions)");
        }
        (Some(diff), false) => {
            print_diff(id, diff);
            say!(
                "\n`{id}` keeps running {} until you approve (`airlock plugin approve {id}`, ticking new grants with --read/--write/--egress/--reveal) or reject it",
                diff.from_version
            );
        }
    }
}

/// Prints an install review.
pub fn print_review(r: &InstallReview) {
    let signer = match &r.fingerprint {
        Some(f) => format!("signed by {f} ({:?})", r.key),
        None => "UNSIGNED".into(),
    };
    say!("{} {} by {} — {signer}", r.plugin, r.version, r.vendor);
    say!("  fields:");
    for f in &r.fields {
        let access = match (f.read, f.write) {
            (true, true) => "read+write",
            (false, true) => "write",
            _ => "read",
        };
        say!("    {:<32} {:<10} {access}", f.field, f.class);
    }
    let list = |s: &mut dyn Iterator<Item = &String>| s.cloned().collect::<Vec<_>>().join(", ");
    say!("  reveal:  {}", list(&mut r.reveal.iter()));
    for e in &r.egress {
        let methods = list(&mut e.methods.iter());
        let send = list(&mut e.send.iter());
        say!(
            "  egress:  {}{} {methods}; may receive: {send}",
            e.destination,
            e.path
        );
    }
    say!("  secrets: {}", list(&mut r.secrets.iter()));
    say!("  events:  {}", r.events.join(", "));
    let limits: Vec<String> = r.limits.iter().map(|(k, v)| format!("{k}={v}")).collect();
    say!("  limits:  {}", limits.join(" "));
    say!(
        "  component: sha256 {}, {} bytes, imports {}",
        r.component.sha256,
        r.component.bytes,
        r.component.imports.join(", ")
    );
}

/// Prints an upgrade's diff, item by item.
pub fn print_diff(id: &str, diff: &UpgradeDiff) {
    say!(
        "\nupgrade of `{id}` from {} to {}{}:",
        diff.from_version,
        diff.to_version,
        match diff.increases() {
            true => " ASKS FOR MORE",
            false => " (asks for nothing more)",
        }
    );
    for item in &diff.items {
        say!("  {}", describe(item));
    }
    if !diff.kept.is_empty() {
        say!("  kept grants:");
        for item in &diff.kept {
            say!("    {}", describe(item));
        }
    }
}

fn describe(item: &DiffItem) -> String {
    let sign = match item.change {
        Change::Added => "+",
        Change::Removed => "-",
        Change::Changed => "~",
    };
    let mut line = format!("{sign} {:?} {}", item.kind, item.name);
    if let Some(class) = &item.class {
        line.push_str(&format!(" [{class}]"));
    }
    if let Some(detail) = &item.detail {
        line.push_str(&format!(" ({detail})"));
    }
    if item.granted {
        line.push_str(" granted today");
    }
    if let Some(uses) = item.uses_30d {
        line.push_str(&format!(", used {uses}× in 30 days"));
    }
    line
}

/// Prints an installation's versions.
pub fn print_versions(v: &Versions) {
    for kept in &v.history {
        say!(
            "  {}\t{}\tleft {}",
            kept.manifest.version,
            kept.signer.as_deref().unwrap_or("unsigned"),
            kept.left_at
        );
    }
    say!("* {}\t(running)", v.current);
    if let Some(p) = &v.pending {
        say!("  {p}\t(pending approval)");
    }
}
