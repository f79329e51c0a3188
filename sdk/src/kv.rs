//! The installation's own key-value store.
//!
//! Declare it in `plugin.toml`, and an admin grants it per installation (without the
//! grant every call is [`Error::Denied`]):
//!
//! ```toml
//! [storage]
//! kv = true
//! max_bytes = 1048576   # asked for; the admin's cap may be lower
//! max_keys = 1000
//! ```
//!
//! Keys are 1-256 bytes, values at most 1 MiB. A write past the quota is
//! [`Error::Limit`] and writes nothing. What a value was made from travels with it:
//! reading it back counts as reading that data when the invocation later sends a
//! request, so kv is no way around what a destination may receive.
//!
//! ```no_run
//! use airlock_sdk::kv;
//! let seen = kv::increment("tickets-seen", 1)?;
//! kv::set("last-ticket", b"t-1")?;
//! assert_eq!(kv::get("last-ticket")?.as_deref(), Some(&b"t-1"[..]));
//! // Take a lock-free turn: only one concurrent invocation wins.
//! let won = kv::compare_and_swap("leader", None, b"me")?;
//! # let _ = (seen, won);
//! # Ok::<(), airlock_sdk::Error>(())
//! ```

use crate::Error;
use crate::bindings::airlock::plugin::kv as wit;

/// A value, or `None` when the key is absent.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    crate::host_call!("kv::get");
    Ok(wit::get(key)?)
}

/// A value as UTF-8 text; [`Error::Invalid`] if it is not.
pub fn get_string(key: &str) -> Result<Option<String>, Error> {
    get(key)?
        .map(|v| {
            String::from_utf8(v)
                .map_err(|_| Error::Invalid(format!("the value of {key} is not UTF-8")))
        })
        .transpose()
}

/// Sets a value.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    crate::host_call!("kv::set");
    Ok(wit::set(key, value)?)
}

/// Deletes a key (absent is fine).
pub fn delete(key: &str) -> Result<(), Error> {
    crate::host_call!("kv::delete");
    Ok(wit::delete(key)?)
}

/// Whether a key is present.
pub fn exists(key: &str) -> Result<bool, Error> {
    crate::host_call!("kv::exists");
    Ok(wit::exists(key)?)
}

/// Adds `delta` to a decimal integer value (absent counts as 0); returns the new value.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    crate::host_call!("kv::increment");
    Ok(wit::increment(key, delta)?)
}

/// Sets `value` only if the key holds `expected` now (`None`: only if absent). Returns
/// whether it did.
pub fn compare_and_swap(key: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
    crate::host_call!("kv::compare_and_swap");
    Ok(wit::compare_and_swap(key, expected, value)?)
}

/// Every key, a page at a time (in the store's order, not alphabetical).
///
/// ```no_run
/// for key in airlock_sdk::kv::keys() {
///     let key = key?;
///     # let _ = key;
/// }
/// # Ok::<(), airlock_sdk::Error>(())
/// ```
pub fn keys() -> Keys {
    Keys {
        page: Vec::new(),
        cursor: None,
        done: false,
    }
}

/// The iterator of [`keys`].
pub struct Keys {
    page: Vec<String>,
    cursor: Option<String>,
    done: bool,
}

impl Iterator for Keys {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            crate::host_call!("kv::keys");
            match wit::list_keys(self.cursor.as_deref(), 1_000) {
                Ok(page) => {
                    self.done = page.cursor.is_none();
                    self.cursor = page.cursor;
                    self.page = page.keys;
                    self.page.reverse();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
        }
        self.page.pop().map(Ok)
    }
}
