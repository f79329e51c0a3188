//! The sandbox: wasmtime with the component model, a pooling allocator, one
//! `InstancePre` per plugin version, a fresh instance per event, an epoch deadline and a
//! memory cap per invocation.
//!
//! A trap, timeout or memory overrun fails only its own invocation, with a recorded
//! [`FailureKind`].

// Deserializing a compiled component is unsafe: it trusts the bytes (see its SAFETY note).
#[allow(unsafe_code)]
mod cache;
mod host;
pub mod kill;

pub use crate::capability::wit::Plugin;
pub use host::{HostFault, HostState, MemoryCapReached};

use crate::broker::{Budget, Exhausted, Invocation};
use crate::capability::log::LogLine;
use crate::capability::wit::{self, PluginPre};
use crate::capability::{Services, convert};
use anyhow::{Context, bail};
use serde::Serialize;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, types::ComponentItem};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Instance slots decommitted together ([`PoolingAllocationConfig::decommit_batch_size`]).
const DECOMMIT_BATCH: usize = 16;
/// The audited call of an invocation's outcome record (`ok` or `<kind>: message`).
pub const OUTCOME_CALL: &str = "handler.handle";
/// The largest outcome summary a plugin may return, in bytes.
pub const MAX_SUMMARY_BYTES: usize = 4 * 1024;

/// Admin limits that cap what manifests ask for.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLimits {
    /// The longest deadline any plugin may ask for, in milliseconds.
    pub max_timeout_ms: u64,
    /// The largest memory cap any plugin may ask for, in MiB.
    pub max_memory_mib: u64,
    /// How many instances may run at once.
    pub max_concurrent_instances: u32,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            max_timeout_ms: 10_000,
            max_memory_mib: 128,
            max_concurrent_instances: 64,
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// It ran past its deadline.
    Timeout,
    /// It tried to grow memory past its cap.
    Memory,
    /// It overflowed its stack.
    Stack,
    /// It panicked.
    Panic,
    /// It trapped for another reason.
    Trap,
    /// It returned more than the host accepts.
    Limit,
    /// It returned an error of its own.
    PluginError,
    /// It broke the component ABI: returned or passed a malformed value (a string that
    /// is not UTF-8, an out-of-range discriminant, an out-of-bounds pointer).
    Abi,
    /// The host could not run it.
    Host,
    /// An admin killed the installation ([`kill::KillSwitch`]).
    Killed,
}

impl FailureKind {
    /// The kind's name as recorded in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Memory => "memory",
            FailureKind::Stack => "stack",
            FailureKind::Panic => "panic",
            FailureKind::Trap => "trap",
            FailureKind::Limit => "limit",
            FailureKind::PluginError => "plugin-error",
            FailureKind::Abi => "abi",
            FailureKind::Host => "host",
            FailureKind::Killed => "killed",
        }
    }
}

/// A failed invocation: what kind of failure, and a message without data values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The kind.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
}

/// What the plugin is asked to handle; the host pre-fetches the records it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventInput {
    /// A ticket was created.
    TicketCreated {
        /// The ticket.
        ticket_id: String,
    },
    /// A ticket was updated.
    TicketUpdated {
        /// The ticket.
        ticket_id: String,
    },
    /// A comment was added.
    CommentAdded {
        /// The ticket.
        ticket_id: String,
        /// The comment.
        comment_id: String,
    },
    /// An agent invoked a custom action.
    Action {
        /// The ticket.
        ticket_id: String,
        /// The action's name.
        name: String,
        /// Its JSON payload.
        payload: String,
    },
    /// A scheduled run; no ticket.
    Schedule,
}

impl EventInput {
    /// The event's kind.
    pub fn kind(&self) -> crate::manifest::EventKind {
        use crate::manifest::EventKind::*;
        match self {
            EventInput::TicketCreated { .. } => TicketCreated,
            EventInput::TicketUpdated { .. } => TicketUpdated,
            EventInput::CommentAdded { .. } => CommentAdded,
            EventInput::Action { .. } => Action,
            EventInput::Schedule => Schedule,
        }
    }
}

/// The result of one invocation.
pub struct InvocationResult {
    /// The plugin's summary, or why it failed.
    pub outcome: Result<String, Failure>,
    /// What the plugin logged (redacted).
    pub logs: Vec<LogLine>,
    /// Wall time spent in the sandbox.
    pub elapsed: Duration,
    /// The broker state, holding the invocation's audit entries.
    pub invocation: Invocation,
}

/// A compiled plugin version, ready to instantiate.
#[derive(Clone)]
pub struct LoadedPlugin {
    pre: PluginPre<HostState>,
    /// SHA-256 (hex) of the component bytes.
    pub sha256: String,
    /// The interfaces the component imports (all of them Airlock's).
    pub imports: Vec<String>,
}

/// The engine, linker and compiled-artifact cache shared by all plugins.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: RuntimeLimits,
    cache: Option<cache::ArtifactCache>,
    kills: std::sync::Arc<kill::KillSwitch>,
}

impl Runtime {
    /// Creates the runtime. `cache_dir`, when given, keeps compiled artifacts on disk.
    pub fn new(
        limits: RuntimeLimits,
        cache_dir: Option<cap_std::fs::Dir>,
    ) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        let n = limits.max_concurrent_instances;
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .max_memory_size((limits.max_memory_mib as usize) << 20)
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(16 << 10)
            // Slots are decommitted in batches: one `madvise` (and one round of TLB
            // shootdowns on the other cores) per batch instead of per instance.
            .decommit_batch_size(DECOMMIT_BATCH);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .max_wasm_stack(1 << 20)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("cannot create the wasmtime engine")?;
        start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        crate::capability::link(&mut linker)?;
        let cache = cache_dir.map(|dir| cache::ArtifactCache::new(dir, &engine));
        Ok(Runtime {
            engine,
            linker,
            limits,
            cache,
            kills: Default::default(),
        })
    }

    /// The kill switch every invocation of this runtime checks.
    pub fn kill_switch(&self) -> &kill::KillSwitch {
        &self.kills
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The admin limits.
    pub fn limits(&self) -> RuntimeLimits {
        self.limits
    }

    /// Compiles (or loads from cache) a component and checks it imports only Airlock's
    /// interfaces and exports the handler.
    pub fn load(&self, bytes: &[u8]) -> anyhow::Result<LoadedPlugin> {
        let sha256 = crate::blobs::sha256_hex(bytes);
        let component = match &self.cache {
            Some(cache) => cache.component(&self.engine, &sha256, bytes)?,
            None => Component::new(&self.engine, bytes)
                .map_err(anyhow::Error::from)
                .context("not a valid WebAssembly component")?,
        };
        check_world(&self.engine, &component)?;
        let imports = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("cannot link the component against Airlock's world")?;
        let pre = PluginPre::new(pre)
            .map_err(anyhow::Error::from)
            .context("the component does not match Airlock's world")?;
        Ok(LoadedPlugin {
            pre,
            sha256,
            imports,
        })
    }

    /// Runs one event in a fresh instance under the manifest's limits (capped by the
    /// admin's), and returns what happened. Never panics on guest misbehaviour.
    pub fn invoke(
        &self,
        plugin: &LoadedPlugin,
        mut invocation: Invocation,
        services: &Services,
        event: &EventInput,
    ) -> InvocationResult {
        let started = Instant::now();
        let manifest = &invocation.installation.manifest;
        let timeout_ms = manifest.timeout_ms().min(self.limits.max_timeout_ms);
        let memory_bytes = (manifest.memory_mib().min(self.limits.max_memory_mib) as usize) << 20;
        // Host calls count against the deadline too: each stops by it.
        invocation.set_deadline(started + Duration::from_millis(timeout_ms));
        let installation = invocation.installation.id.clone();
        let mut store = Store::new(
            &self.engine,
            HostState::new(invocation, services.clone(), memory_bytes),
        );
        store.limiter(|s| s.limiter());
        // One tick at a time: each tick checks the kill switch, and the last one is the
        // deadline.
        let mut ticks_left = timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        let kills = self.kills.clone();
        let id = installation.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if kills.is_killed(&id) {
                return Err(wasmtime::Error::new(kill::Killed));
            }
            ticks_left -= 1;
            Ok(match ticks_left {
                0 => wasmtime::UpdateDeadline::Interrupt,
                _ => wasmtime::UpdateDeadline::Continue(1),
            })
        });

        let result = (|| -> wasmtime::Result<Result<String, Failure>> {
            if self.kills.is_killed(&installation) {
                return Err(wasmtime::Error::new(kill::Killed));
            }
            let wit_event = store
                .data_mut()
                .prefetch(event)
                .map_err(|e| wasmtime::Error::new(HostFault(format!("{e:#}"))))?;
            let instance = plugin.pre.instantiate(&mut store).map_err(|e| {
                // A trap in the plugin's start code, or its memory, is the plugin's;
                // anything else (the instance pool) is the host's.
                if e.is::<Trap>() || e.is::<MemoryCapReached>() {
                    e
                } else {
                    wasmtime::Error::new(HostFault(format!("cannot instantiate the plugin: {e:#}")))
                }
            })?;
            let handled = instance
                .airlock_plugin_handler()
                .call_handle(&mut store, &wit_event)?;
            Ok(match handled {
                Ok(outcome) if outcome.summary.len() > MAX_SUMMARY_BYTES => Err(Failure {
                    kind: FailureKind::Limit,
                    message: format!(
                        "the outcome summary is {} bytes; at most {MAX_SUMMARY_BYTES} are accepted",
                        outcome.summary.len()
                    ),
                }),
                Ok(outcome) => Ok(outcome.summary),
                Err(e) => Err(Failure {
                    kind: FailureKind::PluginError,
                    message: convert::error_message(&e),
                }),
            })
        })();
        let elapsed = started.elapsed();
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => Err(classify(&error, store.data(), timeout_ms)),
        };
        let state = store.into_data();
        let (invocation, logs) = state.into_parts();
        let mut result = InvocationResult {
            outcome,
            logs,
            elapsed,
            invocation,
        };
        let (decision, reason) = match &result.outcome {
            Ok(_) => (crate::audit::Decision::Allow, "ok".to_string()),
            // The message may hold the plugin's text (its error, its panic message).
            Err(f) => (
                crate::audit::Decision::Deny,
                format!(
                    "{}: {}",
                    f.kind.as_str(),
                    result.invocation.sanitize(&f.message)
                ),
            ),
        };
        result
            .invocation
            .record_outcome(OUTCOME_CALL, decision, &reason);
        result
    }
}

/// The failure kind, from what the host knows: its own errors ([`HostFault`]), the
/// limiter ([`MemoryCapReached`]), the epoch (`Interrupt`) and the trap code. What the
/// plugin reported (a panic message) only names a panic the trap code confirms: a
/// plugin that reports a panic and then runs out of time or memory fails for time or
/// memory.
fn classify(error: &wasmtime::Error, state: &HostState, timeout_ms: u64) -> Failure {
    let fail = |kind, message: String| Failure { kind, message };
    if error.is::<MemoryCapReached>() {
        return fail(
            FailureKind::Memory,
            format!(
                "the plugin tried to grow memory past its cap of {} MiB",
                state.memory_cap() >> 20
            ),
        );
    }
    if error.is::<kill::Killed>() {
        return fail(FailureKind::Killed, kill::Killed.to_string());
    }
    if let Some(fault) = error.downcast_ref::<HostFault>() {
        return fail(FailureKind::Host, fault.0.clone());
    }
    if let Some(Exhausted(budget)) = error.downcast_ref::<Exhausted>() {
        let kind = match budget {
            Budget::Time => FailureKind::Timeout,
            Budget::Calls | Budget::AuditBytes => FailureKind::Limit,
        };
        return fail(
            kind,
            format!("the host ended the invocation: {}", budget.message()),
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => fail(
            FailureKind::Timeout,
            format!("the plugin ran past its {timeout_ms} ms deadline"),
        ),
        Some(Trap::StackOverflow) => {
            fail(FailureKind::Stack, "the plugin overflowed its stack".into())
        }
        Some(Trap::MemoryOutOfBounds) if deep_recursion(error) => fail(
            FailureKind::Stack,
            "the plugin overflowed its stack (its shadow stack in linear memory)".into(),
        ),
        Some(Trap::UnreachableCodeReached) if state.panic_message().is_some() => fail(
            FailureKind::Panic,
            format!(
                "the plugin panicked: {}",
                state.panic_message().unwrap_or_default()
            ),
        ),
        Some(trap) => fail(FailureKind::Trap, format!("the plugin trapped: {trap}")),
        None => fail(
            FailureKind::Abi,
            format!("the plugin broke the component ABI: {error}"),
        ),
    }
}

/// Rust on wasm32 keeps large locals on a shadow stack at the bottom of linear memory;
/// overflowing it faults out of bounds instead of raising a wasm stack overflow. The
/// tell-tale is a deep backtrace that repeats a short cycle of functions: one calling
/// itself, or a few calling each other (mutual recursion).
fn deep_recursion(error: &wasmtime::Error) -> bool {
    let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return false;
    };
    // The faulting frame may be a leaf (a memset) called by the recursion: skip it.
    let frames: Vec<_> = trace
        .frames()
        .iter()
        .skip(1)
        .map(|f| (f.func_index(), f.module().name().map(str::to_string)))
        .collect();
    const MIN_DEPTH: usize = 16;
    const MAX_CYCLE: usize = 8;
    if frames.len() < MIN_DEPTH {
        return false;
    }
    // The outermost frames are the handler's callers; look at the innermost ones.
    let inner = &frames[..MIN_DEPTH];
    (1..=MAX_CYCLE).any(|period| (period..MIN_DEPTH).all(|i| inner[i] == inner[i - period]))
}

fn check_world(engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let ty = component.component_type();
    let foreign: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !wit::allowed_imports().iter().any(|allowed| allowed == name))
        .collect();
    if !foreign.is_empty() {
        bail!(
            "the component imports {} outside Airlock's world: {}. Plugins may import only {}; build it against wit/airlock.wit with the Airlock SDK",
            if foreign.len() == 1 {
                "an interface"
            } else {
                "interfaces"
            },
            foreign.join(", "),
            wit::allowed_imports().join(", ")
        );
    }
    for required in wit::required_exports() {
        let exported = ty.exports(engine).any(|(name, item)| {
            name == required && matches!(item.ty, ComponentItem::ComponentInstance(_))
        });
        if !exported {
            bail!(
                "the component does not export {required}; plugins must export the handler (use airlock_sdk::export_plugin!)"
            );
        }
    }
    Ok(())
}

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("airlock-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("cannot start the epoch thread");
}
