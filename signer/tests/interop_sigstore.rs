//! Interoperability with sigstore-rs (the `sigstore` crate), an independent cosign
//! implementation: keys both ways, and signatures in a registry both ways.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{RefRegistry, insecure_registry, push_tiny_image, read_fixture};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};
use wharf_oci::media_types::OCI_MANIFEST;
use wharf_oci::{Client as Registry, Manifest};
use wharf_signer::image::{self, Layout};
use wharf_signer::keys::{self, PrivateKeyFile};

#[test]
fn sigstore_rs_decrypts_a_wharf_key() {
    let k = keys::generate().unwrap();
    let pem = keys::encrypt_private_key(&k, b"interop").unwrap();
    let pair = SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"interop").unwrap();
    // sigstore-rs writes CRLF PEM: compare the keys, not the text.
    assert_eq!(
        &keys::load_public_key(&pair.public_key_to_pem().unwrap()).unwrap(),
        k.verifying_key()
    );
    assert!(SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"wrong").is_err());
}

#[test]
fn wharf_decrypts_a_sigstore_rs_key() {
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let pair = signer.to_sigstore_keypair().unwrap();
    let pem = pair.private_key_to_encrypted_pem(b"interop").unwrap();
    let k = PrivateKeyFile::parse(&pem)
        .unwrap()
        .into_signing_key(Some(b"interop"))
        .unwrap();
    assert_eq!(
        &keys::load_public_key(&pair.public_key_to_pem().unwrap()).unwrap(),
        k.verifying_key()
    );
}

#[test]
fn sigstore_rs_fixture_signature_verifies_with_wharf() {
    let payload = std::fs::read(common::cosign_fixture("sigstore_rs_payload.json")).unwrap();
    let sig = std::fs::read(common::cosign_fixture("sigstore_rs_payload.sig.der")).unwrap();
    let key = keys::load_public_key(&read_fixture("sigstore_rs_payload.pub")).unwrap();
    wharf_signer::payload::verify_bytes(&key, &payload, &sig).unwrap();
    let mut changed = payload.clone();
    changed[20] ^= 1;
    assert!(wharf_signer::payload::verify_bytes(&key, &changed, &sig).is_err());
    let doc = wharf_signer::payload::SimpleSigning::parse(&payload).unwrap();
    doc.check(
        "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b",
        &BTreeMap::new(),
    )
    .unwrap();
}

/// Fetches with curl (not our client), so the check below does not trust our own reader.
fn curl(url: &str, accept: &str) -> Vec<u8> {
    assert!(
        common::which("curl"),
        "curl is not installed: apt-get install -y curl"
    );
    let out = std::process::Command::new("curl")
        .args(["-sSf", "-H", &format!("Accept: {accept}"), url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn sigstore_rs_verifies_what_wharf_pushed() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "interop", "v1", "i1").await;
    let key = keys::generate().unwrap();
    let target = image::resolve(&reg, &format!("{}/interop:v1", rr.host()))
        .await
        .unwrap();
    image::sign(&reg, &target, &key, &BTreeMap::new(), Layout::Tag)
        .await
        .unwrap();

    let hexd = digest.strip_prefix("sha256:").unwrap();
    let base = format!("http://{}/v2/interop", rr.host());
    let m: serde_json::Value = serde_json::from_slice(&curl(
        &format!("{base}/manifests/sha256-{hexd}.sig"),
        OCI_MANIFEST,
    ))
    .unwrap();
    let layer = &m["layers"][0];
    assert_eq!(layer["mediaType"], image::SIMPLESIGNING_MEDIA_TYPE);
    let payload = curl(
        &format!("{base}/blobs/{}", layer["digest"].as_str().unwrap()),
        "*/*",
    );
    let sig = layer["annotations"][image::SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap();

    let vk = CosignVerificationKey::from_pem(
        keys::public_key_pem(key.verifying_key()).as_bytes(),
        &SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    vk.verify_signature(Signature::Base64Encoded(sig.as_bytes()), &payload)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(doc["critical"]["image"]["docker-manifest-digest"], digest);
    // And it rejects a wrong key, so the check above means something.
    let other = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap()
        .to_verification_key()
        .unwrap();
    assert!(
        other
            .verify_signature(Signature::Base64Encoded(sig.as_bytes()), &payload)
            .is_err()
    );
}

#[tokio::test]
async fn wharf_verifies_what_sigstore_rs_signed() {
    let rr = RefRegistry::start();
    let reg = insecure_registry();
    let digest = push_tiny_image(&reg, &rr.host(), "interop", "v2", "i2").await;
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let pub_pem = signer
        .to_sigstore_keypair()
        .unwrap()
        .public_key_to_pem()
        .unwrap();

    // The payload as sigstore-rs / cosign write it, signed by sigstore-rs.
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{}/interop"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"origin":"sigstore-rs"}}}}"#,
        rr.host()
    );
    let sig = STANDARD.encode(signer.sign(payload.as_bytes()).unwrap());

    // Stored in cosign's tag layout by hand (raw manifest JSON).
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let tag =
        Registry::parse_reference(&format!("{}/interop:sha256-{hexd}.sig", rr.host())).unwrap();
    let mut layer = reg
        .put_blob(&tag, payload.as_bytes(), image::SIMPLESIGNING_MEDIA_TYPE)
        .await
        .unwrap();
    layer.annotations = Some([(image::SIGNATURE_ANNOTATION.to_string(), sig)].into());
    let config = reg
        .put_blob(&tag, b"{}", image::IMAGE_CONFIG_MEDIA_TYPE)
        .await
        .unwrap();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers: vec![layer],
        subject: None,
        annotations: None,
    };
    reg.put_manifest(&tag, serde_json::to_vec(&m).unwrap(), OCI_MANIFEST)
        .await
        .unwrap();

    let target = image::resolve(&reg, &format!("{}/interop:v2", rr.host()))
        .await
        .unwrap();
    let key = keys::load_public_key(&pub_pem).unwrap();
    let required: BTreeMap<String, String> =
        [("origin".to_string(), "sigstore-rs".to_string())].into();
    let r = image::verify_signatures(&reg, &target, &key, &required)
        .await
        .unwrap();
    assert_eq!(r.verified.len(), 1, "{}", r.explain());
    let wrong = keys::generate().unwrap();
    let r = image::verify_signatures(&reg, &target, wrong.verifying_key(), &required)
        .await
        .unwrap();
    assert!(r.verified.is_empty());
}
