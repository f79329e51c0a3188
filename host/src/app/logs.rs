//! The last log lines each installation wrote, kept in memory for its vendor and admins
//! (`GET /api/v1/plugins/{id}/logs`).
//!
//! Lines are what the broker let out of the sandbox: cut to the line limit and redacted.
//! Each installation keeps at most [`KEPT_PER_INSTALLATION`] lines, newest last, since
//! this host started; the host's structured log has the rest.

use crate::capability::log::LogLine;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many lines each installation keeps.
pub const KEPT_PER_INSTALLATION: usize = 200;

/// One kept line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptLine {
    /// When its invocation ended (RFC 3339).
    pub time: String,
    /// The invocation that wrote it.
    pub invocation: String,
    /// The line.
    #[serde(flatten)]
    pub line: LogLine,
}

/// Recent lines by installation.
#[derive(Default)]
pub(super) struct RecentLogs {
    by_installation: Mutex<HashMap<String, VecDeque<KeptLine>>>,
}

impl RecentLogs {
    /// Keeps an invocation's lines, dropping the oldest past the limit.
    pub(super) fn keep(&self, installation: &str, invocation: &str, lines: &[LogLine]) {
        if lines.is_empty() {
            return;
        }
        let time = crate::audit::now_rfc3339();
        let mut all = self
            .by_installation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let kept = all.entry(installation.to_string()).or_default();
        let skip = lines.len().saturating_sub(KEPT_PER_INSTALLATION);
        for line in &lines[skip..] {
            if kept.len() == KEPT_PER_INSTALLATION {
                kept.pop_front();
            }
            kept.push_back(KeptLine {
                time: time.clone(),
                invocation: invocation.to_string(),
                line: line.clone(),
            });
        }
    }

    /// An installation's kept lines, oldest first.
    pub(super) fn of(&self, installation: &str) -> Vec<KeptLine> {
        let all = self
            .by_installation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.get(installation)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::log::Level;

    #[test]
    fn only_the_newest_lines_are_kept() {
        let logs = RecentLogs::default();
        let line = |i: usize| LogLine {
            level: Level::Info,
            message: format!("line {i}"),
        };
        let many: Vec<LogLine> = (0..KEPT_PER_INSTALLATION + 5).map(line).collect();
        logs.keep("a", "inv-1", &many);
        logs.keep("a", "inv-2", &[line(9999)]);
        let kept = logs.of("a");
        assert_eq!(kept.len(), KEPT_PER_INSTALLATION);
        assert_eq!(kept.last().unwrap().line.message, "line 9999");
        assert_eq!(kept[0].line.message, "line 6");
        assert!(logs.of("b").is_empty());
    }
}
