//! The data directory: the database, installed components and the compiled-artifact
//! cache. Files are reached only through a cap-std [`Dir`] rooted there, so a name taken
//! from an upload cannot escape it.

use anyhow::Context;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// SHA-256 of `bytes`, as lowercase hex.
///
/// ```
/// assert_eq!(airlock_host::blobs::sha256_hex(b"").len(), 64);
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The data directory.
pub struct DataDir {
    path: PathBuf,
    root: Dir,
}

impl DataDir {
    /// Opens (creating if needed) a data directory and its `components/` and `cache/`.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create data directory {}", path.display()))?;
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .with_context(|| format!("cannot open data directory {}", path.display()))?;
        root.create_dir_all("components")?;
        root.create_dir_all("cache")?;
        let data = DataDir {
            path: path.to_path_buf(),
            root,
        };
        data.restrict()?;
        Ok(data)
    }

    /// Makes the directory the service's alone: folders 0700, files 0600 (the database,
    /// the audit journal, keys, tokens, components). Anything wider is narrowed, with a
    /// warning naming it. Run at open, and again once the store has made its files.
    pub fn restrict(&self) -> anyhow::Result<()> {
        restrict_tree(&self.path, 0)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.path.join("airlock.db")
    }

    /// The compiled-artifact cache folder.
    pub fn cache_dir(&self) -> anyhow::Result<Dir> {
        Ok(self.root.open_dir("cache")?)
    }

    /// Stores a component under its hash; returns the hash.
    pub fn put_component(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let sha = sha256_hex(bytes);
        let dir = self.root.open_dir("components")?;
        let name = format!("{sha}.wasm");
        if !dir.exists(&name) {
            let tmp = format!("{name}.tmp");
            dir.write(&tmp, bytes)?;
            dir.rename(&tmp, &dir, &name)?;
        }
        Ok(sha)
    }

    /// Reads a stored component by hash.
    pub fn component(&self, sha256: &str) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(
            sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
            "not a component hash"
        );
        let dir = self.root.open_dir("components")?;
        dir.read(format!("{sha256}.wasm"))
            .with_context(|| format!("component {sha256} is missing from the data directory"))
    }

    /// The audit checkpoint signer, its seed kept in
    /// [`KEY_FILE`](airlock_audit::checkpoint::KEY_FILE) (generated with mode 0600 on
    /// first use).
    pub fn checkpoint_signer(&self) -> anyhow::Result<airlock_audit::checkpoint::Signer25519> {
        use airlock_audit::checkpoint::{KEY_FILE, Signer25519};
        if let Some(text) = self.read_text(KEY_FILE) {
            let seed: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| {
                    format!("{KEY_FILE} in the data directory is not a 32-byte hex seed")
                })?;
            return Ok(Signer25519::from_seed(seed));
        }
        let seed: [u8; 32] = rand::random();
        self.write_secret(KEY_FILE, &hex::encode(seed))?;
        Ok(Signer25519::from_seed(seed))
    }

    /// Reads a small file at the root of the data directory, if present.
    pub fn read_text(&self, name: &str) -> Option<String> {
        self.root.read_to_string(name).ok()
    }

    /// Writes a small file at the root of the data directory.
    pub fn write_text(&self, name: &str, text: &str) -> anyhow::Result<()> {
        self.root.write(name, text)?;
        Ok(())
    }

    /// Writes a file only its owner may read (mode 0600): tokens and keys.
    pub fn write_secret(&self, name: &str, text: &str) -> anyhow::Result<()> {
        use cap_std::fs::OpenOptions;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = self
            .root
            .open_with(name, &options)
            .with_context(|| format!("cannot create {name} in the data directory"))?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }
}

/// Narrows `path` (a folder) and what is in it, `depth` levels down at most two.
#[cfg(unix)]
fn restrict_tree(path: &Path, depth: usize) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let narrow = |path: &Path, mode: u32| -> anyhow::Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let current = meta.permissions().mode() & 0o777;
        if current & !mode != 0 {
            tracing::info!(path = %path.display(), was = format!("{current:o}"), now = format!("{mode:o}"), "narrowed data directory permissions");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot restrict {}", path.display()))?;
        }
        Ok(())
    };
    narrow(path, 0o700)?;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() && depth < 2 {
            restrict_tree(&entry.path(), depth + 1)?;
        } else if file_type.is_file() {
            narrow(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_tree(_: &Path, _: usize) -> anyhow::Result<()> {
    Ok(())
}
