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

/// Keyless attestation verification reads the same bundle as an attestation: the whole
/// chain, log entry and identity are checked, then the statement's subject and type.
#[test]
fn real_bundle_verifies_as_keyless_attestation() {
    use wharf_signer::keyless::verify_attestation_bundle;
    let bytes = bundle().to_string().into_bytes();
    let sign_v1 = "https://sigstore.dev/cosign/sign/v1";
    let v = verify_attestation_bundle(&bytes, DIGEST, &root(), &policy(), Some(sign_v1)).unwrap();
    assert_eq!(v.payload["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(v.payload["predicateType"], sign_v1);
    assert_eq!(
        v.payload["subject"][0]["digest"]["sha256"],
        DIGEST.strip_prefix("sha256:").unwrap()
    );
    assert_eq!(v.identity.subject, IDENTITY);
    verify_attestation_bundle(&bytes, DIGEST, &root(), &policy(), None).unwrap();

    let r = verify_attestation_bundle(
        &bytes,
        DIGEST,
        &root(),
        &policy(),
        Some("https://slsa.dev/provenance/v1"),
    );
    assert!(
        matches!(r, Err(KeylessError::Statement(ref m)) if m.contains("predicateType")),
        "{r:?}"
    );
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert!(matches!(
        verify_attestation_bundle(&bytes, other, &root(), &policy(), None),
        Err(KeylessError::Statement(_))
    ));
    let p =
        IdentityPolicy::new(Some("https://github.com/evil/x"), None, Some(ISSUER), None).unwrap();
    assert!(matches!(
        verify_attestation_bundle(&bytes, DIGEST, &root(), &p, None),
        Err(KeylessError::Identity(_))
    ));
    let mut t = bundle();
    let sig = t["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_string();
    t["dsseEnvelope"]["signatures"][0]["sig"] = flip_b64(&sig, 20).into();
    assert!(matches!(
        verify_attestation_bundle(t.to_string().as_bytes(), DIGEST, &root(), &policy(), None),
        Err(KeylessError::Signature(_))
    ));
}

// ---------------------------------------------------------------------------------------
// PEM trust material instead of trusted_root.json (cosign's --ca-roots & co.)

use wharf_signer::roots::{self, PemTrust};

/// The fixture root's material as PEM texts, the way a user would have them in files:
/// (root CA, intermediate CA, the retired 2021 CA, Rekor key, CT log key).
fn pem_material() -> (String, String, String, String, String) {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let r: serde_json::Value =
        serde_json::from_str(&read_fixture("sigstore_public_good_trusted_root.json")).unwrap();
    let der = |v: &serde_json::Value| e.decode(v.as_str().unwrap()).unwrap();
    let cert = |v: &serde_json::Value| wharf_signer::pem::encode("CERTIFICATE", &der(v));
    let key = |v: &serde_json::Value| wharf_signer::pem::encode("PUBLIC KEY", &der(v));
    let chain = &r["certificateAuthorities"][1]["certChain"]["certificates"];
    (
        cert(&chain[1]["rawBytes"]),
        cert(&chain[0]["rawBytes"]),
        cert(&r["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]),
        key(&r["tlogs"][0]["publicKey"]["rawBytes"]),
        key(&r["ctlogs"][1]["publicKey"]["rawBytes"]),
    )
}

fn pem_trust(
    roots_pem: &str,
    inter: Option<&str>,
    rekor: Option<&str>,
    ct: Option<&str>,
) -> PemTrust {
    PemTrust {
        roots: roots::certificates_from_pem("roots", roots_pem).unwrap(),
        intermediates: inter
            .map(|p| roots::certificates_from_pem("inter", p).unwrap())
            .unwrap_or_default(),
        rekor_keys: rekor
            .map(|p| roots::public_keys_from_pem("rekor", p).unwrap())
            .unwrap_or_default(),
        ctlog_keys: ct
            .map(|p| roots::public_keys_from_pem("ct", p).unwrap())
            .unwrap_or_default(),
    }
}

fn verify_with(root: &TrustedRoot) -> Result<wharf_signer::keyless::Verified, KeylessError> {
    verify_bundle(
        bundle().to_string().as_bytes(),
        DIGEST,
        root,
        &policy(),
        &BTreeMap::new(),
    )
}

#[test]
fn pem_roots_verify_the_real_bundle() {
    let (root_ca, inter, _, rekor, ct) = pem_material();
    let tr = pem_trust(&root_ca, Some(&inter), Some(&rekor), Some(&ct))
        .into_trusted_root()
        .unwrap();
    let v = verify_with(&tr).unwrap();
    assert_eq!(v.identity.subject, IDENTITY);
    // cosign's --certificate-chain: intermediate and root in one file, split by self-signature.
    let mut chain = PemTrust {
        rekor_keys: roots::public_keys_from_pem("rekor", &rekor).unwrap(),
        ctlog_keys: roots::public_keys_from_pem("ct", &ct).unwrap(),
        ..Default::default()
    };
    chain.add_chain(&format!("{inter}{root_ca}")).unwrap();
    assert_eq!((chain.roots.len(), chain.intermediates.len()), (1, 1));
    verify_with(&chain.into_trusted_root().unwrap()).unwrap();
    // Attestation verification takes the same trust.
    let tr = pem_trust(&root_ca, Some(&inter), Some(&rekor), Some(&ct))
        .into_trusted_root()
        .unwrap();
    wharf_signer::keyless::verify_attestation_bundle(
        bundle().to_string().as_bytes(),
        DIGEST,
        &tr,
        &policy(),
        None,
    )
    .unwrap();
}

#[test]
fn wrong_or_missing_pem_material_fails() {
    let (root_ca, inter, old_ca, rekor, ct) = pem_material();
    // The intermediate does not chain to the old root: refused when loading.
    let e = pem_trust(&old_ca, Some(&inter), Some(&rekor), Some(&ct))
        .into_trusted_root()
        .unwrap_err();
    assert!(
        e.to_string().contains("does not chain to any given root"),
        "{e}"
    );
    // Only a root that did not issue the leaf: the chain fails.
    let tr = pem_trust(&old_ca, None, Some(&rekor), Some(&ct))
        .into_trusted_root()
        .unwrap();
    assert!(matches!(verify_with(&tr), Err(KeylessError::Chain(_))));
    // The real root without its intermediate: the leaf's issuer is not trusted.
    let tr = pem_trust(&root_ca, None, Some(&rekor), Some(&ct))
        .into_trusted_root()
        .unwrap();
    assert!(matches!(verify_with(&tr), Err(KeylessError::Chain(_))));
    // A certificate chain file without a self-signed root.
    let mut p = PemTrust::default();
    assert!(
        p.add_chain(&inter)
            .unwrap_err()
            .to_string()
            .contains("no self-signed root")
    );
    // No Rekor key: a clear error when loading.
    let e = pem_trust(&root_ca, Some(&inter), None, Some(&ct))
        .into_trusted_root()
        .unwrap_err();
    assert!(e.to_string().contains("--rekor-public-key"), "{e}");
    // The CT log key given as Rekor key: the log entry is from an untrusted log.
    let tr = pem_trust(&root_ca, Some(&inter), Some(&ct), Some(&ct))
        .into_trusted_root()
        .unwrap();
    assert!(matches!(verify_with(&tr), Err(KeylessError::Tlog(_))));
    // No CT log key: the SCT cannot be checked, unless explicitly ignored.
    let tr = pem_trust(&root_ca, Some(&inter), Some(&rekor), None)
        .into_trusted_root()
        .unwrap();
    let e = verify_with(&tr).unwrap_err();
    assert!(matches!(e, KeylessError::Sct(_)), "{e}");
    verify_with(&tr.insecure_ignore_sct()).unwrap();
    // The Rekor key given as CT log key: the SCT's log is not trusted.
    let tr = pem_trust(&root_ca, Some(&inter), Some(&rekor), Some(&rekor))
        .into_trusted_root()
        .unwrap();
    assert!(matches!(verify_with(&tr), Err(KeylessError::Sct(_))));
    // Not PEM of the right kind.
    assert!(roots::certificates_from_pem("x", &rekor).is_err());
    assert!(roots::public_keys_from_pem("x", &root_ca).is_err());
}

/// cosign verifies the embedded SCT by default: a trusted root without CT logs fails
/// the real bundle unless the check is explicitly switched off.
#[test]
fn root_without_ct_logs_fails_unless_sct_ignored() {
    let mut r: serde_json::Value =
        serde_json::from_str(&read_fixture("sigstore_public_good_trusted_root.json")).unwrap();
    r.as_object_mut().unwrap().remove("ctlogs");
    let tr = TrustedRoot::parse(r.to_string().as_bytes()).unwrap();
    let e = verify_with(&tr).unwrap_err();
    assert!(
        e.to_string()
            .contains("no Certificate Transparency log keys"),
        "{e}"
    );
    verify_with(&tr.insecure_ignore_sct()).unwrap();
}

// ---------------------------------------------------------------------------------------
// The certificate, its identity and the legacy Rekor bundle, one check at a time

/// The real bundle's leaf certificate, DER.
fn leaf_der() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(
            bundle()["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
}

/// The real bundle's leaf certificate is valid only for ten minutes around signing: a log
/// entry dated an hour later or earlier cannot vouch for it (the certificate check comes
/// before the entry's own signature is looked at, so the error names the certificate).
#[test]
fn certificate_outside_its_validity_is_rejected() {
    let t = 1_775_719_409;
    verify(&bundle(), DIGEST, &policy()).unwrap();
    for other in [t + 3600, t - 3600] {
        let mut b = bundle();
        b["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = other.to_string().into();
        let e = verify(&b, DIGEST, &policy()).unwrap_err();
        assert!(
            matches!(e, KeylessError::Certificate(ref m) if m.contains("not valid at the signing time")),
            "{e}"
        );
    }
}

/// The claimed identity of the real bundle's certificate, read without a root.
#[test]
fn claimed_identity_reads_san_and_issuer() {
    use wharf_signer::keyless::{bundle_claimed_identity, claimed_identity};
    let id = claimed_identity(&wharf_signer::pem::encode("CERTIFICATE", &leaf_der())).unwrap();
    assert_eq!(id.subject, IDENTITY);
    assert_eq!(id.issuer, ISSUER);
    let id = bundle_claimed_identity(bundle().to_string().as_bytes()).unwrap();
    assert_eq!(
        (id.subject.as_str(), id.issuer.as_str()),
        (IDENTITY, ISSUER)
    );
    assert!(
        claimed_identity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
    );
}

/// A trusted root whose CA chains lack the issuing intermediate cannot vouch for the leaf.
#[test]
fn truncated_ca_chain_is_rejected() {
    let mut root: serde_json::Value =
        serde_json::from_str(&read_fixture("sigstore_public_good_trusted_root.json")).unwrap();
    for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
        let certs = ca["certChain"]["certificates"].as_array_mut().unwrap();
        if certs.len() > 1 {
            certs.remove(0);
        }
    }
    let root = TrustedRoot::parse(root.to_string().as_bytes()).unwrap();
    let r = verify_bundle(
        bundle().to_string().as_bytes(),
        DIGEST,
        &root,
        &policy(),
        &BTreeMap::new(),
    );
    assert!(matches!(r, Err(KeylessError::Chain(_))), "{r:?}");
}

#[test]
fn legacy_rekor_bundle_set_verifies_and_tampering_fails() {
    use wharf_signer::keyless::verify_rekor_bundle;
    let root = root();
    let text = read_fixture("sigstore_rs_rekor_bundle.json");
    assert_eq!(verify_rekor_bundle(&root, &text).unwrap(), 1_634_714_717);
    for (from, to) in [
        ("1634714717", "1634714718"),
        ("783607", "783608"),
        ("\"logID\": \"c0", "\"logID\": \"c1"),
    ] {
        let t = text.replacen(from, to, 1);
        assert_ne!(t, text, "fixture changed shape: {from}");
        assert!(
            verify_rekor_bundle(&root, &t).is_err(),
            "tampered {from} still verified"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut t = v.clone();
    let body = v["Payload"]["body"].as_str().unwrap();
    t["Payload"]["body"] = body.replacen('e', "f", 1).into();
    assert!(verify_rekor_bundle(&root, &t.to_string()).is_err());
}
