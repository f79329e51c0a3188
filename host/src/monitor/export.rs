//! Streamed exports of the audit log as CSV or JSON Lines.
//!
//! An export pages through the log by sequence number ([`super::PAGE`] records at a time,
//! `seq > last` rather than an offset), writing each page before reading the next, so
//! memory stays flat however many rows match. Over HTTP the pages go through a small
//! bounded channel into the response body (`api/stream.rs`): a slow client slows the
//! export down.

use super::error::{MonitorError, MonitorResult};
use super::{Monitor, PAGE, normalize_filter};
use crate::audit::{AuditFilter, AuditRecord};
use serde::Deserialize;
use std::io::{self, Write};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line, as `GET /api/v1/audit` returns them.
    Jsonl,
}

impl ExportFormat {
    /// Parses `csv` or `jsonl`.
    pub fn parse(text: &str) -> MonitorResult<ExportFormat> {
        match text {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            other => Err(MonitorError::Invalid(format!(
                "unknown export format `{other}`: use csv or jsonl"
            ))),
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: &str = "seq,time,installation,plugin,version,invocation,event,call,resource,decision,reason,fields_returned,fields_withheld,redactions,details,prev_hash,hash";

/// Quotes a CSV cell when it needs it.
/// One CSV cell: quoted when it must be, and neutralized when a spreadsheet would read
/// it as a formula (OWASP's CSV-injection guidance: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets a `'` in front).
pub fn cell(out: &mut String, text: &str) {
    let neutralized;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        neutralized = format!("'{text}");
        neutralized.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// One record as a CSV row (with its newline). Lists are `;`-separated; withheld fields
/// are `field=reason`, redactions `class=count`, details `key=value`.
pub fn csv_row(r: &AuditRecord) -> String {
    let e = &r.entry;
    let pairs = |it: &mut dyn Iterator<Item = String>| it.collect::<Vec<_>>().join(";");
    let cells: [String; 17] = [
        r.seq.to_string(),
        r.time.clone(),
        e.installation.clone(),
        e.plugin.clone(),
        e.version.clone(),
        e.invocation.clone(),
        e.event.clone(),
        e.call.clone(),
        e.resource.clone(),
        e.decision.map_or("", |d| d.as_str()).to_string(),
        e.reason.clone(),
        e.fields_returned.join(";"),
        pairs(
            &mut e
                .fields_withheld
                .iter()
                .map(|w| format!("{}={}", w.field, w.reason)),
        ),
        pairs(&mut e.redactions.iter().map(|(k, v)| format!("{k}={v}"))),
        pairs(&mut e.details.iter().map(|(k, v)| format!("{k}={v}"))),
        r.prev_hash.clone(),
        r.hash.clone(),
    ];
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(&mut out, c);
    }
    out.push('\n');
    out
}

impl Monitor {
    /// Writes every record matching `filter` (its `limit`, if set, caps the total) to
    /// `sink`, a page at a time. Returns how many rows were written.
    pub fn export(
        &self,
        filter: &AuditFilter,
        format: ExportFormat,
        sink: &mut dyn Write,
    ) -> MonitorResult<u64> {
        let mut filter = filter.clone();
        normalize_filter(&mut filter)?;
        let cap = filter.limit.map(u64::from);
        let io = |e: io::Error| MonitorError::Interrupted(format!("export interrupted: {e}"));
        if format == ExportFormat::Csv {
            writeln!(sink, "{CSV_HEADER}").map_err(io)?;
        }
        let mut written = 0u64;
        let mut after = filter.after_seq.unwrap_or(0);
        loop {
            let want = match cap {
                Some(cap) if cap <= written => break,
                Some(cap) => (cap - written).min(PAGE as u64) as u32,
                None => PAGE,
            };
            let page = self.store().query(&AuditFilter {
                after_seq: Some(after),
                limit: Some(want),
                ..filter.clone()
            })?;
            let mut text = String::new();
            for r in &page {
                match format {
                    ExportFormat::Csv => text.push_str(&csv_row(r)),
                    ExportFormat::Jsonl => {
                        let line = serde_json::to_string(r).map_err(|e| {
                            MonitorError::Interrupted(format!(
                                "cannot encode record {}: {e}",
                                r.seq
                            ))
                        })?;
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
                after = r.seq;
            }
            sink.write_all(text.as_bytes()).map_err(io)?;
            written += page.len() as u64;
            if page.len() < want as usize {
                break;
            }
        }
        sink.flush().map_err(io)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEntry, seal};

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_neutralized() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx"] {
            let mut out = String::new();
            cell(&mut out, formula);
            assert!(
                out.starts_with('\'') || out.starts_with("\"'"),
                "{formula} -> {out}"
            );
        }
        let mut out = String::new();
        cell(&mut out, "ticket-1");
        assert_eq!(out, "ticket-1");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let r = seal(
            None,
            "t".into(),
            AuditEntry {
                reason: "denied: a, \"b\"".into(),
                fields_returned: vec!["ticket.subject".into(), "ticket.tags".into()],
                ..Default::default()
            },
        );
        let row = csv_row(&r);
        assert!(row.contains(",\"denied: a, \"\"b\"\"\",ticket.subject;ticket.tags,"));
        assert_eq!(
            row.split(',').count(),
            CSV_HEADER.split(',').count() + 1,
            "{row}"
        );
    }
}
