//! Evidence bundles: a directory of files an auditor checks on their own machine, with
//! nothing but the directory (and, ideally, the host's public key, pinned earlier).
//!
//! The host writes each file through a [`BundleWriter`], which keeps its SHA-256, and
//! finishes with `MANIFEST.json` (format, time, period, the host's public key and every
//! file's digest) and `MANIFEST.sig`, an ed25519 signature by the host's checkpoint key
//! over a domain-separated digest of the manifest ([`signed_message`]).
//!
//! [`verify_bundle`] checks, failing at the first problem and naming it:
//! 1. the manifest's signature (against a pinned key when given);
//! 2. that every file is listed, every listed file is present, and each digest matches
//!    (a file added, removed or edited after signing fails);
//! 3. `public-key.txt` is the manifest's key;
//! 4. every checkpoint in `checkpoints.jsonl` is signed by that key, with sizes that
//!    only grow;
//! 5. when the bundle holds the log (`audit.jsonl`), its hash chain and every checkpoint
//!    it covers ([`crate::offline::verify_export`]).

use crate::checkpoint::{Checkpoint, Signer25519, parse_public_key};
use crate::offline::{OfflineReport, verify_export};
use crate::record::AuditRecord;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The bundle format, in the manifest and the signed message.
pub const FORMAT: &str = "airlock-evidence-v1";
/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.json";
/// The signature's file name (hex).
pub const SIGNATURE: &str = "MANIFEST.sig";
/// The signed checkpoints, one JSON object per line.
pub const CHECKPOINTS: &str = "checkpoints.jsonl";
/// The host's public key (hex).
pub const PUBLIC_KEY: &str = "public-key.txt";
/// The audit log, when the bundle includes it (JSON Lines, as `audit export`).
pub const LOG: &str = "audit.jsonl";

/// The period a bundle's summaries cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// From (RFC 3339 UTC).
    pub since: String,
    /// Until (RFC 3339 UTC).
    pub until: String,
}

/// `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// When the bundle was written.
    pub created_at: String,
    /// The period its summaries cover.
    pub period: Period,
    /// The host's checkpoint key (hex), which signed the manifest and the checkpoints.
    pub host_public_key: String,
    /// Every other file of the bundle, by name, with its SHA-256 (hex).
    pub files: BTreeMap<String, String>,
}

/// The bytes the manifest's signature covers: the format tag and the manifest's SHA-256,
/// so that a signature over a manifest can never pass for a checkpoint's.
pub fn signed_message(manifest: &[u8]) -> Vec<u8> {
    format!("{FORMAT}\n{}\n", hex::encode(Sha256::digest(manifest))).into_bytes()
}

/// Whether `name` may be a bundle file: a plain name of lower-case letters, digits, `-`,
/// `_` and `.`, not starting with a dot.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// Writes a bundle's files, then its signed manifest.
pub struct BundleWriter {
    dir: PathBuf,
    files: BTreeMap<String, String>,
}

impl BundleWriter {
    /// Starts a bundle in `dir`, which must not exist or be empty (a bundle never mixes
    /// with other files).
    pub fn create(dir: &Path) -> io::Result<BundleWriter> {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not empty; choose a new directory for the bundle",
                    dir.display()
                ),
            ));
        }
        std::fs::create_dir_all(dir)?;
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        })
    }

    /// Writes one file and keeps its digest.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        assert!(plain_name(name), "bundle file names are plain: {name}");
        std::fs::write(self.dir.join(name), bytes)?;
        self.files
            .insert(name.to_string(), hex::encode(Sha256::digest(bytes)));
        Ok(())
    }

    /// Writes one value as pretty JSON.
    pub fn write_json(&mut self, name: &str, value: &impl Serialize) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.write(name, &bytes)
    }

    /// Writes the public key and the checkpoints, then signs and writes the manifest.
    pub fn finish(
        mut self,
        signer: &Signer25519,
        checkpoints: &[Checkpoint],
        created_at: String,
        period: Period,
    ) -> io::Result<Manifest> {
        let key = signer.public_key_hex();
        self.write(PUBLIC_KEY, format!("{key}\n").as_bytes())?;
        let mut lines = Vec::new();
        for cp in checkpoints {
            serde_json::to_writer(&mut lines, cp).map_err(io::Error::other)?;
            lines.push(b'\n');
        }
        self.write(CHECKPOINTS, &lines)?;
        let manifest = Manifest {
            format: FORMAT.into(),
            created_at,
            period,
            host_public_key: key,
            files: std::mem::take(&mut self.files),
        };
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        std::fs::write(self.dir.join(MANIFEST), &bytes)?;
        let signature = signer.sign_raw(&signed_message(&bytes));
        std::fs::write(
            self.dir.join(SIGNATURE),
            format!("{}\n", hex::encode(signature)),
        )?;
        Ok(manifest)
    }
}

/// What a verified bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    /// The verified manifest.
    pub manifest: Manifest,
    /// Checkpoints whose signature verified.
    pub checkpoints: usize,
    /// The log's check, when the bundle holds the log.
    pub log: Option<OfflineReport>,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(name)).map_err(|e| format!("{name}: cannot read it: {e}"))
}

fn json_lines<T: serde::de::DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<Vec<T>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{name} line {}: {e}", i + 1)))
        .collect()
}

/// Checks the manifest's signature; returns the manifest and the key that signed it.
fn signed_manifest(
    dir: &Path,
    trusted: Option<&VerifyingKey>,
) -> Result<(Manifest, VerifyingKey), String> {
    let bytes = read(dir, MANIFEST)?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST} is not a manifest: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!("{MANIFEST}: format is not {FORMAT}"));
    }
    let key = parse_public_key(&manifest.host_public_key)
        .map_err(|e| format!("{MANIFEST}: host_public_key: {e}"))?;
    if let Some(t) = trusted
        && t != &key
    {
        return Err(format!(
            "{MANIFEST} names a host key other than the trusted one: this bundle is not from that host"
        ));
    }
    let signature = read(dir, SIGNATURE)?;
    let signature: [u8; 64] = hex::decode(String::from_utf8_lossy(&signature).trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(format!("{SIGNATURE} is not 64 bytes of hex"))?;
    key.verify(&signed_message(&bytes), &Signature::from_bytes(&signature))
        .map_err(|_| format!("{SIGNATURE} does not match {MANIFEST}: the manifest was changed after signing, or signed by another key"))?;
    Ok((manifest, key))
}

/// Checks that the directory holds exactly the listed files, each with its digest.
fn listed_files(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MANIFEST && name != SIGNATURE && !manifest.files.contains_key(&name) {
            return Err(format!(
                "{name} is not in the manifest: it was added after signing"
            ));
        }
    }
    for (name, digest) in &manifest.files {
        if !plain_name(name) {
            return Err(format!("{MANIFEST} lists a file name that is not plain"));
        }
        let bytes = read(dir, name)?;
        if &hex::encode(Sha256::digest(&bytes)) != digest {
            return Err(format!(
                "{name} does not match its digest: it was changed after signing"
            ));
        }
    }
    Ok(())
}

/// Verifies a bundle; see the module documentation for what is checked.
///
/// ```
/// use airlock_audit::checkpoint::Signer25519;
/// use airlock_audit::evidence::{BundleWriter, Period, verify_bundle};
/// let dir = std::env::temp_dir().join(format!("evidence-doc-{}", std::process::id()));
/// let signer = Signer25519::from_seed([3; 32]);
/// let mut bundle = BundleWriter::create(&dir).unwrap();
/// bundle.write_json("grants.json", &serde_json::json!({"inst-1": ["ticket.subject"]})).unwrap();
/// let period = Period { since: "2026-01-01T00:00:00Z".into(), until: "2026-04-01T00:00:00Z".into() };
/// bundle.finish(&signer, &[], "2026-04-01T00:00:00Z".into(), period).unwrap();
/// assert!(verify_bundle(&dir, None).is_ok());
/// std::fs::write(dir.join("grants.json"), "{}").unwrap();
/// assert!(verify_bundle(&dir, None).unwrap_err().contains("grants.json"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn verify_bundle(dir: &Path, trusted: Option<&VerifyingKey>) -> Result<BundleReport, String> {
    let (manifest, key) = signed_manifest(dir, trusted)?;
    listed_files(dir, &manifest)?;
    let listed = |name: &str| {
        manifest
            .files
            .contains_key(name)
            .then_some(())
            .ok_or(format!("{name} is missing from the manifest"))
    };
    listed(PUBLIC_KEY)?;
    if String::from_utf8_lossy(&read(dir, PUBLIC_KEY)?).trim() != manifest.host_public_key {
        return Err(format!(
            "{PUBLIC_KEY} is not the key that signed {MANIFEST}"
        ));
    }
    listed(CHECKPOINTS)?;
    let checkpoints: Vec<Checkpoint> = json_lines(CHECKPOINTS, &read(dir, CHECKPOINTS)?)?;
    let mut last = 0;
    for (i, cp) in checkpoints.iter().enumerate() {
        cp.verify_signature(Some(&key))
            .map_err(|e| format!("{CHECKPOINTS} line {}: {e}", i + 1))?;
        if cp.size <= last {
            return Err(format!(
                "{CHECKPOINTS} line {}: the log shrank or repeated (size {} after {last})",
                i + 1,
                cp.size
            ));
        }
        last = cp.size;
    }
    let log = match manifest.files.contains_key(LOG) {
        false => None,
        true => {
            let records: Vec<AuditRecord> = json_lines(LOG, &read(dir, LOG)?)?;
            Some(
                verify_export(records, &checkpoints, Some(&key))
                    .map_err(|e| format!("{LOG}: {e}"))?,
            )
        }
    };
    Ok(BundleReport {
        checkpoints: checkpoints.len(),
        manifest,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AuditEntry, seal};

    fn bundle(with_log: bool) -> (tempfile::TempDir, Signer25519) {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer25519::from_seed([9; 32]);
        let path = dir.path().join("b");
        let mut w = BundleWriter::create(&path).unwrap();
        w.write_json("roles.json", &serde_json::json!({"root": "admin"}))
            .unwrap();
        let a = seal(
            None,
            "2026-01-01T00:00:00.000Z".into(),
            AuditEntry::default(),
        );
        let b = seal(
            Some((a.seq, &a.hash)),
            "2026-01-01T00:00:01.000Z".into(),
            AuditEntry::default(),
        );
        let mut frontier = crate::merkle::Frontier::default();
        for r in [&a, &b] {
            let d: [u8; 32] = hex::decode(&r.hash).unwrap().try_into().unwrap();
            frontier.push(crate::merkle::leaf_hash(&d));
        }
        let cp = signer.sign(
            2,
            hex::encode(frontier.root()),
            b.hash.clone(),
            b.time.clone(),
        );
        if with_log {
            let mut log = Vec::new();
            for r in [&a, &b] {
                serde_json::to_writer(&mut log, r).unwrap();
                log.push(b'\n');
            }
            w.write(LOG, &log).unwrap();
        }
        let period = Period {
            since: "2026-01-01T00:00:00Z".into(),
            until: "2026-01-02T00:00:00Z".into(),
        };
        w.finish(&signer, &[cp], "2026-01-02T00:00:00Z".into(), period)
            .unwrap();
        (dir, signer)
    }

    #[test]
    fn an_intact_bundle_verifies_against_its_pinned_key() {
        let (dir, signer) = bundle(true);
        let key = parse_public_key(&signer.public_key_hex()).unwrap();
        let report = verify_bundle(&dir.path().join("b"), Some(&key)).unwrap();
        assert_eq!(report.checkpoints, 1);
        assert_eq!(report.log.unwrap().checkpoints_matched, 1);
        let other = parse_public_key(&Signer25519::from_seed([1; 32]).public_key_hex()).unwrap();
        let e = verify_bundle(&dir.path().join("b"), Some(&other)).unwrap_err();
        assert!(e.contains("other than the trusted one"), "{e}");
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        type Tamper = fn(&Path);
        let cases: [(&str, Tamper); 6] = [
            ("roles.json does not match", |d| {
                std::fs::write(d.join("roles.json"), "{}").unwrap()
            }),
            ("not in the manifest", |d| {
                std::fs::write(d.join("extra.json"), "{}").unwrap()
            }),
            ("roles.json: cannot read", |d| {
                std::fs::remove_file(d.join("roles.json")).unwrap()
            }),
            ("does not match MANIFEST.json", |d| {
                let m = std::fs::read_to_string(d.join(MANIFEST)).unwrap();
                std::fs::write(
                    d.join(MANIFEST),
                    m.replace("2026-01-02T00:00:00Z", "2026-02-02T00:00:00Z"),
                )
                .unwrap()
            }),
            ("audit.jsonl", |d| {
                let log = std::fs::read_to_string(d.join(LOG)).unwrap();
                let first = log.lines().next().unwrap().to_string();
                std::fs::write(d.join(LOG), format!("{first}\n")).unwrap();
                // Re-sign nothing: the digest catches it before the chain would.
            }),
            ("MANIFEST.sig", |d| {
                std::fs::remove_file(d.join(SIGNATURE)).unwrap()
            }),
        ];
        for (expected, tamper) in cases {
            let (dir, _) = bundle(true);
            let path = dir.path().join("b");
            tamper(&path);
            let e = verify_bundle(&path, None).unwrap_err();
            assert!(e.contains(expected), "expected `{expected}` in: {e}");
        }
    }

    #[test]
    fn a_bundle_re_signed_by_another_key_fails_against_the_pinned_one() {
        let (dir, signer) = bundle(false);
        let path = dir.path().join("b");
        let forger = Signer25519::from_seed([5; 32]);
        let m = std::fs::read(path.join(MANIFEST)).unwrap();
        let mut manifest: Manifest = serde_json::from_slice(&m).unwrap();
        manifest.host_public_key = forger.public_key_hex();
        let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        std::fs::write(path.join(MANIFEST), &bytes).unwrap();
        let sig = hex::encode(forger.sign_raw(&signed_message(&bytes)));
        std::fs::write(path.join(SIGNATURE), sig).unwrap();
        let key = parse_public_key(&signer.public_key_hex()).unwrap();
        assert!(
            verify_bundle(&path, Some(&key))
                .unwrap_err()
                .contains("trusted")
        );
        // Unpinned, the forged key must also have signed the checkpoints and key file.
        let e = verify_bundle(&path, None).unwrap_err();
        assert!(e.contains(PUBLIC_KEY), "{e}");
    }
}
