//! Per-event cost: a fresh instance of auto-tagger, one brokered get-ticket (the event's
//! pre-fetch, about 1 KiB), its other brokered calls and the audit append — next to a
//! bare-wasmtime floor in the same run: the same component, trivial host imports, no
//! broker, no store.
//!
//! Run: `cargo bench -p airlock-host --bench per_event` (after `make plugins`).

/// The service's allocator, as `src/main.rs` sets it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use airlock_host::app::{Airlock, Options};
use airlock_host::installation::Grants;
use airlock_host::model::{Dataset, Ticket};
use airlock_host::runtime::EventInput;
use airlock_host::store::Durability;
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

mod floor {
    wasmtime::component::bindgen!({ world: "plugin", path: "../wit" });
}
use floor::airlock::plugin::{helpdesk, log, settings, types};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn description() -> String {
    // About 1 KiB of ticket text.
    "The export keeps failing after the upgrade; we tried clearing the cache and \
     logging in again but nothing changed. Steps: open reports, pick last month, export. "
        .repeat(6)
}

/// Trivial host imports: no broker, no store, no audit.
struct Trivial;
impl types::Host for Trivial {}
impl helpdesk::Host for Trivial {
    fn get_ticket(&mut self, id: String, _: Vec<String>) -> Result<types::Ticket, types::Error> {
        Ok(floor_ticket(id))
    }
    fn get_user(&mut self, _: String, _: Vec<String>) -> Result<types::User, types::Error> {
        Err(types::Error::NotFound(String::new()))
    }
    fn get_organization(
        &mut self,
        _: String,
        _: Vec<String>,
    ) -> Result<types::Organization, types::Error> {
        Err(types::Error::NotFound(String::new()))
    }
    fn list_comments(
        &mut self,
        _: String,
        _: Vec<String>,
        _: u32,
    ) -> Result<Vec<types::Comment>, types::Error> {
        Ok(Vec::new())
    }
    fn search_tickets(
        &mut self,
        _: types::TicketQuery,
        _: Vec<String>,
        _: u32,
    ) -> Result<Vec<types::Ticket>, types::Error> {
        Ok(Vec::new())
    }
    fn add_tags(&mut self, _: String, _: Vec<String>) -> Result<(), types::Error> {
        Ok(())
    }
    fn add_internal_note(&mut self, _: String, _: String) -> Result<(), types::Error> {
        Ok(())
    }
    fn set_custom_field(&mut self, _: String, _: String, _: String) -> Result<(), types::Error> {
        Ok(())
    }
}
impl log::Host for Trivial {
    fn write(&mut self, _: log::Level, _: String) {}
    fn report_panic(&mut self, _: String) {}
}
impl settings::Host for Trivial {
    fn get(&mut self, _: String) -> Option<String> {
        Some(r#"[{"keyword":"refund","tag":"billing"}]"#.into())
    }
    fn all(&mut self) -> String {
        "{}".into()
    }
}
impl floor::airlock::plugin::http::Host for Trivial {
    fn request(
        &mut self,
        _: floor::airlock::plugin::http::HttpRequest,
    ) -> Result<floor::airlock::plugin::http::HttpResponse, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
}

/// Plugin storage is refused: the floor measures the engine, not a capability.
impl floor::airlock::plugin::kv::Host for Trivial {
    fn get(&mut self, _: String) -> Result<Option<Vec<u8>>, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn set(&mut self, _: String, _: Vec<u8>) -> Result<(), types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn delete(&mut self, _: String) -> Result<(), types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn exists(&mut self, _: String) -> Result<bool, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn list_keys(
        &mut self,
        _: Option<String>,
        _: u32,
    ) -> Result<floor::airlock::plugin::kv::KeyPage, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn increment(&mut self, _: String, _: i64) -> Result<i64, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
    fn compare_and_swap(
        &mut self,
        _: String,
        _: Option<Vec<u8>>,
        _: Vec<u8>,
    ) -> Result<bool, types::Error> {
        Err(types::Error::Denied(String::new()))
    }
}

fn floor_ticket(id: String) -> types::Ticket {
    types::Ticket {
        id,
        subject: Some("Export fails after upgrade".into()),
        description: Some(description()),
        status: None,
        priority: None,
        tags: None,
        requester_id: None,
        assignee_id: None,
        organization_id: None,
        custom_fields: Vec::new(),
        created_at: None,
        updated_at: None,
    }
}

fn bench(c: &mut Criterion) {
    let wasm =
        std::fs::read(repo("plugins/dist/auto-tagger.wasm")).expect("run `make plugins` first");
    let manifest = std::fs::read_to_string(repo("plugins/auto-tagger/plugin.toml")).unwrap();

    // Airlock: the whole brokered path.
    let dir = tempfile::tempdir().unwrap();
    let airlock = Airlock::open_with(
        dir.path(),
        Options {
            durability: Durability::Normal,
            ..Options::default()
        },
    )
    .unwrap();
    let ticket = Ticket {
        id: "t-bench".into(),
        subject: Some("Export fails after upgrade".into()),
        description: Some(description()),
        ..Default::default()
    };
    airlock
        .import(&Dataset {
            tickets: vec![ticket],
            ..Default::default()
        })
        .unwrap();
    let inst = airlock
        .install("plugin.toml", &manifest, &wasm, None)
        .unwrap();
    airlock
        .set_grants(
            &inst.id,
            Grants {
                read: inst.manifest.data.read.clone(),
                write: inst.manifest.data.write.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let inst = std::sync::Arc::new(
        airlock
            .set_settings(
                &inst.id,
                serde_json::json!({"rules": [{"keyword": "refund", "tag": "billing"}]}),
            )
            .unwrap(),
    );
    let input = EventInput::TicketCreated {
        ticket_id: "t-bench".into(),
    };

    // The floor: same component, a pooling engine with the component model, epoch
    // interruption and no async support, as the runtime uses; trivial imports. (The
    // runtime also caps memory and stack size and keeps 64 KiB of memory resident.)
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(64)
        .total_core_instances(512)
        .total_memories(128)
        .total_tables(512);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).unwrap();
    let component = Component::new(&engine, &wasm).unwrap();
    let mut linker = Linker::<Trivial>::new(&engine);
    floor::Plugin::add_to_linker::<Trivial, HasSelf<Trivial>>(&mut linker, |s| s).unwrap();
    let pre = floor::PluginPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();

    let mut group = c.benchmark_group("per_event");
    group.bench_function("bare_wasmtime_floor", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, Trivial);
            store.set_epoch_deadline(u64::MAX / 2);
            let ticket = floor_ticket("t-bench".into());
            let plugin = pre.instantiate(&mut store).unwrap();
            let out = plugin
                .airlock_plugin_handler()
                .call_handle(&mut store, &types::Event::TicketCreated(ticket))
                .unwrap();
            assert!(out.is_ok());
        })
    });
    group.bench_function("airlock_brokered", |b| {
        b.iter(|| {
            let r = airlock.run(inst.clone(), &input).unwrap();
            assert_eq!(r.status, "ok");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
