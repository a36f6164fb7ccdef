//! A real S3 implementation for tests: moto's server (PyPI `moto[server]`,
//! installed by scripts/test.sh), one per test binary on a free port, one fresh
//! bucket per test. moto speaks the S3 REST API over HTTP: object PUT/GET with
//! ranges, listings, multipart uploads (parts, completion with ETags, abort),
//! CopyObject and SigV4 pre-signed URLs. It does not emulate S3's consistency
//! or throttling, a 5 GiB copy limit, or storage classes; it accepts any
//! credentials.
//!
//! A small shell guard holds the server: when the pipe from this process closes
//! (the test binary exits, however it exits), it stops the server.
//!
//! `WHARF_TEST_S3=http://host:port` uses that endpoint instead (any
//! S3-compatible server accepting the `AWS_*` credentials of the environment,
//! or `test`/`test`).
//!
//! Only `std` and `curl` are used, so the top-level end-to-end tests include
//! this file too (`#[path]`).

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    _guard: Option<Mutex<(Child, ChildStdin)>>,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();
static NEXT_BUCKET: AtomicU32 = AtomicU32::new(0);

/// Credentials moto accepts (any); the same for the store under test and the server.
pub const ACCESS_KEY: &str = "wharf-test";
pub const SECRET_KEY: &str = "wharf-test-secret";
pub const REGION: &str = "us-east-1";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> S3Server {
    if let Ok(endpoint) = std::env::var("WHARF_TEST_S3") {
        return S3Server {
            endpoint,
            _guard: None,
        };
    }
    // The port is free when chosen but not reserved: another server a parallel
    // test starts can take it before moto binds it (moto then exits, and the
    // port answers as that other server). So the server counts as up only when
    // moto itself answers, and a port someone else answers on is given up for
    // another.
    for _ in 0..5 {
        let port = free_port();
        let script = format!(
            "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; read _; kill $pid; \
             while kill -0 $pid 2>/dev/null; do sleep 0.1; done"
        );
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        let stdin = child.stdin.take().unwrap();
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            _guard: Some(Mutex::new((child, stdin))),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match answer(&server.endpoint) {
                Some(body) if body.contains("ListAllMyBucketsResult") => return server,
                Some(_) => break, // someone else's server: try another port
                None => {}
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start (pip install 'moto[server]'; scripts/test.sh does)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("moto_server: every port tried was taken by another server");
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
    let server = server();
    let name = format!(
        "wharf-test-{}-{}",
        std::process::id(),
        NEXT_BUCKET.fetch_add(1, Ordering::Relaxed)
    );
    // moto does not check signatures: a plain CreateBucket.
    let out = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT"])
        .arg(format!("{}/{name}", server.endpoint))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "CreateBucket {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    name
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
