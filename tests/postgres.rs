//! `wharf serve --database postgres://…`: the real binary on a private
//! PostgreSQL (registry/tests/support/postgres.rs), driven by skopeo and the
//! Harbor API: push, pull back, scan on push, restart, still served. Expected
//! findings come from `wharf scan` on the same image with the same database.

mod common;
#[path = "../registry/tests/support/postgres.rs"]
mod pg;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Curl, Wharf, curl, oci_ref, require, run, skopeo_digest};
use serde_json::{Value, json};

const ADMIN_PW: &str = "Harbor12345";
const CREDS: &str = "admin:Harbor12345";

fn api(w: &Wharf, method: &str, path: &str) -> Curl {
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(CREDS)
}

fn wharf_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

/// How many distinct (id, package, version) findings `wharf scan` reports for
/// the image with that database (what Harbor's summary counts).
fn cli_total(db: &Path, image: &str) -> u64 {
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
    let mut seen = std::collections::BTreeSet::new();
    for r in v["Results"].as_array().into_iter().flatten() {
        for f in r["Vulnerabilities"].as_array().into_iter().flatten() {
            seen.insert((
                f["VulnerabilityID"].as_str().unwrap().to_string(),
                f["PkgName"].as_str().unwrap().to_string(),
                f["InstalledVersion"].as_str().unwrap().to_string(),
            ));
        }
    }
    seen.len() as u64
}

fn scan_overview(w: &Wharf) -> Value {
    let r = api(
        w,
        "GET",
        "/projects/team/repositories/pyapp/artifacts/v1?with_scan_overview=true",
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"].clone()
}

fn wait_scanned(w: &Wharf) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let o = scan_overview(w);
        if matches!(o["scan_status"].as_str(), Some("Success" | "Error")) {
            return o;
        }
        assert!(Instant::now() < deadline, "the scan did not finish: {o}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start(tmp: &Path, db: &Path, url: &str) -> Wharf {
    Wharf::start_env(
        tmp,
        &["--auth", "--vuln-db", db.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW), ("WHARF_DATABASE", url)],
    )
}

#[test]
fn serve_on_postgres_push_pull_scan_restart() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    common::import_pypa(&db);
    let image = oci_ref("pyapp", "v1");
    let expected = cli_total(&db, &image);
    assert!(
        expected > 0,
        "the pyapp image has known-vulnerable packages"
    );
    let url = pg::fresh_database();

    let mut w = start(tmp.path(), &db, &url);
    let r = api(&w, "POST", "/projects")
        .body(
            json!({"project_name": "team", "metadata": {"public": "false", "auto_scan": "true"}})
                .to_string(),
        )
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", CREDS])
        .arg(&image)
        .arg(format!("docker://{}/team/pyapp:v1", w.host())));
    // skopeo copies an OCI layout's manifest unchanged: the registry serves its bytes.
    let source = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(&image));
    let pushed = skopeo_digest(&format!("{}/team/pyapp:v1", w.host()), CREDS);
    assert_eq!(pushed, common::sha256(source.as_bytes()));
    // Pulled back whole (every blob checked by skopeo against its digest).
    let out = tmp.path().join("pulled");
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--src-creds", CREDS])
        .arg(format!("docker://{}/team/pyapp:v1", w.host()))
        .arg(format!("oci:{}:v1", out.display())));

    let overview = wait_scanned(&w);
    assert_eq!(overview["scan_status"], "Success", "{overview}");
    assert_eq!(overview["summary"]["total"].as_u64(), Some(expected));
    // The metadata is in PostgreSQL: no SQLite file was made in the data directory.
    assert!(!w.data_dir.join("wharf.db").exists());

    // Restarted on the same database and blobs: the same image, tag and report.
    w.terminate();
    let w = start(tmp.path(), &db, &url);
    assert_eq!(
        skopeo_digest(&format!("{}/team/pyapp:v1", w.host()), CREDS),
        pushed
    );
    let again = scan_overview(&w);
    assert_eq!(again["scan_status"], "Success");
    assert_eq!(again["summary"]["total"].as_u64(), Some(expected));

    // The artifact list (one statement for the page's details on PostgreSQL):
    // the digest, tag, Harbor's size (the manifest's bytes, its config and
    // layers, as the source manifest lists them) and the scan overview.
    let r = api(
        &w,
        "GET",
        "/projects/team/repositories/pyapp/artifacts?with_scan_overview=true",
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("X-Total-Count"), Some("1"));
    let list = r.json();
    let a = &list[0];
    let m: Value = serde_json::from_str(&source).unwrap();
    let blobs: u64 = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&m["config"]])
        .map(|b| b["size"].as_u64().unwrap())
        .sum();
    assert_eq!(a["digest"], pushed.as_str());
    assert_eq!(a["size"].as_u64(), Some(source.len() as u64 + blobs));
    assert_eq!(a["tags"][0]["name"], "v1");
    let o = &a["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"];
    assert_eq!(o["summary"]["total"].as_u64(), Some(expected), "{a}");
}

/// A database URL of another kind is refused at start, naming only its scheme
/// (the rest may hold a password).
#[test]
fn unsupported_database_url_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = wharf_cmd()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args([
            "--auth=false",
            "--database",
            "mysql://root:hunter2@localhost/wharf",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"mysql\""), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// A password in the database URLs below: the test server trusts every local
/// connection, so it is never checked, but it must never be printed.
const PG_PW: &str = "pg-Secret-7f3a";

/// `url` (postgres://wharf@host:port/db) with the password and `query`.
fn with_password(url: &str, query: &str) -> String {
    let url = url.replacen("wharf@", &format!("wharf:{PG_PW}@"), 1);
    format!("{url}?{query}")
}

/// `wharf serve` that must fail to start: its stderr.
fn serve_fails(tmp: &Path, url: &str, extra: &[&str]) -> String {
    let out = wharf_cmd()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.join("refused"))
        .args(["--auth=false", "--database", url])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains(PG_PW), "the password is printed: {err}");
    err
}

/// TLS to the database: `sslmode=verify-full` with the test CA as
/// `sslrootcert` (or `--database-ca-file`) serves pushes, and PostgreSQL's own
/// view (`pg_stat_ssl`) says every connection of the registry is encrypted.
/// Another CA, a host the certificate does not name, and a server without TLS
/// are refused at start, saying why and without the password.
#[test]
fn database_over_tls() {
    let tls = pg::tls_server();
    let ca = tls.ca.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = tls.server.create_database();
    let base = tls.server.url(&db);
    let url = with_password(&base, &format!("sslmode=verify-full&sslrootcert={ca}"));

    let mut w = Wharf::start_env(tmp.path(), &[], &[("WHARF_DATABASE", &url)]);
    let (digest, manifest) = common::push_image(&w, "tls/app", "v1", "over-tls");
    let r = curl("GET", &w.url("/v2/tls/app/manifests/v1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
    assert_eq!((r.status, &r.body), (200, &manifest));
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
    let (conns, encrypted) = {
        let row = tls.server.query(&format!(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a
             JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{db}'"
        ));
        let (a, b) = row.split_once('|').unwrap();
        (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
    };
    assert!(conns > 0, "the registry holds connections to {db}");
    assert_eq!(encrypted, conns, "every connection is TLS");
    assert!(!w.log_text().contains(PG_PW));
    w.terminate();

    // The CA given as a flag instead of in the URL; the manifest is still there.
    let flagged = with_password(&base, "sslmode=verify-full");
    let w = Wharf::start_env(
        tmp.path(),
        &["--database-ca-file", ca],
        &[("WHARF_DATABASE", &flagged)],
    );
    let r = curl("HEAD", &w.url("/v2/tls/app/manifests/v1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
    assert_eq!(r.status, 200);
    drop(w);

    // A CA that did not sign the server's certificate.
    let other = pg::make_ca(tmp.path(), "other-ca");
    let wrong = with_password(
        &base,
        &format!("sslmode=verify-full&sslrootcert={}", other.display()),
    );
    let err = serve_fails(tmp.path(), &wrong, &[]);
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(err.contains("sslrootcert or --database-ca-file"), "{err}");
    // The same through the flag.
    let err = serve_fails(
        tmp.path(),
        &flagged,
        &["--database-ca-file", other.to_str().unwrap()],
    );
    assert!(err.contains("UnknownIssuer"), "{err}");

    // The certificate names 127.0.0.1 only: verify-full refuses it for
    // localhost, verify-ca (the CA alone) accepts it.
    let localhost = base.replacen("127.0.0.1", "localhost", 1);
    let err = serve_fails(
        tmp.path(),
        &with_password(&localhost, &format!("sslmode=verify-full&sslrootcert={ca}")),
        &[],
    );
    assert!(err.contains("not valid for name \"localhost\""), "{err}");
    assert!(err.contains("sslmode=verify-full"), "{err}");
    let w = Wharf::start_env(
        tmp.path(),
        &[],
        &[(
            "WHARF_DATABASE",
            &with_password(&localhost, &format!("sslmode=verify-ca&sslrootcert={ca}")),
        )],
    );
    let r = curl("HEAD", &w.url("/v2/tls/app/manifests/v1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
    assert_eq!(r.status, 200);
    drop(w);

    // sslmode=require against a server without TLS.
    let plain = pg::fresh_database();
    let err = serve_fails(tmp.path(), &with_password(&plain, "sslmode=require"), &[]);
    assert!(err.contains("server does not support TLS"), "{err}");
}
