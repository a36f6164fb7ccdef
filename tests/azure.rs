//! `wharf serve --storage azure://…`: the real binary with its blobs in Azure
//! Blob Storage as Azurite emulates it (registry/tests/support/azurite.rs),
//! driven by skopeo: a real image (a 51 MB layer: several staged blocks) copied
//! in and back out, every digest checked against the source; restarted with
//! `--storage-redirect`, a blob GET answers 307 to a SAS URL whose bytes have
//! the blob's digest, and skopeo pulls through the redirects.

#[path = "../registry/tests/support/azurite.rs"]
mod azurite;
mod common;

use std::path::Path;
use std::process::Command;

use common::{Wharf, blob_digests, location_in, oci_ref, require, run, sha256};

fn start(dir: &Path, container: &str, extra: &[&str]) -> Wharf {
    let storage = format!("azure://{container}/registry");
    let mut args = vec!["--storage", storage.as_str()];
    args.extend_from_slice(extra);
    Wharf::start_env(dir, &args, &azure_env())
}

/// Azurite's account, key and endpoint, as the standard `AZURE_*` variables.
fn azure_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_STORAGE_ACCOUNT_NAME", azurite::ACCOUNT),
        ("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY),
        (
            "AZURE_STORAGE_ENDPOINT",
            azurite::server().endpoint.as_str(),
        ),
        ("AZURE_ALLOW_HTTP", "true"),
    ]
}

#[test]
fn serve_on_azure_push_pull_and_redirect() {
    require("skopeo");
    require("curl");
    let tmp = tempfile::tempdir().unwrap();
    let container = azurite::fresh_container();
    let image = oci_ref("debian", "bookworm-minbase");
    let source = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(&image));
    let digests = blob_digests(&source);

    let mut w = start(tmp.path(), &container, &[]);
    let target = format!("docker://{}/library/debian:v1", w.host());
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(&image)
        .arg(&target));
    // The blobs are in the container, under the filesystem store's layout; no upload is left.
    let keys = azurite::keys(&container, "registry/");
    for d in &digests {
        let hex = d.strip_prefix("sha256:").unwrap();
        let key = format!("registry/blobs/sha256/{}/{hex}", &hex[..2]);
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
    assert!(
        keys.iter().all(|k| !k.starts_with("registry/uploads/")),
        "{keys:?}"
    );

    // Pulled back whole: skopeo checks every blob against its digest.
    let out = tmp.path().join("pulled");
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(&target)
        .arg(format!("oci:{}:v1", out.display())));
    let pulled = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:v1", out.display())));
    assert_eq!(blob_digests(&pulled), digests);

    // With --storage-redirect: a 307 to a SAS URL, whose bytes are the blob.
    w.terminate();
    let w = start(tmp.path(), &container, &["--storage-redirect"]);
    let layer = digests.last().unwrap();
    let url = w.url(&format!("/v2/library/debian/blobs/{layer}"));
    let head = run(Command::new("curl").args(["-sS", "-o", "/dev/null", "-D", "-", &url]));
    assert!(
        head.lines().next().unwrap_or_default().contains(" 307"),
        "{head}"
    );
    let location = location_in(&head);
    assert!(
        location.starts_with(&azurite::server().endpoint),
        "{location}"
    );
    assert!(location.contains("sig="), "{location}");
    let fetched = tmp.path().join("layer");
    run(Command::new("curl")
        .args(["-sS", "-f", "-L", "-o"])
        .arg(&fetched)
        .arg(&url));
    assert_eq!(sha256(&std::fs::read(&fetched).unwrap()), *layer);
    let again = tmp.path().join("again");
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/library/debian:v1", w.host()))
        .arg(format!("oci:{}:v1", again.display())));
    let pulled = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:v1", again.display())));
    assert_eq!(blob_digests(&pulled), digests);
}

/// S3's options are refused with an azure:// URL, at start, naming the option.
#[test]
fn s3_options_with_azure_storage_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args([
            "--auth=false",
            "--storage",
            "azure://blobs/p",
            "--s3-region",
            "eu-west-1",
        ])
        .env("AZURE_STORAGE_ACCOUNT_NAME", azurite::ACCOUNT)
        .env("AZURE_STORAGE_ACCOUNT_KEY", azurite::KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--s3-region applies to s3:// storage only"),
        "{err}"
    );
}
