//! A reader that catches the monitor up sees every alert the records applied so far
//! raised, even while the thread that applied them is still storing the alert.

use super::*;
use airlock_host::audit::{AuditFilter as Filter, CanonicalParts};
use airlock_host::checkpoint::Checkpoint;
use airlock_host::installation::Installation;
use airlock_host::merkle::Hash;
use airlock_host::monitor::{Alert, Delivery, Monitor};
use airlock_host::store::{AlertStore, AuditStore, InstallationStore, SqliteStore, StoreResult};
use std::ops::Range;
use std::sync::mpsc;

/// The real SQLite store, whose alert inserts pause after saying they started.
struct SlowAlerts {
    store: SqliteStore,
    started: std::sync::Mutex<mpsc::Sender<()>>,
}

impl AlertStore for SlowAlerts {
    fn put_alert(&self, alert: &Alert) -> StoreResult<u64> {
        let _ = self.started.lock().unwrap().send(());
        std::thread::sleep(Duration::from_millis(300));
        self.store.put_alert(alert)
    }
    fn alerts(&self, query: &AlertQuery) -> StoreResult<Vec<Alert>> {
        self.store.alerts(query)
    }
    fn set_alert_delivery(&self, id: u64, delivery: &Delivery) -> StoreResult<()> {
        self.store.set_alert_delivery(id, delivery)
    }
    fn prune_alerts(&self, before: &str, limit: u32, dry_run: bool) -> StoreResult<u64> {
        self.store.prune_alerts(before, limit, dry_run)
    }
}

impl InstallationStore for SlowAlerts {
    fn put_installation(&self, installation: &Installation) -> StoreResult<()> {
        self.store.put_installation(installation)
    }
    fn installation(&self, id: &str) -> StoreResult<Option<Installation>> {
        self.store.installation(id)
    }
    fn installations(&self) -> StoreResult<Vec<Installation>> {
        self.store.installations()
    }
    fn installations_version(&self) -> StoreResult<u64> {
        self.store.installations_version()
    }
    fn update_installation(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Installation) -> bool,
    ) -> StoreResult<Option<Installation>> {
        self.store.update_installation(id, change)
    }
}

impl AuditStore for SlowAlerts {
    fn append(&self, entries: Vec<AuditEntry>) -> StoreResult<Vec<AuditRecord>> {
        self.store.append(entries)
    }
    fn query(&self, filter: &Filter) -> StoreResult<Vec<AuditRecord>> {
        self.store.query(filter)
    }
    fn count_audit(&self) -> StoreResult<u64> {
        self.store.count_audit()
    }
    fn audit_positions(&self) -> StoreResult<Range<u64>> {
        self.store.audit_positions()
    }
    fn scan_raw(
        &self,
        positions: Range<u64>,
        visit: &mut dyn FnMut(u64, &CanonicalParts<'_>, &str, &str) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.store.scan_raw(positions, visit)
    }
    fn pruned_hashes(&self) -> StoreResult<Vec<(u64, String)>> {
        self.store.pruned_hashes()
    }
    fn merkle_head(&self) -> StoreResult<(u64, Hash, String)> {
        self.store.merkle_head()
    }
    fn record_hashes(&self, seqs: Range<u64>) -> StoreResult<Vec<String>> {
        self.store.record_hashes(seqs)
    }
    fn tree_block(&self, block: u64) -> StoreResult<Option<Hash>> {
        self.store.tree_block(block)
    }
    fn put_tree_block(&self, block: u64, root: &Hash) -> StoreResult<()> {
        self.store.put_tree_block(block, root)
    }
    fn put_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        self.store.put_checkpoint(checkpoint)
    }
    fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.store.checkpoints()
    }
    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<Checkpoint>> {
        self.store.checkpoint_at(size)
    }
    fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        self.store.latest_checkpoint()
    }
    fn last_seq_before(&self, time: &str) -> StoreResult<u64> {
        self.store.last_seq_before(time)
    }
    fn prune_through(&self, seq: u64) -> StoreResult<u64> {
        self.store.prune_through(seq)
    }
}

/// The race CI once lost: the audit follower applied a restricted read and drafted its
/// alert, let go of the monitor, and only then stored the alert; a reader catching up in
/// between found nothing to apply and no alert. Drafting and storing are now one step
/// under the monitor's lock.
#[test]
fn a_reader_catching_up_waits_for_the_alerts_of_records_already_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (started, alert_started) = mpsc::channel();
    let store = Arc::new(SlowAlerts {
        store: SqliteStore::open(&dir.path().join("airlock.db")).unwrap(),
        started: std::sync::Mutex::new(started),
    });
    let monitor = Arc::new(Monitor::new(store.clone(), AlertConfig::default()));
    monitor.sync().unwrap();
    let records = store
        .append(vec![AuditEntry {
            installation: "nosy".into(),
            plugin: "nosy".into(),
            call: "helpdesk.get-user".into(),
            resource: "u-vip".into(),
            fields_returned: vec!["requester.notes".into()],
            decision: Some(Decision::Allow),
            reason: "ok".into(),
            ..Default::default()
        }])
        .unwrap();

    let follower = {
        let monitor = monitor.clone();
        std::thread::spawn(move || monitor.observe(&records).unwrap())
    };
    alert_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the follower drafts a restricted-read alert");
    // What Airlock::alerts does: catch up, then read the stored alerts.
    monitor.sync().unwrap();
    let seen = store.alerts(&AlertQuery::default()).unwrap();
    assert_eq!(seen.len(), 1, "the applied read's alert is not stored yet");
    assert_eq!(follower.join().unwrap().len(), 1);
}
