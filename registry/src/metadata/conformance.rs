//! The one conformance suite every metadata backend must pass, public (behind
//! the `conformance` feature) so that a backend in another crate runs exactly
//! these cases: from its own test, call each section on a fresh, empty store:
//!
//! ```ignore
//! use wharf_registry::metadata::conformance;
//! conformance::run(&new_store().await).await;
//! conformance::run_identity(&new_store().await).await;
//! conformance::run_projects(&s, &s).await; // s = new_store().await
//! conformance::run_security(&s, &s, &s).await;
//! conformance::run_tag_rules(&s, &s, &s).await;
//! conformance::run_replication(&new_store().await).await;
//! ```
//!
//! A failed case panics with the assertion that failed.

use super::identity::PageReq;
use super::{
    BlobLink, IdentityStore, MetadataError, MetadataStore, NewManifest, PushBatch, RepoSummary,
};
use crate::digest::Digest;
use crate::names::RepoName;

const PAGE: PageReq = PageReq {
    page: 1,
    page_size: 10,
};

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

/// What opening a database that a newer version migrated gives (its
/// `_sqlx_migrations` names `version`, which this binary does not have): a
/// refusal that says so, on every backend.
pub fn assert_newer_schema<T>(opened: Result<T, super::MetadataError>, version: i64) {
    let Err(err) = opened else {
        panic!("a database migrated by a newer version was opened")
    };
    assert!(
        matches!(err, super::MetadataError::NewerSchema(v) if v == version),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer version of Wharf"), "{err}");
}

/// Content: blobs, manifests, tags, referrers, artifacts, uploads.
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
    let sizes = store
        .repo_blob_sizes(
            &app,
            &[layer.clone(), config.clone(), Digest::sha256_of(b"x")],
        )
        .await
        .unwrap();
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
    let got = store
        .manifest_by_tag(&app, "v1", true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.digest, m1);
    assert_eq!(got.content.as_deref(), Some(&body[..]));
    assert_eq!(got.size, body.len() as u64);
    let head = store
        .manifest_by_digest(&app, &m1, false)
        .await
        .unwrap()
        .unwrap();
    assert!(head.content.is_none());
    assert!(
        store
            .manifest_by_digest(&other, &m1, true)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .existing_manifests(&app, &[m1.clone(), layer.clone()])
            .await
            .unwrap()
            .len(),
        1
    );

    // Tag listing is lexical and paginates.
    for t in ["b", "a", "c", "v2"] {
        let mut nm = manifest(&app, &m1, body);
        nm.tag = Some(t);
        store.put_manifest(nm).await.unwrap();
    }
    assert_eq!(
        store.list_tags(&app, None, 100).await.unwrap(),
        ["a", "b", "c", "v1", "v2"]
    );
    assert_eq!(store.list_tags(&app, None, 2).await.unwrap(), ["a", "b"]);
    assert_eq!(
        store.list_tags(&app, Some("b"), 2).await.unwrap(),
        ["c", "v1"]
    );

    // Retagging moves the tag.
    let body2 = br#"{"schemaVersion":2,"x":1}"#;
    let m2 = Digest::sha256_of(body2);
    let mut nm2 = manifest(&app, &m2, body2);
    nm2.tag = Some("v1");
    store.put_manifest(nm2).await.unwrap();
    assert_eq!(
        store
            .manifest_by_tag(&app, "v1", false)
            .await
            .unwrap()
            .unwrap()
            .digest,
        m2
    );

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
    let sigs = store
        .referrers(&app, &m1, Some("application/vnd.example.sig"))
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].digest, sig);
    assert_eq!(sigs[0].annotations.as_ref().unwrap()["k"], "v");
    assert!(store.referrers(&other, &m1, None).await.unwrap().is_empty());

    // Deleting a tag leaves the manifest; deleting the manifest takes its tags.
    assert!(store.delete_tag(&app, "a").await.unwrap());
    assert!(!store.delete_tag(&app, "a").await.unwrap());
    assert!(
        store
            .manifest_by_digest(&app, &m1, false)
            .await
            .unwrap()
            .is_some()
    );
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
    assert_eq!(
        store.list_repositories(None, 10).await.unwrap(),
        ["library/other", "project/team/app"]
    );
    assert_eq!(
        store
            .list_repositories(Some("library/other"), 10)
            .await
            .unwrap(),
        ["project/team/app"]
    );

    // The management view: artifacts with tags and accessories (repositories
    // of a project: `run_projects`).
    let page = PAGE;
    let (arts, n) = store
        .list_artifacts(&app, page, &Default::default())
        .await
        .unwrap();
    assert_eq!(n, 1, "referrers are not listed as artifacts");
    assert_eq!(arts[0].digest, m2);
    assert_eq!(arts[0].size, body2.len() as u64, "no blobs: its own bytes");
    assert_eq!(
        arts[0]
            .tags
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["v1"]
    );
    assert!(store.put_tag(&app, "stable", &m2).await.unwrap());
    assert!(
        !store
            .put_tag(&app, "x", &Digest::sha256_of(b"none"))
            .await
            .unwrap()
    );
    let one = store.artifact(&app, &m2).await.unwrap().unwrap();
    assert_eq!(one.tags.len(), 2);
    // Many tags at once: a name given twice keeps its last digest, a digest the
    // repository does not hold tags nothing, and an existing tag moves.
    let tagged = store
        .put_tags(
            &app,
            &[
                ("bulk-a".to_string(), m2.clone()),
                ("bulk-b".to_string(), sig.clone()),
                ("bulk-b".to_string(), m2.clone()),
                ("bulk-x".to_string(), Digest::sha256_of(b"none")),
                ("stable".to_string(), sig.clone()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(tagged, 3);
    let listed = store.list_tags(&app, None, 100).await.unwrap();
    assert_eq!(listed, ["bulk-a", "bulk-b", "stable", "v1"]);
    for (tag, want) in [("bulk-a", &m2), ("bulk-b", &m2), ("stable", &sig)] {
        let got = store
            .manifest_by_tag(&app, tag, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got.digest, want, "{tag}");
    }
    assert_eq!(store.put_tags(&app, &[]).await.unwrap(), 0);
    // Back as they were for what follows.
    for tag in ["bulk-a", "bulk-b"] {
        assert!(store.delete_tag(&app, tag).await.unwrap());
    }
    assert!(store.put_tag(&app, "stable", &m2).await.unwrap());
    assert!(store.artifact(&other, &m2).await.unwrap().is_none());
    let sig_artifact = store.artifact(&app, &sig).await.unwrap().unwrap();
    assert!(sig_artifact.accessories.is_empty());
    // cosign's tag layout: a manifest tagged `sha256-<hex>.sig` is an accessory of
    // the artifact it names, not an artifact of its own.
    let cosign_body = b"cosign signature manifest";
    let cosign = Digest::sha256_of(cosign_body);
    let cosign_tag = format!("sha256-{}.sig", m2.hex());
    let mut c = manifest(&app, &cosign, cosign_body);
    c.tag = Some(&cosign_tag);
    store.put_manifest(c).await.unwrap();
    let (arts, n) = store
        .list_artifacts(&app, page, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        (n, arts.iter().map(|a| &a.digest).collect::<Vec<_>>()),
        (1, vec![&m2]),
        "a cosign tag's manifest is not listed"
    );
    assert_eq!(
        arts[0]
            .cosign_accessories
            .iter()
            .map(|(t, r)| (t.as_str(), &r.digest))
            .collect::<Vec<_>>(),
        [(cosign_tag.as_str(), &cosign)]
    );
    // The count the list reports follows every change that decides it (the
    // stores keep it rather than count per request): the cosign tag moved to
    // the artifact itself, its manifest listed again, the tag removed, a
    // manifest deleted while tagged.
    let count = || async {
        store
            .list_artifacts(&app, page, &Default::default())
            .await
            .unwrap()
            .1
    };
    assert!(store.put_tag(&app, &cosign_tag, &m2).await.unwrap());
    assert_eq!(count().await, 1, "the signature listed, the artifact not");
    assert!(store.delete_tag(&app, &cosign_tag).await.unwrap());
    assert_eq!(count().await, 2, "both listed");
    assert!(
        store
            .put_tags(&app, &[(cosign_tag.clone(), cosign.clone())])
            .await
            .unwrap()
            == 1
    );
    assert_eq!(count().await, 1);
    assert!(store.delete_manifest(&app, &cosign).await.unwrap());
    assert_eq!(count().await, 1, "a deleted accessory was not counted");

    artifact_sizes(store).await;
    push_batch(store).await;

    // Upload sessions.
    store.create_upload("u1", &app).await.unwrap();
    let up = store.upload("u1").await.unwrap().unwrap();
    assert_eq!(up.repository, "project/team/app");
    assert_eq!(store.count_uploads().await.unwrap(), 1);
    assert_eq!(
        store.stale_uploads(up.updated_at + 1).await.unwrap(),
        ["u1"]
    );
    assert!(store.stale_uploads(up.updated_at).await.unwrap().is_empty());
    store.touch_upload("u1").await.unwrap();
    store.delete_upload("u1").await.unwrap();
    assert!(store.upload("u1").await.unwrap().is_none());

    // Deleting a repository takes everything in it.
    assert!(store.delete_repository(&app).await.unwrap());
    assert!(!store.repository_exists(&app).await.unwrap());
    assert!(
        store
            .manifest_by_digest(&app, &m2, false)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.delete_repository(&app).await.unwrap());
}

/// `put_batch` writes what the calls it stands for write one by one: the same
/// image, index, referrer and tags pushed both ways read back the same (times
/// aside), counts included; a batch with a missing reference writes nothing.
async fn push_batch(store: &dyn MetadataStore) {
    let layer = Digest::sha256_of(b"batch layer");
    let config = Digest::sha256_of(b"batch config");
    let image_body = br#"{"batch":"image"}"#;
    let image = Digest::sha256_of(image_body);
    let index_body = br#"{"batch":"index"}"#;
    let index = Digest::sha256_of(index_body);
    let sbom_body = br#"{"batch":"sbom"}"#;
    let sbom = Digest::sha256_of(sbom_body);
    let cosign_body = br#"{"batch":"cosign"}"#;
    let cosign = Digest::sha256_of(cosign_body);
    let cosign_tag = format!("sha256-{}.sig", image.hex());
    let rows = |repo: &'static RepoName| {
        let mut img = manifest(repo, &image, image_body);
        img.blobs = vec![config.clone(), layer.clone()];
        img.tag = Some("v1");
        let mut idx = manifest(repo, &index, index_body);
        idx.media_type = "application/vnd.oci.image.index.v1+json";
        idx.children = vec![image.clone()];
        idx.tag = Some("multi");
        let mut referrer = manifest(repo, &sbom, sbom_body);
        referrer.subject = Some(&image);
        referrer.artifact_type = Some("application/spdx+json");
        referrer.annotations = Some(r#"{"created":"now"}"#.into());
        let mut sig = manifest(repo, &cosign, cosign_body);
        sig.blobs = vec![config.clone()];
        vec![img, idx, referrer, sig]
    };
    let more = || {
        vec![
            ("latest".to_string(), image.clone()),
            (cosign_tag.clone(), cosign.clone()),
        ]
    };
    static ONE: std::sync::LazyLock<RepoName> = std::sync::LazyLock::new(|| repo("batch/single"));
    static MANY: std::sync::LazyLock<RepoName> = std::sync::LazyLock::new(|| repo("batch/many"));
    let (one, many) = (&*ONE, &*MANY);

    store.link_blob(one, &layer, 11).await.unwrap();
    store.link_blob(one, &config, 12).await.unwrap();
    for m in rows(one) {
        store.put_manifest(m).await.unwrap();
    }
    assert_eq!(store.put_tags(one, &more()).await.unwrap(), 2);

    let set = store
        .put_batch(&PushBatch {
            links: vec![
                BlobLink {
                    repo: many,
                    digest: &layer,
                    size: 11,
                },
                BlobLink {
                    repo: many,
                    digest: &config,
                    size: 12,
                },
            ],
            manifests: rows(many),
            tags: vec![(many, more())],
        })
        .await
        .unwrap();
    assert_eq!(set, 2);

    let (layer_ref, config_ref, image_ref) = (&layer, &config, &image);
    let seen = |repo: &'static RepoName| async move {
        let (mut arts, n) = store
            .list_artifacts(repo, PAGE, &Default::default())
            .await
            .unwrap();
        for a in &mut arts {
            a.pushed_at = 0;
            a.tags.iter_mut().for_each(|t| t.1 = 0);
        }
        arts.sort_by(|a, b| a.digest.cmp(&b.digest));
        let tags = store.list_tags(repo, None, 100).await.unwrap();
        let referrers = store.referrers(repo, image_ref, None).await.unwrap();
        let sizes = store
            .repo_blob_sizes(repo, &[layer_ref.clone(), config_ref.clone()])
            .await
            .unwrap();
        let by_tag = store
            .manifest_by_tag(repo, "multi", true)
            .await
            .unwrap()
            .unwrap();
        (
            arts,
            n,
            tags,
            referrers,
            sizes,
            by_tag.digest,
            by_tag.content,
        )
    };
    let (single, batched) = (seen(one).await, seen(many).await);
    assert_eq!(
        single.1, 2,
        "the image and the index: the SBOM and the cosign signature are accessories"
    );
    assert_eq!(single.2, ["latest", "multi", cosign_tag.as_str(), "v1"]);
    assert_eq!(single.3.len(), 1);
    // What the page says of the image, field by field: its tags by name, the SBOM
    // referrer with its annotations, the cosign tag naming it.
    let img = single.0.iter().find(|a| a.digest == image).unwrap();
    assert_eq!(
        img.tags.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        ["latest", "v1"]
    );
    assert_eq!(
        img.accessories
            .iter()
            .map(|r| (
                &r.digest,
                r.media_type.as_str(),
                r.size,
                r.artifact_type.as_deref(),
                r.annotations.as_ref().map(|a| a["created"].clone())
            ))
            .collect::<Vec<_>>(),
        [(
            &sbom,
            "application/vnd.oci.image.manifest.v1+json",
            sbom_body.len() as u64,
            Some("application/spdx+json"),
            Some(serde_json::json!("now"))
        )]
    );
    assert_eq!(
        img.cosign_accessories
            .iter()
            .map(|(t, r)| (t.as_str(), &r.digest, r.size))
            .collect::<Vec<_>>(),
        [(cosign_tag.as_str(), &cosign, cosign_body.len() as u64)]
    );
    let idx = single.0.iter().find(|a| a.digest == index).unwrap();
    assert_eq!(idx.tags.len(), 1);
    assert!(idx.accessories.is_empty() && idx.cosign_accessories.is_empty());
    assert_eq!(batched, single);

    // A reference missing (here: a blob linked nowhere) undoes the whole batch.
    let failed = repo("batch/failed");
    let unknown = Digest::sha256_of(b"never uploaded");
    let mut bad = manifest(&failed, &cosign, cosign_body);
    bad.blobs = vec![unknown.clone()];
    bad.tag = Some("v1");
    let err = store
        .put_batch(&PushBatch {
            links: vec![BlobLink {
                repo: &failed,
                digest: &layer,
                size: 11,
            }],
            manifests: vec![manifest(&failed, &image, image_body), bad],
            tags: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MetadataError::MissingReference(d) if d == &unknown),
        "{err}"
    );
    assert!(!store.repository_exists(&failed).await.unwrap());
    assert_eq!(store.repo_blob_size(&failed, &layer).await.unwrap(), None);
    assert_eq!(store.put_batch(&PushBatch::default()).await.unwrap(), 0);

    for r in [one, many] {
        assert!(store.delete_repository(r).await.unwrap());
    }
}

/// Harbor's artifact size: manifest bytes + config + layers; an index adds
/// its children's sizes, nested indexes included.
async fn artifact_sizes(store: &dyn MetadataStore) {
    let repo = repo("sizes/app");
    let (layer, config) = (b"layer bytes".as_slice(), b"{}".as_slice());
    let (ld, cd) = (Digest::sha256_of(layer), Digest::sha256_of(config));
    store
        .link_blob(&repo, &ld, layer.len() as u64)
        .await
        .unwrap();
    store
        .link_blob(&repo, &cd, config.len() as u64)
        .await
        .unwrap();
    let put = |body: &'static [u8], blobs: Vec<Digest>, children: Vec<Digest>| {
        let repo = repo.clone();
        async move {
            let digest = Digest::sha256_of(body);
            let mut m = manifest(&repo, &digest, body);
            m.blobs = blobs;
            m.children = children;
            store.put_manifest(m).await.unwrap();
            digest
        }
    };
    let (a_body, b_body) = (br#"{"image":"a"}"#, br#"{"image":"b"}"#);
    let a = put(a_body, vec![cd.clone(), ld.clone()], vec![]).await;
    let b = put(b_body, vec![cd.clone()], vec![]).await;
    let i_body = br#"{"index":"i"}"#;
    let i = put(i_body, vec![], vec![a.clone(), b.clone()]).await;
    let j_body = br#"{"index":"j"}"#;
    let j = put(j_body, vec![], vec![i.clone()]).await;

    let a_size = a_body.len() + config.len() + layer.len();
    let b_size = b_body.len() + config.len();
    let i_size = i_body.len() + a_size + b_size;
    let j_size = j_body.len() + i_size;
    let (arts, n) = store
        .list_artifacts(&repo, PAGE, &Default::default())
        .await
        .unwrap();
    assert_eq!(n, 4);
    let size_of = |d: &Digest| arts.iter().find(|x| &x.digest == d).unwrap().size;
    assert_eq!(
        [size_of(&a), size_of(&b), size_of(&i), size_of(&j)],
        [a_size, b_size, i_size, j_size].map(|s| s as u64)
    );
    let one = store.artifact(&repo, &i).await.unwrap().unwrap();
    assert_eq!(one.size, i_size as u64);
    assert!(store.delete_repository(&repo).await.unwrap());
}

/// A repository with one manifest, as a push leaves it.
async fn push(store: &dyn MetadataStore, name: &str) {
    let repo = repo(name);
    let body = format!(r#"{{"repository":"{name}"}}"#);
    let digest = Digest::sha256_of(body.as_bytes());
    let mut m = manifest(&repo, &digest, body.as_bytes());
    m.tag = Some("v1");
    store.put_manifest(m).await.unwrap();
}

/// Which repositories are a project's: those whose first segment is exactly
/// its name (`_` is no wildcard: `a_b` never sees `axb`), whether pushed before
/// the project was created (access control off) or after.
pub async fn run_projects(meta: &dyn MetadataStore, identity: &dyn IdentityStore) {
    let names = |(repos, n): (Vec<RepoSummary>, i64)| {
        (repos.into_iter().map(|r| r.name).collect::<Vec<_>>(), n)
    };
    // Before the projects exist; `a_b` alone has no project segment.
    for name in ["axb/secret", "a_bc/x", "a_b"] {
        push(meta, name).await;
    }
    let axb = identity
        .create_project("axb", false, None)
        .await
        .unwrap()
        .unwrap();
    let a_b = identity
        .create_project("a_b", false, None)
        .await
        .unwrap()
        .unwrap();
    for name in ["a_b/app", "a_b/team/app"] {
        push(meta, name).await;
    }
    let listed = meta.list_project_repositories("a_b", PAGE).await.unwrap();
    assert_eq!(
        names(listed),
        (vec!["a_b/app".into(), "a_b/team/app".into()], 2)
    );
    let listed = meta.list_project_repositories("axb", PAGE).await.unwrap();
    assert_eq!(names(listed), (vec!["axb/secret".into()], 1));
    let listed = meta.list_project_repositories("a_bc", PAGE).await.unwrap();
    assert_eq!(names(listed), (vec![], 0), "no project a_bc");
    let (repos, _) = meta.list_project_repositories("a_b", PAGE).await.unwrap();
    assert_eq!(repos[0].artifact_count, 1);
    let count = |name: &'static str| async move {
        identity
            .project_by_name(name)
            .await
            .unwrap()
            .unwrap()
            .repo_count
    };
    assert_eq!((count("a_b").await, count("axb").await), (2, 1));
    assert_eq!(
        identity
            .project_by_id(a_b)
            .await
            .unwrap()
            .unwrap()
            .repo_count,
        2
    );
    // The name filter is a plain substring match too.
    let (found, n) = identity
        .list_projects(None, Some("_b"), PAGE)
        .await
        .unwrap();
    let found: Vec<_> = found.into_iter().map(|p| p.name).collect();
    assert_eq!((found, n), (vec!["a_b".to_string()], 1));

    // Only a project's own repositories keep it from being deleted.
    assert!(!identity.delete_project(a_b).await.unwrap());
    for name in ["a_b/app", "a_b/team/app"] {
        assert!(meta.delete_repository(&repo(name)).await.unwrap());
    }
    assert!(
        identity.delete_project(a_b).await.unwrap(),
        "axb/secret is not a_b's"
    );
    assert!(!identity.delete_project(axb).await.unwrap());
    let listed = meta.list_project_repositories("axb", PAGE).await.unwrap();
    assert_eq!(names(listed), (vec!["axb/secret".into()], 1));

    // A project created again starts empty and takes new pushes.
    let again = identity
        .create_project("a_b", true, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        identity
            .project_by_id(again)
            .await
            .unwrap()
            .unwrap()
            .repo_count,
        0
    );
    push(meta, "a_b/again").await;
    let listed = meta.list_project_repositories("a_b", PAGE).await.unwrap();
    assert_eq!(names(listed), (vec!["a_b/again".into()], 1));
}

/// The identity half: users, projects, members, robots, audit log, secrets.
pub async fn run_identity(store: &dyn IdentityStore) {
    use super::identity::{AuditEntry, AuditFilter, NewRobot, NewUser, RoleDeletion};
    use crate::auth::rbac::{Action, ActionSet, Role, RoleId};

    let page = PageReq {
        page: 1,
        page_size: 10,
    };
    let alice = store
        .create_user(NewUser {
            username: "alice",
            password_hash: "h1",
            email: Some("a@x"),
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap()
        .unwrap();
    let dup = NewUser {
        username: "alice",
        password_hash: "h2",
        email: None,
        realname: None,
        sysadmin: false,
    };
    assert_eq!(
        store.create_user(dup).await.unwrap(),
        None,
        "names are unique"
    );
    let (u, hash) = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(
        (u.id, hash.as_str(), u.email.as_deref()),
        (alice, "h1", Some("a@x"))
    );
    assert!(store.set_password(alice, "h3").await.unwrap());
    assert_eq!(store.user_by_id(alice).await.unwrap().unwrap().1, "h3");
    assert!(store.set_sysadmin(alice, true).await.unwrap());
    assert!(store.user_by_id(alice).await.unwrap().unwrap().0.sysadmin);
    let bob = store
        .create_user(NewUser {
            username: "bob",
            password_hash: "h",
            email: None,
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap()
        .unwrap();
    let (users, total) = store
        .list_users(
            None,
            PageReq {
                page: 2,
                page_size: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (users.len(), total, users[0].username.as_str()),
        (1, 2, "bob")
    );
    // A name filter narrows the list and its total alike.
    let (found, n) = store
        .list_users(
            Some("ob"),
            PageReq {
                page: 1,
                page_size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!((n, found.len(), found[0].username.as_str()), (1, 1, "bob"));

    // Projects: `library` exists and is public; private ones are seen by members only.
    let lib = store.project_by_name("library").await.unwrap().unwrap();
    assert!(lib.public);
    let team = store
        .create_project("team", false, Some(alice))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.create_project("team", true, None).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .project_by_id(team)
            .await
            .unwrap()
            .unwrap()
            .owner_name
            .as_deref(),
        Some("alice")
    );
    let (visible, n) = store.list_projects(Some(bob), None, page).await.unwrap();
    assert_eq!((n, visible[0].name.as_str()), (1, "library"));
    let member = store
        .add_member(team, bob, Role::Developer.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .add_member(team, bob, Role::Guest.into())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_projects(Some(bob), None, page).await.unwrap().1,
        2
    );
    assert_eq!(
        store
            .list_projects(None, Some("tea"), page)
            .await
            .unwrap()
            .1,
        1
    );
    // Both filters at once, and a page after the first (the bounds a statement
    // carries as text on PostgreSQL).
    let names = |(found, n): (Vec<super::identity::Project>, i64)| {
        (found.into_iter().map(|p| p.name).collect::<Vec<_>>(), n)
    };
    assert_eq!(
        names(
            store
                .list_projects(Some(bob), Some("tea"), page)
                .await
                .unwrap()
        ),
        (vec!["team".to_string()], 1)
    );
    let second = PageReq {
        page: 2,
        page_size: 1,
    };
    assert_eq!(
        names(store.list_projects(Some(bob), None, second).await.unwrap()),
        (vec!["team".to_string()], 2)
    );
    let access = store
        .project_access("team", Some(bob))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (access.public, access.grant.role, access.grant.actions),
        (
            false,
            Some(Role::Developer.into()),
            ActionSet::of_role(Role::Developer)
        )
    );
    assert_eq!(
        store
            .project_access("team", None)
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        None
    );
    assert!(
        store
            .project_access("nothing", Some(bob))
            .await
            .unwrap()
            .is_none()
    );
    // The project and the caller's access in one read: the project as
    // `project_by_name` reads it, and the access asserted above (`project_access`
    // is this read's second half, so it is checked against expectations, not
    // against itself).
    let project = store.project_by_name("team").await.unwrap().unwrap();
    for (user, role) in [(Some(bob), Some(Role::Developer)), (None, None)] {
        let (got, access) = store
            .project_with_access("team", user)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, project, "{user:?}");
        assert_eq!(
            (
                access.project_id,
                access.public,
                access.grant.role,
                access.grant.actions
            ),
            (
                project.id,
                false,
                role.map(Into::into),
                role.map(ActionSet::of_role).unwrap_or_default()
            ),
            "{user:?}"
        );
    }
    assert_eq!(
        store
            .project_with_access("nothing", Some(bob))
            .await
            .unwrap(),
        None
    );
    // Roles for a page of projects at once: only where the user is a member.
    let roles = store
        .member_roles(bob, &[lib.id, team, 9999])
        .await
        .unwrap();
    assert_eq!(
        roles.into_iter().collect::<Vec<_>>(),
        vec![(team, RoleId::from(Role::Developer))]
    );
    assert!(store.member_roles(bob, &[]).await.unwrap().is_empty());
    assert!(
        store
            .update_member(team, member, Role::Maintainer.into())
            .await
            .unwrap()
    );
    let listed = &store.list_members(team).await.unwrap()[0];
    assert_eq!(
        (listed.role, listed.role_name.as_str()),
        (Role::Maintainer.into(), "maintainer")
    );

    // Custom roles: stored with their actions, numbered clear of the built-in
    // ids, held by members like a built-in role, removable only when unused.
    let scan_only = ActionSet::parse(["pull", "scan", "read-scan"]).unwrap();
    let scanner = store
        .create_role("scanner", "pulls and scans", scan_only)
        .await
        .unwrap()
        .unwrap();
    assert!(scanner >= crate::auth::rbac::FIRST_CUSTOM_ROLE_ID);
    assert_eq!(
        store.create_role("SCANNER", "", scan_only).await.unwrap(),
        None,
        "role names are unique regardless of case"
    );
    let stored = store.role_by_id(scanner).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.actions, stored.builtin),
        ("scanner", scan_only, false)
    );
    let dave = store
        .create_user(NewUser {
            username: "dave",
            password_hash: "h",
            email: None,
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap()
        .unwrap();
    let dave_member = store
        .add_member(team, dave, RoleId(scanner))
        .await
        .unwrap()
        .unwrap();
    let grant = store
        .project_access("team", Some(dave))
        .await
        .unwrap()
        .unwrap()
        .grant;
    assert_eq!(
        (grant.role, grant.actions),
        (Some(RoleId(scanner)), scan_only)
    );
    assert!(!grant.actions.contains(Action::Push));
    assert_eq!(
        store
            .member(team, dave_member)
            .await
            .unwrap()
            .unwrap()
            .role_name,
        "scanner"
    );
    let with_push = scan_only.with(Action::Push);
    assert_eq!(
        store
            .update_role(scanner, "scanner", "", with_push)
            .await
            .unwrap(),
        Some(true)
    );
    assert!(
        store
            .project_access("team", Some(dave))
            .await
            .unwrap()
            .unwrap()
            .grant
            .actions
            .contains(Action::Push),
        "a role's change applies to its holders at once"
    );
    assert_eq!(
        store
            .update_role(scanner + 1000, "x", "", with_push)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(store.list_roles().await.unwrap().len(), 1);
    assert_eq!(
        store.delete_role(scanner).await.unwrap(),
        RoleDeletion::InUse
    );
    assert!(store.remove_member(team, dave_member).await.unwrap());
    assert_eq!(
        store.delete_role(scanner).await.unwrap(),
        RoleDeletion::Deleted
    );
    assert_eq!(
        store.delete_role(scanner).await.unwrap(),
        RoleDeletion::NotFound
    );
    assert!(store.delete_user(dave).await.unwrap());
    assert_eq!(
        store
            .member(team, member)
            .await
            .unwrap()
            .unwrap()
            .entity_name,
        "bob"
    );

    // Groups: LDAP groups by DN (case-insensitive), members of projects in the
    // same id space as users; a user's role is the highest of own and groups'.
    use super::identity::{EntityType, GROUP_TYPE_LDAP, GROUP_TYPE_OIDC};
    let devs = store
        .create_group(
            "devs",
            GROUP_TYPE_LDAP,
            "cn=Devs,ou=groups,dc=example,dc=org",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .create_group(
                "other",
                GROUP_TYPE_LDAP,
                "CN=devs,ou=groups,dc=example,dc=org"
            )
            .await
            .unwrap(),
        None,
        "an LDAP group DN is unique whatever its case"
    );
    let oidc = store
        .create_group("devs", GROUP_TYPE_OIDC, "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .create_group("devs", GROUP_TYPE_OIDC, "")
            .await
            .unwrap(),
        None
    );
    let found = store
        .groups_by_dn(&[
            "cn=devs,ou=groups,dc=example,dc=org".into(),
            "cn=nobody,dc=example,dc=org".into(),
        ])
        .await
        .unwrap();
    assert_eq!(found.iter().map(|g| g.id).collect::<Vec<_>>(), vec![devs]);
    let (listed, n) = store.list_groups(Some("DEV"), page).await.unwrap();
    assert_eq!((n, listed.len()), (2, 2));
    assert!(store.rename_group(oidc, "oidc-devs").await.unwrap());
    assert_eq!(
        store.group_by_id(oidc).await.unwrap().unwrap().group_name,
        "oidc-devs"
    );
    let gm = store
        .add_group_member(team, devs, Role::ProjectAdmin.into())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(gm, member);
    assert_eq!(
        store
            .add_group_member(team, devs, Role::Guest.into())
            .await
            .unwrap(),
        None
    );
    let listed = store.list_members(team).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|m| (m.entity_type, m.entity_id, m.entity_name.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (EntityType::User, bob, "bob"),
            (EntityType::Group, devs, "devs")
        ]
    );
    // Not yet in the group: bob's own role.
    assert_eq!(
        store
            .project_access("team", Some(bob))
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        Some(Role::Maintainer.into())
    );
    store.set_user_groups(bob, &[devs, oidc]).await.unwrap();
    assert_eq!(store.user_groups(bob).await.unwrap(), vec![devs, oidc]);
    assert_eq!(
        store
            .project_access("team", Some(bob))
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        Some(Role::ProjectAdmin.into())
    );
    assert_eq!(
        store.member_roles(bob, &[team]).await.unwrap()[&team],
        Role::ProjectAdmin.into()
    );
    // A group's role below the user's own does not lower it.
    assert!(
        store
            .update_member(team, gm, Role::Guest.into())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .project_access("team", Some(bob))
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        Some(Role::Maintainer.into())
    );
    // Through a group alone, a private project becomes visible.
    let carol = store
        .create_user(NewUser {
            username: "carol",
            password_hash: "h",
            email: None,
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .list_projects(Some(carol), None, page)
            .await
            .unwrap()
            .1,
        1
    );
    store.set_user_groups(carol, &[devs]).await.unwrap();
    assert_eq!(
        store
            .list_projects(Some(carol), None, page)
            .await
            .unwrap()
            .1,
        2
    );
    assert_eq!(
        store
            .project_access("team", Some(carol))
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        Some(Role::Guest.into())
    );
    store.set_user_groups(carol, &[]).await.unwrap();
    assert_eq!(
        store
            .project_access("team", Some(carol))
            .await
            .unwrap()
            .unwrap()
            .grant
            .role,
        None
    );
    assert!(store.delete_user(carol).await.unwrap());
    // A custom role held through a group adds its actions to the user's own
    // role; the role shown stays the one granting most.
    let members_admin = store
        .create_role(
            "members-admin",
            "",
            ActionSet::parse(["read-members", "manage-members"]).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .update_member(team, gm, RoleId(members_admin))
            .await
            .unwrap()
    );
    let grant = store
        .project_access("team", Some(bob))
        .await
        .unwrap()
        .unwrap()
        .grant;
    assert_eq!(grant.role, Some(Role::Maintainer.into()));
    assert_eq!(
        grant.actions,
        ActionSet::of_role(Role::Maintainer).with(Action::ManageMembers)
    );
    assert!(
        store
            .update_member(team, gm, Role::Guest.into())
            .await
            .unwrap()
    );
    // Deleting a group removes it from projects and from its users.
    assert!(store.delete_group(devs).await.unwrap());
    assert!(!store.delete_group(devs).await.unwrap());
    assert_eq!(store.user_groups(bob).await.unwrap(), vec![oidc]);
    assert_eq!(store.list_members(team).await.unwrap().len(), 1);
    assert!(store.delete_group(oidc).await.unwrap());

    // Configuration items: set together, read one by one, replaced.
    assert_eq!(store.configuration("auth_mode").await.unwrap(), None);
    store
        .set_configuration(&[
            ("auth_mode".into(), "\"ldap_auth\"".into()),
            ("ldap_uid".into(), "\"uid\"".into()),
        ])
        .await
        .unwrap();
    store
        .set_configuration(&[("auth_mode".into(), "\"db_auth\"".into())])
        .await
        .unwrap();
    assert_eq!(
        store.configuration("auth_mode").await.unwrap().as_deref(),
        Some("\"db_auth\"")
    );
    assert_eq!(
        store.configuration("ldap_uid").await.unwrap().as_deref(),
        Some("\"uid\"")
    );

    assert!(store.remove_member(team, member).await.unwrap());
    assert!(store.list_members(team).await.unwrap().is_empty());

    // A project with repositories cannot be deleted.
    assert!(store.set_project_public(team, true).await.unwrap());
    let ns = store
        .create_project("scratch", false, None)
        .await
        .unwrap()
        .unwrap();
    assert!(store.delete_project(ns).await.unwrap());
    assert!(store.project_by_id(ns).await.unwrap().is_none());

    // Robots.
    let perms = serde_json::json!([{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}]);
    let robot = NewRobot {
        name: "robot$team+ci",
        description: "",
        level: "project",
        project_id: Some(team),
        secret_hash: "s1",
        permissions: &perms,
        disabled: false,
        expires_at: -1,
    };
    let rid = store.create_robot(robot.clone()).await.unwrap().unwrap();
    assert_eq!(store.create_robot(robot).await.unwrap(), None);
    let (r, secret) = store.robot_by_name("robot$team+ci").await.unwrap().unwrap();
    assert_eq!(
        (r.id, secret.as_str(), r.permissions.clone()),
        (rid, "s1", perms.clone())
    );
    assert!(
        store
            .update_robot(rid, "d", true, &perms, 123)
            .await
            .unwrap()
    );
    let r = store.robot_by_id(rid).await.unwrap().unwrap();
    assert_eq!(
        (r.disabled, r.expires_at, r.description.as_str()),
        (true, 123, "d")
    );
    assert!(store.set_robot_secret(rid, "s2").await.unwrap());
    assert_eq!(
        store
            .robot_by_name("robot$team+ci")
            .await
            .unwrap()
            .unwrap()
            .1,
        "s2"
    );
    assert_eq!(store.list_robots(Some(team)).await.unwrap().len(), 1);
    assert_eq!(store.list_robots(Some(lib.id)).await.unwrap().len(), 0);
    assert!(store.delete_robot(rid).await.unwrap());
    assert!(store.robot_by_id(rid).await.unwrap().is_none());

    // Audit log: newest first, filtered by project, counted.
    let entry = |op: &str, project: Option<&str>| AuditEntry {
        id: 0,
        op_time: 1,
        username: "alice".into(),
        operation: op.into(),
        resource_type: "artifact".into(),
        resource: "team/app:v1".into(),
        project: project.map(str::to_owned),
        client_ip: Some("10.0.0.1".into()),
    };
    store
        .append_audit(&[
            entry("create", Some("team")),
            entry("pull", Some("team")),
            entry("create", None),
        ])
        .await
        .unwrap();
    let (all, total) = store
        .list_audit(&AuditFilter::default(), page)
        .await
        .unwrap();
    assert_eq!((total, all[0].operation.as_str()), (3, "create"));
    let (team_log, n) = store
        .list_audit(&AuditFilter::project("team"), page)
        .await
        .unwrap();
    assert_eq!((n, team_log[0].operation.as_str()), (2, "pull"));
    // Filters combine: an operation exactly, user and resource as substrings.
    let only = |f: AuditFilter| async move { store.list_audit(&f, page).await.unwrap().1 };
    let op = |o: &str| AuditFilter {
        operation: Some(o.into()),
        ..Default::default()
    };
    assert_eq!(only(op("create")).await, 2);
    assert_eq!(
        only(AuditFilter {
            username: Some("lic".into()),
            resource: Some("app:v".into()),
            ..op("pull")
        })
        .await,
        1
    );
    assert_eq!(
        only(AuditFilter {
            username: Some("bob".into()),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        only(AuditFilter {
            resource_type: Some("artifact".into()),
            project: Some("team".into()),
            ..Default::default()
        })
        .await,
        2
    );

    assert!(store.delete_user(bob).await.unwrap());
    assert_eq!(store.count_users().await.unwrap(), 1);
}

/// The security half: project metadata, allow-lists, scan reports, settings.
/// `meta` and `security` are the same store seen through both traits.
pub async fn run_security(
    meta: &dyn MetadataStore,
    identity: &dyn IdentityStore,
    store: &dyn super::SecurityStore,
) {
    use std::collections::BTreeMap;

    use super::security::{ScanOutcome, ScanStatus};

    let pid = identity
        .create_project("sec", false, None)
        .await
        .unwrap()
        .unwrap();
    assert!(store.project_metadata(pid).await.unwrap().is_empty());
    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    store
        .set_project_metadata(pid, &set(&[("auto_scan", "true"), ("severity", "high")]))
        .await
        .unwrap();
    store
        .set_project_metadata(pid, &set(&[("severity", "critical")]))
        .await
        .unwrap();
    assert_eq!(
        store.project_metadata(pid).await.unwrap(),
        set(&[("auto_scan", "true"), ("severity", "critical")])
    );
    // Many projects in one call: projects without settings are absent.
    let other = identity
        .create_project("sec-other", false, None)
        .await
        .unwrap()
        .unwrap();
    store
        .set_project_metadata(other, &set(&[("prevent_vul", "true")]))
        .await
        .unwrap();
    let bare = identity
        .create_project("sec-bare", false, None)
        .await
        .unwrap()
        .unwrap();
    let many = store
        .project_metadata_many(&[pid, other, bare])
        .await
        .unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(many[&pid], store.project_metadata(pid).await.unwrap());
    assert_eq!(many[&other], set(&[("prevent_vul", "true")]));
    assert!(store.project_metadata_many(&[]).await.unwrap().is_empty());

    assert_eq!(store.allowlist("system").await.unwrap(), None);
    store
        .set_allowlist("system", &["CVE-1".into(), "CVE-2".into()], Some(100))
        .await
        .unwrap();
    let a = store.allowlist("system").await.unwrap().unwrap();
    assert_eq!(
        (a.items.clone(), a.expires_at),
        (vec!["CVE-1".to_string(), "CVE-2".to_string()], Some(100))
    );
    assert_eq!(a.active(99).len(), 2);
    assert!(
        a.active(100).is_empty(),
        "expired allow-lists allow nothing"
    );
    store.set_allowlist("system", &[], None).await.unwrap();
    assert!(
        store
            .allowlist("system")
            .await
            .unwrap()
            .unwrap()
            .items
            .is_empty()
    );
    store
        .set_allowlist(&format!("project:{pid}"), &["CVE-3".into()], None)
        .await
        .unwrap();
    let lists = store
        .allowlists(&[
            "system".into(),
            format!("project:{pid}"),
            format!("project:{other}"),
        ])
        .await
        .unwrap();
    assert_eq!(lists.len(), 2);
    assert_eq!(
        lists[&format!("project:{pid}")].items,
        vec!["CVE-3".to_string()]
    );
    assert!(lists["system"].items.is_empty());

    // Scans: queued once, taken once, finished with a report; a failed rescan keeps the report.
    let repo = RepoName::parse("sec/app").unwrap();
    let layer = Digest::sha256_of(b"sec-layer");
    let m = Digest::sha256_of(b"sec-manifest");
    meta.link_blob(&repo, &layer, 5).await.unwrap();
    let mut nm = manifest(&repo, &m, br#"{"x":1}"#);
    nm.blobs = vec![layer.clone()];
    nm.tag = Some("v1");
    meta.put_manifest(nm).await.unwrap();
    let page = store.scannable_artifacts(0, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].1.as_str(), &page[0].2), ("sec/app", &m));
    assert!(
        store
            .scannable_artifacts(page[0].0, 1)
            .await
            .unwrap()
            .is_empty(),
        "the next page starts after the last id"
    );
    assert!(store.queue_scan(&m, "sec/app").await.unwrap());
    assert!(
        !store.queue_scan(&m, "sec/app").await.unwrap(),
        "already pending"
    );
    assert_eq!(
        store
            .unfinished_scans(ScanStatus::Pending, 10)
            .await
            .unwrap(),
        vec![(m.clone(), "sec/app".to_string())]
    );
    assert!(
        store
            .unfinished_scans(ScanStatus::Pending, 0)
            .await
            .unwrap()
            .is_empty(),
        "at most the limit"
    );
    // Leases: a scan another process holds is left alone until its lease runs out.
    let far = super::now() + 3600;
    assert!(store.start_scan(&m, "run-a", far).await.unwrap());
    assert!(
        !store.start_scan(&m, "run-b", far).await.unwrap(),
        "taken once"
    );
    assert!(
        store
            .requeue_expired_scans(super::now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    assert!(
        !store.renew_scan(&m, "run-b", far).await.unwrap(),
        "renewed only by its owner"
    );
    assert!(store.renew_scan(&m, "run-a", 100).await.unwrap());
    let (a, b) = futures_util::future::join(
        store.requeue_expired_scans(101, 10),
        store.requeue_expired_scans(101, 10),
    )
    .await;
    let mut moved = a.unwrap();
    moved.extend(b.unwrap());
    assert_eq!(moved, vec![m.clone()], "requeued once, by one caller");
    assert_eq!(
        store.scan(&m).await.unwrap().unwrap().status,
        ScanStatus::Pending
    );
    assert!(
        !store.renew_scan(&m, "run-a", far).await.unwrap(),
        "no longer running"
    );
    assert!(store.start_scan(&m, "run-b", far).await.unwrap());
    // run-a stalled past its lease and its scan was taken again by run-b: run-a
    // can neither renew nor finish it, and run-b's row is untouched.
    assert!(
        !store.renew_scan(&m, "run-a", far).await.unwrap(),
        "a lease taken over is not renewed by its former owner"
    );
    let stale = ScanOutcome {
        status: ScanStatus::Error,
        severity: None,
        summary: None,
        report: None,
        db_version: None,
        message: Some("late"),
    };
    assert!(
        !store.finish_scan(&m, "run-a", stale).await.unwrap(),
        "a late finisher's result is dropped"
    );
    let rec = store.scan(&m).await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.message.as_deref()),
        (
            ScanStatus::Running,
            Some("interrupted: the process running the scan stopped")
        ),
        "the new run's row, not the late result"
    );
    assert_eq!(
        store
            .unfinished_scans(ScanStatus::Running, 10)
            .await
            .unwrap(),
        vec![(m.clone(), "sec/app".to_string())]
    );
    assert!(
        store
            .unfinished_scans(ScanStatus::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A report with one finding, written as the scanner serialises it: the store
    // must give back the same findings.
    let report_json = serde_json::json!({
        "generated_at": 1_700_000_000, "repository": "sec/app", "digest": m.to_string(), "packages": 3,
        "findings": [{
            "package": {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "ecosystem": "Debian",
                        "purl": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1", "path": "var/lib/dpkg/status"},
            "advisory": {"id": "DLA-1", "source": "debian", "summary": null, "details": null,
                         "aliases": ["CVE-1"], "published": null, "modified": null, "severity": "HIGH",
                         "cvss_v3": null, "cvss_v4": null, "references": []},
            "vulnerability_id": "CVE-1", "fixed_version": "1:1.2.13.dfsg-2", "status": "fixed"
        }]
    });
    let report: super::security::VulnerabilityReport =
        serde_json::from_value(report_json.clone()).expect("a report as the scanner writes it");
    let (summary, highest) = report.summary();
    assert_eq!(
        (summary.total, summary.fixable, highest),
        (1, 1, wharf_scanner::Severity::High)
    );
    let ok = ScanOutcome {
        status: ScanStatus::Success,
        severity: Some(highest),
        summary: Some(&summary),
        report: Some(&report),
        db_version: Some("v1"),
        message: None,
    };
    assert!(store.finish_scan(&m, "run-b", ok).await.unwrap());
    // The Security Hub's index, kept to a set of projects: the project's finding is
    // found with its id in the set, not with only another project's, nor an empty set.
    let in_projects = |ids: Vec<i64>| super::security::VulnQuery {
        cve_id: Some("CVE-1".into()),
        project_ids: Some(ids),
        ..Default::default()
    };
    let one = super::identity::PageReq {
        page: 1,
        page_size: 10,
    };
    let (found, n) = store
        .search_vulnerabilities(&in_projects(vec![other, pid]), one, false, None)
        .await
        .unwrap();
    assert_eq!(
        (
            n,
            found
                .iter()
                .map(|v| v.repository.as_str())
                .collect::<Vec<_>>()
        ),
        (1, vec!["sec/app"])
    );
    for ids in [vec![other], vec![]] {
        let (found, n) = store
            .search_vulnerabilities(&in_projects(ids.clone()), one, false, None)
            .await
            .unwrap();
        assert_eq!((n, found.len()), (0, 0), "projects {ids:?}");
    }
    let rec = store.scan(&m).await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.severity, rec.summary.as_ref()),
        (ScanStatus::Success, Some(highest), Some(&summary))
    );
    assert!(
        store
            .unfinished_scans(ScanStatus::Running, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store.queue_scan(&m, "sec/app").await.unwrap(),
        "a finished scan can be rerun"
    );
    assert!(
        store
            .start_scan(&m, "run-c", super::now() + 60)
            .await
            .unwrap()
    );
    let failed = ScanOutcome {
        status: ScanStatus::Error,
        severity: None,
        summary: None,
        report: None,
        db_version: None,
        message: Some("boom"),
    };
    assert!(store.finish_scan(&m, "run-c", failed).await.unwrap());
    let rec = store.scan(&m).await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.message.as_deref(), rec.severity),
        (ScanStatus::Error, Some("boom"), Some(highest))
    );
    let stored = store
        .scan_report(&m)
        .await
        .unwrap()
        .expect("the last good report");
    assert_eq!(
        serde_json::to_value(&stored).unwrap(),
        serde_json::to_value(&report).unwrap()
    );
    assert_eq!(stored.findings[0].package.name, "zlib1g");
    let many = store
        .scans(&[m.clone(), Digest::sha256_of(b"other")])
        .await
        .unwrap();
    assert_eq!(many.len(), 1);
    assert_eq!(store.scan_counts().await.unwrap().get("Error"), Some(&1));
    // Stopping: only a pending or running scan stops; a result arriving after the
    // stop is not written, and the last good report stays readable.
    assert_eq!(store.stop_scan(&m).await.unwrap(), None, "nothing to stop");
    assert!(store.queue_scan(&m, "sec/app").await.unwrap());
    assert!(store.start_scan(&m, "run-d", i64::MAX).await.unwrap());
    assert_eq!(
        store.stop_scan(&m).await.unwrap().as_deref(),
        Some("sec/app")
    );
    assert_eq!(store.stop_scan(&m).await.unwrap(), None, "stopped once");
    assert!(
        !store.renew_scan(&m, "run-d", i64::MAX).await.unwrap(),
        "a stopped scan's lease is not renewed (its worker, on any replica, cancels)"
    );
    assert!(
        store
            .requeue_expired_scans(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty(),
        "a stopped scan is not requeued"
    );
    let late = ScanOutcome {
        status: ScanStatus::Success,
        severity: Some(wharf_scanner::Severity::None),
        summary: None,
        report: None,
        db_version: None,
        message: None,
    };
    assert!(!store.finish_scan(&m, "run-d", late).await.unwrap());
    let rec = store.scan(&m).await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.severity),
        (ScanStatus::Stopped, Some(highest))
    );
    assert!(store.scan_report(&m).await.unwrap().is_some());
    assert!(
        !store.start_scan(&m, "run-e", i64::MAX).await.unwrap(),
        "a stopped scan is not taken"
    );
    assert!(
        store.queue_scan(&m, "sec/app").await.unwrap(),
        "requeued after a stop"
    );
    assert_eq!(
        store.stop_scans().await.unwrap(),
        vec![(m.clone(), "sec/app".to_string())]
    );
    assert!(store.stop_scans().await.unwrap().is_empty());
    assert_eq!(store.scan_counts().await.unwrap().get("Stopped"), Some(&1));

    // Pull statistics add up per manifest and per repository.
    let pull = |n, at| super::Pull {
        repo: "sec/app".into(),
        digest: m.clone(),
        count: n,
        at,
    };
    meta.record_pulls(&[pull(2, 100), pull(1, 50)])
        .await
        .unwrap();
    let a = meta.artifact(&repo, &m).await.unwrap().unwrap();
    assert_eq!(
        (a.pull_count, a.pulled_at),
        (3, Some(100)),
        "the latest time wins"
    );
    let page = super::identity::PageReq {
        page: 1,
        page_size: 10,
    };
    let (repos, _) = meta.list_project_repositories("sec", page).await.unwrap();
    assert_eq!(repos[0].pull_count, 3);
    // A later batch adds to both counts and keeps the latest time.
    meta.record_pulls(&[pull(4, 70)]).await.unwrap();
    let a = meta.artifact(&repo, &m).await.unwrap().unwrap();
    assert_eq!((a.pull_count, a.pulled_at), (7, Some(100)));
    let (repos, _) = meta.list_project_repositories("sec", page).await.unwrap();
    assert_eq!(repos[0].pull_count, 7);

    assert_eq!(store.setting("k").await.unwrap(), None);
    store.set_setting("k", "a").await.unwrap();
    store.set_setting("k", "b").await.unwrap();
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("b"));
}

/// CVE export files: kept per export job, replaced when the job runs again, listed
/// by presence, pruned by age, gone with their job.
pub async fn run_cve_exports(jobs: &dyn super::JobStore, store: &dyn super::SecurityStore) {
    use super::lifecycle::NewJob;
    let a = jobs
        .enqueue_job(NewJob::manual("cve_export", serde_json::json!({})))
        .await
        .unwrap();
    let b = jobs
        .enqueue_job(NewJob::manual("cve_export", serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(store.cve_export(a).await.unwrap(), None);
    let counts = jobs.job_counts().await.unwrap();
    assert!(
        counts.contains(&("cve_export".into(), super::lifecycle::JobStatus::Pending, 2)),
        "{counts:?}"
    );
    store.save_cve_export(a, b"x,y\n", 1).await.unwrap();
    store.save_cve_export(a, b"x,y\n1,2\n", 2).await.unwrap();
    assert_eq!(
        store.cve_export(a).await.unwrap().as_deref(),
        Some(&b"x,y\n1,2\n"[..])
    );
    assert_eq!(store.cve_exports_present(&[a, b]).await.unwrap(), [a]);
    assert!(store.cve_exports_present(&[]).await.unwrap().is_empty());
    assert_eq!(store.prune_cve_exports(super::now() - 60).await.unwrap(), 0);
    assert_eq!(store.prune_cve_exports(super::now() + 60).await.unwrap(), 1);
    assert_eq!(store.cve_export(a).await.unwrap(), None);
}

/// The job queue: enqueue, atomic claims with leases, renewal, expiry and
/// re-claim, retries with backoff, stop, logs, listing, schedules firing once.
pub async fn run_jobs(store: &dyn super::JobStore) {
    use super::lifecycle::{JobFilter, JobOutcome, JobSchedule, JobStatus, NewJob, Trigger};
    use serde_json::json;

    let kinds = vec!["gc".to_string(), "scrub".to_string()];
    let t0 = super::now();
    assert!(
        store
            .claim_job("a", &kinds, t0, 30)
            .await
            .unwrap()
            .is_none()
    );

    let gc = store
        .enqueue_job(NewJob::manual("gc", json!({"dry_run": true})))
        .await
        .unwrap();
    let other = store
        .enqueue_job(NewJob::manual("replication", json!({})))
        .await
        .unwrap();
    // A job is due from the second it was enqueued in: claims are made at a time
    // read after the enqueues (t0 above may be the second before, and then
    // nothing is due yet).
    let t0 = super::now();
    let job = store.job(gc).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.parameters, json!({"dry_run": true}));
    assert_eq!((job.attempts, job.max_attempts), (0, 3));
    assert_eq!(job.trigger, Trigger::Manual);

    // One claim wins; kinds not asked for are never claimed.
    let claimed = store.claim_job("a", &kinds, t0, 30).await.unwrap().unwrap();
    assert_eq!(claimed.id, gc);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.lease_owner.as_deref(), Some("a"));
    assert_eq!(claimed.lease_expires_at, Some(t0 + 30));
    assert!(
        store
            .claim_job("b", &kinds, t0, 30)
            .await
            .unwrap()
            .is_none()
    );

    // The holder renews; others cannot.
    assert!(store.renew_lease(gc, "a", t0 + 60).await.unwrap());
    assert!(!store.renew_lease(gc, "b", t0 + 90).await.unwrap());
    assert!(
        store
            .claim_job("b", &kinds, t0 + 59, 30)
            .await
            .unwrap()
            .is_none()
    );
    // Past the lease (its process died): another process takes it over.
    let again = store
        .claim_job("b", &kinds, t0 + 61, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (gc, 2));
    assert_eq!(again.lease_owner.as_deref(), Some("b"));
    // The old holder has lost it: it can neither renew nor finish.
    assert!(!store.renew_lease(gc, "a", t0 + 120).await.unwrap());
    assert!(
        !store
            .finish_job(gc, "a", JobOutcome::Success(json!({})))
            .await
            .unwrap()
    );

    // A failure with attempts left goes back to Pending until retry_at.
    assert!(
        store
            .finish_job(
                gc,
                "b",
                JobOutcome::Failed {
                    message: "disk on fire".into(),
                    retry_at: t0 + 100
                }
            )
            .await
            .unwrap()
    );
    let failed = store.job(gc).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Pending);
    assert_eq!(failed.message.as_deref(), Some("disk on fire"));
    assert_eq!(failed.next_run_at, t0 + 100);
    assert!(
        store
            .claim_job("a", &kinds, t0 + 99, 30)
            .await
            .unwrap()
            .is_none()
    );
    let third = store
        .claim_job("a", &kinds, t0 + 100, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempts, 3);
    // The last attempt fails: Error, and no more claims.
    assert!(
        store
            .finish_job(
                gc,
                "a",
                JobOutcome::Failed {
                    message: "still".into(),
                    retry_at: t0 + 200
                }
            )
            .await
            .unwrap()
    );
    let dead = store.job(gc).await.unwrap().unwrap();
    assert_eq!(dead.status, JobStatus::Error);
    assert!(dead.ended_at.is_some());
    assert!(
        store
            .claim_job("a", &kinds, t0 + 500, 30)
            .await
            .unwrap()
            .is_none()
    );
    // Retry: fresh attempts, runnable now; only ended jobs.
    assert!(store.retry_job(gc, t0 + 500).await.unwrap());
    assert!(!store.retry_job(gc, t0 + 500).await.unwrap());
    let retried = store
        .claim_job("a", &kinds, t0 + 500, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((retried.id, retried.attempts), (gc, 1));
    assert!(
        store
            .finish_job(gc, "a", JobOutcome::Success(json!({"blobs": 2})))
            .await
            .unwrap()
    );
    let done = store.job(gc).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Success);
    assert_eq!(done.result, Some(json!({"blobs": 2})));
    assert_eq!(done.lease_owner, None);

    // Stop: a pending job stops at once; a running one is flagged.
    let pending = store
        .enqueue_job(NewJob::manual("scrub", json!({})))
        .await
        .unwrap();
    let stopped = store.request_stop(pending).await.unwrap().unwrap();
    assert_eq!(stopped.status, JobStatus::Stopped);
    let running = store
        .enqueue_job(NewJob::manual("scrub", json!({})))
        .await
        .unwrap();
    let r = store
        .claim_job("a", &kinds, t0 + 600, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.id, running);
    let flagged = store.request_stop(running).await.unwrap().unwrap();
    assert_eq!(
        (flagged.status, flagged.stop_requested),
        (JobStatus::Running, true)
    );
    assert!(
        store
            .finish_job(running, "a", JobOutcome::Stopped(json!({"done": 1})))
            .await
            .unwrap()
    );
    assert_eq!(
        store.job(running).await.unwrap().unwrap().status,
        JobStatus::Stopped
    );
    // A flagged job whose process died ends Stopped instead of running again.
    let orphan = store
        .enqueue_job(NewJob::manual("scrub", json!({})))
        .await
        .unwrap();
    store
        .claim_job("a", &kinds, t0 + 700, 30)
        .await
        .unwrap()
        .unwrap();
    store.request_stop(orphan).await.unwrap();
    assert!(
        store
            .claim_job("b", &kinds, t0 + 800, 30)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.job(orphan).await.unwrap().unwrap().status,
        JobStatus::Stopped
    );

    // Logs: appended in order.
    store
        .append_job_log(gc, &["one".into(), "two".into()])
        .await
        .unwrap();
    store.append_job_log(gc, &["three".into()]).await.unwrap();
    let lines: Vec<String> = store
        .job_log(gc)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    // Each claim wrote its "started" line first, in the claim's own transaction.
    let (started, rest): (Vec<String>, Vec<String>) = lines
        .into_iter()
        .partition(|l| l.contains("started (attempt"));
    assert!(
        !started.is_empty() && started[0].starts_with("gc job"),
        "{started:?}"
    );
    assert_eq!(rest, ["one", "two", "three"]);
    // Writers at once (the job's holder and a process that took over its lease,
    // on two replicas): every line kept, none refused for a duplicate position.
    let writers = (0..8).map(|i| {
        let lines = [format!("w{i}a"), format!("w{i}b")];
        async move { store.append_job_log(gc, &lines).await }
    });
    for r in futures_util::future::join_all(writers).await {
        r.unwrap();
    }
    let lines = store.job_log(gc).await.unwrap();
    assert_eq!(lines.len(), started.len() + 3 + 16);

    // Listing: newest first, filtered, with totals.
    let page = PageReq {
        page: 1,
        page_size: 2,
    };
    let (all, total) = store.list_jobs(&JobFilter::default(), page).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(all[0].id, orphan);
    let (scrubs, n) = store
        .list_jobs(
            &JobFilter {
                kind: Some("scrub".into()),
                status: Some(JobStatus::Stopped),
            },
            PAGE,
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(scrubs.iter().all(|j| j.kind == "scrub"));
    let (repl, _) = store
        .list_jobs(
            &JobFilter {
                kind: Some("replication".into()),
                status: None,
            },
            PAGE,
        )
        .await
        .unwrap();
    assert_eq!((repl[0].id, repl[0].status), (other, JobStatus::Pending));

    // Schedules: a due schedule fires once, moving to its next time.
    assert!(store.schedule("gc").await.unwrap().is_none());
    let schedule = JobSchedule {
        kind: "gc".into(),
        schedule_type: "Custom".into(),
        cron: "0 0 * * * *".into(),
        parameters: json!({"delete_untagged": true}),
        next_run_at: Some(t0 + 1000),
        created_at: t0,
        updated_at: t0,
    };
    store.put_schedule(&schedule).await.unwrap();
    assert!(store.due_schedules(t0 + 999).await.unwrap().is_empty());
    let due = store.due_schedules(t0 + 1000).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].parameters, json!({"delete_untagged": true}));
    let fire = |expected| {
        let job = NewJob {
            kind: "gc".into(),
            parameters: json!({"delete_untagged": true}),
            trigger: Trigger::Schedule,
            max_attempts: 3,
        };
        store.fire_schedule("gc", expected, Some(t0 + 4600), job)
    };
    let fired = fire(t0 + 1000).await.unwrap().unwrap();
    assert_eq!(fire(t0 + 1000).await.unwrap(), None, "fired only once");
    let job = store.job(fired).await.unwrap().unwrap();
    assert_eq!(job.trigger, Trigger::Schedule);
    assert_eq!(
        store.schedule("gc").await.unwrap().unwrap().next_run_at,
        Some(t0 + 4600)
    );
    assert!(store.due_schedules(t0 + 1001).await.unwrap().is_empty());
}

async fn put_with(
    meta: &dyn MetadataStore,
    repo: &RepoName,
    digest: &Digest,
    body: &[u8],
    blobs: Vec<Digest>,
) {
    let mut m = manifest(repo, digest, body);
    m.blobs = blobs;
    meta.put_manifest(m).await.unwrap();
}

/// Tag rules: the quota usage rule (each digest once per project), storage
/// limits, immutability rules and retention policies scoped to their project,
/// executions and tasks, index children.
pub async fn run_tag_rules(
    meta: &dyn MetadataStore,
    identity: &dyn IdentityStore,
    rules: &dyn super::TagRulesStore,
) {
    let p = identity
        .create_project("p", false, None)
        .await
        .unwrap()
        .unwrap();
    let o = identity
        .create_project("o", false, None)
        .await
        .unwrap()
        .unwrap();
    let (pa, pb, ox) = (repo("p/a"), repo("p/b"), repo("o/x"));
    let blob = |n: u8| Digest::sha256_of(&[n]);
    let (b1, b2, b3) = (blob(1), blob(2), blob(3));
    for r in [&pa, &pb, &ox] {
        for (b, size) in [(&b1, 100), (&b2, 200), (&b3, 300)] {
            meta.link_blob(r, b, size).await.unwrap();
        }
    }
    let m1_body = b"ten bytes!";
    let m2_body = b"twenty bytes, really";
    let (m1, m2) = (Digest::sha256_of(m1_body), Digest::sha256_of(m2_body));
    assert_eq!(
        rules.usage(p).await.unwrap(),
        0,
        "linked blobs alone count nothing"
    );
    put_with(meta, &pa, &m1, m1_body, vec![b1.clone(), b2.clone()]).await;
    put_with(meta, &pb, &m1, m1_body, vec![b1.clone(), b2.clone()]).await;
    assert_eq!(
        rules.usage(p).await.unwrap(),
        10 + 100 + 200,
        "each digest once"
    );
    put_with(meta, &pb, &m2, m2_body, vec![b2.clone(), b3.clone()]).await;
    assert_eq!(rules.usage(p).await.unwrap(), 10 + 20 + 100 + 200 + 300);
    put_with(meta, &ox, &m1, m1_body, vec![b1.clone(), b2.clone()]).await;
    assert_eq!(rules.usage(o).await.unwrap(), 310, "projects count apart");
    let counted = rules
        .counted(p, &[b1.clone(), b3.clone(), m1.clone(), blob(9)])
        .await
        .unwrap();
    assert_eq!(
        counted,
        [b1.clone(), b3.clone(), m1.clone()].into_iter().collect()
    );
    assert!(meta.delete_manifest(&pa, &m1).await.unwrap());
    assert_eq!(rules.usage(p).await.unwrap(), 630, "p/b still holds m1");
    assert!(meta.delete_manifest(&pb, &m1).await.unwrap());
    assert_eq!(
        rules.usage(p).await.unwrap(),
        20 + 200 + 300,
        "a delete lowers usage at once"
    );

    // Limits: none until set; quotas show usage.
    assert_eq!(rules.storage_limit(p).await.unwrap(), -1);
    rules.set_storage_limit(p, 1000).await.unwrap();
    rules.set_storage_limit(p, 2000).await.unwrap();
    assert_eq!(rules.storage_limit(p).await.unwrap(), 2000);
    let q = rules.quota(p).await.unwrap().unwrap();
    assert_eq!((q.project_name.as_str(), q.hard, q.used), ("p", 2000, 520));
    assert!(rules.quota(9999).await.unwrap().is_none());
    let (all, total) = rules.quotas(None, PAGE).await.unwrap();
    assert_eq!(total, 3, "library, p, o");
    assert_eq!(all.iter().find(|q| q.project_id == o).unwrap().hard, -1);
    let used: Vec<(String, u64)> = all
        .iter()
        .map(|q| (q.project_name.clone(), q.used))
        .collect();
    assert_eq!(
        used,
        [("library".into(), 0), ("p".into(), 520), ("o".into(), 310)],
        "each project's usage in one listing"
    );
    let (one, total) = rules.quotas(Some(o), PAGE).await.unwrap();
    assert_eq!((one.len(), total, one[0].used), (1, 1, 310));

    // Immutability rules belong to their project.
    let r1 = rules.create_immutable_rule(p, "{\"a\":1}").await.unwrap();
    let r2 = rules.create_immutable_rule(o, "{\"b\":2}").await.unwrap();
    assert_eq!(rules.immutable_rules(p).await.unwrap().len(), 1);
    assert!(
        !rules.update_immutable_rule(o, r1, "{}").await.unwrap(),
        "not o's rule"
    );
    assert!(
        rules
            .update_immutable_rule(p, r1, "{\"a\":3}")
            .await
            .unwrap()
    );
    assert_eq!(rules.immutable_rules(p).await.unwrap()[0].body, "{\"a\":3}");
    assert!(!rules.delete_immutable_rule(p, r2).await.unwrap());
    assert!(rules.delete_immutable_rule(o, r2).await.unwrap());

    // One retention policy per project; executions newest first; tasks.
    let pol = rules
        .create_retention_policy(p, "{}", Some(1000))
        .await
        .unwrap()
        .unwrap();
    assert!(
        rules
            .create_retention_policy(p, "{}", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rules
            .retention_policy_of_project(p)
            .await
            .unwrap()
            .unwrap()
            .id,
        pol
    );
    // A due schedule is taken once: the first compare-and-set wins.
    assert!(rules.due_retention_policies(999).await.unwrap().is_empty());
    let due = rules.due_retention_policies(1000).await.unwrap();
    assert_eq!((due.len(), due[0].0.id, due[0].1), (1, pol, 1000));
    assert!(
        rules
            .advance_retention_schedule(pol, 1000, Some(2000))
            .await
            .unwrap()
    );
    assert!(
        !rules
            .advance_retention_schedule(pol, 1000, Some(2000))
            .await
            .unwrap()
    );
    assert!(rules.due_retention_policies(1999).await.unwrap().is_empty());
    assert!(
        rules
            .update_retention_policy(pol, "{\"x\":1}", None)
            .await
            .unwrap()
    );
    assert!(
        rules
            .due_retention_policies(i64::MAX)
            .await
            .unwrap()
            .is_empty(),
        "manual only"
    );
    assert_eq!(
        rules.retention_policy(pol).await.unwrap().unwrap().body,
        "{\"x\":1}"
    );
    let e1 = rules.create_execution(pol, "MANUAL", true).await.unwrap();
    let e2 = rules
        .create_execution(pol, "SCHEDULE", false)
        .await
        .unwrap();
    rules.set_execution_job(e2, 42).await.unwrap();
    rules
        .set_execution_status(e1, "Success", true)
        .await
        .unwrap();
    let (execs, n) = rules.executions(pol, PAGE).await.unwrap();
    assert_eq!((n, execs[0].id, execs[1].id), (2, e2, e1));
    assert_eq!(
        (execs[0].status.as_str(), execs[0].job_id, execs[0].end_time),
        ("Pending", Some(42), None)
    );
    assert!(execs[1].dry_run && execs[1].end_time.is_some());
    let task = super::tag_rules::Task {
        id: 0,
        execution_id: e1,
        repository: "p/a".into(),
        status: "Success".into(),
        start_time: 1,
        end_time: Some(2),
        total: 3,
        retained: 1,
        log: "line\n".into(),
    };
    let t = rules.add_task(&task).await.unwrap();
    assert_eq!(rules.task(e1, t).await.unwrap().unwrap().log, "line\n");
    assert!(rules.task(e2, t).await.unwrap().is_none());
    assert_eq!(rules.tasks(e1, PAGE).await.unwrap().1, 1);
    rules.clear_tasks(e1).await.unwrap();
    assert_eq!(rules.tasks(e1, PAGE).await.unwrap().1, 0);
    assert!(rules.delete_retention_policy(pol).await.unwrap());
    assert!(
        rules.execution(e1).await.unwrap().is_none(),
        "executions go with their policy"
    );

    // Index children.
    let index_body = b"an index";
    let index = Digest::sha256_of(index_body);
    let mut m = manifest(&pb, &index, index_body);
    m.children = vec![m2.clone()];
    meta.put_manifest(m).await.unwrap();
    let children = rules.index_children("p/b").await.unwrap();
    assert_eq!(children, [m2].into_iter().collect());
}

/// GC and a proxy cache's partial index (`proxy_cached_indexes`): with
/// `delete_untagged`, the untagged platforms it lists stay while it is kept, a
/// platform it lists that was never cached is not needed, and other untagged
/// manifests go; once it is dropped, its platforms go too.
pub async fn run_gc_partial_index(
    meta: &dyn MetadataStore,
    store: &dyn super::LifecycleStore,
    proxy: &dyn super::ProxyStore,
    identity: &dyn super::IdentityStore,
) {
    let pid = identity
        .create_project("gcp", true, None)
        .await
        .unwrap()
        .unwrap();
    let multi = repo("gcp/multi");
    let (kept, other) = (&b"platform arm64"[..], &b"something untagged"[..]);
    let (kept_d, other_d) = (Digest::sha256_of(kept), Digest::sha256_of(other));
    meta.put_manifest(manifest(&multi, &kept_d, kept))
        .await
        .unwrap();
    meta.put_manifest(manifest(&multi, &other_d, other))
        .await
        .unwrap();
    let missing = Digest::sha256_of(b"platform amd64, never pulled");
    let body = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": kept_d.to_string(), "size": kept.len()},
                      {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing.to_string(), "size": 1}]})
    .to_string();
    let index = super::proxy::CachedIndex {
        reference: "1".into(),
        digest: Digest::sha256_of(body.as_bytes()).to_string(),
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        body,
        fetched_at: super::now(),
    };
    proxy
        .put_cached_index(pid, multi.as_str(), &index)
        .await
        .unwrap();
    let old = super::now() + 3600;
    assert_eq!(store.collect_manifests(old, true).await.unwrap(), 1);
    let multi_ref = &multi;
    let present = |d: Digest| async move {
        meta.manifest_by_digest(multi_ref, &d, false)
            .await
            .unwrap()
            .is_some()
    };
    assert!(present(kept_d.clone()).await, "the cached platform stays");
    assert!(!present(other_d).await, "an untagged manifest goes");
    proxy
        .drop_cached_index(multi.as_str(), &index.digest)
        .await
        .unwrap();
    assert_eq!(store.collect_manifests(old, true).await.unwrap(), 1);
    assert!(!present(kept_d).await, "kept by nothing now");
}

/// Garbage collection's view of content: which manifests nothing keeps alive,
/// which blobs are collectable, the two-phase deletion and what pushes see
/// meanwhile. `meta` and `store` are the same store seen through both traits.
pub async fn run_gc(meta: &dyn MetadataStore, store: &dyn super::LifecycleStore) {
    use super::MetadataError;
    use super::lifecycle::Collected;

    let now = super::now();
    // A cutoff in the future: everything counts as old; in the past: everything is young.
    // An hour ahead, so a slow run (a loaded machine, a database in CI) never
    // writes a row after the cutoff it is then compared with.
    let (old, young) = (now + 3600, now - 1000);
    let app = repo("gc/app");
    let blob = |s: &str| Digest::sha256_of(s.as_bytes());
    let (cfg, layer, shared, loose) = (blob("cfg"), blob("layer"), blob("shared"), blob("loose"));
    for (d, n) in [(&cfg, 3), (&layer, 5), (&shared, 6), (&loose, 5)] {
        assert!(meta.link_blob(&app, d, n).await.unwrap());
    }
    let put = |body: &'static str,
               blobs: Vec<Digest>,
               children: Vec<Digest>,
               subject: Option<Digest>,
               tag: Option<&'static str>| {
        let app = app.clone();
        async move {
            let digest = Digest::sha256_of(body.as_bytes());
            let mut m = manifest(&app, &digest, body.as_bytes());
            m.blobs = blobs;
            m.children = children;
            m.subject = subject.as_ref();
            m.tag = tag;
            meta.put_manifest(m).await.unwrap();
            digest
        }
    };
    // tagged image; untagged image; index (tagged) over an untagged child;
    // a referrer of the tagged image and one of the untagged image; a cosign
    // `.sig` tag for the untagged image.
    let tagged = put(
        r#"{"m":"tagged"}"#,
        vec![cfg.clone(), layer.clone()],
        vec![],
        None,
        Some("v1"),
    )
    .await;
    let untagged = put(
        r#"{"m":"untagged"}"#,
        vec![cfg.clone(), shared.clone()],
        vec![],
        None,
        None,
    )
    .await;
    let child = put(r#"{"m":"child"}"#, vec![cfg.clone()], vec![], None, None).await;
    let index = put(
        r#"{"m":"index"}"#,
        vec![],
        vec![child.clone()],
        None,
        Some("multi"),
    )
    .await;
    let sig_of_tagged = put(
        r#"{"m":"sig1"}"#,
        vec![cfg.clone()],
        vec![],
        Some(tagged.clone()),
        None,
    )
    .await;
    let sig_of_untagged = put(
        r#"{"m":"sig2"}"#,
        vec![cfg.clone()],
        vec![],
        Some(untagged.clone()),
        None,
    )
    .await;
    let cosign_tag = Box::leak(format!("sha256-{}.sig", untagged.hex()).into_boxed_str());
    let cosign_sig = put(
        r#"{"m":"cosign"}"#,
        vec![cfg.clone()],
        vec![],
        None,
        Some(cosign_tag),
    )
    .await;
    // The referrers tag schema's index for the tagged image (`sha256-<hex>`), and
    // a cosign `.sbom` of the untagged one: accessories by tag name alone.
    let schema_tag = Box::leak(format!("sha256-{}", tagged.hex()).into_boxed_str());
    let schema_index = put(
        r#"{"m":"schema"}"#,
        vec![cfg.clone()],
        vec![],
        None,
        Some(schema_tag),
    )
    .await;
    let sbom_tag = Box::leak(format!("sha256-{}.sbom", untagged.hex()).into_boxed_str());
    let cosign_sbom = put(
        r#"{"m":"sbom"}"#,
        vec![cfg.clone()],
        vec![],
        None,
        Some(sbom_tag),
    )
    .await;
    let exists = |d: Digest| async move {
        meta.manifest_by_digest(&app_ref(), &d, false)
            .await
            .unwrap()
            .is_some()
    };
    fn app_ref() -> RepoName {
        repo("gc/app")
    }

    // Links alone keep nothing: `loose` is collectable; young blobs are not.
    assert_eq!(
        store.preview(young, false).await.unwrap(),
        Collected::default()
    );
    let p = store.preview(old, false).await.unwrap();
    assert_eq!((p.manifests, p.blobs, p.bytes), (0, 1, 5), "only `loose`");
    // With delete_untagged: the untagged image, its referrer, cosign signature
    // and SBOM go; then `shared` (only the untagged image used it) too.
    let p = store.preview(old, true).await.unwrap();
    assert_eq!((p.manifests, p.blobs, p.bytes), (4, 2, 11));
    // A preview changes nothing.
    assert!(exists(untagged.clone()).await);
    assert_eq!(store.preview(old, true).await.unwrap(), p);

    // Young manifests are kept however untagged.
    assert_eq!(store.collect_manifests(young, true).await.unwrap(), 0);
    // Without delete_untagged, untagged images stay (and keep their accessories).
    assert_eq!(store.collect_manifests(old, false).await.unwrap(), 0);
    assert_eq!(store.collect_manifests(old, true).await.unwrap(), 4);
    for (d, alive) in [
        (&tagged, true),
        (&index, true),
        (&child, true),
        (&sig_of_tagged, true),
        (&schema_index, true),
        (&untagged, false),
        (&sig_of_untagged, false),
        (&cosign_sig, false),
        (&cosign_sbom, false),
    ] {
        assert_eq!(exists(d.clone()).await, alive, "{d}");
    }

    // An accessory whose subject a client deleted goes even without delete_untagged,
    // and an accessory of that accessory with it (fixed point).
    let sig_of_sig = put(
        r#"{"m":"sig3"}"#,
        vec![cfg.clone()],
        vec![],
        Some(sig_of_tagged.clone()),
        None,
    )
    .await;
    assert!(meta.delete_manifest(&app, &tagged).await.unwrap());
    assert_eq!(store.collect_manifests(old, false).await.unwrap(), 3);
    assert!(!exists(sig_of_sig.clone()).await);
    assert!(!exists(sig_of_tagged.clone()).await);
    assert!(!exists(schema_index.clone()).await);

    // Blobs, two phases. Nothing was unused long enough for a grace period
    // reaching back before the test began.
    assert!(
        store
            .mark_blobs_deleting(young, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let marked = store.mark_blobs_deleting(old, 100).await.unwrap();
    let mut names: Vec<_> = marked.iter().map(|b| b.digest.clone()).collect();
    names.sort();
    // Unreferenced: never used by a manifest, the untagged image's, the deleted image's.
    let mut want = vec![loose.clone(), shared.clone(), layer.clone()];
    want.sort();
    assert_eq!(names, want);
    // While marked: not served, not linkable, not reservable; a manifest naming it is refused.
    assert_eq!(meta.repo_blob_size(&app, &loose).await.unwrap(), None);
    assert!(!meta.link_blob(&app, &loose, 5).await.unwrap());
    assert!(!meta.reserve_blob(&loose, 5).await.unwrap());
    let body = r#"{"m":"late"}"#;
    let late = Digest::sha256_of(body.as_bytes());
    let mut m = manifest(&app, &late, body.as_bytes());
    m.blobs = vec![cfg.clone(), loose.clone()];
    match meta.put_manifest(m).await {
        Err(MetadataError::MissingReference(d)) => assert_eq!(d, loose),
        other => panic!("expected MissingReference, got {other:?}"),
    }
    // A marked blob is not marked twice; a crashed run finds what it marked.
    assert!(
        store
            .mark_blobs_deleting(old, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let left = store.deleting_blobs(100).await.unwrap();
    assert_eq!(left.len(), 3);
    let all: Vec<Digest> = left.iter().map(|b| b.digest.clone()).collect();
    assert_eq!(store.forget_blobs(&all).await.unwrap(), all.len() as u64);
    assert!(store.deleting_blobs(100).await.unwrap().is_empty());
    // Forgotten: a new upload of the same bytes starts from scratch.
    assert!(meta.reserve_blob(&loose, 5).await.unwrap());
    assert!(meta.link_blob(&app, &loose, 5).await.unwrap());
    assert_eq!(meta.repo_blob_size(&app, &loose).await.unwrap(), Some(5));
    // Referenced blobs are never collected, however old.
    let listed: Vec<Digest> = store
        .blobs_after(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.digest)
        .collect();
    assert!(listed.contains(&cfg) && listed.contains(&loose) && !listed.contains(&layer));
    assert!(store.blob_in_use(&cfg).await.unwrap());
    assert_eq!(
        store.repositories_with_blob(&cfg).await.unwrap(),
        ["gc/app"]
    );
    assert_eq!(store.unlink_everywhere(&cfg).await.unwrap(), 1);
    assert_eq!(meta.repo_blob_size(&app, &cfg).await.unwrap(), None);
    // Still referenced by the index's child: still not collectable.
    assert!(
        !store
            .mark_blobs_deleting(old, 100)
            .await
            .unwrap()
            .iter()
            .any(|b| b.digest == cfg)
    );
    let (id, first) = store.manifests_after(0, 1).await.unwrap().remove(0);
    assert!(id > 0 && first.repository == "gc/app");
}

/// [`super::ReplicationStore`]: registry endpoints (the sealed secret kept byte
/// for byte) and replication policies; names unique; updates and deletes of
/// what does not exist say so.
pub async fn run_replication(store: &dyn super::ReplicationStore) {
    use super::replication::StoredRegistry;
    let airgap = StoredRegistry {
        id: 0,
        name: "airgap".into(),
        url: "https://airgap.example.com".into(),
        kind: "harbor".into(),
        description: "the other side".into(),
        auth_type: Some("basic".into()),
        access_key: Some("robot$sync".into()),
        sealed_secret: Some(vec![0, 1, 2, 255, 254]),
        ca_file: Some("/etc/wharf/airgap-ca.pem".into()),
        insecure: false,
        created_at: 0,
        updated_at: 0,
    };
    let id = store.create_registry(&airgap).await.unwrap();
    let got = store.registry(id).await.unwrap().unwrap();
    assert_eq!(
        StoredRegistry {
            id,
            created_at: got.created_at,
            updated_at: got.updated_at,
            ..airgap.clone()
        },
        got
    );
    assert!(got.created_at > 0 && got.updated_at >= got.created_at);
    assert_eq!(
        store.registry_by_name("airgap").await.unwrap(),
        Some(got.clone())
    );
    assert_eq!(store.registry_by_name("other").await.unwrap(), None);
    assert!(
        store.create_registry(&airgap).await.is_err(),
        "names are unique"
    );
    let anonymous = StoredRegistry {
        name: "mirror".into(),
        kind: "docker-registry".into(),
        auth_type: None,
        access_key: None,
        sealed_secret: None,
        ca_file: None,
        insecure: true,
        ..airgap.clone()
    };
    let id2 = store.create_registry(&anonymous).await.unwrap();
    let all = store.registries().await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [id, id2]);
    assert_eq!(all[1].sealed_secret, None);
    assert!(all[1].insecure);

    let changed = StoredRegistry {
        id,
        url: "http://127.0.0.1:5001".into(),
        sealed_secret: Some(vec![9; 40]),
        ..got.clone()
    };
    assert!(store.update_registry(&changed).await.unwrap());
    let got = store.registry(id).await.unwrap().unwrap();
    assert_eq!(got.url, "http://127.0.0.1:5001");
    assert_eq!(got.sealed_secret, Some(vec![9; 40]));
    assert_eq!(got.created_at, changed.created_at);
    let missing = StoredRegistry {
        id: id2 + 100,
        ..changed
    };
    assert!(!store.update_registry(&missing).await.unwrap());

    let pid = store
        .create_policy("to-airgap", r#"{"a":1}"#)
        .await
        .unwrap();
    let policy = store.policy(pid).await.unwrap().unwrap();
    assert_eq!(
        (policy.name.as_str(), policy.body.as_str()),
        ("to-airgap", r#"{"a":1}"#)
    );
    assert_eq!(
        store.policy_by_name("to-airgap").await.unwrap(),
        Some(policy)
    );
    assert!(
        store.create_policy("to-airgap", "{}").await.is_err(),
        "names are unique"
    );
    assert!(
        store
            .update_policy(pid, "renamed", r#"{"a":2}"#)
            .await
            .unwrap()
    );
    assert!(!store.update_policy(pid + 100, "x", "{}").await.unwrap());
    let all = store.policies().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].name.as_str(), all[0].body.as_str()),
        ("renamed", r#"{"a":2}"#)
    );
    assert_eq!(store.policy_by_name("to-airgap").await.unwrap(), None);

    assert!(store.delete_policy(pid).await.unwrap());
    assert!(!store.delete_policy(pid).await.unwrap());
    assert!(store.delete_registry(id).await.unwrap());
    assert!(!store.delete_registry(id).await.unwrap());
    assert_eq!(store.registry(id).await.unwrap(), None);

    run_replication_executions(store).await;
}

/// Executions and tasks: a task list written once (a resumed run keeps it), tasks
/// updated in place, executions listed newest first per policy with a total, the
/// unfinished ones found; schedules moved by compare-and-set.
async fn run_replication_executions(store: &dyn super::ReplicationStore) {
    use super::replication::StoredTask;
    let e1 = store.create_execution(7, "manual", None).await.unwrap();
    let scope = r#"{"repository":"p/a","reference":"v1","operation":"copy"}"#;
    let e2 = store
        .create_execution(7, "event_based", Some(scope))
        .await
        .unwrap();
    let other = store.create_execution(8, "scheduled", None).await.unwrap();
    let got = store.execution(e2).await.unwrap().unwrap();
    assert_eq!(
        (got.policy_id, got.status.as_str(), got.trigger.as_str()),
        (7, "InProgress", "event_based")
    );
    assert_eq!(got.scope.as_deref(), Some(scope));
    assert_eq!((got.job_id, got.end_time), (None, None));
    assert!(got.start_time > 0);
    store.set_execution_job(e2, 42).await.unwrap();
    assert_eq!(store.execution(e2).await.unwrap().unwrap().job_id, Some(42));

    let page = |page, page_size| PageReq { page, page_size };
    let (list, total) = store.executions(Some(7), page(1, 1)).await.unwrap();
    assert_eq!((list.len(), total), (1, 2));
    assert_eq!(list[0].id, e2, "newest first");
    let (list, _) = store.executions(Some(7), page(2, 1)).await.unwrap();
    assert_eq!(list[0].id, e1);
    let (_, total) = store.executions(None, page(1, 10)).await.unwrap();
    assert_eq!(total, 3);

    let task = |n: &str| StoredTask {
        resource_type: "image".into(),
        src_resource: format!("p/{n}:v1"),
        dst_resource: format!("remote:5000/p/{n}:v1"),
        operation: "copy".into(),
        ..Default::default()
    };
    let tasks = store
        .add_tasks_once(e1, &[task("a"), task("b")])
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t.status == "Pending" && t.execution_id == e1)
    );
    assert_eq!(tasks[0].src_resource, "p/a:v1");
    let again = store.add_tasks_once(e1, &[task("c")]).await.unwrap();
    assert_eq!(again, tasks, "a resumed run keeps its first list");
    let mut done = tasks[1].clone();
    done.status = "Succeed".into();
    done.bytes = 1234;
    done.attempts = 2;
    done.message = "m".into();
    done.log = "line\n".into();
    done.start_time = Some(10);
    done.end_time = Some(12);
    store.update_task(&done).await.unwrap();
    assert_eq!(store.task(e1, done.id).await.unwrap(), Some(done.clone()));
    assert_eq!(store.task(e2, done.id).await.unwrap(), None);
    assert_eq!(store.tasks(e1).await.unwrap(), vec![tasks[0].clone(), done]);
    assert!(store.tasks(e2).await.unwrap().is_empty());

    store
        .set_execution_status(e1, "Failed", "1 of 2 tasks failed", true)
        .await
        .unwrap();
    let ended = store.execution(e1).await.unwrap().unwrap();
    assert_eq!(ended.status_text, "1 of 2 tasks failed");
    assert!(ended.end_time.is_some());
    let open: Vec<i64> = store
        .unfinished_executions()
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(open, [e2, other]);

    assert_eq!(store.replication_schedule(7).await.unwrap(), None);
    store
        .put_replication_schedule(7, "0 * * * * *", Some(100))
        .await
        .unwrap();
    assert!(
        !store
            .advance_replication_schedule(7, 99, Some(160))
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_replication_schedule(7, 100, Some(160))
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_replication_schedule(7, 100, Some(220))
            .await
            .unwrap(),
        "one caller wins a fire"
    );
    assert_eq!(
        store.replication_schedule(7).await.unwrap(),
        Some(("0 * * * * *".to_string(), Some(160)))
    );
    store
        .put_replication_schedule(7, "0 0 * * * *", None)
        .await
        .unwrap();
    assert_eq!(
        store.replication_schedule(7).await.unwrap(),
        Some(("0 0 * * * *".to_string(), None))
    );

    // Two processes resuming one execution at once: one list is written, both
    // see that one.
    let e3 = store.create_execution(9, "manual", None).await.unwrap();
    let lists = [vec![task("x"), task("y")], vec![task("z")]];
    let (first, second) = futures_util::future::join(
        store.add_tasks_once(e3, &lists[0]),
        store.add_tasks_once(e3, &lists[1]),
    )
    .await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first, second);
    assert_eq!(store.tasks(e3).await.unwrap(), first);
    assert!(first.len() == 2 || first.len() == 1, "{first:?}");
}

/// [`super::ProxyStore`]: which projects cache which endpoint; the row goes with
/// its project.
pub async fn run_proxy(
    store: &dyn super::ProxyStore,
    identity: &dyn super::IdentityStore,
    replication: &dyn super::ReplicationStore,
) {
    use super::replication::StoredRegistry;
    let endpoint = |name: &str| StoredRegistry {
        id: 0,
        name: name.into(),
        url: "https://upstream.example.com".into(),
        kind: "docker-registry".into(),
        description: String::new(),
        auth_type: None,
        access_key: None,
        sealed_secret: None,
        ca_file: None,
        insecure: false,
        created_at: 0,
        updated_at: 0,
    };
    let hub = replication.create_registry(&endpoint("hub")).await.unwrap();
    let quay = replication
        .create_registry(&endpoint("quay"))
        .await
        .unwrap();
    let a = identity
        .create_project("cache-a", true, None)
        .await
        .unwrap()
        .unwrap();
    let b = identity
        .create_project("cache-b", true, None)
        .await
        .unwrap()
        .unwrap();
    let plain = identity
        .create_project("plain", true, None)
        .await
        .unwrap()
        .unwrap();
    store.set_proxy_registry(b, hub).await.unwrap();
    store.set_proxy_registry(a, hub).await.unwrap();
    assert_eq!(store.proxy_registry(a).await.unwrap(), Some(hub));
    assert_eq!(store.proxy_registry(plain).await.unwrap(), None);
    assert_eq!(store.proxy_projects().await.unwrap(), [(a, hub), (b, hub)]);
    assert_eq!(
        store.projects_caching(hub).await.unwrap(),
        ["cache-a", "cache-b"]
    );
    assert!(store.projects_caching(quay).await.unwrap().is_empty());
    // Setting it again replaces it.
    store.set_proxy_registry(b, quay).await.unwrap();
    assert_eq!(store.projects_caching(quay).await.unwrap(), ["cache-b"]);
    // When the upstream last confirmed a tag: recorded, never moved back, per tag.
    assert_eq!(
        store.tag_checked_at("cache-a/app", "v1").await.unwrap(),
        None
    );
    store
        .set_tag_checked(a, "cache-a/app", "v1", 1_000)
        .await
        .unwrap();
    store
        .set_tag_checked(a, "cache-a/app", "v2", 3_000)
        .await
        .unwrap();
    assert_eq!(
        store.tag_checked_at("cache-a/app", "v1").await.unwrap(),
        Some(1_000)
    );
    store
        .set_tag_checked(a, "cache-a/app", "v1", 2_000)
        .await
        .unwrap();
    store
        .set_tag_checked(a, "cache-a/app", "v1", 1_500)
        .await
        .unwrap();
    assert_eq!(
        store.tag_checked_at("cache-a/app", "v1").await.unwrap(),
        Some(2_000)
    );
    assert_eq!(
        store.tag_checked_at("cache-a/app", "v2").await.unwrap(),
        Some(3_000)
    );
    // A partial index: found by the tag it was fetched by or by its digest, replaced
    // by a later fetch, forgotten by digest.
    let index = |tag: &str, digest: &str, at| super::proxy::CachedIndex {
        reference: tag.into(),
        digest: digest.into(),
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        body: format!(r#"{{"schemaVersion":2,"manifests":[],"at":{at}}}"#),
        fetched_at: at,
    };
    assert_eq!(
        store.cached_index("cache-a/multi", "1").await.unwrap(),
        None
    );
    store
        .put_cached_index(a, "cache-a/multi", &index("1", "sha256:aa", 10))
        .await
        .unwrap();
    store
        .put_cached_index(a, "cache-a/multi", &index("1", "sha256:bb", 20))
        .await
        .unwrap();
    assert_eq!(
        store.cached_index("cache-a/multi", "1").await.unwrap(),
        Some(index("1", "sha256:bb", 20))
    );
    assert_eq!(
        store
            .cached_index("cache-a/multi", "sha256:bb")
            .await
            .unwrap(),
        Some(index("1", "sha256:bb", 20))
    );
    assert_eq!(
        store
            .cached_index("cache-a/multi", "sha256:aa")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.cached_index("cache-a/other", "1").await.unwrap(),
        None
    );
    store
        .drop_cached_index("cache-a/multi", "sha256:bb")
        .await
        .unwrap();
    assert_eq!(
        store.cached_index("cache-a/multi", "1").await.unwrap(),
        None
    );
    store
        .put_cached_index(a, "cache-a/multi", &index("2", "sha256:cc", 30))
        .await
        .unwrap();
    // Deleting the project takes its rows with it.
    assert!(identity.delete_project(a).await.unwrap());
    assert_eq!(
        store.cached_index("cache-a/multi", "2").await.unwrap(),
        None
    );
    assert_eq!(store.proxy_projects().await.unwrap(), [(b, quay)]);
    assert!(store.projects_caching(hub).await.unwrap().is_empty());
    assert_eq!(
        store.tag_checked_at("cache-a/app", "v1").await.unwrap(),
        None
    );
}

/// [`super::OidcStore`]: OIDC users (found by id and by issuer + subject, written
/// again at each login, secret and token updated alone, gone with their user), OIDC
/// groups created on first sight, and code flows: bounded, purged when old, and
/// taken exactly once.
pub async fn run_oidc(store: &dyn super::OidcStore, identity: &dyn super::IdentityStore) {
    use super::identity::{GROUP_TYPE_OIDC, NewUser};
    use super::oidc::{OidcLogin, OidcUser};
    let uid = identity
        .create_user(NewUser {
            username: "alice",
            password_hash: "!oidc",
            email: None,
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap()
        .unwrap();
    let row = OidcUser {
        user_id: uid,
        issuer: "https://idp.example.com".into(),
        subject: "sub-1".into(),
        secret: "sealed-1".into(),
        refresh_token: "sealed-token".into(),
        token_checked_at: 100,
        token_valid_until: 400,
        created_at: 100,
        updated_at: 100,
    };
    assert_eq!(store.oidc_user(uid).await.unwrap(), None);
    store.put_oidc_user(&row).await.unwrap();
    assert_eq!(store.oidc_user(uid).await.unwrap().as_ref(), Some(&row));
    assert_eq!(
        store
            .oidc_user_by_subject("https://idp.example.com", "sub-1")
            .await
            .unwrap()
            .map(|u| u.user_id),
        Some(uid)
    );
    assert_eq!(
        store
            .oidc_user_by_subject("https://other.example.com", "sub-1")
            .await
            .unwrap(),
        None
    );
    // A second login replaces the row but keeps its creation time.
    let again = OidcUser {
        secret: "sealed-2".into(),
        refresh_token: "sealed-token-2".into(),
        token_checked_at: 200,
        token_valid_until: 500,
        created_at: 200,
        updated_at: 200,
        ..row.clone()
    };
    store.put_oidc_user(&again).await.unwrap();
    let got = store.oidc_user(uid).await.unwrap().unwrap();
    assert_eq!(
        (
            got.secret.as_str(),
            got.refresh_token.as_str(),
            got.created_at
        ),
        ("sealed-2", "sealed-token-2", 100)
    );
    assert!(store.set_oidc_secret(uid, "sealed-3").await.unwrap());
    assert!(
        store
            .set_oidc_token(uid, "sealed-token-3", 300, 900)
            .await
            .unwrap()
    );
    let got = store.oidc_user(uid).await.unwrap().unwrap();
    assert_eq!(
        (
            got.secret.as_str(),
            got.refresh_token.as_str(),
            got.token_checked_at,
            got.token_valid_until
        ),
        ("sealed-3", "sealed-token-3", 300, 900)
    );
    assert!(!store.set_oidc_secret(uid + 1000, "x").await.unwrap());
    assert!(!store.set_oidc_token(uid + 1000, "x", 1, 1).await.unwrap());

    // Groups: created once, found again by name, duplicates collapsed.
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let first = store.oidc_groups(&names(&["devs", "ops"])).await.unwrap();
    assert_eq!(first.len(), 2);
    let second = store
        .oidc_groups(&names(&["ops", "devs", "ops", "qa"]))
        .await
        .unwrap();
    assert_eq!(second.len(), 3);
    assert_eq!((second[0], second[1]), (first[1], first[0]));
    let qa = identity.group_by_id(second[2]).await.unwrap().unwrap();
    assert_eq!(
        (qa.group_name.as_str(), qa.group_type),
        ("qa", GROUP_TYPE_OIDC)
    );
    assert!(store.oidc_groups(&[]).await.unwrap().is_empty());

    // The row goes with its user.
    assert!(identity.delete_user(uid).await.unwrap());
    assert_eq!(store.oidc_user(uid).await.unwrap(), None);

    // Code flows.
    let login = |state: &str, at: i64| OidcLogin {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        verifier: format!("sealed-verifier-{state}"),
        redirect_uri: "https://wharf.example.com/c/oidc/callback".into(),
        created_at: at,
    };
    assert!(store.begin_oidc_login(&login("a", 10), 0, 2).await.unwrap());
    assert!(store.begin_oidc_login(&login("b", 20), 0, 2).await.unwrap());
    // Full: refused, nothing recorded.
    assert!(!store.begin_oidc_login(&login("c", 30), 0, 2).await.unwrap());
    assert_eq!(store.take_oidc_login("c").await.unwrap(), None);
    // Flows older than the lifetime are purged first, making room.
    assert!(
        store
            .begin_oidc_login(&login("c", 30), 15, 2)
            .await
            .unwrap()
    );
    assert_eq!(store.take_oidc_login("a").await.unwrap(), None);
    assert_eq!(
        store.take_oidc_login("c").await.unwrap(),
        Some(login("c", 30))
    );
    // Taken once.
    assert_eq!(store.take_oidc_login("c").await.unwrap(), None);
    assert_eq!(
        store.take_oidc_login("b").await.unwrap(),
        Some(login("b", 20))
    );
}

/// [`super::SessionStore`]: the portal's sessions, by the hash of their id; expiry by
/// idleness or age; a session goes with its user.
pub async fn run_sessions(store: &dyn super::SessionStore, identity: &dyn IdentityStore) {
    use super::identity::NewUser;
    use super::sessions::StoredSession;
    let user = |name: &'static str| NewUser {
        username: name,
        password_hash: "h",
        email: None,
        realname: None,
        sysadmin: false,
    };
    let alice = identity.create_user(user("alice")).await.unwrap().unwrap();
    let bob = identity.create_user(user("bob")).await.unwrap().unwrap();
    let session = |n: u8, user_id: i64, created_at: i64, last_seen_at: i64| StoredSession {
        id_hash: [n; 32],
        user_id,
        csrf_token: format!("csrf-{n}"),
        created_at,
        last_seen_at,
    };
    store
        .create_session(&session(1, alice, 100, 100))
        .await
        .unwrap();
    store
        .create_session(&session(2, alice, 100, 500))
        .await
        .unwrap();
    store
        .create_session(&session(3, bob, 900, 900))
        .await
        .unwrap();
    assert_eq!(
        store.session(&[1; 32]).await.unwrap(),
        Some(session(1, alice, 100, 100))
    );
    assert_eq!(store.session(&[9; 32]).await.unwrap(), None);
    // The same id twice is refused, not overwritten.
    assert!(store.create_session(&session(1, bob, 1, 1)).await.is_err());
    assert_eq!(
        store.session(&[1; 32]).await.unwrap().unwrap().user_id,
        alice
    );

    // Activity moves forward only.
    assert!(store.touch_session(&[1; 32], 300).await.unwrap());
    assert!(store.touch_session(&[1; 32], 200).await.unwrap());
    assert_eq!(
        store.session(&[1; 32]).await.unwrap().unwrap().last_seen_at,
        300
    );
    assert!(!store.touch_session(&[9; 32], 300).await.unwrap());

    // Idle since before 400 (1), or created before 50 (none).
    assert_eq!(store.delete_expired_sessions(400, 50).await.unwrap(), 1);
    assert_eq!(store.session(&[1; 32]).await.unwrap(), None);
    // Created before 500 (2), however recently seen.
    assert_eq!(store.delete_expired_sessions(0, 500).await.unwrap(), 1);
    assert_eq!(store.session(&[2; 32]).await.unwrap(), None);

    assert!(store.delete_session(&[3; 32]).await.unwrap());
    assert!(!store.delete_session(&[3; 32]).await.unwrap());

    // Deleting the user ends their sessions.
    store
        .create_session(&session(4, bob, 1000, 1000))
        .await
        .unwrap();
    assert!(identity.delete_user(bob).await.unwrap());
    assert_eq!(store.session(&[4; 32]).await.unwrap(), None);
}

/// [`super::LabelStore`]: names unique per scope (global, each project), listing
/// filters and totals, links to artifacts (one query for a page), and links going
/// with the artifact, the label and the project.
pub async fn run_labels(
    meta: &dyn MetadataStore,
    identity: &dyn IdentityStore,
    store: &dyn super::LabelStore,
) {
    use super::labels::{AddLabel, LabelFilter, LabelSpec};
    let spec = |name: &str| LabelSpec {
        name: name.into(),
        description: format!("about {name}"),
        color: "#0065AB".into(),
    };
    let all = PageReq {
        page: 1,
        page_size: 10,
    };
    let names = |(labels, n): (Vec<super::labels::Label>, i64)| {
        (labels.into_iter().map(|l| l.name).collect::<Vec<_>>(), n)
    };
    let p = identity
        .create_project("lab", false, None)
        .await
        .unwrap()
        .unwrap();
    let other = identity
        .create_project("lab-other", false, None)
        .await
        .unwrap()
        .unwrap();

    let prod = store
        .create_label(None, &spec("prod"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.create_label(None, &spec("prod")).await.unwrap(), None);
    // The same name in a project, and in another project: other scopes.
    let p_prod = store
        .create_label(Some(p), &spec("prod"))
        .await
        .unwrap()
        .unwrap();
    let o_prod = store
        .create_label(Some(other), &spec("prod"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.create_label(Some(p), &spec("prod")).await.unwrap(),
        None
    );
    let qa = store
        .create_label(Some(p), &spec("qa"))
        .await
        .unwrap()
        .unwrap();

    let stored = store.label(p_prod).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.description.as_str(),
            stored.color.as_str()
        ),
        ("prod", "about prod", "#0065AB")
    );
    assert_eq!(stored.project_id, Some(p));
    assert_eq!(store.label(prod).await.unwrap().unwrap().project_id, None);
    assert_eq!(store.label(i64::MAX).await.unwrap(), None);

    let global = LabelFilter::default();
    assert_eq!(
        names(store.list_labels(&global, all).await.unwrap()),
        (vec!["prod".into()], 1)
    );
    let in_p = LabelFilter {
        project_id: Some(p),
        ..LabelFilter::default()
    };
    assert_eq!(
        names(store.list_labels(&in_p, all).await.unwrap()),
        (vec!["prod".into(), "qa".into()], 2)
    );
    let first = PageReq {
        page: 2,
        page_size: 1,
    };
    assert_eq!(
        names(store.list_labels(&in_p, first).await.unwrap()),
        (vec!["qa".into()], 2)
    );
    let exact = LabelFilter {
        name: Some("qa".into()),
        ..in_p.clone()
    };
    assert_eq!(
        names(store.list_labels(&exact, all).await.unwrap()),
        (vec!["qa".into()], 1)
    );
    let fuzzy = LabelFilter {
        name_contains: Some("ro".into()),
        ..in_p.clone()
    };
    assert_eq!(
        names(store.list_labels(&fuzzy, all).await.unwrap()),
        (vec!["prod".into()], 1)
    );

    // Renaming onto a taken name in the scope is refused; elsewhere it is not.
    assert_eq!(store.update_label(qa, &spec("prod")).await.unwrap(), None);
    assert_eq!(
        store.update_label(qa, &spec("staging")).await.unwrap(),
        Some(true)
    );
    assert_eq!(store.label(qa).await.unwrap().unwrap().name, "staging");
    assert_eq!(
        store.update_label(i64::MAX, &spec("x")).await.unwrap(),
        Some(false)
    );

    // Links.
    push(meta, "lab/app").await;
    push(meta, "lab/other").await;
    let app = repo("lab/app");
    let body = r#"{"repository":"lab/app"}"#;
    let digest = Digest::sha256_of(body.as_bytes());
    let missing = Digest::sha256_of(b"missing");
    assert_eq!(
        store.add_artifact_label(&app, &digest, prod).await.unwrap(),
        AddLabel::Added
    );
    assert_eq!(
        store.add_artifact_label(&app, &digest, prod).await.unwrap(),
        AddLabel::AlreadyAdded
    );
    assert_eq!(
        store
            .add_artifact_label(&app, &digest, p_prod)
            .await
            .unwrap(),
        AddLabel::Added
    );
    assert_eq!(
        store
            .add_artifact_label(&app, &missing, prod)
            .await
            .unwrap(),
        AddLabel::NotFound
    );
    assert_eq!(
        store
            .add_artifact_label(&app, &digest, i64::MAX)
            .await
            .unwrap(),
        AddLabel::NotFound
    );
    // The same digest in another repository is another artifact.
    assert_eq!(
        store
            .add_artifact_label(&repo("lab/other"), &digest, prod)
            .await
            .unwrap(),
        AddLabel::NotFound
    );
    let on = store
        .artifact_labels(&app, &[digest.clone(), missing.clone()])
        .await
        .unwrap();
    assert_eq!(on.len(), 1);
    assert_eq!(
        on[&digest].iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![prod, p_prod]
    );
    assert_eq!(
        store.labelled_artifacts(&app, &[p_prod]).await.unwrap(),
        vec![digest.clone()]
    );
    assert_eq!(
        store.labelled_artifacts(&app, &[qa, o_prod]).await.unwrap(),
        Vec::<Digest>::new()
    );
    // The artifact list filtered by labels, paged and counted by the store:
    // `digest` carries prod and p_prod, not qa.
    let all_page = all;
    let app_ref = &app;
    let listed = |ids: Vec<i64>, all: bool| async move {
        let m = super::labels::LabelMatch { ids, all };
        let (arts, n) = meta.list_artifacts(app_ref, all_page, &m).await.unwrap();
        (arts.into_iter().map(|a| a.digest).collect::<Vec<_>>(), n)
    };
    assert_eq!(
        listed(vec![qa, p_prod], false).await,
        (vec![digest.clone()], 1)
    );
    assert_eq!(
        listed(vec![prod, p_prod], true).await,
        (vec![digest.clone()], 1)
    );
    assert_eq!(listed(vec![qa, p_prod], true).await, (vec![], 0));
    assert_eq!(listed(vec![qa], false).await, (vec![], 0));
    assert!(
        store
            .remove_artifact_label(&app, &digest, prod)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_artifact_label(&app, &digest, prod)
            .await
            .unwrap()
    );

    // A deleted label leaves no links; a deleted artifact neither.
    store.add_artifact_label(&app, &digest, qa).await.unwrap();
    assert!(store.delete_label(qa).await.unwrap());
    assert!(!store.delete_label(qa).await.unwrap());
    assert_eq!(
        store
            .artifact_labels(&app, std::slice::from_ref(&digest))
            .await
            .unwrap()[&digest]
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        vec![p_prod]
    );
    assert!(meta.delete_manifest(&app, &digest).await.unwrap());
    push(meta, "lab/app").await;
    assert!(
        store
            .artifact_labels(&app, std::slice::from_ref(&digest))
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted project takes its labels along.
    assert!(identity.delete_project(other).await.unwrap());
    assert_eq!(store.label(o_prod).await.unwrap(), None);
}
