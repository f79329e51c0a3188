//! Shared helpers: paths to built components, a host in a scratch directory, fixtures.

use airlock_host::app::Airlock;
use airlock_host::dispatch::{DispatchResult, EventRequest};
use airlock_host::installation::{Grants, Installation};
use airlock_host::model::{Dataset, Organization, Ticket, User};
use airlock_host::runtime::RuntimeLimits;
use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built component, e.g. `plugins/dist/auto-tagger.wasm`.
pub fn component(name: &str) -> Vec<u8> {
    let path = root().join("plugins/dist").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the plugins first: `make plugins` (scripts/build-plugins.sh)",
            path.display()
        )
    })
}

/// A plugin's manifest path, in `plugins/<name>` or `tests/plugins/<name>`.
pub fn manifest_path(name: &str) -> PathBuf {
    let example = root().join("plugins").join(name).join("plugin.toml");
    match example.exists() {
        true => example,
        false => root().join("tests/plugins").join(name).join("plugin.toml"),
    }
}

/// A plugin's manifest text.
pub fn manifest(name: &str) -> String {
    std::fs::read_to_string(manifest_path(name)).expect("manifest exists")
}

/// Options that install an unsigned plugin (under `id`, if given), on the record as
/// unsigned.
pub fn unsigned(id: Option<&str>) -> airlock_host::app::lifecycle::InstallOptions {
    airlock_host::app::lifecycle::InstallOptions {
        id: id.map(str::to_string),
        allow_unsigned: true,
        ..Default::default()
    }
}

/// A host in its own scratch data directory.
pub struct TestHost {
    pub dir: tempfile::TempDir,
    pub airlock: Airlock,
}

impl TestHost {
    pub fn new() -> TestHost {
        let dir = tempfile::tempdir().unwrap();
        let airlock = Airlock::open(dir.path(), RuntimeLimits::default()).unwrap();
        airlock.import(&fixture()).unwrap();
        TestHost { dir, airlock }
    }

    /// Installs a built plugin and grants it `read` and `write`.
    pub fn install(&self, name: &str, read: &[&str], write: &[&str]) -> Installation {
        let inst = self
            .airlock
            .install("plugin.toml", &manifest(name), &component(name), None)
            .unwrap();
        let grants = Grants {
            read: read.iter().map(|s| s.to_string()).collect(),
            write: write.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        self.airlock.set_grants(&inst.id, grants).unwrap()
    }

    /// Installs a plugin with every declared field granted.
    pub fn install_all_granted(&self, name: &str) -> Installation {
        let inst = self
            .airlock
            .install("plugin.toml", &manifest(name), &component(name), None)
            .unwrap();
        let grants = Grants {
            read: inst.manifest.data.read.clone(),
            write: inst.manifest.data.write.clone(),
            ..Default::default()
        };
        self.airlock.set_grants(&inst.id, grants).unwrap()
    }

    /// Posts a ticket-created event and returns each installation's result.
    pub fn ticket_created(&self, ticket: Ticket) -> Vec<DispatchResult> {
        self.airlock
            .handle_event(EventRequest::TicketCreated { ticket })
            .unwrap()
    }

    /// The result for one installation.
    pub fn result_of<'a>(results: &'a [DispatchResult], installation: &str) -> &'a DispatchResult {
        results
            .iter()
            .find(|r| r.installation == installation)
            .unwrap_or_else(|| panic!("no result for {installation}: {results:?}"))
    }

    /// The stored ticket.
    pub fn ticket(&self, id: &str) -> Ticket {
        let record = self
            .airlock
            .store()
            .get(airlock_host::model::Kind::Ticket, id)
            .unwrap()
            .expect("ticket stored");
        serde_json::from_value(serde_json::Value::Object(record)).unwrap()
    }
}

/// A small data set: a VIP organization and a regular one, with a requester in each.
pub fn fixture() -> Dataset {
    Dataset {
        organizations: vec![
            Organization {
                id: "org-vip".into(),
                name: Some("Big Corp".into()),
                domain_names: vec!["bigcorp.example".into()],
                ..Default::default()
            },
            Organization {
                id: "org-2".into(),
                name: Some("Small Shop".into()),
                domain_names: vec!["smallshop.example".into()],
                ..Default::default()
            },
        ],
        users: vec![
            User {
                id: "u-vip".into(),
                name: Some("Vera Important".into()),
                email: Some("vera@bigcorp.example".into()),
                phone: Some("+1 415 555 0100".into()),
                organization_id: Some("org-vip".into()),
                notes: Some("private agent note".into()),
                ..Default::default()
            },
            User {
                id: "u-2".into(),
                name: Some("Sam Small".into()),
                email: Some("sam@smallshop.example".into()),
                phone: Some("+1 415 555 0199".into()),
                organization_id: Some("org-2".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// A new ticket.
pub fn ticket(id: &str, subject: &str, description: &str, requester: &str) -> Ticket {
    Ticket {
        id: id.into(),
        subject: Some(subject.into()),
        description: Some(description.into()),
        status: Some("new".into()),
        requester_id: Some(requester.into()),
        ..Default::default()
    }
}
