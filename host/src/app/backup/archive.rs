//! The backup file format.
//!
//! ```text
//! airlock-backup v1\n
//! {header JSON}\n          the file key, wrapped; the stream's nonce
//! chunk 0 … chunk n        AES-256-GCM in the STREAM construction (64 KiB each)
//! ```
//!
//! The payload (a length-prefixed manifest, then each file's bytes in its order) is
//! encrypted under a random file key, wrapped by the master key or by a key derived
//! from a passphrase (argon2id). Every chunk carries the header as associated data and
//! its own position, and the last is marked as last: a changed byte anywhere, a chunk
//! dropped, repeated or moved, and a file cut short each fail to open. Nothing is
//! trusted before it authenticates, and each file's SHA-256 is checked against the
//! manifest as well.

use crate::egress::secrets::KeyMaterial;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, Read, Write};

/// The first line of every backup file.
pub const MAGIC: &[u8] = b"airlock-backup v1\n";
/// Plaintext bytes per chunk.
const CHUNK: usize = 64 * 1024;
/// The AEAD tag each chunk adds.
const TAG: usize = 16;
/// The longest header line read.
const MAX_HEADER: u64 = 64 * 1024;
/// The longest manifest read.
const MAX_MANIFEST: u32 = 16 << 20;
/// What the file key is wrapped as.
const FILE_KEY: (&str, &str) = ("#backup", "file-key");

/// The plaintext header: how to unwrap the file key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// When the backup was taken (RFC 3339).
    pub created: String,
    /// How the file key is wrapped.
    pub key: KeyLock,
    /// The STREAM nonce prefix (7 bytes, hex).
    pub nonce: String,
}

/// How a backup's file key is wrapped.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyLock {
    /// By the master key with this fingerprint.
    Master {
        /// The master key's fingerprint.
        fingerprint: String,
        /// The wrapped file key.
        wrapped: String,
    },
    /// By a key derived from a passphrase with argon2id.
    Passphrase {
        /// The salt (hex).
        salt: String,
        /// Memory in KiB.
        m_cost: u32,
        /// Passes.
        t_cost: u32,
        /// Lanes.
        p_cost: u32,
        /// The wrapped file key.
        wrapped: String,
    },
}

/// What opens a backup.
pub enum Unlock {
    /// The master key.
    Master(KeyMaterial),
    /// A passphrase.
    Passphrase(String),
}

/// The first thing in the payload: what the backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The Airlock version that took it.
    pub airlock: String,
    /// The fingerprint of the master key the store's data keys are wrapped under.
    pub master_fingerprint: String,
    /// How many audit records the copied log holds.
    pub audit_size: u64,
    /// The hash of its last record.
    pub head_hash: String,
    /// The files, in the order their bytes follow.
    pub files: Vec<Entry>,
}

/// One file in a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its path in the data directory ([`safe_name`]).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// Whether `name` may name a file of a backup: the database, the checkpoint signing
/// key, the redaction key, or a component (`components/<sha256>.wasm`). Nothing else (no
/// `..`, no absolute path, never `master.key`) is ever written by a restore.
pub fn safe_name(name: &str) -> bool {
    match name.strip_prefix("components/") {
        Some(rest) => rest
            .strip_suffix(".wasm")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        None => [
            "airlock.db",
            crate::checkpoint::KEY_FILE,
            crate::redaction::KEY_FILE,
        ]
        .contains(&name),
    }
}

fn argon2(m_cost: u32, t_cost: u32, p_cost: u32) -> io::Result<argon2::Argon2<'static>> {
    let params = argon2::Params::new(m_cost, t_cost, p_cost, Some(32))
        .map_err(|e| invalid(format!("the backup's passphrase parameters: {e}")))?;
    Ok(argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

fn passphrase_key(
    passphrase: &str,
    salt: &[u8],
    hasher: &argon2::Argon2,
) -> io::Result<KeyMaterial> {
    let mut key = [0u8; 32];
    hasher
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| invalid(format!("cannot derive the passphrase key: {e}")))?;
    Ok(KeyMaterial::new(key))
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn damaged(what: &str) -> io::Error {
    invalid(format!(
        "the backup is damaged, cut short or was altered ({what}); nothing in it is trusted"
    ))
}

impl Header {
    /// A header for a fresh file key, wrapped as `unlock` says.
    fn new(unlock: &Unlock, file_key: &[u8; 32], created: String) -> io::Result<Header> {
        let wrap = |k: &KeyMaterial| {
            k.seal(FILE_KEY.0, FILE_KEY.1, &hex::encode(file_key))
                .map_err(|e| invalid(format!("{e:#}")))
        };
        let key = match unlock {
            Unlock::Master(master) => KeyLock::Master {
                fingerprint: master.fingerprint(),
                wrapped: wrap(master)?,
            },
            Unlock::Passphrase(passphrase) => {
                let salt: [u8; 16] = rand::random();
                let p = argon2::Params::DEFAULT;
                let hasher = argon2(p.m_cost(), p.t_cost(), p.p_cost())?;
                KeyLock::Passphrase {
                    salt: hex::encode(salt),
                    m_cost: p.m_cost(),
                    t_cost: p.t_cost(),
                    p_cost: p.p_cost(),
                    wrapped: wrap(&passphrase_key(passphrase, &salt, &hasher)?)?,
                }
            }
        };
        let nonce: [u8; 7] = rand::random();
        Ok(Header {
            created,
            key,
            nonce: hex::encode(nonce),
        })
    }

    /// The file key, unwrapped with `unlock`; a clear error when it is the wrong kind of
    /// key or the wrong key.
    fn file_key(&self, unlock: &Unlock) -> io::Result<[u8; 32]> {
        let (key, wrapped) = match (&self.key, unlock) {
            (
                KeyLock::Master {
                    fingerprint,
                    wrapped,
                },
                Unlock::Master(master),
            ) => {
                if *fingerprint != master.fingerprint() {
                    return Err(invalid(format!(
                        "this backup was taken under the master key {fingerprint}, not {} (the one given): give the key it was taken under",
                        master.fingerprint()
                    )));
                }
                (master.clone(), wrapped)
            }
            (
                KeyLock::Passphrase {
                    salt,
                    m_cost,
                    t_cost,
                    p_cost,
                    wrapped,
                },
                Unlock::Passphrase(p),
            ) => {
                let salt = hex::decode(salt).map_err(|_| damaged("its header"))?;
                let hasher = argon2(*m_cost, *t_cost, *p_cost)?;
                (passphrase_key(p, &salt, &hasher)?, wrapped)
            }
            (KeyLock::Master { .. }, Unlock::Passphrase(_)) => {
                return Err(invalid(
                    "this backup is locked by the master key, not a passphrase: give the master key",
                ));
            }
            (KeyLock::Passphrase { .. }, Unlock::Master(_)) => {
                return Err(invalid(
                    "this backup is locked by a passphrase: give it with --passphrase-env",
                ));
            }
        };
        let opened = key
            .open(FILE_KEY.0, FILE_KEY.1, wrapped)
            .map_err(|_| match unlock {
                Unlock::Passphrase(_) => invalid("the passphrase does not open this backup"),
                Unlock::Master(_) => damaged("its file key"),
            })?;
        hex::decode(opened)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| damaged("its file key"))
    }

    fn nonce(&self) -> io::Result<[u8; 7]> {
        hex::decode(&self.nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| damaged("its header"))
    }
}

/// Writes a backup: the header, then the encrypted payload written into it.
pub struct ArchiveWriter<W: Write> {
    out: W,
    aad: Vec<u8>,
    stream: Option<EncryptorBE32<Aes256Gcm>>,
    buf: Vec<u8>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts a backup in `out`, locked as `unlock` says.
    pub fn new(mut out: W, unlock: &Unlock, created: String) -> io::Result<ArchiveWriter<W>> {
        let file_key: [u8; 32] = rand::random();
        let header = Header::new(unlock, &file_key, created)?;
        let mut aad = MAGIC.to_vec();
        serde_json::to_writer(&mut aad, &header)?;
        aad.push(b'\n');
        out.write_all(&aad)?;
        let cipher = Aes256Gcm::new(&file_key.into());
        let stream = EncryptorBE32::from_aead(cipher, header.nonce()?.as_slice().into());
        Ok(ArchiveWriter {
            out,
            aad,
            stream: Some(stream),
            buf: Vec::with_capacity(CHUNK + TAG),
        })
    }

    /// Writes the manifest (first, before any file's bytes).
    pub fn manifest(&mut self, manifest: &Manifest) -> io::Result<()> {
        let json = serde_json::to_vec(manifest)?;
        self.write_all(&(json.len() as u32).to_be_bytes())?;
        self.write_all(&json)
    }

    fn seal_full_chunks(&mut self) -> io::Result<()> {
        // Strictly more than a chunk: the last chunk is sealed by `finish`, as last.
        while self.buf.len() > CHUNK {
            let rest = self.buf.split_off(CHUNK);
            let stream = self.stream.as_mut().expect("not finished");
            let sealed = stream
                .encrypt_next(aes_gcm::aead::Payload {
                    msg: &self.buf,
                    aad: &self.aad,
                })
                .map_err(|_| invalid("cannot encrypt the backup"))?;
            self.out.write_all(&sealed)?;
            self.buf = rest;
        }
        Ok(())
    }

    /// Seals the last chunk and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let stream = self.stream.take().expect("not finished");
        let sealed = stream
            .encrypt_last(aes_gcm::aead::Payload {
                msg: &self.buf,
                aad: &self.aad,
            })
            .map_err(|_| invalid("cannot encrypt the backup"))?;
        self.out.write_all(&sealed)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ArchiveWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.seal_full_chunks()?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a backup: its header, then the payload, authenticated chunk by chunk.
pub struct ArchiveReader<R: BufRead> {
    input: R,
    aad: Vec<u8>,
    stream: Option<DecryptorBE32<Aes256Gcm>>,
    plain: Vec<u8>,
    at: usize,
    chunk: u64,
}

/// Reads the header of a backup (the key lock, before any key is needed).
pub fn read_header<R: BufRead>(input: &mut R) -> io::Result<(Header, Vec<u8>)> {
    let mut magic = vec![0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .map_err(|_| invalid("not an Airlock backup (it is too short)"))?;
    if magic != MAGIC {
        return Err(invalid("not an Airlock backup (its first line is wrong)"));
    }
    let mut line = Vec::new();
    input.take(MAX_HEADER).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(damaged("its header"));
    }
    let header: Header = serde_json::from_slice(&line).map_err(|_| damaged("its header"))?;
    let mut aad = magic;
    aad.extend_from_slice(&line);
    Ok((header, aad))
}

impl<R: BufRead> ArchiveReader<R> {
    /// Opens a backup with `unlock`.
    pub fn new(mut input: R, unlock: &Unlock) -> io::Result<ArchiveReader<R>> {
        let (header, aad) = read_header(&mut input)?;
        let cipher = Aes256Gcm::new(&header.file_key(unlock)?.into());
        let stream = DecryptorBE32::from_aead(cipher, header.nonce()?.as_slice().into());
        Ok(ArchiveReader {
            input,
            aad,
            stream: Some(stream),
            plain: Vec::new(),
            at: 0,
            chunk: 0,
        })
    }

    /// Reads the manifest (first in the payload), refusing unsafe file names.
    pub fn manifest(&mut self) -> io::Result<Manifest> {
        let mut len = [0u8; 4];
        self.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len);
        if len > MAX_MANIFEST {
            return Err(damaged("its manifest"));
        }
        let mut json = vec![0u8; len as usize];
        self.read_exact(&mut json)?;
        let manifest: Manifest =
            serde_json::from_slice(&json).map_err(|_| damaged("its manifest"))?;
        if let Some(bad) = manifest.files.iter().find(|f| !safe_name(&f.name)) {
            let shown: String = bad.name.chars().take(100).collect();
            return Err(invalid(format!(
                "the backup names a file outside the data directory's layout: {shown:?}"
            )));
        }
        Ok(manifest)
    }

    /// Copies the next `entry`'s bytes into `out`, checking its size and SHA-256.
    pub fn copy_file(&mut self, entry: &Entry, out: &mut dyn Write) -> io::Result<()> {
        let mut hash = Sha256::new();
        let mut left = entry.size;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            self.read_exact(&mut buf[..want])?;
            hash.update(&buf[..want]);
            out.write_all(&buf[..want])?;
            left -= want as u64;
        }
        if hex::encode(hash.finalize()) != entry.sha256 {
            return Err(damaged(&format!("{} does not match its hash", entry.name)));
        }
        Ok(())
    }

    /// Fails unless the payload ends here, with its last chunk.
    pub fn finish(mut self) -> io::Result<()> {
        let mut rest = [0u8; 1];
        match self.read(&mut rest)? {
            0 => Ok(()),
            _ => Err(damaged("bytes after its last file")),
        }
    }

    /// Reads up to one sealed chunk; `(bytes, last)`.
    fn next_sealed(&mut self) -> io::Result<(Vec<u8>, bool)> {
        let mut sealed = Vec::with_capacity(CHUNK + TAG);
        (&mut self.input)
            .take((CHUNK + TAG) as u64)
            .read_to_end(&mut sealed)?;
        let last = self.input.fill_buf()?.is_empty();
        Ok((sealed, last))
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            return Ok(());
        }
        let (sealed, last) = self.next_sealed()?;
        let payload = aes_gcm::aead::Payload {
            msg: &sealed,
            aad: &self.aad,
        };
        let opened = match last {
            false => self.stream.as_mut().expect("checked").decrypt_next(payload),
            true => self.stream.take().expect("checked").decrypt_last(payload),
        };
        self.plain = opened.map_err(|_| damaged(&format!("chunk {}", self.chunk)))?;
        self.at = 0;
        self.chunk += 1;
        Ok(())
    }
}

impl<R: BufRead> Read for ArchiveReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.stream.is_none() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
