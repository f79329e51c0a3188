//! Signed plugin bundles: one file holding a plugin's component and manifest, signed by
//! its vendor.
//!
//! A bundle is a JSON document ([`Bundle`]): the format tag, the `plugin.toml` text, the
//! component (base64) and a [`Seal`]. The seal is an ed25519 signature over a
//! domain-separated [`digest`]:
//!
//! ```text
//! SHA-256( "airlock-bundle-v1" 0x00
//!          len(name) name  len(version) version      (lengths: 8-byte big-endian)
//!          SHA-256(component)  SHA-256(manifest text) )
//! ```
//!
//! so a signature covers exactly one plugin name, version, component and manifest, and
//! cannot be replayed as a signature of anything else Airlock signs.
//!
//! **Trust.** [`Bundle::open`] checks that the bundle is well formed and that its
//! signature and endorsements are valid; it does not decide whom to trust. A host pins a
//! vendor's key on first install (the admin confirms its [`fingerprint`]); later
//! versions must be signed by a pinned key, or by a new key reached from a pinned one by
//! a chain of [`Endorsement`]s, each signed by the key before it ([`Opened::trust`]).
//!
//! ```
//! use airlock_bundle::{Bundle, VendorKey, Trust};
//! let manifest = "name = \"hello\"\nversion = \"1.0.0\"\nvendor = \"acme\"\n\
//!                 description = \"d\"\nevents = [\"ticket-created\"]\n[data]\nread = [\"ticket.subject\"]\n";
//! let key = VendorKey::generate();
//! let bundle = Bundle::pack(manifest, b"\0asm...".to_vec(), Some(&key)).unwrap();
//! let opened = Bundle::parse(&bundle.to_bytes()).unwrap().open().unwrap();
//! assert_eq!(opened.name, "hello");
//! let pinned = [key.public()];
//! assert!(matches!(opened.trust(&pinned).unwrap(), Trust::Pinned(_)));
//! ```

#![forbid(unsafe_code)]

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format tag, also the digest's domain separator.
pub const FORMAT: &str = "airlock-bundle-v1";
/// The domain separator of a key endorsement.
pub const ENDORSEMENT_TAG: &str = "airlock-vendor-key-endorsement-v1";
/// The largest bundle file accepted (the component is base64 inside it).
pub const MAX_BUNDLE_BYTES: usize = 96 << 20;
/// The longest endorsement chain accepted.
pub const MAX_ENDORSEMENTS: usize = 8;
/// The file name extension `airlock plugin pack` gives bundles.
pub const EXTENSION: &str = "airlock";

/// What is wrong with a bundle. Messages name the part, never its content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle at all, or a part of it is malformed.
    #[error("not a valid Airlock bundle: {0}")]
    Malformed(String),
    /// The manifest inside does not parse.
    #[error("the bundle's manifest is invalid: {0}")]
    Manifest(String),
    /// A signature does not verify: the bundle was changed after signing, or signed
    /// with another key than it names.
    #[error("the bundle's {0} does not verify: it was changed after it was signed")]
    BadSignature(&'static str),
    /// The bundle carries no signature.
    #[error("the bundle is not signed; sign it with `airlock plugin pack --key <vendor key>`")]
    Unsigned,
    /// Signed by a key not pinned for the vendor, and not endorsed by one.
    #[error(
        "the bundle is signed by key {fingerprint}, which is not pinned for vendor `{vendor}` and not endorsed by a pinned key"
    )]
    Untrusted {
        /// The vendor named by the manifest.
        vendor: String,
        /// The signing key's fingerprint.
        fingerprint: String,
    },
}

/// A vendor's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 32 bytes of hex.
    pub fn from_hex(text: &str) -> Result<PublicKey, BundleError> {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| BundleError::Malformed("a public key is not 32 bytes of hex".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| BundleError::Malformed("a public key is not an ed25519 point".into()))
    }

    /// The key as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// The fingerprint an admin confirms: see [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }

    fn verify(
        &self,
        message: &[u8],
        signature_hex: &str,
        what: &'static str,
    ) -> Result<(), BundleError> {
        let bytes: [u8; 64] = hex::decode(signature_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(BundleError::BadSignature(what))?;
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .map_err(|_| BundleError::BadSignature(what))
    }
}

/// `ed25519:` and the first 16 bytes of SHA-256 of the public key, in hex.
///
/// ```
/// assert_eq!(airlock_bundle::fingerprint(&[0; 32]).len(), "ed25519:".len() + 32);
/// ```
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    format!("ed25519:{}", hex::encode(&Sha256::digest(public_key)[..16]))
}

/// A vendor's signing key. Its seed is kept in a file only its owner reads.
pub struct VendorKey(SigningKey);

impl VendorKey {
    /// A new random key.
    pub fn generate() -> VendorKey {
        VendorKey(SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
    }

    /// The key from its seed file's text (32 bytes of hex).
    pub fn from_seed_hex(text: &str) -> Result<VendorKey, BundleError> {
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                BundleError::Malformed("a vendor key file holds 32 bytes of hex".into())
            })?;
        Ok(VendorKey(SigningKey::from_bytes(&seed)))
    }

    /// The seed as hex, for the key file.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Endorses `next` as this vendor's key: signed by this key, it lets hosts that pinned
    /// this key accept bundles signed by `next` (key rotation).
    pub fn endorse(&self, vendor: &str, next: &PublicKey) -> Endorsement {
        let message = endorsement_message(vendor, next);
        Endorsement {
            public_key: next.to_hex(),
            endorsed_by: self.public().to_hex(),
            signature: hex::encode(self.0.sign(&message).to_bytes()),
        }
    }
}

/// One link of a key rotation: `endorsed_by` vouches for `public_key` as the vendor's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endorsement {
    /// The new key (hex).
    pub public_key: String,
    /// The key that signed this endorsement (hex).
    pub endorsed_by: String,
    /// ed25519 signature (hex) by `endorsed_by` over the endorsement message.
    pub signature: String,
}

fn endorsement_message(vendor: &str, next: &PublicKey) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(ENDORSEMENT_TAG.as_bytes());
    m.push(0);
    put_text(&mut m, vendor);
    m.extend_from_slice(next.0.as_bytes());
    m
}

/// The signature part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The signing key (hex).
    pub public_key: String,
    /// ed25519 signature (hex) over the [`digest`].
    pub signature: String,
    /// The chain from a key hosts may have pinned to `public_key`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<Endorsement>,
}

/// A bundle file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The `plugin.toml` text.
    pub manifest: String,
    /// The component, base64.
    pub component: String,
    /// The vendor's signature; absent in an unsigned bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

/// The domain-separated digest a bundle's signature covers (see the crate docs).
pub fn digest(name: &str, version: &str, component: &[u8], manifest: &str) -> [u8; 32] {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(FORMAT.as_bytes());
    m.push(0);
    put_text(&mut m, name);
    put_text(&mut m, version);
    m.extend_from_slice(&Sha256::digest(component));
    m.extend_from_slice(&Sha256::digest(manifest.as_bytes()));
    Sha256::digest(&m).into()
}

fn put_text(m: &mut Vec<u8>, text: &str) {
    m.extend_from_slice(&(text.len() as u64).to_be_bytes());
    m.extend_from_slice(text.as_bytes());
}

/// A bundle whose parts are well formed and whose signatures verify.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The plugin's name, from its manifest.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// The `plugin.toml` text.
    pub manifest: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// SHA-256 of the component (hex).
    pub component_sha256: String,
    /// The signing key and the keys that endorsed it, oldest first; `None` if unsigned.
    pub signer: Option<SignedBy>,
}

/// Who signed an [`Opened`] bundle.
#[derive(Debug, Clone)]
pub struct SignedBy {
    /// The key that signed the digest.
    pub key: PublicKey,
    /// Keys that endorsed it, oldest first (each endorsed the next, the last `key`).
    pub endorsed_by: Vec<PublicKey>,
}

/// Why a signed bundle is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Its key is pinned.
    Pinned(PublicKey),
    /// Its key is new, endorsed (through the chain) by the pinned key `from`: pin it.
    Rotated {
        /// The pinned key the chain starts at.
        from: PublicKey,
        /// The new key to pin.
        to: PublicKey,
    },
}

impl Bundle {
    /// Makes a bundle of a manifest and a component, signed with `key` (unsigned if
    /// `None`). The manifest must parse.
    pub fn pack(
        manifest: &str,
        component: Vec<u8>,
        key: Option<&VendorKey>,
    ) -> Result<Bundle, BundleError> {
        let parsed = parse_manifest(manifest)?;
        let seal = key.map(|key| {
            let d = digest(&parsed.name, &parsed.version, &component, manifest);
            Seal {
                public_key: key.public().to_hex(),
                signature: hex::encode(key.0.sign(&d).to_bytes()),
                endorsements: Vec::new(),
            }
        });
        Ok(Bundle {
            format: FORMAT.into(),
            manifest: manifest.into(),
            component: base64::engine::general_purpose::STANDARD.encode(component),
            seal,
        })
    }

    /// Adds the endorsement chain that leads from a key hosts pinned to this bundle's
    /// signing key, oldest first.
    pub fn with_endorsements(mut self, chain: Vec<Endorsement>) -> Bundle {
        if let Some(seal) = &mut self.seal {
            seal.endorsements = chain;
        }
        self
    }

    /// Reads a bundle file.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Malformed(format!(
                "it is {} bytes, over the {MAX_BUNDLE_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| {
            BundleError::Malformed(format!(
                "it is not a bundle's JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if bundle.format != FORMAT {
            return Err(BundleError::Malformed(format!(
                "its format is not `{FORMAT}`"
            )));
        }
        Ok(bundle)
    }

    /// The bundle file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a bundle serializes")
    }

    /// Checks every part and every signature; see [`Opened`].
    pub fn open(&self) -> Result<Opened, BundleError> {
        let parsed = parse_manifest(&self.manifest)?;
        let component = base64::engine::general_purpose::STANDARD
            .decode(self.component.as_bytes())
            .map_err(|_| BundleError::Malformed("its component is not base64".into()))?;
        let signer = match &self.seal {
            None => None,
            Some(seal) => Some(check_seal(seal, &parsed, &component, &self.manifest)?),
        };
        Ok(Opened {
            name: parsed.name,
            version: parsed.version,
            vendor: parsed.vendor,
            manifest: self.manifest.clone(),
            component_sha256: hex::encode(Sha256::digest(&component)),
            component,
            signer,
        })
    }
}

fn check_seal(
    seal: &Seal,
    parsed: &airlock_core::manifest::Manifest,
    component: &[u8],
    manifest: &str,
) -> Result<SignedBy, BundleError> {
    let key = PublicKey::from_hex(&seal.public_key)?;
    let d = digest(&parsed.name, &parsed.version, component, manifest);
    key.verify(&d, &seal.signature, "signature")?;
    if seal.endorsements.len() > MAX_ENDORSEMENTS {
        return Err(BundleError::Malformed(format!(
            "it carries more than {MAX_ENDORSEMENTS} endorsements"
        )));
    }
    // Each endorsement vouches for the next key; the last one for the signing key.
    let mut endorsed_by = Vec::new();
    for (i, e) in seal.endorsements.iter().enumerate() {
        let by = PublicKey::from_hex(&e.endorsed_by)?;
        let next = PublicKey::from_hex(&e.public_key)?;
        let expected_next = match seal.endorsements.get(i + 1) {
            Some(later) => PublicKey::from_hex(&later.endorsed_by)?,
            None => key,
        };
        if next != expected_next {
            return Err(BundleError::Malformed(
                "its endorsements do not form a chain ending at the signing key".into(),
            ));
        }
        by.verify(
            &endorsement_message(&parsed.vendor, &next),
            &e.signature,
            "endorsement",
        )?;
        endorsed_by.push(by);
    }
    Ok(SignedBy { key, endorsed_by })
}

fn parse_manifest(text: &str) -> Result<airlock_core::manifest::Manifest, BundleError> {
    airlock_core::manifest::Manifest::parse("plugin.toml", text)
        .map_err(|e| BundleError::Manifest(e.to_string()))
}

impl Opened {
    /// Decides whether the bundle is trusted by a host that pinned `pinned` for its
    /// vendor: signed by a pinned key, or by a key endorsed through the chain by one.
    pub fn trust(&self, pinned: &[PublicKey]) -> Result<Trust, BundleError> {
        let signer = self.signer.as_ref().ok_or(BundleError::Unsigned)?;
        if pinned.contains(&signer.key) {
            return Ok(Trust::Pinned(signer.key));
        }
        // The latest pinned key in the chain: everything after it was endorsed by it.
        if let Some(from) = signer.endorsed_by.iter().rev().find(|k| pinned.contains(k)) {
            return Ok(Trust::Rotated {
                from: *from,
                to: signer.key,
            });
        }
        Err(BundleError::Untrusted {
            vendor: self.vendor.clone(),
            fingerprint: signer.key.fingerprint(),
        })
    }
}

#[cfg(test)]
mod tests;
