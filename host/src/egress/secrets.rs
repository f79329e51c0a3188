//! Secrets: write-only installation settings, sealed at rest with AES-256-GCM under a
//! master key, and the `{{secret.NAME}}` placeholders plugins use to refer to them.
//!
//! The master key comes from `AIRLOCK_MASTER_KEY` (64 hex digits) or from
//! `<data-dir>/master.key`, which is generated (mode 0600) on first use. Secret values
//! never reach the plugin, the audit log, the logs or an error message.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use base64::Engine as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// The environment variable that may hold the master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "AIRLOCK_MASTER_KEY";
/// The key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Prefix of a sealed value (version 1: base64 of nonce ‖ ciphertext).
const SEALED_PREFIX: &str = "aes256gcm:v1:";

/// The master key, loaded on first use. It can be replaced while in use
/// ([`MasterKey::replace`], by a rotation): each seal or open takes the key of that moment.
pub struct MasterKey {
    file: Option<PathBuf>,
    state: RwLock<Option<Result<Loaded, String>>>,
}

/// A loaded master key and where it came from.
#[derive(Clone, Copy)]
struct Loaded {
    key: [u8; 32],
    from_env: bool,
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `AIRLOCK_MASTER_KEY`: a rotation cannot write it, the operator sets it.
    Env,
    /// A key file (normally `<data-dir>/master.key`).
    File(PathBuf),
    /// Given by the embedding program (tests): kept in memory only.
    Fixed,
}

impl MasterKey {
    /// A key read from `AIRLOCK_MASTER_KEY`, or else from (or generated into) `file`.
    pub fn from_env_or_file(file: Option<PathBuf>) -> MasterKey {
        MasterKey {
            file,
            state: RwLock::new(None),
        }
    }

    /// A fixed key (tests, embedding).
    ///
    /// ```
    /// use airlock_host::egress::secrets::MasterKey;
    /// let k = MasterKey::fixed([7; 32]);
    /// let sealed = k.seal("inst", "token", "s3cr3t").unwrap();
    /// assert!(!sealed.contains("s3cr3t"));
    /// assert_eq!(k.open("inst", "token", &sealed).unwrap(), "s3cr3t");
    /// // Bound to its installation and name.
    /// assert!(k.open("other", "token", &sealed).is_err());
    /// ```
    pub fn fixed(key: [u8; 32]) -> MasterKey {
        MasterKey {
            file: None,
            state: RwLock::new(Some(Ok(Loaded {
                key,
                from_env: false,
            }))),
        }
    }

    /// A key that fails every use with `reason` (what to fix): for what must stay sealed
    /// when its key does not open.
    pub fn locked(reason: &str) -> MasterKey {
        MasterKey {
            file: None,
            state: RwLock::new(Some(Err(reason.to_string()))),
        }
    }

    fn loaded(&self) -> anyhow::Result<Loaded> {
        if let Some(state) = &*self.state.read().unwrap_or_else(|p| p.into_inner()) {
            return state.clone().map_err(anyhow::Error::msg);
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state
            .get_or_insert_with(|| load_key(self.file.as_ref()).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    /// The key's material, for sealing under it.
    pub fn material(&self) -> anyhow::Result<KeyMaterial> {
        Ok(KeyMaterial(self.loaded()?.key))
    }

    /// Where the key comes from (loading it if need be).
    pub fn source(&self) -> anyhow::Result<KeySource> {
        let loaded = self.loaded()?;
        Ok(match (&self.file, loaded.from_env) {
            (_, true) => KeySource::Env,
            (Some(file), false) => KeySource::File(file.clone()),
            (None, false) => KeySource::Fixed,
        })
    }

    /// Uses `key` from now on (after a rotation has re-sealed everything under it).
    pub fn replace(&self, key: [u8; 32]) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let from_env = matches!(&*state, Some(Ok(l)) if l.from_env);
        *state = Some(Ok(Loaded { key, from_env }));
    }

    /// A key for one purpose, derived from the master key (HMAC-SHA256 of `purpose`), so
    /// no two uses share key material.
    ///
    /// ```
    /// use airlock_host::egress::secrets::MasterKey;
    /// let k = MasterKey::fixed([7; 32]);
    /// assert_ne!(k.derive("a").unwrap(), k.derive("b").unwrap());
    /// ```
    pub fn derive(&self, purpose: &str) -> anyhow::Result<[u8; 32]> {
        Ok(self.material()?.derive(purpose))
    }

    /// The key's fingerprint (16 hex digits): names it in messages and records without
    /// revealing it.
    pub fn fingerprint(&self) -> anyhow::Result<String> {
        Ok(self.material()?.fingerprint())
    }

    /// Encrypts a secret for one installation's setting.
    pub fn seal(&self, installation: &str, name: &str, value: &str) -> anyhow::Result<String> {
        self.material()?.seal(installation, name, value)
    }

    /// Decrypts a sealed secret; fails (without detail) when it was tampered with, sealed
    /// under another key or for another installation or name.
    pub fn open(&self, installation: &str, name: &str, sealed: &str) -> anyhow::Result<String> {
        self.material()?.open(installation, name, sealed)
    }
}

/// The material of one master key (an old one and a new one, during a rotation).
#[derive(Clone)]
pub struct KeyMaterial([u8; 32]);

impl KeyMaterial {
    /// The material of `key`.
    pub fn new(key: [u8; 32]) -> KeyMaterial {
        KeyMaterial(key)
    }

    /// The raw key (to store it in a key file).
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// See [`MasterKey::derive`].
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// See [`MasterKey::fingerprint`].
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.derive("airlock master key fingerprint v1")[..8])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// See [`MasterKey::seal`].
    pub fn seal(&self, installation: &str, name: &str, value: &str) -> anyhow::Result<String> {
        let aad = aad(installation, name);
        let out = seal_bytes(&self.cipher(), aad.as_bytes(), value.as_bytes())
            .ok_or_else(|| anyhow::anyhow!("cannot encrypt secret `{name}`"))?;
        Ok(format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// See [`MasterKey::open`].
    pub fn open(&self, installation: &str, name: &str, sealed: &str) -> anyhow::Result<String> {
        let fail = || anyhow::anyhow!("secret `{name}` cannot be decrypted with this master key");
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .ok_or_else(fail)?;
        let aad = aad(installation, name);
        let plain = open_bytes(&self.cipher(), aad.as_bytes(), &bytes).ok_or_else(fail)?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

/// Seals `plain` with AES-256-GCM, `aad` bound: a fresh 12-byte nonce, then the
/// ciphertext. Every sealed form in the data directory (secrets, data keys, kv entries,
/// helpdesk fields) is made by this.
pub fn seal_bytes(cipher: &Aes256Gcm, aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let nonce: [u8; 12] = rand::random();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    Some(out)
}

/// Opens what [`seal_bytes`] made under the same key and `aad`; `None` if it was changed,
/// is too short, or was sealed under another key or `aad`.
pub fn open_bytes(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() <= 12 {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(12);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

fn aad(installation: &str, name: &str) -> String {
    format!("airlock-secret\0{installation}\0{name}")
}

fn parse_hex_key(text: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
    let bytes = bytes.with_context(|| format!("{what} must be 64 hex digits (32 bytes)"))?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// The key in `AIRLOCK_MASTER_KEY`, if it is set.
pub fn env_key() -> anyhow::Result<Option<[u8; 32]>> {
    match std::env::var(MASTER_KEY_ENV) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(parse_hex_key(&text, MASTER_KEY_ENV)?)),
        _ => Ok(None),
    }
}

fn load_key(file: Option<&PathBuf>) -> anyhow::Result<Loaded> {
    if let Some(key) = env_key()? {
        return Ok(Loaded {
            key,
            from_env: true,
        });
    }
    let file = file.context("no master key: set AIRLOCK_MASTER_KEY")?;
    let key = load_key_file(file)?;
    Ok(Loaded {
        key,
        from_env: false,
    })
}

/// Reads the key in `file`, generating it (mode 0600) if there is none.
fn load_key_file(file: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(file) {
        Ok(text) => return parse_hex_key(&text, &file.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    let key: [u8; 32] = rand::random();
    match write_new_key_file(file, &key) {
        Ok(()) => {
            tracing::info!(file = %file.display(), "generated a master key for secrets");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(file),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", file.display())),
    }
}

/// The key (64 hex digits) in `file`.
pub fn read_key_file(file: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the key file {}", file.display()))?;
    parse_hex_key(&text, &file.display().to_string())
}

/// Writes `key` as 64 hex digits into a new file only its owner may read (mode 0600),
/// synced; fails if the file exists.
pub fn write_new_key_file(file: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    std::io::Write::write_all(&mut f, hex::encode(key).as_bytes())?;
    f.sync_all()
}

/// A `{{secret.NAME}}` placeholder found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The secret's name.
    pub name: String,
    /// Byte range of the whole placeholder.
    pub range: std::ops::Range<usize>,
}

/// Finds every `{{secret.NAME}}` in `text`. Anything that looks like an attempt at one
/// (`{{` followed by `secret`) but is malformed is an error, so no near-miss is sent on
/// literally. Names are 1-64 of `[A-Za-z0-9_-]`.
///
/// ```
/// use airlock_host::egress::secrets::placeholders;
/// let found = placeholders("Bearer {{secret.crm_token}}").unwrap();
/// assert_eq!(found[0].name, "crm_token");
/// assert!(placeholders("{{ secret.x }}").is_err());
/// assert!(placeholders("no secrets {{here}}").unwrap().is_empty());
/// ```
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find("{{") {
        let start = at + i;
        let after = &text[start + 2..];
        let trimmed = after.trim_start();
        if !trimmed.to_ascii_lowercase().starts_with("secret") {
            at = start + 2;
            continue;
        }
        let well_formed = after.strip_prefix("secret.").and_then(|rest| {
            let end = rest.find("}}")?;
            let name = &rest[..end];
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            ok.then(|| (name.to_string(), start + 2 + "secret.".len() + end + 2))
        });
        match well_formed {
            Some((name, end)) => {
                found.push(Placeholder {
                    name,
                    range: start..end,
                });
                at = end;
            }
            None => {
                return Err(
                    "a malformed secret placeholder; write exactly {{secret.NAME}}".to_string(),
                );
            }
        }
    }
    Ok(found)
}

/// The names of every placeholder in `text` (see [`placeholders`]).
pub fn names(text: &str) -> Result<BTreeSet<String>, String> {
    Ok(placeholders(text)?.into_iter().map(|p| p.name).collect())
}

/// Replaces every placeholder with its value from `lookup`.
///
/// ```
/// use airlock_host::egress::secrets::substitute;
/// let out = substitute("a {{secret.x}} b", &|n| (n == "x").then(|| "V".to_string())).unwrap();
/// assert_eq!(out, "a V b");
/// ```
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for p in placeholders(text)? {
        out.push_str(&text[last..p.range.start]);
        let value = lookup(&p.name).ok_or_else(|| format!("secret `{}` is not set", p.name))?;
        out.push_str(&value);
        last = p.range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// An `Authorization: Basic user:{{secret.NAME}}` value with its secrets substituted
/// becomes the standard base64 form; other values are returned as they are.
///
/// ```
/// use airlock_host::egress::secrets::basic_auth;
/// assert_eq!(basic_auth("authorization", "Basic api:pw"), "Basic YXBpOnB3");
/// assert_eq!(basic_auth("authorization", "Bearer t"), "Bearer t");
/// ```
pub fn basic_auth(header: &str, value: &str) -> String {
    match value.strip_prefix("Basic ") {
        Some(creds) if header.eq_ignore_ascii_case("authorization") && creds.contains(':') => {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            )
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_or_foreign_ciphertexts_do_not_open() {
        let k = MasterKey::fixed([1; 32]);
        let sealed = k.seal("i", "n", "value").unwrap();
        assert!(k.open("i", "other", &sealed).is_err());
        assert!(MasterKey::fixed([2; 32]).open("i", "n", &sealed).is_err());
        let mut bad = sealed.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(k.open("i", "n", &String::from_utf8(bad).unwrap()).is_err());
        // Each seal uses a fresh nonce.
        assert_ne!(sealed, k.seal("i", "n", "value").unwrap());
    }

    #[test]
    fn key_file_is_generated_once_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        let a = load_key_file(&path).unwrap();
        let b = load_key_file(&path).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        for bad in [
            "{{secret.}}",
            "{{secret.a b}}",
            "{{secret.x",
            "{{SECRET.x}}",
            "{{secretx}}",
        ] {
            assert!(placeholders(bad).is_err(), "{bad}");
        }
        let two = placeholders("{{secret.a}}/{{secret.b}}").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].range, 13..25);
    }
}
