//! Plugin logging: leveled lines into the host's structured log, redacted first.

use crate::broker::{
    Brokered, CallContext, CallError, CallSpec, Capability, FieldPlan, Redaction, Report,
};
use crate::installation::Installation;

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

    fn describe(&self, line: &LogLine) -> Result<CallSpec, CallError> {
        Ok(CallSpec::new(
            match line.level {
                Level::Panic => "log.report-panic",
                _ => "log.write",
            },
            line.level.as_str().to_string(),
            crate::broker::Need::Nothing,
        ))
    }

    fn perform(
        &self,
        _: &CallContext<'_>,
        mut line: LogLine,
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
