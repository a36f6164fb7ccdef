//! SBOMs attached as OCI referrers to images in the reference registry (distribution 2.8,
//! no referrers API: the `sha256-<hex>` tag schema fallback), fetched back byte for byte;
//! cosign's legacy `.sbom` tag is read too.

#[path = "../../scanner/tests/common/mod.rs"]
mod common;

use serde_json::{Value, json};
use wharf_oci::{BlockingClient, RegistryOptions, parse_reference};
use wharf_sbom::attach::{self, Via};
use wharf_sbom::{Format, Options};
use wharf_scanner::image::LoadOptions;

fn client() -> BlockingClient {
    BlockingClient::new(&RegistryOptions {
        insecure: true,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn attach_falls_back_to_tag_schema_and_fetch_reads_it_back() {
    let reg = common::RefRegistry::start(None);
    let remote = format!("{}/test/pyapp:v1", reg.host());
    common::skopeo_push(&common::image("pyapp", "v1"), &remote, None);
    let opts = LoadOptions {
        registry: RegistryOptions {
            insecure: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let report = wharf_scanner::inventory(&remote, &opts).unwrap();
    let digest = report.manifest_digest.clone().unwrap();
    let c = client();
    let mut attached = Vec::new();
    for f in [Format::SpdxJson, Format::CycloneDxJson] {
        let doc = wharf_sbom::generate(&report, f, &Options { created: Some(0) }).unwrap();
        let a = attach::attach(&c, &remote, None, &doc, f).unwrap();
        assert_eq!(
            a.via,
            Via::TagSchema,
            "distribution 2.8 has no referrers API"
        );
        assert_eq!(a.subject, digest);
        attached.push((f, doc, a.manifest));
    }
    // The fallback index lists both artifacts with their artifactType.
    let tag = parse_reference(&format!(
        "{}/test/pyapp:{}",
        reg.host(),
        digest.replace(':', "-")
    ))
    .unwrap();
    let (body, _) = c.get_manifest(&tag).unwrap();
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    for (f, _, m) in &attached {
        assert!(
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["digest"] == json!(m) && d["artifactType"] == f.media_type()),
            "{index}"
        );
        // The referrer manifest itself: artifactType, empty config, subject = the image.
        let (body, _) = c.get_manifest(&tag.clone_with_digest(m.clone())).unwrap();
        let man: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(man["artifactType"], f.media_type());
        assert_eq!(
            man["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(man["subject"]["digest"], digest.as_str());
    }
    // Fetch by format returns exactly what was attached; referrers through the client too.
    for (f, doc, _) in &attached {
        let got = attach::fetch(&c, &remote, None, Some(*f)).unwrap();
        assert_eq!(got.format, *f);
        assert_eq!(&got.document, doc);
    }
    // Re-attaching the same document does not duplicate the index entry.
    let (f, doc, _) = &attached[0];
    attach::attach(&c, &remote, None, doc, *f).unwrap();
    let (body, _) = c.get_manifest(&tag).unwrap();
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn fetch_reads_cosign_legacy_sbom_tag() {
    let reg = common::RefRegistry::start(None);
    let remote = format!("{}/test/small:v1", reg.host());
    common::skopeo_push(&common::image("small", "v1"), &remote, None);
    let c = client();
    let r = parse_reference(&remote).unwrap();
    let digest = c.get_manifest(&r).unwrap().1.digest;
    assert!(matches!(
        attach::fetch(&c, &remote, None, None),
        Err(wharf_sbom::Error::NotFound(_))
    ));
    // cosign attach sbom's layout: an image tagged `sha256-<hex>.sbom` whose one layer is the
    // SBOM (media type text/spdx+json for SPDX).
    let report =
        wharf_scanner::inventory(&common::image("small", "v1"), &LoadOptions::default()).unwrap();
    let doc =
        wharf_sbom::generate(&report, Format::SpdxJson, &Options { created: Some(0) }).unwrap();
    let layer = c.put_blob(&r, &doc, "text/spdx+json").unwrap().digest;
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let config_digest = c
        .put_blob(&r, &config, "application/vnd.oci.image.config.v1+json")
        .unwrap()
        .digest;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "text/spdx+json", "digest": layer, "size": doc.len()}],
    });
    let tag = parse_reference(&format!(
        "{}/test/small:{}.sbom",
        reg.host(),
        digest.replace(':', "-")
    ))
    .unwrap();
    let body = serde_json::to_vec(&manifest).unwrap();
    c.put_manifest(&tag, body, "application/vnd.oci.image.manifest.v1+json")
        .unwrap();
    let got = attach::fetch(&c, &remote, None, None).unwrap();
    assert_eq!(got.format, Format::SpdxJson);
    assert_eq!(got.document, doc);
    assert!(got.source.ends_with(".sbom"), "{}", got.source);
    assert!(attach::fetch(&c, &remote, None, Some(Format::CycloneDxJson)).is_err());
}
