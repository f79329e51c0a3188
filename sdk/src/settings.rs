//! The installation's non-secret settings, as set by an admin and validated by the host
//! against the `[settings]` JSON Schema in `plugin.toml`.
//!
//! ```no_run
//! use airlock_sdk::{settings, Json};
//! let domains: Vec<String> = settings::get("vip_domains")?
//!     .as_ref()
//!     .and_then(Json::as_array)
//!     .unwrap_or(&[])
//!     .iter()
//!     .filter_map(|d| d.as_str().map(str::to_ascii_lowercase))
//!     .collect();
//! # Ok::<(), airlock_sdk::Error>(())
//! ```

use crate::bindings::airlock::plugin::settings as wit;
use crate::{Error, Json};

/// One setting, parsed; `Ok(None)` when unset, [`Error::Invalid`] if the host's value is
/// not JSON.
///
/// ```no_run
/// let rules = airlock_sdk::settings::get("rules")?.unwrap_or(airlock_sdk::Json::Array(vec![]));
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn get(key: &str) -> Result<Option<Json>, Error> {
    get_raw(key).map(|raw| parse(key, &raw)).transpose()
}

/// One setting as the raw JSON text, or `None` when unset.
///
/// ```no_run
/// let raw: Option<String> = airlock_sdk::settings::get_raw("rules");
/// ```
pub fn get_raw(key: &str) -> Option<String> {
    crate::host_call!("settings::get");
    wit::get(key)
}

/// All non-secret settings as one parsed JSON object.
///
/// ```no_run
/// let all = airlock_sdk::settings::all()?;
/// let threshold = all["threshold"].as_u64().unwrap_or(3);
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn all() -> Result<Json, Error> {
    parse("(all)", &all_raw())
}

/// All non-secret settings as the raw JSON text of one object.
///
/// ```no_run
/// let raw: String = airlock_sdk::settings::all_raw();
/// ```
pub fn all_raw() -> String {
    crate::host_call!("settings::all");
    wit::all()
}

fn parse(key: &str, raw: &str) -> Result<Json, Error> {
    Json::parse(raw).map_err(|e| Error::Invalid(format!("setting {key} is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_reports_the_key() {
        assert_eq!(super::parse("k", "[1]").unwrap()[0].as_u64(), Some(1));
        let err = super::parse("rules", "{").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid: setting rules is not valid JSON: unexpected end of input at byte 1"
        );
    }
}
