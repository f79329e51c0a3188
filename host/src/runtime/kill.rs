//! The kill switch: installations whose running invocations stop at their next epoch
//! tick, and whose new invocations do not start.
//!
//! Every invocation checks the switch at each [`super::EPOCH_TICK`] while its guest
//! code runs (a host call in progress finishes first, bounded by the invocation's
//! deadline), and once before it starts.

use std::collections::HashSet;
use std::sync::RwLock;

/// The killed installations.
#[derive(Debug, Default)]
pub struct KillSwitch {
    killed: RwLock<HashSet<String>>,
}

/// The error that ends a killed invocation.
#[derive(Debug)]
pub struct Killed;

impl std::fmt::Display for Killed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the installation was killed by an admin")
    }
}

impl std::error::Error for Killed {}

impl KillSwitch {
    /// Stops `installation`'s invocations, running and new.
    pub fn kill(&self, installation: &str) {
        self.write().insert(installation.to_string());
    }

    /// Lets `installation` run again.
    pub fn revive(&self, installation: &str) {
        self.write().remove(installation);
    }

    /// Replaces the killed set (as another process recorded it in the store).
    pub fn replace(&self, killed: HashSet<String>) {
        *self.write() = killed;
    }

    /// Whether `installation` is killed.
    pub fn is_killed(&self, installation: &str) -> bool {
        let killed = self.killed.read().unwrap_or_else(|p| p.into_inner());
        !killed.is_empty() && killed.contains(installation)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashSet<String>> {
        self.killed.write().unwrap_or_else(|p| p.into_inner())
    }
}
