//! The blob store's conformance suite on S3: the same functions
//! `tests/conformance.rs` runs on the filesystem, against a real S3
//! implementation (moto's server, see `support/s3.rs`; `WHARF_TEST_S3` names
//! another endpoint), each on a fresh bucket.

#[path = "support/presigned.rs"]
mod presigned;
#[path = "support/s3.rs"]
mod s3;

use wharf_registry::digest::{Algorithm, Digest};
use wharf_registry::storage::{
    BlobStore, BucketBlobStore, BucketOptions, StorageError, conformance,
};

fn store(bucket: &str, prefix: &str) -> BucketBlobStore {
    s3::credentials_env();
    BucketBlobStore::open(&BucketOptions {
        url: format!("s3://{bucket}/{prefix}"),
        endpoint: Some(s3::server().endpoint.clone()),
        region: Some(s3::REGION.into()),
        path_style: Some(true),
        allow_http: true,
        redirect: None,
    })
    .unwrap()
}

#[tokio::test]
async fn s3_blobs() {
    let bucket = s3::fresh_bucket();
    conformance::run(&store(&bucket, "registry")).await;
}

#[tokio::test]
async fn s3_blobs_shared_by_two_replicas() {
    let bucket = s3::fresh_bucket();
    // Two clients, as two processes: nothing is shared but the bucket.
    conformance::run_shared(&store(&bucket, "r"), &store(&bucket, "r")).await;
    // What a finished upload leaves: no upload state, the blobs (the empty one, quarantined).
    let left = s3::keys(&bucket, "r/");
    assert!(
        left.iter().all(|k| !k.starts_with("r/uploads/")),
        "{left:?}"
    );
}

/// Past the copy limit a blob is copied as a stream into its key; the result is the same.
#[tokio::test]
async fn s3_blobs_past_the_copy_limit() {
    let bucket = s3::fresh_bucket();
    let store = || store(&bucket, "").with_copy_limit(1024 * 1024);
    conformance::run_shared(&store(), &store()).await;
}

/// The hash state kept in the bucket is sha256's: a sha512 digest for a chunked
/// upload is refused with a reason, an empty session may still use it.
#[tokio::test]
async fn s3_resumes_only_the_hash_it_kept() {
    let bucket = s3::fresh_bucket();
    let store = store(&bucket, "p");
    let id = uuid::Uuid::new_v4().to_string();
    store.create_upload(&id).await.unwrap();
    let mut empty = store.resume_hash(&id, Algorithm::Sha512).await.unwrap();
    assert_eq!(empty.algorithm(), Algorithm::Sha512);
    empty.update(b"");
    let mut h = Algorithm::Sha256.hasher();
    let body: wharf_registry::storage::ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(
        bytes::Bytes::from_static(b"abc"),
    )]));
    store.append_upload(&id, body, &mut h).await.unwrap();
    assert!(matches!(
        store.resume_hash(&id, Algorithm::Sha512).await,
        Err(StorageError::HashUnavailable { .. })
    ));
    assert_eq!(
        store
            .resume_hash(&id, Algorithm::Sha256)
            .await
            .unwrap()
            .finish(),
        Digest::sha256_of(b"abc")
    );
    store.delete_upload(&id).await.unwrap();
    assert!(s3::keys(&bucket, "p/uploads/").is_empty());
}

/// A pre-signed URL fetches the blob without credentials; it names the blob's key.
#[tokio::test]
async fn s3_presigned_urls_fetch_the_blob() {
    let bucket = s3::fresh_bucket();
    s3::credentials_env();
    let store = BucketBlobStore::open(&BucketOptions {
        url: format!("s3://{bucket}/pre"),
        endpoint: Some(s3::server().endpoint.clone()),
        region: Some(s3::REGION.into()),
        path_style: Some(true),
        allow_http: true,
        redirect: Some(std::time::Duration::from_secs(60)),
    })
    .unwrap();
    presigned::fetch(
        &store,
        b"pre-signed bytes",
        &format!("/{bucket}/pre/blobs/sha256/"),
        "X-Amz-Signature=",
    )
    .await;
}
