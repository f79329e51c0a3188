//! The application: the data directory, store and runtime composed, with the
//! operations both the CLI and the HTTP API use.

use crate::audit::{AuditFilter, AuditRecord, ChainError, ChainVerifier};
use crate::blobs::DataDir;
use crate::broker::{Invocation, PassThrough, Redaction, Services};
use crate::installation::{Grants, Installation};
use crate::manifest::Manifest;
use crate::model::{Dataset, Kind};
use crate::runtime::{LoadedPlugin, Runtime, RuntimeLimits};
use crate::store::{AuditStore, Durability, HelpdeskStore, InstallationStore, SqliteStore, Store};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Errors of application operations, sorted by whose fault they are.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such installation (or record).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// Something failed inside the host.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Results of application operations.
pub type AppResult<T> = Result<T, AppError>;

/// How to open the service.
pub struct Options {
    /// Admin limits for the sandbox.
    pub limits: RuntimeLimits,
    /// The broker's redaction step.
    pub redaction: Arc<dyn Redaction>,
    /// How durable each audit commit is.
    pub durability: Durability,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: RuntimeLimits::default(),
            redaction: Arc::new(PassThrough),
            durability: Durability::Full,
        }
    }
}

/// The composed service.
pub struct Airlock {
    data: DataDir,
    store: Arc<SqliteStore>,
    runtime: Runtime,
    services: Services,
    loaded: Mutex<HashMap<String, LoadedPlugin>>,
}

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
        let runtime = Runtime::new(options.limits, Some(data.cache_dir()?))?;
        let services = Services {
            store: store.clone(),
            redaction: options.redaction,
        };
        Ok(Airlock {
            data,
            store,
            runtime,
            services,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The services invocations use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Installs (or upgrades) a plugin from its manifest text and component bytes.
    ///
    /// The component must import only Airlock's interfaces. A new installation is
    /// granted nothing; an upgrade keeps the grants the new manifest still declares.
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
        let loaded = self
            .runtime
            .load(component)
            .map_err(|e| AppError::Invalid(format!("component rejected: {e:#}")))?;
        let sha = self.data.put_component(component)?;
        let now = crate::audit::now_rfc3339();
        let installation = match self.store.installation(&id)? {
            Some(mut existing) => {
                existing.manifest = manifest;
                existing.component_sha256 = sha.clone();
                existing.installed_at = now;
                existing.retain_declared_grants();
                if existing
                    .manifest
                    .validate_settings(&existing.settings)
                    .is_err()
                {
                    existing.settings = serde_json::json!({});
                }
                existing
            }
            None => Installation::new(id, manifest, sha.clone(), now),
        };
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
        self.store.installation(id)?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no installation `{id}`; `airlock plugin list` shows them"
            ))
        })
    }

    /// All installations.
    pub fn installations(&self) -> AppResult<Vec<Installation>> {
        Ok(self.store.installations()?)
    }

    /// Replaces an installation's grants (each must be declared).
    pub fn set_grants(&self, id: &str, grants: Grants) -> AppResult<Installation> {
        let mut inst = self.installation(id)?;
        inst.set_grants(grants).map_err(AppError::Invalid)?;
        self.store.put_installation(&inst)?;
        Ok(inst)
    }

    /// Replaces an installation's settings after validating them against its schema.
    pub fn set_settings(&self, id: &str, settings: serde_json::Value) -> AppResult<Installation> {
        let mut inst = self.installation(id)?;
        inst.manifest
            .validate_settings(&settings)
            .map_err(|e| AppError::Invalid(format!("settings rejected: {e}")))?;
        inst.settings = settings;
        self.store.put_installation(&inst)?;
        Ok(inst)
    }

    /// Enables or disables an installation.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> AppResult<Installation> {
        let mut inst = self.installation(id)?;
        inst.enabled = enabled;
        self.store.put_installation(&inst)?;
        Ok(inst)
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
    pub fn invocation(&self, inst: Installation, event: &str) -> Invocation {
        Invocation::new(Arc::new(inst), event, self.services.clone())
    }

    /// Reads audit records.
    pub fn audit(&self, filter: &AuditFilter) -> AppResult<Vec<AuditRecord>> {
        Ok(self.store.query(filter)?)
    }

    /// Recomputes the audit chain; returns how many records verified.
    pub fn verify_audit(&self) -> anyhow::Result<Result<u64, ChainError>> {
        verify_store(self.store.as_ref())
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

/// Recomputes the audit chain of any store.
pub fn verify_store(store: &dyn Store) -> anyhow::Result<Result<u64, ChainError>> {
    let mut verifier = ChainVerifier::default();
    let mut failure = None;
    store.scan(&mut |record| {
        if failure.is_none() {
            let checked = match record {
                Ok(record) => verifier.check(&record),
                Err(bad) => Err(verifier.unreadable(bad.seq, bad.problem)),
            };
            failure = checked.err();
        }
        Ok(())
    })?;
    Ok(match failure {
        Some(e) => Err(e),
        None => Ok(verifier.count()),
    })
}
