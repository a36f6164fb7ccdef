//! A real S3 implementation for tests: moto's server (PyPI `moto[server]`,
//! installed by scripts/test.sh), one per test binary on a free port, one fresh
//! bucket per test. moto speaks the S3 REST API over HTTP: object PUT/GET with
//! ranges, listings, multipart uploads (parts, completion with ETags, abort),
//! CopyObject and SigV4 pre-signed URLs. It does not emulate S3's consistency
//! or throttling, a 5 GiB copy limit, or storage classes; it accepts any
//! credentials.
//!
//! A shell guard holds the server and stops it when this process exits
//! (`guarded.rs`).
//!
//! `WHARF_TEST_S3=http://host:port` uses that endpoint instead (any
//! S3-compatible server accepting the `AWS_*` credentials of the environment,
//! or `test`/`test`).
//!
//! Only `std` and `curl` are used, so the top-level end-to-end tests include
//! this file too (`#[path]`).

#![allow(dead_code)]

#[path = "guarded.rs"]
mod guarded;

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use guarded::{Guard, Probe};

pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    _guard: Option<Guard>,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();
static NEXT_BUCKET: AtomicU32 = AtomicU32::new(0);

/// Credentials moto accepts (any); the same for the store under test and the server.
pub const ACCESS_KEY: &str = "wharf-test";
pub const SECRET_KEY: &str = "wharf-test-secret";
pub const REGION: &str = "us-east-1";

fn start() -> S3Server {
    if let Ok(endpoint) = std::env::var("WHARF_TEST_S3") {
        return S3Server {
            endpoint,
            _guard: None,
        };
    }
    let (port, guard) = guarded::start(
        "moto_server (pip install 'moto[server]'; scripts/test.sh does)",
        |port| format!("moto_server -H 127.0.0.1 -p {port}"),
        |port| match answer(&format!("http://127.0.0.1:{port}")) {
            Some(body) if body.contains("ListAllMyBucketsResult") => Probe::Up,
            Some(_) => Probe::Other,
            None => Probe::NotYet,
        },
    );
    S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        _guard: Some(guard),
    }
}

/// The body of `GET /` at `endpoint`, or `None` when nothing listens there yet.
fn answer(endpoint: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", &format!("{endpoint}/")])
        .output()
        .expect("curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn server() -> &'static S3Server {
    SERVER.get_or_init(start)
}

/// A new, empty bucket on the shared server; its name.
pub fn fresh_bucket() -> String {
    let name = unused_name();
    create_bucket(&name);
    name
}

/// A bucket name no test has used in this process (the bucket is not created).
pub fn unused_name() -> String {
    format!(
        "wharf-test-{}-{}",
        std::process::id(),
        NEXT_BUCKET.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn create_bucket(name: &str) {
    // moto does not check signatures: a plain CreateBucket.
    let out = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT"])
        .arg(format!("{}/{name}", server().endpoint))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "CreateBucket {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Set the `AWS_*` variables the store reads (once per process: every test uses the same).
pub fn credentials_env() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        // SAFETY: set once, before any test thread reads the environment here.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
            std::env::set_var("AWS_REGION", REGION);
        }
    });
}

/// Count the objects under `s3://bucket/prefix` (a ListObjectsV2, unsigned: moto allows it).
pub fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let out = Command::new("curl")
        .args(["-sS", "-f"])
        .arg(format!(
            "{}/{bucket}?list-type=2&prefix={prefix}",
            server().endpoint
        ))
        .output()
        .expect("curl");
    assert!(out.status.success());
    let body = String::from_utf8_lossy(&out.stdout).to_string();
    body.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect()
}
