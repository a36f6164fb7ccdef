//! `wharf serve --storage s3://…`: the real binary with its blobs in a real S3
//! implementation (moto's server, registry/tests/support/s3.rs): the flow every
//! bucket backend passes (`common/bucket.rs`: skopeo in and out, pre-signed
//! redirects), one upload taken by two processes, and storage URLs refused.

mod common;
#[path = "../registry/tests/support/postgres.rs"]
mod pg;
#[path = "../registry/tests/support/s3.rs"]
mod s3;

use std::path::Path;
use std::process::Command;

use common::{Wharf, curl, sha256};

fn start(dir: &Path, bucket: &str, extra: &[&str]) -> Wharf {
    start_with_env(dir, bucket, extra, &[])
}

fn start_with_env(dir: &Path, bucket: &str, extra: &[&str], env: &[(&str, &str)]) -> Wharf {
    let storage = format!("s3://{bucket}/registry");
    let endpoint = s3::server().endpoint.clone();
    let mut args = vec![
        "--storage",
        storage.as_str(),
        "--s3-endpoint",
        endpoint.as_str(),
        "--s3-path-style",
        "--s3-allow-http",
    ];
    args.extend_from_slice(extra);
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY),
        ("AWS_REGION", s3::REGION),
    ];
    vars.extend_from_slice(env);
    Wharf::start_env(dir, &args, &vars)
}

#[test]
fn serve_on_s3_push_pull_and_redirect() {
    let bucket = s3::fresh_bucket();
    common::bucket::push_pull_and_redirect(&common::bucket::Backend {
        start: &|dir, extra| start(dir, &bucket, extra),
        keys: &|prefix| s3::keys(&bucket, prefix),
        endpoint: &s3::server().endpoint,
        signature: "X-Amz-Signature=",
    });
}

#[test]
fn not_ready_without_the_bucket() {
    let bucket = s3::unused_name();
    common::bucket::ready_only_once_the_bucket_exists(&|dir| start(dir, &bucket, &[]), &|| {
        s3::create_bucket(&bucket)
    });
}

/// A storage URL of another kind is refused at start with what was expected.
#[test]
fn unsupported_storage_url_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args(["--auth=false", "--storage", "gs://bucket/prefix"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s3://BUCKET"), "{err}");
}

/// Deterministic bytes with no period a misplaced chunk could hide in.
fn pattern(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 4);
    let mut x: u32 = 0x2545_f491;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One chunked upload taken by two processes on one PostgreSQL and one bucket:
/// POST on the first, PATCHes alternating (so each process's own hash state is
/// stale when its turn comes again), the closing PUT on the second, the blob
/// read back from the first with the uploaded bytes' digest.
#[test]
fn one_upload_across_two_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = s3::fresh_bucket();
    let url = pg::fresh_database();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let env = [("WHARF_DATABASE", url.as_str())];
    let a = start_with_env(&dir_a, &bucket, &[], &env);
    let b = start_with_env(&dir_b, &bucket, &[], &env);
    const MIB: usize = 1024 * 1024;
    let data = pattern(12 * MIB + 5);
    let digest = sha256(&data);

    let r = curl("POST", &a.url("/v2/library/split/blobs/uploads/")).send();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let mut location = r.header("location").unwrap().to_string();
    let mut at = 0;
    for (i, n) in [3 * MIB, 6 * MIB + 1, 2 * MIB, MIB].into_iter().enumerate() {
        let w = if i % 2 == 0 { &b } else { &a };
        let r = curl("PATCH", &w.url(&location))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", &format!("{at}-{}", at + n - 1))
            .body(data[at..at + n].to_vec())
            .send();
        assert_eq!(
            r.status,
            202,
            "PATCH {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        at += n;
        assert_eq!(r.header("range"), Some(format!("0-{}", at - 1).as_str()));
        location = r.header("location").unwrap().to_string();
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = curl("PUT", &b.url(&format!("{location}{sep}digest={digest}")))
        .header("Content-Type", "application/octet-stream")
        .body(data[at..].to_vec())
        .send();
    assert_eq!(r.status, 201, "PUT: {}", String::from_utf8_lossy(&r.body));
    let r = curl("GET", &a.url(&format!("/v2/library/split/blobs/{digest}"))).send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert_eq!(sha256(&r.body), digest);
}
