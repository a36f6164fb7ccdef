//! Crash safety and restarts: upload sessions survive a restart, a kill -9 at
//! any moment leaves no corrupt or half-visible content, SIGTERM shuts down
//! cleanly.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Wharf, curl, oci_ref, push_image, require, run, sha256};

#[test]
fn chunked_upload_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha256(&data);
    let mut w = Wharf::start_in(dir.path(), &[]);
    let r = curl("POST", &w.url("/v2/library/resume/blobs/uploads/")).send();
    let r = curl("PATCH", &w.url(r.header("location").unwrap()))
        .header("Content-Range", "0-119999")
        .body(data[..120_000].to_vec())
        .send();
    assert_eq!(r.status, 202);
    let location = r.header("location").unwrap().to_string();
    w.kill9();

    let w = Wharf::start_in(dir.path(), &[]);
    let status = curl("GET", &w.url(&location)).send();
    assert_eq!(status.status, 204);
    assert_eq!(status.header("range"), Some("0-119999"));
    let r = curl("PATCH", &w.url(&location))
        .header("Content-Range", "120000-199999")
        .body(data[120_000..].to_vec())
        .send();
    assert_eq!(r.status, 202);
    let r = curl(
        "PUT",
        &w.url(&format!(
            "{}?digest={digest}",
            r.header("location").unwrap()
        )),
    )
    .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        curl("GET", &w.url(&format!("/v2/library/resume/blobs/{digest}")))
            .send()
            .body,
        data
    );
}

#[test]
fn sigterm_shuts_down_cleanly_and_data_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wharf::start_in(dir.path(), &[]);
    let (digest, body) = push_image(&w, "library/persist", "v1", "persist");
    let status = w.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(w.log_text().contains("wharf stopped"));
    let w = Wharf::start_in(dir.path(), &[]);
    let r = curl("GET", &w.url("/v2/library/persist/manifests/v1")).send();
    assert_eq!(r.body, body);
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
}

/// Everything the registry shows must be whole: every tag's manifest, every
/// manifest and blob it references, each with the right digest. Returns how
/// many blobs were checked.
fn assert_consistent(w: &Wharf) -> usize {
    let catalog = curl("GET", &w.url("/v2/_catalog")).send().json();
    let mut checked = 0;
    for repo in catalog["repositories"].as_array().unwrap() {
        let repo = repo.as_str().unwrap();
        let tags = curl("GET", &w.url(&format!("/v2/{repo}/tags/list")))
            .send()
            .json();
        for tag in tags["tags"].as_array().unwrap() {
            checked += check_manifest(w, repo, tag.as_str().unwrap());
        }
    }
    checked
}

fn check_manifest(w: &Wharf, repo: &str, reference: &str) -> usize {
    let m = curl("GET", &w.url(&format!("/v2/{repo}/manifests/{reference}"))).send();
    assert_eq!(
        m.status, 200,
        "{repo}:{reference} is listed but cannot be fetched"
    );
    assert_eq!(
        Some(sha256(&m.body).as_str()),
        m.header("docker-content-digest")
    );
    let manifest = m.json();
    let mut checked = 0;
    for child in manifest["manifests"].as_array().into_iter().flatten() {
        checked += check_manifest(w, repo, child["digest"].as_str().unwrap());
    }
    let blobs = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(manifest.get("config"));
    for d in blobs {
        let digest = d["digest"].as_str().unwrap();
        let b = curl("GET", &w.url(&format!("/v2/{repo}/blobs/{digest}"))).send();
        assert_eq!(
            b.status, 200,
            "{repo} references {digest}, which is missing"
        );
        assert_eq!(sha256(&b.body), digest, "{repo}: blob {digest} is corrupt");
        checked += 1;
    }
    checked
}

#[test]
fn kill_9_during_pushes_leaves_nothing_half_visible() {
    require("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wharf::start_in(dir.path(), &[]);
    push_image(&w, "library/before", "v1", "before the crash");

    // A large monolithic upload, rate-limited so the crash lands in the middle of it.
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    let big_digest = sha256(&big);
    let big_file = dir.path().join("big");
    std::fs::write(&big_file, &big).unwrap();
    let mut slow = Command::new("curl")
        .args(["-sS", "--limit-rate", "2M", "-X", "POST", "--data-binary"])
        .arg(format!("@{}", big_file.display()))
        .arg(w.url(&format!(
            "/v2/library/big/blobs/uploads/?digest={big_digest}"
        )))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Concurrent image pushes with skopeo.
    let mut pushes: Vec<_> = (0..3)
        .map(|i| {
            Command::new("skopeo")
                .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
                .arg(oci_ref("multi", "v1"))
                .arg(format!("docker://{}/library/pushed{i}:v1", w.host()))
                .arg("--all")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    w.kill9();
    let _ = slow.wait();
    for p in &mut pushes {
        let _ = p.wait();
    }

    let w = Wharf::start_in(dir.path(), &[]);
    // The half-sent blob is not visible anywhere, and not in the blob store.
    assert_eq!(
        curl(
            "HEAD",
            &w.url(&format!("/v2/library/big/blobs/{big_digest}"))
        )
        .send()
        .status,
        404
    );
    let hex = big_digest.trim_start_matches("sha256:");
    assert!(
        !w.data_dir
            .join("blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .exists()
    );
    // What is visible is whole.
    assert!(assert_consistent(&w) >= 2);
    // And the registry still works: the interrupted pushes complete when retried.
    for i in 0..3 {
        run(Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--all",
                "--dest-tls-verify=false",
            ])
            .arg(oci_ref("multi", "v1"))
            .arg(format!("docker://{}/library/pushed{i}:v1", w.host())));
    }
    // before: config + layer; each pushed index: two images of config + two layers.
    assert_eq!(assert_consistent(&w), 2 + 3 * 6);
}

#[test]
fn serves_https_with_the_given_certificate() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let w = Wharf::start_in(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let url = format!("https://127.0.0.1:{}/v2/", w.port);
    let mut ok = None;
    for _ in 0..50 {
        let r = curl("GET", &url)
            .arg("--cacert")
            .arg(cert.to_str().unwrap())
            .send();
        if r.status == 200 {
            ok = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = ok.expect("HTTPS request succeeds");
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    // Over TLS, browsers are told to keep to HTTPS; the security headers are there.
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // TLS 1.2 and 1.3 with AEAD suites only: openssl, allowed to offer anything
    // (security level 0), is refused TLS 1.1 and a CBC suite by the server.
    let handshake = |args: &[&str]| -> String {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{}", w.port)])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    for refused in [
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"][..],
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"][..],
    ] {
        let out = handshake(refused);
        assert!(
            out.contains("Cipher is (NONE)") && out.contains("SSL alert number"),
            "{refused:?} should be refused by the server:\n{out}"
        );
    }
    for (args, want) in [
        (&["-tls1_2"][..], "TLSv1.2, Cipher is ECDHE-ECDSA-AES"),
        (&["-tls1_3"][..], "TLSv1.3, Cipher is TLS_AES"),
    ] {
        let out = handshake(args);
        assert!(out.contains(want), "{args:?}:\n{out}");
    }
    // Plain HTTP on the TLS port is not served.
    assert_ne!(
        curl("GET", &format!("http://127.0.0.1:{}/v2/", w.port))
            .send()
            .status,
        200
    );
}

#[test]
fn configuration_from_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wharf.toml");
    std::fs::write(
        &cfg,
        "max_concurrent_uploads = 1\nupload_expiry_hours = 24\n",
    )
    .unwrap();
    // File alone: one upload session.
    let w = Wharf::start_in(dir.path(), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        202
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        429
    );
    drop(w);
    // The environment overrides the file: one session is open, the limit is now three.
    let w = Wharf::start_env(
        dir.path(),
        &["--config", cfg.to_str().unwrap()],
        &[("WHARF_MAX_CONCURRENT_UPLOADS", "3")],
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        202
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        202
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        429
    );
    drop(w);
    // A flag overrides the environment.
    let w = Wharf::start_env(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--max-concurrent-uploads",
            "4",
        ],
        &[("WHARF_MAX_CONCURRENT_UPLOADS", "3")],
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        202
    );
    assert_eq!(
        curl("POST", &w.url("/v2/library/c/blobs/uploads/"))
            .send()
            .status,
        429
    );
    drop(w);
    // A broken file is a clear error, not a start.
    std::fs::write(&cfg, "listen = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("parsing config file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
