//! The one conformance suite every [`BlobStore`] backend must pass, public
//! (behind the `conformance` feature) so that a backend in another crate runs
//! exactly these cases: `wharf_registry::storage::conformance::run(&store)` on
//! a fresh, empty store, from that backend's own test, and [`run_shared`] on
//! two stores over the same storage (two replicas). A failed case panics.

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
    // What another process would continue the upload with.
    assert_eq!(
        store
            .resume_hash(&id, Algorithm::Sha256)
            .await
            .unwrap()
            .finish(),
        digest
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

/// `len` bytes that no two offsets of a part repeat: a byte misplaced across a
/// part boundary changes the digest.
fn pattern(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x: u32 = 0x9e37_79b9;
    while out.len() < len {
        // xorshift32
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn chunks(data: &[u8], sizes: &[usize]) -> ByteStream {
    let owned: Vec<std::io::Result<Bytes>> = sizes
        .iter()
        .scan(0usize, |at, n| {
            let chunk = Bytes::copy_from_slice(&data[*at..*at + n]);
            *at += n;
            Some(Ok(chunk))
        })
        .collect();
    Box::pin(stream::iter(owned))
}

/// Two stores over the same storage, as two replicas: a 12 MiB upload in
/// uneven PATCHes, each taken by the other replica (which continues from the
/// stored hash state, not from memory), larger than a multipart part, with a
/// tail smaller than 5 MiB and a PATCH that fails half-way after sending
/// parts; committed by one replica, read whole and in ranges across the part
/// boundaries by the other. Both stores start empty.
pub async fn run_shared(first: &dyn BlobStore, second: &dyn BlobStore) {
    const MIB: usize = 1024 * 1024;
    let data = pattern(12 * MIB);
    let want = Digest::sha256_of(&data);
    let id = uuid::Uuid::new_v4().to_string();
    first.create_upload(&id).await.unwrap();
    assert!(second.list_uploads().await.unwrap().contains(&id));
    assert_eq!(second.upload_size(&id).await.unwrap(), Some(0));

    // PATCH 1 on the first replica: 3 MiB + 1, less than a part, in small frames.
    let mut at = 0;
    let mut hasher = first.resume_hash(&id, Algorithm::Sha256).await.unwrap();
    let sizes = [MIB, MIB, MIB, 1];
    let size = first
        .append_upload(&id, chunks(&data[at..], &sizes), &mut hasher)
        .await
        .unwrap();
    at += sizes.iter().sum::<usize>();
    assert_eq!(size, at as u64);

    // PATCH 2 on the second replica, which never saw PATCH 1; it fails after
    // 7 MiB (past a part): nothing of it stays.
    let mut hasher = second.resume_hash(&id, Algorithm::Sha256).await.unwrap();
    let mut frames: Vec<std::io::Result<Bytes>> = (0..7)
        .map(|i| {
            Ok(Bytes::copy_from_slice(
                &data[at + i * MIB..at + (i + 1) * MIB],
            ))
        })
        .collect();
    frames.push(Err(std::io::Error::other("client went away")));
    let failing: ByteStream = Box::pin(stream::iter(frames));
    assert!(matches!(
        second.append_upload(&id, failing, &mut hasher).await,
        Err(StorageError::Body(_))
    ));
    assert_eq!(first.upload_size(&id).await.unwrap(), Some(at as u64));

    // PATCH 2 again, whole: 6 MiB - 7 in uneven frames, crossing the first part
    // boundary (8 MiB on S3: the first part holds PATCH 1's bytes too).
    let sizes = [2 * MIB + 3, 4 * MIB - 10];
    let size = second
        .append_upload(&id, chunks(&data[at..], &sizes), &mut hasher)
        .await
        .unwrap();
    at += sizes.iter().sum::<usize>();
    assert_eq!(size, at as u64);
    assert_eq!(first.upload_size(&id).await.unwrap(), Some(at as u64));

    // PATCH 3 on the first replica again: the rest (its own hasher is stale, so
    // it resumes from the store).
    let mut hasher = first.resume_hash(&id, Algorithm::Sha256).await.unwrap();
    let rest = data.len() - at;
    let size = first
        .append_upload(
            &id,
            chunks(&data[at..], &[rest / 3, rest - rest / 3]),
            &mut hasher,
        )
        .await
        .unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(hasher.finish(), want);
    assert_eq!(
        second
            .resume_hash(&id, Algorithm::Sha256)
            .await
            .unwrap()
            .finish(),
        want
    );

    // Committed by the second replica; both read it.
    second.commit_upload(&id, &want).await.unwrap();
    assert_eq!(first.upload_size(&id).await.unwrap(), None);
    assert!(!first.list_uploads().await.unwrap().contains(&id));
    assert_eq!(first.stat(&want).await.unwrap(), Some(data.len() as u64));
    let whole = collect(first.read(&want, None).await.unwrap()).await;
    assert!(
        whole == data,
        "the blob read back differs from what was uploaded"
    );
    for (start, end) in [
        (0, 0),
        (8 * MIB - 10, 8 * MIB + 10),
        (3 * MIB - 1, 9 * MIB),
        (12 * MIB - 1, 12 * MIB - 1),
    ] {
        let got = collect(
            second
                .read(&want, Some((start as u64, end as u64)))
                .await
                .unwrap(),
        )
        .await;
        assert!(got == data[start..=end], "range {start}-{end}");
    }
    assert!(matches!(
        first.read(&want, Some((0, 12 * MIB as u64))).await,
        Err(StorageError::Range { .. })
    ));

    // An empty blob is a blob too.
    let empty = uuid::Uuid::new_v4().to_string();
    second.create_upload(&empty).await.unwrap();
    let none = Digest::sha256_of(b"");
    first.commit_upload(&empty, &none).await.unwrap();
    assert_eq!(second.stat(&none).await.unwrap(), Some(0));
    assert!(
        collect(second.read(&none, None).await.unwrap())
            .await
            .is_empty()
    );

    // Deleting a blob leaves nothing behind for either replica.
    assert!(first.delete(&want).await.unwrap());
    assert!(!second.delete(&want).await.unwrap());
    assert_eq!(second.stat(&want).await.unwrap(), None);
    // Scrub's quarantine: the blob is no longer served.
    second.quarantine(&none).await.unwrap();
    assert_eq!(first.stat(&none).await.unwrap(), None);
    first.quarantine(&none).await.unwrap();
}
