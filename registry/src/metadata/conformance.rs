//! The one conformance suite every [`MetadataStore`] backend must pass.

use super::{MetadataStore, NewManifest};
use crate::digest::Digest;
use crate::names::RepoName;

fn repo(s: &str) -> RepoName {
    RepoName::parse(s).unwrap()
}

fn manifest<'a>(repo: &'a RepoName, digest: &'a Digest, content: &'a [u8]) -> NewManifest<'a> {
    NewManifest {
        repo,
        digest,
        media_type: "application/vnd.oci.image.manifest.v1+json",
        artifact_type: None,
        subject: None,
        annotations: None,
        content,
        blobs: vec![],
        children: vec![],
        tag: None,
    }
}

pub async fn run(store: &dyn MetadataStore) {
    let app = repo("project/team/app");
    let other = repo("library/other");
    let layer = Digest::sha256_of(b"layer");
    let config = Digest::sha256_of(b"config");

    // Blobs are visible only where linked.
    assert!(!store.repository_exists(&app).await.unwrap());
    store.link_blob(&app, &layer, 5).await.unwrap();
    store.link_blob(&app, &layer, 5).await.unwrap(); // idempotent
    store.link_blob(&app, &config, 6).await.unwrap();
    assert!(store.repository_exists(&app).await.unwrap());
    assert_eq!(store.repo_blob_size(&app, &layer).await.unwrap(), Some(5));
    assert_eq!(store.repo_blob_size(&other, &layer).await.unwrap(), None);
    let sizes = store.repo_blob_sizes(&app, &[layer.clone(), config.clone(), Digest::sha256_of(b"x")]).await.unwrap();
    assert_eq!(sizes.len(), 2);
    assert_eq!(sizes[&config], 6);

    // Manifests, tags, exact bytes.
    let body = br#"{"schemaVersion":2}"#;
    let m1 = Digest::sha256_of(body);
    let mut nm = manifest(&app, &m1, body);
    nm.blobs = vec![layer.clone(), config.clone()];
    nm.tag = Some("v1");
    store.put_manifest(nm.clone()).await.unwrap();
    store.put_manifest(nm).await.unwrap(); // same push twice is fine
    let got = store.manifest_by_tag(&app, "v1", true).await.unwrap().unwrap();
    assert_eq!(got.digest, m1);
    assert_eq!(got.content.as_deref(), Some(&body[..]));
    assert_eq!(got.size, body.len() as u64);
    let head = store.manifest_by_digest(&app, &m1, false).await.unwrap().unwrap();
    assert!(head.content.is_none());
    assert!(store.manifest_by_digest(&other, &m1, true).await.unwrap().is_none());
    assert_eq!(store.existing_manifests(&app, &[m1.clone(), layer.clone()]).await.unwrap().len(), 1);

    // Tag listing is lexical and paginates.
    for t in ["b", "a", "c", "v2"] {
        let mut nm = manifest(&app, &m1, body);
        nm.tag = Some(t);
        store.put_manifest(nm).await.unwrap();
    }
    assert_eq!(store.list_tags(&app, None, 100).await.unwrap(), ["a", "b", "c", "v1", "v2"]);
    assert_eq!(store.list_tags(&app, None, 2).await.unwrap(), ["a", "b"]);
    assert_eq!(store.list_tags(&app, Some("b"), 2).await.unwrap(), ["c", "v1"]);

    // Retagging moves the tag.
    let body2 = br#"{"schemaVersion":2,"x":1}"#;
    let m2 = Digest::sha256_of(body2);
    let mut nm2 = manifest(&app, &m2, body2);
    nm2.tag = Some("v1");
    store.put_manifest(nm2).await.unwrap();
    assert_eq!(store.manifest_by_tag(&app, "v1", false).await.unwrap().unwrap().digest, m2);

    // Referrers, with and without an artifact type filter.
    let sig_body = br#"{"sig":1}"#;
    let sig = Digest::sha256_of(sig_body);
    let mut s = manifest(&app, &sig, sig_body);
    s.subject = Some(&m1);
    s.artifact_type = Some("application/vnd.example.sig");
    s.annotations = Some(r#"{"k":"v"}"#.into());
    store.put_manifest(s).await.unwrap();
    let sbom_body = br#"{"sbom":1}"#;
    let sbom = Digest::sha256_of(sbom_body);
    let mut s2 = manifest(&app, &sbom, sbom_body);
    s2.subject = Some(&m1);
    s2.artifact_type = Some("application/spdx+json");
    store.put_manifest(s2).await.unwrap();
    let all = store.referrers(&app, &m1, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let sigs = store.referrers(&app, &m1, Some("application/vnd.example.sig")).await.unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].digest, sig);
    assert_eq!(sigs[0].annotations.as_ref().unwrap()["k"], "v");
    assert!(store.referrers(&other, &m1, None).await.unwrap().is_empty());

    // Deleting a tag leaves the manifest; deleting the manifest takes its tags.
    assert!(store.delete_tag(&app, "a").await.unwrap());
    assert!(!store.delete_tag(&app, "a").await.unwrap());
    assert!(store.manifest_by_digest(&app, &m1, false).await.unwrap().is_some());
    assert!(store.delete_manifest(&app, &m1).await.unwrap());
    assert!(!store.delete_manifest(&app, &m1).await.unwrap());
    assert_eq!(store.list_tags(&app, None, 100).await.unwrap(), ["v1"]);

    // Unlinking a blob hides it from that repository only.
    store.link_blob(&other, &layer, 5).await.unwrap();
    assert!(store.unlink_blob(&app, &layer).await.unwrap());
    assert!(!store.unlink_blob(&app, &layer).await.unwrap());
    assert_eq!(store.repo_blob_size(&app, &layer).await.unwrap(), None);
    assert_eq!(store.repo_blob_size(&other, &layer).await.unwrap(), Some(5));

    // Catalog pagination.
    assert_eq!(store.list_repositories(None, 10).await.unwrap(), ["library/other", "project/team/app"]);
    assert_eq!(store.list_repositories(Some("library/other"), 10).await.unwrap(), ["project/team/app"]);

    // Upload sessions.
    store.create_upload("u1", &app).await.unwrap();
    let up = store.upload("u1").await.unwrap().unwrap();
    assert_eq!(up.repository, "project/team/app");
    assert_eq!(store.count_uploads().await.unwrap(), 1);
    assert_eq!(store.stale_uploads(up.updated_at + 1).await.unwrap(), ["u1"]);
    assert!(store.stale_uploads(up.updated_at).await.unwrap().is_empty());
    store.touch_upload("u1").await.unwrap();
    store.delete_upload("u1").await.unwrap();
    assert!(store.upload("u1").await.unwrap().is_none());
}
