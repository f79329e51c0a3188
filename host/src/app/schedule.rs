//! Scheduled triggers: an installation whose manifest lists `events = ["schedule"]`
//! with `[schedule] every = "15m"` is run with a `schedule` event, by `serve`'s
//! scheduler ([`Airlock::run_due_schedules`]).
//!
//! - At most one run at a time per installation: a run still going when the next one is
//!   due is not started twice.
//! - Missed runs are not stacked up: after a pause (the service was down, a run took
//!   long) one run happens, and the next is due a full interval after it started. A
//!   restarted service reads when the last run started from the audit log, so a restart
//!   does not run a schedule early.
//! - Each run is an invocation like any other: the grant, the broker, the audit.
//!
//! The time is the caller's (`now`), so tests set the clock.

use super::{Airlock, AppResult};
use crate::dispatch::DispatchResult;
use crate::manifest::EventKind;
use crate::runtime::EventInput;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// When each installation's run last started, and whether it is still going.
#[derive(Default)]
pub(super) struct Scheduler {
    slots: Mutex<HashMap<String, Slot>>,
}

#[derive(Clone, Copy)]
struct Slot {
    started: OffsetDateTime,
    running: bool,
}

impl Scheduler {
    /// Whether this process has seen `id` yet.
    fn knows(&self, id: &str) -> bool {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// Records a run of `id` that started at `at` (before this process started).
    fn seed(&self, id: &str, at: OffsetDateTime) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(id.to_string()).or_insert(Slot {
            started: at,
            running: false,
        });
    }

    /// Claims a run of `id` at `now`, if one is due and none is going.
    fn claim(&self, id: &str, now: OffsetDateTime, every: time::Duration) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(id) {
            Some(s) if s.running || s.started + every > now => false,
            _ => {
                slots.insert(
                    id.to_string(),
                    Slot {
                        started: now,
                        running: true,
                    },
                );
                true
            }
        }
    }

    fn release(&self, id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(id) {
            slot.running = false;
        }
    }
}

/// Releases a claimed run however it ends.
struct Claimed<'a> {
    scheduler: &'a Scheduler,
    id: &'a str,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        self.scheduler.release(self.id);
    }
}

impl Airlock {
    /// Runs, one after the other, every enabled installation whose schedule is due at
    /// `now` and that has no run going; returns their results. `serve` calls it every
    /// few seconds.
    pub fn run_due_schedules(&self, now: OffsetDateTime) -> AppResult<Vec<DispatchResult>> {
        let mut results = Vec::new();
        for inst in self.targets(EventKind::Schedule)? {
            let Some(seconds) = inst.manifest.schedule.as_ref().and_then(|s| s.seconds()) else {
                continue;
            };
            let every = time::Duration::seconds(seconds.max(60) as i64);
            if !self.scheduler.knows(&inst.id)
                && let Some(at) = self.last_scheduled_run(&inst.id, now - every)?
            {
                self.scheduler.seed(&inst.id, at);
            }
            if !self.scheduler.claim(&inst.id, now, every) {
                continue;
            }
            let id = inst.id.clone();
            let _claimed = Claimed {
                scheduler: &self.scheduler,
                id: &id,
            };
            results.push(self.run(inst, &EventInput::Schedule)?);
        }
        Ok(results)
    }

    /// When the latest scheduled run of `id` since `since` started, from the audit log:
    /// a restart does not run a schedule again before its interval is up.
    fn last_scheduled_run(
        &self,
        id: &str,
        since: OffsetDateTime,
    ) -> AppResult<Option<OffsetDateTime>> {
        let mut latest = None;
        self.each_record(
            crate::audit::AuditFilter {
                installation: Some(id.to_string()),
                call: Some(crate::runtime::OUTCOME_CALL.into()),
                since: Some(crate::audit::rfc3339_millis(since)),
                ..Default::default()
            },
            |r| {
                if r.entry.event == EventKind::Schedule.as_str() {
                    latest = OffsetDateTime::parse(
                        &r.time,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .ok()
                    .or(latest);
                }
            },
        )?;
        Ok(latest)
    }
}
