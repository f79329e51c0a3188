//! Issue 23: backups carry the protection of live data. A backup taken while events run
//! restores and verifies; a tampered or cut backup restores nothing; an old backup
//! restored after an erasure does not bring the person back.

use super::dsr::{files_holding, host_with_a_copied_email};
use super::*;
use airlock_host::app::Actor;
use airlock_host::app::backup::{BackupLock, RestoreOptions, restore};
use std::path::{Path, PathBuf};

/// The key `open` seals with.
const KEY: [u8; 32] = [42; 32];

fn options(backup: &Path, into: &Path, erasures_from: Option<&Path>) -> RestoreOptions {
    RestoreOptions {
        backup: backup.to_path_buf(),
        into: into.to_path_buf(),
        master_key: KEY,
        write_master_key: false,
        passphrase: None,
        erasures_from: erasures_from.map(Path::to_path_buf),
        retention: Default::default(),
        options: Options {
            durability: airlock_host::store::Durability::Normal,
            ..Options::default()
        },
    }
}

fn reopen(dir: &Path) -> Airlock {
    Airlock::open_with(
        dir,
        Options {
            master_key: Some(KEY),
            durability: airlock_host::store::Durability::Normal,
            ..Options::default()
        },
    )
    .unwrap()
}

fn backup_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("backups-out").join("one.backup")
}

#[test]
fn a_backup_taken_while_events_run_restores_and_verifies() {
    let (dir, airlock, _a) = host_with_a_copied_email();
    let out = tempfile::tempdir().unwrap();
    let file = backup_file(&out);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let cli = Actor::cli();
    let report = std::thread::scope(|s| {
        let events = s.spawn(|| {
            for i in 0..30 {
                let ticket = ticket(&format!("t-run-{i}"), "Busy", "x", "u-2");
                airlock
                    .handle_event(EventRequest::TicketCreated { ticket })
                    .unwrap();
            }
        });
        let report = airlock
            .admin(&cli)
            .backup(&file, BackupLock::MasterKey)
            .unwrap();
        events.join().unwrap();
        report
    });
    assert!(report.audit_size > 0 && report.files >= 3, "{report:?}");
    // Encrypted throughout: neither the email, nor the master key, nor SQLite's header.
    let bytes = std::fs::read(&file).unwrap();
    for needle in [
        EMAIL.as_bytes(),
        hex::encode(KEY).as_bytes(),
        b"SQLite format 3",
    ] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    // It never overwrites.
    assert!(
        airlock
            .admin(&cli)
            .backup(&file, BackupLock::MasterKey)
            .is_err()
    );

    let into = out.path().join("restored");
    let restored = restore(options(&file, &into, Some(dir.path()))).unwrap();
    assert_eq!(restored.audit_size, report.audit_size);
    assert!(restored.erasures_reapplied.is_empty());
    let back = reopen(&into);
    assert!(back.verify_audit(&Default::default()).unwrap().is_ok());
    assert!(back.store().count_audit().unwrap() > report.audit_size);
    let calls: Vec<String> = back
        .audit(&AuditFilter {
            after_seq: Some(report.audit_size),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.entry.call)
        .collect();
    assert_eq!(calls, ["admin.restore"]);
    // The person, the plugin's kv entry and the components came back.
    let export = back.admin(&cli).dsr_export("u-vip").unwrap();
    let live = airlock.admin(&cli).dsr_export("u-vip").unwrap();
    assert_eq!(export.kv.len(), 1);
    assert_eq!(export.kv[0].value, live.kv[0].value);
    assert!(!back.installations().unwrap().is_empty());
    // The live host recorded its backup.
    let records = airlock
        .audit(&AuditFilter {
            call: Some("admin.backup".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records[0].entry.details["sha256"], report.sha256);
}

#[test]
fn an_old_backup_restored_after_an_erasure_does_not_bring_the_person_back() {
    let (dir, airlock, _a) = host_with_a_copied_email();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("before-erasure.backup");
    let cli = Actor::cli();
    airlock
        .admin(&cli)
        .backup(&file, BackupLock::MasterKey)
        .unwrap();
    airlock.admin(&cli).dsr_erase("u-vip").unwrap();

    let into = out.path().join("restored");
    let restored = restore(options(&file, &into, Some(dir.path()))).unwrap();
    assert_eq!(restored.erasures_reapplied.len(), 1);
    assert_eq!(restored.erasures_reapplied[0].0, "u-vip");
    let back = reopen(&into);
    let again = back.admin(&cli).dsr_export("u-vip").unwrap();
    assert!(
        again.record.is_none() && again.tickets.is_empty() && again.kv.is_empty(),
        "{again:?}"
    );
    assert!(!again.accesses.is_empty(), "the audit trail stays");
    assert!(back.verify_audit(&Default::default()).unwrap().is_ok());
    assert_eq!(files_holding(&into, EMAIL), Vec::<String>::new());
    let erase = back
        .audit(&AuditFilter {
            call: Some("admin.dsr.erase".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        erase[0].entry.details.contains_key("reapplied_from"),
        "{erase:?}"
    );
}

#[test]
fn a_tampered_or_cut_backup_restores_nothing() {
    let (dir, airlock, _a) = host_with_a_copied_email();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("b.backup");
    airlock
        .admin(&Actor::cli())
        .backup(&file, BackupLock::MasterKey)
        .unwrap();
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    for (name, bytes) in [
        ("flipped", flipped),
        ("cut", good[..good.len() - 100].to_vec()),
        ("header only", good[..200.min(good.len())].to_vec()),
    ] {
        let bad = out.path().join(format!("{name}.backup"));
        std::fs::write(&bad, bytes).unwrap();
        let into = out.path().join(format!("into-{}", name.replace(' ', "-")));
        let err = format!(
            "{:#}",
            restore(options(&bad, &into, Some(dir.path()))).unwrap_err()
        );
        assert!(err.contains("nothing was restored"), "{name}: {err}");
        assert!(!into.exists(), "{name}: the target stays absent");
    }
    // No half-restored staging folder is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A non-empty target, the wrong master key, and another host's log are refused.
    let err = restore(options(&file, dir.path(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
    let mut wrong = options(&file, &out.path().join("w"), None);
    wrong.master_key = [1; 32];
    let err = format!("{:#}", restore(wrong).unwrap_err());
    assert!(err.contains("taken under the master key"), "{err}");
    let (other, _other_airlock) = open(config());
    _other_airlock.import(&fixture()).unwrap();
    let err = format!(
        "{:#}",
        restore(options(&file, &out.path().join("o"), Some(other.path()))).unwrap_err()
    );
    assert!(
        err.contains("not the one this backup was taken from"),
        "{err}"
    );
}

#[test]
fn a_passphrase_locks_the_backup_and_the_master_key_still_guards_sealed_values() {
    let (dir, airlock, _a) = host_with_a_copied_email();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("p.backup");
    airlock
        .admin(&Actor::cli())
        .backup(
            &file,
            BackupLock::Passphrase("correct horse battery".into()),
        )
        .unwrap();
    let err = format!(
        "{:#}",
        restore(options(&file, &out.path().join("a"), Some(dir.path()))).unwrap_err()
    );
    assert!(err.contains("locked by a passphrase"), "{err}");
    let mut right = options(&file, &out.path().join("b"), Some(dir.path()));
    right.passphrase = Some("correct horse battery".into());
    restore(right).unwrap();
    let back = reopen(&out.path().join("b"));
    assert_eq!(
        back.admin(&Actor::cli())
            .dsr_export("u-vip")
            .unwrap()
            .kv
            .len(),
        1
    );
}
