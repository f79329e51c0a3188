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
use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable that may hold the master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "AIRLOCK_MASTER_KEY";
/// The key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Prefix of a sealed value (version 1: base64 of nonce ‖ ciphertext).
const SEALED_PREFIX: &str = "aes256gcm:v1:";

/// The master key, loaded on first use.
pub struct MasterKey {
    file: Option<PathBuf>,
    key: OnceLock<Result<[u8; 32], String>>,
}

impl MasterKey {
    /// A key read from `AIRLOCK_MASTER_KEY`, or else from (or generated into) `file`.
    pub fn from_env_or_file(file: Option<PathBuf>) -> MasterKey {
        MasterKey {
            file,
            key: OnceLock::new(),
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
        let cell = OnceLock::new();
        let _ = cell.set(Ok(key));
        MasterKey {
            file: None,
            key: cell,
        }
    }

    fn key(&self) -> anyhow::Result<[u8; 32]> {
        self.key
            .get_or_init(|| load_key(self.file.as_ref()).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
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
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.key()?)
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    fn cipher(&self) -> anyhow::Result<Aes256Gcm> {
        Ok(Aes256Gcm::new(&self.key()?.into()))
    }

    /// Encrypts a secret for one installation's setting.
    pub fn seal(&self, installation: &str, name: &str, value: &str) -> anyhow::Result<String> {
        let aad = aad(installation, name);
        let out = seal_bytes(&self.cipher()?, aad.as_bytes(), value.as_bytes())
            .ok_or_else(|| anyhow::anyhow!("cannot encrypt secret `{name}`"))?;
        Ok(format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// Decrypts a sealed secret; fails (without detail) when it was tampered with, sealed
    /// under another key or for another installation or name.
    pub fn open(&self, installation: &str, name: &str, sealed: &str) -> anyhow::Result<String> {
        let fail = || anyhow::anyhow!("secret `{name}` cannot be decrypted with this master key");
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .ok_or_else(fail)?;
        let aad = aad(installation, name);
        let plain = open_bytes(&self.cipher()?, aad.as_bytes(), &bytes).ok_or_else(fail)?;
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

fn load_key(file: Option<&PathBuf>) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV)
        && !text.trim().is_empty()
    {
        return parse_hex_key(&text, MASTER_KEY_ENV);
    }
    let file = file.context("no master key: set AIRLOCK_MASTER_KEY")?;
    match std::fs::read_to_string(file) {
        Ok(text) => return parse_hex_key(&text, &file.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(mut f) => {
            std::io::Write::write_all(&mut f, hex::encode(key).as_bytes())?;
            f.sync_all()?;
            tracing::info!(file = %file.display(), "generated a master key for secrets");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            parse_hex_key(&std::fs::read_to_string(file)?, &file.display().to_string())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", file.display())),
    }
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
        let a = load_key(Some(&path)).unwrap();
        let b = load_key(Some(&path)).unwrap();
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
