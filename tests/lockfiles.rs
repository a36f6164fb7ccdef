//! Lock files of the languages added for Trivy parity (.NET, Conan, Dart, Swift, CocoaPods,
//! yarn and pnpm), real files from public repositories or made by the real package
//! managers (`tests/fixtures/lockfiles/README.md`): Wharf's package list must equal the real
//! Trivy's (`trivy fs`, CycloneDX purls) on the same files.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    common::repo_root().join("tests/fixtures/lockfiles")
}

fn purls_of_cyclonedx(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["purl"].as_str())
        .map(String::from)
        .collect()
}

/// Node lock files, one directory at a time (several pin the same packages, so a reader
/// that read nothing from one of them would be hidden in a comparison of all at once),
/// with the fewest packages Trivy must find in each. The `-dev` ones have development
/// dependencies (left out) and peer dependencies (keyed with suffixes).
const NODE_LOCKS: [(&str, usize); 6] = [
    ("yarn-v1", 70),
    ("yarn-berry", 70),
    ("pnpm-v6", 70),
    ("pnpm-v9", 70),
    ("pnpm-v6-dev", 4),
    ("pnpm-v9-dev", 4),
];

#[test]
fn lock_files_give_the_packages_trivy_reads() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    // Trivy reads no package from this mix.lock (Hex's older six-field entries); it is
    // checked on its own below.
    let dir = tmp.path().join("tree");
    common::run(Command::new("cp").arg("-a").arg(fixtures()).arg(&dir));
    std::fs::remove_dir_all(dir.join("elixir")).unwrap();
    for (node, _) in NODE_LOCKS {
        std::fs::remove_dir_all(dir.join(node)).unwrap();
    }
    assert_same_packages_as_trivy(tmp.path(), &dir, 20);
}

#[test]
fn yarn_and_pnpm_lock_files_give_the_packages_trivy_reads() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    for (node, min) in NODE_LOCKS {
        assert_same_packages_as_trivy(tmp.path(), &fixtures().join(node), min);
    }
}

/// `trivy fs` and `wharf scan dir:` list the same purls for `dir`, at least `min` of them.
fn assert_same_packages_as_trivy(tmp: &std::path::Path, dir: &std::path::Path, min: usize) {
    let out = Command::new("trivy")
        .args(["fs", "--quiet", "--format", "cyclonedx", "--cache-dir"])
        .arg(tmp.join("cache"))
        .arg(dir)
        .output()
        .unwrap();
    let trivy: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let want = purls_of_cyclonedx(&trivy);
    assert!(want.len() > min, "Trivy read {}: {want:?}", dir.display());

    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", dir.display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let got: BTreeSet<String> = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Packages"].as_array().unwrap())
        .map(|p| p["Identifier"]["PURL"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        want,
        "{}: Wharf (left) vs Trivy (right)",
        dir.display()
    );
}

#[test]
fn an_older_mix_lock_is_read() {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", fixtures().join("elixir").display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let purls: Vec<&str> = report["Results"][0]["Packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Identifier"]["PURL"].as_str().unwrap())
        .collect();
    // the file's one entry: `"telemetry": {:hex, :telemetry, "0.1.0", …}`
    assert_eq!(purls, ["pkg:hex/telemetry@0.1.0"]);
}
