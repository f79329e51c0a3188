//! `airlock`: the Airlock service and its command line. A thin layer over the library.
#![forbid(unsafe_code)]

use airlock_host::app::{Airlock, AppError};
use airlock_host::cli::config::Config;
use airlock_host::cli::{dev, scaffold, terminal};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The service's allocator. The audit log's appends allocate and free many small
/// strings across many threads, which mimalloc does with less contention than glibc's
/// malloc (about 13% more durable appends per second in `benches/audit.rs`). The
/// benches set it too, so that they measure what the service runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Airlock runs helpdesk plugins as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "airlock", version)]
struct Cli {
    /// The data directory: database, components and cache.
    #[arg(
        long,
        global = true,
        env = "AIRLOCK_DATA_DIR",
        default_value = ".airlock"
    )]
    data_dir: PathBuf,
    /// An optional config file (TOML): listen, admin_token, max_timeout_ms, max_memory_mib,
    /// dev_mode, egress_* limits (see the README).
    #[arg(long, global = true, env = "AIRLOCK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Redact stdin (or find spans in JSON Lines with --spans); `backfill` stored data.
    Redact(airlock_host::cli::redact::RedactArgs),
    /// Run the HTTP service.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "AIRLOCK_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Dev mode: plugins may send plain-http requests to loopback addresses (for local
        /// test servers). Never use in production.
        #[arg(long)]
        dev: bool,
        /// Serve plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
        #[arg(long)]
        insecure_http: bool,
    },
    /// Import helpdesk data (organizations, users, tickets, comments) from a JSON file.
    Import { file: PathBuf },
    /// Print the demo data set as JSON.
    DemoData {
        /// How many tickets.
        #[arg(long, default_value_t = 300)]
        tickets: usize,
    },
    /// Manage installed plugins.
    #[command(subcommand)]
    Plugin(airlock_host::cli::plugin::PluginCommand),
    /// Retention: delete what the `[retention]` policies say was kept long enough.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Data-subject requests: export or erase everything held about a person.
    #[command(subcommand)]
    Dsr(airlock_host::cli::dsr::DsrCommand),
    /// Take an encrypted, consistent backup (with the service stopped; while it runs,
    /// `POST /api/v1/backups`).
    Backup(airlock_host::cli::backup::BackupArgs),
    /// Restore a backup into a new data directory (--data-dir), verified, with later
    /// erasures re-applied, before anything serves from it.
    Restore(airlock_host::cli::backup::RestoreArgs),
    /// The master key: its fingerprint, and rotation.
    #[command(subcommand)]
    Keys(airlock_host::cli::keys::KeysCommand),
    /// Incident response: who an installation's data access touched.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Vendor signing keys (keygen, endorse), and vendors' records and reviews.
    #[command(subcommand)]
    Vendor(airlock_host::cli::vendor::VendorCommand),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// List alerts raised by the activity monitor.
    Alerts(airlock_host::cli::monitor::AlertsArgs),
    /// Print the activity counters in Prometheus text format.
    Metrics,
    /// Access reviews (start, decide, sign off, status), who changed what, unused grants
    /// and the data map.
    #[command(subcommand)]
    Review(airlock_host::cli::review::ReviewCommand),
    /// Evidence for auditors: export a signed bundle, or verify one.
    #[command(subcommand)]
    Evidence(airlock_host::cli::evidence::EvidenceCommand),
    /// Run a plugin locally against fixture data and an event.
    Dev(dev::DevArgs),
    /// Run a plugin's test cases (TOML files) against its built component, through the
    /// real sandbox and broker; exits non-zero when one fails.
    Test(airlock_host::cli::plugin_test::TestArgs),
    /// Load a running service with `ticket-created` events and report events/s, p50 and
    /// p99 (needs the demo data set's requesters, as `make run` imports them).
    Loadtest {
        /// The service's address (default: the configured listen address).
        #[arg(long, env = "AIRLOCK_LISTEN")]
        address: Option<std::net::SocketAddr>,
        /// Concurrent connections, one request in flight on each.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds to send before measuring.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// How many demo requesters (`u-1000` …) the tickets come from.
        #[arg(long, default_value_t = 50)]
        requesters: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The token to post events with (an `ingest` token); default: the break-glass
        /// token, when set.
        #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Manage user accounts.
    #[command(subcommand)]
    User(airlock_host::cli::people::UserCommand),
    /// Manage tokens for automation.
    #[command(subcommand)]
    Token(airlock_host::cli::people::TokenCommand),
    /// Scaffold a new plugin crate.
    New {
        /// The plugin's name (lowercase, dashes).
        name: String,
        /// Where to create it (default: `./<name>`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Depend on the SDK crate at this path (a checkout's `sdk/`) instead of
        /// vendoring the one this binary was built with into the crate.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// The plugin SDK this binary was built with.
    #[command(subcommand)]
    Sdk(SdkCommand),
}

#[derive(Subcommand)]
enum SdkCommand {
    /// Write the SDK crate (airlock-sdk/) and the WIT contract (wit/) into a directory.
    Export {
        /// Where (created if needed; existing files are never overwritten).
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Count (by default) or delete (`--yes`) what the config's `[retention]` policies
    /// say was kept long enough; recorded either way.
    Apply {
        /// Delete, instead of only counting.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum IncidentCommand {
    /// The data subjects an installation read, wrote or may have sent out in a window,
    /// with the fields and destinations per subject (CSV or JSON); recorded.
    Report(airlock_host::cli::incident::ReportArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Stream matching records to stdout as CSV or JSON Lines.
    Export(airlock_host::cli::monitor::ExportArgs),
    /// Everything an installation read, wrote and sent out in a time window.
    BlastRadius(airlock_host::cli::monitor::BlastRadiusArgs),
    /// Check the hash chain, Merkle tree and signed checkpoints; exit 1 naming the first
    /// bad record.
    Verify(airlock_host::cli::audit::VerifyArgs),
    /// Print the public key that signs checkpoints.
    Key,
    /// Sign a checkpoint now, or `export` them all.
    Checkpoint(airlock_host::cli::audit::CheckpointArgs),
    /// Print the inclusion proof of one record.
    Proof {
        /// The record's sequence number.
        seq: u64,
    },
    /// Delete records past the retention period (verifiable from the cut's checkpoint).
    Prune(airlock_host::cli::audit::PruneArgs),
    /// Print the last records as JSON lines.
    Tail {
        /// How many.
        #[arg(short = 'n', default_value_t = 20)]
        count: u32,
        /// Only this installation.
        #[arg(long)]
        installation: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An author's commands report on their own; the service's housekeeping of their
    // scratch directory is noise there.
    let quiet = matches!(cli.command, Command::Dev(_) | Command::Test(_));
    let default = match quiet {
        true => "warn",
        false => "info,wasmtime=warn,cranelift=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn app_err(e: AppError) -> anyhow::Error {
    anyhow::anyhow!(e)
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let open = || Airlock::open_with(&cli.data_dir, config.options());
    match cli.command {
        Command::Redact(args) => {
            let data = airlock_host::blobs::DataDir::open(&cli.data_dir)?;
            let redaction = config.redaction.clone().unwrap_or_default();
            let engine = airlock_host::redaction::EngineRedaction::open(&data, &redaction)?;
            match args.command {
                None if args.spans => airlock_host::cli::redact::spans_stdin(&engine)?,
                None => airlock_host::cli::redact::redact_stdin(&engine)?,
                Some(airlock_host::cli::redact::RedactCommand::Backfill { apply, batch }) => {
                    let airlock = open()?;
                    let report =
                        airlock_host::cli::redact::backfill(&airlock, &engine, apply, batch)?;
                    let verb = if apply {
                        "masked"
                    } else {
                        "would mask (dry run; --apply to write)"
                    };
                    println!(
                        "{} of {} records {verb}: {}",
                        report.changed,
                        report.scanned,
                        serde_json::to_string(&report.classes)?
                    );
                }
            }
        }
        Command::Serve {
            listen,
            dev,
            insecure_http,
        } => {
            let mut options = config.options();
            options.egress.dev_mode |= dev;
            if options.egress.dev_mode {
                eprintln!("warning: dev mode: plugins may send plain http to loopback addresses");
            }
            let airlock = Arc::new(Airlock::open_with(&cli.data_dir, options)?);
            // Another process may hold the audit log for a moment (an export, a verify
            // started before this one): wait for it rather than serve without appending.
            airlock
                .claim_audit_log(std::time::Duration::from_secs(30))
                .map_err(app_err)?;
            airlock.warm_monitor().map_err(app_err)?;
            let listen = listen.unwrap_or(config.listen());
            let tls = config.tls()?;
            if tls.is_none() && !listen.ip().is_loopback() && !insecure_http {
                anyhow::bail!(
                    "refusing to serve plain HTTP on {listen}, which is not a loopback address: set tls_cert and tls_key in the config, or pass --insecure-http behind a TLS-terminating proxy"
                );
            }
            let break_glass = config.break_glass_token()?;
            if break_glass.is_some() {
                eprintln!(
                    "warning: the break-glass admin token is set; every use is audited. Leave AIRLOCK_ADMIN_TOKEN / admin_token unset in production"
                );
            }
            if airlock.accounts().users()?.is_empty() && break_glass.is_none() {
                println!(
                    "No users yet. Create the first admin with: airlock user create <name> --role admin"
                );
            }
            start_housekeeping(
                airlock.clone(),
                config.audit_retention_days,
                config.retention.clone().unwrap_or_default(),
            );
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(airlock_host::api::serve(
                airlock.clone(),
                airlock_host::api::ApiOptions { break_glass },
                listen,
                config.server_limits(),
                tls,
            ))?;
            // A clean stop leaves every record under a signed checkpoint.
            if let Err(e) = airlock.checkpoint_if_new() {
                tracing::error!(error = %format!("{e:#}"), "cannot sign the closing checkpoint");
            }
        }
        Command::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let data = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid data set", file.display()))?;
            let airlock = open()?;
            let n = airlock
                .admin(&airlock_host::app::Actor::cli())
                .import(&data)
                .map_err(app_err)?;
            println!("imported {n} records from {}", file.display());
        }
        Command::Loadtest {
            address,
            token,
            connections,
            seconds,
            warmup,
            requesters,
            json,
        } => {
            let token = match token.or(config.break_glass_token()?) {
                Some(token) => token,
                None => anyhow::bail!(
                    "send a token: --token (or AIRLOCK_TOKEN) with an ingest token from `airlock token create --scope ingest`"
                ),
            };
            let options = airlock_host::loadgen::LoadOptions {
                address: address.unwrap_or(config.listen()),
                token,
                connections,
                duration: std::time::Duration::from_secs(seconds.max(1)),
                warmup: std::time::Duration::from_secs(warmup),
                requesters,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(airlock_host::loadgen::run(&options))?;
            match json {
                true => print_json(&report)?,
                false => println!("{report}"),
            }
        }
        Command::DemoData { tickets } => print_json(&airlock_host::demo::dataset(tickets))?,
        Command::Plugin(airlock_host::cli::plugin::PluginCommand::Pack(args)) => {
            airlock_host::cli::vendor::pack(&args)?
        }
        Command::Plugin(airlock_host::cli::plugin::PluginCommand::Validate(args)) => {
            airlock_host::cli::vendor::validate(&args)?
        }
        Command::Plugin(airlock_host::cli::plugin::PluginCommand::Componentize(args)) => {
            airlock_host::cli::vendor::componentize(&args)?
        }
        Command::Plugin(cmd) => airlock_host::cli::plugin::run(&open()?, cmd)?,
        Command::Dsr(cmd) => airlock_host::cli::dsr::run(&open()?, cmd)?,
        Command::Keys(cmd) => airlock_host::cli::keys::run(&open()?, cmd)?,
        Command::Backup(args) => airlock_host::cli::backup::backup(&open()?, &args)?,
        Command::Restore(args) => airlock_host::cli::backup::restore(
            &cli.data_dir,
            &args,
            config.options(),
            config.retention.clone().unwrap_or_default(),
        )?,
        Command::Retention(RetentionCommand::Apply { yes }) => {
            let policy = config.retention.clone().unwrap_or_default();
            airlock_host::cli::dsr::apply_retention(&open()?, &policy, !yes)?
        }
        Command::Incident(IncidentCommand::Report(args)) => {
            airlock_host::cli::incident::report(&open()?, args)?
        }
        Command::Vendor(cmd) if airlock_host::cli::vendor::is_offline(&cmd) => {
            airlock_host::cli::vendor::run(None, cmd)?
        }
        Command::Vendor(cmd) => airlock_host::cli::vendor::run(Some(&open()?), cmd)?,
        Command::User(cmd) => airlock_host::cli::people::user(&open()?, cmd)?,
        Command::Token(cmd) => airlock_host::cli::people::token(&open()?, cmd)?,
        Command::Audit(AuditCommand::Export(args)) => {
            airlock_host::cli::monitor::export(&open()?, args)?
        }
        Command::Audit(AuditCommand::BlastRadius(args)) => {
            airlock_host::cli::monitor::blast_radius(&open()?, args)?
        }
        Command::Alerts(args) => airlock_host::cli::monitor::alerts(&open()?, args)?,
        Command::Metrics => airlock_host::cli::monitor::metrics(&open()?)?,
        Command::Review(cmd) => airlock_host::cli::review::run(&open()?, cmd)?,
        Command::Evidence(airlock_host::cli::evidence::EvidenceCommand::Verify {
            dir,
            public_key,
        }) => return airlock_host::cli::evidence::verify(&dir, public_key.as_deref()),
        Command::Evidence(airlock_host::cli::evidence::EvidenceCommand::Export(args)) => {
            airlock_host::cli::evidence::export(&open()?, args)?
        }
        Command::Audit(AuditCommand::Verify(args)) => {
            return airlock_host::cli::audit::verify(&open()?, &args);
        }
        Command::Audit(AuditCommand::Key) => airlock_host::cli::audit::key(&open()?),
        Command::Audit(AuditCommand::Checkpoint(args)) => {
            airlock_host::cli::audit::checkpoint(&open()?, &args)?
        }
        Command::Audit(AuditCommand::Proof { seq }) => {
            airlock_host::cli::audit::proof(&open()?, seq)?
        }
        Command::Audit(AuditCommand::Prune(args)) => {
            airlock_host::cli::audit::prune(&open()?, &args)?
        }
        Command::Audit(AuditCommand::Tail {
            count,
            installation,
        }) => {
            let airlock = open()?;
            let total = airlock.store().count_audit()?;
            let filter = airlock_host::audit::AuditFilter {
                installation,
                after_seq: Some(total.saturating_sub(count as u64)),
                limit: Some(count),
                ..Default::default()
            };
            for r in airlock.audit(&filter).map_err(app_err)? {
                terminal::println(&serde_json::to_string(&r)?);
            }
        }
        Command::Dev(args) => {
            let options = config.options();
            return dev::command(&cli.data_dir, args, options.egress, options.limits);
        }
        Command::Test(args) => {
            let options = config.options();
            return airlock_host::cli::plugin_test::run(&args, options.egress, options.limits);
        }
        Command::Sdk(SdkCommand::Export { dir }) => {
            let n = scaffold::export_sdk(&dir)?;
            println!(
                "wrote {n} files into {0}: depend on it with airlock-sdk = {{ path = \"{0}/airlock-sdk\" }}",
                dir.display()
            );
        }
        Command::New { name, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            scaffold::create(&name, &dir, sdk.as_deref())?;
            println!("created plugin `{name}` in {}", dir.display());
            println!("build:  scripts/build-plugins.sh {}", dir.display());
            println!(
                "test:   airlock test {0}/dist/{1}.wasm --manifest {0}/plugin.toml",
                dir.display(),
                name
            );
            println!(
                "run:    airlock dev {0}/dist/{1}.wasm --manifest {0}/plugin.toml --data {0}/fixture.json --event {0}/event.json",
                dir.display(),
                name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How often `serve` looks for scheduled plugins that are due.
const SCHEDULE_TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// How often `serve` signs a checkpoint of what was appended since the last one.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Every few seconds: run the scheduled plugins that are due, and sign a checkpoint if
/// the log grew; every hour: apply retention.
fn start_housekeeping(
    airlock: Arc<Airlock>,
    retention_days: Option<u64>,
    policy: airlock_host::app::retention::RetentionPolicy,
) {
    let scheduled = airlock.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(SCHEDULE_TICK);
            match scheduled.run_due_schedules(time::OffsetDateTime::now_utc()) {
                Ok(runs) => {
                    for r in runs {
                        tracing::debug!(installation = %r.installation, status = r.status, "scheduled run");
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot run the scheduled plugins"),
            }
        }
    });
    std::thread::spawn(move || {
        let per_hour = 3600 / CHECKPOINT_INTERVAL.as_secs();
        for tick in 1u64.. {
            std::thread::sleep(CHECKPOINT_INTERVAL);
            if let Err(e) = airlock.checkpoint_if_new() {
                tracing::error!(error = %format!("{e:#}"), "cannot sign an audit checkpoint");
            }
            if let Some(days) = retention_days.filter(|_| tick % per_hour == 0) {
                match airlock.prune_audit(days) {
                    Ok(n) => tracing::info!(records = n, days, "audit retention applied"),
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "audit retention failed"),
                }
            }
            if !policy.is_empty() && tick % per_hour == 0 {
                let actor = airlock_host::app::Actor::cli();
                let now = time::OffsetDateTime::now_utc();
                match airlock
                    .admin(&actor)
                    .apply_retention(&policy, now, false, &mut |_| {})
                {
                    Ok(r) => tracing::info!(
                        closed_tickets = r.closed_tickets,
                        orphan_users = r.orphan_users,
                        kv_entries = r.kv_entries,
                        alerts = r.alerts,
                        "retention applied"
                    ),
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "retention failed"),
                }
            }
        }
    });
}
