//! Compiled artifacts on disk, keyed by the component's hash and the engine's
//! configuration, so a restart does not recompile every plugin.

use anyhow::Context;
use cap_std::fs::Dir;
use std::hash::{Hash, Hasher};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A folder of `<component sha256>-<engine hash>.cwasm` files.
pub struct ArtifactCache {
    dir: Dir,
    engine_key: String,
}

impl ArtifactCache {
    /// A cache in `dir` for artifacts of this engine's configuration.
    pub fn new(dir: Dir, engine: &Engine) -> ArtifactCache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// The component, from cache when possible; compiled and cached otherwise.
    pub fn component(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> anyhow::Result<Component> {
        let name = format!("{sha256}-{}.cwasm", self.engine_key);
        if let Ok(artifact) = self.dir.read(&name) {
            // SAFETY: the cache folder is inside the data directory, which only this
            // service writes; artifacts are written whole (temp file + rename) by
            // `Component::serialize` for this exact engine configuration.
            if let Ok(component) = unsafe { Component::deserialize(engine, &artifact) } {
                return Ok(component);
            }
            tracing::warn!(artifact = %name, "ignoring an unreadable cached artifact");
        }
        let component = Component::new(engine, bytes)
            .map_err(anyhow::Error::from)
            .context("not a valid WebAssembly component")?;
        let artifact = component.serialize()?;
        let tmp = format!("{name}.tmp");
        if let Err(e) = self
            .dir
            .write(&tmp, &artifact)
            .and_then(|_| self.dir.rename(&tmp, &self.dir, &name))
        {
            tracing::warn!(artifact = %name, error = %e, "cannot cache a compiled artifact");
        }
        Ok(component)
    }
}
