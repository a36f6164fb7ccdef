//! Proxy cache projects (issue 14), end to end: Distribution 2.8 as the upstream
//! (with and without htpasswd), skopeo pulling through the real `wharf serve`.
//! What the cache serves is compared with the bytes pushed to the upstream, and
//! what the upstream served is read from its own access log.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Wharf, curl, sha256};
use serde_json::json;

const ADMIN_PW: &str = "Harbor12345";
const UPSTREAM_USER: &str = "mirror";
const UPSTREAM_PW: &str = "mirror-Secret-17";

/// The upstream: Distribution 2.8, stopped and restarted with its content.
use common::Distribution as Upstream;

impl Upstream {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn curl(&self, method: &str, path: &str) -> common::Curl {
        let c = curl(method, &self.url(path));
        if self.creds.is_empty() {
            c
        } else {
            c.arg("-u").arg(&self.creds)
        }
    }

    /// POST then PUT with the bytes (Distribution 2.8 has no single-request upload).
    fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let started = self
            .curl("POST", &format!("/v2/{repo}/blobs/uploads/"))
            .send();
        assert_eq!(
            started.status,
            202,
            "{}",
            String::from_utf8_lossy(&started.body)
        );
        let location = started.header("location").unwrap().to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            self.url(&location)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut c = curl("PUT", &format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .body(data.to_vec());
        if !self.creds.is_empty() {
            c = c.arg("-u").arg(&self.creds);
        }
        let r = c.send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        digest
    }

    /// A config and one layer, then the manifest under `tag`: (manifest digest, layer
    /// digest, layer bytes).
    fn push_image(&self, repo: &str, tag: &str, seed: &str) -> (String, String, Vec<u8>) {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
        let layer = format!("layer bytes of {seed} ").repeat(5000).into_bytes();
        let cd = self.push_blob(repo, config.as_bytes());
        let ld = self.push_blob(repo, &layer);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
        })
        .to_string()
        .into_bytes();
        let r = self
            .curl("PUT", &format!("/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.clone())
            .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        (sha256(&manifest), ld, layer)
    }

    /// An index of two platforms (amd64, arm64), each an image of its own: (index
    /// digest, layer digest of each platform).
    fn push_index(&self, repo: &str, tag: &str) -> (String, String, String) {
        let (amd64, amd64_layer, _) = self.push_image(repo, "amd64", "index-amd64");
        let (arm64, arm64_layer, _) = self.push_image(repo, "arm64", "index-arm64");
        let size = |tag: &str| {
            self.curl("GET", &format!("/v2/{repo}/manifests/{tag}"))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .send()
                .body
                .len()
        };
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd64,
                 "size": size("amd64"), "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64,
                 "size": size("arm64"), "platform": {"architecture": "arm64", "os": "linux"}}
            ]
        })
        .to_string()
        .into_bytes();
        let r = self
            .curl("PUT", &format!("/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", "application/vnd.oci.image.index.v1+json")
            .body(index.clone())
            .send();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        (sha256(&index), amd64_layer, arm64_layer)
    }

    /// The blob's file in Distribution's filesystem storage.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.join(format!(
            "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    /// How many GETs of `path` the upstream logged since it last started.
    fn gets_of(&self, path: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        log.lines()
            .filter(|l| {
                l.contains("response completed")
                    && l.contains("http.request.method=GET")
                    && l.contains(&format!("http.request.uri=\"{path}\""))
            })
            .count()
    }
}

/// An upstream that answers every request `429 TOOMANYREQUESTS` (Docker Hub's pull
/// limit), on a given port; stopped on drop.
struct RateLimiter {
    child: std::process::Child,
    count: PathBuf,
    _dir: tempfile::TempDir,
}

impl RateLimiter {
    fn start(port: u16) -> RateLimiter {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let script = r#"
import http.server, sys
count = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(count, "a") as f:
            f.write("x")
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = do_POST = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
        let child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(port.to_string())
            .arg(&count)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the 429 server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        RateLimiter {
            child,
            count,
            _dir: dir,
        }
    }

    fn answered(&self) -> usize {
        std::fs::read(&self.count).map(|c| c.len()).unwrap_or(0)
    }
}

impl Drop for RateLimiter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn api(w: &Wharf, method: &str, path: &str, body: Option<serde_json::Value>) -> common::Resp {
    let mut c = curl(method, &w.url(path))
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"));
    if let Some(b) = body {
        c = c
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    c.send()
}

/// `skopeo copy` from the cache into a `dir:` layout; the command's output.
fn skopeo_pull(image: &str, creds: &str, into: &Path) -> std::process::Output {
    common::require("skopeo");
    let _ = std::fs::remove_dir_all(into);
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--src-tls-verify=false"]);
    if !creds.is_empty() {
        cmd.args(["--src-creds", creds]);
    }
    cmd.arg(format!("docker://{image}"))
        .arg(format!("dir:{}", into.display()))
        .output()
        .unwrap()
}

fn pulled_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The digest of the manifest skopeo copied (its bytes as the registry served them).
fn manifest_digest(dir: &Path) -> String {
    sha256(&std::fs::read(dir.join("manifest.json")).unwrap())
}

/// Until the cache has stored `repo:tag` (it completes in the background).
fn wait_cached(w: &Wharf, project: &str, repo: &str, tag: &str) -> serde_json::Value {
    let path = format!(
        "/api/v2.0/projects/{project}/repositories/{}/artifacts/{tag}",
        repo.replace('/', "%252F")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api(w, "GET", &path, None);
        if r.status == 200 {
            return r.json();
        }
        assert!(
            Instant::now() < deadline,
            "{project}/{repo}:{tag} never cached: {} {}\n{}",
            r.status,
            String::from_utf8_lossy(&r.body),
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_endpoint(w: &Wharf, up: &Upstream) -> i64 {
    let mut body = json!({"name": "upstream", "url": up.url(""), "type": "docker-registry"});
    if !up.creds.is_empty() {
        body["credential"] =
            json!({"type": "basic", "access_key": UPSTREAM_USER, "access_secret": UPSTREAM_PW});
    }
    let r = api(w, "POST", "/api/v2.0/registries", Some(body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The first pull fetches from the upstream (its log shows the blob served once),
/// the cached image is the upstream's byte for byte; with the upstream stopped it is
/// served from the cache (the log says stale) and a miss is a 503 `UNAVAILABLE`; a tag
/// moved upstream is seen once the TTL has passed; pushes and tags through the API are
/// refused; a private cache project is pulled by its members only.
#[test]
fn pulls_fill_the_cache_which_serves_when_the_upstream_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut up = Upstream::start(
        &d.join("upstream"),
        &format!("{UPSTREAM_USER}:{UPSTREAM_PW}"),
    );
    let (v1, layer1_digest, layer1) = up.push_image("team/app", "1.0", "v1");

    let w = Wharf::start_with(&["--admin-password", ADMIN_PW, "--proxy-cache-ttl", "2"]);
    let registry_id = create_endpoint(&w, &up);
    let created = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(json!({"project_name": "hub", "registry_id": registry_id,
                "metadata": {"public": "false", "auto_scan": "true"}})),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let project = api(&w, "GET", "/api/v2.0/projects/hub", None).json();
    assert_eq!(project["registry_id"], registry_id);
    let plain = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(json!({"project_name": "local"})),
    );
    assert_eq!(plain.status, 201);
    let local = api(&w, "GET", "/api/v2.0/projects/local", None).json();
    assert!(local.get("registry_id").is_none(), "{local}");
    let bad = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(json!({"project_name": "nowhere", "registry_id": 99})),
    );
    assert_eq!(bad.status, 400, "{}", String::from_utf8_lossy(&bad.body));

    // A private cache: anonymous pulls are refused like anywhere else.
    let anonymous = curl("GET", &w.url("/v2/hub/team/app/manifests/1.0")).send();
    assert_eq!(anonymous.status, 401);

    // First pull: fetched from the upstream, identical to what was pushed there.
    let admin = format!("admin:{ADMIN_PW}");
    let image = format!("{}/hub/team/app:1.0", w.host());
    let first = d.join("first");
    pulled_ok(&skopeo_pull(&image, &admin, &first));
    assert_eq!(manifest_digest(&first), v1);
    let hex = layer1_digest.strip_prefix("sha256:").unwrap();
    assert_eq!(std::fs::read(first.join(hex)).unwrap(), layer1);
    let layer_path = format!("/v2/team/app/blobs/{layer1_digest}");
    // The layer came from the upstream: once as the client's pull stored it, or
    // twice when the background completion (300 ms later) started before the
    // client asked for it (a slow client: the client's copy then only streams).
    let first_gets = up.gets_of(&layer_path);
    assert!(
        (1..=2).contains(&first_gets),
        "{first_gets} upstream GETs of the layer"
    );

    let artifact = wait_cached(&w, "hub", "team/app", "1.0");
    assert_eq!(artifact["digest"], v1);
    // Cached content is scanned like pushed content (auto_scan is on). The layer is
    // no tar, so the scan may end in Error: what matters is that it ran.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = api(
            &w,
            "GET",
            "/api/v2.0/projects/hub/repositories/team%252Fapp/artifacts/1.0?with_scan_overview=true",
            None,
        )
        .json();
        let status = a["scan_overview"]
            ["application/vnd.security.vulnerability.report; version=1.1"]["scan_status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if status == "Success" || status == "Error" {
            break;
        }
        assert!(Instant::now() < deadline, "cached image never scanned: {a}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The endpoint a cache project fronts cannot be deleted.
    let delete = api(
        &w,
        "DELETE",
        &format!("/api/v2.0/registries/{registry_id}"),
        None,
    );
    assert_eq!(
        delete.status,
        412,
        "{}",
        String::from_utf8_lossy(&delete.body)
    );
    assert!(String::from_utf8_lossy(&delete.body).contains("hub"));

    // A member (guest) pulls from the cache; another user does not see it.
    for user in ["guest", "stranger"] {
        let r = api(
            &w,
            "POST",
            "/api/v2.0/users",
            Some(
                json!({"username": user, "password": "Pass-w0rd-123", "email": format!("{user}@x.io"), "realname": user}),
            ),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let member = api(
        &w,
        "POST",
        "/api/v2.0/projects/hub/members",
        Some(json!({"role_id": 3, "member_user": {"username": "guest"}})),
    );
    assert_eq!(
        member.status,
        201,
        "{}",
        String::from_utf8_lossy(&member.body)
    );
    let guest_pull = d.join("guest");
    pulled_ok(&skopeo_pull(&image, "guest:Pass-w0rd-123", &guest_pull));
    assert_eq!(manifest_digest(&guest_pull), v1);
    let stranger = skopeo_pull(&image, "stranger:Pass-w0rd-123", &d.join("stranger"));
    assert!(
        !stranger.status.success(),
        "a non-member pulled from a private cache"
    );

    // Pushes into the cache project are refused before any byte is sent.
    let upload = curl("POST", &w.url("/v2/hub/team/app/blobs/uploads/"))
        .arg("-u")
        .arg(&admin)
        .send();
    assert_eq!(
        upload.status,
        403,
        "{}",
        String::from_utf8_lossy(&upload.body)
    );
    assert_eq!(upload.error_code(), "DENIED");
    assert!(String::from_utf8_lossy(&upload.body).contains("proxy"));
    let manifest = std::fs::read(first.join("manifest.json")).unwrap();
    let put = curl("PUT", &w.url("/v2/hub/team/app/manifests/mine"))
        .arg("-u")
        .arg(&admin)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send();
    assert_eq!(put.status, 403, "{}", String::from_utf8_lossy(&put.body));
    assert_eq!(put.error_code(), "DENIED");
    let tag = api(
        &w,
        "POST",
        "/api/v2.0/projects/hub/repositories/team%252Fapp/artifacts/1.0/tags",
        Some(json!({"name": "mine"})),
    );
    assert_eq!(tag.status, 403, "{}", String::from_utf8_lossy(&tag.body));

    // Upstream down: the cached image is served (stale once the TTL has passed).
    let gets_before = up.gets_of(&layer_path);
    up.stop();
    std::thread::sleep(Duration::from_millis(3000));
    let second = d.join("second");
    pulled_ok(&skopeo_pull(&image, &admin, &second));
    assert_eq!(manifest_digest(&second), v1);
    assert_eq!(std::fs::read(second.join(hex)).unwrap(), layer1);
    assert!(
        w.log_text().contains("serving the cached tag (stale)"),
        "{}",
        w.log_text()
    );
    // ... and nothing the cache does not hold.
    let miss = curl("GET", &w.url("/v2/hub/team/other/manifests/1.0"))
        .arg("-u")
        .arg(&admin)
        .send();
    assert_eq!(miss.status, 503, "{}", String::from_utf8_lossy(&miss.body));
    assert_eq!(miss.error_code(), "UNAVAILABLE");
    assert!(String::from_utf8_lossy(&miss.body).contains("unreachable"));
    // Everything after the first pull was served from the cache.
    assert_eq!(gets_before, first_gets);

    // Rate-limited (429 on everything, on the upstream's port): still served.
    let stale_before = w.log_text().matches("(stale)").count();
    let limiter = RateLimiter::start(up.port);
    std::thread::sleep(Duration::from_millis(3000));
    let limited = d.join("limited");
    pulled_ok(&skopeo_pull(&image, &admin, &limited));
    assert_eq!(manifest_digest(&limited), v1);
    assert!(limiter.answered() > 0, "the limiter was asked");
    assert!(w.log_text().matches("(stale)").count() > stale_before);
    drop(limiter);
    // ... and counted.
    let metrics =
        String::from_utf8_lossy(&curl("GET", &w.url("/metrics")).send().body).into_owned();
    let count = |outcome: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "wharf_proxy_cache_events_total{{outcome=\"{outcome}\"}} "
                ))
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert!(count("stale") >= 2.0, "{metrics}");
    assert!(count("unavailable") >= 1.0, "{metrics}");
    assert!(count("fetched") >= 1.0, "{metrics}");

    // The tag moves upstream; after the TTL the cache sees it.
    up.restart();
    let (v2, _, layer2) = up.push_image("team/app", "1.0", "v2");
    assert_ne!(v1, v2);
    std::thread::sleep(Duration::from_millis(3000));
    let third = d.join("third");
    pulled_ok(&skopeo_pull(&image, &admin, &third));
    assert_eq!(manifest_digest(&third), v2);
    let cached = wait_cached(&w, "hub", "team/app", "1.0");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut cached_digest = cached["digest"].clone();
    while cached_digest != v2 {
        assert!(Instant::now() < deadline, "the moved tag was not stored");
        std::thread::sleep(Duration::from_millis(100));
        cached_digest = wait_cached(&w, "hub", "team/app", "1.0")["digest"].clone();
    }
    up.stop();
    let fourth = d.join("fourth");
    pulled_ok(&skopeo_pull(&image, &admin, &fourth));
    assert_eq!(manifest_digest(&fourth), v2);
    let hex2 = sha256(&layer2);
    assert_eq!(
        std::fs::read(fourth.join(hex2.strip_prefix("sha256:").unwrap())).unwrap(),
        layer2
    );
}

/// An upstream without authentication whose blob file was tampered with (same size,
/// other bytes): the pull fails, and the cache keeps nothing of that blob.
#[test]
fn a_corrupt_upstream_blob_is_refused_and_not_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut up = Upstream::start(&d.join("upstream"), "");
    let (_, layer_digest, layer) = up.push_image("bad", "1", "corrupt");
    let file = up.blob_file(&layer_digest);
    let mut tampered = std::fs::read(&file).unwrap();
    assert_eq!(tampered, layer);
    tampered[100] ^= 0xff;
    std::fs::write(&file, &tampered).unwrap();

    let w = Wharf::start_with(&["--admin-password", ADMIN_PW]);
    let registry_id = create_endpoint(&w, &up);
    let created = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(
            json!({"project_name": "cache", "registry_id": registry_id, "metadata": {"public": "true"}}),
        ),
    );
    assert_eq!(created.status, 201);

    // Two clients pull the same fresh image at once: both get it whole, and the
    // cache holds each blob once, byte for byte.
    let (good, good_layer_digest, good_layer) = up.push_image("good", "1", "concurrent");
    let pulls: Vec<_> = (0..2)
        .map(|i| {
            let image = format!("{}/cache/good:1", w.host());
            let into = d.join(format!("concurrent-{i}"));
            std::thread::spawn(move || {
                let out = skopeo_pull(&image, "", &into);
                (out, into)
            })
        })
        .collect();
    let good_hex = good_layer_digest.strip_prefix("sha256:").unwrap();
    for p in pulls {
        let (out, into) = p.join().unwrap();
        pulled_ok(&out);
        assert_eq!(manifest_digest(&into), good);
        assert_eq!(std::fs::read(into.join(good_hex)).unwrap(), good_layer);
    }
    wait_cached(&w, "cache", "good", "1");
    let stored = w
        .data_dir
        .join(format!("blobs/sha256/{}/{good_hex}", &good_hex[..2]));
    assert_eq!(std::fs::read(&stored).unwrap(), good_layer);
    let upstream_gets = up.gets_of(&format!("/v2/good/blobs/{good_layer_digest}"));
    assert!(
        (1..=2).contains(&upstream_gets),
        "{upstream_gets} upstream GETs of the layer for two concurrent pulls"
    );

    // An index: the platform pulled is fetched, the other one is not.
    let (_, amd64_layer, arm64_layer) = up.push_index("multi", "1");
    let out = skopeo_pull(&format!("{}/cache/multi:1", w.host()), "", &d.join("multi"));
    pulled_ok(&out);
    let amd64_hex = amd64_layer.strip_prefix("sha256:").unwrap();
    assert!(d.join("multi").join(amd64_hex).exists());
    assert_eq!(up.gets_of(&format!("/v2/multi/blobs/{amd64_layer}")), 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(up.gets_of(&format!("/v2/multi/blobs/{arm64_layer}")), 0);

    // Public cache project: anonymous pulls work.
    let image = format!("{}/cache/bad:1", w.host());
    let out = skopeo_pull(&image, "", &d.join("pulled"));
    assert!(
        !out.status.success(),
        "a corrupt blob must not be delivered whole"
    );

    // Nothing of it in the cache's blob store, nor served once the upstream is gone.
    std::thread::sleep(Duration::from_secs(2));
    let hex = layer_digest.strip_prefix("sha256:").unwrap();
    let stored = w.data_dir.join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    assert!(!stored.exists(), "{} was cached", stored.display());
    up.stop();
    let blob = curl(
        "GET",
        &w.url(&format!("/v2/cache/bad/blobs/{layer_digest}")),
    )
    .arg("-u")
    .arg(&format!("admin:{ADMIN_PW}"))
    .send();
    assert_eq!(blob.status, 503, "{}", String::from_utf8_lossy(&blob.body));
    assert!(w.log_text().contains("was not cached"), "{}", w.log_text());
}

/// When the upstream last confirmed a cached tag is kept in the database: after a
/// restart within the TTL, a pull of the tag asks the upstream nothing (its access log
/// shows no new request for it), and with the upstream stopped it is served without
/// any "stale" warning, because the cache never asked.
#[test]
fn tag_checks_survive_a_restart_so_the_upstream_is_not_asked_again_within_the_ttl() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut up = Upstream::start(&d.join("upstream"), "");
    let (v1, _, _) = up.push_image("team/app", "1.0", "checked");
    let data = d.join("wharf");
    std::fs::create_dir_all(&data).unwrap();
    let args = ["--admin-password", ADMIN_PW, "--proxy-cache-ttl", "600"];
    let mut w = Wharf::start_in(&data, &args);
    let registry_id = create_endpoint(&w, &up);
    let r = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(
            json!({"project_name": "hub", "registry_id": registry_id, "metadata": {"public": "true"}}),
        ),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let out = d.join("pulled");
    pulled_ok(&skopeo_pull(
        &format!("{}/hub/team/app:1.0", w.host()),
        "",
        &out,
    ));
    assert_eq!(manifest_digest(&out), v1);
    wait_cached(&w, "hub", "team/app", "1.0");

    let asked = || {
        std::fs::read_to_string(up.dir.join("registry.log"))
            .unwrap_or_default()
            .matches("/v2/team/app/manifests/1.0")
            .count()
    };
    let before = asked();
    assert!(before >= 1, "the first pull asked the upstream");
    w.terminate();
    let w = Wharf::start_in(&data, &args);
    pulled_ok(&skopeo_pull(
        &format!("{}/hub/team/app:1.0", w.host()),
        "",
        &out,
    ));
    assert_eq!(manifest_digest(&out), v1);
    assert_eq!(
        asked(),
        before,
        "the restarted cache asked the upstream again"
    );

    up.stop();
    pulled_ok(&skopeo_pull(
        &format!("{}/hub/team/app:1.0", w.host()),
        "",
        &out,
    ));
    assert_eq!(manifest_digest(&out), v1);
    let log = w.log_text();
    assert!(!log.contains("(stale)"), "{log}");
    assert!(!log.contains("serving the cached tag"), "{log}");
}

/// `skopeo copy` of one platform (`--override-arch`) from the cache into a `dir:`.
fn skopeo_pull_arch(image: &str, arch: &str, into: &Path) -> std::process::Output {
    common::require("skopeo");
    let _ = std::fs::remove_dir_all(into);
    Command::new("skopeo")
        .args(["--override-os", "linux", "--override-arch", arch])
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", into.display()))
        .output()
        .unwrap()
}

/// A real two-platform index (the test images' `multi:v1`) at the upstream, one
/// platform pulled through the cache: with the upstream stopped, the same pull by
/// tag still works (the index kept aside, the platform's manifest and layers from
/// the cache), also after a garbage collection that deletes untagged manifests; the
/// platform never pulled is a 503 `UNAVAILABLE` naming the unreachable upstream.
#[test]
fn a_platform_pulled_through_an_index_is_served_with_the_upstream_down() {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut up = Upstream::start(&d.join("upstream"), "");
    common::run(
        Command::new("skopeo")
            .args(["copy", "--all", "--dest-tls-verify=false"])
            .arg(common::oci_ref("multi", "v1"))
            .arg(format!("docker://{}/lib/multi:1", up.host())),
    );
    // What the upstream holds, read from it: the index and its two platforms.
    let index_body = up
        .curl("GET", "/v2/lib/multi/manifests/1")
        .header("Accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .body;
    let index: serde_json::Value = serde_json::from_slice(&index_body).unwrap();
    let platform = |arch: &str| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap_or_else(|| panic!("no {arch} in {index}"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (arm64, amd64) = (platform("arm64"), platform("amd64"));

    let w = Wharf::start_with(&["--admin-password", ADMIN_PW, "--gc-grace-period", "1"]);
    let registry_id = create_endpoint(&w, &up);
    let created = api(
        &w,
        "POST",
        "/api/v2.0/projects",
        Some(
            json!({"project_name": "mirror", "registry_id": registry_id, "metadata": {"public": "true"}}),
        ),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let image = format!("{}/mirror/lib/multi:1", w.host());
    let first = d.join("first");
    pulled_ok(&skopeo_pull_arch(&image, "arm64", &first));
    assert_eq!(manifest_digest(&first), arm64);
    // The platform is stored once its layers are (in the background).
    wait_cached(&w, "mirror", "lib/multi", &arm64);

    up.stop();
    // GC with delete_untagged, past the grace period: the index kept aside keeps the
    // cached platform (untagged: the index is no manifest row of its own).
    std::thread::sleep(Duration::from_secs(2));
    let gc = api(
        &w,
        "POST",
        "/api/v2.0/system/gc/schedule",
        Some(json!({"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": true}})),
    );
    assert_eq!(gc.status, 201, "{}", String::from_utf8_lossy(&gc.body));
    let job = gc
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = api(&w, "GET", &format!("/api/v2.0/jobs/{job}"), None).json();
        if j["status"] == "Success" {
            break;
        }
        assert!(Instant::now() < deadline && j["status"] != "Error", "{j}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let again = d.join("again");
    pulled_ok(&skopeo_pull_arch(&image, "arm64", &again));
    assert_eq!(manifest_digest(&again), arm64);
    for f in std::fs::read_dir(&first).unwrap() {
        let name = f.unwrap().file_name();
        assert_eq!(
            std::fs::read(first.join(&name)).unwrap(),
            std::fs::read(again.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    // The index by tag is the upstream's, byte for byte.
    let served = curl("GET", &w.url("/v2/mirror/lib/multi/manifests/1"))
        .header("Accept", "application/vnd.oci.image.index.v1+json")
        .arg("-u")
        .arg(&format!("admin:{ADMIN_PW}"))
        .send();
    assert_eq!(served.status, 200);
    assert_eq!(served.body, index_body);
    // The other platform was never pulled: nothing to serve it from.
    let never = skopeo_pull_arch(&image, "amd64", &d.join("never"));
    assert!(!never.status.success());
    let miss = curl(
        "GET",
        &w.url(&format!("/v2/mirror/lib/multi/manifests/{amd64}")),
    )
    .header("Accept", "application/vnd.oci.image.manifest.v1+json")
    .arg("-u")
    .arg(&format!("admin:{ADMIN_PW}"))
    .send();
    assert_eq!(miss.status, 503, "{}", String::from_utf8_lossy(&miss.body));
    assert_eq!(miss.error_code(), "UNAVAILABLE");
    assert!(
        w.log_text()
            .contains("serving the index kept for its cached platforms")
    );
}
