//! A pre-signed URL, tried as a client would. The redirect cases of
//! `tests/s3.rs` and `tests/azure.rs` share this: their stores are one
//! implementation and differ only in how the URL is signed.

use wharf_registry::digest::{Algorithm, Digest};
use wharf_registry::storage::{BlobStore, ByteStream};

/// Commits `content` to `store` (which must redirect), takes the blob's URL,
/// checks that it names `path` (`/BUCKET/PREFIX/blobs/sha256/`) and carries
/// `signature` (the query parameter of the backend's signature), and fetches
/// it with curl, without any credential: the bytes are `content`. The URL.
pub async fn fetch(
    store: &dyn BlobStore,
    content: &'static [u8],
    path: &str,
    signature: &str,
) -> String {
    assert!(store.redirects());
    let id = uuid::Uuid::new_v4().to_string();
    store.create_upload(&id).await.unwrap();
    let mut h = Algorithm::Sha256.hasher();
    let body: ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(
        bytes::Bytes::from_static(content),
    )]));
    store.append_upload(&id, body, &mut h).await.unwrap();
    let digest = h.finish();
    assert_eq!(digest, Digest::sha256_of(content));
    store.commit_upload(&id, &digest).await.unwrap();
    let url = store.blob_url(&digest).await.unwrap().unwrap();
    assert!(url.contains(path), "{url} names {path}");
    assert!(url.contains(signature), "{url} carries {signature}");
    let out = std::process::Command::new("curl")
        .args(["-sS", "-f", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, content);
    url
}
