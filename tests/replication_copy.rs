//! Replication executions end to end: two real `wharf serve` processes (and
//! Distribution 2.8), images pushed over HTTP, signed, attested and given an SBOM by
//! the real `wharf` verbs, policies run through Harbor's API and the CLI, and the
//! result checked at the destination with the same verbs (`wharf verify`, `wharf sbom
//! fetch`) and raw registry requests.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Wharf, curl, sha256, stdout_ok};
use serde_json::{Value, json};

/// Every Wharf's administrator password (the management API needs authentication).
const PW: &str = "Harbor12345";
const CREDS: &str = "admin:Harbor12345";
const AIRGAP_PW: &str = PW;
const MIRROR_PW: &str = "mirror-Secret-17";

/// A Wharf with authentication (the management API needs it).
fn start() -> Wharf {
    Wharf::start_with(&["--admin-password", PW])
}

/// Creates projects on `w` (pushes need them).
fn projects(w: &Wharf, names: &[&str]) {
    for name in names {
        let r = admin("POST", &w.url("/api/v2.0/projects"))
            .header("Content-Type", "application/json")
            .body(json!({"project_name": name}).to_string())
            .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
}

/// A request as the administrator.
fn admin(method: &str, url: &str) -> common::Curl {
    curl(method, url).arg("-u").arg(CREDS)
}

fn push_blob(w: &Wharf, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let r = admin(
        "POST",
        &w.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")),
    )
    .header("Content-Type", "application/octet-stream")
    .body(data.to_vec())
    .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    digest
}

fn put_manifest(w: &Wharf, repo: &str, tag: &str, media_type: &str, body: &[u8]) {
    let r = admin("PUT", &w.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("Content-Type", media_type)
        .body(body.to_vec())
        .send();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// A small OCI image (config + one layer) pushed as the administrator.
fn push_image(w: &Wharf, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer bytes for {seed}");
    let cd = push_blob(w, repo, config.as_bytes());
    let ld = push_blob(w, repo, layer.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
    })
    .to_string()
    .into_bytes();
    put_manifest(
        w,
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    (sha256(&manifest), manifest)
}

/// The real binary in `dir`, with a cosign key password and (optionally) registry login.
fn wharf(dir: &Path, login: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.current_dir(dir)
        .env("COSIGN_PASSWORD", "test-password")
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env_remove("WHARF_USERNAME")
        .env_remove("WHARF_PASSWORD")
        .args(args);
    if let Some((u, p)) = login {
        cmd.env("WHARF_USERNAME", u).env("WHARF_PASSWORD", p);
    }
    cmd.output().unwrap()
}

/// Docker config credentials for `host` (what `wharf verify`/`sbom fetch` read).
fn docker_login(dir: &Path, host: &str, user: &str, password: &str) {
    use base64::Engine;
    let cfg = dir.join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    let path = cfg.join("config.json");
    let mut doc: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"auths": {}}));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    doc["auths"][host] = json!({ "auth": auth });
    std::fs::write(path, doc.to_string()).unwrap();
}

/// A management API call on `w` (authentication off unless `auth` is given).
fn api(w: &Wharf, method: &str, path: &str, body: Option<Value>) -> common::Resp {
    let mut c = admin(method, &w.url(&format!("/api/v2.0{path}")));
    if let Some(b) = body {
        c = c
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    c.send()
}

fn created_id(r: &common::Resp) -> i64 {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn add_endpoint(
    dev: &Wharf,
    name: &str,
    url: &str,
    kind: &str,
    creds: Option<(&str, &str)>,
) -> i64 {
    let mut body = json!({"name": name, "url": url, "type": kind, "insecure": true});
    if let Some((u, p)) = creds {
        body["credential"] = json!({"type": "basic", "access_key": u, "access_secret": p});
    }
    created_id(&api(dev, "POST", "/registries", Some(body)))
}

fn add_policy(dev: &Wharf, body: Value) -> i64 {
    created_id(&api(dev, "POST", "/replication/policies", Some(body)))
}

/// Starts a run and waits (bounded) for its end; the execution's JSON.
fn run_policy(dev: &Wharf, policy: i64) -> Value {
    let id = created_id(&api(
        dev,
        "POST",
        "/replication/executions",
        Some(json!({"policy_id": policy})),
    ));
    wait_execution(dev, id, Duration::from_secs(120))
}

fn wait_execution(dev: &Wharf, id: i64, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = api(dev, "GET", &format!("/replication/executions/{id}"), None);
        if r.status == 200 {
            let e = r.json();
            if e["status"] != "InProgress" {
                return e;
            }
        }
        assert!(Instant::now() < deadline, "execution {id} did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tasks(dev: &Wharf, execution: i64) -> Vec<Value> {
    let r = api(
        dev,
        "GET",
        &format!("/replication/executions/{execution}/tasks?page_size=100"),
        None,
    );
    assert_eq!(r.status, 200);
    r.json().as_array().unwrap().clone()
}

/// The digest a registry serves for `repo:reference` (None: 404), read with Basic auth.
fn served_digest(base: &str, creds: Option<&str>, repo: &str, reference: &str) -> Option<String> {
    let mut c = curl("GET", &format!("{base}/v2/{repo}/manifests/{reference}")).header(
        "Accept",
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
    );
    if let Some(creds) = creds {
        c = c.arg("-u").arg(creds);
    }
    let r = c.send();
    match r.status {
        200 => Some(sha256(&r.body)),
        404 => None,
        other => panic!(
            "GET {repo}:{reference}: {other} {}",
            String::from_utf8_lossy(&r.body)
        ),
    }
}

/// Every blob and child of `repo@digest` is served and hashes to its digest.
fn assert_whole(base: &str, creds: Option<&str>, repo: &str, digest: &str) {
    let get = |path: String| {
        let mut c = curl("GET", &format!("{base}{path}")).header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        );
        if let Some(creds) = creds {
            c = c.arg("-u").arg(creds);
        }
        c.send()
    };
    let m = get(format!("/v2/{repo}/manifests/{digest}"));
    assert_eq!(m.status, 200, "{repo}@{digest}");
    assert_eq!(sha256(&m.body), digest);
    let doc = m.json();
    for child in doc["manifests"].as_array().into_iter().flatten() {
        assert_whole(base, creds, repo, child["digest"].as_str().unwrap());
    }
    let mut blobs: Vec<&Value> = doc["layers"].as_array().into_iter().flatten().collect();
    if doc["config"].is_object() {
        blobs.push(&doc["config"]);
    }
    for b in blobs {
        let d = b["digest"].as_str().unwrap();
        let r = get(format!("/v2/{repo}/blobs/{d}"));
        assert_eq!(r.status, 200, "{repo} blob {d}");
        assert_eq!(sha256(&r.body), d, "{repo} blob {d}");
    }
}

/// An index of two platform images (`linux/amd64`, `linux/arm64`).
fn push_index(w: &Wharf, repo: &str, tag: &str) -> String {
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (d, body) = push_image(w, repo, &format!("{tag}-{arch}"), &format!("{repo}-{arch}"));
        entries.push(
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": d, "size": body.len(), "platform": {"os": "linux", "architecture": arch}}),
        );
        // The per-platform tags are scaffolding: only the index keeps a tag.
        let r = admin(
            "DELETE",
            &w.url(&format!("/v2/{repo}/manifests/{tag}-{arch}")),
        )
        .send();
        assert_eq!(r.status, 202);
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries})
    .to_string();
    put_manifest(
        w,
        repo,
        tag,
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    sha256(index.as_bytes())
}

const SPDX: &str = r#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"app","documentNamespace":"https://example.com/spdx/app-v1","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: test"]},"packages":[{"SPDXID":"SPDXRef-Package-zlib","name":"zlib","versionInfo":"1.3","downloadLocation":"NOASSERTION"}],"relationships":[]}"#;

/// Signs, attests and attaches an SBOM to `image` (all against the registry it names).
fn decorate(d: &Path, image: &str) {
    let login = Some(("admin", PW));
    if !d.join("ci.key").exists() {
        stdout_ok(&wharf(
            d,
            None,
            &["key", "generate", "--output-key-prefix", "ci"],
        ));
        std::fs::write(
            d.join("prov.json"),
            r#"{"buildType":"https://example.com/ci"}"#,
        )
        .unwrap();
        std::fs::write(d.join("sbom.spdx.json"), SPDX).unwrap();
    }
    stdout_ok(&wharf(
        d,
        login,
        &["sign", "--insecure", "--key", "ci.key", image],
    ));
    stdout_ok(&wharf(
        d,
        login,
        &[
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "prov.json",
            "--type",
            "slsaprovenance",
            image,
        ],
    ));
    stdout_ok(&wharf(
        d,
        login,
        &[
            "sbom",
            "attach",
            "--insecure",
            image,
            "--sbom",
            "sbom.spdx.json",
        ],
    ));
}

/// What travels to a destination that can check it: the signature verifies there,
/// the attestation too, and the SBOM comes back byte for byte.
fn assert_accessories_arrived(d: &Path, image: &str, login: (&str, &str)) {
    let login = Some(login);
    let o = wharf(
        d,
        login,
        &["verify", "--insecure", "--key", "ci.pub", image],
    );
    assert!(
        o.status.success(),
        "verify {image}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = wharf(
        d,
        login,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            "--type",
            "slsaprovenance",
            image,
        ],
    );
    assert!(
        o.status.success(),
        "verify-attestation {image}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = wharf(d, login, &["sbom", "fetch", "--insecure", image]);
    assert!(
        o.status.success(),
        "sbom fetch {image}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), SPDX);
}

/// The air-gapped scenario's copy, run by hand: `production/**` with tag `v*` goes
/// from dev to airgap (which asks for a login: the Docker token flow) with the same
/// digests, every platform of an index, the signature, attestation and SBOM; `dev-1`
/// stays behind. A second run sends nothing; with `override` off a destination tag
/// that names something else is left alone.
#[test]
fn push_replication_carries_what_belongs_to_an_image_and_sends_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let airgap = start();
    let dev = start();
    docker_login(d, &airgap.host(), "admin", AIRGAP_PW);
    docker_login(d, &dev.host(), "admin", PW);
    projects(&dev, &["production", "staging", "elsewhere"]);

    let (app, _) = push_image(&dev, "production/app", "v1", "app-v1");
    push_image(&dev, "production/app", "dev-1", "app-dev");
    push_image(&dev, "staging/app", "v1", "staging");
    let multi = push_index(&dev, "production/multi", "v2");
    decorate(d, &format!("{}/production/app:v1", dev.host()));
    // A real image, pushed by a real client.
    common::require("skopeo");
    common::run(
        Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                CREDS,
            ])
            .arg(common::oci_ref("small", "v1"))
            .arg(format!("docker://{}/production/small:v1", dev.host())),
    );
    // skopeo keeps an OCI manifest as it is: its digest is the layout's.
    let layout: Value = serde_json::from_slice(
        &std::fs::read(common::test_images().join("oci/small/index.json")).unwrap(),
    )
    .unwrap();
    let small = layout["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let remote = add_endpoint(
        &dev,
        "airgap",
        &format!("http://{}", airgap.host()),
        "harbor",
        Some(("admin", AIRGAP_PW)),
    );
    let policy = add_policy(
        &dev,
        json!({"name": "to-airgap", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}, {"type": "tag", "value": "v*"}],
            "trigger": {"type": "manual"}, "override": true}),
    );

    // The CLI runs it and waits.
    let out = stdout_ok(&wharf(
        d,
        Some(("admin", PW)),
        &[
            "replication",
            "run",
            "to-airgap",
            "--wait",
            "--output",
            "json",
            "--registry",
            &dev.host(),
            "--insecure",
        ],
    ));
    let first: Value = serde_json::from_str(&out).unwrap();
    let first = if first.is_array() {
        first[0].clone()
    } else {
        first
    };
    assert_eq!(first["status"], "Succeed", "{first}");
    assert_eq!(first["total"], 3, "{first}");
    assert_eq!(first["succeed"], 3);
    assert_eq!(first["trigger"], "manual");

    let creds = format!("admin:{AIRGAP_PW}");
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    assert_eq!(
        served_digest(base, Some(&creds), "production/app", "v1").as_deref(),
        Some(app.as_str())
    );
    assert_eq!(
        served_digest(base, Some(&creds), "production/multi", "v2").as_deref(),
        Some(multi.as_str())
    );
    assert_whole(base, Some(&creds), "production/multi", &multi);
    assert_whole(base, Some(&creds), "production/app", &app);
    assert_eq!(
        served_digest(base, Some(&creds), "production/small", "v1").as_deref(),
        Some(small.as_str())
    );
    assert_whole(base, Some(&creds), "production/small", &small);
    assert_eq!(
        served_digest(base, Some(&creds), "production/app", "dev-1"),
        None
    );
    assert_eq!(served_digest(base, Some(&creds), "staging/app", "v1"), None);
    assert_accessories_arrived(
        d,
        &format!("{}/production/app:v1", airgap.host()),
        ("admin", PW),
    );

    // One task per artifact, with bytes, a duration and a log.
    let eid = first["id"].as_i64().unwrap();
    let list = tasks(&dev, eid);
    assert_eq!(list.len(), 3);
    for t in &list {
        assert_eq!(t["status"], "Succeed", "{t}");
        assert_eq!(t["operation"], "copy");
        assert_eq!(t["resource_type"], "image");
        assert!(t["bytes"].as_i64().unwrap() > 0, "{t}");
        assert!(
            t["dst_resource"]
                .as_str()
                .unwrap()
                .starts_with(&airgap.host()),
            "{t}"
        );
    }
    let app_task = list
        .iter()
        .find(|t| t["src_resource"] == "production/app:v1")
        .expect("a task for production/app:v1");
    let log = stdout_ok(&wharf(
        d,
        Some(("admin", PW)),
        &[
            "replication",
            "log",
            &eid.to_string(),
            &app_task["id"].to_string(),
            "--registry",
            &dev.host(),
            "--insecure",
        ],
    ));
    assert!(log.contains("copied"), "{log}");
    assert!(log.contains(&app), "{log}");

    // Again: everything is there, nothing is sent.
    let second = run_policy(&dev, policy);
    assert_eq!(second["status"], "Succeed", "{second}");
    for t in tasks(&dev, second["id"].as_i64().unwrap()) {
        assert_eq!(t["bytes"], 0, "{t}");
    }
    let listed = api(
        &dev,
        "GET",
        &format!("/replication/executions?policy_id={policy}"),
        None,
    );
    assert_eq!(listed.header("x-total-count"), Some("2"));
    assert_eq!(listed.json()[0]["id"], second["id"]);

    // Someone else's v1 at the destination: override off leaves it alone.
    let (theirs, _) = push_image(&dev, "elsewhere/app", "v1", "theirs");
    let careful = add_policy(
        &dev,
        json!({"name": "careful", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/app"}, {"type": "tag", "value": "v1"}],
            "override": false}),
    );
    // Make airgap's v1 differ: replicate elsewhere/app:v1 there under production/app.
    let mover = add_policy(
        &dev,
        json!({"name": "mover", "dest_registry": {"id": remote}, "dest_namespace": "production",
            "dest_namespace_replace_count": 1,
            "filters": [{"type": "name", "value": "elsewhere/app"}], "override": true}),
    );
    assert_eq!(run_policy(&dev, mover)["status"], "Succeed");
    assert_eq!(
        served_digest(base, Some(&creds), "production/app", "v1").as_deref(),
        Some(theirs.as_str())
    );
    let e = run_policy(&dev, careful);
    assert_eq!(e["status"], "Succeed", "{e}");
    let t = &tasks(&dev, e["id"].as_i64().unwrap())[0];
    assert_eq!(t["bytes"], 0, "{t}");
    assert_eq!(
        served_digest(base, Some(&creds), "production/app", "v1").as_deref(),
        Some(theirs.as_str()),
        "override off must leave the destination's tag alone"
    );
}

/// Distribution 2.8 has no referrers API: pushed there, the SBOM and attestation are
/// listed in the referrers tag schema (`sha256-<hex>`), so `wharf verify` and `wharf
/// sbom fetch` find them; pulled back from it (catalog + tag list) into another
/// Wharf, they arrive again.
#[test]
fn push_to_and_pull_from_distribution_with_the_tag_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let reference =
        common::Distribution::start(&d.join("reference"), &format!("mirror:{MIRROR_PW}"));
    let port = reference.port;
    let mirror_host = format!("127.0.0.1:{port}");
    docker_login(d, &mirror_host, "mirror", MIRROR_PW);

    let dev = start();
    docker_login(d, &dev.host(), "admin", PW);
    projects(&dev, &["production"]);
    let (app, _) = push_image(&dev, "production/app", "v1", "to-distribution");
    decorate(d, &format!("{}/production/app:v1", dev.host()));
    let remote = add_endpoint(
        &dev,
        "distribution",
        &format!("http://{mirror_host}"),
        "docker-registry",
        Some(("mirror", MIRROR_PW)),
    );
    let push = add_policy(
        &dev,
        json!({"name": "to-distribution", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}]}),
    );
    let e = run_policy(&dev, push);
    assert_eq!(
        e["status"],
        "Succeed",
        "{e} {:?}",
        tasks(&dev, e["id"].as_i64().unwrap())
    );

    let creds = format!("mirror:{MIRROR_PW}");
    let base = format!("http://{mirror_host}");
    assert_eq!(
        served_digest(&base, Some(&creds), "production/app", "v1").as_deref(),
        Some(app.as_str())
    );
    assert_whole(&base, Some(&creds), "production/app", &app);
    // The referrers tag schema index was written, listing the SBOM and attestation.
    let schema_tag = format!("sha256-{}", app.trim_start_matches("sha256:"));
    let index = curl(
        "GET",
        &format!("{base}/v2/production/app/manifests/{schema_tag}"),
    )
    .arg("-u")
    .arg(&creds)
    .header("Accept", "application/vnd.oci.image.index.v1+json")
    .send();
    assert_eq!(
        index.status,
        200,
        "{}",
        String::from_utf8_lossy(&index.body)
    );
    let listed = index.json()["manifests"].as_array().unwrap().len();
    assert!(listed >= 1, "{}", index.json());
    assert_accessories_arrived(
        d,
        &format!("{mirror_host}/production/app:v1"),
        ("mirror", MIRROR_PW),
    );

    // Pull it back into a fresh Wharf, under another namespace.
    let back = start();
    docker_login(d, &back.host(), "admin", PW);
    projects(&back, &["mirror"]);
    let src = add_endpoint(
        &back,
        "distribution",
        &format!("http://{mirror_host}"),
        "docker-registry",
        Some(("mirror", MIRROR_PW)),
    );
    let pull = add_policy(
        &back,
        json!({"name": "from-distribution", "src_registry": {"id": src},
            "dest_namespace": "mirror", "dest_namespace_replace_count": 1,
            "filters": [{"type": "name", "value": "production/**"}, {"type": "tag", "value": "v*"}]}),
    );
    let e = run_policy(&back, pull);
    assert_eq!(
        e["status"],
        "Succeed",
        "{e} {:?}",
        tasks(&back, e["id"].as_i64().unwrap())
    );
    assert_eq!(e["total"], 1, "{e}");
    let base = back.url("");
    let base = base.trim_end_matches('/');
    assert_eq!(
        served_digest(base, Some(CREDS), "mirror/app", "v1").as_deref(),
        Some(app.as_str())
    );
    assert_whole(base, Some(CREDS), "mirror/app", &app);
    assert_accessories_arrived(d, &format!("{}/mirror/app:v1", back.host()), ("admin", PW));
}

/// Event-based: a push arrives at the destination within 5 s; with `deletion` a
/// delete follows it there.
#[test]
fn event_based_replication_follows_pushes_and_deletes() {
    let airgap = start();
    let dev = start();
    let remote = add_endpoint(
        &dev,
        "airgap",
        &format!("http://{}", airgap.host()),
        "harbor",
        Some(("admin", PW)),
    );
    add_policy(
        &dev,
        json!({"name": "live", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}],
            "trigger": {"type": "event_based"}, "deletion": true}),
    );
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    projects(&dev, &["production", "staging"]);
    let (digest, _) = push_image(&dev, "production/api", "v7", "event");
    push_image(&dev, "staging/api", "v7", "not-covered");
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_digest(base, Some(CREDS), "production/api", "v7").is_none() {
        assert!(
            Instant::now() < deadline,
            "the push did not arrive within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        served_digest(base, Some(CREDS), "production/api", "v7").as_deref(),
        Some(digest.as_str())
    );
    let runs = api(&dev, "GET", "/replication/executions", None).json();
    assert_eq!(runs[0]["trigger"], "event_based", "{runs}");

    // Signed after it travelled: the signature follows within 5 s and verifies there.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    docker_login(d, &airgap.host(), "admin", PW);
    let login = Some(("admin", PW));
    stdout_ok(&wharf(
        d,
        None,
        &["key", "generate", "--output-key-prefix", "ci"],
    ));
    let image = format!("{}/production/api:v7", dev.host());
    stdout_ok(&wharf(
        d,
        login,
        &["sign", "--insecure", "--key", "ci.key", &image],
    ));
    let sig_tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_digest(base, Some(CREDS), "production/api", &sig_tag).is_none() {
        assert!(
            Instant::now() < deadline,
            "the signature did not follow within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let there = format!("{}/production/api:v7", airgap.host());
    let o = wharf(
        d,
        login,
        &["verify", "--insecure", "--key", "ci.pub", &there],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let r = admin(
        "DELETE",
        &dev.url(&format!("/v2/production/api/manifests/{digest}")),
    )
    .send();
    assert_eq!(r.status, 202);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_digest(base, Some(CREDS), "production/api", &digest).is_some() {
        assert!(
            Instant::now() < deadline,
            "the delete did not arrive within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served_digest(base, Some(CREDS), "staging/api", "v7"), None);
}

/// A destination that does not answer: every task is retried, then fails with the
/// reason; the execution says how many failed. Another destination's run is unaffected.
#[test]
fn a_destination_that_is_down_fails_its_tasks_with_the_reason() {
    let airgap = start();
    let dev = start();
    projects(&dev, &["production"]);
    push_image(&dev, "production/a", "v1", "a");
    push_image(&dev, "production/b", "v1", "b");
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let down = add_endpoint(&dev, "down", &closed, "harbor", Some(("admin", PW)));
    let up = add_endpoint(
        &dev,
        "up",
        &format!("http://{}", airgap.host()),
        "harbor",
        Some(("admin", PW)),
    );
    let to_down = add_policy(
        &dev,
        json!({"name": "to-down", "dest_registry": {"id": down}}),
    );
    let to_up = add_policy(&dev, json!({"name": "to-up", "dest_registry": {"id": up}}));

    let failed_id = created_id(&api(
        &dev,
        "POST",
        "/replication/executions",
        Some(json!({"policy_id": to_down})),
    ));
    let ok = run_policy(&dev, to_up);
    assert_eq!(ok["status"], "Succeed", "{ok}");
    assert_eq!(ok["succeed"], 2);

    let failed = wait_execution(&dev, failed_id, Duration::from_secs(120));
    assert_eq!(failed["status"], "Failed", "{failed}");
    assert_eq!(failed["failed"], 2, "{failed}");
    assert!(
        failed["status_text"].as_str().unwrap().contains("2 of 2"),
        "{failed}"
    );
    for t in tasks(&dev, failed_id) {
        assert_eq!(t["status"], "Failed");
        assert!(t["attempts"].as_i64().unwrap() > 1, "retried: {t}");
        let message = t["message"].as_str().unwrap();
        assert!(
            message.contains(&closed),
            "the reason names the registry: {t}"
        );
    }

    // A run stopped through the CLI while its tasks wait to retry ends Stopped.
    let tmp = tempfile::tempdir().unwrap();
    let login = Some(("admin", PW));
    let host = dev.host();
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--registry", host.as_str(), "--insecure"]);
        wharf(tmp.path(), login, &all)
    };
    let started = stdout_ok(&cli(&["replication", "run", "to-down"]));
    let id = started
        .split_whitespace()
        .find_map(|w| w.parse::<i64>().ok())
        .expect("an execution id");
    std::thread::sleep(Duration::from_millis(500));
    stdout_ok(&cli(&["replication", "stop", &id.to_string()]));
    let stopped = wait_execution(&dev, id, Duration::from_secs(60));
    assert_eq!(stopped["status"], "Stopped", "{stopped}");
    let listed = stdout_ok(&cli(&[
        "replication",
        "executions",
        "--policy",
        "to-down",
        "--output",
        "json",
    ]));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Stopped", "Failed"], "newest first: {listed}");
    let table = stdout_ok(&cli(&["replication", "tasks", &id.to_string()]));
    assert!(table.contains("Stopped"), "{table}");
}

/// kill -9 of the server running an execution, in the middle of it; restarted on the
/// same data, it resumes the execution (the job's lease expires), does the tasks not
/// yet done, and every artifact at the destination is whole.
#[test]
fn an_execution_cut_by_kill_9_resumes_after_restart_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let airgap = start();
    let mut dev = Wharf::start_in(tmp.path(), &["--job-lease", "2", "--admin-password", PW]);
    projects(&dev, &["production"]);
    let mut images = Vec::new();
    for i in 0..12 {
        let repo = format!("production/svc{i:02}");
        // 32 KiB of layer each, at 64 KiB/s: about half a second per task.
        let layer: Vec<u8> = (0..32 * 1024).map(|b| ((b * 7 + i) % 251) as u8).collect();
        let ld = push_blob(&dev, &repo, &layer);
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        let cd = push_blob(&dev, &repo, config.as_bytes());
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]})
        .to_string();
        put_manifest(
            &dev,
            &repo,
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            manifest.as_bytes(),
        );
        images.push((repo, sha256(manifest.as_bytes())));
    }
    let remote = add_endpoint(
        &dev,
        "airgap",
        &format!("http://{}", airgap.host()),
        "harbor",
        Some(("admin", PW)),
    );
    let policy = add_policy(
        &dev,
        json!({"name": "slow", "dest_registry": {"id": remote}, "speed": 64}),
    );
    let id = created_id(&api(
        &dev,
        "POST",
        "/replication/executions",
        Some(json!({"policy_id": policy})),
    ));
    // Wait until some, not all, tasks are done; then crash.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = tasks(&dev, id);
        let done = list.iter().filter(|t| t["status"] == "Succeed").count();
        if done >= 2 {
            assert!(done < list.len(), "the run ended before the crash");
            break;
        }
        assert!(Instant::now() < deadline, "no task finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    dev.kill9();
    let dev = Wharf::start_in(tmp.path(), &["--job-lease", "2", "--admin-password", PW]);
    let e = wait_execution(&dev, id, Duration::from_secs(120));
    assert_eq!(e["status"], "Succeed", "{e} {:?}", tasks(&dev, id));
    assert_eq!(e["succeed"], 12, "{e}");
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    for (repo, digest) in &images {
        assert_eq!(
            served_digest(base, Some(CREDS), repo, "v1").as_deref(),
            Some(digest.as_str())
        );
        assert_whole(base, Some(CREDS), repo, digest);
    }
}

/// Scheduled: the policy's 6-field cron fires (here every 2 s) and the run copies
/// the covered tag; the execution says it was scheduled.
#[test]
fn a_scheduled_policy_runs_on_its_cron() {
    let airgap = start();
    let dev = start();
    projects(&dev, &["production"]);
    let (digest, _) = push_image(&dev, "production/app", "v1", "scheduled");
    push_image(&dev, "production/app", "dev-1", "not-v");
    let remote = add_endpoint(
        &dev,
        "airgap",
        &format!("http://{}", airgap.host()),
        "harbor",
        Some(("admin", PW)),
    );
    add_policy(
        &dev,
        json!({"name": "every-2s", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}, {"type": "tag", "value": "v*"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "*/2 * * * * *"}}}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        let runs = api(&dev, "GET", "/replication/executions", None).json();
        if let Some(done) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["status"] != "InProgress")
        {
            break done.clone();
        }
        assert!(Instant::now() < deadline, "no scheduled run ended: {runs}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(run["trigger"], "scheduled", "{run}");
    assert_eq!(run["status"], "Succeed", "{run}");
    assert_eq!(run["total"], 1, "{run}");
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    assert_eq!(
        served_digest(base, Some(CREDS), "production/app", "v1").as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(
        served_digest(base, Some(CREDS), "production/app", "dev-1"),
        None
    );
}

/// The air gap's vulnerability database comes from dev as an OCI artifact (`wharf db
/// push` on dev, `wharf serve --vuln-db-ref` on airgap), and airgap's own scan of a
/// replicated image finds what dev's scan finds, which is what `wharf scan` finds in the
/// image's layout with the same advisories.
#[test]
fn airgap_pulls_the_vulnerability_db_from_dev_and_scans_alike() {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = d.join("vuln.db");
    common::import_pypa(&db);
    for side in ["dev", "airgap", "cli"] {
        std::fs::create_dir_all(d.join(side)).unwrap();
    }
    let dev = Wharf::start_in(
        &d.join("dev"),
        &["--admin-password", PW, "--vuln-db", db.to_str().unwrap()],
    );
    projects(&dev, &["system", "production"]);
    let db_ref = format!("{}/system/vulndb:latest", dev.host());
    stdout_ok(&wharf(
        &d.join("cli"),
        Some(("admin", PW)),
        &[
            "db",
            "push",
            "--insecure",
            "--db",
            db.to_str().unwrap(),
            &db_ref,
        ],
    ));

    let airgap = Wharf::start_in(
        &d.join("airgap"),
        &[
            "--admin-password",
            PW,
            "--vuln-db-ref",
            &db_ref,
            "--vuln-db-insecure",
            "--vuln-db-username",
            "admin",
            "--vuln-db-password",
            PW,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !airgap.data_dir.join("vuln.db").is_file() {
        assert!(
            Instant::now() < deadline,
            "airgap never pulled the database: {}",
            airgap.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    projects(&airgap, &["production"]);
    for w in [&dev, &airgap] {
        let r = api(
            w,
            "PUT",
            "/projects/production",
            Some(json!({"metadata": {"auto_scan": "true"}})),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    let layout = common::test_images().join("oci/pyapp");
    common::run(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--dest-creds", CREDS])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/production/app:v1", dev.host())),
    );
    let endpoint = add_endpoint(
        &dev,
        "airgap",
        &airgap.url(""),
        "harbor",
        Some(("admin", PW)),
    );
    let policy = add_policy(
        &dev,
        json!({"name": "to-airgap", "dest_registry": {"id": endpoint},
               "filters": [{"type": "name", "value": "production/**"}], "trigger": {"type": "manual"}}),
    );
    let run = run_policy(&dev, policy);
    assert_eq!(run["status"], "Succeed", "{run}");

    // Each side's own scan, once it has ended.
    let findings = |w: &Wharf| -> std::collections::BTreeSet<(String, String, String)> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let a = api(
                w,
                "GET",
                "/projects/production/repositories/app/artifacts/v1?with_scan_overview=true",
                None,
            )
            .json();
            let o =
                &a["scan_overview"]["application/vnd.security.vulnerability.report; version=1.1"];
            match o["scan_status"].as_str() {
                Some("Success") => break,
                Some("Error") => panic!("scan failed: {o}\n{}", w.log_text()),
                _ => {}
            }
            assert!(Instant::now() < deadline, "no scan: {a}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let r = api(
            w,
            "GET",
            "/projects/production/repositories/app/artifacts/v1/additions/vulnerabilities",
            None,
        )
        .json();
        r["application/vnd.security.vulnerability.report; version=1.1"]["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                (s("id"), s("package"), s("version"))
            })
            .collect()
    };
    let at_dev = findings(&dev);
    let at_airgap = findings(&airgap);
    let out = common::wharf_db(
        &[
            "scan",
            "--format",
            "json",
            &format!("oci:{}:v1", layout.display()),
        ],
        &db,
    );
    let expected = common::vuln_keys(&serde_json::from_str(&stdout_ok(&out)).unwrap());
    assert!(
        !expected.is_empty(),
        "the pyapp image has vulnerable packages"
    );
    assert_eq!(at_dev, expected);
    assert_eq!(at_airgap, expected);
}

/// The largest upload file in a server's data directory: how far a blob upload got.
fn largest_upload(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("uploads"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The log of each task of an execution, joined.
fn task_logs(w: &Wharf, execution: i64) -> String {
    tasks(w, execution)
        .iter()
        .map(|t| {
            let r = api(
                w,
                "GET",
                &format!("/replication/executions/{execution}/tasks/{}/log", t["id"]),
                None,
            );
            assert_eq!(r.status, 200);
            String::from_utf8_lossy(&r.body).into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 24 MiB layer is sent as chunked PATCHes (8 MiB each, throttled by `speed`); the
/// destination is killed (-9) in the middle of its second PATCH and restarted on the
/// same data and port. The task's retry asks the destination's upload session how far
/// it got and sends only the rest: the bytes its log says it sent are fewer than the
/// blob, and the blob arrives whole.
#[test]
fn a_blob_upload_cut_by_the_destination_dying_resumes_mid_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut airgap = Wharf::start_on(tmp.path(), port, &["--admin-password", PW], &[]);
    let dev = start();
    projects(&dev, &["production"]);
    const MIB: usize = 1024 * 1024;
    let size = 24 * MIB;
    let layer: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let ld = push_blob(&dev, "production/big", &layer);
    let config = r#"{"architecture":"amd64","os":"linux"}"#;
    let cd = push_blob(&dev, "production/big", config.as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": size}]})
    .to_string();
    put_manifest(
        &dev,
        "production/big",
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    let remote = add_endpoint(
        &dev,
        "airgap",
        &format!("http://127.0.0.1:{port}"),
        "harbor",
        Some(("admin", PW)),
    );
    // 4 MiB/s: each 8 MiB PATCH takes about 2 s.
    let policy = add_policy(
        &dev,
        json!({"name": "big", "dest_registry": {"id": remote}, "speed": 4096}),
    );
    let id = created_id(&api(
        &dev,
        "POST",
        "/replication/executions",
        Some(json!({"policy_id": policy})),
    ));
    // Into the second PATCH: the first 8 MiB are in, some of the next are arriving.
    let deadline = Instant::now() + Duration::from_secs(60);
    while largest_upload(&airgap.data_dir) < (9 * MIB) as u64 {
        assert!(Instant::now() < deadline, "the upload never got past 9 MiB");
        std::thread::sleep(Duration::from_millis(20));
    }
    airgap.kill9();
    let held = largest_upload(&airgap.data_dir);
    assert!(
        held < size as u64,
        "the kill came too late: {held} bytes held"
    );
    let airgap = Wharf::start_on(tmp.path(), port, &["--admin-password", PW], &[]);

    let e = wait_execution(&dev, id, Duration::from_secs(120));
    assert_eq!(e["status"], "Succeed", "{e} {:?}", tasks(&dev, id));
    let log = task_logs(&dev, id);
    let line = log
        .lines()
        .find(|l| l.starts_with(&ld) && l.contains("resumed at byte"))
        .unwrap_or_else(|| panic!("the layer was not resumed:\n{log}"));
    // "<digest>: resumed at byte N of SIZE; sent M bytes"
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (offset, sent) = (numbers[numbers.len() - 3], numbers[numbers.len() - 1]);
    assert_eq!(numbers[numbers.len() - 2], size as u64, "{line}");
    assert!(
        offset >= (8 * MIB) as u64,
        "resumed after the first PATCH: {line}"
    );
    assert_eq!(offset + sent, size as u64, "{line}");
    assert!(sent < size as u64, "{line}");
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    let digest = sha256(manifest.as_bytes());
    assert_eq!(
        served_digest(base, Some(CREDS), "production/big", "v1").as_deref(),
        Some(digest.as_str())
    );
    assert_whole(base, Some(CREDS), "production/big", &digest);
}

/// Distribution 2.8 cannot delete a tag alone (it answers a tag DELETE 400). A
/// replicated tag delete deletes the manifest by digest there, as Harbor does, when no
/// other tag names it, and leaves it (saying why) when another does.
#[test]
fn a_deletion_replicated_to_distribution_deletes_by_digest_when_no_other_tag_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let reference =
        common::Distribution::start(&tmp.path().join("ref"), &format!("mirror:{MIRROR_PW}"));
    let mirror = format!("http://{}", reference.host());
    let creds = format!("mirror:{MIRROR_PW}");
    let dev = start();
    projects(&dev, &["production"]);
    let (alone, _) = push_image(&dev, "production/app", "v1", "alone");
    let (shared, shared_body) = push_image(&dev, "production/app", "v2", "shared");
    put_manifest(
        &dev,
        "production/app",
        "v2-latest",
        "application/vnd.oci.image.manifest.v1+json",
        &shared_body,
    );
    let remote = add_endpoint(
        &dev,
        "distribution",
        &mirror,
        "docker-registry",
        Some(("mirror", MIRROR_PW)),
    );
    add_policy(
        &dev,
        json!({"name": "mirror", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}],
            "trigger": {"type": "event_based"}, "deletion": true}),
    );
    let push = add_policy(
        &dev,
        json!({"name": "mirror-all", "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}]}),
    );
    let e = run_policy(&dev, push);
    assert_eq!(e["status"], "Succeed", "{e}");
    for tag in ["v1", "v2", "v2-latest"] {
        assert!(served_digest(&mirror, Some(&creds), "production/app", tag).is_some());
    }
    // Distribution itself refuses the tag delete: what the replication works around.
    let r = curl(
        "DELETE",
        &format!("{mirror}/v2/production/app/manifests/v1"),
    )
    .arg("-u")
    .arg(&creds)
    .send();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    let wait_run = |n: usize| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let runs = api(&dev, "GET", "/replication/executions", None).json();
            let runs = runs.as_array().unwrap().clone();
            let deletions: Vec<&Value> = runs
                .iter()
                .filter(|r| r["trigger"] == "event_based" && r["status"] != "InProgress")
                .collect();
            if deletions.len() >= n {
                return deletions[0].clone();
            }
            assert!(Instant::now() < deadline, "no deletion run: {runs:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // v1 alone names its manifest: the manifest goes.
    let r = admin("DELETE", &dev.url("/v2/production/app/manifests/v1")).send();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let run = wait_run(1);
    assert_eq!(run["status"], "Succeed", "{run}");
    assert_eq!(
        served_digest(&mirror, Some(&creds), "production/app", &alone),
        None
    );
    assert_eq!(
        served_digest(&mirror, Some(&creds), "production/app", "v1"),
        None
    );
    let log = task_logs(&dev, run["id"].as_i64().unwrap());
    assert!(log.contains("deleted by digest"), "{log}");

    // v2 shares its manifest with v2-latest: it stays, and the log says why.
    let r = admin("DELETE", &dev.url("/v2/production/app/manifests/v2")).send();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let run = wait_run(2);
    let log = task_logs(&dev, run["id"].as_i64().unwrap());
    assert!(log.contains("still named by v2-latest"), "{log}");
    assert_eq!(
        served_digest(&mirror, Some(&creds), "production/app", "v2-latest").as_deref(),
        Some(shared.as_str())
    );
}

/// Pull replication into a project this registry does not have creates it, private
/// (as Harbor does), instead of failing; the log says so.
#[test]
fn pull_replication_creates_the_missing_local_project_private() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = common::Distribution::start(&tmp.path().join("ref"), "");
    let dev = start();
    projects(&dev, &["upstream"]);
    let (digest, _) = push_image(&dev, "upstream/tool", "v3", "tool");
    let to_ref = add_endpoint(
        &dev,
        "ref",
        &format!("http://{}", reference.host()),
        "docker-registry",
        None,
    );
    let e = run_policy(
        &dev,
        add_policy(
            &dev,
            json!({"name": "seed", "dest_registry": {"id": to_ref}}),
        ),
    );
    assert_eq!(e["status"], "Succeed", "{e}");

    let airgap = start();
    let src = add_endpoint(
        &airgap,
        "ref",
        &format!("http://{}", reference.host()),
        "docker-registry",
        None,
    );
    let pull = add_policy(
        &airgap,
        json!({"name": "in", "src_registry": {"id": src},
            "dest_namespace": "imported", "dest_namespace_replace_count": 1}),
    );
    assert_eq!(api(&airgap, "GET", "/projects/imported", None).status, 404);
    let e = run_policy(&airgap, pull);
    assert_eq!(
        e["status"],
        "Succeed",
        "{e} {:?}",
        tasks(&airgap, e["id"].as_i64().unwrap())
    );
    let log = task_logs(&airgap, e["id"].as_i64().unwrap());
    assert!(
        log.contains("project imported did not exist here: created it (private)"),
        "{log}"
    );
    let p = api(&airgap, "GET", "/projects/imported", None);
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["metadata"]["public"], "false", "{}", p.json());
    let base = airgap.url("");
    let base = base.trim_end_matches('/');
    assert_eq!(
        served_digest(base, Some(CREDS), "imported/tool", "v3").as_deref(),
        Some(digest.as_str())
    );
    // Private: an anonymous pull is refused.
    let anon = curl("GET", &airgap.url("/v2/imported/tool/manifests/v3"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send();
    assert_eq!(anon.status, 401);
}

/// Images sharing a layer replicated to a destination that allows each client 5
/// upload sessions: an upload session left open per shared blob (what every declined
/// mount did while the mount's token named the destination alone) would refuse a
/// later image with 429. Mounts now succeed there, and a declined one's session
/// carries the upload (tests/oci_client.rs).
#[test]
fn declined_mounts_do_not_leave_a_session_per_blob() {
    let dev = start();
    let dst = Wharf::start_with(&["--admin-password", PW, "--max-uploads-per-client", "5"]);
    projects(&dev, &["prod"]);
    projects(&dst, &["prod"]);
    let shared = b"a base layer every image shares".to_vec();
    let mut digests = Vec::new();
    for i in 0..8 {
        let repo = format!("prod/app{i}");
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        let cd = push_blob(&dev, &repo, config.as_bytes());
        let ld = push_blob(&dev, &repo, &shared);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": shared.len()}]
        })
        .to_string()
        .into_bytes();
        put_manifest(
            &dev,
            &repo,
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
        digests.push((repo, sha256(&manifest)));
    }
    let endpoint = add_endpoint(&dev, "dst", &dst.url(""), "harbor", Some(("admin", PW)));
    let policy = add_policy(
        &dev,
        json!({"name": "shared", "dest_registry": {"id": endpoint},
               "filters": [{"type": "name", "value": "prod/**"}]}),
    );
    let execution = run_policy(&dev, policy);
    assert_eq!(
        execution["status"],
        "Succeed",
        "{execution}\n{}",
        task_logs(&dev, execution["id"].as_i64().unwrap())
    );
    for (repo, digest) in &digests {
        assert_whole(&dst.url(""), Some(CREDS), repo, digest);
    }
    let metrics = curl("GET", &dst.url("/metrics")).send();
    let open: f64 = String::from_utf8_lossy(&metrics.body)
        .lines()
        .find_map(|l| l.strip_prefix("wharf_uploads_in_flight "))
        .expect("the uploads gauge")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(open, 0.0, "upload sessions left open at the destination");
}

/// Pushes `n` images to `prod/app<i>` on `dev` that share two base layers (plus one
/// layer of their own); the two shared digests and each repository's manifest digest.
fn push_sharing_images(dev: &Wharf, n: usize) -> ([String; 2], Vec<(String, String)>) {
    let bases = [
        b"the first base layer, which every image shares".repeat(2000),
        b"the second base layer, shared as well".repeat(3000),
    ];
    let mut images = Vec::new();
    let mut shared = [String::new(), String::new()];
    for i in 0..n {
        let repo = format!("prod/app{i}");
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        let own = format!("the layer of image {i} alone");
        let cd = push_blob(dev, &repo, config.as_bytes());
        shared[0] = push_blob(dev, &repo, &bases[0]);
        shared[1] = push_blob(dev, &repo, &bases[1]);
        let od = push_blob(dev, &repo, own.as_bytes());
        let layer = |d: &str, size: usize| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": size});
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [layer(&shared[0], bases[0].len()), layer(&shared[1], bases[1].len()), layer(&od, own.len())]
        })
        .to_string()
        .into_bytes();
        put_manifest(
            dev,
            &repo,
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
        images.push((repo, sha256(&manifest)));
    }
    (shared, images)
}

/// Requests in a Wharf's log (its request spans) that finished with `status` and whose
/// line holds every one of `parts`.
fn logged_requests(w: &Wharf, status: u16, parts: &[&str]) -> usize {
    w.log_text()
        .lines()
        .filter(|l| {
            l.contains("finished processing request")
                && l.contains(&format!("status={status}"))
                && parts.iter().all(|p| l.contains(p))
        })
        .count()
}

/// Images sharing layers replicated to a Wharf with token authentication, as an
/// account that is only a developer of the destination project: each shared layer
/// crosses once, and the other repositories get it by a cross-repository mount. The
/// mount's token names both repositories; with one scoped to the destination alone
/// (as before) every mount was declined and every shared layer sent again. Counted at
/// the destination, from its request log: one upload closed per shared layer, and a
/// mount answered 201 for each other repository.
#[test]
fn push_replication_mounts_shared_layers_at_a_wharf_with_token_auth() {
    const N: usize = 6;
    let dev = start();
    let dst = start();
    projects(&dev, &["prod"]);
    projects(&dst, &["prod"]);
    let r = api(
        &dst,
        "POST",
        "/users",
        Some(
            json!({"username": "replicator", "password": "Repl1cator!", "email": "r@example.com"}),
        ),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = api(
        &dst,
        "POST",
        "/projects/prod/members",
        Some(json!({"role_id": 2, "member_user": {"username": "replicator"}})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let (shared, images) = push_sharing_images(&dev, N);
    let endpoint = add_endpoint(
        &dev,
        "dst",
        &dst.url(""),
        "docker-registry",
        Some(("replicator", "Repl1cator!")),
    );
    let policy = add_policy(
        &dev,
        json!({"name": "mounts", "dest_registry": {"id": endpoint},
               "filters": [{"type": "name", "value": "prod/**"}]}),
    );
    let execution = run_policy(&dev, policy);
    let logs = task_logs(&dev, execution["id"].as_i64().unwrap());
    assert_eq!(execution["status"], "Succeed", "{execution}\n{logs}");
    for (repo, digest) in &images {
        assert_whole(&dst.url(""), Some(CREDS), repo, digest);
    }
    for d in &shared {
        let hex = d.trim_start_matches("sha256:");
        assert_eq!(
            logged_requests(&dst, 201, &["method=PUT", "/blobs/uploads/", hex]),
            1,
            "uploads of {d} closed at the destination\n{logs}"
        );
        assert_eq!(
            logged_requests(&dst, 201, &["method=POST", "mount=sha256%3A", hex]),
            N - 1,
            "mounts of {d} at the destination\n{logs}"
        );
        assert_eq!(
            logged_requests(&dst, 202, &["method=POST", "mount=sha256%3A", hex]),
            0,
            "declined mounts of {d}\n{logs}"
        );
    }
    assert_eq!(
        logs.matches("mounted from prod/app").count(),
        2 * (N - 1),
        "{logs}"
    );
    // Nothing left open at the destination.
    let metrics = curl("GET", &dst.url("/metrics")).send();
    let open = String::from_utf8_lossy(&metrics.body)
        .lines()
        .find_map(|l| l.strip_prefix("wharf_uploads_in_flight "))
        .map(|v| v.trim().to_string());
    assert_eq!(open.as_deref(), Some("0"));
}

/// The same images to Distribution 2.8 (no authentication, no token): the mounts need
/// no token and work there too.
#[test]
fn push_replication_mounts_shared_layers_at_distribution() {
    const N: usize = 4;
    let tmp = tempfile::tempdir().unwrap();
    let reference = common::Distribution::start(&tmp.path().join("ref"), "");
    let dev = start();
    projects(&dev, &["prod"]);
    let (_, images) = push_sharing_images(&dev, N);
    let endpoint = add_endpoint(
        &dev,
        "ref",
        &format!("http://{}", reference.host()),
        "docker-registry",
        None,
    );
    let policy = add_policy(
        &dev,
        json!({"name": "to-ref", "dest_registry": {"id": endpoint}}),
    );
    let execution = run_policy(&dev, policy);
    let logs = task_logs(&dev, execution["id"].as_i64().unwrap());
    assert_eq!(execution["status"], "Succeed", "{execution}\n{logs}");
    let base = format!("http://{}", reference.host());
    for (repo, digest) in &images {
        assert_whole(&base, None, repo, digest);
    }
    assert_eq!(
        logs.matches("mounted from prod/app").count(),
        2 * (N - 1),
        "{logs}"
    );
}

/// A mount reads the source repository, so Wharf lets it through only for a caller
/// who may read there: its token endpoint grants the source's pull scope to a member
/// of that project (the mount links the blob: 201) and leaves it out for anyone else,
/// whose mount becomes a plain upload session (202) and links nothing: a blob does
/// not cross projects because its digest is known.
#[test]
fn wharf_mounts_only_from_repositories_the_caller_may_read() {
    let w = start();
    projects(&w, &["secret", "team"]);
    for user in ["dev1", "dev2"] {
        let r = api(
            &w,
            "POST",
            "/users",
            Some(
                json!({"username": user, "password": "Passw0rd!", "email": format!("{user}@example.com")}),
            ),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let member = |project: &str, user: &str| {
        let r = api(
            &w,
            "POST",
            &format!("/projects/{project}/members"),
            Some(json!({"role_id": 2, "member_user": {"username": user}})),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    };
    member("team", "dev1");
    member("team", "dev2");
    member("secret", "dev2");
    let secret = push_blob(&w, "secret/app", b"a layer only the secret project holds");
    let token = |user: &str, scopes: &[String]| -> String {
        let q: Vec<String> = scopes.iter().map(|s| format!("scope={s}")).collect();
        let r = curl(
            "GET",
            &w.url(&format!("/service/token?service=wharf&{}", q.join("&"))),
        )
        .arg("-u")
        .arg(&format!("{user}:Passw0rd!"))
        .send();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["token"].as_str().unwrap().to_string()
    };
    let scopes = |into: &str| {
        vec![
            format!("repository:{into}:pull,push"),
            "repository:secret/app:pull".to_string(),
        ]
    };
    let mount = |token: &str, into: &str| {
        curl(
            "POST",
            &w.url(&format!(
                "/v2/{into}/blobs/uploads/?mount={secret}&from=secret/app"
            )),
        )
        .header("Authorization", &format!("Bearer {token}"))
        .send()
    };
    let has = |token: &str, repo: &str| {
        curl("HEAD", &w.url(&format!("/v2/{repo}/blobs/{secret}")))
            .header("Authorization", &format!("Bearer {token}"))
            .send()
            .status
    };

    // dev1 may not read secret/app: the mount is an upload session, nothing linked.
    let t1 = token("dev1", &scopes("team/app"));
    let r = mount(&t1, "team/app");
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(has(&t1, "team/app"), 404);
    let location = r
        .header("location")
        .expect("the session's Location")
        .to_string();
    let cancel = curl("DELETE", &w.url(&location))
        .header("Authorization", &format!("Bearer {t1}"))
        .send();
    assert_eq!(cancel.status, 204);

    // dev2 may: one token names both repositories, and the blob is linked.
    let t2 = token("dev2", &scopes("team/other"));
    let r = mount(&t2, "team/other");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(has(&t2, "team/other"), 200);
    // A token naming only the destination (what a client scoped per repository
    // sends) does not carry dev2's right to read the source: declined.
    let narrow = token("dev2", &["repository:team/third:pull,push".to_string()]);
    assert_eq!(mount(&narrow, "team/third").status, 202);
    assert_eq!(has(&narrow, "team/third"), 404);
}
