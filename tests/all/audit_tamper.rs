//! Editing, deleting or reordering any audit row makes `airlock audit verify` fail and
//! name the row.

use crate::support::{TestHost, ticket};
use std::path::Path;
use std::process::Command;

/// A data directory with a few invocations' worth of audit records; returns the count.
fn audited_dir() -> (tempfile::TempDir, i64) {
    let host = TestHost::new();
    host.install(
        "pii-probe",
        &["ticket.subject", "ticket.requester_id", "requester.email"],
        &[],
    );
    for i in 0..3 {
        host.ticket_created(ticket(&format!("t-{i}"), "s", "d", "u-2"));
    }
    let TestHost { dir, airlock } = host;
    drop(airlock);
    let n = sql(dir.path())
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    (dir, n)
}

fn sql(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("airlock.db")).unwrap()
}

fn verify(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--data-dir"])
        .arg(dir)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn intact_log_verifies() {
    let (dir, n) = audited_dir();
    assert!(n >= 10, "expected several records, got {n}");
    let (ok, text) = verify(dir.path());
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{n} records verified")), "{text}");
}

#[test]
fn every_edit_is_detected_at_its_row() {
    let (dir, n) = audited_dir();
    let columns = [
        "time",
        "installation",
        "call",
        "resource",
        "fields_returned",
        "fields_withheld",
        "decision",
        "reason",
    ];
    for seq in 1..=n {
        let column = columns[(seq as usize) % columns.len()];
        let conn = sql(dir.path());
        let original: String = conn
            .query_row(
                &format!("SELECT {column} FROM audit WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .unwrap();
        conn.execute(
            &format!("UPDATE audit SET {column} = {column} || 'x' WHERE seq = ?1"),
            [seq],
        )
        .unwrap();
        let (ok, text) = verify(dir.path());
        assert!(!ok, "edit of {column} at {seq} went unnoticed");
        assert!(
            text.contains(&format!("seq {seq}:")),
            "edit at {seq}: {text}"
        );
        conn.execute(
            &format!("UPDATE audit SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![original, seq],
        )
        .unwrap();
    }
    assert!(
        verify(dir.path()).0,
        "restoring every edit restores the chain"
    );
}

#[test]
fn a_deleted_row_is_detected() {
    let (dir, n) = audited_dir();
    let victim = n / 2;
    sql(dir.path())
        .execute("DELETE FROM audit WHERE seq = ?1", [victim])
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(
        text.contains(&format!("first bad record is seq {victim}:")),
        "{text}"
    );
    assert!(
        text.contains(&format!("expected sequence number {victim}")),
        "{text}"
    );
}

#[test]
fn reordered_rows_are_detected() {
    let (dir, _) = audited_dir();
    let conn = sql(dir.path());
    // Swap the whole contents of rows 3 and 4 (by storage position).
    conn.execute_batch(
        "UPDATE audit SET seq = -1 WHERE seq = 3;
         UPDATE audit SET seq = 3, time = time WHERE seq = 4;
         UPDATE audit SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(text.contains("first bad record is seq 3:"), "{text}");

    // A reorder keeping each row intact: move row 2 to the end of the log.
    let (dir, _) = audited_dir();
    let conn = sql(dir.path());
    conn.execute_batch("UPDATE audit SET seq = (SELECT MAX(seq) + 1 FROM audit) WHERE seq = 2")
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(
        text.contains("first bad record is seq 2:") && text.contains("expected sequence number 2"),
        "{text}"
    );
}
