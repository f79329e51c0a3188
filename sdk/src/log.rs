//! Leveled logging into the host's structured log (`println!` goes nowhere in the
//! sandbox).
//!
//! Log lines are stored with the run; never log personal data such as emails.
//!
//! ```no_run
//! use airlock_sdk::log;
//! log::info!("matched {} rule(s)", 2);
//! log::warn!("setting `rules` is missing; nothing to do");
//! log::write(log::Level::Debug, "plain message");
//! ```

/// A log level.
///
/// ```
/// use airlock_sdk::log::Level;
/// assert!(Level::Warn > Level::Info);
/// ```
pub use crate::bindings::airlock::plugin::log::Level;

/// Writes `message` at `level`.
///
/// ```no_run
/// airlock_sdk::log::write(airlock_sdk::log::Level::Info, "hello");
/// ```
pub fn write(level: Level, message: &str) {
    // Outside the sandbox (a native test) there is no host log: stderr instead.
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
    #[cfg(target_arch = "wasm32")]
    crate::bindings::airlock::plugin::log::write(level, message);
}

/// Logs a `format!`-style message at trace level.
///
/// ```no_run
/// airlock_sdk::log::trace!("step {}", 1);
/// ```
#[doc(inline)]
pub use crate::__airlock_log_trace as trace;

/// Logs a `format!`-style message at debug level.
///
/// ```no_run
/// airlock_sdk::log::debug!("parsed {} rule(s)", 3);
/// ```
#[doc(inline)]
pub use crate::__airlock_log_debug as debug;

/// Logs a `format!`-style message at info level.
///
/// ```no_run
/// airlock_sdk::log::info!("added {} tag(s)", 2);
/// ```
#[doc(inline)]
pub use crate::__airlock_log_info as info;

/// Logs a `format!`-style message at warn level.
///
/// ```no_run
/// airlock_sdk::log::warn!("organization not granted; continuing");
/// ```
#[doc(inline)]
pub use crate::__airlock_log_warn as warn;

/// Logs a `format!`-style message at error level.
///
/// ```no_run
/// let err = airlock_sdk::Error::denied("ticket.tags");
/// airlock_sdk::log::error!("add-tags failed: {err}");
/// ```
#[doc(inline)]
pub use crate::__airlock_log_error as error;

/// Logs at trace level; use it as `airlock_sdk::log::trace!`.
///
/// ```no_run
/// airlock_sdk::log::trace!("x = {}", 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_trace {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Logs at debug level; use it as `airlock_sdk::log::debug!`.
///
/// ```no_run
/// airlock_sdk::log::debug!("x = {}", 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_debug {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs at info level; use it as `airlock_sdk::log::info!`.
///
/// ```no_run
/// airlock_sdk::log::info!("x = {}", 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_info {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs at warn level; use it as `airlock_sdk::log::warn!`.
///
/// ```no_run
/// airlock_sdk::log::warn!("x = {}", 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_warn {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs at error level; use it as `airlock_sdk::log::error!`.
///
/// ```no_run
/// airlock_sdk::log::error!("x = {}", 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_error {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}
