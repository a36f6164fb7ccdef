//! RPM packages from a real SQLite rpmdb, written by `rpm` itself (Debian's `rpm`
//! package builds and installs packages into a root directory), compared with what
//! `syft` reads from the same root.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use wharf_scanner::image::LoadOptions;
use wharf_scanner::inventory::Ecosystem;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds a noarch package with `rpmbuild` from a minimal spec.
fn build(top: &Path, name: &str, epoch: Option<u32>, version: &str, release: &str, license: &str) {
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    let spec = format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch}Summary: t\nLicense: {license}\nBuildArch: noarch\n%description\nt\n%files\n"
    );
    std::fs::create_dir_all(top).unwrap();
    let path = top.join(format!("{name}.spec"));
    std::fs::write(&path, spec).unwrap();
    run(Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("-bb")
        .arg(&path));
}

#[test]
fn rpmdb_sqlite_written_by_rpm_matches_syft() {
    common::require("rpmbuild");
    common::require("syft");
    let tmp = tempfile::tempdir().unwrap();
    let (top, root) = (tmp.path().join("build"), tmp.path().join("root"));
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=\"rocky\"\nVERSION_ID=\"9.3\"\nNAME=\"Rocky Linux\"\n",
    )
    .unwrap();
    build(
        &top,
        "openssl-libs",
        Some(1),
        "3.0.7",
        "25.el9_3",
        "ASL 2.0",
    );
    build(&top, "bash", None, "5.1.8", "6.el9_1", "GPLv3+");
    build(
        &top,
        "python3-pip-wheel",
        None,
        "21.2.3",
        "7.el9",
        "MIT and Python and ASL 2.0 and BSD and ISC and LGPLv2 and MPLv2.0 and (ASL 2.0 or BSD)",
    );
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 3);
    run(Command::new("rpm").arg("--root").arg(&root).args([
        "--dbpath",
        "/var/lib/rpm",
        "--initdb",
    ]));
    run(Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--justdb"])
        .args(&rpms));
    assert!(
        root.join("var/lib/rpm/rpmdb.sqlite").is_file(),
        "rpm wrote no SQLite database"
    );

    let reference = format!("dir:{}", root.display());
    let report = wharf_scanner::inventory(&reference, &LoadOptions::default()).unwrap();
    let ours: BTreeSet<(String, String, String)> = report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Rpm)
        .map(|p| (p.name.clone(), p.version.clone(), p.purl.clone()))
        .collect();
    assert_eq!(ours.len(), 3, "{ours:#?}\nwarnings: {:?}", report.warnings);
    let ssl = report
        .inventory
        .packages
        .iter()
        .find(|p| p.name == "openssl-libs")
        .unwrap();
    assert_eq!(ssl.version, "1:3.0.7-25.el9_3");
    assert_eq!(ssl.source_name.as_deref(), Some("openssl-libs"));
    assert_eq!(ssl.licenses, ["ASL 2.0"]);
    assert_eq!(ssl.path, "var/lib/rpm/rpmdb.sqlite");

    let out = Command::new("syft")
        .arg("scan")
        .arg(&reference)
        .args(["-q", "-o", "json"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs: BTreeSet<(String, String, String)> = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "rpm")
        .map(|a| {
            (
                a["name"].as_str().unwrap().into(),
                a["version"].as_str().unwrap().into(),
                a["purl"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(ours, theirs, "name, version and PURL agree with syft");
}

#[test]
fn garbage_rpmdb_is_a_warning_not_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("var/lib/rpm");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("rpmdb.sqlite"), b"this is not sqlite at all").unwrap();
    let report = wharf_scanner::inventory(
        &format!("dir:{}", tmp.path().display()),
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(report.inventory.packages.is_empty());
    assert!(
        report
            .warnings
            .messages
            .iter()
            .any(|w| w.contains("rpmdb.sqlite")),
        "{:?}",
        report.warnings
    );
}
