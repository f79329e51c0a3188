//! How SQLite's, serde's and the file system's errors become a typed [`StoreError`].
//!
//! Code inside this crate returns [`Result`], whose error converts from each of them with
//! `?`; every trait method runs its body through [`call`], which hands the port's
//! [`StoreError`] back.

use airlock_core::store::Cause;
use airlock_core::{StoreError, StoreResult};
use rusqlite::ErrorCode;

/// An error inside the SQLite store, already classified.
#[derive(Debug)]
pub(crate) struct Error(pub(crate) StoreError);

/// What this crate's functions return.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Runs a store method's body and returns its error as the port's [`StoreError`].
pub(crate) fn call<T>(body: impl FnOnce() -> Result<T>) -> StoreResult<T> {
    body().map_err(|e| e.0)
}

impl Error {
    /// A failure of our own (not SQLite's), said in words.
    pub(crate) fn failed(what: impl Into<String>) -> Error {
        Error(StoreError::failed(what, None))
    }

    /// Stored data that does not make sense.
    pub(crate) fn corrupt(what: impl Into<String>) -> Error {
        Error(StoreError::corrupt(what, None))
    }

    /// A failure that may pass.
    pub(crate) fn transient(what: impl Into<String>) -> Error {
        Error(StoreError::transient(what, None))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> StoreError {
        e.0
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        use rusqlite::Error as E;
        let code = match &e {
            E::SqliteFailure(failure, _) => failure.code,
            // What a stored value fails to decode as can quote the value (a helpdesk
            // field): say where, never what, and keep no source that would say it.
            E::FromSqlConversionFailure(column, ..)
            | E::InvalidColumnType(column, ..)
            | E::IntegralValueOutOfRange(column, _) => {
                return Error::corrupt(format!("SQLite: stored column {column} does not decode"));
            }
            E::Utf8Error(..) => return Error::corrupt("SQLite: a stored text is not UTF-8"),
            E::ToSqlConversionFailure(_) => {
                return Error::failed("SQLite: a value cannot be stored");
            }
            _ => ErrorCode::Unknown,
        };
        let class: fn(String, Option<Cause>) -> StoreError = match code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory
            | ErrorCode::SystemIoFailure => |w, c| StoreError::transient(w, c),
            ErrorCode::ConstraintViolation => |w, c| StoreError::conflict(w, c),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                |w, c| StoreError::corrupt(w, c)
            }
            _ => |w, c| StoreError::failed(w, c),
        };
        // SQLite's own messages name tables, columns and constraints; values are always
        // bound parameters, so they never appear in one.
        Error(class(format!("SQLite: {e}"), Some(Box::new(e))))
    }
}

impl From<serde_json::Error> for Error {
    /// A stored document that does not decode (encoding our own types cannot fail).
    /// serde's message can quote the text it choked on (a helpdesk value), so only its
    /// kind and position are kept.
    fn from(e: serde_json::Error) -> Error {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax => "is not JSON",
            Category::Data => "does not have the expected shape",
            Category::Eof => "is cut short",
            Category::Io => "cannot be read",
        };
        Error::corrupt(format!(
            "a stored document {what} (line {}, column {})",
            e.line(),
            e.column()
        ))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let what = format!("file system: {e}");
        Error(match e.kind() {
            Interrupted | WouldBlock | TimedOut | StorageFull | OutOfMemory => {
                StoreError::transient(what, Some(Box::new(e)))
            }
            _ => StoreError::failed(what, Some(Box::new(e))),
        })
    }
}

/// `anyhow`-style context on this crate's results: what was being done when it failed.
pub(crate) trait Context<T> {
    /// Puts `context` in front of the error's message.
    fn context(self, context: impl std::fmt::Display) -> Result<T>;
    /// Puts a lazily built context in front of the error's message.
    fn with_context<D: std::fmt::Display>(self, context: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error(e.into().0.context(context)))
    }

    fn with_context<D: std::fmt::Display>(self, context: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error(e.into().0.context(context())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_errors_are_classified_by_what_a_caller_should_do() {
        let failure = |code| {
            Error::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
            .0
        };
        assert!(failure(rusqlite::ffi::SQLITE_BUSY).is_transient());
        assert!(failure(rusqlite::ffi::SQLITE_FULL).is_transient());
        assert!(failure(rusqlite::ffi::SQLITE_CONSTRAINT).is_conflict());
        assert!(failure(rusqlite::ffi::SQLITE_CORRUPT).is_corrupt());
        assert!(failure(rusqlite::ffi::SQLITE_NOTADB).is_corrupt());
        let decode = Error::from(serde_json::from_str::<u32>("{").unwrap_err()).0;
        assert!(decode.is_corrupt());
    }

    /// A stored document that does not decode must not put its text in the error: the
    /// error is logged, and the document is helpdesk data.
    #[test]
    fn decode_errors_never_quote_what_they_could_not_decode() {
        use std::error::Error as _;
        let value = "vera@bigcorp.example";
        let json = Error::from(
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&format!(
                "\"{value}\""
            ))
            .unwrap_err(),
        )
        .0;
        let conversion = Error::from(rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            Box::new(serde_json::from_str::<u32>(&format!("\"{value}\"")).unwrap_err()),
        ))
        .0;
        for e in [json, conversion] {
            assert!(e.is_corrupt(), "{e}");
            let mut chain = vec![e.to_string()];
            let mut source = e.source();
            while let Some(s) = source {
                chain.push(s.to_string());
                source = s.source();
            }
            assert!(!chain.concat().contains("vera"), "{chain:?}");
        }
    }
}
