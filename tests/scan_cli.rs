//! `wharf db` and `wharf scan` driven as a user would: import the real PyPA advisories,
//! scan the pyapp test image, check formats, filters and CI exit codes.

use std::path::PathBuf;
use std::process::Command;

fn wharf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

fn shared() -> PathBuf {
    std::env::var_os("WHARF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn pyapp() -> String {
    let images = std::env::var_os("WHARF_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-images"));
    let layout = images.join("oci/pyapp");
    assert!(
        layout.join("index.json").is_file(),
        "test images missing: run ../shared/testing/make-test-images.sh {}",
        images.display()
    );
    format!("oci:{}:v1", layout.display())
}

#[test]
fn db_import_info_and_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("v.db");
    let pypa = shared().join("vulndata/pypa/vulns");
    assert!(pypa.is_dir(), "advisories missing at {}", pypa.display());

    // scanning without a DB says how to make one
    let out = wharf()
        .args(["scan", &pyapp()])
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wharf db import osv"));

    let out = wharf()
        .args(["db", "import", "osv"])
        .arg(&pypa)
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wharf()
        .args(["db", "info", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    fn yaml_files(d: &std::path::Path) -> usize {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    yaml_files(&e.path())
                } else {
                    usize::from(e.path().extension().is_some_and(|x| x == "yaml"))
                }
            })
            .sum()
    }
    let n_files = yaml_files(&pypa);
    assert_eq!(
        info["advisories"].as_u64().unwrap() as usize,
        n_files,
        "one advisory per PyPA file"
    );
    assert_eq!(info["schema_version"], 1);

    let out = wharf()
        .args(["scan", "--format", "json", &pyapp()])
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vulns: Vec<&serde_json::Value> = rep["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().unwrap())
        .collect();
    assert!(
        vulns
            .iter()
            .any(|v| v["PkgName"] == "requests" && v["InstalledVersion"] == "2.19.0")
    );

    // CI gate: findings + --exit-code -> that code; a filter that leaves nothing -> 0
    let out = wharf()
        .args(["scan", "--exit-code", "3", &pyapp()])
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("Python (python-pkg)") && table.contains("requests"),
        "{table}"
    );
    let out = wharf()
        .args([
            "scan",
            "--exit-code",
            "3",
            "--severity",
            "UNKNOWN",
            "--ignore-unfixed",
            "--format",
            "sarif",
            &pyapp(),
        ])
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = sarif["runs"][0]["results"].as_array().unwrap().len();
    assert_eq!(out.status.code(), Some(if n > 0 { 3 } else { 0 }));

    let out = wharf()
        .args(["scan", "--list-packages", "--format", "json", &pyapp()])
        .output()
        .unwrap();
    assert!(out.status.success(), "--list-packages needs no DB");
    let inv: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        inv["Results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Type"] == "debian")
    );
}

/// `wharf scan --sbom`: an SPDX or CycloneDX document scans to the same
/// findings as the image it describes.
#[test]
fn scanning_an_sbom_finds_what_scanning_the_image_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("v.db");
    let out = wharf()
        .args(["db", "import", "osv"])
        .arg(shared().join("vulndata/pypa/vulns"))
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = |args: &[&str]| -> Vec<(String, String, String)> {
        let out = wharf()
            .args(["scan", "--format", "json"])
            .args(args)
            .env("WHARF_DB", &db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut f: Vec<_> = v["Results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
            .map(|x| {
                let s = |k: &str| x[k].as_str().unwrap_or_default().to_string();
                (
                    s("VulnerabilityID"),
                    s("PkgName").to_lowercase(),
                    s("InstalledVersion"),
                )
            })
            .collect();
        f.sort();
        f.dedup();
        f
    };
    let from_image = findings(&[&pyapp()]);
    assert!(!from_image.is_empty());
    for format in ["spdx-json", "cyclonedx-json"] {
        let doc = tmp.path().join(format!("sbom-{format}.json"));
        let out = wharf()
            .args(["sbom", &pyapp(), "--format", format, "--output"])
            .arg(&doc)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let from_sbom = findings(&["--sbom", doc.to_str().unwrap()]);
        assert_eq!(from_sbom, from_image, "{format}");
    }
    // Garbage is a clear error.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"an sbom\"}").unwrap();
    let out = wharf()
        .args(["scan", "--sbom"])
        .arg(&junk)
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SBOM"));
}

/// `wharf scan --format cyclonedx`: a CycloneDX 1.6 document valid for cyclonedx-python-lib,
/// whose `vulnerabilities[].affects[].ref` point at its own components and say exactly what
/// the JSON report says.
#[test]
fn cyclonedx_vex_matches_the_json_report() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("v.db");
    let out = wharf()
        .args(["db", "import", "osv"])
        .arg(shared().join("vulndata/pypa/vulns"))
        .env("WHARF_DB", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scan = |format: &str| -> serde_json::Value {
        let out = wharf()
            .args(["scan", "--format", format, &pyapp()])
            .env("WHARF_DB", &db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let json = scan("json");
    let cdx = scan("cyclonedx");
    let file = tmp.path().join("vex.cdx.json");
    std::fs::write(&file, serde_json::to_vec(&cdx).unwrap()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sbom/tests/validate_cyclonedx.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cyclonedx-python-lib rejects the document (pip install 'cyclonedx-python-lib[json-validation]'):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cdx["specVersion"], "1.6");

    let components: std::collections::HashMap<&str, &serde_json::Value> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["bom-ref"].as_str().unwrap(), c))
        .collect();
    let mut from_vex = std::collections::BTreeSet::new();
    for v in cdx["vulnerabilities"].as_array().unwrap() {
        for a in v["affects"].as_array().unwrap() {
            let c = components
                .get(a["ref"].as_str().unwrap())
                .unwrap_or_else(|| panic!("affects ref {} is no component", a["ref"]));
            from_vex.insert((
                v["id"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap().to_string(),
            ));
        }
    }
    let from_json: std::collections::BTreeSet<(String, String, String)> = json["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_string();
            (s("VulnerabilityID"), s("PkgName"), s("InstalledVersion"))
        })
        .collect();
    assert!(!from_json.is_empty());
    assert_eq!(from_vex, from_json);
}

/// `wharf scan … | head`: when the reader closes the pipe, wharf ends quietly (SIGPIPE, as
/// Unix tools do), with no "Broken pipe" error or panic on stderr.
#[cfg(unix)]
#[test]
fn closed_stdout_pipe_ends_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let mut child = wharf()
        .args(["scan", &pyapp(), "--list-packages", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's read end is dropped here, long before the report is written out.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}
