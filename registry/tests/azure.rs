//! The blob store's conformance suite on Azure Blob Storage (`--storage
//! azure://CONTAINER/PREFIX`): the functions `tests/conformance.rs` runs on the
//! filesystem and `tests/s3.rs` on S3, against Azurite, Microsoft's emulator
//! (`support/azurite.rs`), each on a fresh container.

#[path = "support/azurite.rs"]
mod azurite;
#[path = "support/presigned.rs"]
mod presigned;

use wharf_registry::storage::{BucketBlobStore, BucketOptions, conformance};

fn store(container: &str, prefix: &str, redirect: Option<std::time::Duration>) -> BucketBlobStore {
    azurite::credentials_env();
    BucketBlobStore::open(&BucketOptions {
        url: format!("azure://{container}/{prefix}"),
        redirect,
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn azure_blobs() {
    let container = azurite::fresh_container();
    conformance::run(&store(&container, "registry", None)).await;
}

/// Two clients as two replicas; every copy is streamed on Azure (Copy Blob may
/// finish after it answers), so this also covers the streamed copy of a 12 MiB
/// blob completed from blocks that two processes staged.
#[tokio::test]
async fn azure_blobs_shared_by_two_replicas() {
    let container = azurite::fresh_container();
    conformance::run_shared(&store(&container, "r", None), &store(&container, "r", None)).await;
    // What a finished upload leaves: no upload state, the blobs (the empty one, quarantined).
    let left = azurite::keys(&container, "r/");
    assert!(
        left.iter().all(|k| !k.starts_with("r/uploads/")),
        "{left:?}"
    );
    assert!(
        left.iter().any(|k| k.starts_with("r/quarantine/sha256/")),
        "{left:?}"
    );
}

/// A SAS URL fetches the blob without credentials.
#[tokio::test]
async fn azure_presigned_urls_fetch_the_blob() {
    let container = azurite::fresh_container();
    let store = store(&container, "pre", Some(std::time::Duration::from_secs(60)));
    let url = presigned::fetch(
        &store,
        b"signed by SAS",
        &format!("/{container}/pre/blobs/sha256/"),
        "sig=",
    )
    .await;
    // Without the signature the blob is not readable.
    let bare = url.split('?').next().unwrap();
    let code = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", bare])
        .output()
        .unwrap();
    assert_ne!(code.stdout, b"200");
}
