//! Plugin logging: leveled lines into the host's structured log, redacted first.

use super::wit::airlock::plugin::log as wit_log;
use super::{CallKind, CallName, CallState};
use crate::broker::{
    Brokered, CallContext, CallError, CallSpec, Capability, FieldPlan, Redaction, Report,
};
use crate::installation::Installation;

const WRITE: &str = "log.write";
const REPORT_PANIC: &str = "log.report-panic";

/// The log capability's calls.
pub const CALLS: &[CallName] = &[
    CallName::new(WRITE, CallKind::Other, None),
    CallName::new(REPORT_PANIC, CallKind::Other, None),
];

/// The most log lines one invocation keeps.
pub const MAX_LOG_LINES: usize = 200;

/// The longest log line kept, in bytes; longer lines are cut.
pub const MAX_LINE_BYTES: usize = 4 * 1024;

/// A log line's level. `Panic` is what the SDK's panic hook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
    /// The plugin panicked; it will trap next.
    Panic,
}

impl Level {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Panic => "panic",
        }
    }
}

/// A log line on its way out of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text, cut to [`MAX_LINE_BYTES`] and redacted.
    pub message: String,
}

impl Brokered for LogLine {
    fn project(&mut self, _: &FieldPlan, _: &mut Report) {}

    fn redact(&mut self, redaction: &dyn Redaction, inst: &Installation, report: &mut Report) {
        if let Some((masked, counts)) = redaction.redact(inst, &self.message) {
            self.message = masked;
            for (class, n) in counts {
                *report.redactions.entry(class).or_default() += n;
            }
        }
    }
}

/// `log.write` and `log.report-panic`.
pub struct Log;

impl Capability for Log {
    type Request = LogLine;
    type Output = LogLine;
    type Approval = ();

    fn describe(&self, line: &LogLine) -> Result<CallSpec, CallError> {
        Ok(CallSpec::new(
            match line.level {
                Level::Panic => REPORT_PANIC,
                _ => WRITE,
            },
            line.level.as_str().to_string(),
            crate::broker::Need::Nothing,
        ))
    }

    fn perform(
        &self,
        _: &CallContext,
        mut line: LogLine,
        (): (),
        _: &FieldPlan,
    ) -> Result<LogLine, CallError> {
        if line.message.len() > MAX_LINE_BYTES {
            let cut = line.message.floor_char_boundary(MAX_LINE_BYTES);
            line.message.truncate(cut);
            line.message.push('…');
        }
        Ok(line)
    }
}

/// What an invocation logged: its lines (at most [`MAX_LOG_LINES`], redacted), and the
/// panic message the SDK reported, if any.
#[derive(Debug, Default)]
pub struct LogBook {
    /// The lines kept.
    pub lines: Vec<LogLine>,
    /// The reported panic's message.
    pub panic: Option<String>,
}

/// The log interface as a plugin sees it: each line is one brokered call.
impl CallState<'_> {
    fn log(&mut self, level: Level, message: String) {
        // Every line is a brokered call (charged to the budget, audited); only the first
        // lines, and a panic, are kept.
        if let Ok(line) = self.invocation.call(&Log, LogLine { level, message })
            && (self.log.lines.len() < MAX_LOG_LINES || level == Level::Panic)
        {
            let inv = &self.invocation;
            // Plugin text may quote helpdesk data the detectors do not recognise (names,
            // subjects), so it reaches the host log only when asked for:
            // `AIRLOCK_LOG=info,airlock::plugin=debug`. It is always in the event's result.
            tracing::debug!(
                target: "airlock::plugin",
                installation = %inv.installation.id,
                invocation = %inv.id,
                level = line.level.as_str(),
                message = %line.message,
                "plugin log"
            );
            if level == Level::Panic {
                self.log.panic = Some(line.message.clone());
            }
            self.log.lines.push(line);
        }
    }
}

impl wit_log::Host for CallState<'_> {
    fn write(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            wit_log::Level::Trace => Level::Trace,
            wit_log::Level::Debug => Level::Debug,
            wit_log::Level::Info => Level::Info,
            wit_log::Level::Warn => Level::Warn,
            wit_log::Level::Error => Level::Error,
        };
        self.log(level, message);
        self.check_budget()
    }

    fn report_panic(&mut self, message: String) -> wasmtime::Result<()> {
        self.log(Level::Panic, message);
        self.check_budget()
    }
}
