//! Access review: grants an installation has not used lately (candidates to revoke), and
//! a data map of which plugin can read or write which field and send which data where.

use super::error::{MonitorError, MonitorResult};
use super::{EGRESS_CALL, Monitor, PAGE, format_time, is_read_call, is_write_call};
use crate::audit::{AuditFilter, Decision};
use crate::catalog;
use crate::installation::Installation;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One installation's grants not used in the review window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedGrants {
    /// The installation.
    pub installation: String,
    /// Its plugin.
    pub plugin: String,
    /// The window, in days.
    pub days: u32,
    /// The window's start.
    pub since: String,
    /// Read grants never returned in the window: candidates to revoke.
    pub unused_read: Vec<String>,
    /// Write grants never used in the window: candidates to revoke.
    pub unused_write: Vec<String>,
    /// Read grants that were used.
    pub used_read: Vec<String>,
    /// Write grants that were used.
    pub used_write: Vec<String>,
}

/// When each grant of one installation was last used (RFC 3339), from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantUse {
    /// Fields returned by reads.
    pub read: BTreeMap<String, String>,
    /// Fields written.
    pub write: BTreeMap<String, String>,
    /// Destinations reached by allowed requests.
    pub egress: BTreeMap<String, String>,
    /// How many reads returned each field.
    pub read_count: BTreeMap<String, u64>,
    /// How many writes set each field.
    pub write_count: BTreeMap<String, u64>,
    /// How many allowed requests reached each destination.
    pub egress_count: BTreeMap<String, u64>,
}

/// A field a plugin declares, with whether it is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldGrant {
    /// The field path.
    pub field: String,
    /// Its sensitivity class.
    pub class: String,
    /// Whether the admin granted it (effective access is declared and granted).
    pub granted: bool,
}

/// Where a plugin may send data, from its manifest's `[[egress]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataFlow {
    /// `scheme://host[:port]`.
    pub destination: String,
    /// The path prefix.
    pub path: String,
    /// Allowed methods.
    pub methods: BTreeSet<String>,
    /// Whether the admin granted this destination (`grants.egress`).
    pub granted: bool,
    /// Fields and data classes the destination may receive, as declared.
    pub send: BTreeSet<String>,
    /// Of those, what the installation can actually send: nothing unless the destination
    /// is granted; then granted read fields, classes of at least one granted read field,
    /// and detector classes (`email`, …).
    pub sendable: BTreeSet<String>,
}

/// One installation in the data map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallationMap {
    /// The installation.
    pub installation: String,
    /// Its plugin, version and vendor.
    pub plugin: String,
    /// The version.
    pub version: String,
    /// The vendor.
    pub vendor: String,
    /// The fingerprint of the key that signed the running version; `None` if unsigned.
    pub signer: Option<String>,
    /// Whether it receives events.
    pub enabled: bool,
    /// Fields it declares for reading.
    pub read: Vec<FieldGrant>,
    /// Fields it declares for writing.
    pub write: Vec<FieldGrant>,
    /// Where it may send data.
    pub sends: Vec<DataFlow>,
    /// Destinations the audit log shows it contacted.
    pub contacted: Vec<String>,
}

/// Who can touch one field (effective access: declared and granted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldUse {
    /// Its sensitivity class.
    pub class: String,
    /// Installations that can read it.
    pub readers: BTreeSet<String>,
    /// Installations that can write it.
    pub writers: BTreeSet<String>,
    /// Destinations it may be sent to (by name or by class).
    pub sent_to: BTreeSet<String>,
}

/// The data map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataMap {
    /// By installation, grouped by vendor (vendors by name, then installations by id).
    pub installations: Vec<InstallationMap>,
    /// Each vendor's installations.
    pub vendors: BTreeMap<String, Vec<String>>,
    /// By field.
    pub fields: BTreeMap<String, FieldUse>,
}

fn class_of(field: &str) -> String {
    catalog::lookup(field).map_or_else(|| "unknown".into(), |s| s.sensitivity.to_string())
}

/// The data flows a manifest declares. Egress is the only way data leaves the host, so
/// this is the one place the data map learns about destinations.
fn flows(inst: &Installation) -> Vec<DataFlow> {
    let granted = &inst.grants.read;
    let granted_classes: BTreeSet<String> = granted.iter().map(|f| class_of(f)).collect();
    inst.manifest
        .egress
        .iter()
        .map(|rule| DataFlow {
            destination: rule.destination.clone(),
            path: rule.path.clone(),
            methods: rule.methods.clone(),
            granted: inst.grants.egress.contains(&rule.destination),
            send: rule.send.clone(),
            sendable: rule
                .send
                .iter()
                .filter(|_| inst.grants.egress.contains(&rule.destination))
                .filter(|s| match catalog::lookup(s) {
                    Some(_) => granted.contains(*s),
                    None if s.parse::<crate::catalog::Sensitivity>().is_ok() => {
                        granted_classes.contains(*s)
                    }
                    None => true,
                })
                .cloned()
                .collect(),
        })
        .collect()
}

impl Monitor {
    /// Grants not used in the last `days` days, for one installation or all.
    pub fn unused_grants(
        &self,
        days: u32,
        installation: Option<&str>,
    ) -> MonitorResult<Vec<UnusedGrants>> {
        if days == 0 || days > 36_500 {
            return Err(MonitorError::Invalid("`days` must be 1-36500".into()));
        }
        let since =
            format_time(time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)));
        let installations = match installation {
            Some(id) => vec![self.store().installation(id)?.ok_or_else(|| {
                MonitorError::NotFound(format!(
                    "no installation `{id}`; `airlock plugin list` shows them"
                ))
            })?],
            None => self.store().installations()?,
        };
        let mut out = Vec::new();
        for inst in installations {
            let used = self.grant_use(&inst.id, &since)?;
            let (read, written) = (&used.read, &used.write);
            let split = |granted: &BTreeSet<String>, used: &BTreeMap<String, String>| {
                let (used, unused): (Vec<String>, Vec<String>) =
                    granted.iter().cloned().partition(|f| used.contains_key(f));
                (used, unused)
            };
            let (used_read, unused_read) = split(&inst.grants.read, read);
            let (used_write, unused_write) = split(&inst.grants.write, written);
            out.push(UnusedGrants {
                installation: inst.id.clone(),
                plugin: inst.manifest.name.clone(),
                days,
                since: since.clone(),
                unused_read,
                unused_write,
                used_read,
                used_write,
            });
        }
        Ok(out)
    }

    /// When the log last shows each of an installation's grants used, since `since`:
    /// fields returned by a read, fields written, destinations an allowed request
    /// reached. One pass over the installation's allowed records in the window.
    pub fn grant_use(&self, installation: &str, since: &str) -> MonitorResult<GrantUse> {
        let mut used = GrantUse::default();
        let mut after = 0;
        loop {
            let page = self.store().query(&AuditFilter {
                installation: Some(installation.to_string()),
                decision: Some(Decision::Allow),
                since: Some(since.to_string()),
                after_seq: Some(after),
                limit: Some(PAGE),
                ..Default::default()
            })?;
            for r in &page {
                after = r.seq;
                if crate::broker::is_intent(&r.entry) {
                    continue;
                }
                let (last, count) = if is_read_call(&r.entry.call) {
                    (&mut used.read, &mut used.read_count)
                } else if is_write_call(&r.entry.call) {
                    (&mut used.write, &mut used.write_count)
                } else if r.entry.call == EGRESS_CALL {
                    if let Some(dest) = r.entry.details.get(crate::egress::detail::DESTINATION) {
                        used.egress.insert(dest.clone(), r.time.clone());
                        *used.egress_count.entry(dest.clone()).or_default() += 1;
                    }
                    continue;
                } else {
                    continue;
                };
                for field in &r.entry.fields_returned {
                    last.insert(field.clone(), r.time.clone());
                    *count.entry(field.clone()).or_default() += 1;
                }
            }
            if page.len() < PAGE as usize {
                return Ok(used);
            }
        }
    }

    /// The data map of every installation.
    pub fn data_map(&self) -> MonitorResult<DataMap> {
        let counters = self.counters()?;
        let mut map = DataMap::default();
        for inst in self.store().installations()? {
            let grants = |declared: &BTreeSet<String>, granted: &BTreeSet<String>| {
                declared
                    .iter()
                    .map(|f| FieldGrant {
                        field: f.clone(),
                        class: class_of(f),
                        granted: granted.contains(f),
                    })
                    .collect::<Vec<_>>()
            };
            let read = grants(&inst.manifest.data.read, &inst.grants.read);
            let write = grants(&inst.manifest.data.write, &inst.grants.write);
            let sends = flows(&inst);
            for f in read.iter().filter(|f| f.granted) {
                let entry = map.fields.entry(f.field.clone()).or_default();
                entry.class = f.class.clone();
                entry.readers.insert(inst.id.clone());
                for flow in &sends {
                    if flow.sendable.contains(&f.field) || flow.sendable.contains(&f.class) {
                        entry.sent_to.insert(flow.destination.clone());
                    }
                }
            }
            for f in write.iter().filter(|f| f.granted) {
                let entry = map.fields.entry(f.field.clone()).or_default();
                entry.class = f.class.clone();
                entry.writers.insert(inst.id.clone());
            }
            let contacted = counters
                .installations
                .get(&inst.id)
                .map(|c| c.egress.keys().cloned().collect())
                .unwrap_or_default();
            map.installations.push(InstallationMap {
                installation: inst.id.clone(),
                plugin: inst.manifest.name.clone(),
                version: inst.manifest.version.clone(),
                vendor: inst.manifest.vendor.clone(),
                signer: inst.signer.clone(),
                enabled: inst.enabled,
                read,
                write,
                sends,
                contacted,
            });
        }
        map.installations
            .sort_by(|a, b| (&a.vendor, &a.installation).cmp(&(&b.vendor, &b.installation)));
        for i in &map.installations {
            map.vendors
                .entry(i.vendor.clone())
                .or_default()
                .push(i.installation.clone());
        }
        Ok(map)
    }
}

impl DataMap {
    /// The map as text for the terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut vendor = None;
        for i in &self.installations {
            if vendor != Some(&i.vendor) {
                vendor = Some(&i.vendor);
                let _ = writeln!(out, "vendor {}:", i.vendor);
            }
            let _ = writeln!(
                out,
                "{} ({} {}, {}, {}){}",
                i.installation,
                i.plugin,
                i.version,
                i.vendor,
                i.signer.as_deref().unwrap_or("unsigned"),
                if i.enabled { "" } else { " [disabled]" }
            );
            for (what, fields) in [("reads", &i.read), ("writes", &i.write)] {
                for f in fields {
                    let _ = writeln!(
                        out,
                        "  {what} {} [{}]{}",
                        f.field,
                        f.class,
                        if f.granted {
                            ""
                        } else {
                            " (declared, not granted)"
                        }
                    );
                }
            }
            for flow in &i.sends {
                let _ = writeln!(
                    out,
                    "  sends to {}{} ({}){}: may send [{}], can send [{}]",
                    flow.destination,
                    flow.path,
                    flow.methods.iter().cloned().collect::<Vec<_>>().join(","),
                    if flow.granted { "" } else { " (not granted)" },
                    flow.send.iter().cloned().collect::<Vec<_>>().join(","),
                    flow.sendable.iter().cloned().collect::<Vec<_>>().join(",")
                );
            }
            if !i.contacted.is_empty() {
                let _ = writeln!(out, "  contacted: {}", i.contacted.join(", "));
            }
        }
        out
    }
}

impl UnusedGrants {
    /// One line per installation for the terminal.
    pub fn text(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(",")
            }
        };
        format!(
            "{}\tunused read: {}\tunused write: {}\t(last {} days)\n",
            self.installation,
            list(&self.unused_read),
            list(&self.unused_write),
            self.days
        )
    }
}
