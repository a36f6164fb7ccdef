//! Wharf's container image (`scripts/build-image.py`): reproducible from the same
//! binary, pushed to a real `wharf serve`, its SBOM attached and its signature made by
//! Wharf itself and checked by `wharf verify`, scanned, and its root filesystem run as
//! the image's non-root user. (podman cannot start containers on the CI machines:
//! runc is refused the rlimits it sets, so the root filesystem is run with chroot.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Wharf, stdout_ok as ok};
use serde_json::Value;

const PW: &str = "Adm1n-pass";

fn build(out: &Path, epoch: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    common::require("python3");
    let stdout = common::run(
        Command::new("python3")
            .arg(common::repo_root().join("scripts/build-image.py"))
            .arg(env!("CARGO_BIN_EXE_wharf"))
            .arg(out)
            .args(extra)
            .env("SOURCE_DATE_EPOCH", epoch)
            .env("COSIGN_PASSWORD", "pw")
            .envs(env.iter().copied()),
    );
    let line = stdout.lines().find(|l| l.starts_with("built ")).unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

fn wharf(d: &Path, args: &[&str]) -> std::process::Output {
    common::wharf_in(
        d,
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("WHARF_USERNAME", "admin"),
            ("WHARF_PASSWORD", PW),
        ],
        args,
    )
}

#[test]
fn image_is_reproducible_signed_by_wharf_and_runs_as_non_root() {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // Twice from the same binary: the same manifest digest, byte for byte.
    let a = build(&d.join("a"), "1700000000", &[], &[]);
    let b = build(&d.join("b"), "1700000000", &[], &[]);
    assert_eq!(a, b);
    assert_eq!(
        std::fs::read(d.join("a/index.json")).unwrap(),
        std::fs::read(d.join("b/index.json")).unwrap()
    );

    // What skopeo reads from the layout: non-root user, entrypoint, labels, the volume.
    let version = ok(&wharf(d, &["--version"]));
    let version = version.split_whitespace().last().unwrap();
    let layout = format!("oci:{}:{version}", d.join("a").display());
    let config: Value = serde_json::from_str(&common::run(
        Command::new("skopeo").args(["inspect", "--config", &layout]),
    ))
    .unwrap();
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/wharf"]));
    assert!(c["Volumes"]["/var/lib/wharf"].is_object());
    assert_eq!(c["Labels"]["org.opencontainers.image.version"], version);
    assert_eq!(
        config["created"], "2023-11-14T22:13:20Z",
        "SOURCE_DATE_EPOCH"
    );
    let raw = common::run(Command::new("skopeo").args(["inspect", "--raw", &layout]));
    assert_eq!(common::sha256(raw.as_bytes()), a);

    // Pushed to a running Wharf; the build's own wharf attaches the SBOM and signs.
    let w = Wharf::start_with(&["--admin-password", PW]);
    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    let reference = format!("{}/library/wharf:{version}", w.host());
    let key = d.join("ci.key");
    let pushed = build(
        &d.join("c"),
        "1700000000",
        &[
            "--push",
            &reference,
            "--key",
            key.to_str().unwrap(),
            "--insecure",
        ],
        &[("WHARF_USERNAME", "admin"), ("WHARF_PASSWORD", PW)],
    );
    assert_eq!(pushed, a);
    assert_eq!(
        common::skopeo_digest(&reference, &format!("admin:{PW}")),
        a,
        "the registry holds the built manifest"
    );
    ok(&wharf(
        d,
        &["verify", "--insecure", "--key", "ci.pub", &reference],
    ));
    let sbom: Value =
        serde_json::from_str(&ok(&wharf(d, &["sbom", "fetch", "--insecure", &reference]))).unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    // Scanned by Wharf, with a DB from the real PyPA advisories.
    let db = d.join("vuln.db");
    let db = db.to_str().unwrap();
    let pypa = common::shared_dir().join("vulndata/pypa/vulns");
    ok(&wharf(
        d,
        &["db", "--db", db, "import", "osv", pypa.to_str().unwrap()],
    ));
    let scan: Value = serde_json::from_str(&ok(&wharf(
        d,
        &[
            "scan",
            "--insecure",
            "--format",
            "json",
            "--db",
            db,
            &reference,
        ],
    )))
    .unwrap();
    assert!(
        scan["Results"].is_array() || scan["Results"].is_null(),
        "{scan}"
    );
    assert_eq!(scan["ArtifactName"], reference.as_str(), "{scan}");

    // The root filesystem runs `wharf serve` as 65532 with nothing else in it.
    let rootfs = d.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let manifest: Value = serde_json::from_str(&raw_manifest(&d.join("a"), &a)).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = d.join("a/blobs/sha256").join(&layer[7..]);
    common::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&blob)
            .arg("-C")
            .arg(&rootfs),
    );
    let port = common::free_port();
    // Resolved here: the child's environment is cleared (only the image's variables).
    let chroot = common::run(Command::new("sh").args(["-c", "command -v chroot"]));
    let chroot = chroot.trim().to_string();
    // SAFETY: geteuid has no preconditions.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        Command::new(&chroot)
    } else {
        let sudo = common::run(Command::new("sh").args(["-c", "command -v sudo"]));
        let mut c = Command::new(sudo.trim());
        c.arg("-n").arg(&chroot);
        c
    };
    let mut child = cmd
        .arg("--userspec=65532:65532")
        .arg(&rootfs)
        .args(["/usr/local/bin/wharf", "serve", "--auth=false", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env_clear()
        .env("PATH", "/usr/local/bin")
        .env("WHARF_DATA_DIR", "/var/lib/wharf")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = 0;
    while Instant::now() < deadline {
        status = common::curl("GET", &format!("http://127.0.0.1:{port}/v2/"))
            .send()
            .status;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out.stderr));
    // It wrote its data as 65532 into the volume directory.
    let meta = std::fs::metadata(rootfs.join("var/lib/wharf")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), 65532);
    assert!(
        std::fs::read_dir(rootfs.join("var/lib/wharf"))
            .unwrap()
            .next()
            .is_some()
    );
}

fn raw_manifest(layout: &Path, digest: &str) -> String {
    std::fs::read_to_string(layout.join("blobs/sha256").join(&digest[7..])).unwrap()
}
