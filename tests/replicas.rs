//! Three `wharf serve` processes on one PostgreSQL (a private server:
//! registry/tests/support/postgres.rs) and one blob store — a shared data
//! directory (as NFS would give it), or one S3 bucket (moto's server,
//! registry/tests/support/s3.rs) with a data directory of its own per process
//! and one `--secret-key-file` — behave as one registry: an upload session
//! driven across all three, a token of one accepted by another, skopeo pushes
//! spread over them while one is killed with SIGKILL and restarted, every image
//! pulled back from every replica, and queued jobs (GC, scan-all and its scans)
//! run once. Expected digests come from the source OCI layouts' `index.json`
//! and from the `sha2` crate, never from the registry.

mod common;
#[path = "../registry/tests/support/postgres.rs"]
mod pg;
#[path = "../registry/tests/support/s3.rs"]
mod s3;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Curl, Wharf, curl, require, run, sha256, test_images};
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

/// What the replicas share: one database, one vulnerability database, and the
/// blob store — `tmp/data` for all, or a bucket (each replica then has its own
/// data directory `tmp/rN/data` and they share `tmp/secret.key`).
struct Cluster<'a> {
    tmp: &'a Path,
    vuln_db: PathBuf,
    url: String,
    bucket: Option<String>,
}

impl Cluster<'_> {
    /// Replica `i` (0-based) listening on `port`.
    fn replica(&self, i: usize, port: u16) -> Wharf {
        let vuln_db = self.vuln_db.to_str().unwrap();
        let mut args = vec!["--auth", "--vuln-db", vuln_db];
        let mut env = vec![
            ("WHARF_ADMIN_PASSWORD", ADMIN_PW),
            ("WHARF_DATABASE", self.url.as_str()),
        ];
        let Some(bucket) = &self.bucket else {
            return Wharf::start_on(self.tmp, port, &args, &env);
        };
        let storage = format!("s3://{bucket}/registry");
        let key = self.tmp.join("secret.key");
        let key = key.to_str().unwrap();
        let endpoint = s3::server().endpoint.as_str();
        args.extend([
            "--storage",
            &storage,
            "--s3-endpoint",
            endpoint,
            "--s3-path-style",
            "--s3-allow-http",
            "--secret-key-file",
            key,
        ]);
        env.extend([
            ("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY),
            ("AWS_REGION", s3::REGION),
        ]);
        let dir = self.tmp.join(format!("r{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        Wharf::start_on(&dir, port, &args, &env)
    }

    /// True once some upload session holds bytes in the shared store.
    fn upload_under_way(&self, w: &Wharf) -> bool {
        match &self.bucket {
            // a session's tail and state objects appear with its first PATCH
            Some(bucket) => !s3::keys(bucket, "registry/uploads/").is_empty(),
            None => std::fs::read_dir(w.data_dir.join("uploads")).is_ok_and(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .any(|m| m.len() > 0)
            }),
        }
    }
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
fn three_replicas_on_one_data_directory_behave_as_one_registry() {
    three_replicas(None);
}

#[test]
fn three_replicas_on_one_bucket_behave_as_one_registry() {
    three_replicas(Some(s3::fresh_bucket()));
}

fn three_replicas(bucket: Option<String>) {
    require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    common::import_pypa(&vuln_db);
    let cluster = Cluster {
        tmp: tmp.path(),
        vuln_db,
        url: pg::fresh_database(),
        bucket,
    };
    let mut ws: Vec<Wharf> = (0..3)
        .map(|i| cluster.replica(i, common::free_port()))
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
    wait_for("an upload under way", Duration::from_secs(60), || {
        cluster.upload_under_way(&ws[2]).then_some(Value::Null)
    });
    ws[2].kill9();
    for p in pushing {
        let _ = p.join().unwrap(); // cut short, or finished just before the kill
    }
    let port = ws[2].port;
    ws[2] = cluster.replica(2, port);
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

    // On a bucket, no replica kept a blob on its own disk.
    if let Some(bucket) = &cluster.bucket {
        assert!(!s3::keys(bucket, "registry/blobs/").is_empty());
        for w in &ws {
            assert!(
                !w.data_dir.join("blobs").exists(),
                "{} has no local blobs",
                w.data_dir.display()
            );
        }
    }
}
