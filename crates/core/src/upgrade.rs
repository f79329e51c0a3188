//! What a new version of a plugin changes, item by item, against what an installation
//! runs and was granted: the diff an admin consents to before an upgrade applies.
//!
//! Every item is one field, class, destination (or one of its paths, methods, `send`
//! entries and secrets), secret setting, event or limit, added, removed or changed. An
//! item that asks for more than the current version is an *increase*; an upgrade with
//! any increase waits for the admin, and approving it grants only the items the admin
//! ticks ([`Approval`]).
//!
//! ```
//! use airlock_core::{installation::Grants, manifest::Manifest, upgrade::UpgradeDiff};
//! let m = |read: &str| Manifest::parse("plugin.toml", &format!(
//!     "name = \"pp\"\nversion = \"1.0.0\"\nvendor = \"v\"\ndescription = \"d\"\n\
//!      events = [\"ticket-created\"]\n[data]\nread = [{read}]\n")).unwrap();
//! let current = m("\"ticket.subject\"");
//! let next = m("\"ticket.subject\", \"requester.phone\"");
//! let granted = Grants { read: ["ticket.subject".into()].into(), ..Default::default() };
//! let diff = UpgradeDiff::between(&current, &granted, &next);
//! assert!(diff.increases());
//! assert_eq!(diff.items[0].name, "requester.phone");
//! assert_eq!(diff.items[0].class.as_deref(), Some("personal"));
//! ```

use crate::installation::Grants;
use crate::manifest::Manifest;
use crate::manifest::rules::EgressRule;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What kind of thing an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ItemKind {
    /// A field read (`[data] read`).
    Read,
    /// A field written (`[data] write`).
    Write,
    /// A data class seen raw (`[data] reveal`).
    Reveal,
    /// An egress destination.
    Egress,
    /// A destination's path prefix.
    EgressPath,
    /// A method a destination may be sent.
    EgressMethod,
    /// A field or class a destination may receive (`send`).
    EgressSend,
    /// A secret a destination may receive.
    EgressSecret,
    /// A secret setting.
    Secret,
    /// An event handled.
    Event,
    /// Plugin storage (`[storage] kv`, its quota).
    Storage,
    /// A limit asked for.
    Limit,
}

/// How an item changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// The new version asks for it; the current one did not.
    Added,
    /// The new version no longer asks for it.
    Removed,
    /// Both ask for it, differently (`detail` says how).
    Changed,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffItem {
    /// What it is.
    pub kind: ItemKind,
    /// The field path, class, destination (`destination method`, … for its parts),
    /// setting, event or limit name.
    pub name: String,
    /// How it changes.
    pub change: Change,
    /// For a change: from what to what (paths, limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A field's sensitivity class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Whether the installation is granted it today (fields, classes, destinations).
    pub granted: bool,
    /// True if it asks for more than the current version.
    pub increase: bool,
    /// How often the grant was used in the last 30 days (filled in by the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_30d: Option<u64>,
}

/// The diff between an installation's version and grant, and a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeDiff {
    /// The version running now.
    pub from_version: String,
    /// The version offered.
    pub to_version: String,
    /// Every item that changes, increases first.
    pub items: Vec<DiffItem>,
    /// The current grants the new version still declares, and so keeps, with what each
    /// was used for in the last 30 days (filled in by the host).
    pub kept: Vec<DiffItem>,
}

impl UpgradeDiff {
    /// The diff from `current` (granted `grants`) to `next`.
    pub fn between(current: &Manifest, grants: &Grants, next: &Manifest) -> UpgradeDiff {
        let mut items = Vec::new();
        let mut kept = Vec::new();
        let class = |f: &str| crate::catalog::lookup(f).map(|s| s.sensitivity.to_string());
        for (kind, before, after, granted) in [
            (
                ItemKind::Read,
                &current.data.read,
                &next.data.read,
                &grants.read,
            ),
            (
                ItemKind::Write,
                &current.data.write,
                &next.data.write,
                &grants.write,
            ),
            (
                ItemKind::Reveal,
                &current.data.reveal,
                &next.data.reveal,
                &grants.reveal,
            ),
        ] {
            let field_class = |f: &str| match kind {
                ItemKind::Reveal => None,
                _ => class(f),
            };
            sets(&mut items, kind, before, after, |name, item| {
                item.class = field_class(name);
                item.granted = granted.contains(name);
            });
            for name in before.intersection(after).filter(|f| granted.contains(*f)) {
                let mut item = DiffItem::new(kind, name, Change::Changed, false);
                item.class = field_class(name);
                item.granted = true;
                kept.push(item);
            }
        }
        egress(
            &mut items,
            &mut kept,
            &current.egress,
            &next.egress,
            &grants.egress,
        );
        sets(
            &mut items,
            ItemKind::Secret,
            &current.secret_settings(),
            &next.secret_settings(),
            |_, _| {},
        );
        let events = |m: &Manifest| -> BTreeSet<String> {
            m.events.iter().map(|e| e.as_str().to_string()).collect()
        };
        sets(
            &mut items,
            ItemKind::Event,
            &events(current),
            &events(next),
            |_, _| {},
        );
        let kv = |m: &Manifest| -> BTreeSet<String> {
            m.storage.kv.then(|| "kv".to_string()).into_iter().collect()
        };
        sets(
            &mut items,
            ItemKind::Storage,
            &kv(current),
            &kv(next),
            |_, item| {
                item.granted = grants.kv;
            },
        );
        let quota = |q: Option<u64>| q.unwrap_or(0);
        for (name, before, after) in [
            (
                "kv.max_bytes",
                quota(current.storage.max_bytes),
                quota(next.storage.max_bytes),
            ),
            (
                "kv.max_keys",
                quota(current.storage.max_keys),
                quota(next.storage.max_keys),
            ),
        ] {
            if before != after && next.storage.kv {
                let mut item =
                    DiffItem::new(ItemKind::Storage, name, Change::Changed, after > before);
                item.detail = Some(format!("{before} -> {after}"));
                items.push(item);
            }
        }
        for (name, before, after) in [
            ("timeout_ms", current.timeout_ms(), next.timeout_ms()),
            ("memory_mib", current.memory_mib(), next.memory_mib()),
        ] {
            if before != after {
                let mut item =
                    DiffItem::new(ItemKind::Limit, name, Change::Changed, after > before);
                item.detail = Some(format!("{before} -> {after}"));
                items.push(item);
            }
        }
        items.sort_by_key(|i| (!i.increase, i.kind, i.name.clone()));
        UpgradeDiff {
            from_version: current.version.clone(),
            to_version: next.version.clone(),
            items,
            kept,
        }
    }

    /// True if the new version asks for anything the current one did not.
    pub fn increases(&self) -> bool {
        self.items.iter().any(|i| i.increase)
    }
}

impl DiffItem {
    fn new(kind: ItemKind, name: &str, change: Change, increase: bool) -> DiffItem {
        DiffItem {
            kind,
            name: name.into(),
            change,
            detail: None,
            class: None,
            granted: false,
            increase,
            uses_30d: None,
        }
    }
}

/// Adds an item per element added to or removed from a set; `describe` fills in the rest.
fn sets(
    items: &mut Vec<DiffItem>,
    kind: ItemKind,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    describe: impl Fn(&str, &mut DiffItem),
) {
    for (change, names) in [
        (Change::Added, after.difference(before)),
        (Change::Removed, before.difference(after)),
    ] {
        for name in names {
            let mut item = DiffItem::new(kind, name, change, change == Change::Added);
            describe(name, &mut item);
            items.push(item);
        }
    }
}

fn egress(
    items: &mut Vec<DiffItem>,
    kept: &mut Vec<DiffItem>,
    before: &[EgressRule],
    after: &[EgressRule],
    granted: &BTreeSet<String>,
) {
    let by_destination = |rules: &[EgressRule]| -> BTreeMap<String, EgressRule> {
        rules
            .iter()
            .map(|r| (r.destination.clone(), r.clone()))
            .collect()
    };
    let (before, after) = (by_destination(before), by_destination(after));
    let names = |m: &BTreeMap<String, EgressRule>| m.keys().cloned().collect::<BTreeSet<_>>();
    sets(
        items,
        ItemKind::Egress,
        &names(&before),
        &names(&after),
        |d, item| {
            item.granted = granted.contains(d);
        },
    );
    for (destination, old) in &before {
        let Some(new) = after.get(destination) else {
            continue;
        };
        if granted.contains(destination) {
            let mut item = DiffItem::new(ItemKind::Egress, destination, Change::Changed, false);
            item.granted = true;
            kept.push(item);
        }
        if old.path != new.path {
            // A path under the old prefix narrows; anything else reaches further.
            let narrows = new.path.starts_with(&old.path);
            let mut item =
                DiffItem::new(ItemKind::EgressPath, destination, Change::Changed, !narrows);
            item.detail = Some(format!("{} -> {}", old.path, new.path));
            items.push(item);
        }
        for (kind, b, a) in [
            (ItemKind::EgressMethod, &old.methods, &new.methods),
            (ItemKind::EgressSend, &old.send, &new.send),
            (ItemKind::EgressSecret, &old.secrets, &new.secrets),
        ] {
            let qualified = |s: &BTreeSet<String>| -> BTreeSet<String> {
                s.iter().map(|x| format!("{destination} {x}")).collect()
            };
            sets(items, kind, &qualified(b), &qualified(a), |_, item| {
                item.granted = granted.contains(destination);
            });
        }
    }
}

/// What an admin approves of a pending upgrade: the items of its increases they tick.
/// Nothing else is granted by approving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The new grants ticked: fields, classes and destinations the new version declares.
    #[serde(default)]
    pub grant: Grants,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Manifest {
        Manifest::parse(
            "plugin.toml",
            &format!(
                "name = \"pp\"\nversion = \"1.0.0\"\nvendor = \"v\"\ndescription = \"d\"\n\
                 events = [\"ticket-created\"]\n{extra}"
            ),
        )
        .unwrap()
    }

    #[test]
    fn dropping_a_field_is_a_reduction_and_adding_a_destination_an_increase() {
        let current = manifest("[data]\nread = [\"ticket.subject\", \"requester.email\"]\n");
        let fewer = manifest("[data]\nread = [\"ticket.subject\"]\n");
        let grants = Grants {
            read: ["ticket.subject".into(), "requester.email".into()].into(),
            ..Default::default()
        };
        let diff = UpgradeDiff::between(&current, &grants, &fewer);
        assert!(!diff.increases());
        assert_eq!(diff.items.len(), 1);
        assert_eq!(diff.items[0].change, Change::Removed);
        assert!(diff.items[0].granted);
        assert_eq!(diff.kept.len(), 1);

        let egress = manifest(
            "[data]\nread = [\"ticket.subject\"]\n[[egress]]\ndestination = \"https://api.example\"\n\
             methods = [\"POST\"]\nsend = [\"ticket.subject\"]\n",
        );
        let diff = UpgradeDiff::between(&fewer, &Grants::default(), &egress);
        assert!(diff.increases());
        assert_eq!(diff.items[0].kind, ItemKind::Egress);
    }

    #[test]
    fn a_destination_sent_more_or_reached_wider_is_an_increase() {
        let rule = |path: &str, send: &str| {
            manifest(&format!(
                "[data]\nread = [\"ticket.subject\", \"requester.email\"]\n[[egress]]\n\
                 destination = \"https://api.example\"\npath = \"{path}\"\nmethods = [\"POST\"]\nsend = [{send}]\n"
            ))
        };
        let current = rule("/v1/", "\"ticket.subject\"");
        let grants = Grants::default();
        let more = UpgradeDiff::between(
            &current,
            &grants,
            &rule("/v1/", "\"ticket.subject\", \"requester.email\""),
        );
        assert!(more.increases());
        assert_eq!(more.items[0].kind, ItemKind::EgressSend);
        assert_eq!(more.items[0].name, "https://api.example requester.email");
        let wider = UpgradeDiff::between(&current, &grants, &rule("/", "\"ticket.subject\""));
        assert!(wider.increases());
        let narrower =
            UpgradeDiff::between(&current, &grants, &rule("/v1/hooks/", "\"ticket.subject\""));
        assert!(!narrower.increases());
    }

    #[test]
    fn a_raised_limit_and_a_new_event_are_increases() {
        let current = manifest("[data]\n[limits]\ntimeout_ms = 500\n");
        let next = Manifest::parse(
            "plugin.toml",
            "name = \"pp\"\nversion = \"2.0.0\"\nvendor = \"v\"\ndescription = \"d\"\n\
             events = [\"ticket-created\", \"ticket-updated\"]\n[data]\n[limits]\ntimeout_ms = 900\n",
        )
        .unwrap();
        let diff = UpgradeDiff::between(&current, &Grants::default(), &next);
        let kinds: Vec<ItemKind> = diff.items.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [ItemKind::Event, ItemKind::Limit]);
        assert!(diff.items.iter().all(|i| i.increase));
        assert_eq!(diff.items[1].detail.as_deref(), Some("500 -> 900"));
    }
}
