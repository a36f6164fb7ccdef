//! The end-to-end flow every bucket backend of `wharf serve --storage` passes
//! (S3 on moto in `tests/s3.rs`, Azure on Azurite in `tests/azure.rs`), as the
//! blob store's conformance suite is one for every store: skopeo copies a real
//! image in (a 51 MB layer: several multipart parts or blocks) and back out,
//! every digest checked against the source, the blobs found under the
//! filesystem store's layout and no upload left; restarted with
//! `--storage-redirect`, a blob GET answers 307 to a pre-signed URL of the
//! backend whose bytes have the blob's digest, and skopeo pulls through the
//! redirects.

use std::path::Path;
use std::process::Command;

use super::{Wharf, blob_digests, curl, location_in, oci_ref, require, run, sha256};

pub struct Backend<'a> {
    /// `wharf serve` in a data directory on this backend (prefix `registry/`),
    /// with extra flags.
    pub start: &'a dyn Fn(&Path, &[&str]) -> Wharf,
    /// The keys under a prefix of the bucket.
    pub keys: &'a dyn Fn(&str) -> Vec<String>,
    /// Where its pre-signed URLs point.
    pub endpoint: &'a str,
    /// What a pre-signed URL of this backend carries (`X-Amz-Signature=`, `sig=`).
    pub signature: &'a str,
}

pub fn push_pull_and_redirect(b: &Backend) {
    require("skopeo");
    require("curl");
    let tmp = tempfile::tempdir().unwrap();
    let image = oci_ref("debian", "bookworm-minbase");
    let source = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(&image));
    let digests = blob_digests(&source);

    let mut w = (b.start)(tmp.path(), &[]);
    let target = format!("docker://{}/library/debian:v1", w.host());
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(&image)
        .arg(&target));
    let pushed = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(&target));
    assert_eq!(sha256(pushed.as_bytes()), sha256(source.as_bytes()));
    // The blobs are in the bucket, under the filesystem store's layout; no upload is left.
    let keys = (b.keys)("registry/");
    for d in &digests {
        let hex = d.strip_prefix("sha256:").unwrap();
        let key = format!("registry/blobs/sha256/{}/{hex}", &hex[..2]);
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
    assert!(
        keys.iter().all(|k| !k.starts_with("registry/uploads/")),
        "{keys:?}"
    );
    // Nothing in the data directory but the database and the key.
    let local = w.data_dir.join("blobs");
    assert!(!local.exists() || std::fs::read_dir(&local).unwrap().next().is_none());

    // Pulled back whole: skopeo checks every blob against its digest.
    let pull = |from: &str, to: &str| {
        let out = tmp.path().join(to);
        run(Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(from)
            .arg(format!("oci:{}:v1", out.display())));
        let pulled = run(Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:v1", out.display())));
        assert_eq!(blob_digests(&pulled), digests);
    };
    pull(&target, "pulled");

    // With --storage-redirect: a 307 to the backend, whose bytes are the blob.
    w.terminate();
    let w = (b.start)(tmp.path(), &["--storage-redirect"]);
    let layer = digests.last().unwrap();
    let url = w.url(&format!("/v2/library/debian/blobs/{layer}"));
    let head = run(Command::new("curl").args(["-sS", "-o", "/dev/null", "-D", "-", &url]));
    assert!(
        head.lines().next().unwrap_or_default().contains(" 307"),
        "{head}"
    );
    let location = location_in(&head);
    assert!(location.starts_with(b.endpoint), "{location}");
    assert!(location.contains(b.signature), "{location}");
    let fetched = tmp.path().join("layer");
    run(Command::new("curl")
        .args(["-sS", "-f", "-L", "-o"])
        .arg(&fetched)
        .arg(&url));
    assert_eq!(sha256(&std::fs::read(&fetched).unwrap()), *layer);
    // A client following redirects pulls the whole image.
    pull(&format!("docker://{}/library/debian:v1", w.host()), "again");
}

/// `/readyz` answers 503 while the bucket (or container) `start` names does not
/// exist, and 200 once `create` has made it: the check lists a key, since a HEAD
/// of an absent key answers 404 whether or not the bucket is there.
pub fn ready_only_once_the_bucket_exists(start: &dyn Fn(&Path) -> Wharf, create: &dyn Fn()) {
    let tmp = tempfile::tempdir().unwrap();
    let w = start(tmp.path());
    let r = curl("GET", &w.url("/readyz")).send();
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    create();
    let r = curl("GET", &w.url("/readyz")).send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
