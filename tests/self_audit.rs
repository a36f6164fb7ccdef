//! scripts/self-audit.sh shown failing: a copy of the repository's Cargo.lock with one
//! crate pinned back to a version a RustSec advisory names (read from the advisory's
//! own record file), judged with and without an allow-list entry; and the licence
//! policy refusing a dependency under a licence it does not list.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_root, shared_dir};

/// The advisory used: `bytes` (in Wharf's tree) from `introduced` until `fixed`.
const ADVISORY: &str = "RUSTSEC-2026-0007";

/// The crate and a vulnerable version, as the advisory's OSV record says: the first
/// `introduced` event of a range that has a `fixed` one (an introduced version is
/// affected by definition).
fn vulnerable_version() -> (String, String) {
    let path = shared_dir().join(format!("vulndata/rustsec/crates/{ADVISORY}.json"));
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let affected = &record["affected"][0];
    let name = affected["package"]["name"].as_str().unwrap().to_string();
    let events = affected["ranges"][0]["events"].as_array().unwrap();
    let introduced = events
        .iter()
        .find_map(|e| e["introduced"].as_str())
        .filter(|v| *v != "0")
        .expect("the advisory names the version that introduced it");
    assert!(events.iter().any(|e| e["fixed"].is_string()));
    (name, introduced.to_string())
}

/// The repository's Cargo.lock with `name` pinned to `version`.
fn pinned_lock(dir: &Path, name: &str, version: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap();
    let marker = format!("name = \"{name}\"\nversion = \"");
    let start = text
        .find(&marker)
        .expect("the crate is in Wharf's lock file")
        + marker.len();
    let end = start + text[start..].find('"').unwrap();
    let pinned = format!("{}{version}{}", &text[..start], &text[end..]);
    let path = dir.join("Cargo.lock");
    std::fs::write(&path, pinned).unwrap();
    path
}

/// The repository's own allow-list (its entries stand for every lock file here).
fn repo_allow() -> String {
    std::fs::read_to_string(repo_root().join("audit/allow.toml")).unwrap()
}

fn audit(lock: &Path, allow: &str, dir: &Path) -> Output {
    let allow_file = dir.join("allow.toml");
    std::fs::write(&allow_file, allow).unwrap();
    Command::new("bash")
        .arg(repo_root().join("scripts/self-audit.sh"))
        .arg("--lock")
        .arg(lock)
        .arg("--allow")
        .arg(&allow_file)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--skip-licenses")
        .env("WHARF", env!("CARGO_BIN_EXE_wharf"))
        .env("WHARF_SHARED", shared_dir())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_old_vulnerable_crate_fails_the_audit_unless_allowed_until_a_date() {
    let dir = tempfile::tempdir().unwrap();
    let (name, version) = vulnerable_version();
    let lock = pinned_lock(dir.path(), &name, &version);

    let o = audit(&lock, &repo_allow(), dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("VULNERABLE: {ADVISORY} ("))
            && out.contains(&format!(") in {name} {version}")),
        "{out}"
    );
    // The SBOM is still written, of the same lock file.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/wharf.spdx.json")).unwrap())
            .unwrap();
    assert!(
        sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name.as_str() && p["versionInfo"] == version.as_str()),
        "the SBOM lists {name} {version}"
    );

    let entry = |expires: &str| {
        format!(
            "{}\n[[allow]]\nid = \"{ADVISORY}\"\ncrate = \"{name}\"\nreason = \"test: not reachable\"\nexpires = \"{expires}\"\n",
            repo_allow()
        )
    };
    let o = audit(&lock, &entry("2099-12-31"), dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("allowed: {ADVISORY} (")),
        "{}",
        text(&o)
    );

    let o = audit(&lock, &entry("2020-01-01"), dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("expired on 2020-01-01"), "{}", text(&o));

    // An entry without a reason is refused outright.
    let o = audit(
        &lock,
        &format!("[[allow]]\nid = \"{ADVISORY}\"\ncrate = \"{name}\"\nexpires = \"2099-12-31\"\n"),
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("lacks reason"), "{}", text(&o));
}

#[test]
fn the_unmodified_lock_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    let o = audit(&repo_root().join("Cargo.lock"), &repo_allow(), dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_dependency_under_a_licence_not_allowed_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let facts = serde_json::json!({
        "reference": "cargo/wharf", "registry": "cargo", "repository": "wharf",
        "digest": format!("sha256:{}", "0".repeat(64)),
        "sbom": {"present": true, "source": "cargo-metadata", "packages": [
            {"name": "fine", "version": "1.0.0", "purl": "pkg:cargo/fine@1.0.0",
             "licenses": ["MIT OR Apache-2.0"], "source": "cargo-metadata"},
            {"name": "either", "version": "1.0.0", "purl": "pkg:cargo/either@1.0.0",
             "licenses": ["GPL-3.0-only OR MIT"], "source": "cargo-metadata"},
            {"name": "copyleft", "version": "2.0.0", "purl": "pkg:cargo/copyleft@2.0.0",
             "licenses": ["GPL-3.0-only"], "source": "cargo-metadata"},
            {"name": "both", "version": "3.0.0", "purl": "pkg:cargo/both@3.0.0",
             "licenses": ["MIT AND AGPL-3.0-only"], "source": "cargo-metadata"}
        ]}
    });
    let path = dir.path().join("facts.json");
    std::fs::write(&path, facts.to_string()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["policy", "check", "--format", "json", "--policy"])
        .arg(repo_root().join("audit/licenses.yaml"))
        .arg("--facts")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let message = report["decisions"][0]["results"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("copyleft 2.0.0"), "{message}");
    assert!(message.contains("both 3.0.0"), "{message}");
    assert!(!message.contains("fine"), "{message}");
    assert!(!message.contains("either"), "{message}");
}
