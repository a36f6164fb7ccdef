//! The client against the reference registry (CNCF Distribution 2.8, no referrers API):
//! blobs and manifests both ways, checked against an independent client (skopeo) and the
//! OCI layout the image came from; the referrers tag schema on write and read; basic auth
//! with credentials from a Docker config file.

#[path = "../../scanner/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::process::Command;

use base64::Engine;
use wharf_oci::media_types::{IMAGE_CONFIG, OCI_INDEX, OCI_MANIFEST};
use wharf_oci::reference::{with_digest, with_tag};
use wharf_oci::{
    BlockingClient, Client, Descriptor, Error, Manifest, RegistryOptions, Via, credentials,
    parse_reference,
};

fn insecure() -> RegistryOptions {
    RegistryOptions {
        insecure: true,
        ..Default::default()
    }
}

/// The manifest bytes as skopeo (containers/image) reads them: an independent client.
fn skopeo_raw(reference: &str, creds: Option<&str>) -> Vec<u8> {
    common::require("skopeo");
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd.arg(format!("docker://{reference}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn layout_blob(image: &str, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(
        common::images()
            .join("oci")
            .join(image)
            .join("blobs/sha256")
            .join(hex),
    )
    .unwrap()
}

#[test]
fn pulls_what_skopeo_pushed_byte_for_byte() {
    let reg = common::RefRegistry::start(None);
    let remote = format!("{}/lib/small:v1", reg.host());
    common::skopeo_push(&common::image("small", "v1"), &remote, None);
    let layout_index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::images().join("oci/small/index.json")).unwrap(),
    )
    .unwrap();
    let want = layout_index["manifests"][0]["digest"].as_str().unwrap();

    let c = BlockingClient::new(&insecure()).unwrap();
    let r = parse_reference(&remote).unwrap();
    let (body, desc) = c.get_manifest(&r).unwrap();
    assert_eq!(desc.digest, want);
    assert_eq!(desc.media_type, OCI_MANIFEST);
    assert_eq!(body, layout_blob("small", want));
    let m: Manifest = serde_json::from_slice(&body).unwrap();
    let config = c.get_blob_limited(&r, &m.config.digest, 1 << 20).unwrap();
    assert_eq!(config, layout_blob("small", &m.config.digest));
    for l in &m.layers {
        let mut got = Vec::new();
        c.blob_reader(&r, &l.digest)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, layout_blob("small", &l.digest), "layer {}", l.digest);
        // Whole reads stop at the limit instead of reading on.
        assert!(matches!(
            c.get_blob_limited(&r, &l.digest, l.size - 1),
            Err(Error::TooLarge { .. })
        ));
    }
    // Absent things are "not found", not errors.
    let missing = with_tag(&r, "nope");
    assert!(c.get_manifest_opt(&missing).unwrap().is_none());
    assert!(c.get_manifest(&missing).unwrap_err().is_not_found());
}

#[test]
fn pushes_what_skopeo_reads_back() {
    let reg = common::RefRegistry::start(None);
    let c = BlockingClient::new(&insecure()).unwrap();
    let r = parse_reference(&format!("{}/team/app:v1", reg.host())).unwrap();
    let layer = c
        .put_blob(&r, b"layer bytes", "application/vnd.oci.image.layer.v1.tar")
        .unwrap();
    // `printf 'layer bytes' | sha256sum`
    assert_eq!(
        layer.digest,
        "sha256:3997bfa39738f279d788e49d0cc743d02a512c8855f798b3ee1c0daf589a6b9a"
    );
    assert_eq!(layer.size, 11);
    // A second push of the same blob is skipped (HEAD says it exists) and still answers.
    assert_eq!(
        c.put_blob(&r, b"layer bytes", "application/vnd.oci.image.layer.v1.tar")
            .unwrap(),
        layer
    );
    let config = c.put_blob(&r, br#"{"os":"linux"}"#, IMAGE_CONFIG).unwrap();
    let body = Manifest::new(config, vec![layer]).to_bytes();
    let digest = c.put_manifest(&r, body.clone(), OCI_MANIFEST).unwrap();
    assert_eq!(skopeo_raw(&r.whole(), None), body);
    // The digest we report is the one the registry serves the manifest under.
    assert_eq!(skopeo_raw(&with_digest(&r, &digest).whole(), None), body);
    // Large blobs stream from a file (1 MiB chunks) and come back whole.
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.path().join("big");
    std::fs::write(&path, &big).unwrap();
    let d = wharf_oci::sha256_digest(&big);
    c.put_blob_file(&r, &path, &d, big.len() as u64).unwrap();
    let mut got = Vec::new();
    c.blob_reader(&r, &d)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == big, "streamed blob differs");
}

/// Distribution 2.8 has no referrers API: pushing a referrer adds it to the
/// `sha256-<hex>` index (read back by skopeo), and listing referrers reads that index.
#[tokio::test]
async fn referrers_fall_back_to_the_tag_schema() {
    let reg = common::RefRegistry::start(None);
    let c = Client::new(insecure());
    let r = parse_reference(&format!("{}/ref/app:v1", reg.host())).unwrap();
    let config = c
        .put_blob(&r, br#"{"os":"linux"}"#, IMAGE_CONFIG)
        .await
        .unwrap();
    let subject_digest = c
        .put_manifest(&r, Manifest::new(config, vec![]).to_bytes(), OCI_MANIFEST)
        .await
        .unwrap();
    let (_, subject) = c.get_manifest(&r).await.unwrap();
    let pinned = with_digest(&r, &subject_digest);
    assert!(c.referrers(&pinned, None).await.unwrap().is_empty());

    let mut pushed = Vec::new();
    for (kind, doc) in [
        ("application/spdx+json", "{}"),
        ("application/vnd.example", "x"),
    ] {
        let empty = c
            .put_blob(&pinned, b"{}", "application/vnd.oci.empty.v1+json")
            .await
            .unwrap();
        let layer = c.put_blob(&pinned, doc.as_bytes(), kind).await.unwrap();
        let m = Manifest {
            artifact_type: Some(kind.into()),
            subject: Some(Descriptor::new(
                subject.media_type.clone(),
                subject.size,
                subject.digest.clone(),
            )),
            ..Manifest::new(empty, vec![layer])
        };
        let (desc, via) = c.put_referrer(&pinned, &m).await.unwrap();
        assert_eq!(via, Via::TagSchema);
        assert_eq!(desc.artifact_type.as_deref(), Some(kind));
        pushed.push(desc);
        // Pushing the same referrer again does not list it twice.
        c.put_referrer(&pinned, &m).await.unwrap();
    }
    let tag = subject_digest.replacen(':', "-", 1);
    let raw = skopeo_raw(&format!("{}/ref/app:{tag}", reg.host()), None);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX);
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [pushed[0].digest.as_str(), pushed[1].digest.as_str()]
    );
    let found = c.referrers(&pinned, None).await.unwrap();
    assert_eq!(found, pushed);
    let only = c
        .referrers(&pinned, Some("application/vnd.example"))
        .await
        .unwrap();
    assert_eq!(only, pushed[1..]);
}

/// Basic auth (htpasswd) with the credentials a Docker config file holds.
#[test]
fn basic_auth_from_a_docker_config_file() {
    let reg = common::RefRegistry::start(Some("alice:wonder"));
    let r = parse_reference(&format!("{}/private/app:v1", reg.host())).unwrap();
    let anonymous = BlockingClient::new(&insecure()).unwrap();
    let err = anonymous.put_blob(&r, b"x", "text/plain").unwrap_err();
    assert!(!err.is_not_found(), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:wonder");
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let creds = credentials::from_docker_config_in(dir.path(), r.registry())
        .unwrap()
        .expect("the config has an entry for the registry");
    let c = BlockingClient::new(&insecure())
        .unwrap()
        .with_credentials(&creds);
    let config = c.put_blob(&r, b"{}", IMAGE_CONFIG).unwrap();
    let body = Manifest::new(config, vec![]).to_bytes();
    c.put_manifest(&r, body.clone(), OCI_MANIFEST).unwrap();
    assert_eq!(c.get_manifest(&r).unwrap().0, body);
    assert_eq!(skopeo_raw(&r.whole(), Some("alice:wonder")), body);
}

/// Listings follow the distribution spec's paging: Distribution 2.8 pages its catalog
/// with `Link: </v2/_catalog?last=…&n=…>; rel="next"`, and the client follows those
/// links (its log shows them requested as given) until every repository is listed.
/// Distribution 2.8 ignores `n` for tags and sends them all at once, with no `Link`:
/// the client asks once more with `last=` and stops when nothing new comes.
#[tokio::test]
async fn listings_follow_link_headers_page_by_page() {
    let reg = common::RefRegistry::start(None);
    let c = Client::new(insecure());
    let repos = ["a/one", "a/two", "b/three", "c/four", "c/five"];
    let tags = ["v1", "v2", "v3", "v4", "v5", "v6", "v7"];
    for repo in repos {
        let r = parse_reference(&format!("{}/{repo}:v1", reg.host())).unwrap();
        let config = c
            .put_blob(&r, br#"{"os":"linux"}"#, IMAGE_CONFIG)
            .await
            .unwrap();
        let body = Manifest::new(config, vec![]).to_bytes();
        for tag in tags {
            c.put_manifest(&with_tag(&r, tag), body.clone(), OCI_MANIFEST)
                .await
                .unwrap();
        }
    }
    let mut listed = c.catalog_paged(&reg.host(), 2, 1000).await.unwrap();
    listed.sort();
    let mut want: Vec<String> = repos.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(listed, want);
    // Pages 2 and 3 were asked for by the Link URLs Distribution sent (`last` first).
    let followed = reg.log().matches("/v2/_catalog?last=").count();
    assert!(followed >= 2, "Link not followed:\n{}", reg.log());
    assert_eq!(c.catalog_paged(&reg.host(), 2, 3).await.unwrap().len(), 3);

    let r = parse_reference(&format!("{}/c/five:v1", reg.host())).unwrap();
    let mut got = c.all_tags_paged(&r, 2, 1000).await.unwrap();
    got.sort();
    assert_eq!(got, tags);
    let missing = parse_reference(&format!("{}/no/such:v1", reg.host())).unwrap();
    assert!(
        c.all_tags_paged(&missing, 2, 10)
            .await
            .unwrap_err()
            .is_not_found()
    );
}
