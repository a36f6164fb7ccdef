//! Verification throughput and `wharf verify` latency. Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p wharf-signer --bench verify` (release), or quicker with the
//! dependencies optimised as in dev builds: `cargo test -p wharf-signer --bench verify`.
//! The registry part needs `docker-registry` (see shared/testing/reference-registry.sh);
//! set `WHARF_BIN` to a built `wharf` binary to also time the CLI end to end.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wharf_signer::image::{self, Found, FoundKind, Layout};
use wharf_signer::{keyless, keys, payload};

/// CPU time this thread has run (Linux schedstat), so figures mean "per core" even when
/// other processes compete for the CPU.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

/// Runs `f` repeatedly for about `budget` on this one thread; returns calls per second of
/// CPU time (per wall-clock second when CPU time is unavailable).
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let start = Instant::now();
    let cpu0 = thread_cpu();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            f();
        }
        n += 10;
    }
    let wall = start.elapsed().as_secs_f64();
    let secs = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => wall,
    };
    n as f64 / secs
}

fn main() {
    let budget = Duration::from_secs(2);
    let key = keys::generate().unwrap();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let doc =
        payload::SimpleSigning::new("registry.example/app", &digest, &BTreeMap::new()).to_bytes();
    let sig = payload::sign_b64(&key, &doc);

    let r = rate(budget, || {
        payload::verify_b64(key.verifying_key(), &doc, &sig).unwrap()
    });
    println!("ecdsa-p256 simple-signing signature verifications/s (1 core): {r:.0}");

    let found: Vec<Result<Found, String>> = (0..10)
        .map(|_| {
            Ok(Found {
                source: "bench".into(),
                kind: FoundKind::SimpleSigning {
                    payload: doc.clone(),
                    annotations: [(image::SIGNATURE_ANNOTATION.to_string(), sig.clone())].into(),
                },
            })
        })
        .collect();
    let r = rate(budget, || {
        let rep =
            image::verify_found_signatures(&found, &digest, key.verifying_key(), &BTreeMap::new());
        assert_eq!(rep.verified.len(), 10);
    });
    println!(
        "full signature checks/s incl. payload parsing (1 core): {:.0}",
        r * 10.0
    );

    let root = keyless::TrustedRoot::parse(
        common::read_fixture("sigstore_public_good_trusted_root.json").as_bytes(),
    )
    .unwrap();
    let bundle = common::read_fixture("sigstore_rs_bundle_v03_keyless_dsse.json");
    let policy = keyless::IdentityPolicy::new(
        Some("https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"),
        None,
        Some("https://token.actions.githubusercontent.com"),
        None,
    )
    .unwrap();
    let bd = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let r = rate(budget, || {
        keyless::verify_bundle(bundle.as_bytes(), bd, &root, &policy, &BTreeMap::new()).unwrap();
    });
    println!(
        "keyless bundle verifications/s (chain P-384 + SCT + DSSE + SET + inclusion proof, 1 core): {r:.0}"
    );

    // A local registry, an image with 10 signatures: the reference registry, and Wharf
    // itself when WHARF_BIN names a built `wharf` binary.
    let rr = common::RefRegistry::start();
    registry_timings("distribution 2.8", &rr.host(), &key);
    if let Ok(bin) = std::env::var("WHARF_BIN") {
        let data = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let mut child = std::process::Command::new(&bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&host).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        registry_timings("wharf serve", &host, &key);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn median_min(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (times[times.len() / 2], times[0])
}

/// Signs one image 10 times at `host`, then times library and CLI verification.
fn registry_timings(name: &str, host: &str, key: &p256::ecdsa::SigningKey) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reg = common::insecure_registry();
    let image_ref = format!("{host}/bench/app:v1");
    rt.block_on(async {
        common::push_tiny_image(&reg, host, "bench/app", "v1", "bench").await;
        let target = image::resolve(&reg, &image_ref).await.unwrap();
        for i in 0..10 {
            let a: BTreeMap<String, String> = [("n".to_string(), i.to_string())].into();
            image::sign(&reg, &target, key, &a, Layout::Tag)
                .await
                .unwrap();
        }
    });
    let mut times = Vec::new();
    rt.block_on(async {
        for _ in 0..30 {
            let start = Instant::now();
            let target = image::resolve(&reg, &image_ref).await.unwrap();
            let rep =
                image::verify_signatures(&reg, &target, key.verifying_key(), &BTreeMap::new())
                    .await
                    .unwrap();
            assert_eq!(rep.verified.len(), 10);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    });
    let (med, min) = median_min(times);
    println!(
        "[{name}] library resolve + verify, 10 signatures (loopback): median {med:.1} ms, min {min:.1} ms"
    );

    if let Ok(bin) = std::env::var("WHARF_BIN") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("k.pub"),
            keys::public_key_pem(key.verifying_key()),
        )
        .unwrap();
        let mut times = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            let out = std::process::Command::new(&bin)
                .current_dir(dir.path())
                .args(["verify", "--insecure", "--key", "k.pub", &image_ref])
                .output()
                .unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (med, min) = median_min(times);
        println!(
            "[{name}] `wharf verify` process, 10 signatures (loopback): median {med:.1} ms, min {min:.1} ms"
        );
    }
}
