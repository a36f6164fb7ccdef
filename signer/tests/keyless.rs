//! Offline keyless verification of a real public-good cosign v3 bundle, and tampering.

mod common;

use std::collections::BTreeMap;

use common::read_fixture;
use wharf_signer::keyless::{IdentityPolicy, KeylessError, TrustedRoot, verify_bundle};

const DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const IDENTITY: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn root() -> TrustedRoot {
    TrustedRoot::parse(read_fixture("sigstore_public_good_trusted_root.json").as_bytes()).unwrap()
}

fn policy() -> IdentityPolicy {
    IdentityPolicy::new(Some(IDENTITY), None, Some(ISSUER), None).unwrap()
}

fn bundle() -> serde_json::Value {
    serde_json::from_str(&read_fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap()
}

fn verify(
    b: &serde_json::Value,
    digest: &str,
    p: &IdentityPolicy,
) -> Result<wharf_signer::keyless::Verified, KeylessError> {
    verify_bundle(
        b.to_string().as_bytes(),
        digest,
        &root(),
        p,
        &BTreeMap::new(),
    )
}

#[test]
fn real_public_good_bundle_verifies_offline() {
    let v = verify(&bundle(), DIGEST, &policy()).unwrap();
    assert_eq!(v.identity.subject, IDENTITY);
    assert_eq!(v.identity.issuer, ISSUER);
    assert_eq!(v.integrated_time, 1775719409);
    assert_eq!(
        v.payload["critical"]["image"]["docker-manifest-digest"],
        DIGEST
    );
    // The regexp form works too.
    let p = IdentityPolicy::new(
        None,
        Some("^https://github.com/kubewarden/"),
        None,
        Some("githubusercontent"),
    )
    .unwrap();
    verify(&bundle(), DIGEST, &p).unwrap();
}

#[test]
fn other_identity_or_issuer_fails() {
    let p = IdentityPolicy::new(
        Some("https://github.com/evil/repo/.github/workflows/release.yml@refs/tags/v1.34.0"),
        None,
        Some(ISSUER),
        None,
    )
    .unwrap();
    assert!(matches!(
        verify(&bundle(), DIGEST, &p),
        Err(KeylessError::Identity(_))
    ));
    let p = IdentityPolicy::new(
        Some(IDENTITY),
        None,
        Some("https://accounts.google.com"),
        None,
    )
    .unwrap();
    assert!(matches!(
        verify(&bundle(), DIGEST, &p),
        Err(KeylessError::Identity(_))
    ));
    let p = IdentityPolicy::new(
        None,
        Some("^https://github.com/sigstore/"),
        Some(ISSUER),
        None,
    )
    .unwrap();
    assert!(matches!(
        verify(&bundle(), DIGEST, &p),
        Err(KeylessError::Identity(_))
    ));
}

#[test]
fn other_digest_fails() {
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert!(matches!(
        verify(&bundle(), other, &policy()),
        Err(KeylessError::Statement(_))
    ));
}

fn flip_b64(s: &str, byte: usize) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let mut raw = e.decode(s).unwrap();
    let i = byte.min(raw.len() - 1);
    raw[i] ^= 0x01;
    e.encode(raw)
}

#[test]
fn any_changed_certificate_byte_fails() {
    let b = bundle();
    let cert = b["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .unwrap()
        .to_string();
    let len = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&cert)
            .unwrap()
            .len()
    };
    // Sample positions across the whole certificate (header, TBS, extensions, signature).
    for pos in (0..len).step_by(97).chain([len - 1]) {
        let mut t = b.clone();
        t["verificationMaterial"]["certificate"]["rawBytes"] = flip_b64(&cert, pos).into();
        let r = verify(&t, DIGEST, &policy());
        assert!(r.is_err(), "certificate byte {pos} flipped still verified");
    }
}

#[test]
fn changed_signature_fails() {
    let mut t = bundle();
    let sig = t["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_string();
    t["dsseEnvelope"]["signatures"][0]["sig"] = flip_b64(&sig, 20).into();
    assert!(matches!(
        verify(&t, DIGEST, &policy()),
        Err(KeylessError::Signature(_))
    ));
    // A changed payload (other digest inside) breaks the signature too.
    let mut t = bundle();
    let p = t["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
    t["dsseEnvelope"]["payload"] = flip_b64(&p, 80).into();
    assert!(matches!(
        verify(&t, DIGEST, &policy()),
        Err(KeylessError::Signature(_))
    ));
}

#[test]
fn changed_log_entry_fails() {
    let b = bundle();
    let entry = &b["verificationMaterial"]["tlogEntries"][0];
    // Body, SET, integrated time, log index, root hash, proof hash, checkpoint: each must fail.
    let mut cases: Vec<serde_json::Value> = Vec::new();
    let body = entry["canonicalizedBody"].as_str().unwrap();
    for pos in [10usize, 300, 900] {
        let mut t = b.clone();
        t["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"] =
            flip_b64(body, pos).into();
        cases.push(t);
    }
    let mut t = b.clone();
    let set = entry["inclusionPromise"]["signedEntryTimestamp"]
        .as_str()
        .unwrap();
    t["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] =
        flip_b64(set, 30).into();
    cases.push(t);
    let mut t = b.clone();
    t["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1775719410".into();
    cases.push(t);
    let mut t = b.clone();
    t["verificationMaterial"]["tlogEntries"][0]["logIndex"] = "1261105808".into();
    cases.push(t);
    let mut t = b.clone();
    let h = entry["inclusionProof"]["hashes"][0].as_str().unwrap();
    t["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0] =
        flip_b64(h, 3).into();
    cases.push(t);
    let mut t = b.clone();
    let cp = entry["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .replace("1139201557\n", "1139201558\n");
    t["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"] =
        cp.into();
    cases.push(t);
    for (i, t) in cases.iter().enumerate() {
        let r = verify(t, DIGEST, &policy());
        assert!(r.is_err(), "log entry tamper case {i} still verified");
    }
}

#[test]
fn untrusted_root_fails() {
    // A trusted root without the real Fulcio CAs: the chain cannot be built.
    let mut root: serde_json::Value =
        serde_json::from_str(&read_fixture("sigstore_public_good_trusted_root.json")).unwrap();
    let cas = root["certificateAuthorities"].as_array_mut().unwrap();
    let first = cas[0].clone();
    cas.clear();
    cas.push(first); // only the oldest (retired) CA remains
    let r = TrustedRoot::parse(root.to_string().as_bytes()).unwrap();
    let res = verify_bundle(
        bundle().to_string().as_bytes(),
        DIGEST,
        &r,
        &policy(),
        &BTreeMap::new(),
    );
    assert!(matches!(res, Err(KeylessError::Chain(_))), "{res:?}");
}

#[test]
fn missing_policy_is_a_usage_error() {
    assert!(IdentityPolicy::new(None, None, Some(ISSUER), None).is_err());
    assert!(IdentityPolicy::new(Some(IDENTITY), None, None, None).is_err());
    assert!(IdentityPolicy::new(None, Some("("), Some(ISSUER), None).is_err());
}
