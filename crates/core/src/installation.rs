//! Installations: a plugin version installed in this helpdesk, with the fields an admin
//! granted it and its settings.
//!
//! The effective field set is always *declared ∩ granted*. Installing grants nothing.

use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The fields an admin granted an installation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Field paths the installation may read.
    #[serde(default)]
    pub read: BTreeSet<String>,
    /// Field paths the installation may write.
    #[serde(default)]
    pub write: BTreeSet<String>,
    /// `[[egress]]` destinations (`scheme://host[:port]`) the installation may send
    /// outbound HTTP requests to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub egress: BTreeSet<String>,
    /// Data classes the installation may see raw (`reveal` grants); the broker masks
    /// every other class.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reveal: BTreeSet<String>,
    /// The plugin's own key-value store (`[storage] kv = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kv: bool,
}

impl Grants {
    /// True when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
            && self.write.is_empty()
            && self.egress.is_empty()
            && self.reveal.is_empty()
            && !self.kv
    }

    /// These grants with `add` added and `remove` taken away (a removal wins).
    ///
    /// ```
    /// use airlock_core::installation::Grants;
    /// let g = Grants { read: ["ticket.subject".into(), "requester.email".into()].into(), ..Default::default() };
    /// let remove = Grants { read: ["requester.email".into()].into(), ..Default::default() };
    /// let add = Grants { read: ["ticket.status".into()].into(), ..Default::default() };
    /// let changed = g.changed(&add, &remove);
    /// assert_eq!(changed.read, ["ticket.status".to_string(), "ticket.subject".to_string()].into());
    /// ```
    pub fn changed(&self, add: &Grants, remove: &Grants) -> Grants {
        let change =
            |current: &BTreeSet<String>, add: &BTreeSet<String>, remove: &BTreeSet<String>| {
                current
                    .union(add)
                    .filter(|g| !remove.contains(*g))
                    .cloned()
                    .collect()
            };
        Grants {
            read: change(&self.read, &add.read, &remove.read),
            write: change(&self.write, &add.write, &remove.write),
            egress: change(&self.egress, &add.egress, &remove.egress),
            reveal: change(&self.reveal, &add.reveal, &remove.reveal),
            kv: (self.kv || add.kv) && !remove.kv,
        }
    }
}

/// One installed plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Installation {
    /// The installation id (the plugin's name unless the admin chose another).
    pub id: String,
    /// The validated manifest of the installed version.
    pub manifest: Manifest,
    /// SHA-256 (hex) of the component; names its file under `components/`.
    pub component_sha256: String,
    /// Disabled installations receive no events.
    pub enabled: bool,
    /// What an admin granted.
    pub grants: Grants,
    /// Admin-provided settings, valid against the manifest's settings schema.
    pub settings: serde_json::Value,
    /// When it was installed or last upgraded (RFC 3339).
    pub installed_at: String,
    /// Secret settings (`writeOnly` in the settings schema), sealed with AES-256-GCM
    /// under the master key, by name. Never returned by the API ([`Installation::public`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Set while an admin's kill switch holds it: it runs nothing until revived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed: Option<Kill>,
    /// The fingerprint of the vendor key that signed the running version; `None` when
    /// it was installed unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The versions it ran before, oldest first, each with the grant it had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<KeptVersion>,
    /// A new version waiting for the admin; the installation keeps running its current
    /// version and grant meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingUpgrade>,
}

/// A version an installation ran, kept for rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptVersion {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 (hex) of its component.
    pub component_sha256: String,
    /// The key that signed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// What it was granted when it was left.
    pub grants: Grants,
    /// When it was installed (RFC 3339).
    pub installed_at: String,
    /// When the installation moved on from it (RFC 3339).
    pub left_at: String,
}

/// A new version offered for an installation, waiting for the admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingUpgrade {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 (hex) of its component (stored under `components/`).
    pub component_sha256: String,
    /// The key that signed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// Whether it asks for more than the running version.
    pub increases: bool,
}

/// An incident kill: who, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    /// The admin's reason.
    pub reason: String,
    /// Who killed it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// An installation as the API and CLI show it: secret settings are listed by name only.
#[derive(Debug, Clone, Serialize)]
pub struct PublicInstallation {
    #[serde(flatten)]
    installation: Installation,
    /// The names of the secret settings that are set.
    secrets_set: Vec<String>,
}

impl PublicInstallation {
    /// The installation shown.
    pub fn installation(&self) -> &Installation {
        &self.installation
    }
}

impl Installation {
    /// A fresh installation: enabled, with no grants and empty settings.
    pub fn new(id: String, manifest: Manifest, component_sha256: String, now: String) -> Self {
        Installation {
            id,
            manifest,
            component_sha256,
            enabled: true,
            grants: Grants::default(),
            settings: serde_json::json!({}),
            installed_at: now,
            secrets: Default::default(),
            killed: None,
            signer: None,
            history: Vec::new(),
            pending: None,
        }
    }

    /// The installation without its sealed secrets, for the API and CLI.
    pub fn public(self) -> PublicInstallation {
        let mut installation = self;
        let secrets = std::mem::take(&mut installation.secrets);
        PublicInstallation {
            installation,
            secrets_set: secrets.into_keys().collect(),
        }
    }

    /// Replaces the grants, refusing any field the manifest does not declare.
    ///
    /// ```
    /// # use airlock_core::{installation::*, manifest::Manifest};
    /// # let m = Manifest::parse("plugin.toml", r#"
    /// #   name = "pp"
    /// #   version = "1.0.0"
    /// #   vendor = "v"
    /// #   description = "d"
    /// #   events = ["ticket-created"]
    /// #   [data]
    /// #   read = ["ticket.subject"]
    /// # "#).unwrap();
    /// let mut inst = Installation::new("p".into(), m, "00".into(), "now".into());
    /// let mut g = Grants::default();
    /// g.read.insert("requester.email".into());
    /// assert!(inst.set_grants(g).unwrap_err().contains("requester.email"));
    /// ```
    pub fn set_grants(&mut self, grants: Grants) -> Result<(), String> {
        for (what, asked, declared) in [
            ("read", &grants.read, &self.manifest.data.read),
            ("write", &grants.write, &self.manifest.data.write),
            ("reveal", &grants.reveal, &self.manifest.data.reveal),
        ] {
            let undeclared: Vec<&str> = asked.difference(declared).map(String::as_str).collect();
            if !undeclared.is_empty() {
                return Err(format!(
                    "cannot grant {what} access to {}: plugin `{}` does not declare {} in plugin.toml [data] {what}",
                    undeclared.join(", "),
                    self.manifest.name,
                    if undeclared.len() == 1 { "it" } else { "them" },
                ));
            }
        }
        if grants.kv && !self.manifest.storage.kv {
            return Err(format!(
                "cannot grant kv storage: plugin `{}` does not declare it in plugin.toml [storage] kv = true",
                self.manifest.name
            ));
        }
        let mut grants = grants;
        let mut egress = BTreeSet::new();
        for asked in &grants.egress {
            let canonical = crate::manifest::destination::canonical(asked)?;
            if !self
                .manifest
                .egress
                .iter()
                .any(|r| r.destination == canonical)
            {
                return Err(format!(
                    "cannot approve egress to {canonical}: plugin `{}` does not declare it in plugin.toml [[egress]]",
                    self.manifest.name
                ));
            }
            egress.insert(canonical);
        }
        grants.egress = egress;
        self.grants = grants;
        Ok(())
    }

    /// Drops grants the current manifest no longer declares (after an upgrade).
    pub fn retain_declared_grants(&mut self) {
        let data = &self.manifest.data;
        self.grants.kv &= self.manifest.storage.kv;
        self.grants.read.retain(|f| data.read.contains(f));
        self.grants.write.retain(|f| data.write.contains(f));
        self.grants.reveal.retain(|c| data.reveal.contains(c));
        let egress = &self.manifest.egress;
        self.grants
            .egress
            .retain(|d| egress.iter().any(|r| &r.destination == d));
        let secrets = self.manifest.secret_settings();
        self.secrets.retain(|name, _| secrets.contains(name));
    }

    /// True if the installation handles this event kind.
    pub fn subscribes_to(&self, kind: crate::manifest::EventKind) -> bool {
        self.enabled && self.manifest.events.contains(&kind)
    }
}
