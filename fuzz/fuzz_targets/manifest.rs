//! Any text as a plugin.toml: parsing never panics, and what parses has the schedule and
//! limits it claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = airlock_core::manifest::Manifest::parse("plugin.toml", text) {
        if let Some(schedule) = &manifest.schedule {
            assert!(schedule.seconds().is_some_and(|s| s >= 60));
        }
        let _ = manifest.validate_settings(&serde_json::json!({}));
    }
});
