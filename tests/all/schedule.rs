//! Issue 16: scheduled triggers, with a clock the test sets: a schedule fires at its
//! interval, missed runs do not stack, and a run still going is never started again.

use crate::support::TestHost;
use airlock_host::audit::AuditFilter;
use airlock_host::manifest::Manifest;
use time::{Duration, OffsetDateTime};

fn t0() -> OffsetDateTime {
    time::macros::datetime!(2026-12-01 09:00 UTC)
}

fn ran(host: &TestHost, at: OffsetDateTime) -> Vec<String> {
    host.airlock
        .run_due_schedules(at)
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {}",
                r.installation,
                r.summary.unwrap_or(r.status.into())
            )
        })
        .collect()
}

#[test]
fn a_schedule_fires_at_its_interval_and_missed_runs_do_not_stack() {
    let host = TestHost::new();
    host.install("counter", &[], &[]);
    // The first tick runs it; the interval is 15 minutes from when a run started.
    assert_eq!(ran(&host, t0()), ["counter count=1"]);
    assert!(ran(&host, t0() + Duration::minutes(5)).is_empty());
    assert!(ran(&host, t0() + Duration::minutes(14)).is_empty());
    assert_eq!(
        ran(&host, t0() + Duration::minutes(15)),
        ["counter count=1"]
    );
    // Three hours without a tick: one run, not twelve, and the next is 15 minutes on.
    let late = t0() + Duration::hours(3);
    assert_eq!(ran(&host, late), ["counter count=1"]);
    assert!(ran(&host, late + Duration::minutes(1)).is_empty());
    // Each run is an invocation on the record, with its event.
    let outcomes: Vec<_> = host
        .airlock
        .audit(&AuditFilter {
            installation: Some("counter".into()),
            call: Some(airlock_host::runtime::OUTCOME_CALL.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|r| r.entry.event == "schedule"));
    // A disabled installation is not run.
    host.airlock.set_enabled("counter", false).unwrap();
    assert!(ran(&host, late + Duration::hours(1)).is_empty());
}

#[test]
fn a_run_still_going_is_not_started_again() {
    let host = TestHost::new();
    host.install("looper", &[], &[]);
    std::thread::scope(|s| {
        // The looper runs until its deadline stops it.
        let first = s.spawn(|| ran(&host, t0()));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            ran(&host, t0() + Duration::hours(1)).is_empty(),
            "a second run started while the first was going"
        );
        let first = first.join().unwrap();
        assert_eq!(first.len(), 1);
        assert!(first[0].starts_with("looper failed"), "{first:?}");
    });
    // Once it ended, the next due run starts.
    assert_eq!(ran(&host, t0() + Duration::hours(1)).len(), 1);
}

#[test]
fn a_schedule_needs_the_event_and_an_interval_of_a_minute_or_more() {
    let base = "name = \"sched\"\nversion = \"0.1.0\"\nvendor = \"V\"\ndescription = \"d\"\n";
    let parse = |rest: &str| Manifest::parse("plugin.toml", &format!("{base}{rest}[data]\n"));
    let ok = parse("events = [\"schedule\"]\n[schedule]\nevery = \"2h\"\n").unwrap();
    assert_eq!(ok.schedule.unwrap().seconds(), Some(7200));
    let err = parse("events = [\"schedule\"]\n").unwrap_err().to_string();
    assert!(
        err.contains("key `schedule`") && err.contains("every"),
        "{err}"
    );
    let err = parse("events = [\"action\"]\n[schedule]\nevery = \"15m\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs \"schedule\" in events"), "{err}");
    for bad in ["30s", "0m", "15", "1.5h"] {
        let text = format!("events = [\"schedule\"]\n[schedule]\nevery = \"{bad}\"\n");
        assert!(parse(&text).is_err(), "{bad}");
    }
}

#[test]
fn a_restart_does_not_run_a_schedule_before_its_interval() {
    let host = TestHost::new();
    host.install("counter", &[], &[]);
    let now = OffsetDateTime::now_utc();
    assert_eq!(ran(&host, now), ["counter count=1"]);
    // A new process over the same data directory learns the last run from the log.
    let TestHost { dir, airlock } = host;
    drop(airlock);
    let host = TestHost {
        airlock: airlock_host::app::Airlock::open(dir.path(), Default::default()).unwrap(),
        dir,
    };
    assert!(ran(&host, now + Duration::minutes(1)).is_empty());
    assert_eq!(ran(&host, now + Duration::minutes(16)), ["counter count=1"]);
}
