//! The OCI Distribution v1.1 wire protocol, checked with curl against the real
//! binary: every endpoint, the headers clients rely on, and every bad input
//! with its error code and status.

mod common;

use common::{Wharf, curl, push_blob, push_image, sha256};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[test]
fn base_endpoint_answers_with_api_version() {
    let w = Wharf::start();
    let r = curl("GET", &w.url("/v2/")).send();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
}

#[test]
fn monolithic_upload_then_head_and_get() {
    let w = Wharf::start();
    let data = b"a small blob".to_vec();
    let digest = sha256(&data);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/library/mono/blobs/uploads/?digest={digest}")),
    )
    .body(data.clone())
    .send();
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/library/mono/blobs/{digest}").as_str())
    );
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));

    let head = curl("HEAD", &w.url(&format!("/v2/library/mono/blobs/{digest}"))).send();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    assert!(head.body.is_empty() || !head.body.starts_with(b"a small"));

    let get = curl("GET", &w.url(&format!("/v2/library/mono/blobs/{digest}"))).send();
    assert_eq!(get.status, 200);
    assert_eq!(get.body, data);

    // Another repository cannot read it without a mount.
    let other = curl("GET", &w.url(&format!("/v2/library/other/blobs/{digest}"))).send();
    assert_eq!(other.status, 404);
    assert_eq!(other.error_code(), "BLOB_UNKNOWN");
}

#[test]
fn post_then_put_upload() {
    let w = Wharf::start();
    let r = curl("POST", &w.url("/v2/project/team/app/blobs/uploads/")).send();
    assert_eq!(r.status, 202);
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with("/v2/project/team/app/blobs/uploads/"),
        "{location}"
    );
    assert!(r.header("docker-upload-uuid").is_some());
    let data = b"put in one go".to_vec();
    let digest = sha256(&data);
    let r = curl("PUT", &w.url(&format!("{location}?digest={digest}")))
        .body(data.clone())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let get = curl(
        "GET",
        &w.url(&format!("/v2/project/team/app/blobs/{digest}")),
    )
    .send();
    assert_eq!(get.body, data);
}

#[test]
fn chunked_upload_with_status_and_out_of_order_chunks() {
    let w = Wharf::start();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&data);
    let r = curl("POST", &w.url("/v2/library/chunky/blobs/uploads/")).send();
    let mut location = r.header("location").unwrap().to_string();

    let chunks = [&data[..100_000], &data[100_000..250_000], &data[250_000..]];
    let mut offset = 0usize;
    for (i, chunk) in chunks.iter().enumerate() {
        if i == 1 {
            // A chunk that skips ahead is refused with 416 and changes nothing.
            let bad = curl("PATCH", &w.url(&location))
                .header("Content-Range", &format!("{}-{}", offset + 10, offset + 19))
                .header("Content-Type", "application/octet-stream")
                .body(vec![0u8; 10])
                .send();
            assert_eq!(bad.status, 416);
            assert_eq!(bad.error_code(), "BLOB_UPLOAD_INVALID");
            // Content-Length that disagrees with Content-Range.
            let bad = curl("PATCH", &w.url(&location))
                .header("Content-Range", &format!("{}-{}", offset, offset + 99))
                .header("Content-Type", "application/octet-stream")
                .body(vec![0u8; 10])
                .send();
            assert_eq!(bad.status, 400);
            assert_eq!(bad.error_code(), "SIZE_INVALID");
        }
        let end = offset + chunk.len() - 1;
        let r = curl("PATCH", &w.url(&location))
            .header("Content-Range", &format!("{offset}-{end}"))
            .header("Content-Type", "application/octet-stream")
            .body(chunk.to_vec())
            .send();
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("range"), Some(format!("0-{end}").as_str()));
        location = r.header("location").unwrap().to_string();
        offset += chunk.len();

        let status = curl("GET", &w.url(&location)).send();
        assert_eq!(status.status, 204);
        assert_eq!(status.header("range"), Some(format!("0-{end}").as_str()));
    }
    // Not visible before the final PUT.
    assert_eq!(
        curl(
            "HEAD",
            &w.url(&format!("/v2/library/chunky/blobs/{digest}"))
        )
        .send()
        .status,
        404
    );
    let r = curl("PUT", &w.url(&format!("{location}?digest={digest}"))).send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/library/chunky/blobs/{digest}")))
            .send()
            .body,
        data
    );
    // The session is gone.
    assert_eq!(curl("GET", &w.url(&location)).send().status, 404);
}

#[test]
fn streamed_patch_without_content_range() {
    let w = Wharf::start();
    let r = curl("POST", &w.url("/v2/library/stream/blobs/uploads/")).send();
    let location = r.header("location").unwrap().to_string();
    let data = vec![7u8; 70_000];
    let r = curl("PATCH", &w.url(&location))
        .header("Transfer-Encoding", "chunked")
        .body(data.clone())
        .send();
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-69999"));
    let digest = sha256(&data);
    let r = curl(
        "PUT",
        &w.url(&format!(
            "{}?digest={digest}",
            r.header("location").unwrap()
        )),
    )
    .send();
    assert_eq!(r.status, 201);
}

#[test]
fn cancelled_and_unknown_uploads() {
    let w = Wharf::start();
    let r = curl("POST", &w.url("/v2/library/cancel/blobs/uploads/")).send();
    let location = r.header("location").unwrap().to_string();
    assert_eq!(curl("DELETE", &w.url(&location)).send().status, 204);
    let gone = curl("GET", &w.url(&location)).send();
    assert_eq!(gone.status, 404);
    assert_eq!(gone.error_code(), "BLOB_UPLOAD_UNKNOWN");
    let fake = "/v2/library/cancel/blobs/uploads/00000000-0000-4000-8000-000000000000";
    assert_eq!(
        curl("PATCH", &w.url(fake)).body("x").send().error_code(),
        "BLOB_UPLOAD_UNKNOWN"
    );
    let hostile = "/v2/library/cancel/blobs/uploads/..%2F..%2Fwharf.db";
    assert_eq!(curl("GET", &w.url(hostile)).send().status, 404);
    // A session belongs to its repository.
    let r = curl("POST", &w.url("/v2/library/a/blobs/uploads/")).send();
    let id = r.header("docker-upload-uuid").unwrap().to_string();
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/library/b/blobs/uploads/{id}")))
            .send()
            .status,
        404
    );
}

#[test]
fn wrong_digests_are_refused_and_leave_nothing() {
    let w = Wharf::start();
    let data = b"the real content".to_vec();
    let wrong = sha256(b"something else");
    let r = curl(
        "POST",
        &w.url(&format!("/v2/library/d/blobs/uploads/?digest={wrong}")),
    )
    .body(data.clone())
    .send();
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    assert_eq!(
        curl("HEAD", &w.url(&format!("/v2/library/d/blobs/{wrong}")))
            .send()
            .status,
        404
    );
    assert_eq!(
        curl(
            "HEAD",
            &w.url(&format!("/v2/library/d/blobs/{}", sha256(&data)))
        )
        .send()
        .status,
        404
    );

    let r = curl("POST", &w.url("/v2/library/d/blobs/uploads/")).send();
    let loc = r.header("location").unwrap().to_string();
    let r = curl("PUT", &w.url(&format!("{loc}?digest={wrong}")))
        .body(data.clone())
        .send();
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    let r = curl("PUT", &w.url(&format!("{loc}?digest=sha256:nothex"))).send();
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    let r = curl("GET", &w.url("/v2/library/d/blobs/sha256:abc")).send();
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    // No upload data is left behind.
    let uploads = std::fs::read_dir(w.data_dir.join("uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 0);
}

#[test]
fn range_requests_return_partial_content() {
    let w = Wharf::start();
    let data: Vec<u8> = (0u8..100).collect();
    let digest = push_blob(&w, "library/ranges", &data);
    let url = w.url(&format!("/v2/library/ranges/blobs/{digest}"));
    let r = curl("GET", &url).header("Range", "bytes=10-19").send();
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100"));
    assert_eq!(r.body, &data[10..20]);
    let r = curl("GET", &url).header("Range", "bytes=90-").send();
    assert_eq!((r.status, r.body.as_slice()), (206, &data[90..]));
    let r = curl("GET", &url).header("Range", "bytes=-5").send();
    assert_eq!((r.status, r.body.as_slice()), (206, &data[95..]));
    let r = curl("GET", &url).header("Range", "bytes=100-200").send();
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */100"));
}

#[test]
fn cross_repository_mount() {
    let w = Wharf::start();
    let digest = push_blob(&w, "library/source", b"shared layer");
    let r = curl(
        "POST",
        &w.url(&format!(
            "/v2/project/dest/blobs/uploads/?mount={digest}&from=library/source"
        )),
    )
    .send();
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/project/dest/blobs/{digest}").as_str())
    );
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/project/dest/blobs/{digest}")))
            .send()
            .body,
        b"shared layer"
    );
    // Not mountable (unknown in `from`): an upload session instead.
    let missing = sha256(b"nowhere");
    let r = curl(
        "POST",
        &w.url(&format!(
            "/v2/project/dest/blobs/uploads/?mount={missing}&from=library/source"
        )),
    )
    .send();
    assert_eq!(r.status, 202);
    assert!(r.header("location").unwrap().contains("/blobs/uploads/"));
}

#[test]
fn manifests_by_tag_and_digest_keep_exact_bytes() {
    let w = Wharf::start();
    let (digest, body) = push_image(&w, "project/team/app", "v1", "one");
    for reference in ["v1", digest.as_str()] {
        let r = curl(
            "GET",
            &w.url(&format!("/v2/project/team/app/manifests/{reference}")),
        )
        .header("Accept", OCI_MANIFEST)
        .send();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body);
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
        let h = curl(
            "HEAD",
            &w.url(&format!("/v2/project/team/app/manifests/{reference}")),
        )
        .send();
        assert_eq!(h.status, 200);
        assert_eq!(
            h.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(h.header("docker-content-digest"), Some(digest.as_str()));
    }
    // Manifests are blobs too.
    let r = curl(
        "GET",
        &w.url(&format!("/v2/project/team/app/blobs/{digest}")),
    )
    .send();
    assert_eq!(r.body, body);
    let r = curl("GET", &w.url("/v2/project/team/app/manifests/nope")).send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
}

#[test]
fn docker_schema2_manifest_and_list() {
    let w = Wharf::start();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let cd = push_blob(&w, "library/dock", config);
    let ld = push_blob(&w, "library/dock", b"docker layer");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld, "size": 12}]
    })
    .to_string();
    let r = curl("PUT", &w.url("/v2/library/dock/manifests/amd64"))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(manifest.clone())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let md = sha256(manifest.as_bytes());
    let list = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": md,
                       "size": manifest.len(), "platform": {"architecture": "amd64", "os": "linux"}}]
    })
    .to_string();
    let r = curl("PUT", &w.url("/v2/library/dock/manifests/latest"))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(list.clone())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = curl("GET", &w.url("/v2/library/dock/manifests/latest")).send();
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json")
    );
    assert_eq!(r.body, list.as_bytes());
}

#[test]
fn manifests_referencing_missing_content_are_refused() {
    let w = Wharf::start();
    let cd = push_blob(&w, "library/strict", b"{}");
    let missing = sha256(b"never pushed");
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing, "size": 12}]
    })
    .to_string();
    let r = curl("PUT", &w.url("/v2/library/strict/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send();
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], missing);
    assert_eq!(
        curl("GET", &w.url("/v2/library/strict/manifests/v1"))
            .send()
            .status,
        404
    );

    // Wrong size for an existing blob.
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 3},
        "layers": []
    })
    .to_string();
    let r = curl("PUT", &w.url("/v2/library/strict/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );

    // An index whose child manifest is not there.
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing, "size": 10}]})
    .to_string();
    let r = curl("PUT", &w.url("/v2/library/strict/manifests/idx"))
        .header("Content-Type", OCI_INDEX)
        .body(index)
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
}

#[test]
fn malformed_and_oversized_manifests() {
    let w = Wharf::start();
    let url = w.url("/v2/library/bad/manifests/v1");
    let r = curl("PUT", &url)
        .header("Content-Type", OCI_MANIFEST)
        .body("{not json")
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let r = curl("PUT", &url).header("Content-Type", OCI_MANIFEST).body(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#).send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID"),
        "mediaType/Content-Type mismatch"
    );
    let r = curl("PUT", &url)
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
        )
        .body(r#"{"schemaVersion":1}"#)
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let mut big = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 4 * 1024 * 1024 + 10));
    big.extend(br#""}}"#);
    let r = curl("PUT", &url)
        .header("Content-Type", OCI_MANIFEST)
        .body(big)
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "MANIFEST_INVALID")
    );
    let (_, body) = (0, br#"{"schemaVersion":2}"#);
    let r = curl(
        "PUT",
        &w.url(&format!("/v2/library/bad/manifests/{}", sha256(b"other"))),
    )
    .header("Content-Type", OCI_MANIFEST)
    .body(body.to_vec())
    .send();
    assert_eq!(r.status, 400);
    let r = curl("PUT", &w.url("/v2/library/bad/manifests/-badtag"))
        .header("Content-Type", OCI_MANIFEST)
        .body("{}")
        .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    // Nothing was stored.
    let r = curl("GET", &w.url("/v2/library/bad/tags/list")).send();
    assert_eq!(r.status, 404);
}

/// The OCI spec: a manifest that is not found MUST get 404 `MANIFEST_UNKNOWN`,
/// and one named by a string that cannot be a tag is never found (the spec's
/// conformance suite asks for `.INVALID_MANIFEST_NAME`). Only a PUT refuses it.
#[test]
fn invalid_tags_are_unknown_manifests_except_on_put() {
    let w = Wharf::start();
    push_image(&w, "library/strict-tags", "v1", "invalid-tags");
    let long = "a".repeat(129);
    for tag in [".INVALID_MANIFEST_NAME", "-dash", long.as_str(), "a+b"] {
        let url = w.url(&format!("/v2/library/strict-tags/manifests/{tag}"));
        let r = curl("GET", &url).send();
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "MANIFEST_UNKNOWN"),
            "GET {tag}"
        );
        assert_eq!(curl("HEAD", &url).send().status, 404, "HEAD {tag}");
        let r = curl("DELETE", &url).send();
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "MANIFEST_UNKNOWN"),
            "DELETE {tag}"
        );
        let r = curl("PUT", &url)
            .header("Content-Type", OCI_MANIFEST)
            .body("{}")
            .send();
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "MANIFEST_INVALID"),
            "PUT {tag}"
        );
    }
    // The same in a repository that does not exist, and malformed digests are still invalid.
    let r = curl(
        "GET",
        &w.url("/v2/library/none/manifests/.INVALID_MANIFEST_NAME"),
    )
    .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    let r = curl(
        "GET",
        &w.url("/v2/library/strict-tags/manifests/sha256:short"),
    )
    .send();
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    // The valid tag is untouched by all of this.
    let r = curl("GET", &w.url("/v2/library/strict-tags/manifests/v1")).send();
    assert_eq!(r.status, 200);
}

#[test]
fn manifest_put_by_digest_must_match() {
    let w = Wharf::start();
    let cd = push_blob(&w, "library/bydigest", b"{}");
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2}, "layers": []})
    .to_string();
    let wrong = sha256(b"x");
    let r = curl(
        "PUT",
        &w.url(&format!("/v2/library/bydigest/manifests/{wrong}")),
    )
    .header("Content-Type", OCI_MANIFEST)
    .body(manifest.clone())
    .send();
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
    let right = sha256(manifest.as_bytes());
    let r = curl(
        "PUT",
        &w.url(&format!("/v2/library/bydigest/manifests/{right}")),
    )
    .header("Content-Type", OCI_MANIFEST)
    .body(manifest)
    .send();
    assert_eq!(r.status, 201);
    assert_eq!(r.header("docker-content-digest"), Some(right.as_str()));
}

#[test]
fn deleting_tags_manifests_and_blobs() {
    let w = Wharf::start();
    let (digest, _) = push_image(&w, "library/del", "v1", "del");
    push_image(&w, "library/del", "v2", "del");
    // Deleting a tag leaves the manifest.
    assert_eq!(
        curl("DELETE", &w.url("/v2/library/del/manifests/v1"))
            .send()
            .status,
        202
    );
    assert_eq!(
        curl("GET", &w.url("/v2/library/del/manifests/v1"))
            .send()
            .status,
        404
    );
    assert_eq!(
        curl(
            "GET",
            &w.url(&format!("/v2/library/del/manifests/{digest}"))
        )
        .send()
        .status,
        200
    );
    // Deleting by digest takes every tag with it.
    assert_eq!(
        curl(
            "DELETE",
            &w.url(&format!("/v2/library/del/manifests/{digest}"))
        )
        .send()
        .status,
        202
    );
    let r = curl(
        "GET",
        &w.url(&format!("/v2/library/del/manifests/{digest}")),
    )
    .send();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    assert_eq!(
        curl("GET", &w.url("/v2/library/del/manifests/v2"))
            .send()
            .status,
        404
    );
    assert_eq!(
        curl(
            "DELETE",
            &w.url(&format!("/v2/library/del/manifests/{digest}"))
        )
        .send()
        .status,
        404
    );

    let bd = push_blob(&w, "library/del", b"to delete");
    assert_eq!(
        curl("DELETE", &w.url(&format!("/v2/library/del/blobs/{bd}")))
            .send()
            .status,
        202
    );
    let r = curl("HEAD", &w.url(&format!("/v2/library/del/blobs/{bd}"))).send();
    assert_eq!(r.status, 404);
    assert_eq!(
        curl("DELETE", &w.url(&format!("/v2/library/del/blobs/{bd}")))
            .send()
            .error_code(),
        "BLOB_UNKNOWN"
    );
}

#[test]
fn tag_list_pagination_with_link_headers() {
    let w = Wharf::start();
    let (_, manifest) = push_image(&w, "project/pages", "t0", "p");
    for t in ["t1", "t2", "t3", "t4"] {
        let r = curl("PUT", &w.url(&format!("/v2/project/pages/manifests/{t}")))
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest.clone())
            .send();
        assert_eq!(r.status, 201);
    }
    let r = curl("GET", &w.url("/v2/project/pages/tags/list")).send();
    assert_eq!(
        r.json(),
        json!({"name": "project/pages", "tags": ["t0", "t1", "t2", "t3", "t4"]})
    );
    assert!(r.header("link").is_none());

    let mut url = w.url("/v2/project/pages/tags/list?n=2");
    let mut seen = vec![];
    loop {
        let r = curl("GET", &url).send();
        assert_eq!(r.status, 200);
        let tags: Vec<String> = serde_json::from_value(r.json()["tags"].clone()).unwrap();
        assert!(tags.len() <= 2);
        seen.extend(tags);
        match r.header("link") {
            Some(link) => {
                assert!(link.ends_with("rel=\"next\""), "{link}");
                let target = link.trim_start_matches('<').split('>').next().unwrap();
                url = w.url(target);
            }
            None => break,
        }
    }
    assert_eq!(seen, ["t0", "t1", "t2", "t3", "t4"]);
    let r = curl("GET", &w.url("/v2/project/pages/tags/list?n=2&last=t3")).send();
    assert_eq!(r.json()["tags"], json!(["t4"]));
    let r = curl("GET", &w.url("/v2/project/pages/tags/list?n=0")).send();
    assert_eq!(r.json()["tags"], json!([]));
    let r = curl("GET", &w.url("/v2/project/nothing/tags/list")).send();
    assert_eq!((r.status, r.error_code().as_str()), (404, "NAME_UNKNOWN"));
}

#[test]
fn catalog_pagination() {
    let w = Wharf::start();
    for repo in ["library/a", "library/b", "project/team/c"] {
        push_image(&w, repo, "v1", repo);
    }
    let r = curl("GET", &w.url("/v2/_catalog")).send();
    assert_eq!(
        r.json()["repositories"],
        json!(["library/a", "library/b", "project/team/c"])
    );
    let r = curl("GET", &w.url("/v2/_catalog?n=2")).send();
    assert_eq!(r.json()["repositories"], json!(["library/a", "library/b"]));
    assert_eq!(
        r.header("link"),
        Some("</v2/_catalog?n=2&last=library/b>; rel=\"next\"")
    );
    let r = curl("GET", &w.url("/v2/_catalog?n=2&last=library/b")).send();
    assert_eq!(r.json()["repositories"], json!(["project/team/c"]));
    assert!(r.header("link").is_none());
}

#[test]
fn referrers_with_subject_and_artifact_type_filter() {
    let w = Wharf::start();
    let (subject, subject_body) = push_image(&w, "library/ref", "v1", "subject");
    let empty = push_blob(&w, "library/ref", b"{}");
    let mut pushed = vec![];
    for (i, artifact_type) in ["application/vnd.example.sig", "application/spdx+json"]
        .iter()
        .enumerate()
    {
        let layer = push_blob(&w, "library/ref", format!("payload {i}").as_bytes());
        let m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 9}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_body.len()},
            "annotations": {"org.example.n": i.to_string()}
        })
        .to_string();
        let d = sha256(m.as_bytes());
        let r = curl("PUT", &w.url(&format!("/v2/library/ref/manifests/{d}")))
            .header("Content-Type", OCI_MANIFEST)
            .body(m.clone())
            .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("oci-subject"), Some(subject.as_str()));
        pushed.push((d, m.len(), artifact_type.to_string()));
    }
    let r = curl(
        "GET",
        &w.url(&format!("/v2/library/ref/referrers/{subject}")),
    )
    .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    assert!(r.header("oci-filters-applied").is_none());
    let index = r.json();
    assert_eq!(index["mediaType"], OCI_INDEX);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    for (d, size, at) in &pushed {
        let m = manifests
            .iter()
            .find(|m| m["digest"] == d.as_str())
            .expect("referrer listed");
        assert_eq!(m["size"], *size);
        assert_eq!(m["artifactType"], at.as_str());
        assert_eq!(m["mediaType"], OCI_MANIFEST);
    }
    assert!(
        manifests
            .iter()
            .any(|m| m["annotations"]["org.example.n"] == "1")
    );

    let r = curl(
        "GET",
        &w.url(&format!(
            "/v2/library/ref/referrers/{subject}?artifactType=application/spdx%2Bjson"
        )),
    )
    .send();
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
    let only = r.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["artifactType"], "application/spdx+json");

    // An unknown subject: an empty index, never 404.
    let r = curl(
        "GET",
        &w.url(&format!("/v2/library/ref/referrers/{}", sha256(b"nobody"))),
    )
    .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["manifests"], json!([]));
    let r = curl("GET", &w.url("/v2/library/ref/referrers/sha256:short")).send();
    assert_eq!((r.status, r.error_code().as_str()), (400, "DIGEST_INVALID"));
}

#[test]
fn invalid_repository_names() {
    let w = Wharf::start();
    for name in [
        "Library/Upper",
        "library/../etc",
        "library//double",
        "library/.hidden",
        "a/b-",
        "library/sp%20ace",
    ] {
        let r = curl("GET", &w.url(&format!("/v2/{name}/tags/list"))).send();
        assert_eq!(r.status, 400, "{name}");
        assert_eq!(r.error_code(), "NAME_INVALID", "{name}");
        let r = curl("POST", &w.url(&format!("/v2/{name}/blobs/uploads/"))).send();
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "NAME_INVALID"),
            "{name}"
        );
    }
    let long = "a".repeat(256);
    let r = curl("GET", &w.url(&format!("/v2/{long}/manifests/latest"))).send();
    assert_eq!((r.status, r.error_code().as_str()), (400, "NAME_INVALID"));
}

#[test]
fn sha512_blobs_and_manifests() {
    use sha2::Digest;
    let w = Wharf::start();
    let data = b"sha512 content".to_vec();
    let d512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&data)));
    let r = curl(
        "POST",
        &w.url(&format!("/v2/library/s512/blobs/uploads/?digest={d512}")),
    )
    .body(data.clone())
    .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/library/s512/blobs/{d512}")))
            .send()
            .body,
        data
    );

    // Chunked, finished with a sha512 digest.
    let r = curl("POST", &w.url("/v2/library/s512/blobs/uploads/")).send();
    let loc = r.header("location").unwrap().to_string();
    let r = curl("PATCH", &w.url(&loc))
        .header("Content-Range", "0-4")
        .body(b"chunk".to_vec())
        .send();
    let loc = r.header("location").unwrap().to_string();
    let d = format!("sha512:{}", hex::encode(sha2::Sha512::digest(b"chunk")));
    assert_eq!(
        curl("PUT", &w.url(&format!("{loc}?digest={d}")))
            .send()
            .status,
        201
    );

    let cd = push_blob(&w, "library/s512", b"{}");
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": d512, "size": data.len()}]})
    .to_string();
    let md = format!(
        "sha512:{}",
        hex::encode(sha2::Sha512::digest(manifest.as_bytes()))
    );
    let r = curl("PUT", &w.url(&format!("/v2/library/s512/manifests/{md}")))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("docker-content-digest"), Some(md.as_str()));
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/library/s512/manifests/{md}")))
            .send()
            .body,
        manifest.as_bytes()
    );
}

#[test]
fn too_many_upload_sessions_get_toomanyrequests() {
    let w = Wharf::start_with(&["--max-concurrent-uploads", "1"]);
    let first = curl("POST", &w.url("/v2/library/busy/blobs/uploads/")).send();
    assert_eq!(first.status, 202);
    let second = curl("POST", &w.url("/v2/library/busy/blobs/uploads/")).send();
    assert_eq!(
        (second.status, second.error_code().as_str()),
        (429, "TOOMANYREQUESTS")
    );
    // Finishing the first frees the slot.
    assert_eq!(
        curl("DELETE", &w.url(first.header("location").unwrap()))
            .send()
            .status,
        204
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/busy/blobs/uploads/"))
            .send()
            .status,
        202
    );
}

#[test]
fn unknown_endpoints_and_methods() {
    let w = Wharf::start();
    let r = curl("GET", &w.url("/v2/library/x/nothing/here")).send();
    assert_eq!(r.status, 404);
    let r = curl("POST", &w.url("/v2/library/x/tags/list")).send();
    assert_eq!((r.status, r.error_code().as_str()), (405, "UNSUPPORTED"));
}
