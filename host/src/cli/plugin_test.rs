//! `airlock test`: a plugin author's test cases, each a TOML file, run against the built
//! component in the real sandbox, through the real broker, like `airlock dev`.
//!
//! ```toml
//! name = "refunds are tagged billing"        # default: the file's name
//! data = "../fixture.json"                   # a data set (JSON), or inline tables
//! settings = { rules = [{ keyword = "refund", tag = "billing" }] }
//!
//! [event]
//! type = "ticket-created"
//! ticket = { id = "t-1", subject = "Refund please", requester_id = "u-1" }
//!
//! [grant]                                     # default: everything declared
//! read = ["ticket.subject"]
//! write = ["ticket.tags"]
//!
//! [[stub]]                                    # as for `airlock dev --http-stub`
//! destination = "https://api.crm.example"
//! status = 201
//!
//! [expect]                                    # each key optional
//! outcome = "ok"                              # or "failed", or a failure kind ("limit", …)
//! summary = "added 1 tag"                     # a substring of the summary
//! calls = ["event.prefetch-ticket t-1 allow", "helpdesk.add-tags t-1 allow"]
//! denied = ["helpdesk.get-user"]              # calls that must be denied
//! withheld = ["ticket.description"]           # fields withheld from some call
//! writes = { "ticket.tags" = ["billing"] }    # stored values of fields written
//! requests = ["POST https://api.crm.example/v1/contacts 201"]
//! ```

use super::dev::{DevReport, DevRun};
use crate::audit::Decision;
use crate::egress::EgressConfig;
use crate::egress::stub::{Stub, Stubs};
use crate::model::Dataset;
use crate::runtime::RuntimeLimits;
use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `airlock test`.
#[derive(Args)]
pub struct TestArgs {
    /// The built component (.wasm).
    pub component: PathBuf,
    /// Its plugin.toml.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Case files, or folders of them (`*.toml`); default: `tests/` beside the manifest.
    pub cases: Vec<PathBuf>,
    /// Dev mode, as for `serve`.
    #[arg(long)]
    pub dev: bool,
}

/// One test case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    name: Option<String>,
    event: toml::Value,
    #[serde(default)]
    data: Option<DataSpec>,
    #[serde(default)]
    settings: Option<toml::Value>,
    #[serde(default)]
    grant: Option<Grant>,
    #[serde(default)]
    stub: Vec<Stub>,
    #[serde(default)]
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DataSpec {
    Path(PathBuf),
    Inline(Dataset),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grant {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
}

/// What a case expects; each part is checked only when given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Option<String>,
    summary: Option<String>,
    calls: Option<Vec<String>>,
    #[serde(default)]
    denied: Vec<String>,
    #[serde(default)]
    withheld: Vec<String>,
    writes: Option<BTreeMap<String, toml::Value>>,
    requests: Option<Vec<String>>,
}

fn to_json(value: toml::Value) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(value)?)
}

/// The case files named (folders: their `*.toml`, sorted).
fn case_files(args: &TestArgs) -> anyhow::Result<Vec<PathBuf>> {
    let given = match args.cases.is_empty() {
        true => vec![args.manifest.with_file_name("tests")],
        false => args.cases.clone(),
    };
    let mut files = Vec::new();
    for path in given {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    anyhow::ensure!(!files.is_empty(), "no test cases found (*.toml)");
    Ok(files)
}

/// Runs every case; prints each one's result and a diff of what differed.
pub fn run(
    args: &TestArgs,
    mut egress: EgressConfig,
    limits: RuntimeLimits,
) -> anyhow::Result<ExitCode> {
    egress.dev_mode |= args.dev;
    let build = Build {
        component: std::fs::read(&args.component)
            .with_context(|| format!("cannot read component {}", args.component.display()))?,
        manifest_name: args.manifest.display().to_string(),
        manifest: std::fs::read_to_string(&args.manifest)
            .with_context(|| format!("cannot read manifest {}", args.manifest.display()))?,
        egress,
        limits,
    };
    let (mut passed, mut failed) = (0, 0);
    for file in case_files(args)? {
        let fallback = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match run_case(&build, &file) {
            Ok((name, diffs)) if diffs.is_empty() => {
                passed += 1;
                super::terminal::println(&format!("PASS {}", name.unwrap_or(fallback)));
            }
            Ok((name, diffs)) => {
                failed += 1;
                super::terminal::println(&format!("FAIL {}", name.unwrap_or(fallback)));
                for d in diffs {
                    super::terminal::println(&format!("  {d}"));
                }
            }
            Err(e) => {
                failed += 1;
                super::terminal::println(&format!("FAIL {fallback}\n  error: {e:#}"));
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What every case runs.
struct Build {
    component: Vec<u8>,
    manifest_name: String,
    manifest: String,
    egress: EgressConfig,
    limits: RuntimeLimits,
}

/// Runs one case file: its name, if it gives one, and what differed.
fn run_case(build: &Build, file: &Path) -> anyhow::Result<(Option<String>, Vec<String>)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let case: Case =
        toml::from_str(&text).with_context(|| format!("{} is not a test case", file.display()))?;
    let fixture = match case.data {
        None => None,
        Some(DataSpec::Inline(d)) => Some(d),
        Some(DataSpec::Path(p)) => {
            let p = file.parent().unwrap_or(Path::new(".")).join(p);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read the data set {}", p.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a valid data set", p.display()))?,
            )
        }
    };
    let report = super::dev::run(DevRun {
        component: build.component.clone(),
        manifest_name: build.manifest_name.clone(),
        manifest: build.manifest.clone(),
        fixture,
        event: serde_json::from_value(to_json(case.event)?)
            .context("[event] is not a valid event")?,
        settings: case.settings.map(to_json).transpose()?,
        grant_read: case.grant.as_ref().map(|g| g.read.clone()),
        grant_write: case.grant.as_ref().map(|g| g.write.clone()),
        egress: build.egress.clone(),
        limits: build.limits,
        stubs: match case.stub.is_empty() {
            true => None,
            false => Some(Arc::new(Stubs::new(case.stub)?)),
        },
    })?;
    Ok((case.name, check(&case.expect, &report)?))
}

/// A list expectation's diff: `-` for expected lines missing, `+` for lines not
/// expected, in order.
pub(super) fn list_diff(what: &str, expected: &[String], got: &[String]) -> Option<String> {
    if expected == got {
        return None;
    }
    let mut out = format!("{what} differ:");
    let n = expected.len().max(got.len());
    for i in 0..n {
        match (expected.get(i), got.get(i)) {
            (Some(e), Some(g)) if e == g => out.push_str(&format!("\n      {e}")),
            (e, g) => {
                if let Some(e) = e {
                    out.push_str(&format!("\n    - {e}"));
                }
                if let Some(g) = g {
                    out.push_str(&format!("\n    + {g}"));
                }
            }
        }
    }
    Some(out)
}

/// What differs between a case's expectations and its run.
fn check(expect: &Expect, report: &DevReport) -> anyhow::Result<Vec<String>> {
    let mut diffs = Vec::new();
    let calls: Vec<&crate::audit::AuditEntry> = report
        .calls
        .iter()
        .filter(|c| c.call != crate::runtime::OUTCOME_CALL)
        .collect();
    if let Some(want) = &expect.outcome {
        let got = match &report.outcome {
            Ok(_) => "ok".to_string(),
            Err(f) => f.kind.as_str().to_string(),
        };
        let matches = *want == got || (want == "failed" && got != "ok");
        if !matches {
            let detail = match &report.outcome {
                Err(f) => format!(" ({})", f.message),
                Ok(_) => String::new(),
            };
            diffs.push(format!("outcome: expected {want}, got {got}{detail}"));
        }
    }
    if let Some(want) = &expect.summary {
        match &report.outcome {
            Ok(s) if s.contains(want.as_str()) => {}
            Ok(s) => diffs.push(format!(
                "summary: expected it to contain {want:?}, got {s:?}"
            )),
            Err(_) => diffs.push(format!("summary: expected {want:?}, but the run failed")),
        }
    }
    if let Some(want) = &expect.calls {
        let got: Vec<String> = calls.iter().map(|c| super::dev::call_line(c)).collect();
        diffs.extend(list_diff("calls", want, &got));
    }
    for call in &expect.denied {
        if !calls
            .iter()
            .any(|c| c.call == *call && c.decision == Some(Decision::Deny))
        {
            diffs.push(format!("denied: expected a denied {call}, found none"));
        }
    }
    for field in &expect.withheld {
        if !calls
            .iter()
            .any(|c| c.fields_withheld.iter().any(|w| w.field == *field))
        {
            diffs.push(format!("withheld: expected {field} withheld, it never was"));
        }
    }
    if let Some(want) = &expect.writes {
        for (field, value) in want {
            let want = serde_json::to_value(value)?;
            match report.writes.get(field) {
                Some(got) if *got == want => {}
                Some(got) => diffs.push(format!("writes: {field}: expected {want}, got {got}")),
                None => diffs.push(format!("writes: expected {field} written, it was not")),
            }
        }
    }
    if let Some(want) = &expect.requests {
        let got: Vec<String> = report
            .requests
            .iter()
            .map(|r| {
                let status = r.status.map_or("none".to_string(), |s| s.to_string());
                format!("{} {}{} {status}", r.method, r.destination, r.path)
            })
            .collect();
        diffs.extend(list_diff("requests", want, &got));
    }
    Ok(diffs)
}
