//! Embedded SCTs of a real Fulcio certificate (the public-good bundle's leaf) against the
//! public-good trusted root's CT logs, and every way of breaking them.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::read_fixture_bytes as fixture;
use wharf_signer::keyless::TrustedRoot;
use wharf_signer::sct::{SctError, embedded_scts, precert_tbs, verify_embedded, verify_sct};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

fn root_json() -> serde_json::Value {
    serde_json::from_slice(&fixture("sigstore_public_good_trusted_root.json")).unwrap()
}

/// The real bundle's leaf and its issuing intermediate (from the trusted root).
fn leaf_and_issuer() -> (Certificate, Certificate) {
    let b: serde_json::Value =
        serde_json::from_slice(&fixture("sigstore_rs_bundle_v03_keyless_dsse.json")).unwrap();
    let leaf = STANDARD
        .decode(
            b["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let leaf = Certificate::from_der(&leaf).unwrap();
    let r = root_json();
    let inter = r["certificateAuthorities"][1]["certChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .unwrap();
    let inter = Certificate::from_der(&STANDARD.decode(inter).unwrap()).unwrap();
    (leaf, inter)
}

fn spki(c: &Certificate) -> Vec<u8> {
    c.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap()
}

#[test]
fn real_fulcio_certificate_has_a_valid_sct() {
    let root = TrustedRoot::parse(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
    let (leaf, issuer) = leaf_and_issuer();
    let scts = embedded_scts(&leaf).unwrap();
    assert_eq!(scts.len(), 1);
    // Logged by the 2022 public-good CT log, shortly before the certificate's notBefore.
    let ct_2022 = STANDARD
        .decode(root_json()["ctlogs"][1]["logId"]["keyId"].as_str().unwrap())
        .unwrap();
    assert_eq!(scts[0].log_id.to_vec(), ct_2022);
    let not_before = leaf
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration()
        .as_secs();
    assert!((scts[0].timestamp_ms / 1000).abs_diff(not_before) < 60);
    assert_eq!(verify_embedded(&leaf, &issuer, &root).unwrap(), 1);
    // The precertificate TBS lost exactly the SCT extension and nothing else.
    let tbs = precert_tbs(&leaf).unwrap();
    let full = leaf.tbs_certificate().to_der().unwrap();
    assert!(tbs.len() < full.len());
    assert!(x509_cert::TbsCertificate::from_der(&tbs).is_ok());
}

#[test]
fn tampered_sct_fails() {
    let root = TrustedRoot::parse(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
    let (leaf, issuer) = leaf_and_issuer();
    let sct = embedded_scts(&leaf).unwrap().remove(0);
    let tbs = precert_tbs(&leaf).unwrap();
    let key = spki(&issuer);
    verify_sct(&sct, &tbs, &key, &root).unwrap();

    let mut t = sct.clone();
    t.timestamp_ms += 1;
    assert!(matches!(
        verify_sct(&t, &tbs, &key, &root),
        Err(SctError::BadSignature(_))
    ));
    let mut t = sct.clone();
    let n = t.signature.len();
    t.signature[n - 3] ^= 1;
    assert!(matches!(
        verify_sct(&t, &tbs, &key, &root),
        Err(SctError::BadSignature(_))
    ));
    let mut t = sct.clone();
    t.extensions = vec![0];
    assert!(matches!(
        verify_sct(&t, &tbs, &key, &root),
        Err(SctError::BadSignature(_))
    ));
    // Another TBS (one byte of it changed) or another issuer key: not what was logged.
    let mut other_tbs = tbs.clone();
    let last = other_tbs.len() - 1;
    other_tbs[last] ^= 1;
    assert!(verify_sct(&sct, &other_tbs, &key, &root).is_err());
    assert!(verify_sct(&sct, &tbs, &spki(&leaf), &root).is_err());
    // A log ID of no trusted log.
    let mut t = sct.clone();
    t.log_id[0] ^= 1;
    assert!(matches!(
        verify_sct(&t, &tbs, &key, &root),
        Err(SctError::UnknownLog(_))
    ));
}

#[test]
fn untrusted_or_missing_ct_logs_fail() {
    let (leaf, issuer) = leaf_and_issuer();
    // Only the retired 2021 test log: the SCT's log is not trusted.
    let mut r = root_json();
    r["ctlogs"].as_array_mut().unwrap().remove(1);
    let root = TrustedRoot::parse(r.to_string().as_bytes()).unwrap();
    let e = verify_embedded(&leaf, &issuer, &root).unwrap_err();
    assert!(
        matches!(e, SctError::NoneValid(ref m) if m.contains("not trusted")),
        "{e}"
    );
    // The right log, but its key swapped for another one under the same log ID.
    let mut r = root_json();
    let other_key = r["tlogs"][0]["publicKey"]["rawBytes"].clone();
    r["ctlogs"][1]["publicKey"]["rawBytes"] = other_key;
    let root = TrustedRoot::parse(r.to_string().as_bytes()).unwrap();
    let e = verify_embedded(&leaf, &issuer, &root).unwrap_err();
    assert!(
        matches!(e, SctError::NoneValid(ref m) if m.contains("does not verify")),
        "{e}"
    );
    // The log trusted only until before the SCT was made.
    let mut r = root_json();
    r["ctlogs"][1]["publicKey"]["validFor"]["end"] = "2023-01-01T00:00:00Z".into();
    let root = TrustedRoot::parse(r.to_string().as_bytes()).unwrap();
    let e = verify_embedded(&leaf, &issuer, &root).unwrap_err();
    assert!(
        matches!(e, SctError::NoneValid(ref m) if m.contains("not trusted at")),
        "{e}"
    );
    // No CT logs at all.
    let mut r = root_json();
    r.as_object_mut().unwrap().remove("ctlogs");
    let root = TrustedRoot::parse(r.to_string().as_bytes()).unwrap();
    assert_eq!(
        verify_embedded(&leaf, &issuer, &root),
        Err(SctError::NoTrustedLogs)
    );
    // A certificate without SCTs (the CA certificate itself).
    let full = TrustedRoot::parse(&fixture("sigstore_public_good_trusted_root.json")).unwrap();
    assert_eq!(
        verify_embedded(&issuer, &issuer, &full),
        Err(SctError::Missing)
    );
}
