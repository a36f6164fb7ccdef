//! Harbor's pluggable scanner API served by `wharf adapter serve`, driven the way Harbor
//! drives a scanner: metadata, a scan request that names a registry (Distribution 2.8 with
//! htpasswd, in the place of Harbor's own registry) and a robot's Basic credentials, then
//! polling for the report. The findings are compared with the real Trivy's on the same
//! image and the same advisories (Wharf's DB exported in Trivy's format), never with a list
//! written by hand. Needs `trivy`, `skopeo`, `docker-registry`, `htpasswd`, the test images
//! and ../shared/vulndata.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{curl, run, stdout_ok, wharf_db};

const ROBOT: &str = "robot$scanner";
const ROBOT_PW: &str = "Adapter-s3cret-9";
const API_KEY: &str = "harbor-registration-key-42";
const SCAN_REQUEST_MIME: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.1";
const REPORT_V11: &str = "application/vnd.security.vulnerability.report; version=1.1";
const REPORT_V10: &str = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
const RAW: &str = "application/vnd.scanner.adapter.vuln.report.raw";
const SBOM_REPORT: &str = "application/vnd.security.sbom.report+json; version=1.0";

use common::Distribution;

/// A running `wharf adapter serve`, killed on drop.
struct Adapter {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Adapter {
    fn start(dir: &Path, db: &Path) -> Adapter {
        let port = common::free_port();
        let key = dir.join("adapter.key");
        std::fs::write(&key, format!("{API_KEY}\n")).unwrap();
        let log = dir.join("adapter.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["adapter", "serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--db")
            .arg(db)
            .arg("--api-key-file")
            .arg(&key)
            .env("WHARF_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let a = Adapter { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while curl("GET", &a.url("/probe/healthy")).send().status != 200 {
            assert!(
                Instant::now() < deadline,
                "adapter did not start: {}",
                a.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str, accept: &str) -> common::Resp {
        curl("GET", &self.url(path))
            .header("Authorization", &format!("Bearer {API_KEY}"))
            .header("Accept", accept)
            .send()
    }

    fn scan(&self, body: &serde_json::Value) -> common::Resp {
        curl("POST", &self.url("/api/v1/scan"))
            .header("X-ScannerAdapter-API-Key", API_KEY)
            .header("Content-Type", SCAN_REQUEST_MIME)
            .body(body.to_string())
            .send()
    }

    /// Polls as Harbor does: 302 with Refresh-After until 200 or 500.
    fn poll(&self, id: &str, accept: &str) -> common::Resp {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let r = self.get(&format!("/api/v1/scan/{id}/report"), accept);
            if r.status != 302 {
                return r;
            }
            let wait: u64 = r
                .header("Refresh-After")
                .expect("Refresh-After")
                .parse()
                .unwrap();
            assert!(wait > 0);
            assert!(
                Instant::now() < deadline,
                "scan {id} never finished: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pyapp_layout() -> PathBuf {
    common::test_images().join("oci/pyapp")
}

/// Wharf's DB from the PyPA advisories (the pyapp image's vulnerable packages are Python's).
fn build_db(dir: &Path) -> PathBuf {
    let db = dir.join("vuln.db");
    common::import_pypa(&db);
    db
}

/// The pyapp image pushed to Distribution as the robot; its manifest digest.
fn push_pyapp(reg: &Distribution) -> String {
    common::require("skopeo");
    let dest = format!("127.0.0.1:{}/library/pyapp:v1", reg.port);
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
        .arg(format!("{ROBOT}:{ROBOT_PW}"))
        .arg(format!("oci:{}:v1", pyapp_layout().display()))
        .arg(format!("docker://{dest}")));
    common::skopeo_digest(&dest, &format!("{ROBOT}:{ROBOT_PW}"))
}

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

fn request(reg: &Distribution, digest: &str, authorization: &str) -> serde_json::Value {
    serde_json::json!({
        "registry": {"url": format!("http://127.0.0.1:{}", reg.port), "authorization": authorization},
        "artifact": {"repository": "library/pyapp", "digest": digest, "tag": "v1",
                     "mime_type": "application/vnd.oci.image.manifest.v1+json"},
        "enabled_capabilities": [
            {"type": "vulnerability", "produces_mime_types": [REPORT_V11]},
            {"type": "sbom", "parameters": {"sbom_media_types": ["application/spdx+json", "application/vnd.cyclonedx+json"]}}
        ]
    })
}

#[test]
fn harbor_drives_a_scan_and_gets_what_trivy_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = build_db(d);
    let cache = d.join("trivy-cache");
    stdout_ok(&wharf_db(
        &["db", "export", "trivy", cache.join("db").to_str().unwrap()],
        &db,
    ));
    let reg = Distribution::start(&d.join("registry"), &format!("{ROBOT}:{ROBOT_PW}"));
    let digest = push_pyapp(&reg);
    let adapter = Adapter::start(d, &db);

    // Without the registration's credential: refused with the spec's error body.
    let r = curl("GET", &adapter.url("/api/v1/metadata")).send();
    assert_eq!(r.status, 401);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("credential")
    );

    let r = adapter.get(
        "/api/v1/metadata",
        "application/vnd.scanner.adapter.metadata+json; version=1.1",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.scanner.adapter.metadata+json; version=1.1")
    );
    let meta = r.json();
    assert_eq!(meta["scanner"]["name"], "Wharf");
    let caps = meta["capabilities"].as_array().unwrap();
    let vuln = caps.iter().find(|c| c["type"] == "vulnerability").unwrap();
    for m in [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ] {
        assert!(
            vuln["consumes_mime_types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == m),
            "{m}"
        );
    }
    assert!(
        vuln["produces_mime_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == REPORT_V11)
    );
    assert!(
        meta["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"].is_string()
    );

    let r = adapter.scan(&request(&reg, &digest, &basic(ROBOT, ROBOT_PW)));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.scanner.adapter.scan.response+json; version=1.0")
    );
    let id = r.json()["id"].as_str().unwrap().to_string();

    let r = adapter.poll(&id, REPORT_V11);
    assert_eq!(
        r.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&r.body),
        adapter.log_text()
    );
    assert_eq!(r.header("content-type"), Some(REPORT_V11));
    let report = r.json();
    assert_eq!(report["artifact"]["digest"], digest.as_str());
    assert_eq!(report["artifact"]["repository"], "library/pyapp");
    let ours: BTreeSet<(String, String, String)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("id"), s("package"), s("version"))
        })
        .collect();
    let theirs = common::trivy_vuln_keys(&cache, &pyapp_layout(), &["--skip-db-update"]);
    assert!(
        !theirs.is_empty(),
        "the pyapp image has vulnerable Python packages"
    );
    assert_eq!(
        ours,
        theirs,
        "adapter only: {:?}\nTrivy only: {:?}",
        ours.difference(&theirs).collect::<Vec<_>>(),
        theirs.difference(&ours).collect::<Vec<_>>()
    );
    // The report's severity is the highest of its vulnerabilities' on Harbor's scale.
    let rank = ["Unknown", "Low", "Medium", "High", "Critical"];
    let highest = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            rank.iter()
                .position(|r| v["severity"] == *r)
                .expect("a Harbor severity")
        })
        .max()
        .unwrap();
    assert_eq!(report["severity"], rank[highest]);

    // The same findings as Harbor 2.0–2.2 ask for them, and as Trivy's raw JSON.
    let r = adapter.get(&format!("/api/v1/scan/{id}/report"), REPORT_V10);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some(REPORT_V10))
    );
    assert_eq!(r.json()["vulnerabilities"], report["vulnerabilities"]);
    let r = adapter.get(&format!("/api/v1/scan/{id}/report"), RAW);
    assert_eq!(r.status, 200);
    assert_eq!(common::vuln_keys(&r.json()), theirs);

    // The SBOM capability: which format is a query parameter, and it is required.
    let r = adapter.get(&format!("/api/v1/scan/{id}/report"), SBOM_REPORT);
    assert_eq!(r.status, 400);
    let r = adapter.get(
        &format!("/api/v1/scan/{id}/report?sbom_media_type=application/vnd.cyclonedx%2Bjson"),
        SBOM_REPORT,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let sbom = r.json();
    assert_eq!(sbom["media_type"], "application/vnd.cyclonedx+json");
    assert_eq!(sbom["sbom"]["bomFormat"], "CycloneDX");
    let components = sbom["sbom"]["components"].as_array().unwrap();
    // Every vulnerable package Trivy named is a component of the SBOM at its version.
    for (_, name, version) in &theirs {
        assert!(
            components.iter().any(|c| c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && c["version"] == version.as_str()),
            "{name} {version} not in the SBOM"
        );
    }
    let r = adapter.get(
        &format!("/api/v1/scan/{id}/report?sbom_media_type=application/spdx%2Bjson"),
        SBOM_REPORT,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sbom"]["spdxVersion"], "SPDX-2.3");

    // An id never given, and a report type the scanner does not produce.
    assert_eq!(
        adapter
            .get("/api/v1/scan/no-such-id/report", REPORT_V11)
            .status,
        404
    );
    let r = adapter.get(
        &format!("/api/v1/scan/{id}/report"),
        "application/x-unknown",
    );
    assert_eq!(r.status, 501);
    assert!(r.json()["error"]["message"].is_string());
}

#[test]
fn bad_requests_get_the_specs_errors_and_no_secret_leaks() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = build_db(d);
    let reg = Distribution::start(&d.join("registry"), &format!("{ROBOT}:{ROBOT_PW}"));
    let digest = push_pyapp(&reg);
    let adapter = Adapter::start(d, &db);

    // Not JSON: 400. A field missing or malformed: 422. An index, or a bearer token: 501.
    let r = curl("POST", &adapter.url("/api/v1/scan"))
        .header("X-ScannerAdapter-API-Key", API_KEY)
        .body("{not json")
        .send();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.scanner.adapter.error+json; version=1.0")
    );
    let mut no_digest = request(&reg, &digest, &basic(ROBOT, ROBOT_PW));
    no_digest["artifact"]["digest"] = serde_json::json!("latest");
    let r = adapter.scan(&no_digest);
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("digest")
    );
    let mut index = request(&reg, &digest, &basic(ROBOT, ROBOT_PW));
    index["artifact"]["mime_type"] = serde_json::json!("application/vnd.oci.image.index.v1+json");
    assert_eq!(adapter.scan(&index).status, 501);
    assert_eq!(
        adapter
            .scan(&request(&reg, &digest, "Bearer abc.def"))
            .status,
        501
    );

    // Wrong robot password: accepted (the registry is asked later), then the report is a
    // 500 that says the registry refused, without the password.
    let wrong_pw = "Wrong-pass-7";
    let r = adapter.scan(&request(&reg, &digest, &basic(ROBOT, wrong_pw)));
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = adapter.poll(&id, REPORT_V11);
    assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.to_lowercase().contains("not authorized"), "{msg}");

    // A digest the registry does not have: 500 naming it.
    let missing = format!("sha256:{}", "0".repeat(64));
    let r = adapter.scan(&request(&reg, &missing, &basic(ROBOT, ROBOT_PW)));
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = adapter.poll(&id, REPORT_V11);
    assert_eq!(r.status, 500);
    assert!(
        String::from_utf8_lossy(&r.body).contains(&missing),
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    let log = adapter.log_text();
    use base64::Engine;
    for secret in [
        ROBOT_PW.to_string(),
        wrong_pw.to_string(),
        API_KEY.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{ROBOT}:{ROBOT_PW}")),
    ] {
        assert!(
            !log.contains(&secret) && !msg.contains(&secret),
            "a secret in the log or an error"
        );
    }
}
