//! First start: `wharf db update` and `wharf serve --vuln-db-update` pull a published
//! vulnerability DB artifact (Trivy's layout, made here by `wharf db push --format trivy`,
//! or Wharf's own) from a registry, offline: the registry is a local `wharf serve`.
//! Needs the test images and ../shared/vulndata.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::Wharf;
use common::wharf_db as wharf;

fn ok(out: Output) -> String {
    common::stdout_ok(&out)
}

/// Debian's advisories (DSA, CVE): the debian test image has unfixed ones.
fn build_db(dir: &Path) -> PathBuf {
    let data = common::shared_dir().join("vulndata/debian");
    assert!(
        data.join("DSA").is_dir(),
        "advisory data missing at {} (set WHARF_SHARED)",
        data.display()
    );
    let db = dir.join("source.db");
    ok(wharf(
        &[
            "db",
            "import",
            "osv",
            data.join("DSA").to_str().unwrap(),
            data.join("CVE").to_str().unwrap(),
        ],
        &db,
    ));
    db
}

/// (id, package, installed version) that `wharf scan` reports for the debian image.
fn scan(db: &Path) -> BTreeSet<(String, String, String)> {
    let image = common::oci_ref("debian", "bookworm-minbase");
    let v: serde_json::Value =
        serde_json::from_str(&ok(wharf(&["scan", "--format", "json", &image], db))).unwrap();
    common::vuln_keys(&v)
}

#[test]
fn db_update_imports_trivy_and_wharf_artifacts_from_a_local_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let source = build_db(tmp.path());
    let w = Wharf::start();
    let trivy_ref = format!("{}/security/trivy-db:2", w.host());
    let wharf_ref = format!("{}/security/vulndb:1", w.host());
    ok(wharf(
        &["db", "push", "--format", "trivy", &trivy_ref, "--insecure"],
        &source,
    ));
    ok(wharf(&["db", "push", &wharf_ref, "--insecure"], &source));
    let want = scan(&source);
    assert!(!want.is_empty(), "the debian image has unfixed findings");

    // Trivy's layout, imported into a new DB
    let from_trivy = tmp.path().join("t/vuln.db");
    let out = ok(wharf(
        &["db", "update", "--vuln-db-ref", &trivy_ref, "--insecure"],
        &from_trivy,
    ));
    assert!(out.contains("(Trivy DB"), "{out}");
    assert_eq!(scan(&from_trivy), want);

    // Wharf's own artifact, replacing an existing DB
    let out = ok(wharf(
        &["db", "update", "--vuln-db-ref", &wharf_ref, "--insecure"],
        &from_trivy,
    ));
    assert!(out.contains("(Wharf DB"), "{out}");
    assert_eq!(scan(&from_trivy), want);

    // Offline: a clear error naming the reference and the flag; the DB is untouched.
    let before = std::fs::read(&from_trivy).unwrap();
    let dead = format!("127.0.0.1:{}/security/trivy-db:2", common::free_port());
    let out = wharf(
        &["db", "update", "--vuln-db-ref", &dead, "--insecure"],
        &from_trivy,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&dead), "{err}");
    assert!(err.contains("--vuln-db-ref"), "{err}");
    assert_eq!(std::fs::read(&from_trivy).unwrap(), before);
}

#[test]
fn scan_without_a_db_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let image = common::oci_ref("debian", "bookworm-minbase");
    let out = wharf(&["scan", &image], &tmp.path().join("none.db"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wharf db update"), "{err}");
    assert!(err.contains("wharf db import"), "{err}");
}

#[test]
fn serve_with_vuln_db_update_pulls_the_db_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let source = build_db(tmp.path());
    let mirror = Wharf::start();
    let trivy_ref = format!("{}/security/trivy-db:2", mirror.host());
    ok(wharf(
        &["db", "push", "--format", "trivy", &trivy_ref, "--insecure"],
        &source,
    ));
    let dir = tmp.path().join("server");
    std::fs::create_dir_all(&dir).unwrap();
    let w = Wharf::start_in(
        &dir,
        &[
            "--vuln-db-update",
            "--vuln-db-ref",
            &trivy_ref,
            "--vuln-db-insecure",
        ],
    );
    let db = w.data_dir.join("vuln.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !w.log_text().contains("vulnerability database pulled") {
        assert!(
            Instant::now() < deadline,
            "no pull within 60 s; log:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(scan(&db), scan(&source));
}
