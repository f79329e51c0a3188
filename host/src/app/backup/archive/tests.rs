//! The backup format against hostile files.
use super::*;

fn manifest(files: &[(&str, &[u8])]) -> Manifest {
    Manifest {
        airlock: "test".into(),
        master_fingerprint: "f".into(),
        audit_size: 1,
        head_hash: "h".into(),
        files: files
            .iter()
            .map(|(name, bytes)| Entry {
                name: name.to_string(),
                size: bytes.len() as u64,
                sha256: crate::blobs::sha256_hex(bytes),
            })
            .collect(),
    }
}

fn backup(unlock: &Unlock, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Vec::new(), unlock, "now".into()).unwrap();
    w.manifest(&manifest(files)).unwrap();
    for (_, bytes) in files {
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap()
}

fn restore(bytes: &[u8], unlock: &Unlock) -> io::Result<Vec<Vec<u8>>> {
    let mut r = ArchiveReader::new(bytes, unlock)?;
    let m = r.manifest()?;
    let mut out = Vec::new();
    for entry in &m.files {
        let mut file = Vec::new();
        r.copy_file(entry, &mut file)?;
        out.push(file);
    }
    r.finish()?;
    Ok(out)
}

fn master() -> Unlock {
    Unlock::Master(KeyMaterial::new([7; 32]))
}

#[test]
fn files_round_trip_across_chunk_boundaries() {
    let big: Vec<u8> = (0..(3 * CHUNK + 5)).map(|i| (i % 251) as u8).collect();
    let exact = vec![9u8; CHUNK - 4 - 40];
    for files in [
        vec![("airlock.db", big.as_slice()), ("redaction.key", &b""[..])],
        vec![("airlock.db", exact.as_slice())],
        vec![],
    ] {
        let bytes = backup(&master(), &files);
        let got = restore(&bytes, &master()).unwrap();
        let want: Vec<Vec<u8>> = files.iter().map(|(_, b)| b.to_vec()).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn any_changed_byte_a_cut_or_a_dropped_chunk_is_refused() {
    let big: Vec<u8> = (0..(2 * CHUNK + 100)).map(|i| (i % 7) as u8).collect();
    let bytes = backup(&master(), &[("airlock.db", &big)]);
    let header_len = bytes
        .iter()
        .skip(MAGIC.len())
        .position(|b| *b == b'\n')
        .unwrap()
        + MAGIC.len()
        + 1;
    // A flipped byte in the header, in each chunk, and in the last tag.
    for at in [
        MAGIC.len() + 3,
        header_len + 10,
        header_len + CHUNK + TAG + 1,
        bytes.len() - 1,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 1;
        assert!(
            restore(&bad, &master()).is_err(),
            "a flip at {at} went unnoticed"
        );
    }
    // Cut at a chunk boundary, cut mid-chunk, and a whole chunk dropped.
    let cut = header_len + CHUNK + TAG;
    assert!(restore(&bytes[..cut], &master()).is_err());
    assert!(restore(&bytes[..bytes.len() - 5], &master()).is_err());
    let mut dropped = bytes[..cut].to_vec();
    dropped.extend_from_slice(&bytes[cut + CHUNK + TAG..]);
    assert!(restore(&dropped, &master()).is_err());
    // Bytes appended after the end.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"more");
    assert!(restore(&longer, &master()).is_err());
}

#[test]
fn the_wrong_key_or_passphrase_says_so_and_opens_nothing() {
    let bytes = backup(&master(), &[("airlock.db", b"secret bytes")]);
    let err = restore(&bytes, &Unlock::Master(KeyMaterial::new([8; 32])))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("taken under the master key"), "{err}");
    let err = restore(&bytes, &Unlock::Passphrase("p".into()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("locked by the master key"), "{err}");

    let locked = Unlock::Passphrase("correct horse".into());
    let bytes = backup(&locked, &[("airlock.db", b"secret bytes")]);
    assert!(!bytes.windows(12).any(|w| w == b"secret bytes"));
    assert_eq!(
        restore(&bytes, &locked).unwrap(),
        [b"secret bytes".to_vec()]
    );
    let err = restore(&bytes, &Unlock::Passphrase("wrong".into()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("passphrase does not open"), "{err}");
}

#[test]
fn names_outside_the_layout_are_refused() {
    for bad in [
        "../x",
        "/etc/passwd",
        "components/../../x",
        ".hidden",
        "a/b",
        "components/x.wasm",
        "",
        "master.key",
        "airlock.db-audit-journal",
    ] {
        assert!(!safe_name(bad), "{bad}");
    }
    assert!(safe_name("airlock.db"));
    assert!(safe_name(&format!("components/{}.wasm", "a".repeat(64))));
    let bytes = backup(&master(), &[("../escape", b"x")]);
    let err = restore(&bytes, &master()).err().unwrap().to_string();
    assert!(err.contains("outside the data directory"), "{err}");
}
