//! The portal (the web UI at `/`) end to end: the real `wharf serve`, real headless
//! Chromium (Debian's `chromium`) driven by playwright-core from npm, real skopeo,
//! `wharf sign` and `wharf sbom --attach`. The browser part is tests/portal/e2e.mjs;
//! this file starts the server, checks the HTTP-level promises (security headers,
//! cookie flags, refusals) with curl, gives the script the findings `wharf scan`
//! reports for the same image with the same database (so the portal is compared
//! with an independent run, not with itself), and afterwards reads back through the
//! API what the pages changed. Screenshots land in target/portal-screenshots/.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Wharf, curl, oci_ref, require};
use serde_json::{Value, json};

const ADMIN_PW: &str = "Harbor12345";
const GUEST_PW: &str = "Guest-Passw0rd";

fn wharf_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

fn check(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What `wharf scan` finds in the image: [{id, package, severity, fixed}].
fn expected_findings(db: &Path, image: &str) -> Value {
    let out = check(
        wharf_cmd()
            .args(["scan", "--format", "json", "--db"])
            .arg(db)
            .arg(image)
            .output()
            .unwrap(),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows = Vec::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        for f in r["Vulnerabilities"].as_array().into_iter().flatten() {
            rows.push(json!({
                "id": f["VulnerabilityID"],
                "package": f["PkgName"],
                "severity": f["Severity"].as_str().unwrap().to_ascii_uppercase(),
                "fixed": f["FixedVersion"].as_str().is_some_and(|s| !s.is_empty()),
            }));
        }
    }
    Value::Array(rows)
}

/// A value in an `application/x-www-form-urlencoded` body (robot names hold `$` and `+`).
fn form_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn api(w: &Wharf, method: &str, path: &str) -> common::Curl {
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
}

#[test]
fn portal_end_to_end_in_chromium() {
    require("skopeo");
    require("chromium");
    require("npm");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let image = oci_ref("pyapp", "v1");
    let expected = expected_findings(&db, &image);
    assert!(
        expected.as_array().unwrap().len() > 1,
        "the pyapp image has known-vulnerable packages"
    );
    let w = Wharf::start_env(
        tmp.path(),
        &["--auth", "--vuln-db", db.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );

    // Every portal response carries the security headers; the login page has no inline script.
    let login = curl("GET", &w.url("/login")).send();
    assert_eq!(login.status, 200);
    let csp = login.header("content-security-policy").unwrap();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
    assert!(login.header("referrer-policy").is_some());
    let html = String::from_utf8_lossy(&login.body);
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );
    // Not logged in: pages send the browser to the login page.
    let r = curl("GET", &w.url("/projects")).send();
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));

    // The session cookie's flags (plain HTTP here: not Secure).
    let r = curl("POST", &w.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username=admin&password={ADMIN_PW}"))
        .send();
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    let cookie = r.header("set-cookie").unwrap().to_string();
    for flag in ["wharf_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session_id = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("wharf_session="))
        .unwrap()
        .to_string();
    // A login posted from another site's page is refused (login CSRF).
    let r = curl("POST", &w.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Origin", "https://evil.example.com")
        .body(format!("username=admin&password={ADMIN_PW}"))
        .send();
    assert_eq!(r.status, 403);
    // Robots are refused, with the reason.
    let r = api(&w, "POST", "/robots")
        .body(
            json!({"name": "ci", "level": "project", "duration": -1, "permissions": [
                {"kind": "project", "namespace": "library",
                 "access": [{"resource": "repository", "action": "pull"}]}]})
            .to_string(),
        )
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let robot = r.json();
    let r = curl("POST", &w.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password={}",
            form_value(robot["name"].as_str().unwrap()),
            form_value(robot["secret"].as_str().unwrap())
        ))
        .send();
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("robot accounts cannot log in"));
    assert!(r.header("set-cookie").is_none());

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/portal-screenshots");
    let dir = common::portal_node_modules();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new("node")
        .arg(dir.join("e2e.mjs"))
        .current_dir(&dir)
        .env("WHARF_URL", w.url(""))
        .env("WHARF_HOST", w.host())
        .env("ADMIN_PW", ADMIN_PW)
        .env("GUEST_PW", GUEST_PW)
        .env("WHARF_BIN", env!("CARGO_BIN_EXE_wharf"))
        .env("PYAPP_IMAGE", &image)
        .env("EXPECTED", expected.to_string())
        .env("SHOTS", &shots)
        .env("WORKDIR", &work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "e2e.mjs failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&w.log).unwrap_or_default()
    );

    // What the pages changed, read back through the API.
    let p = api(&w, "GET", "/projects/portal-demo").send().json();
    assert_eq!(p["metadata"]["auto_scan"], "true", "{p}");
    assert_eq!(p["metadata"]["public"], "false", "{p}");
    let first = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .min()
        .unwrap();
    assert_eq!(
        p["cve_allowlist"]["items"],
        json!([{"cve_id": first}]),
        "{p}"
    );
    assert_eq!(
        p["cve_allowlist"]["expires_at"],
        json!(
            chrono::NaiveDate::from_ymd_opt(2099, 12, 31)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap()
                .and_utc()
                .timestamp()
        )
    );
    // The dry run deleted nothing; the guest's forced delete neither.
    let arts = api(
        &w,
        "GET",
        "/projects/portal-demo/repositories/pyapp/artifacts",
    )
    .send()
    .json();
    assert!(
        arts.as_array().unwrap().iter().any(|a| a["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "v1")),
        "{arts}"
    );
    for name in [
        "login",
        "projects",
        "project",
        "repository",
        "artifact",
        "settings",
        "retention",
        "search",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "no screenshot {name}"
        );
    }
    // Neither the session id nor the password ever reaches the log.
    let log = w.log_text();
    assert!(
        !log.contains(&session_id),
        "a session id is in the server log"
    );
    assert!(!log.contains(ADMIN_PW), "the password is in the server log");
}

/// The project and artifact pages beyond the first tour, in Chromium
/// (tests/portal/project-extra.mjs): members edited, a webhook delivered to a
/// receiver the script runs, a trusted key and an immutability rule set in the page
/// and enforced (`wharf sign`, skopeo), a retention dry run with the "most recently
/// pulled" template, the SBOM packages compared with `wharf sbom`'s document, the
/// build history with the image config in the OCI layout, the pull gate's rules
/// with a developer's pull refused, and CVE search by a non-admin kept to their
/// project. Afterwards, what the pages changed is read back through the API.
#[test]
fn portal_project_pages_in_chromium() {
    require("skopeo");
    require("chromium");
    require("npm");
    const DEV_PW: &str = "Dev-Passw0rd";
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let image = oci_ref("pyapp", "v1");
    let expected = expected_findings(&db, &image);
    assert!(!expected.as_array().unwrap().is_empty());
    let w = Wharf::start_env(
        tmp.path(),
        &["--auth", "--vuln-db", db.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/portal-screenshots");
    let dir = common::portal_node_modules();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let layout = common::test_images().join("oci/pyapp");
    let out = Command::new("node")
        .arg(dir.join("project-extra.mjs"))
        .current_dir(&dir)
        .env("WHARF_URL", w.url(""))
        .env("WHARF_HOST", w.host())
        .env("ADMIN_PW", ADMIN_PW)
        .env("DEV_PW", DEV_PW)
        .env("WHARF_BIN", env!("CARGO_BIN_EXE_wharf"))
        .env("PYAPP_IMAGE", &image)
        .env("PYAPP_LAYOUT", &layout)
        .env("SMALL_IMAGE", oci_ref("small", "v1"))
        .env("MULTI_LAYOUT", common::test_images().join("oci/multi"))
        .env("EXPECTED", expected.to_string())
        .env("SHOTS", &shots)
        .env("WORKDIR", &work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "project-extra.mjs failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&w.log).unwrap_or_default()
    );

    // The member's new role, the immutability rule and the retention policy, as the API reads them.
    let members = api(&w, "GET", "/projects/extra/members").send().json();
    let dev = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["entity_name"] == "dev")
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(dev["role_id"], 4, "{members}");
    let rules = api(&w, "GET", "/projects/extra/immutabletagrules")
        .send()
        .json();
    assert_eq!(rules[0]["tag_selectors"][0]["pattern"], "v1", "{rules}");
    let hooks = api(&w, "GET", "/projects/extra/webhook/policies")
        .send()
        .json();
    assert_eq!(hooks[0]["event_types"], json!(["PUSH_ARTIFACT"]), "{hooks}");
    assert_eq!(hooks[0]["enabled"], true, "{hooks}");
    for name in [
        "members",
        "webhooks",
        "webhook-deliveries",
        "settings-trust",
        "artifact-sbom",
        "artifact-gate",
        "retention-pulled",
        "search-cve-developer",
        "repository-multi-arch",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "no screenshot {name}"
        );
    }
}

/// The administration pages (tests/portal/admin.mjs) against two real servers: the
/// portal's server replicates to the second through a policy made in the browser,
/// and the second really holds the image afterwards (same digest).
#[test]
fn portal_administration_in_chromium() {
    require("skopeo");
    require("chromium");
    require("npm");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let info = check(
        wharf_cmd()
            .args(["db", "info", "--json", "--db"])
            .arg(&db)
            .output()
            .unwrap(),
    );
    let advisories = serde_json::from_slice::<Value>(&info.stdout).unwrap()["advisories"].clone();
    let (dev_dir, dest_dir) = (tmp.path().join("dev"), tmp.path().join("dest"));
    std::fs::create_dir_all(&dev_dir).unwrap();
    std::fs::create_dir_all(&dest_dir).unwrap();
    let w = Wharf::start_env(
        &dev_dir,
        &["--auth", "--vuln-db", db.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let dest = Wharf::start_env(
        &dest_dir,
        &["--auth"],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW)],
    );
    let repo = "library/pyapp";
    check(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
            .arg(format!("admin:{ADMIN_PW}"))
            .arg(oci_ref("pyapp", "v1"))
            .arg(format!("docker://{}/{repo}:v1", w.host()))
            .output()
            .unwrap(),
    );

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/portal-screenshots");
    let dir = common::portal_node_modules();
    let out = Command::new("node")
        .arg(dir.join("admin.mjs"))
        .current_dir(&dir)
        .env("WHARF_URL", w.url(""))
        .env("ADMIN_PW", ADMIN_PW)
        .env("DEST_URL", dest.url(""))
        .env("IMAGE_REPO", repo)
        .env("ADVISORIES", advisories.to_string())
        .env("SHOTS", &shots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "admin.mjs failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&w.log).unwrap_or_default()
    );

    // The replication run the browser started really copied the image.
    let digest_on = |server: &Wharf| {
        let r = curl("HEAD", &server.url(&format!("/v2/{repo}/manifests/v1")))
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .arg("-u")
            .arg(&format!("admin:{ADMIN_PW}"))
            .send();
        assert_eq!(r.status, 200, "{repo}:v1 on {}", server.url(""));
        r.header("docker-content-digest").unwrap().to_string()
    };
    assert_eq!(digest_on(&dest), digest_on(&w));
    for name in [
        "users",
        "registries",
        "replication",
        "replication-policy",
        "replication-execution",
        "gc",
        "vulndb",
        "allowlist",
        "audit",
        "settings",
    ] {
        assert!(
            shots.join(format!("admin-{name}.png")).is_file(),
            "no screenshot admin-{name}"
        );
    }
}
