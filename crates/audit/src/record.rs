//! The append-only, hash-chained audit log.
//!
//! Every brokered call becomes one [`AuditEntry`]. The store seals entries into
//! [`AuditRecord`]s: it gives each a sequence number and time, and chains it to the
//! previous record with SHA-256 over a canonical, length-prefixed encoding. Records name
//! fields, ids and reasons, never data values.
//!
//! [`ChainVerifier`] recomputes the chain and names the first record that does not fit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The hash the first record chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `installation` of records the host writes about itself: admin actions, sign-ins,
/// pruning. Their `resource` names the target (an installation, user or token id) and
/// their `details` the actor.
pub const HOST_INSTALLATION: &str = "airlock";

/// Whether the broker allowed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The call went through (possibly with fields withheld).
    Allow,
    /// The call was refused.
    Deny,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// A field left out of a response, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Withheld {
    /// The field path.
    pub field: String,
    /// Why: `not declared in plugin.toml [data] read` or `not granted to this installation`.
    pub reason: String,
}

/// One brokered call, before the store seals it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The installation that made the call.
    pub installation: String,
    /// Its plugin's name.
    pub plugin: String,
    /// Its plugin's version.
    pub version: String,
    /// The invocation the call belongs to.
    pub invocation: String,
    /// The event being handled.
    pub event: String,
    /// The call, e.g. `helpdesk.get-ticket`.
    pub call: String,
    /// The resource id the call named (ticket, user, ... id), or empty.
    pub resource: String,
    /// Field paths returned to (or written by) the plugin.
    pub fields_returned: Vec<String>,
    /// Field paths held back, with reasons.
    pub fields_withheld: Vec<Withheld>,
    /// Allowed or denied.
    pub decision: Option<Decision>,
    /// Why, in words: `ok`, the denial reason, or the invocation's failure kind.
    pub reason: String,
    /// Values masked by the redaction step, counted by data class.
    pub redactions: BTreeMap<String, u32>,
    /// Capability-specific facts about the call (for egress: `destination`, `method`,
    /// `path`, `status`, `bytes_out`, `bytes_in`, `classes`). Names and numbers only,
    /// never data values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl AuditEntry {
    /// Whether the host wrote this record about itself ([`HOST_INSTALLATION`]), rather
    /// than about a plugin's call.
    pub fn is_host(&self) -> bool {
        self.installation == HOST_INSTALLATION && self.plugin.is_empty()
    }

    /// The bytes of text this entry holds: what it adds to the log, give or take the
    /// encoding's framing. Bounds what one invocation may write to the log.
    ///
    /// ```
    /// use airlock_audit::record::AuditEntry;
    /// let e = AuditEntry { call: "log.write".into(), reason: "ok".into(), ..Default::default() };
    /// assert_eq!(e.text_bytes(), "log.write".len() + "ok".len());
    /// ```
    pub fn text_bytes(&self) -> usize {
        let texts = [
            &self.installation,
            &self.plugin,
            &self.version,
            &self.invocation,
            &self.event,
            &self.call,
            &self.resource,
            &self.reason,
        ];
        texts.iter().map(|t| t.len()).sum::<usize>()
            + self.fields_returned.iter().map(String::len).sum::<usize>()
            + self
                .fields_withheld
                .iter()
                .map(|w| w.field.len() + w.reason.len())
                .sum::<usize>()
            + self.redactions.keys().map(|k| k.len() + 4).sum::<usize>()
            + self
                .details
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// A sealed audit record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// RFC 3339 UTC time of sealing.
    pub time: String,
    /// The call this record describes.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash (hex), or [`GENESIS_HASH`].
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash` and this record's canonical encoding.
    pub hash: String,
}

fn put_bytes(message: &mut Vec<u8>, bytes: &[u8]) {
    message.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    message.extend_from_slice(bytes);
}

/// The chain hash of a record with the given position, time and entry.
///
/// ```
/// use airlock_audit::record::{chain_hash, AuditEntry, GENESIS_HASH};
/// let e = AuditEntry { call: "helpdesk.get-ticket".into(), ..Default::default() };
/// let a = chain_hash(GENESIS_HASH, 1, "2026-01-01T00:00:00Z", &e);
/// let b = chain_hash(GENESIS_HASH, 2, "2026-01-01T00:00:00Z", &e);
/// assert_ne!(a, b);
/// ```
pub fn chain_hash(prev_hash: &str, seq: u64, time: &str, e: &AuditEntry) -> String {
    to_hex(&chain_hash_with(
        prev_hash,
        seq,
        time,
        e,
        &JsonFields::of(e),
    ))
}

/// The compact JSON text of an entry's list and map fields: their canonical encoding,
/// and exactly what stores keep.
#[derive(Debug, Clone)]
pub struct JsonFields {
    /// `fields_returned`.
    pub returned: String,
    /// `fields_withheld`.
    pub withheld: String,
    /// `redactions`.
    pub redactions: String,
    /// `details`.
    pub details: String,
}

impl JsonFields {
    /// Encodes an entry's list and map fields.
    pub fn of(e: &AuditEntry) -> JsonFields {
        fn json<T: Serialize>(value: &T) -> String {
            serde_json::to_string(value).expect("lists and maps of strings always serialize")
        }
        JsonFields {
            returned: json(&e.fields_returned),
            withheld: json(&e.fields_withheld),
            redactions: json(&e.redactions),
            details: json(&e.details),
        }
    }
}

fn chain_hash_with(
    prev_hash: &str,
    seq: u64,
    time: &str,
    e: &AuditEntry,
    j: &JsonFields,
) -> [u8; 32] {
    let parts: CanonicalParts<'_> = [
        time.as_bytes(),
        e.installation.as_bytes(),
        e.plugin.as_bytes(),
        e.version.as_bytes(),
        e.invocation.as_bytes(),
        e.event.as_bytes(),
        e.call.as_bytes(),
        e.resource.as_bytes(),
        j.returned.as_bytes(),
        j.withheld.as_bytes(),
        e.decision.map_or("", Decision::as_str).as_bytes(),
        e.reason.as_bytes(),
        j.redactions.as_bytes(),
        j.details.as_bytes(),
    ];
    chain_digest(prev_hash.as_bytes(), seq, &parts)
}

fn to_hex(digest: &[u8; 32]) -> String {
    let mut text = [0u8; 64];
    hex::encode_to_slice(digest, &mut text).expect("64 bytes of hex");
    std::str::from_utf8(&text).expect("hex is ASCII").to_owned()
}

/// A record's fields in canonical order, as stored: time, installation, plugin,
/// version, invocation, event, call, resource, fields_returned, fields_withheld,
/// decision, reason, redactions, details. Lists and maps are their compact JSON text.
pub type CanonicalParts<'a> = [&'a [u8]; 14];

/// SHA-256 over the previous hash, the sequence number and the length-prefixed parts.
pub fn chain_digest(prev_hash: &[u8], seq: u64, parts: &CanonicalParts<'_>) -> [u8; 32] {
    thread_local! {
        // The message is assembled whole, then hashed in one pass: many small hasher
        // updates cost more than the copy.
        static MESSAGE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MESSAGE.with_borrow_mut(|message| {
        message.clear();
        message.extend_from_slice(b"airlock-audit-v2");
        put_bytes(message, prev_hash);
        message.extend_from_slice(&seq.to_le_bytes());
        for part in parts {
            put_bytes(message, part);
        }
        Sha256::digest(message.as_slice()).into()
    })
}

/// Seals an entry as the record after `prev` (or the first record).
pub fn seal(prev: Option<(u64, &str)>, time: String, entry: AuditEntry) -> AuditRecord {
    let json = JsonFields::of(&entry);
    seal_encoded(prev, time, entry, &json)
}

/// [`seal`], given the entry's JSON encoding ([`JsonFields::of`]), which a store
/// encodes once, before it takes its writer, to keep as is.
pub fn seal_encoded(
    prev: Option<(u64, &str)>,
    time: String,
    entry: AuditEntry,
    json: &JsonFields,
) -> AuditRecord {
    seal_with_digest(prev, time, entry, json).0
}

/// [`seal_encoded`], also returning the record's hash as bytes.
pub fn seal_with_digest(
    prev: Option<(u64, &str)>,
    time: String,
    entry: AuditEntry,
    json: &JsonFields,
) -> (AuditRecord, [u8; 32]) {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, hash.to_string()),
        None => (1, GENESIS_HASH.to_string()),
    };
    let digest = chain_hash_with(&prev_hash, seq, &time, &entry, json);
    let record = AuditRecord {
        seq,
        time,
        entry,
        prev_hash,
        hash: to_hex(&digest),
    };
    (record, digest)
}

/// What is wrong with the log, at the first record that does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    /// The sequence number expected at this position.
    pub expected_seq: u64,
    /// The sequence number found there (equal to `expected_seq` unless rows are missing
    /// or reordered).
    pub found_seq: u64,
    /// What does not match.
    pub problem: String,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit record {}: {}", self.found_seq, self.problem)
    }
}

impl std::error::Error for ChainError {}

/// Checks records in storage order, one at a time.
///
/// ```
/// use airlock_audit::record::{seal, AuditEntry, ChainVerifier};
/// let a = seal(None, "t".into(), AuditEntry::default());
/// let b = seal(Some((a.seq, &a.hash)), "t".into(), AuditEntry::default());
/// let mut v = ChainVerifier::default();
/// v.check(&a).unwrap();
/// v.check(&b).unwrap();
/// assert_eq!(v.count(), 2);
/// ```
#[derive(Debug)]
pub struct ChainVerifier {
    /// The sequence number and previous hash the next record must carry.
    next: (u64, String),
    /// Whether `next` follows a record that passed (or was resumed after).
    after_record: bool,
}

impl Default for ChainVerifier {
    fn default() -> ChainVerifier {
        ChainVerifier::expecting(1, GENESIS_HASH.to_string())
    }
}

impl ChainVerifier {
    /// A verifier that resumes after record `seq` with chain hash `hash` (the last
    /// record removed by retention, or the end of an already checked slice).
    pub fn resume(seq: u64, hash: String) -> ChainVerifier {
        ChainVerifier {
            next: (seq + 1, hash),
            after_record: true,
        }
    }

    /// A verifier whose first record must carry `seq` and `prev_hash`: the start of a
    /// slice of the log checked on its own, whose link to the slice before it is
    /// checked afterwards with [`ChainVerifier::check_link`].
    pub fn expecting(seq: u64, prev_hash: String) -> ChainVerifier {
        ChainVerifier {
            next: (seq, prev_hash),
            after_record: false,
        }
    }

    /// Checks the next record against the chain so far.
    pub fn check(&mut self, r: &AuditRecord) -> Result<(), ChainError> {
        let computed = chain_hash(&r.prev_hash, r.seq, &r.time, &r.entry);
        self.check_hashes(r.seq, &r.prev_hash, &r.hash, computed.as_bytes())
    }

    /// Checks a record given as its stored parts, without decoding it (the fast path
    /// `airlock audit verify` takes). Returns the record's chain hash as bytes.
    pub fn check_raw(
        &mut self,
        seq: u64,
        parts: &CanonicalParts<'_>,
        prev_hash: &str,
        hash: &str,
    ) -> Result<[u8; 32], ChainError> {
        let digest = chain_digest(prev_hash.as_bytes(), seq, parts);
        let mut computed = [0u8; 64];
        hex::encode_to_slice(digest, &mut computed).expect("64 bytes of hex");
        self.check_hashes(seq, prev_hash, hash, &computed)?;
        Ok(digest)
    }

    /// Checks that a record with `seq` and `prev_hash` may come next: the sequence
    /// number follows on and the previous hash matches. Does not advance.
    pub fn check_link(&self, seq: u64, prev_hash: &str) -> Result<(), ChainError> {
        let (expected_seq, expected_prev) = (self.next.0, self.next.1.as_str());
        let fail = |problem: String| ChainError {
            expected_seq,
            found_seq: seq,
            problem,
        };
        if seq != expected_seq {
            return Err(fail(format!(
                "expected sequence number {expected_seq} here: records are missing or out of order"
            )));
        }
        if prev_hash != expected_prev {
            return Err(fail(
                "does not chain to the record before it (prev_hash mismatch)".into(),
            ));
        }
        Ok(())
    }

    fn check_hashes(
        &mut self,
        seq: u64,
        prev_hash: &str,
        hash: &str,
        computed: &[u8],
    ) -> Result<(), ChainError> {
        self.check_link(seq, prev_hash)?;
        if computed != hash.as_bytes() {
            return Err(ChainError {
                expected_seq: seq,
                found_seq: seq,
                problem: "its contents do not match its hash: it was edited".into(),
            });
        }
        self.next.0 = seq + 1;
        self.next.1.clear();
        self.next.1.push_str(hash);
        self.after_record = true;
        Ok(())
    }

    /// The last record that passed: its sequence number and chain hash.
    pub fn last(&self) -> Option<(u64, &str)> {
        self.after_record
            .then(|| (self.next.0 - 1, self.next.1.as_str()))
    }

    /// How many records passed (the last sequence number that passed, for a verifier
    /// that started at the first record).
    pub fn count(&self) -> u64 {
        self.last().map_or(0, |(seq, _)| seq)
    }
}

/// Filters for reading the audit log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only this installation.
    pub installation: Option<String>,
    /// Only this resource id.
    pub resource: Option<String>,
    /// Only this plugin (by name).
    #[serde(default)]
    pub plugin: Option<String>,
    /// Only records naming this field path, returned or withheld.
    #[serde(default)]
    pub field: Option<String>,
    /// Only allowed (`allow`) or denied (`deny`) calls.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Only this call, e.g. `helpdesk.get-user` or `http.request`.
    #[serde(default)]
    pub call: Option<String>,
    /// Only records at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only records before this RFC 3339 time.
    pub until: Option<String>,
    /// Only records of this actor (the `actor` detail of admin and sign-in records: a
    /// user name, `break-glass` or `cli`).
    #[serde(default)]
    pub actor: Option<String>,
    /// Only records of this invocation.
    #[serde(default)]
    pub invocation: Option<String>,
    /// Only records after this sequence number.
    pub after_seq: Option<u64>,
    /// At most this many records (default 100, at most 10,000).
    pub limit: Option<u32>,
}

/// The current time as RFC 3339 UTC with milliseconds; sortable as text.
pub fn now_rfc3339() -> String {
    rfc3339_millis(time::OffsetDateTime::now_utc())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a UTC time, written directly: format descriptions cost
/// more than the rest of sealing a record.
pub fn rfc3339_millis(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_format_description_writes_them() {
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for unix_ms in [
            0i128,
            1_764_400_000_123,
            1_767_225_599_999,
            253_402_300_799_000,
        ] {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(unix_ms * 1_000_000).unwrap();
            assert_eq!(rfc3339_millis(t), t.format(&fmt).unwrap());
        }
        assert_eq!(now_rfc3339().len(), 24);
    }

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let e = AuditEntry {
                call: format!("call-{i}"),
                decision: Some(Decision::Allow),
                ..Default::default()
            };
            let prev = out.last().map(|r| (r.seq, r.hash.as_str()));
            out.push(seal(prev, now_rfc3339(), e));
        }
        out
    }

    fn verify(records: &[AuditRecord]) -> Result<u64, ChainError> {
        let mut v = ChainVerifier::default();
        for r in records {
            v.check(r)?;
        }
        Ok(v.count())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)).unwrap(), 5);
    }

    #[test]
    fn edit_delete_and_swap_are_named() {
        let mut edited = chain(5);
        edited[2].entry.resource = "t-9".into();
        assert_eq!(verify(&edited).unwrap_err().found_seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(verify(&deleted).unwrap_err().found_seq, 3);

        let mut swapped = chain(5);
        swapped.swap(1, 3);
        assert_eq!(verify(&swapped).unwrap_err().found_seq, 4);
    }
}
