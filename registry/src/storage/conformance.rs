//! The one conformance suite every [`BlobStore`] backend must pass, public
//! (behind the `conformance` feature) so that a backend in another crate runs
//! exactly these cases: `wharf_registry::storage::conformance::run(&store)` on
//! a fresh, empty store, from that backend's own test. A failed case panics.

use bytes::Bytes;
use futures_util::{StreamExt, stream};

use super::{BlobStore, ByteStream, StorageError};
use crate::digest::{Algorithm, Digest};

fn body(parts: &[&'static [u8]]) -> ByteStream {
    Box::pin(stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    ))
}

async fn collect(s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = s;
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

/// Uploads (chunked, hashed, all-or-nothing), commit, reads with ranges, deletes.
pub async fn run(store: &dyn BlobStore) {
    let id = uuid::Uuid::new_v4().to_string();
    store.create_upload(&id).await.unwrap();
    assert_eq!(store.upload_size(&id).await.unwrap(), Some(0));

    // Chunks accumulate and are hashed as they stream.
    let mut h = Algorithm::Sha256.hasher();
    assert_eq!(
        store
            .append_upload(&id, body(&[b"hello ", b"wor"]), &mut h)
            .await
            .unwrap(),
        9
    );
    assert_eq!(
        store
            .append_upload(&id, body(&[b"ld"]), &mut h)
            .await
            .unwrap(),
        11
    );
    let digest = h.finish();
    assert_eq!(digest, Digest::sha256_of(b"hello world"));
    assert_eq!(
        collect(store.read_upload(&id).await.unwrap()).await,
        b"hello world"
    );

    // A failing body stream leaves neither bytes nor hash state behind.
    let id2 = uuid::Uuid::new_v4().to_string();
    store.create_upload(&id2).await.unwrap();
    let mut h2 = Algorithm::Sha256.hasher();
    store
        .append_upload(&id2, body(&[b"abc"]), &mut h2)
        .await
        .unwrap();
    let failing: ByteStream = Box::pin(stream::iter(vec![
        Ok(Bytes::from_static(b"def")),
        Err(std::io::Error::other("client went away")),
    ]));
    assert!(matches!(
        store.append_upload(&id2, failing, &mut h2).await,
        Err(StorageError::Body(_))
    ));
    assert_eq!(store.upload_size(&id2).await.unwrap(), Some(3));
    assert_eq!(h2.finish(), Digest::sha256_of(b"abc"));
    store.delete_upload(&id2).await.unwrap();
    assert_eq!(store.upload_size(&id2).await.unwrap(), None);

    // Not visible before commit; whole after.
    assert_eq!(store.stat(&digest).await.unwrap(), None);
    assert!(matches!(
        store.read(&digest, None).await,
        Err(StorageError::BlobNotFound(_))
    ));
    assert!(store.list_uploads().await.unwrap().contains(&id));
    store.commit_upload(&id, &digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), Some(11));
    assert_eq!(store.upload_size(&id).await.unwrap(), None);
    assert_eq!(
        collect(store.read(&digest, None).await.unwrap()).await,
        b"hello world"
    );
    assert_eq!(
        collect(store.read(&digest, Some((6, 10))).await.unwrap()).await,
        b"world"
    );
    assert!(matches!(
        store.read(&digest, Some((6, 11))).await,
        Err(StorageError::Range { .. })
    ));

    // Committing identical content again keeps one copy and drops the upload.
    let id3 = uuid::Uuid::new_v4().to_string();
    store.create_upload(&id3).await.unwrap();
    let mut h3 = Algorithm::Sha256.hasher();
    store
        .append_upload(&id3, body(&[b"hello world"]), &mut h3)
        .await
        .unwrap();
    store.commit_upload(&id3, &digest).await.unwrap();
    assert_eq!(store.upload_size(&id3).await.unwrap(), None);
    assert_eq!(store.stat(&digest).await.unwrap(), Some(11));

    // Unknown uploads.
    let ghost = uuid::Uuid::new_v4().to_string();
    let mut hg = Algorithm::Sha256.hasher();
    assert!(matches!(
        store.append_upload(&ghost, body(&[b"x"]), &mut hg).await,
        Err(StorageError::UploadNotFound(_))
    ));
    store.delete_upload(&ghost).await.unwrap();

    store.delete(&digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), None);
}
