use super::*;

const MANIFEST: &str = "name = \"hello\"\nversion = \"1.0.0\"\nvendor = \"acme\"\n\
description = \"d\"\nevents = [\"ticket-created\"]\n[data]\nread = [\"ticket.subject\"]\n";

fn signed(key: &VendorKey) -> Bundle {
    Bundle::pack(MANIFEST, b"\0asm component bytes".to_vec(), Some(key)).unwrap()
}

/// Flips one bit of the part `edit` picks, keeping the bundle well formed.
fn flipped(bundle: &Bundle, edit: impl Fn(&mut Bundle)) -> Result<Opened, BundleError> {
    let mut b = bundle.clone();
    edit(&mut b);
    Bundle::parse(&b.to_bytes())?.open()
}

fn flip_base64(text: &str) -> String {
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    bytes[3] ^= 1;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn flip_hex(text: &str) -> String {
    let mut bytes = hex::decode(text).unwrap();
    bytes[5] ^= 1;
    hex::encode(bytes)
}

#[test]
fn one_flipped_bit_anywhere_is_refused() {
    let key = VendorKey::generate();
    let bundle = signed(&key);
    assert!(bundle.open().is_ok());
    let component = flipped(&bundle, |b| b.component = flip_base64(&b.component));
    assert_eq!(
        component.unwrap_err(),
        BundleError::BadSignature("signature")
    );
    let manifest = flipped(&bundle, |b| {
        b.manifest = b.manifest.replace("1.0.0", "1.0.1")
    });
    assert_eq!(
        manifest.unwrap_err(),
        BundleError::BadSignature("signature")
    );
    let signature = flipped(&bundle, |b| {
        let seal = b.seal.as_mut().unwrap();
        seal.signature = flip_hex(&seal.signature);
    });
    assert_eq!(
        signature.unwrap_err(),
        BundleError::BadSignature("signature")
    );
}

#[test]
fn another_key_or_a_swapped_key_is_refused() {
    let key = VendorKey::generate();
    let other = VendorKey::generate();
    let opened = signed(&other).open().unwrap();
    let refused = opened.trust(&[key.public()]).unwrap_err();
    assert!(matches!(refused, BundleError::Untrusted { ref vendor, .. } if vendor == "acme"));
    // Naming the pinned key over another key's signature does not verify.
    let swapped = flipped(&signed(&other), |b| {
        b.seal.as_mut().unwrap().public_key = key.public().to_hex();
    });
    assert_eq!(swapped.unwrap_err(), BundleError::BadSignature("signature"));
}

#[test]
fn a_rotation_is_trusted_only_when_endorsed_by_the_pinned_key() {
    let old = VendorKey::generate();
    let new = VendorKey::generate();
    let stranger = VendorKey::generate();
    let pinned = [old.public()];

    let endorsed = signed(&new).with_endorsements(vec![old.endorse("acme", &new.public())]);
    let trust = endorsed.open().unwrap().trust(&pinned).unwrap();
    assert_eq!(
        trust,
        Trust::Rotated {
            from: old.public(),
            to: new.public()
        }
    );

    // Endorsed by a key nobody pinned: valid signatures, no trust.
    let by_stranger = signed(&new).with_endorsements(vec![stranger.endorse("acme", &new.public())]);
    assert!(matches!(
        by_stranger.open().unwrap().trust(&pinned),
        Err(BundleError::Untrusted { .. })
    ));
    // Claiming the pinned key endorsed it, with the stranger's signature.
    let mut forged = stranger.endorse("acme", &new.public());
    forged.endorsed_by = old.public().to_hex();
    let forged = signed(&new).with_endorsements(vec![forged]);
    assert_eq!(
        forged.open().unwrap_err(),
        BundleError::BadSignature("endorsement")
    );
    // An endorsement for another vendor does not carry over.
    let elsewhere = signed(&new).with_endorsements(vec![old.endorse("other", &new.public())]);
    assert_eq!(
        elsewhere.open().unwrap_err(),
        BundleError::BadSignature("endorsement")
    );
    // A chain that does not end at the signing key.
    let dangling = signed(&new).with_endorsements(vec![old.endorse("acme", &stranger.public())]);
    assert!(matches!(dangling.open(), Err(BundleError::Malformed(_))));
}

#[test]
fn unsigned_and_malformed_bundles_say_what_is_wrong() {
    let unsigned = Bundle::pack(MANIFEST, vec![1, 2, 3], None).unwrap();
    assert_eq!(
        unsigned.open().unwrap().trust(&[]).unwrap_err(),
        BundleError::Unsigned
    );
    assert!(matches!(
        Bundle::parse(b"\0asm"),
        Err(BundleError::Malformed(_))
    ));
    let mut other_format = unsigned.clone();
    other_format.format = "zip".into();
    assert!(matches!(
        Bundle::parse(&other_format.to_bytes()),
        Err(BundleError::Malformed(_))
    ));
    let mut bad_manifest = unsigned;
    bad_manifest.manifest = "name = 3".into();
    assert!(matches!(bad_manifest.open(), Err(BundleError::Manifest(_))));
}

#[test]
fn the_digest_separates_its_fields() {
    // Moving a character between name and version changes the digest.
    assert_ne!(digest("ab", "c", b"", ""), digest("a", "bc", b"", ""));
    assert_ne!(digest("a", "b", b"x", ""), digest("a", "b", b"", "x"));
}
