//! The application: the data directory, store and runtime composed, with the
//! operations both the CLI and the HTTP API use.

use crate::blobs::DataDir;
use crate::broker::{Invocation, Redaction, Services};
use crate::egress::secrets::{MASTER_KEY_FILE, MasterKey};
use crate::egress::{Egress, EgressConfig, Resolve, SystemResolver};
pub use crate::error::{AppError, AppResult};

mod admin;
mod audit_log;
mod people;
pub mod retention;
mod review;
mod schedule;
mod sealing;
pub use people::{PublicCredential, PublicUser};
pub use review::{Change, DEFAULT_WINDOW_DAYS, ReviewStatus};
pub mod admission;
pub mod backup;
pub use admin::{Actor, Admin, grant_diff, host_entry};
pub mod dsr;
mod events;
mod evidence;
pub mod incident;
pub mod keys;
mod kill;
pub mod lifecycle;
mod logs;
pub use logs::KeptLine;
mod follower;
pub use admission::Admission;
mod monitoring;
mod vendors;
use crate::installation::{Grants, Installation};
use crate::manifest::Manifest;
use crate::model::{Dataset, Kind};
use crate::runtime::{LoadedPlugin, Runtime, RuntimeLimits};
use crate::store::{AuditStore, Durability, HelpdeskStore, InstallationStore, SqliteStore, Store};
pub use follower::Checkpoints;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
pub use vendors::KeyStatus;

/// How to open the service.
pub struct Options {
    /// Admin limits for the sandbox.
    pub limits: RuntimeLimits,
    /// The broker's redaction step; `None` builds the `airlock-redact` engine from
    /// `redaction_config` with the data directory's token key.
    pub redaction: Option<Arc<dyn Redaction>>,
    /// Detectors, masks and allow-list (`[redaction]` in the config file).
    pub redaction_config: crate::redaction::RedactionConfig,
    /// How durable each audit commit is.
    pub durability: Durability,
    /// Outbound HTTP settings (dev mode, limits, data-loss action).
    pub egress: EgressConfig,
    /// How outbound requests resolve host names (the system's resolver by default).
    pub resolver: Arc<dyn Resolve>,
    /// What carries outbound requests once checked: the network by default, an author's
    /// stubs in `airlock dev` and `airlock test`.
    pub transport: Arc<dyn crate::egress::client::Transport>,
    /// The master key for secret settings; `None` reads `AIRLOCK_MASTER_KEY` or
    /// `<data-dir>/master.key` (generated on first use).
    pub master_key: Option<[u8; 32]>,
    /// Alert thresholds and the alert webhook (`[alerts]` in the config file).
    pub alerts: crate::monitor::AlertConfig,
    /// A token that may read `GET /metrics` (the admin token always may).
    pub metrics_token: Option<String>,
    /// Sign a checkpoint after this many new audit records.
    pub checkpoint_every: u64,
    /// How many events may wait for a worker before the API answers `503`; `None` is
    /// [`admission::QUEUE_PER_WORKER`] per worker (workers: the instance pool's size).
    pub event_queue: Option<usize>,
    /// Sign-in rules: MFA, lockout, session and token lifetimes (`[accounts]`).
    pub accounts: crate::access::AccountPolicy,
    /// An access review is due this many days after the last sign-off (default 90).
    pub review_interval_days: u32,
    /// Apply upgrades that ask for nothing more at once (default false: they wait for
    /// approval like the rest).
    pub auto_apply_reductions: bool,
    /// A vendor's security review is due this many days after the last (default 365).
    pub vendor_review_days: u32,
    /// The admin's caps on every installation's kv quota.
    pub kv: crate::capability::kv::KvLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: RuntimeLimits::default(),
            redaction: None,
            redaction_config: Default::default(),
            durability: Durability::Full,
            egress: EgressConfig::default(),
            resolver: Arc::new(SystemResolver),
            transport: Arc::new(crate::egress::client::Network),
            master_key: None,
            alerts: crate::monitor::AlertConfig::default(),
            metrics_token: None,
            checkpoint_every: 1000,
            event_queue: None,
            accounts: Default::default(),
            review_interval_days: 90,
            auto_apply_reductions: false,
            vendor_review_days: 365,
            kv: Default::default(),
        }
    }
}

/// The composed service.
pub struct Airlock {
    data: DataDir,
    store: Arc<SqliteStore>,
    runtime: Runtime,
    services: Services,
    capabilities: crate::capability::Services,
    loaded: Mutex<HashMap<String, LoadedPlugin>>,
    monitor: Arc<crate::monitor::Monitor>,
    metrics_token: Option<String>,
    checkpoints: Arc<Checkpoints>,
    admission: Admission,
    accounts: crate::access::Accounts,
    /// The installations as of a version of the store's ([`Airlock::targets`]).
    installed: Mutex<Option<InstalledSnapshot>>,
    /// Days from one review's sign-off to the next one's due date.
    review_interval_days: u32,
    /// How versions arrive: auto-applied reductions, unsigned installs in dev mode,
    /// vendor review interval.
    lifecycle: lifecycle::Policy,
    /// The last log lines of each installation.
    recent_logs: logs::RecentLogs,
    /// Scheduled triggers: when each installation last ran, and whether it still does.
    scheduler: schedule::Scheduler,
    /// Declared last: dropped first, so the follower drains while the rest still stands.
    follower: follower::Follower,
}

/// Every installation as of one `installations_version` of the store.
type InstalledSnapshot = (u64, Arc<[Arc<Installation>]>);

/// What the audit key for opaque ids was derived for, from the master key, before it
/// became a data key of its own ([`keys::AUDIT_IDS_KEY_NAME`]).
pub const AUDIT_ID_KEY_PURPOSE: &str = "airlock audit opaque ids v1";

impl Airlock {
    /// Opens the data directory (creating it if needed) with default options.
    pub fn open(data_dir: &Path, limits: RuntimeLimits) -> anyhow::Result<Airlock> {
        Self::open_with(
            data_dir,
            Options {
                limits,
                ..Options::default()
            },
        )
    }

    /// Opens the data directory with chosen options.
    pub fn open_with(data_dir: &Path, options: Options) -> anyhow::Result<Airlock> {
        let data = DataDir::open(data_dir)?;
        let store = Arc::new(SqliteStore::open_with(
            &data.database_path(),
            options.durability,
        )?);
        // The store made its database and journal: narrow them too.
        data.restrict()?;
        let workers = options.limits.max_concurrent_instances as usize;
        let admission = Admission::new(
            workers,
            options
                .event_queue
                .unwrap_or(workers * admission::QUEUE_PER_WORKER),
        );
        let runtime = Runtime::new(options.limits, Some(data.cache_dir()?))?;
        let checkpoints = Arc::new(Checkpoints::new(
            store.clone(),
            data.checkpoint_signer()?,
            options.checkpoint_every,
        )?);
        let monitor = Arc::new(crate::monitor::Monitor::new(store.clone(), options.alerts));
        let follower = follower::Follower::spawn(monitor.clone(), checkpoints.clone())?;
        let key = match options.master_key {
            Some(key) => MasterKey::fixed(key),
            None => {
                let file = data.path().join(MASTER_KEY_FILE);
                // A key from the environment leaves the key file unused.
                if crate::egress::secrets::env_key()?.is_none() {
                    keys::settle_interrupted_rotation(&file, store.as_ref())?;
                }
                MasterKey::from_env_or_file(Some(file))
            }
        };
        // A store with records but no purpose keys is from before the key hierarchy.
        let predates = !store.audit_positions()?.is_empty();
        // Sensitive helpdesk values are sealed at rest; a store from before is sealed now.
        // Without the key that sealed it (a copied directory), the helpdesk data stays
        // sealed and its writes fail; the audit log and the rest still work.
        match sealing::HelpdeskSealer::open(store.as_ref(), &key) {
            Ok(sealer) => {
                store.seal_fields_with(Arc::new(sealer));
                let migrated = store.seal_existing(&mut |_| {})?;
                if migrated > 0 {
                    tracing::info!(
                        records = migrated,
                        "sealed the sensitive fields of existing records"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the helpdesk data key does not open: helpdesk data stays sealed");
                store.seal_fields_with(Arc::new(sealing::LockedSealer));
            }
        }
        let detectors = Arc::new(
            airlock_redact::Redactor::new(&options.redaction_config.engine)
                .map_err(|e| anyhow::anyhow!("[redaction]: {e}"))?,
        );
        let audit_key = keys::purpose_key(
            store.as_ref(),
            &key,
            keys::AUDIT_IDS_KEY_NAME,
            AUDIT_ID_KEY_PURPOSE,
            predates,
        )
        .unwrap_or_else(|e| {
            // Opaque ids then differ from those of other runs, but still reveal nothing.
            tracing::warn!(error = %e, "no master key for opaque audit ids; using a key for this run only");
            rand::random()
        });
        let services = Services {
            store: store.clone(),
            redaction: match options.redaction {
                Some(redaction) => redaction,
                None => Arc::new(crate::redaction::EngineRedaction::open(
                    &data,
                    &options.redaction_config,
                )?),
            },
            detector: detectors.clone(),
            sanitizer: Arc::new(crate::broker::AuditSanitizer::new(
                audit_key,
                detectors.clone(),
            )),
        };
        let totp_key = match keys::purpose_key(
            store.as_ref(),
            &key,
            keys::TOTP_KEY_NAME,
            crate::access::TOTP_KEY_PURPOSE,
            predates,
        ) {
            Ok(k) => MasterKey::fixed(k),
            Err(e) => {
                // Sign-in with a second factor then fails closed; the rest works.
                tracing::warn!(error = %format!("{e:#}"), "the TOTP data key does not open: second factors cannot be checked");
                MasterKey::locked(sealing::LOCKED)
            }
        };
        let accounts = crate::access::Accounts::new(store.clone(), totp_key, options.accounts);
        let dev_mode = options.egress.dev_mode;
        let egress = Egress::new(
            options.egress,
            options.resolver,
            options.transport,
            key,
            detectors,
        );
        let kv = Arc::new(crate::capability::kv::KvService::new(
            store.clone(),
            options.kv,
        ));
        let capabilities = crate::capability::Services::new(store.clone(), kv, Arc::new(egress));
        Ok(Airlock {
            data,
            store,
            runtime,
            services,
            capabilities,
            loaded: Mutex::new(HashMap::new()),
            monitor,
            metrics_token: options.metrics_token,
            checkpoints,
            admission,
            accounts,
            installed: Mutex::new(None),
            review_interval_days: options.review_interval_days.max(1),
            lifecycle: lifecycle::Policy {
                auto_apply_reductions: options.auto_apply_reductions,
                dev_mode,
                vendor_review_days: options.vendor_review_days.max(1),
            },
            recent_logs: Default::default(),
            scheduler: Default::default(),
            follower,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// Takes the right to append to the audit log for this process (bringing the log up
    /// to date with what an earlier process acknowledged), waiting up to `wait` while
    /// another process holds it. The service claims it at start; readers never do.
    pub fn claim_audit_log(&self, wait: std::time::Duration) -> AppResult<()> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match self.store.claim() {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && std::time::Instant::now() < deadline => {
                    tracing::warn!(error = %e, "waiting for the audit log");
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The bytes and keys an installation's kv store holds (what its quota counts).
    pub fn kv_usage(&self, installation: &str) -> AppResult<(u64, u64)> {
        use crate::store::KvStore;
        Ok(self.store.kv_usage(installation)?)
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The activity monitor: counters, alerts, exports and reviews.
    pub fn monitor(&self) -> &crate::monitor::Monitor {
        &self.monitor
    }

    /// The master key (for its fingerprint and source; [`keys`] rotates it).
    pub fn master_key(&self) -> &MasterKey {
        self.capabilities.egress.key()
    }

    /// User accounts, sign-in, sessions and tokens.
    pub fn accounts(&self) -> &crate::access::Accounts {
        &self.accounts
    }

    /// The token that may read `GET /metrics` besides the admin token, if configured.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_deref()
    }

    /// The services the broker uses for every invocation.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The services capabilities perform calls with.
    pub fn capabilities(&self) -> &crate::capability::Services {
        &self.capabilities
    }

    /// Installs a plugin from its manifest text and component bytes, unsigned and
    /// unaudited: for `airlock dev` and tests. Admins install through
    /// [`Admin::install_bundle`], which checks the vendor's signature, records the
    /// install, and turns a new version of an installed plugin into a pending upgrade.
    ///
    /// The component must import only Airlock's interfaces. The installation is granted
    /// nothing; an id already installed is refused.
    pub fn install(
        &self,
        manifest_file: &str,
        manifest_text: &str,
        component: &[u8],
        id: Option<&str>,
    ) -> AppResult<Installation> {
        let manifest = Manifest::parse(manifest_file, manifest_text)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let id = id.unwrap_or(&manifest.name).to_string();
        if !crate::model::valid_id(&id) {
            return Err(AppError::Invalid(
                "installation ids are 1-128 of [A-Za-z0-9._:-]".into(),
            ));
        }
        if self.store.installation(&id)?.is_some() {
            return Err(AppError::Conflict(format!(
                "`{id}` is installed already; a new version goes through `airlock plugin install <bundle>` as a pending upgrade"
            )));
        }
        let loaded = self
            .runtime
            .load(component)
            .map_err(|e| AppError::Invalid(format!("component rejected: {e:#}")))?;
        let sha = self.data.put_component(component)?;
        let installation =
            Installation::new(id, manifest, sha.clone(), crate::audit::now_rfc3339());
        self.store.put_installation(&installation)?;
        self.cache_loaded(sha, loaded);
        Ok(installation)
    }

    fn cache_loaded(&self, sha: String, plugin: LoadedPlugin) {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha, plugin);
    }

    /// One installation, or `NotFound`.
    pub fn installation(&self, id: &str) -> AppResult<Installation> {
        self.store
            .installation(id)?
            .ok_or_else(|| not_installed(id))
    }

    /// All installations.
    pub fn installations(&self) -> AppResult<Vec<Installation>> {
        Ok(self.store.installations()?)
    }

    /// The enabled installations subscribed to an event kind, from a cache that is
    /// refreshed whenever the store's installations change (in this process or another).
    pub fn targets(&self, kind: crate::manifest::EventKind) -> AppResult<Vec<Arc<Installation>>> {
        Ok(self
            .installed()?
            .iter()
            .filter(|i| i.subscribes_to(kind))
            .cloned()
            .collect())
    }

    /// Every installation as the store has it now, read again only when another change
    /// happened (by this process or another). A re-read also brings the kill switch in
    /// line with the store, so a kill from the command line reaches a serving host.
    fn installed(&self) -> AppResult<Arc<[Arc<Installation>]>> {
        let version = self.store.installations_version()?;
        let mut cached = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((v, all)) = cached.as_ref()
            && *v == version
        {
            return Ok(all.clone());
        }
        let all: Arc<[Arc<Installation>]> = self
            .store
            .installations()?
            .into_iter()
            .map(Arc::new)
            .collect();
        let killed = all
            .iter()
            .filter(|i| i.killed.is_some())
            .map(|i| i.id.clone());
        self.runtime.kill_switch().replace(killed.collect());
        *cached = Some((version, all.clone()));
        Ok(all)
    }

    /// Events admitted at once, and the worker pool that runs them.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Replaces an installation's grants (each must be declared).
    pub fn set_grants(&self, id: &str, grants: Grants) -> AppResult<Installation> {
        self.update(id, |inst| {
            inst.set_grants(grants.clone()).map_err(AppError::Invalid)
        })
    }

    /// Grants `add` and revokes `remove` (a revocation wins), keeping every other grant,
    /// in one atomic change.
    pub fn change_grants(
        &self,
        id: &str,
        add: &Grants,
        remove: &Grants,
    ) -> AppResult<Installation> {
        self.update(id, |inst| {
            let grants = inst.grants.changed(add, remove);
            inst.set_grants(grants).map_err(AppError::Invalid)
        })
    }

    /// Replaces an installation's settings after validating them against its schema.
    ///
    /// Secret settings (`writeOnly = true` in the schema) are sealed with the master key
    /// and kept apart from the plain settings, so neither the API nor the plugin can read
    /// them back. A secret left out keeps its current value; `null` removes it.
    pub fn set_settings(&self, id: &str, settings: serde_json::Value) -> AppResult<Installation> {
        self.update(id, |inst| self.apply_settings(inst, settings.clone()))
    }

    /// Changes one installation atomically ([`InstallationStore::update_installation`]):
    /// concurrent admin changes to one installation never undo one another. `change`
    /// fails to leave it unchanged.
    fn update(
        &self,
        id: &str,
        change: impl FnMut(&mut Installation) -> AppResult<()>,
    ) -> AppResult<Installation> {
        Ok(self.update_tracked(id, change)?.1)
    }

    /// [`Airlock::update`], returning the installation before and after the change.
    fn update_tracked(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Installation) -> AppResult<()>,
    ) -> AppResult<(Installation, Installation)> {
        let mut failed = None;
        let mut before = None;
        let updated = self.store.update_installation(id, &mut |inst| {
            before = Some(inst.clone());
            match change(inst) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        match (before, updated) {
            (Some(before), Some(after)) => Ok((before, after)),
            _ => Err(not_installed(id)),
        }
    }

    /// Seals the secret settings and validates the rest against the schema, then sets
    /// both on `inst`.
    fn apply_settings(
        &self,
        inst: &mut Installation,
        settings: serde_json::Value,
    ) -> AppResult<()> {
        let secret_names = inst.manifest.secret_settings();
        let mut plain = settings;
        let mut secrets = inst.secrets.clone();
        if let Some(map) = plain.as_object_mut() {
            for name in &secret_names {
                match map.remove(name) {
                    Some(serde_json::Value::Null) => {
                        secrets.remove(name);
                    }
                    Some(serde_json::Value::String(value)) => {
                        let sealed = self
                            .capabilities
                            .egress
                            .key()
                            .seal(&inst.id, name, &value)?;
                        secrets.insert(name.clone(), sealed);
                    }
                    Some(_) => {
                        return Err(AppError::Invalid(format!(
                            "settings rejected: settings.{name} is a secret and must be a string"
                        )));
                    }
                    None => {}
                }
            }
        }
        let candidate = Installation {
            secrets,
            ..inst.clone()
        };
        self.validate_with_secrets(&candidate, &plain)
            .map_err(|e| AppError::Invalid(format!("settings rejected: {e}")))?;
        inst.settings = plain;
        inst.secrets = candidate.secrets;
        Ok(())
    }

    /// Validates plain settings together with the installation's secrets (opened only
    /// for validation; errors name settings, never values).
    fn validate_with_secrets(
        &self,
        inst: &Installation,
        plain: &serde_json::Value,
    ) -> Result<(), String> {
        let mut merged = plain.clone();
        if let Some(map) = merged.as_object_mut() {
            for (name, sealed) in &inst.secrets {
                let value = self
                    .capabilities
                    .egress
                    .key()
                    .open(&inst.id, name, sealed)
                    .map_err(|e| e.to_string())?;
                map.insert(name.clone(), serde_json::Value::String(value));
            }
        }
        inst.manifest.validate_settings(&merged)
    }

    /// Enables or disables an installation.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> AppResult<Installation> {
        self.update(id, |inst| {
            inst.enabled = enabled;
            Ok(())
        })
    }

    /// Imports a helpdesk data set; returns how many records were stored.
    pub fn import(&self, dataset: &Dataset) -> AppResult<usize> {
        let records = dataset
            .records()
            .map_err(|e| AppError::Invalid(format!("bad data set: {e}")))?;
        if let Some((kind, id, _)) = records
            .iter()
            .find(|(_, id, _)| !crate::model::valid_id(id))
        {
            return Err(AppError::Invalid(format!(
                "{kind} #{} has an invalid id: ids are 1-128 of [A-Za-z0-9._:-]",
                records.iter().position(|(_, i, _)| i == id).unwrap_or(0)
            )));
        }
        self.store.put_many(&records)?;
        Ok(records.len())
    }

    /// The compiled plugin of an installation, loading it on first use.
    pub fn loaded_plugin(&self, inst: &Installation) -> AppResult<LoadedPlugin> {
        if let Some(p) = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&inst.component_sha256)
        {
            return Ok(p.clone());
        }
        let bytes = self.data.component(&inst.component_sha256)?;
        let plugin = self.runtime.load(&bytes)?;
        self.cache_loaded(inst.component_sha256.clone(), plugin.clone());
        Ok(plugin)
    }

    /// Starts a broker invocation for an installation and event kind.
    pub fn invocation(&self, inst: impl Into<Arc<Installation>>, event: &str) -> Invocation {
        Invocation::new(inst.into(), event, self.services.clone())
    }

    /// How many records of each kind the store holds.
    pub fn counts(&self) -> AppResult<serde_json::Value> {
        let mut out = serde_json::Map::new();
        for kind in [Kind::Organization, Kind::User, Kind::Ticket, Kind::Comment] {
            out.insert(kind.table().into(), self.store.count(kind)?.into());
        }
        Ok(out.into())
    }
}

fn not_installed(id: &str) -> AppError {
    AppError::NotFound(format!(
        "no installation `{id}`; `airlock plugin list` shows them"
    ))
}
