//! Scanning inside `wharf serve` and Harbor's pull gate, driven through the real
//! binary with real clients: scan on push, manual scans, scheduled rescans, the
//! vulnerability report API, CVE allow-lists, "prevent vulnerable images" and
//! content trust. Expected findings come from `wharf scan` on the same image with
//! the same database (the real PyPA advisories), never from a list of our own.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Curl, Wharf, curl, oci_ref, require, run, shared_dir};
use serde_json::{Value, json};

const ADMIN_PW: &str = "Harbor12345";
const DEV_PW: &str = "Passw0rd!";

fn wharf_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

fn api(w: &Wharf, method: &str, path: &str, user: (&str, &str)) -> Curl {
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(&format!("{}:{}", user.0, user.1))
}

const ADMIN: (&str, &str) = ("admin", ADMIN_PW);
const DEV: (&str, &str) = ("dev", DEV_PW);

fn ok(r: common::Resp, want: u16) -> common::Resp {
    assert_eq!(r.status, want, "{}", String::from_utf8_lossy(&r.body));
    r
}

/// (id, package, version) of every finding `wharf scan` reports for the image.
fn cli_findings(db: &Path, image: &str) -> BTreeSet<(String, String, String)> {
    cli_rows(db, image)
        .into_iter()
        .map(|(id, package, version, ..)| (id, package, version))
        .collect()
}

fn skopeo_push(w: &Wharf, src: &str, dest: &str) {
    run(Command::new("skopeo")
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("admin:{ADMIN_PW}"),
        ])
        .arg(src)
        .arg(format!("docker://{}/{dest}", w.host())));
}

/// Waits until the artifact's scan is finished, returning its overview.
fn wait_scanned(
    w: &Wharf,
    project: &str,
    repo: &str,
    reference: &str,
    after: Option<&str>,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = ok(api(w, "GET", &format!("/projects/{project}/repositories/{repo}/artifacts/{reference}?with_scan_overview=true"), ADMIN).send(), 200);
        let o =
            r.json()["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"]
                .clone();
        let status = o["scan_status"].as_str().unwrap_or("");
        let fresh = after.is_none_or(|t| o["end_time"].as_str().is_some_and(|e| e != t));
        if (status == "Success" || status == "Error") && fresh {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "scan of {project}/{repo}:{reference} did not finish: {o}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A manifest GET as `user` through /v2 with Basic credentials: (status, body).
fn pull(w: &Wharf, user: (&str, &str), repo: &str, reference: &str) -> (u16, Value) {
    let r = curl("GET", &w.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json",
        )
        .arg("-u")
        .arg(&format!("{}:{}", user.0, user.1))
        .send();
    let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, body)
}

fn start() -> (Wharf, tempfile::TempDir) {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> (Wharf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut args = vec!["--auth", "--vuln-db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let w = Wharf::start_env(&data, &args, &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)]);
    ok(
        api(&w, "POST", "/users", ADMIN)
            .body(
                json!({"username": "dev", "password": DEV_PW, "email": "dev@example.com"})
                    .to_string(),
            )
            .send(),
        201,
    );
    (w, tmp)
}

fn setup_project(w: &Wharf, name: &str, metadata: Value) {
    let mut md = json!({"public": "false"});
    for (k, v) in metadata.as_object().unwrap() {
        md[k] = v.clone();
    }
    ok(
        api(w, "POST", "/projects", ADMIN)
            .body(json!({"project_name": name, "metadata": md}).to_string())
            .send(),
        201,
    );
    ok(
        api(w, "POST", &format!("/projects/{name}/members"), ADMIN)
            .body(json!({"role_id": 2, "member_user": {"username": "dev"}}).to_string())
            .send(),
        201,
    );
}

#[test]
fn scan_on_push_report_and_prevent_vulnerable_pulls() {
    require("skopeo");
    let (w, tmp) = start();
    let db = tmp.path().join("vuln.db");
    let expected = cli_findings(&db, &oci_ref("pyapp", "v1"));
    assert!(
        !expected.is_empty(),
        "the pyapp image has known-vulnerable packages"
    );

    setup_project(&w, "team", json!({"auto_scan": "true"}));
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "team/pyapp:v1");
    let overview = wait_scanned(&w, "team", "pyapp", "v1", None);
    assert_eq!(overview["scan_status"], "Success", "{overview}");
    assert_eq!(
        overview["summary"]["total"].as_u64().unwrap() as usize,
        expected.len()
    );

    // The full report (Harbor's shape) holds exactly what the CLI finds.
    let report = ok(
        api(
            &w,
            "GET",
            "/projects/team/repositories/pyapp/artifacts/v1/additions/vulnerabilities",
            DEV,
        )
        .send(),
        200,
    )
    .json();
    let report = &report["application/vnd.security.vulnerability.report; version=1.1"];
    let got: BTreeSet<(String, String, String)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().into(),
                v["package"].as_str().unwrap().into(),
                v["version"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(report["severity"], overview["severity"]);

    // Without prevent_vul, a developer pulls freely.
    assert_eq!(pull(&w, DEV, "team/pyapp", "v1").0, 200);

    // prevent_vul at High: the developer is refused, naming the CVEs; the admin may inspect.
    let high: BTreeSet<String> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["severity"].as_str(), Some("High" | "Critical")))
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!high.is_empty(), "pyapp has High or Critical findings");
    ok(
        api(&w, "PUT", "/projects/team", ADMIN)
            .body(json!({"metadata": {"prevent_vul": "true", "severity": "high"}}).to_string())
            .send(),
        200,
    );
    let (status, body) = pull(&w, DEV, "team/pyapp", "v1");
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let msg = body["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("High"), "{msg}");
    assert!(
        high.iter().take(5).any(|id| msg.contains(id.as_str())),
        "{msg} names none of {high:?}"
    );
    assert_eq!(
        pull(&w, ADMIN, "team/pyapp", "v1").0,
        200,
        "the system admin may inspect"
    );
    // A real client sees the refusal too.
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &format!("dev:{DEV_PW}"),
        ])
        .arg(format!("docker://{}/team/pyapp:v1", w.host()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("vulnerabilities"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A project allow-list of exactly those CVEs lets the pull through; an expired one does not.
    let items: Vec<Value> = high.iter().map(|id| json!({"cve_id": id})).collect();
    let past = 1_000_000_000;
    ok(api(&w, "PUT", "/projects/team", ADMIN)
        .body(json!({"metadata": {"reuse_sys_cve_allowlist": "false"}, "cve_allowlist": {"items": items, "expires_at": past}}).to_string())
        .send(), 200);
    assert_eq!(
        pull(&w, DEV, "team/pyapp", "v1").0,
        412,
        "an expired allow-list allows nothing"
    );
    ok(
        api(&w, "PUT", "/projects/team", ADMIN)
            .body(json!({"cve_allowlist": {"items": items, "expires_at": null}}).to_string())
            .send(),
        200,
    );
    assert_eq!(pull(&w, DEV, "team/pyapp", "v1").0, 200);
    let p = ok(api(&w, "GET", "/projects/team", ADMIN).send(), 200).json();
    assert_eq!(
        p["cve_allowlist"]["items"].as_array().unwrap().len(),
        high.len()
    );
    assert_eq!(p["metadata"]["prevent_vul"], "true");

    // The system allow-list applies when the project reuses it.
    ok(
        api(&w, "PUT", "/projects/team", ADMIN)
            .body(json!({"metadata": {"reuse_sys_cve_allowlist": "true"}}).to_string())
            .send(),
        200,
    );
    assert_eq!(pull(&w, DEV, "team/pyapp", "v1").0, 412);
    ok(
        api(&w, "PUT", "/system/CVEAllowlist", ADMIN)
            .body(json!({"items": items}).to_string())
            .send(),
        200,
    );
    assert_eq!(pull(&w, DEV, "team/pyapp", "v1").0, 200);
    assert_eq!(
        api(&w, "PUT", "/system/CVEAllowlist", DEV)
            .body(json!({"items": []}).to_string())
            .send()
            .status,
        403
    );

    // An image never scanned is refused while prevent_vul is on.
    ok(
        api(&w, "PUT", "/projects/team", ADMIN)
            .body(json!({"metadata": {"auto_scan": "false"}}).to_string())
            .send(),
        200,
    );
    skopeo_push(&w, &oci_ref("small", "v1"), "team/small:v1");
    let (status, body) = pull(&w, DEV, "team/small", "v1");
    assert_eq!(status, 412, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not been scanned"),
        "{body}"
    );
    // A manual scan (Maintainer and up; a developer may not) clears it: the small image has no Python packages.
    assert_eq!(
        api(
            &w,
            "POST",
            "/projects/team/repositories/small/artifacts/v1/scan",
            DEV
        )
        .send()
        .status,
        403
    );
    ok(
        api(
            &w,
            "POST",
            "/projects/team/repositories/small/artifacts/v1/scan",
            ADMIN,
        )
        .send(),
        202,
    );
    let o = wait_scanned(&w, "team", "small", "v1", None);
    assert_eq!(o["summary"]["total"], 0, "{o}");
    assert_eq!(pull(&w, DEV, "team/small", "v1").0, 200);

    // Bad settings are refused with the reason.
    let r = api(&w, "PUT", "/projects/team", ADMIN)
        .body(json!({"metadata": {"severity": "extreme"}}).to_string())
        .send();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("severity"));
}

#[test]
fn scheduled_and_manual_scan_all() {
    require("skopeo");
    let (w, _tmp) = start();
    setup_project(&w, "apps", json!({}));
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "apps/pyapp:v1");
    skopeo_push(&w, &oci_ref("small", "v1"), "apps/small:v1");
    // Nothing scanned yet: no auto_scan.
    let a = ok(
        api(
            &w,
            "GET",
            "/projects/apps/repositories/pyapp/artifacts/v1?with_scan_overview=true",
            ADMIN,
        )
        .send(),
        200,
    )
    .json();
    assert!(a.get("scan_overview").is_none(), "{a}");

    // "Scan now" queues every image.
    ok(
        api(&w, "POST", "/system/scanAll/schedule", ADMIN)
            .body(json!({"schedule": {"type": "Manual"}}).to_string())
            .send(),
        201,
    );
    let first = wait_scanned(&w, "apps", "pyapp", "v1", None);
    wait_scanned(&w, "apps", "small", "v1", None);
    let m = ok(api(&w, "GET", "/scans/all/metrics", ADMIN).send(), 200).json();
    assert_eq!(m["metrics"]["Success"], 2, "{m}");

    // A cron schedule (every 2 seconds, Harbor's six fields) rescans without being asked.
    let bad = api(&w, "PUT", "/system/scanAll/schedule", ADMIN)
        .body(json!({"schedule": {"type": "Custom", "cron": "not cron"}}).to_string())
        .send();
    assert_eq!(bad.status, 400);
    ok(
        api(&w, "PUT", "/system/scanAll/schedule", ADMIN)
            .body(json!({"schedule": {"type": "Custom", "cron": "*/2 * * * * *"}}).to_string())
            .send(),
        200,
    );
    let s = ok(
        api(&w, "GET", "/system/scanAll/schedule", ADMIN).send(),
        200,
    )
    .json();
    assert_eq!(s["schedule"]["cron"], "*/2 * * * * *");
    std::thread::sleep(Duration::from_millis(1100)); // end_time has second resolution
    let again = wait_scanned(&w, "apps", "pyapp", "v1", first["end_time"].as_str());
    assert_eq!(again["summary"], first["summary"]);
    ok(
        api(&w, "PUT", "/system/scanAll/schedule", ADMIN)
            .body(json!({"schedule": {"type": "None"}}).to_string())
            .send(),
        200,
    );
    assert_eq!(api(&w, "GET", "/scans/all/metrics", DEV).send().status, 403);
}

#[test]
fn scans_past_the_queue_wait_in_the_database_and_all_finish() {
    require("skopeo");
    // A queue of one: a scan-all of every image overflows it at once.
    let (w, _tmp) = start_with(&["--scan-queue-size", "1", "--scan-workers", "1"]);
    setup_project(&w, "many", json!({}));
    // Five images, five digests (the two platforms of `multi` pushed on their own).
    let images = [
        ("pyapp", "v1", "pyapp"),
        ("small", "v1", "small"),
        ("debian", "bookworm-minbase", "debian"),
        ("multi", "amd64", "multi-amd64"),
        ("multi", "arm64", "multi-arm64"),
    ];
    for (image, tag, repo) in images {
        skopeo_push(&w, &oci_ref(image, tag), &format!("many/{repo}:v1"));
    }
    ok(
        api(&w, "POST", "/system/scanAll/schedule", ADMIN)
            .body(json!({"schedule": {"type": "Manual"}}).to_string())
            .send(),
        201,
    );
    // Every one ends scanned, none left Pending, though the queue held one at a time.
    let mut digests = std::collections::BTreeSet::new();
    for (_, _, repo) in images {
        let o = wait_scanned(&w, "many", repo, "v1", None);
        assert_eq!(o["scan_status"], "Success", "{repo}: {o}");
        let a = ok(
            api(
                &w,
                "GET",
                &format!("/projects/many/repositories/{repo}/artifacts/v1"),
                ADMIN,
            )
            .send(),
            200,
        )
        .json();
        digests.insert(a["digest"].as_str().unwrap().to_string());
    }
    assert_eq!(digests.len(), images.len(), "five different artifacts");
    let m = ok(api(&w, "GET", "/scans/all/metrics", ADMIN).send(), 200).json();
    assert_eq!(m["metrics"]["Success"], digests.len(), "{m}");
    assert!(m["metrics"].get("Pending").is_none_or(|p| p == 0), "{m}");
}

#[test]
fn content_trust_requires_a_trusted_signature() {
    require("skopeo");
    let (w, tmp) = start();
    let d = tmp.path();
    setup_project(&w, "prod", json!({"enable_content_trust_cosign": "true"}));
    skopeo_push(&w, &oci_ref("small", "v1"), "prod/small:v1");
    let (status, body) = pull(&w, DEV, "prod/small", "v1");
    assert_eq!(status, 412, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not signed"),
        "{body}"
    );

    let keygen = |prefix: &str| {
        let out = wharf_cmd()
            .current_dir(d)
            .env("COSIGN_PASSWORD", "pw")
            .args(["key", "generate", "--output-key-prefix", prefix])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keygen("ci");
    keygen("other");
    let image = format!("{}/prod/small:v1", w.host());
    let out = wharf_cmd()
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .args([
            "sign",
            "--insecure",
            "--key",
            "ci.key",
            "--username",
            "admin",
            "--password",
            ADMIN_PW,
            &image,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        pull(&w, DEV, "prod/small", "v1").0,
        200,
        "signed: Harbor's rule is any cosign signature"
    );

    // With trusted keys, only a signature by one of them counts.
    let other = std::fs::read_to_string(d.join("other.pub")).unwrap();
    ok(
        api(&w, "PUT", "/projects/prod", ADMIN)
            .body(json!({"metadata": {"wharf_trusted_keys": other}}).to_string())
            .send(),
        200,
    );
    let (status, body) = pull(&w, DEV, "prod/small", "v1");
    assert_eq!(status, 412, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("trusts"),
        "{body}"
    );
    let ci = std::fs::read_to_string(d.join("ci.pub")).unwrap();
    ok(
        api(&w, "PUT", "/projects/prod", ADMIN)
            .body(json!({"metadata": {"wharf_trusted_keys": format!("{other}{ci}")}}).to_string())
            .send(),
        200,
    );
    assert_eq!(pull(&w, DEV, "prod/small", "v1").0, 200);

    // The artifact API reports each signature and attestation, verified against the trusted keys.
    std::fs::write(
        d.join("provenance.json"),
        json!({"builder": {"id": "https://ci.example.com"}}).to_string(),
    )
    .unwrap();
    let out = wharf_cmd()
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .args([
            "attest",
            "--insecure",
            "--key",
            "other.key",
            "--predicate",
            "provenance.json",
            "--type",
            "slsaprovenance",
            "--username",
            "admin",
            "--password",
            ADMIN_PW,
            &image,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = ok(
        api(
            &w,
            "GET",
            "/projects/prod/repositories/small/artifacts/v1?with_signature=true",
            DEV,
        )
        .send(),
        200,
    )
    .json();
    let sigs = a["signatures"].as_array().unwrap();
    let fingerprint = |pub_file: &str| {
        let der = Command::new("openssl")
            .args(["pkey", "-pubin", "-outform", "DER", "-in"])
            .arg(d.join(pub_file))
            .output()
            .unwrap();
        assert!(der.status.success());
        common::sha256(&der.stdout)
            .trim_start_matches("sha256:")
            .to_string()
    };
    let cosign = sigs
        .iter()
        .find(|s| s["type"] == "cosign")
        .expect("the cosign signature is listed");
    assert_eq!(cosign["verified"], true, "{a}");
    assert_eq!(cosign["key_fingerprint"], fingerprint("ci.pub"));
    let att = sigs
        .iter()
        .find(|s| s["type"] == "attestation")
        .expect("the attestation is listed");
    assert_eq!(att["predicate_type"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(
        att["verified"], true,
        "signed by 'other', also trusted: {att}"
    );
    assert_eq!(att["key_fingerprint"], fingerprint("other.pub"));
    // A cosign v3 attestation (bundle referrer) is an attestation too, with its predicate type.
    std::fs::write(
        d.join("bom.json"),
        json!({"bomFormat": "CycloneDX"}).to_string(),
    )
    .unwrap();
    let out = wharf_cmd()
        .current_dir(d)
        .env("COSIGN_PASSWORD", "pw")
        .args([
            "attest",
            "--insecure",
            "--key",
            "other.key",
            "--predicate",
            "bom.json",
            "--type",
            "cyclonedx",
            "--bundle-format",
            "v3",
        ])
        .args(["--username", "admin", "--password", ADMIN_PW, &image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = ok(
        api(
            &w,
            "GET",
            "/projects/prod/repositories/small/artifacts/v1?with_signature=true",
            DEV,
        )
        .send(),
        200,
    )
    .json();
    let sigs = a["signatures"].as_array().unwrap();
    let bundle_att = sigs
        .iter()
        .find(|s| s["predicate_type"] == "https://cyclonedx.org/bom")
        .expect("the v3 attestation is listed");
    assert_eq!(bundle_att["type"], "attestation", "{bundle_att}");
    assert_eq!(bundle_att["verified"], true, "{bundle_att}");
    assert_eq!(bundle_att["key_fingerprint"], fingerprint("other.pub"));
    assert!(
        !sigs.iter().any(|s| s["type"] == "sigstore.bundle"),
        "not listed as a signature: {a}"
    );
    assert_eq!(
        pull(&w, DEV, "prod/small", "v1").0,
        200,
        "an attestation bundle does not disturb content trust"
    );
    ok(
        api(&w, "PUT", "/projects/prod", ADMIN)
            .body(json!({"metadata": {"wharf_trusted_keys": ci.clone()}}).to_string())
            .send(),
        200,
    );
    let a = ok(
        api(
            &w,
            "GET",
            "/projects/prod/repositories/small/artifacts/v1?with_signature=true",
            DEV,
        )
        .send(),
        200,
    )
    .json();
    let att = a["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "attestation")
        .unwrap()
        .clone();
    assert_eq!(att["verified"], false, "{att}");
    assert!(
        att["reason"].as_str().unwrap().contains("signature"),
        "{att}"
    );

    // The signature itself stays pullable (cosign must read it), and a broken key is refused.
    let bad = api(&w, "PUT", "/projects/prod", ADMIN).body(json!({"metadata": {"wharf_trusted_keys": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}).to_string()).send();
    assert_eq!(bad.status, 400, "{}", String::from_utf8_lossy(&bad.body));
}

/// `(name, version)` of every package in an SPDX document (the image's own package excluded).
fn spdx_packages(doc: &Value) -> BTreeSet<(String, String)> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] != "CONTAINER")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["versionInfo"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn sbom_generated_on_push_and_on_request() {
    require("skopeo");
    require("pyspdxtools");
    let (w, tmp) = start();
    setup_project(&w, "sbom", json!({"auto_sbom_generation": "true"}));
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "sbom/pyapp:v1");

    // The SBOM appears as an accessory of the image.
    let deadline = Instant::now() + Duration::from_secs(120);
    let overview = loop {
        let a = ok(
            api(
                &w,
                "GET",
                "/projects/sbom/repositories/pyapp/artifacts/v1?with_sbom_overview=true&with_accessory=true",
                ADMIN,
            )
            .send(),
            200,
        )
        .json();
        if let Some(o) = a.get("sbom_overview") {
            assert_eq!(a["accessories"][0]["type"], "sbom", "{a}");
            break o.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no SBOM attached: {a}\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        overview["sbom_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // Any client finds it through the referrers API; it validates with the SPDX reference
    // tool and lists what `wharf sbom` finds in the same image read from its OCI layout.
    let fetched = wharf_cmd()
        .args([
            "sbom",
            "fetch",
            "--insecure",
            "--username",
            "admin",
            "--password",
            ADMIN_PW,
            "--format",
            "spdx-json",
        ])
        .arg(format!("{}/sbom/pyapp:v1", w.host()))
        .output()
        .unwrap();
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let doc: Value = serde_json::from_slice(&fetched.stdout).unwrap();
    let file = tmp.path().join("server.spdx.json");
    std::fs::write(&file, &fetched.stdout).unwrap();
    let v = Command::new("pyspdxtools")
        .arg("-i")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "pyspdxtools: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let local = wharf_cmd()
        .args(["sbom", &oci_ref("pyapp", "v1")])
        .output()
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let local: Value = serde_json::from_slice(&local.stdout).unwrap();
    let (server_pkgs, local_pkgs) = (spdx_packages(&doc), spdx_packages(&local));
    assert!(server_pkgs.len() > 50, "{} packages", server_pkgs.len());
    assert_eq!(server_pkgs, local_pkgs);

    // On request (Harbor's scan_type sbom) in a project without auto generation; asking
    // twice attaches one SBOM, not two.
    setup_project(&w, "manual", json!({}));
    skopeo_push(&w, &oci_ref("small", "v1"), "manual/small:v1");
    let r = api(
        &w,
        "POST",
        "/projects/manual/repositories/small/artifacts/v1/scan",
        ADMIN,
    )
    .body(json!({"scan_type": "bogus"}).to_string())
    .send();
    assert_eq!(r.status, 400);
    for _ in 0..2 {
        ok(
            api(
                &w,
                "POST",
                "/projects/manual/repositories/small/artifacts/v1/scan",
                ADMIN,
            )
            .body(json!({"scan_type": "sbom"}).to_string())
            .send(),
            202,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = ok(
            api(
                &w,
                "GET",
                "/projects/manual/repositories/small/artifacts/v1?with_sbom_overview=true",
                ADMIN,
            )
            .send(),
            200,
        )
        .json();
        if a.get("sbom_overview").is_some() {
            std::thread::sleep(Duration::from_millis(500)); // let the second request finish
            let a = ok(
                api(
                    &w,
                    "GET",
                    "/projects/manual/repositories/small/artifacts/v1?with_accessory=true",
                    ADMIN,
                )
                .send(),
                200,
            )
            .json();
            assert_eq!(a["accessories"].as_array().unwrap().len(), 1, "{a}");
            break;
        }
        assert!(Instant::now() < deadline, "no SBOM attached: {a}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An air-gapped Wharf takes its database from another registry (`wharf db push`).
#[test]
fn server_replicates_its_vulnerability_database_from_a_registry() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("source.db");
    common::import_pypa(&db);
    let upstream = Wharf::start();
    let reference = format!("{}/library/vulndb:latest", upstream.host());
    let out = wharf_cmd()
        .args(["db", "push", "--insecure", "--db"])
        .arg(&db)
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let w = Wharf::start_env(
        &data,
        &["--auth", "--vuln-db-ref", &reference, "--vuln-db-insecure"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !w.log_text().contains("vulnerability database pulled") {
        assert!(
            Instant::now() < deadline,
            "no database pulled:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(w.data_dir.join("vuln.db").is_file());
    ok(
        api(&w, "POST", "/projects", ADMIN)
            .body(json!({"project_name": "mirror", "metadata": {"auto_scan": "true"}}).to_string())
            .send(),
        201,
    );
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "mirror/pyapp:v1");
    let o = wait_scanned(&w, "mirror", "pyapp", "v1", None);
    assert_eq!(o["scan_status"], "Success", "{o}");
    let expected = cli_findings(&db, &oci_ref("pyapp", "v1"));
    assert_eq!(
        o["summary"]["total"].as_u64().unwrap() as usize,
        expected.len()
    );
}

/// Keyless content trust is configured per project (`wharf_trusted_identities`) and needs
/// the server's Sigstore trusted root (`--trusted-root`): without one the setting is
/// refused, a bad root stops the server at start, bad identities are refused by name.
#[test]
fn keyless_identities_need_a_trusted_root() {
    let ids = json!([{"identityRegexp": "^https://github.com/kubewarden/",
        "issuer": "https://token.actions.githubusercontent.com"}])
    .to_string();
    let create = |w: &Wharf| {
        ok(
            api(w, "POST", "/projects", ADMIN)
                .body(json!({"project_name": "keyless"}).to_string())
                .send(),
            201,
        );
    };
    let set = |w: &Wharf, value: &str| {
        api(w, "PUT", "/projects/keyless", ADMIN)
            .body(json!({"metadata": {"wharf_trusted_identities": value}}).to_string())
            .send()
    };

    let tmp = tempfile::tempdir().unwrap();
    let plain = Wharf::start_env(
        tmp.path(),
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    create(&plain);
    let r = set(&plain, &ids);
    assert_eq!(r.status, 400);
    assert!(
        String::from_utf8_lossy(&r.body).contains("--trusted-root"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    let root = shared_dir().join("fixtures/cosign/sigstore_public_good_trusted_root.json");
    let tmp2 = tempfile::tempdir().unwrap();
    let w = Wharf::start_env(
        tmp2.path(),
        &["--auth", "--trusted-root", root.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    create(&w);
    ok(set(&w, &ids), 200);
    let p = ok(api(&w, "GET", "/projects/keyless", ADMIN).send(), 200).json();
    assert_eq!(p["metadata"]["wharf_trusted_identities"], ids.as_str());
    for (bad, says) in [
        (r#"[{"identity": "a"}]"#, "issuer"),
        (r#"[{"identityRegexp": "(", "issuer": "x"}]"#, "entry 1"),
        ("not json", "JSON array"),
    ] {
        let r = set(&w, bad);
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(r.status, 400, "{bad}: {body}");
        assert!(
            body.contains("wharf_trusted_identities") && body.contains(says),
            "{bad}: {body}"
        );
    }

    // A trusted root that is not one stops the server with the reason.
    let bogus = tmp2.path().join("root.json");
    std::fs::write(&bogus, "{}").unwrap();
    let mut child = wharf_cmd()
        .args([
            "serve",
            "--auth=false",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(tmp2.path().join("other"))
        .arg("--trusted-root")
        .arg(&bogus)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("wharf serve started with a bogus trusted root");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("trusted root") && err.contains("root.json"),
        "{err}"
    );
}

/// Every finding `wharf scan` reports: (id, package, version, severity, fixed, CVSS v3).
fn cli_rows(db: &Path, image: &str) -> Vec<(String, String, String, String, String, Option<f64>)> {
    let out = wharf_cmd()
        .args(["scan", "--format", "json", "--db"])
        .arg(db)
        .arg(image)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows = Vec::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        for f in r["Vulnerabilities"].as_array().into_iter().flatten() {
            let score = f["CVSS"]
                .as_object()
                .and_then(|m| m.values().find_map(|s| s["V3Score"].as_f64()));
            rows.push((
                f["VulnerabilityID"].as_str().unwrap().to_string(),
                f["PkgName"].as_str().unwrap().to_string(),
                f["InstalledVersion"].as_str().unwrap().to_string(),
                f["Severity"].as_str().unwrap().to_ascii_uppercase(),
                f["FixedVersion"].as_str().unwrap().to_string(),
                score,
            ));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    rows.dedup_by(|a, b| (&a.0, &a.1, &a.2) == (&b.0, &b.1, &b.2));
    rows
}

/// The Security Hub (Harbor's `/security/vul` and `/security/summary`): "which images
/// contain CVE-X" and the registry-wide counts, over two projects holding the same
/// image, checked against what `wharf scan` finds in that image.
#[test]
fn security_hub_finds_every_artifact_with_a_vulnerability() {
    require("skopeo");
    let (w, tmp) = start();
    let db = tmp.path().join("vuln.db");
    let expected = cli_rows(&db, &oci_ref("pyapp", "v1"));
    assert!(
        !expected.is_empty(),
        "the pyapp image has known-vulnerable packages"
    );

    setup_project(&w, "team", json!({"auto_scan": "true"}));
    setup_project(&w, "other", json!({"auto_scan": "true"}));
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "team/pyapp:v1");
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "other/app:v2");
    wait_scanned(&w, "team", "pyapp", "v1", None);
    wait_scanned(&w, "other", "app", "v2", None);
    let team_id = ok(api(&w, "GET", "/projects/team", ADMIN).send(), 200).json()["project_id"]
        .as_i64()
        .unwrap();

    let list = |q: &str, extra: &str| {
        let path = format!(
            "/security/vul?page_size=100&q={}{extra}",
            q.replace('[', "%5B")
                .replace(']', "%5D")
                .replace(',', "%2C")
        );
        let r = ok(api(&w, "GET", &path, ADMIN).send(), 200);
        let total: i64 = r.header("x-total-count").unwrap().parse().unwrap();
        (r.json().as_array().unwrap().clone(), total)
    };

    // One CVE: both artifacts, with their tags, and the packages the scan names.
    let (id, ..) = expected[0].clone();
    let (items, total) = list(&format!("cve_id={id}"), "&with_tag=true");
    let want_pkgs: BTreeSet<(String, String)> = expected
        .iter()
        .filter(|e| e.0 == id)
        .map(|e| (e.1.clone(), e.2.clone()))
        .collect();
    assert_eq!(total as usize, 2 * want_pkgs.len(), "{items:?}");
    let repos: BTreeSet<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["repository_name"].as_str().unwrap().to_string(),
                i["tags"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        repos,
        BTreeSet::from([
            ("other/app".to_string(), json!(["v2"]).to_string()),
            ("team/pyapp".to_string(), json!(["v1"]).to_string())
        ])
    );
    let pkgs: BTreeSet<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["package"].as_str().unwrap().into(),
                i["version"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(pkgs, want_pkgs);

    // Everything, then per project, tag, severity and CVSS range.
    assert_eq!(list("", "").1 as usize, 2 * expected.len());
    let (items, total) = list(&format!("project_id={team_id}"), "");
    assert_eq!(total as usize, expected.len());
    assert!(
        items
            .iter()
            .all(|i| i["repository_name"] == "team/pyapp" && i["project_id"] == team_id)
    );
    let (items, _) = list("tag=v2", "");
    assert!(!items.is_empty() && items.iter().all(|i| i["repository_name"] == "other/app"));
    for level in ["CRITICAL", "HIGH", "MEDIUM", "LOW"] {
        let want = expected.iter().filter(|e| e.3 == level).count();
        assert_eq!(
            list(&format!("severity={level}"), "").1 as usize,
            2 * want,
            "{level}"
        );
    }
    let high_scores = expected
        .iter()
        .filter(|e| e.5.is_some_and(|s| s >= 7.0))
        .count();
    assert_eq!(list("cvss_score_v3=[7~10]", "").1 as usize, 2 * high_scores);
    // Harbor's tune_count answers the real total while it is small.
    assert_eq!(list("", "&tune_count=true").1 as usize, 2 * expected.len());

    // The summary counts each artifact's findings.
    let s = ok(
        api(
            &w,
            "GET",
            "/security/summary?with_dangerous_cve=true&with_dangerous_artifact=true",
            ADMIN,
        )
        .send(),
        200,
    )
    .json();
    assert_eq!(s["total_artifact"], 2);
    assert_eq!(s["scanned_cnt"], 2);
    assert_eq!(
        s["total_vuls"].as_u64().unwrap() as usize,
        2 * expected.len()
    );
    let fixable = expected.iter().filter(|e| !e.4.is_empty()).count();
    assert_eq!(s["fixable_cnt"].as_u64().unwrap() as usize, 2 * fixable);
    for (key, level) in [
        ("critical_cnt", "CRITICAL"),
        ("high_cnt", "HIGH"),
        ("medium_cnt", "MEDIUM"),
        ("low_cnt", "LOW"),
    ] {
        let want = expected.iter().filter(|e| e.3 == level).count();
        assert_eq!(s[key].as_u64().unwrap() as usize, 2 * want, "{key}");
    }
    let criticals: BTreeSet<&str> = expected
        .iter()
        .filter(|e| e.3 == "CRITICAL")
        .map(|e| e.0.as_str())
        .collect();
    for c in s["dangerous_cves"].as_array().unwrap() {
        assert!(criticals.contains(c["cve_id"].as_str().unwrap()), "{c}");
    }
    assert_eq!(
        s["dangerous_cves"].as_array().unwrap().len(),
        criticals.len().min(5)
    );
    let without = ok(api(&w, "GET", "/security/summary", ADMIN).send(), 200).json();
    assert!(without.get("dangerous_cves").is_none() && without["total_vuls"] == s["total_vuls"]);

    // Harbor's aliases of the issue's paths answer the same.
    let alias = ok(
        api(
            &w,
            "GET",
            &format!("/vul/vulnerabilities?q=cve_id%3D{id}"),
            ADMIN,
        )
        .send(),
        200,
    );
    assert_eq!(
        alias.header("x-total-count").unwrap(),
        &(2 * want_pkgs.len()).to_string()
    );

    // Administrators only; a malformed q is a 400 that says why.
    assert_eq!(api(&w, "GET", "/security/vul", DEV).send().status, 403);
    let bad = api(&w, "GET", "/security/vul?q=colour%3Dred", ADMIN).send();
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("colour"));

    // The CLI: `wharf vuln search CVE`.
    let out = wharf_cmd()
        .args([
            "vuln",
            "search",
            &id,
            "--insecure",
            "--output",
            "json",
            "--registry",
        ])
        .arg(w.host())
        .env("WHARF_USERNAME", "admin")
        .env("WHARF_PASSWORD", ADMIN_PW)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 2 * want_pkgs.len());
}

/// Harbor's CVE export: a developer exports a project's findings as CSV through the job
/// queue; the file, read by Python's csv module, holds Harbor's columns and exactly the
/// rows `wharf scan` gives for the image (every CVE, or the ones asked for); the
/// executions are the caller's own; a project the caller cannot see is refused.
#[test]
fn cve_export_writes_the_projects_findings_as_harbors_csv() {
    require("skopeo");
    let (w, tmp) = start();
    let db = tmp.path().join("vuln.db");
    let expected: BTreeSet<(String, String, String)> = cli_rows(&db, &oci_ref("pyapp", "v1"))
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert!(!expected.is_empty());
    setup_project(&w, "team", json!({"auto_scan": "true"}));
    setup_project(&w, "other", json!({"auto_scan": "true"}));
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "team/pyapp:v1");
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "other/app:v2");
    wait_scanned(&w, "team", "pyapp", "v1", None);
    wait_scanned(&w, "other", "app", "v2", None);
    let team_id = ok(api(&w, "GET", "/projects/team", ADMIN).send(), 200).json()["project_id"]
        .as_i64()
        .unwrap();

    let export = |body: Value| -> Vec<Vec<String>> {
        let r = ok(
            api(&w, "POST", "/export/cve", DEV)
                .body(body.to_string())
                .send(),
            200,
        );
        let id = r.json()["id"].as_i64().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let e = ok(
                api(&w, "GET", &format!("/export/cve/execution/{id}"), DEV).send(),
                200,
            )
            .json();
            if e["status"] == "Success" {
                assert_eq!(e["file_present"], true);
                break;
            }
            assert!(
                e["status"] != "Error" && std::time::Instant::now() < deadline,
                "{e}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let r = ok(
            api(&w, "GET", &format!("/export/cve/download/{id}"), DEV).send(),
            200,
        );
        assert!(r.header("content-type").unwrap().starts_with("text/csv"));
        let mut py = Command::new("python3")
            .args([
                "-c",
                "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        py.stdin.take().unwrap().write_all(&r.body).unwrap();
        let out = py.wait_with_output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let keys = |rows: &[Vec<String>]| -> BTreeSet<(String, String, String)> {
        rows.iter()
            .map(|r| (r[2].clone(), r[3].clone(), r[4].clone()))
            .collect()
    };

    let rows = export(json!({"job_name": "all", "projects": [team_id]}));
    assert_eq!(
        rows[0],
        [
            "Repository",
            "Artifact Digest",
            "CVE",
            "Package",
            "Current Version",
            "Fixed in version",
            "Severity",
            "CWE Ids",
            "Additional Data",
            "Scanner"
        ]
    );
    let body = &rows[1..];
    assert!(
        body.iter()
            .all(|r| r[0] == "team/pyapp" && r[1].starts_with("sha256:"))
    );
    assert_eq!(body.len(), expected.len());
    assert_eq!(keys(body), expected);

    // Two CVEs asked for by id (Harbor's `{a,b}`), and a tag that the image does not carry.
    let mut ids: Vec<&String> = expected.iter().map(|e| &e.0).collect();
    ids.dedup();
    let two = [ids[0].clone(), ids[ids.len() - 1].clone()];
    let rows =
        export(json!({"projects": [team_id], "cveIds": format!("{{{},{}}}", two[0], two[1])}));
    let want: BTreeSet<_> = expected
        .iter()
        .filter(|e| two.contains(&e.0))
        .cloned()
        .collect();
    assert_eq!(keys(&rows[1..]), want);
    let rows = export(json!({"projects": [team_id], "tags": "{v9}"}));
    assert_eq!(rows.len(), 1, "only the header: no artifact is tagged v9");
    let rows = export(json!({"projects": [team_id], "repositories": "pyap*", "tags": "v1"}));
    assert_eq!(keys(&rows[1..]), expected);

    // Labels (ids): the artifacts carrying any of them, whatever project they are in.
    let other_id = ok(api(&w, "GET", "/projects/other", ADMIN).send(), 200).json()["project_id"]
        .as_i64()
        .unwrap();
    let label = |name: &str| -> i64 {
        let r = ok(
            api(&w, "POST", "/labels", ADMIN)
                .body(json!({"name": name, "scope": "g"}).to_string())
                .send(),
            201,
        );
        r.header("location")
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (approved, unused) = (label("approved"), label("unused"));
    ok(
        api(
            &w,
            "POST",
            "/projects/other/repositories/app/artifacts/v2/labels",
            DEV,
        )
        .body(json!({"id": approved}).to_string())
        .send(),
        200,
    );
    let rows = export(json!({"projects": [team_id, other_id], "labels": [unused, approved]}));
    assert!(rows[1..].iter().all(|r| r[0] == "other/app"), "{rows:?}");
    assert_eq!(keys(&rows[1..]), expected);
    let rows = export(json!({"projects": [team_id, other_id], "labels": [unused]}));
    assert_eq!(
        rows.len(),
        1,
        "only the header: no artifact carries the label"
    );

    // The executions are the caller's own.
    let mine = ok(api(&w, "GET", "/export/cve/executions", DEV).send(), 200).json();
    assert_eq!(mine["items"].as_array().unwrap().len(), 6);
    let admins = ok(api(&w, "GET", "/export/cve/executions", ADMIN).send(), 200).json();
    assert!(admins["items"].as_array().unwrap().is_empty());
    let first = mine["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        api(&w, "GET", &format!("/export/cve/download/{first}"), ADMIN)
            .send()
            .status,
        404
    );

    // A project the developer is not a member of, no project.
    ok(
        api(&w, "POST", "/projects", ADMIN)
            .body(json!({"project_name": "secret"}).to_string())
            .send(),
        201,
    );
    let secret_id = ok(api(&w, "GET", "/projects/secret", ADMIN).send(), 200).json()["project_id"]
        .as_i64()
        .unwrap();
    let r = api(&w, "POST", "/export/cve", DEV)
        .body(json!({"projects": [secret_id]}).to_string())
        .send();
    assert!(matches!(r.status, 403 | 404), "{}", r.status);
    assert_eq!(
        api(&w, "POST", "/export/cve", DEV).body("{}").send().status,
        400
    );
}

/// Copies of the artifact `repo:base` under `repo:c0…`, each its own digest (an
/// annotation added to the manifest), sharing its blobs: many scans of a real image.
fn manifest_copies(w: &Wharf, repo: &str, base: &str, n: usize) -> Vec<String> {
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let creds = format!("admin:{ADMIN_PW}");
    let got = curl("GET", &w.url(&format!("/v2/{repo}/manifests/{base}")))
        .header("Accept", accept)
        .arg("-u")
        .arg(&creds)
        .send();
    let got = ok(got, 200);
    assert_eq!(
        got.header("content-type"),
        Some(accept),
        "an OCI image manifest"
    );
    let manifest: Value = serde_json::from_slice(&got.body).unwrap();
    (0..n)
        .map(|i| {
            let mut m = manifest.clone();
            m["annotations"] = json!({"org.example.copy": i.to_string()});
            let body = serde_json::to_vec(&m).unwrap();
            let r = curl("PUT", &w.url(&format!("/v2/{repo}/manifests/c{i}")))
                .header("Content-Type", accept)
                .arg("-u")
                .arg(&creds)
                .body(body.clone())
                .send();
            ok(r, 201);
            common::sha256(&body)
        })
        .collect()
}

#[test]
fn a_queued_scan_is_stopped_and_told_of() {
    use common::receiver::{Receiver, python_hmac};
    require("skopeo");
    // One worker and a queue of one: scans requested one after another wait their
    // turn, so the last of them is still queued when it is stopped.
    let (w, _tmp) = start_with(&["--scan-queue-size", "1", "--scan-workers", "1"]);
    setup_project(&w, "halt", json!({}));
    let hook = Receiver::start(200, Duration::ZERO);
    ok(
        api(&w, "POST", "/projects/halt/webhook/policies", ADMIN)
            .body(
                json!({"name": "scans", "event_types": ["SCANNING_STOPPED"], "secret": "st0p",
                       "targets": [{"type": "http", "address": hook.url}]})
                .to_string(),
            )
            .send(),
        201,
    );
    skopeo_push(&w, &oci_ref("debian", "bookworm-minbase"), "halt/deb:base");
    let copies = manifest_copies(&w, "halt/deb", "base", 8);
    let art = |r: &str| format!("/projects/halt/repositories/deb/artifacts/{r}");
    // Never scanned: nothing to stop (Harbor: the scan job is not found).
    let r = ok(
        api(&w, "POST", &format!("{}/scan/stop", art("base")), ADMIN).send(),
        404,
    );
    assert_eq!(r.json()["errors"][0]["code"], "NOT_FOUND", "{:?}", r.json());
    for i in 0..copies.len() {
        ok(
            api(
                &w,
                "POST",
                &format!("{}/scan", art(&format!("c{i}"))),
                ADMIN,
            )
            .send(),
            202,
        );
    }
    let last = format!("c{}", copies.len() - 1);
    // Stopping takes the same right as scanning: a developer may do neither.
    let denied = api(&w, "POST", &format!("{}/scan/stop", art(&last)), DEV).send();
    assert_eq!(denied.status, 403);
    ok(
        api(&w, "POST", &format!("{}/scan/stop", art(&last)), ADMIN).send(),
        202,
    );
    let overview = |r: &str| {
        ok(
            api(
                &w,
                "GET",
                &format!("{}?with_scan_overview=true", art(r)),
                ADMIN,
            )
            .send(),
            200,
        )
        .json()["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"]
            .clone()
    };
    assert_eq!(overview(&last)["scan_status"], "Stopped");
    // Stopped once; a second stop has nothing left to stop.
    let again = ok(
        api(&w, "POST", &format!("{}/scan/stop", art(&last)), ADMIN).send(),
        400,
    );
    assert_eq!(again.json()["errors"][0]["code"], "BAD_REQUEST");

    // SCANNING_STOPPED, in Harbor's Default payload, signed.
    let got = hook.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "one notice for one stop");
    let d = &got[0];
    assert_eq!(
        d.header("x-wharf-signature").unwrap(),
        python_hmac("st0p", &d.body)
    );
    let p: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(p["type"], "SCANNING_STOPPED");
    let res = &p["event_data"]["resources"][0];
    assert_eq!(res["digest"], copies[copies.len() - 1].as_str());
    assert_eq!(res["scan_overview"]["scan_status"], "Stopped");
    assert_eq!(p["event_data"]["repository"]["repo_full_name"], "halt/deb");

    // Scan-all stop: whatever is still queued or running stops; each is told of.
    let r = api(&w, "POST", "/system/scanAll/stop", DEV).send();
    assert_eq!(r.status, 403);
    ok(api(&w, "POST", "/system/scanAll/stop", ADMIN).send(), 202);
    let statuses: Vec<String> = (0..copies.len())
        .map(|i| {
            overview(&format!("c{i}"))["scan_status"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        statuses.iter().all(|s| s == "Success" || s == "Stopped"),
        "{statuses:?}"
    );
    let stopped = statuses.iter().filter(|s| *s == "Stopped").count();
    assert!(stopped >= 2, "the last and at least one more: {statuses:?}");
    let got = hook.wait_for(stopped, Duration::from_secs(20));
    assert_eq!(got.len(), stopped, "one notice per stopped scan");
    let m = ok(api(&w, "GET", "/scans/all/metrics", ADMIN).send(), 200).json();
    assert_eq!(m["metrics"]["Stopped"], stopped, "{m}");
    // And in Prometheus' text format, beside the other outcomes.
    let prom = curl("GET", &w.url("/metrics")).send();
    assert_eq!(prom.status, 200);
    let text = String::from_utf8_lossy(&prom.body);
    assert!(
        text.lines()
            .any(|l| l == format!("wharf_scans{{outcome=\"Stopped\"}} {stopped}")),
        "{text}"
    );
    // Nothing left to stop.
    let none = ok(api(&w, "POST", "/system/scanAll/stop", ADMIN).send(), 400);
    assert_eq!(none.json()["errors"][0]["code"], "BAD_REQUEST");

    // A stopped scan can be asked for again, and the worker is free to run it.
    ok(
        api(&w, "POST", &format!("{}/scan", art(&last)), ADMIN).send(),
        202,
    );
    let o = wait_scanned(&w, "halt", "deb", &last, None);
    assert_eq!(o["scan_status"], "Success", "{o}");
}

/// Registry scans share one layer cache under `<data dir>/cache/layers`: pyapp, pushed
/// after the Debian image it is built on, has only its own layer read (the server's debug
/// log tells every hit and miss), and its findings are still what `wharf scan` finds.
#[test]
fn registry_scans_read_a_shared_base_layer_once() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let w = Wharf::start_env(
        &data,
        &["--auth", "--vuln-db", db.to_str().unwrap()],
        &[
            ("WHARF_ADMIN_PASSWORD", ADMIN_PW),
            ("WHARF_LOG_LEVEL", "info,wharf_scanner::image::cache=debug"),
        ],
    );
    ok(
        api(&w, "POST", "/users", ADMIN)
            .body(
                json!({"username": "dev", "password": DEV_PW, "email": "dev@example.com"})
                    .to_string(),
            )
            .send(),
        201,
    );
    setup_project(&w, "base", json!({"auto_scan": "true"}));
    let count = |what: &str| w.log_text().matches(what).count();
    skopeo_push(&w, &oci_ref("debian", "bookworm-minbase"), "base/debian:v1");
    let o = wait_scanned(&w, "base", "debian", "v1", None);
    assert_eq!(o["scan_status"], "Success", "{o}");
    assert_eq!(
        (count("layer cache hit"), count("layer cache miss")),
        (0, 1)
    );
    skopeo_push(&w, &oci_ref("pyapp", "v1"), "base/pyapp:v1");
    let o = wait_scanned(&w, "base", "pyapp", "v1", None);
    assert_eq!(o["scan_status"], "Success", "{o}");
    assert_eq!(
        (count("layer cache hit"), count("layer cache miss")),
        (1, 2),
        "pyapp's base layer from the cache, its own layer read"
    );
    let entries = std::fs::read_dir(w.data_dir.join("cache/layers"))
        .unwrap()
        .count();
    assert_eq!(entries, 2, "one entry per distinct layer");
    let expected = cli_findings(&db, &oci_ref("pyapp", "v1"));
    assert!(!expected.is_empty());
    assert_eq!(
        o["summary"]["total"].as_u64().unwrap() as usize,
        expected.len()
    );
}
