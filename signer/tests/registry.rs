//! Sign, attest and verify against a real registry (CNCF distribution 2.8, which has no
//! referrers API), in both layouts, and tampering that must be caught.

mod common;

use std::collections::BTreeMap;

use common::{RefRegistry, insecure_registry, push_tiny_image};
use wharf_oci::media_types::OCI_MANIFEST;
use wharf_oci::{Client as Registry, Manifest};
use wharf_signer::image::{self, Layout};
use wharf_signer::keys;

fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn sign_tag_layout_then_verify_with_annotations() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "app", "v1", "a").await;
    let key = keys::generate().unwrap();

    let target = image::resolve(&reg, &format!("{}/app:v1", rr.host()))
        .await
        .unwrap();
    assert_eq!(target.digest(), digest);
    let stored = image::sign(&reg, &target, &key, &ann(&[("env", "prod")]), Layout::Tag)
        .await
        .unwrap();
    let tag_hex = digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        stored.location,
        format!("{}/app:sha256-{tag_hex}.sig", rr.host())
    );

    // The signature manifest is cosign's: one simplesigning layer carrying the signature.
    let sig_ref = Registry::parse_reference(&stored.location).unwrap();
    let (body, _) = reg.get_manifest(&sig_ref).await.unwrap();
    let m: Manifest = serde_json::from_slice(&body).unwrap();
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.layers[0].media_type, image::SIMPLESIGNING_MEDIA_TYPE);
    let anns = m.layers[0].annotations.as_ref().unwrap();
    assert!(anns.contains_key(image::SIGNATURE_ANNOTATION));
    let payload: serde_json::Value =
        serde_json::from_slice(&reg.get_blob(&sig_ref, &m.layers[0]).await.unwrap()).unwrap();
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        format!("{}/app", rr.host())
    );
    assert_eq!(payload["optional"]["env"], "prod");

    let report =
        image::verify_signatures(&reg, &target, key.verifying_key(), &ann(&[("env", "prod")]))
            .await
            .unwrap();
    assert_eq!(report.verified.len(), 1, "{}", report.explain());
    assert_eq!(report.verified[0], payload);

    let report =
        image::verify_signatures(&reg, &target, key.verifying_key(), &ann(&[("env", "dev")]))
            .await
            .unwrap();
    assert!(report.verified.is_empty());
    assert!(
        report.explain().contains("annotation env=dev required"),
        "{}",
        report.explain()
    );
}

#[tokio::test]
async fn second_signature_is_appended_and_both_verify() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    push_tiny_image(&reg, &rr.host(), "app", "v1", "b").await;
    let (k1, k2, k3) = (
        keys::generate().unwrap(),
        keys::generate().unwrap(),
        keys::generate().unwrap(),
    );
    let target = image::resolve(&reg, &format!("{}/app:v1", rr.host()))
        .await
        .unwrap();
    image::sign(&reg, &target, &k1, &BTreeMap::new(), Layout::Tag)
        .await
        .unwrap();
    let stored = image::sign(&reg, &target, &k2, &BTreeMap::new(), Layout::Tag)
        .await
        .unwrap();
    let (body, _) = reg
        .get_manifest(&Registry::parse_reference(&stored.location).unwrap())
        .await
        .unwrap();
    let m: Manifest = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        m.layers.len(),
        2,
        "second signature must be appended, not replace the first"
    );
    for k in [&k1, &k2] {
        let r = image::verify_signatures(&reg, &target, k.verifying_key(), &BTreeMap::new())
            .await
            .unwrap();
        assert_eq!(r.verified.len(), 1, "{}", r.explain());
        assert_eq!(r.rejected.len(), 1);
    }
    // A key that signed nothing verifies nothing, and says why.
    let r = image::verify_signatures(&reg, &target, k3.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert_eq!(r.rejected.len(), 2);
    assert!(
        r.explain().contains("signature does not match"),
        "{}",
        r.explain()
    );
}

#[tokio::test]
async fn referrers_mode_uses_tag_schema_fallback_on_distribution() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "ref/app", "v1", "c").await;
    let key = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/ref/app:v1", rr.host()))
        .await
        .unwrap();
    let stored = image::sign(&reg, &target, &key, &BTreeMap::new(), Layout::Referrers)
        .await
        .unwrap();

    // distribution 2.8 has no referrers API: the index lives under tag sha256-<hex>.
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let idx_ref =
        Registry::parse_reference(&format!("{}/ref/app:sha256-{hexd}", rr.host())).unwrap();
    let (body, _) = reg.get_manifest(&idx_ref).await.unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(idx["manifests"][0]["digest"], stored.manifest_digest);
    assert_eq!(
        idx["manifests"][0]["artifactType"],
        image::SIG_ARTIFACT_TYPE
    );
    // The referrer manifest names the image as its subject.
    let (body, _) = reg
        .get_manifest(&Registry::parse_reference(&stored.location).unwrap())
        .await
        .unwrap();
    let m: Manifest = serde_json::from_slice(&body).unwrap();
    assert_eq!(m.subject.unwrap().digest, digest);
    // No cosign .sig tag was written.
    let sig_tag =
        Registry::parse_reference(&format!("{}/ref/app:sha256-{hexd}.sig", rr.host())).unwrap();
    assert!(reg.get_manifest_opt(&sig_tag).await.unwrap().is_none());

    let r = image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());

    // A second referrer is added to the same fallback index.
    image::sign(
        &reg,
        &target,
        &keys::generate().unwrap(),
        &BTreeMap::new(),
        Layout::Referrers,
    )
    .await
    .unwrap();
    let (body, _) = reg.get_manifest(&idx_ref).await.unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn tampered_payload_and_foreign_digest_are_rejected() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let d1 = push_tiny_image(&reg, &rr.host(), "app", "one", "d1").await;
    let d2 = push_tiny_image(&reg, &rr.host(), "app", "two", "d2").await;
    let key = keys::generate().unwrap();
    let t1 = image::resolve(&reg, &format!("{}/app:one", rr.host()))
        .await
        .unwrap();
    let t2 = image::resolve(&reg, &format!("{}/app:two", rr.host()))
        .await
        .unwrap();
    let stored = image::sign(&reg, &t1, &key, &BTreeMap::new(), Layout::Tag)
        .await
        .unwrap();
    let sig_ref = Registry::parse_reference(&stored.location).unwrap();
    let (body, _) = reg.get_manifest(&sig_ref).await.unwrap();
    let mut m: Manifest = serde_json::from_slice(&body).unwrap();

    // 1. Copy image one's signature manifest onto image two: signed digest differs.
    let h2 = d2.strip_prefix("sha256:").unwrap();
    let two_sig = Registry::parse_reference(&format!("{}/app:sha256-{h2}.sig", rr.host())).unwrap();
    reg.put_manifest(&two_sig, body.clone(), OCI_MANIFEST)
        .await
        .unwrap();
    let r = image::verify_signatures(&reg, &t2, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain().contains(&format!(
            "payload signs digest {d1}, not the image's digest {d2}"
        )),
        "{}",
        r.explain()
    );

    // 2. Change the payload (here: point it at image two) but keep the old signature.
    let payload = reg.get_blob(&sig_ref, &m.layers[0]).await.unwrap();
    let forged = String::from_utf8(payload).unwrap().replace(&d1, &d2);
    let new_layer = reg
        .put_blob(&two_sig, forged.as_bytes(), image::SIMPLESIGNING_MEDIA_TYPE)
        .await
        .unwrap();
    m.layers[0].digest = new_layer.digest;
    m.layers[0].size = new_layer.size;
    reg.put_manifest(&two_sig, serde_json::to_vec(&m).unwrap(), OCI_MANIFEST)
        .await
        .unwrap();
    let r = image::verify_signatures(&reg, &t2, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain()
            .contains("signature does not match the payload and key"),
        "{}",
        r.explain()
    );

    // 3. Garbage in the signature annotation.
    m.layers[0]
        .annotations
        .as_mut()
        .unwrap()
        .insert(image::SIGNATURE_ANNOTATION.into(), "not base64!".into());
    reg.put_manifest(&two_sig, serde_json::to_vec(&m).unwrap(), OCI_MANIFEST)
        .await
        .unwrap();
    let r = image::verify_signatures(&reg, &t2, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(r.explain().contains("not valid base64"), "{}", r.explain());

    // The original still verifies.
    let r = image::verify_signatures(&reg, &t1, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
}

#[tokio::test]
async fn attestations_in_both_layouts() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "att", "v1", "e").await;
    let key = keys::generate().unwrap();
    let other = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/att:v1", rr.host()))
        .await
        .unwrap();
    let slsa = wharf_signer::dsse::predicate_type_uri("slsaprovenance").unwrap();
    let cdx = wharf_signer::dsse::predicate_type_uri("cyclonedx").unwrap();
    let predicate = serde_json::json!({"builder": {"id": "https://ci.example/builder"}});
    let stored = image::attest(&reg, &target, &key, &slsa, predicate.clone(), Layout::Tag)
        .await
        .unwrap();
    assert!(stored.location.ends_with(".att"));
    image::attest(
        &reg,
        &target,
        &key,
        &cdx,
        serde_json::json!({"bomFormat": "CycloneDX"}),
        Layout::Referrers,
    )
    .await
    .unwrap();

    let r = image::verify_attestations(&reg, &target, key.verifying_key(), Some(&slsa))
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    let st = &r.verified[0];
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], slsa);
    assert_eq!(st["predicate"], predicate);
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        digest.strip_prefix("sha256:").unwrap()
    );

    let r = image::verify_attestations(&reg, &target, key.verifying_key(), Some(&cdx))
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    let r = image::verify_attestations(&reg, &target, key.verifying_key(), None)
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 2, "{}", r.explain());
    let r = image::verify_attestations(&reg, &target, other.verifying_key(), None)
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain().contains("no DSSE signature verifies"),
        "{}",
        r.explain()
    );
    // Attestations are not image signatures.
    let r = image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
}

#[tokio::test]
async fn v3_bundle_signature_as_referrer() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "b3", "v1", "f").await;
    let key = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/b3:v1", rr.host()))
        .await
        .unwrap();
    let bundle = wharf_signer::bundle::sign_image_bundle(&key, &digest, &ann(&[("team", "core")]));
    let stored = image::push_bundle(
        &reg,
        &target,
        bundle.to_bytes(),
        image::COSIGN_SIGN_PREDICATE,
    )
    .await
    .unwrap();
    let (body, _) = reg
        .get_manifest(&Registry::parse_reference(&stored.location).unwrap())
        .await
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(m["artifactType"], image::BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(m["config"]["mediaType"], image::EMPTY_MEDIA_TYPE);
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.predicateType"],
        image::COSIGN_SIGN_PREDICATE
    );
    assert_eq!(m["layers"][0]["mediaType"], image::BUNDLE_V03_MEDIA_TYPE);

    let r = image::verify_signatures(
        &reg,
        &target,
        key.verifying_key(),
        &ann(&[("team", "core")]),
    )
    .await
    .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    assert_eq!(
        r.verified[0]["critical"]["type"],
        image::COSIGN_SIGN_PREDICATE
    );
    let r = image::verify_signatures(
        &reg,
        &target,
        keys::generate().unwrap().verifying_key(),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    assert!(r.verified.is_empty());
}

#[tokio::test]
async fn basic_auth_registry() {
    let rr = RefRegistry::start_with_auth(Some("alice:wonder"));
    let anon = insecure_registry();
    let r = Registry::parse_reference(&format!("{}/x:v1", rr.host())).unwrap();
    let err = anon.get_manifest(&r).await.unwrap_err();
    assert!(!matches!(err, wharf_oci::Error::NotFound { .. }), "{err}");
    let reg = Registry::new(wharf_oci::RegistryOptions {
        insecure: true,
        username: Some("alice".into()),
        password: Some("wonder".into()),
        ..Default::default()
    });
    push_tiny_image(&reg, &rr.host(), "x", "v1", "g").await;
    let key = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/x:v1", rr.host()))
        .await
        .unwrap();
    image::sign(&reg, &target, &key, &BTreeMap::new(), Layout::Tag)
        .await
        .unwrap();
    let rep = image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(rep.verified.len(), 1, "{}", rep.explain());
}

/// Keyless verification reads bundles from the registry: the real public-good bundle,
/// attached to an image it does not sign, is found, fully checked and rejected for its
/// digest; with another identity it is rejected for the identity.
#[tokio::test]
async fn keyless_bundle_from_registry_must_sign_this_image() {
    use wharf_signer::keyless::{IdentityPolicy, TrustedRoot};
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    push_tiny_image(&reg, &rr.host(), "kl", "v1", "k").await;
    let target = image::resolve(&reg, &format!("{}/kl:v1", rr.host()))
        .await
        .unwrap();
    let bundle = common::read_fixture("sigstore_rs_bundle_v03_keyless_dsse.json");
    image::push_bundle(
        &reg,
        &target,
        bundle.into_bytes(),
        image::COSIGN_SIGN_PREDICATE,
    )
    .await
    .unwrap();
    let root = TrustedRoot::parse(
        common::read_fixture("sigstore_public_good_trusted_root.json").as_bytes(),
    )
    .unwrap();
    let issuer = "https://token.actions.githubusercontent.com";
    let good = IdentityPolicy::new(
        None,
        Some("^https://github.com/kubewarden/"),
        Some(issuer),
        None,
    )
    .unwrap();
    let r = wharf_signer::keyless::verify_image(&reg, &target, &root, &good, &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain().contains("does not sign digest"),
        "{}",
        r.explain()
    );
    let other =
        IdentityPolicy::new(Some("https://github.com/x/y"), None, Some(issuer), None).unwrap();
    let r = wharf_signer::keyless::verify_image(&reg, &target, &root, &other, &BTreeMap::new())
        .await
        .unwrap();
    assert!(r.explain().contains("identity"), "{}", r.explain());
    // As an attestation: a signature bundle is looked at only when its predicate type is
    // asked for; then it is fully verified and rejected for the digest (or identity).
    use wharf_signer::keyless::verify_image_attestations;
    let r = verify_image_attestations(&reg, &target, &root, &good, None)
        .await
        .unwrap();
    assert!(
        r.verified.is_empty() && r.rejected.is_empty(),
        "{}",
        r.explain()
    );
    let sign_v1 = Some(image::COSIGN_SIGN_PREDICATE);
    let r = verify_image_attestations(&reg, &target, &root, &good, sign_v1)
        .await
        .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain().contains("does not include digest"),
        "{}",
        r.explain()
    );
    let r = verify_image_attestations(&reg, &target, &root, &other, sign_v1)
        .await
        .unwrap();
    assert!(r.explain().contains("identity"), "{}", r.explain());
    // Key-based verification does not accept a keyless bundle.
    let r = image::verify_signatures(
        &reg,
        &target,
        keys::generate().unwrap().verifying_key(),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    assert!(r.verified.is_empty());
}

/// cosign v3 attestations: a key-based bundle referrer annotated with the predicate type.
/// `verify_attestations` finds all three places (`.att` tag, DSSE referrer, bundle
/// referrer) and filters bundles by predicate type too; signature verification skips
/// attestation bundles instead of reporting them as broken signatures.
#[tokio::test]
async fn v3_attestation_bundle_as_referrer() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "ab", "v1", "h").await;
    let key = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/ab:v1", rr.host()))
        .await
        .unwrap();
    let slsa = wharf_signer::dsse::predicate_type_uri("slsaprovenance").unwrap();
    let cdx = wharf_signer::dsse::predicate_type_uri("cyclonedx").unwrap();
    let vuln = wharf_signer::dsse::predicate_type_uri("vuln").unwrap();
    image::attest(
        &reg,
        &target,
        &key,
        &slsa,
        serde_json::json!({"a": 1}),
        Layout::Tag,
    )
    .await
    .unwrap();
    image::attest(
        &reg,
        &target,
        &key,
        &cdx,
        serde_json::json!({"b": 2}),
        Layout::Referrers,
    )
    .await
    .unwrap();
    let predicate = serde_json::json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy"}});
    let stored = image::attest_bundle(&reg, &target, &key, &vuln, predicate.clone())
        .await
        .unwrap();
    // The referrer is cosign v3's: empty config, bundle artifact type, annotations.
    let (body, _) = reg
        .get_manifest(&Registry::parse_reference(&stored.location).unwrap())
        .await
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(m["artifactType"], image::BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(m["config"]["mediaType"], image::EMPTY_MEDIA_TYPE);
    assert_eq!(m["subject"]["digest"], digest);
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    assert_eq!(m["annotations"]["dev.sigstore.bundle.predicateType"], vuln);
    let layer: wharf_oci::Descriptor = serde_json::from_value(m["layers"][0].clone()).unwrap();
    let bundle_bytes = reg
        .get_blob(
            &Registry::parse_reference(&stored.location).unwrap(),
            &layer,
        )
        .await
        .unwrap();
    let b: serde_json::Value = serde_json::from_slice(&bundle_bytes).unwrap();
    assert_eq!(b["mediaType"], image::BUNDLE_V03_MEDIA_TYPE);
    assert!(
        b["verificationMaterial"]["publicKey"]["hint"].is_string(),
        "{b}"
    );
    assert_eq!(
        b["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );

    let r = image::verify_attestations(&reg, &target, key.verifying_key(), None)
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 3, "{}", r.explain());
    let r = image::verify_attestations(&reg, &target, key.verifying_key(), Some(&vuln))
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    let st = &r.verified[0];
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], vuln);
    assert_eq!(st["predicate"], predicate);
    assert_eq!(st["subject"][0]["name"], format!("{}/ab", rr.host()));
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        digest.strip_prefix("sha256:").unwrap()
    );
    // The other attestations are rejected for their predicate type.
    assert!(r.explain().contains("predicateType"), "{}", r.explain());
    let r = image::verify_attestations(
        &reg,
        &target,
        keys::generate().unwrap().verifying_key(),
        Some(&vuln),
    )
    .await
    .unwrap();
    assert!(r.verified.is_empty());
    assert!(
        r.explain().contains("no DSSE signature verifies"),
        "{}",
        r.explain()
    );

    // Not signatures: with only attestations attached, nothing is found or rejected.
    let r = image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert!(
        r.verified.is_empty() && r.rejected.is_empty(),
        "{}",
        r.explain()
    );
    // A v3 signature beside them is still a signature, and not an attestation.
    let sig = wharf_signer::bundle::sign_image_bundle(&key, &digest, &BTreeMap::new());
    image::push_bundle(&reg, &target, sig.to_bytes(), image::COSIGN_SIGN_PREDICATE)
        .await
        .unwrap();
    let r = image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        (r.verified.len(), r.rejected.len()),
        (1, 0),
        "{}",
        r.explain()
    );
    let r = image::verify_attestations(&reg, &target, key.verifying_key(), None)
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 3, "{}", r.explain());
    // Asked for by its predicate type, the signature bundle's statement is shown too.
    let sign_v1 = Some(image::COSIGN_SIGN_PREDICATE);
    let r = image::verify_attestations(&reg, &target, key.verifying_key(), sign_v1)
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    assert_eq!(r.verified[0]["predicateType"], image::COSIGN_SIGN_PREDICATE);
}
