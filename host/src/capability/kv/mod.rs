//! `kv.*`: each installation's own key-value store, behind the broker.
//!
//! What it guarantees:
//! - **Granted or denied.** Every call is `denied` unless the manifest declares
//!   `[storage] kv = true` and the admin granted `kv`.
//! - **One namespace per installation.** Entries are found by a keyed hash of the
//!   installation id and the key name; nothing a plugin passes names another
//!   installation's entry.
//! - **Quotas.** Keys are 1-[`MAX_KEY_BYTES`] bytes, values at most [`MAX_VALUE_BYTES`];
//!   the installation's bytes and keys are capped (what the manifest asks, capped by the
//!   admin's [`KvLimits`]); an entry costs its key, its value and the provenance stored
//!   with it. A write past them is `limit`, checked in the store's write
//!   transaction, and nothing is written.
//! - **Sealed at rest.** Key names and values are sealed with AES-256-GCM under the
//!   installation's own data key (wrapped by the master key), the installation and the
//!   key's hash bound as associated data: an entry copied to another row or
//!   installation does not open.
//! - **Provenance.** A value carries the flows the writing invocation had read, and the
//!   data subjects whose records it read. Reading it back inherits both, so data
//!   laundered through kv is governed on egress like the data it came from, and
//!   data-subject requests find it.
//! - **Audited** like every call: the key as a keyed hash (`key`), never in clear, the
//!   value's size (`bytes`) and the detector classes found in it (`classes`).

use super::wit::airlock::plugin::kv as wit_kv;
use super::{CallFailure, CallKind, CallName, CallState};
use crate::broker::{
    Brokered, CallContext, CallError, CallSpec, Capability, FieldPlan, Need, Redaction, Report,
};
use crate::egress::secrets::MasterKey;
use crate::installation::Installation;
use crate::model::Flow;
use crate::store::{KvChange, KvEntry, KvQuota, KvStore};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

mod sealer;
use sealer::{NAME_PART, Sealer, VALUE_PART};

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one `list-keys` returns.
pub const MAX_PAGE: u32 = 1_000;
/// What an installation gets when its manifest asks for no quota.
pub const DEFAULT_QUOTA: KvQuota = KvQuota {
    max_bytes: 1 << 20,
    max_keys: 1_000,
};

const GET: &str = "kv.get";
const SET: &str = "kv.set";
const DELETE: &str = "kv.delete";
const EXISTS: &str = "kv.exists";
const LIST: &str = "kv.list-keys";
const INCREMENT: &str = "kv.increment";
const CAS: &str = "kv.compare-and-swap";

/// The kv capability's calls.
pub const CALLS: &[CallName] = &[
    CallName::new(GET, CallKind::Other, None),
    CallName::new(SET, CallKind::Other, None),
    CallName::new(DELETE, CallKind::Other, None),
    CallName::new(EXISTS, CallKind::Other, None),
    CallName::new(LIST, CallKind::Other, None),
    CallName::new(INCREMENT, CallKind::Other, None),
    CallName::new(CAS, CallKind::Other, None),
];

/// The admin's caps on every installation's quota.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    /// Bytes of keys and values per installation.
    pub max_bytes: u64,
    /// Keys per installation.
    pub max_keys: u64,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_bytes: 64 << 20,
            max_keys: 100_000,
        }
    }
}

/// The kv service: the store, the admin's caps, and the installations' data keys.
pub struct KvService {
    store: Arc<dyn KvStore>,
    limits: KvLimits,
    data_keys: Mutex<HashMap<String, [u8; 32]>>,
}

impl KvService {
    /// The service over a store.
    pub fn new(store: Arc<dyn KvStore>, limits: KvLimits) -> KvService {
        KvService {
            store,
            limits,
            data_keys: Mutex::new(HashMap::new()),
        }
    }

    /// The store it keeps entries in.
    pub fn store(&self) -> &dyn KvStore {
        self.store.as_ref()
    }

    /// The quota of an installation: what its manifest asks, capped by the admin.
    pub fn quota(&self, installation: &Installation) -> KvQuota {
        let storage = &installation.manifest.storage;
        KvQuota {
            max_bytes: storage
                .max_bytes
                .unwrap_or(DEFAULT_QUOTA.max_bytes)
                .min(self.limits.max_bytes),
            max_keys: storage
                .max_keys
                .unwrap_or(DEFAULT_QUOTA.max_keys)
                .min(self.limits.max_keys),
        }
    }

    /// The installation's data key: unwrapped from the store, or made and stored.
    pub fn data_key(&self, master: &MasterKey, installation: &str) -> Result<[u8; 32], CallError> {
        let mut cache = self.data_keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = cache.get(installation) {
            return Ok(*key);
        }
        let key = unwrap_data_key(self.store.as_ref(), master, installation).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "cannot open an installation's kv data key");
            CallError::Unavailable("kv storage cannot be opened right now".into())
        })?;
        cache.insert(installation.to_string(), key);
        Ok(key)
    }

    /// An entry's key name and value in clear, for a data-subject export.
    pub fn open_entry(
        &self,
        master: &MasterKey,
        installation: &str,
        entry: &KvEntry,
    ) -> Result<(String, Vec<u8>), CallError> {
        let sealer = Sealer::new(self.data_key(master, installation)?, installation);
        let name = sealer.open(&entry.key_hash, NAME_PART, &entry.key_sealed)?;
        let value = sealer.open(&entry.key_hash, VALUE_PART, &entry.value_sealed)?;
        Ok((String::from_utf8_lossy(&name).into_owned(), value))
    }

    /// Deletes one entry (a data-subject erasure); true if it was there.
    pub fn erase_entry(&self, installation: &str, key_hash: &str) -> Result<bool, CallError> {
        let mut found = false;
        let unlimited = KvQuota {
            max_bytes: u64::MAX,
            max_keys: u64::MAX,
        };
        self.store
            .kv_update(installation, key_hash, unlimited, &mut |old| {
                found = old.is_some();
                KvChange::Delete
            })
            .map_err(store_failed)?;
        Ok(found)
    }
}

/// The data key of `owner` (an installation, or the helpdesk's `#helpdesk`): unwrapped
/// from the store with `master`, or made, wrapped and stored on first use (a concurrent
/// first use keeps the one stored first).
pub fn unwrap_data_key(
    store: &dyn KvStore,
    master: &MasterKey,
    owner: &str,
) -> anyhow::Result<[u8; 32]> {
    unwrap_data_key_or(store, master, owner, &mut rand::random)
}

/// [`unwrap_data_key`], with `initial` choosing the key made on first use.
pub fn unwrap_data_key_or(
    store: &dyn KvStore,
    master: &MasterKey,
    owner: &str,
    initial: &mut dyn FnMut() -> [u8; 32],
) -> anyhow::Result<[u8; 32]> {
    let wrapped = match store.kv_data_key(owner)? {
        Some(wrapped) => wrapped,
        None => store.kv_init_data_key(owner, &mut || {
            master
                .seal(owner, DATA_KEY_NAME, &hex::encode(initial()))
                .map_err(|e| format!("{e:#}"))
        })?,
    };
    hex::decode(master.open(owner, DATA_KEY_NAME, &wrapped)?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("the data key of {owner} is malformed"))
}

/// The name the data key is wrapped under (its associated data with the installation).
pub const DATA_KEY_NAME: &str = "kv-data-key";

fn store_failed(e: crate::store::StoreError) -> CallError {
    tracing::error!(error = %e, "the kv store failed");
    CallError::Unavailable("the kv store failed; try again".into())
}

fn unavailable(what: &str) -> CallError {
    tracing::error!(what, "cannot open kv data");
    CallError::Unavailable("kv storage cannot be opened right now".into())
}

/// One kv request.
#[derive(Debug, Clone)]
pub enum KvRequest {
    /// `get`.
    Get(String),
    /// `set`.
    Set(String, Vec<u8>),
    /// `delete`.
    Delete(String),
    /// `exists`.
    Exists(String),
    /// `list-keys`.
    List(Option<String>, u32),
    /// `increment`.
    Increment(String, i64),
    /// `compare-and-swap`.
    Cas(String, Option<Vec<u8>>, Vec<u8>),
}

impl KvRequest {
    fn call(&self) -> &'static str {
        match self {
            KvRequest::Get(_) => GET,
            KvRequest::Set(..) => SET,
            KvRequest::Delete(_) => DELETE,
            KvRequest::Exists(_) => EXISTS,
            KvRequest::List(..) => LIST,
            KvRequest::Increment(..) => INCREMENT,
            KvRequest::Cas(..) => CAS,
        }
    }

    fn key(&self) -> Option<&str> {
        match self {
            KvRequest::Get(k)
            | KvRequest::Set(k, _)
            | KvRequest::Delete(k)
            | KvRequest::Exists(k)
            | KvRequest::Increment(k, _)
            | KvRequest::Cas(k, ..) => Some(k),
            KvRequest::List(..) => None,
        }
    }

    fn changes(&self) -> bool {
        matches!(
            self,
            KvRequest::Set(..)
                | KvRequest::Delete(_)
                | KvRequest::Increment(..)
                | KvRequest::Cas(..)
        )
    }
}

/// What a kv call returns, with the provenance of what it read.
#[derive(Debug, Default)]
pub struct KvOutput {
    /// A value read (`get`), or none.
    pub value: Option<Vec<u8>>,
    /// `exists`, `compare-and-swap`.
    pub flag: bool,
    /// `increment`.
    pub number: i64,
    /// `list-keys`: the keys and the next cursor.
    pub keys: Vec<String>,
    /// The next `list-keys` cursor.
    pub cursor: Option<String>,
    flows: Vec<Flow>,
    subjects: BTreeSet<String>,
}

impl Brokered for KvOutput {
    // The plugin's own data, not helpdesk fields: nothing to project or mask. What the
    // value was made from travels on through `flows` and `subjects`.
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}
    fn redact(&mut self, _: &dyn Redaction, _: &Installation, _: &mut Report) {}
    fn flows(&self, out: &mut Vec<(String, Flow)>) {
        out.extend(self.flows.iter().map(|f| ("kv".to_string(), f.clone())));
    }
    fn subjects(&self, out: &mut Vec<String>) {
        out.extend(self.subjects.iter().cloned());
    }
}

/// The capability for one call: the service and the master key its data keys are
/// wrapped with.
pub struct Kv<'a> {
    service: &'a KvService,
    master: &'a MasterKey,
}

impl<'a> Kv<'a> {
    /// The capability over `service`, with data keys wrapped by `master`.
    pub fn new(service: &'a KvService, master: &'a MasterKey) -> Kv<'a> {
        Kv { service, master }
    }
}

impl Capability for Kv<'_> {
    type Request = KvRequest;
    type Output = KvOutput;
    type Approval = ();

    fn describe(&self, request: &KvRequest) -> Result<CallSpec, CallError> {
        if let Some(key) = request.key()
            && (key.is_empty() || key.len() > MAX_KEY_BYTES)
        {
            return Err(CallError::Invalid(format!(
                "a kv key is 1-{MAX_KEY_BYTES} bytes"
            )));
        }
        let value = match request {
            KvRequest::Set(_, v) | KvRequest::Cas(_, _, v) => Some(v),
            _ => None,
        };
        if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(CallError::Limit(format!(
                "a kv value is at most {MAX_VALUE_BYTES} bytes"
            )));
        }
        let spec = CallSpec::new(request.call(), "", Need::Nothing);
        Ok(match request.changes() {
            true => spec.with_effect(),
            false => spec,
        })
    }

    fn authorize(&self, ctx: &CallContext, request: &KvRequest) -> Result<(), CallError> {
        // Facts first: the record holds them whether or not the call is allowed.
        if let Some(key) = request.key() {
            ctx.note("key", ctx.opaque(&format!("kv:{key}")));
        }
        if let KvRequest::Set(_, v) | KvRequest::Cas(_, _, v) = request {
            ctx.note("bytes", v.len());
            let classes = ctx.classes_in(&String::from_utf8_lossy(v));
            if !classes.is_empty() {
                ctx.note("classes", classes.into_iter().collect::<Vec<_>>().join(","));
            }
        }
        let inst = &ctx.installation;
        match (inst.manifest.storage.kv, inst.grants.kv) {
            (true, true) => Ok(()),
            (false, _) => Err(CallError::Denied(
                "kv storage is not declared in plugin.toml: add [storage] kv = true".into(),
            )),
            (true, false) => Err(CallError::Denied(
                "kv storage is not granted to this installation".into(),
            )),
        }
    }

    fn perform(
        &self,
        ctx: &CallContext,
        request: KvRequest,
        (): (),
        _: &FieldPlan,
    ) -> Result<KvOutput, CallError> {
        let inst = &ctx.installation.id;
        let sealer = Sealer::new(self.service.data_key(self.master, inst)?, inst);
        let store = self.service.store();
        match request {
            KvRequest::List(cursor, limit) => {
                let limit = limit.clamp(1, MAX_PAGE);
                let page = store
                    .kv_page(inst, cursor.as_deref(), limit)
                    .map_err(store_failed)?;
                let mut out = KvOutput::default();
                for e in &page {
                    let name = sealer.open(&e.key_hash, NAME_PART, &e.key_sealed)?;
                    out.keys
                        .push(String::from_utf8(name).map_err(|_| unavailable("a key name"))?);
                }
                if page.len() == limit as usize {
                    out.cursor = page.last().map(|e| e.key_hash.clone());
                }
                Ok(out)
            }
            KvRequest::Get(key) | KvRequest::Exists(key) => {
                let hash = sealer.hash(&key);
                let found = store.kv_get(inst, &hash).map_err(store_failed)?;
                let mut out = KvOutput::default();
                if let Some(e) = found {
                    out.flag = true;
                    out.value = Some(sealer.open(&hash, VALUE_PART, &e.value_sealed)?);
                    out.flows = e.flows;
                    out.subjects = e.subjects;
                }
                ctx.note("found", out.flag);
                Ok(out)
            }
            other => self.change(ctx, &sealer, other),
        }
    }
}

impl Kv<'_> {
    /// Performs a request that changes an entry, atomically with the quota check.
    fn change(
        &self,
        ctx: &CallContext,
        sealer: &Sealer,
        request: KvRequest,
    ) -> Result<KvOutput, CallError> {
        let inst = &ctx.installation.id;
        let key = request.key().unwrap_or_default().to_string();
        let hash = sealer.hash(&key);
        let (flows, subjects) = ctx.provenance();
        let mut out = KvOutput::default();
        let mut failed = None;
        // What an entry costs the quota: its key and value, and the provenance stored
        // with it, so a tiny value cannot make the store keep large provenance for free.
        let provenance = serde_json::to_string(flows).map_or(0, |t| t.len())
            + subjects.iter().map(|s| s.len() + 3).sum::<usize>();
        let entry = |value: &[u8]| -> Result<KvEntry, CallError> {
            Ok(KvEntry {
                key_hash: hash.clone(),
                key_sealed: sealer.seal(&hash, NAME_PART, key.as_bytes())?,
                value_sealed: sealer.seal(&hash, VALUE_PART, value)?,
                size: (key.len() + value.len() + provenance) as u64,
                written_at: crate::audit::now_rfc3339(),
                flows: flows.to_vec(),
                subjects: subjects.iter().cloned().collect(),
            })
        };
        let quota = self.service.quota(&ctx.installation);
        let mut decide = |old: Option<&KvEntry>| -> KvChange {
            let result = (|| -> Result<KvChange, CallError> {
                let current = old
                    .map(|e| sealer.open(&hash, VALUE_PART, &e.value_sealed))
                    .transpose()?;
                Ok(match &request {
                    KvRequest::Set(_, v) => KvChange::Put(entry(v)?),
                    KvRequest::Delete(_) => KvChange::Delete,
                    KvRequest::Increment(_, delta) => {
                        let now = match &current {
                            None => 0,
                            Some(v) => std::str::from_utf8(v)
                                .ok()
                                .and_then(|t| t.trim().parse::<i64>().ok())
                                .ok_or_else(|| {
                                    CallError::Invalid(
                                        "the key's value is not a decimal integer".into(),
                                    )
                                })?,
                        };
                        out.number = now.checked_add(*delta).ok_or_else(|| {
                            CallError::Invalid("the increment overflows a 64-bit integer".into())
                        })?;
                        KvChange::Put(entry(out.number.to_string().as_bytes())?)
                    }
                    KvRequest::Cas(_, expected, v) => {
                        out.flag = current.as_deref() == expected.as_deref();
                        match out.flag {
                            true => KvChange::Put(entry(v)?),
                            false => KvChange::Keep,
                        }
                    }
                    _ => KvChange::Keep,
                })
            })();
            result.unwrap_or_else(|e| {
                failed = Some(e);
                KvChange::Keep
            })
        };
        let within = self
            .service
            .store()
            .kv_update(inst, &hash, quota, &mut decide)
            .map_err(store_failed)?;
        if let Some(e) = failed {
            return Err(e);
        }
        if !within {
            return Err(CallError::Limit(format!(
                "the kv quota ({} bytes, {} keys) would be exceeded; nothing was written",
                quota.max_bytes, quota.max_keys
            )));
        }
        Ok(out)
    }
}

/// The kv interface as a plugin sees it: each call is one brokered call.
impl wit_kv::Host for CallState<'_> {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CallFailure> {
        self.kv(KvRequest::Get(key)).map(|o| o.value)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), CallFailure> {
        self.kv(KvRequest::Set(key, value)).map(|_| ())
    }

    fn delete(&mut self, key: String) -> Result<(), CallFailure> {
        self.kv(KvRequest::Delete(key)).map(|_| ())
    }

    fn exists(&mut self, key: String) -> Result<bool, CallFailure> {
        self.kv(KvRequest::Exists(key)).map(|o| o.flag)
    }

    fn list_keys(
        &mut self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<wit_kv::KeyPage, CallFailure> {
        self.kv(KvRequest::List(cursor, limit))
            .map(|o| wit_kv::KeyPage {
                keys: o.keys,
                cursor: o.cursor,
            })
    }

    fn increment(&mut self, key: String, delta: i64) -> Result<i64, CallFailure> {
        self.kv(KvRequest::Increment(key, delta)).map(|o| o.number)
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, CallFailure> {
        self.kv(KvRequest::Cas(key, expected, value))
            .map(|o| o.flag)
    }
}

impl CallState<'_> {
    fn kv(&mut self, request: KvRequest) -> Result<KvOutput, CallFailure> {
        let services = self.services;
        let kv = Kv::new(&services.kv, services.egress.key());
        let result = self.invocation.call(&kv, request);
        self.settle(result)
    }
}
