//! Three `wharf serve` processes on one PostgreSQL (a private server:
//! registry/tests/support/postgres.rs) and one data directory (the shared blob
//! store, as NFS would give it) behave as one registry: an upload session
//! driven across all three, a token of one accepted by another, skopeo pushes
//! spread over them while one is killed with SIGKILL and restarted, every image
//! pulled back from every replica, and queued jobs (GC, scan-all and its scans)
//! run once. Expected digests come from the source OCI layouts' `index.json`
//! and from the `sha2` crate, never from the registry.

mod common;
#[path = "../registry/tests/support/postgres.rs"]
mod pg;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Curl, Wharf, curl, require, run, sha256, shared_dir, test_images};
use serde_json::{Value, json};

const ADMIN_PW: &str = "Harbor12345";
const CREDS: &str = "admin:Harbor12345";

fn api(w: &Wharf, method: &str, path: &str) -> Curl {
    curl(method, &w.url(&format!("/api/v2.0{path}")))
        .header("Content-Type", "application/json")
        .arg("-u")
        .arg(CREDS)
}

fn v2(w: &Wharf, method: &str, path: &str) -> Curl {
    curl(method, &w.url(path)).arg("-u").arg(CREDS)
}

/// The real PyPA advisories in a fresh vulnerability database (scans need one).
fn import_db(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["db", "import", "osv"])
        .arg(shared_dir().join("vulndata/pypa/vulns"))
        .arg("--db")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A replica: the same data directory (`tmp/data`), database and key for all.
fn replica(tmp: &Path, port: u16, vuln_db: &Path, url: &str) -> Wharf {
    Wharf::start_on(
        tmp,
        port,
        &["--auth", "--vuln-db", vuln_db.to_str().unwrap()],
        &[("WHARF_ADMIN_PASSWORD", ADMIN_PW), ("WHARF_DATABASE", url)],
    )
}

/// Every `(image, tag, manifest digest)` of the test images, as their OCI
/// layouts' `index.json` records them, and the digests of the image manifests
/// among them (what scan-all scans; the rest are indexes).
fn source_images() -> (Vec<(String, String, String)>, Vec<String>) {
    let mut scannable = Vec::new();
    let mut out = Vec::new();
    for image in ["small", "multi", "pyapp", "debian"] {
        let index: Value = serde_json::from_slice(
            &std::fs::read(test_images().join("oci").join(image).join("index.json")).unwrap(),
        )
        .unwrap();
        for m in index["manifests"].as_array().unwrap() {
            let tag = m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap();
            let digest = m["digest"].as_str().unwrap();
            out.push((image.to_string(), tag.to_string(), digest.to_string()));
            if m["mediaType"] == "application/vnd.oci.image.manifest.v1+json" {
                scannable.push(digest.to_string());
            }
        }
    }
    scannable.sort();
    scannable.dedup();
    (out, scannable)
}

fn skopeo_push(image: &str, tag: &str, dest: &str) -> std::process::Output {
    Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-creds",
            CREDS,
        ])
        .arg(common::oci_ref(image, tag))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap()
}

/// Pulled whole into a fresh layout (skopeo checks every blob against its
/// digest as it copies); the manifest's digest as the registry served it.
fn pull_and_check(w: &Wharf, repo: &str, tag: &str, want: &str, scratch: &Path) {
    let dir = scratch.join(format!("pull-{}-{}-{tag}", w.port, repo.replace('/', "_")));
    run(Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--src-creds",
            CREDS,
        ])
        .arg(format!("docker://{}/{repo}:{tag}", w.host()))
        .arg(format!("oci:{}:{tag}", dir.display())));
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", CREDS])
        .arg(format!("docker://{}/{repo}:{tag}", w.host()))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        sha256(&raw.stdout),
        want,
        "{repo}:{tag} from replica on port {}",
        w.port
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The path (and query) of a `Location`, which may name the replica that sent it.
fn path_of(location: &str) -> &str {
    match location.strip_prefix("http://") {
        Some(rest) => &rest[rest.find('/').unwrap()..],
        None => location,
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = done() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The only job of `kind`, once it has ended; its log.
fn one_finished_job(ws: &[Wharf], kind: &str) -> (Value, String) {
    let job = wait_for(&format!("the {kind} job"), Duration::from_secs(180), || {
        let r = api(&ws[2], "GET", &format!("/jobs?kind={kind}")).send();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let jobs = r.json();
        let jobs = jobs.as_array().unwrap();
        assert_eq!(jobs.len(), 1, "one {kind} job queued: {jobs:?}");
        matches!(
            jobs[0]["status"].as_str(),
            Some("Success" | "Error" | "Stopped")
        )
        .then(|| jobs[0].clone())
    });
    let id = job["id"].as_i64().unwrap();
    let log = api(&ws[1], "GET", &format!("/jobs/{id}/log")).send();
    assert_eq!(log.status, 200);
    (job, String::from_utf8_lossy(&log.body).into_owned())
}

#[test]
fn three_replicas_behave_as_one_registry() {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    import_db(&vuln_db);
    let url = pg::fresh_database();
    let mut ws: Vec<Wharf> = (0..3)
        .map(|_| replica(tmp.path(), common::free_port(), &vuln_db, &url))
        .collect();
    assert!(
        !ws[0].data_dir.join("wharf.db").exists(),
        "the metadata is in PostgreSQL"
    );

    let r = api(&ws[0], "POST", "/projects")
        .body(json!({"project_name": "team", "metadata": {"public": "false"}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // One upload session spread over the replicas: POST and a first PATCH on 1,
    // PATCH on 2, PATCH on 3, then PUT (with the last bytes) on 1 again, whose
    // hash state from its PATCH is stale by then.
    let chunks: Vec<Vec<u8>> = (0u8..4)
        .map(|i| (0..700_000u32).map(|n| (n % 251) as u8 ^ i).collect())
        .collect();
    let whole: Vec<u8> = chunks.concat();
    let digest = sha256(&whole);
    let r = v2(&ws[0], "POST", "/v2/team/spread/blobs/uploads/").send();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let mut location = r.header("location").unwrap().to_string();
    let mut offset = 0usize;
    for (w, chunk) in [
        (&ws[0], &chunks[0]),
        (&ws[1], &chunks[1]),
        (&ws[2], &chunks[2]),
    ] {
        let r = v2(w, "PATCH", path_of(&location))
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                &format!("{}-{}", offset, offset + chunk.len() - 1),
            )
            .body(chunk.clone())
            .send();
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        offset += chunk.len();
        assert_eq!(r.header("range"), Some(&*format!("0-{}", offset - 1)));
        location = r.header("location").unwrap().to_string();
    }
    let path = path_of(&location);
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = v2(&ws[0], "PUT", &format!("{path}{sep}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .body(chunks[3].clone())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    for w in &ws {
        let r = v2(w, "GET", &format!("/v2/team/spread/blobs/{digest}")).send();
        assert_eq!(r.status, 200);
        assert_eq!(
            sha256(&r.body),
            digest,
            "the blob as replica {} serves it",
            w.port
        );
    }

    // A token issued by one replica is accepted by another.
    let r = v2(
        &ws[0],
        "GET",
        "/service/token?service=wharf&scope=repository:team/spread:pull",
    )
    .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["token"].as_str().unwrap().to_string();
    let r = curl(
        "HEAD",
        &ws[1].url(&format!("/v2/team/spread/blobs/{digest}")),
    )
    .header("Authorization", &format!("Bearer {token}"))
    .send();
    assert_eq!(r.status, 200, "replica 2 accepts replica 1's token");
    let r = curl(
        "HEAD",
        &ws[2].url(&format!("/v2/team/spread/blobs/{digest}")),
    )
    .header("Authorization", "Bearer not.a.token")
    .send();
    assert_eq!(r.status, 401, "and still refuses a forged one");

    // A password changed through one replica: the others stop accepting the old
    // one although they had just checked it (their cached check, kept 30 s, is
    // dropped when the change is announced).
    let r = api(&ws[0], "POST", "/users")
        .body(
            json!({"username": "dev", "password": "Passw0rd!", "email": "dev@example.com"})
                .to_string(),
        )
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let user = path_of(r.header("location").unwrap())
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let base_as = |w: &Wharf, creds: &str| {
        curl("GET", &w.url("/v2/"))
            .arg("-u")
            .arg(creds)
            .send()
            .status
    };
    for w in &ws[1..] {
        assert_eq!(base_as(w, "dev:Passw0rd!"), 200);
    }
    let r = api(&ws[0], "PUT", &format!("/users/{user}/password"))
        .body(json!({"new_password": "N3wPassw0rd"}).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    wait_for(
        "the old password refused everywhere",
        Duration::from_secs(20),
        || {
            ws[1..]
                .iter()
                .all(|w| base_as(w, "dev:Passw0rd!") == 401)
                .then_some(Value::Null)
        },
    );
    for w in &ws {
        assert_eq!(base_as(w, "dev:N3wPassw0rd"), 200);
    }

    // A configuration item set through one replica is in force on the others
    // (they read their settings once, at start, and again when told).
    let r = api(&ws[2], "PUT", "/configurations")
        .body(json!({"ldap_url": "ldaps://ldap.example.com"}).to_string())
        .send();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    wait_for(
        "the configuration on every replica",
        Duration::from_secs(20),
        || {
            ws.iter()
                .all(|w| {
                    api(w, "GET", "/configurations").send().json()["ldap_url"]["value"]
                        == "ldaps://ldap.example.com"
                })
                .then_some(Value::Null)
        },
    );

    let (images, digests) = source_images();
    // Pushes to replica 3 under way when it is killed; then it is restarted on
    // its address and the pushes are run again (through it). First, so that
    // skopeo has every blob to upload.
    let big: Vec<_> = images
        .iter()
        .filter(|(image, _, _)| image == "debian" || image == "pyapp")
        .cloned()
        .collect();
    let host = ws[2].host();
    let pushing: Vec<_> = big
        .iter()
        .map(|(image, tag, _)| {
            let (image, tag, dest) = (
                image.clone(),
                tag.clone(),
                format!("{host}/team/killed-{image}:{tag}"),
            );
            std::thread::spawn(move || skopeo_push(&image, &tag, &dest))
        })
        .collect();
    // Killed once bytes are arriving in an upload session (the shared store's
    // `uploads/`): in the middle of a blob, not before or after the pushes.
    let uploads = ws[2].data_dir.join("uploads");
    wait_for("an upload under way", Duration::from_secs(60), || {
        std::fs::read_dir(&uploads)
            .ok()?
            .filter_map(|e| e.ok()?.metadata().ok())
            .any(|m| m.len() > 0)
            .then_some(Value::Null)
    });
    ws[2].kill9();
    for p in pushing {
        let _ = p.join().unwrap(); // cut short, or finished just before the kill
    }
    let port = ws[2].port;
    ws[2] = replica(tmp.path(), port, &vuln_db, &url);
    for (image, tag, _) in &big {
        let out = skopeo_push(image, tag, &format!("{host}/team/killed-{image}:{tag}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // skopeo pushes spread round-robin over the replicas.
    for (i, (image, tag, _)) in images.iter().enumerate() {
        let w = &ws[i % 3];
        let out = skopeo_push(image, tag, &format!("{}/team/{image}:{tag}", w.host()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every image from every replica, whole and as pushed.
    let scratch = tmp.path().join("pulls");
    std::fs::create_dir(&scratch).unwrap();
    for w in &ws {
        for (image, tag, digest) in &images {
            pull_and_check(w, &format!("team/{image}"), tag, digest, &scratch);
        }
        for (image, tag, digest) in &big {
            pull_and_check(w, &format!("team/killed-{image}"), tag, digest, &scratch);
        }
    }

    // GC asked of one replica runs once, although all three poll the queue.
    let r = api(&ws[1], "POST", "/system/gc/schedule")
        .body(json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}}).to_string())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let (job, log) = one_finished_job(&ws, "gc");
    assert_eq!(job["status"], "Success", "{job} {log}");
    assert_eq!(job["attempts"], 1, "{job}");
    assert_eq!(log.matches("started (attempt").count(), 1, "{log}");

    // Scan-all asked of one replica: one job, and each image scanned once by
    // whichever replica took it.
    let r = api(&ws[0], "POST", "/system/scanAll/schedule")
        .body(json!({"schedule": {"type": "Manual"}}).to_string())
        .send();
    assert!(
        matches!(r.status, 200 | 201),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let (job, log) = one_finished_job(&ws, "scan_all");
    assert_eq!(job["status"], "Success", "{job} {log}");
    assert_eq!(job["attempts"], 1, "{job}");
    assert_eq!(log.matches("started (attempt").count(), 1, "{log}");
    wait_for("the scans", Duration::from_secs(300), || {
        let m = api(&ws[1], "GET", "/scans/all/metrics").send().json();
        (m["ongoing"] == false && m["total"].as_u64() == Some(digests.len() as u64)).then_some(m)
    });
    let logs: Vec<String> = ws.iter().map(Wharf::log_text).collect();
    for digest in &digests {
        let runs: usize = logs
            .iter()
            .flat_map(|l| l.lines())
            .filter(|l| l.contains(digest) && (l.contains(" scanned") || l.contains("scan failed")))
            .count();
        assert_eq!(runs, 1, "{digest} scanned once across the replicas");
    }
    // Each replica answers with the same scan overview.
    let overview = |w: &Wharf| {
        let r = api(
            w,
            "GET",
            "/projects/team/repositories/pyapp/artifacts/v1?with_scan_overview=true",
        )
        .send();
        assert_eq!(r.status, 200);
        r.json()["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"]
            .clone()
    };
    let first = overview(&ws[0]);
    assert_eq!(first["scan_status"], "Success", "{first}");
    assert!(first["summary"]["total"].as_u64().unwrap() > 0, "{first}");
    for w in &ws[1..] {
        assert_eq!(overview(w), first);
    }
}
