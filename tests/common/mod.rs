//! Shared test plumbing: start the real `wharf` binary on a free port, talk to
//! it with real clients (curl, skopeo, docker, buildah, oras), find the test
//! images built by `../shared/testing/make-test-images.sh`.
#![allow(dead_code)]

pub mod bucket;
pub mod identity;
pub mod receiver;
pub mod tag_rules;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the checkout (CI puts it there), or `$WHARF_SHARED`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("WHARF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

/// OCI layouts from make-test-images.sh; `scripts/test.sh` builds them.
pub fn test_images() -> PathBuf {
    let dir = std::env::var_os("WHARF_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-images"));
    assert!(
        dir.join("oci/small/index.json").exists(),
        "test images missing in {}: run scripts/test.sh (or ../shared/testing/make-test-images.sh {})",
        dir.display(),
        dir.display()
    );
    dir
}

pub fn oci_ref(image: &str, tag: &str) -> String {
    format!(
        "oci:{}:{tag}",
        test_images().join("oci").join(image).display()
    )
}

/// Fail (never skip) when a client the test needs is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        found.unwrap_or(false),
        "{tool} is not installed: run scripts/test.sh, which installs the test clients"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `wharf serve`, killed on drop.
pub struct Wharf {
    pub port: u16,
    pub data_dir: PathBuf,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
    pub log: PathBuf,
}

impl Wharf {
    pub fn start() -> Wharf {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Wharf::start_in(tmp.path(), &[]);
        w._tmp = Some(tmp);
        w
    }

    pub fn start_with(args: &[&str]) -> Wharf {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Wharf::start_in(tmp.path(), args);
        w._tmp = Some(tmp);
        w
    }

    /// Start on an existing data directory (restarts, crash recovery).
    pub fn start_in(dir: &Path, args: &[&str]) -> Wharf {
        Wharf::start_env(dir, args, &[])
    }

    /// Start with extra environment variables (configuration precedence tests).
    /// Tests that say nothing about access control get an open registry
    /// (`--auth=false`); `--auth`, `--admin-password` or `WHARF_ADMIN_PASSWORD`/`WHARF_AUTH`
    /// leave the decision to the server.
    pub fn start_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Wharf {
        Wharf::start_on(dir, free_port(), args, env)
    }

    /// Start on `port` (a restart where the old process listened: clients keep its URL).
    pub fn start_on(dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Wharf {
        let about_auth = args
            .iter()
            .any(|a| a.starts_with("--auth") || a.starts_with("--admin-password"))
            || env
                .iter()
                .any(|(k, _)| *k == "WHARF_ADMIN_PASSWORD" || *k == "WHARF_AUTH");
        let mut args = args.to_vec();
        if !about_auth {
            args.push("--auth=false");
        }
        let args = &args[..];
        let data_dir = dir.join("data");
        let log = dir.join(format!("wharf-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args)
            .envs(env.iter().copied())
            .env("WHARF_LOG", "info,wharf_registry=debug,tower_http=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wharf");
        let w = Wharf {
            port,
            data_dir,
            child: Some(child),
            _tmp: None,
            log,
        };
        w.wait_ready(args.contains(&"--tls-cert"));
        w
    }

    fn wait_ready(&self, tls: bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && (tls || matches!(curl("GET", &self.url("/v2/")).send().status, 200 | 401))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "wharf did not start; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        c.wait().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One HTTP exchange, made with the real curl binary.
pub struct Curl {
    args: Vec<String>,
    body: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn curl(method: &str, url: &str) -> Curl {
    let args = if method == "HEAD" {
        vec![
            "-sS".to_string(),
            "--path-as-is".into(),
            "-I".into(),
            url.into(),
        ]
    } else {
        vec![
            "-sS".to_string(),
            "--path-as-is".into(),
            "-X".into(),
            method.into(),
            url.into(),
        ]
    };
    Curl { args, body: None }
}

impl Curl {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.args.push("-H".into());
        self.args.push(format!("{name}: {value}"));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn send(self) -> Resp {
        let dir = tempfile::tempdir().unwrap();
        let (hfile, bfile) = (dir.path().join("h"), dir.path().join("b"));
        let mut cmd = Command::new("curl");
        cmd.args(&self.args)
            .arg("-D")
            .arg(&hfile)
            .arg("-o")
            .arg(&bfile)
            .arg("-w")
            .arg("%{http_code}");
        if let Some(body) = &self.body {
            let f = dir.path().join("in");
            std::fs::write(&f, body).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", f.display()));
        }
        let out = cmd.output().expect("running curl");
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        let raw = std::fs::read_to_string(&hfile).unwrap_or_default();
        // With redirects or 100-continue there can be several header blocks: keep the last.
        let block = raw.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
        let headers = block
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Resp {
            status,
            headers,
            body: std::fs::read(&bfile).unwrap_or_default(),
        }
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first OCI error code of an error body.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Run a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Push a blob monolithically; returns its digest.
pub fn push_blob(w: &Wharf, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let r = curl(
        "POST",
        &w.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")),
    )
    .header("Content-Type", "application/octet-stream")
    .body(data.to_vec())
    .send();
    assert_eq!(
        r.status,
        201,
        "pushing blob: {}",
        String::from_utf8_lossy(&r.body)
    );
    digest
}

/// A minimal OCI image manifest over a config and one layer, both pushed first.
pub fn push_image(w: &Wharf, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer bytes for {seed}");
    let cd = push_blob(w, repo, config.as_bytes());
    let ld = push_blob(w, repo, layer.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
    })
    .to_string()
    .into_bytes();
    let r = curl("PUT", &w.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send();
    assert_eq!(
        r.status,
        201,
        "pushing manifest: {}",
        String::from_utf8_lossy(&r.body)
    );
    (sha256(&manifest), manifest)
}

/// A real Docker engine (../shared/testing/start-dockerd.sh), stopped on drop.
pub struct Dockerd {
    dir: tempfile::TempDir,
    pid: u32,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        require("dockerd");
        require("docker");
        let dir = tempfile::tempdir().unwrap();
        let out = run(Command::new("bash")
            .arg(shared_dir().join("testing/start-dockerd.sh"))
            .arg(dir.path()));
        let pid = out
            .lines()
            .find_map(|l| l.strip_prefix("PID="))
            .expect("PID line")
            .trim()
            .parse()
            .unwrap();
        Dockerd { dir, pid }
    }

    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env(
            "DOCKER_HOST",
            format!("unix://{}/docker.sock", self.dir.path().display()),
        )
        .env("DOCKER_CONFIG", self.dir.path().join("config"));
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        for _ in 0..50 {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Policy files with a YAML syntax error, and where libyaml places the error (`LINE:COL`,
/// 1-based), as PyYAML's libyaml loader (`yaml.CSafeLoader`) reports its `problem_mark`:
/// a line indented with a TAB, an unclosed `[`, a key indented one space too far.
pub const YAML_SYNTAX_ERRORS: [(&str, &str, &str); 3] = [
    (
        "tab.yaml",
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n\tname: tabbed\nspec:\n  images: [\"**\"]\n  rules:\n    - name: sbom\n      sbom: {}\n",
        "4:1",
    ),
    (
        "bracket.yaml",
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n  name: unclosed\nspec:\n  images: [\"registry.example.com/**\"\n  rules:\n    - name: sbom\n      sbom: {}\n",
        "7:3",
    ),
    (
        "indent.yaml",
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n  name: indent\nspec:\n  images: [\"**\"]\n   rules:\n    - name: sbom\n      sbom: {}\n",
        "7:4",
    ),
];

/// Runs `cmd` under an address-space limit (`ulimit -v`, in KiB) and a deadline, so that
/// a runaway allocation fails the test (the process aborts) instead of exhausting the
/// machine, and a hang is killed. Output is captured.
pub fn run_bounded(cmd: &Command, limit_kib: u64, deadline: Duration) -> std::process::Output {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let mut child = sh.spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} still running after {deadline:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The real `wharf` binary run in `dir` as a registry client: the given environment
/// (credentials, key password), no WHARF_DB inherited from the caller's shell.
pub fn wharf_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("WHARF_DB")
        .args(args)
        .output()
        .unwrap()
}

/// A finished command's stdout; panics with its exit code and both streams if it failed.
pub fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A registry manifest's digest as skopeo reads it (plain HTTP, `user:password`).
pub fn skopeo_digest(reference: &str, creds: &str) -> String {
    require("skopeo");
    let raw = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", creds])
        .arg(format!("docker://{reference}")));
    sha256(raw.as_bytes())
}

/// The real PyPA advisories (`vulndata/pypa`) imported into a fresh vulnerability
/// database at `db`: what the servers' scans in the tests match against.
pub fn import_pypa(db: &Path) {
    let pypa = shared_dir().join("vulndata/pypa/vulns");
    assert!(pypa.is_dir(), "advisories missing at {}", pypa.display());
    stdout_ok(&wharf_db(
        &["db", "import", "osv", pypa.to_str().unwrap()],
        db,
    ));
}

/// `wharf ARGS --db DB`: a scanner verb (`scan`, `db …`) on its own vulnerability database.
pub fn wharf_db(args: &[&str], db: &Path) -> Output {
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--db", db.to_str().unwrap()])
        .collect();
    wharf_in(Path::new("."), &[], &args)
}

/// (VulnerabilityID, PkgName, InstalledVersion) of every finding in a Trivy-shaped JSON
/// report (Wharf's or Trivy's own).
pub fn vuln_keys(
    report: &serde_json::Value,
) -> std::collections::BTreeSet<(String, String, String)> {
    report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_string();
            (s("VulnerabilityID"), s("PkgName"), s("InstalledVersion"))
        })
        .collect()
}

/// CNCF Distribution 2.8 (Debian's `docker-registry`), the reference registry, through
/// ../shared/testing/reference-registry.sh: on a free port and its own data directory,
/// with htpasswd auth when `creds` (`user:password`) is not empty. It can be stopped and
/// started again on the same port with its content; killed on drop.
pub struct Distribution {
    pub dir: PathBuf,
    pub port: u16,
    pub creds: String,
    pid: Option<u32>,
}

impl Distribution {
    pub fn start(dir: &Path, creds: &str) -> Distribution {
        require("docker-registry");
        if !creds.is_empty() {
            require("htpasswd");
        }
        let mut d = Distribution {
            dir: dir.to_path_buf(),
            port: free_port(),
            creds: creds.to_string(),
            pid: None,
        };
        d.restart();
        d
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let out = run(
            Command::new(shared_dir().join("testing/reference-registry.sh"))
                .arg(self.port.to_string())
                .arg(&self.dir)
                .arg(&self.creds),
        );
        let pid = out
            .lines()
            .filter_map(|l| l.strip_prefix("PID="))
            .next_back()
            .expect("PID= line")
            .trim()
            .parse()
            .unwrap();
        self.pid = Some(pid);
    }

    /// Stops it and waits until its port is closed: "down" must really be down.
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                assert!(Instant::now() < deadline, "Distribution did not stop");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// (VulnerabilityID, PkgName, InstalledVersion) of the real Trivy's offline scan of the
/// OCI layout `layout`, with the DB in `cache` and `extra` flags (`--skip-db-update`, or a
/// `--db-repository` to download it from).
pub fn trivy_vuln_keys(
    cache: &Path,
    layout: &Path,
    extra: &[&str],
) -> std::collections::BTreeSet<(String, String, String)> {
    require("trivy");
    let out = Command::new("trivy")
        .args(["image", "--quiet", "--format", "json", "--scanners", "vuln"])
        .args([
            "--offline-scan",
            "--skip-java-db-update",
            "--skip-version-check",
            "--disable-telemetry",
        ])
        .arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .arg("--input")
        .arg(layout)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out))
        .unwrap_or_else(|e| panic!("trivy's report is not JSON: {e}"));
    vuln_keys(&v)
}

// OCI layouts made in tests: a test image plus one layer of files.

pub fn sha256_hex(data: &[u8]) -> String {
    sha256(data).trim_start_matches("sha256:").to_string()
}

pub fn write_blob(layout: &Path, data: &[u8]) -> String {
    let hex = sha256_hex(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

pub fn read_blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap()
}

/// An OCI layout at `dst`: `base`'s image (or an empty one) plus one uncompressed layer
/// holding `files`, tagged `t`. Returns the new layer's digest (= its diff id).
pub fn layout_with_layer(
    dst: &Path,
    base: Option<(&Path, &str)>,
    files: &[(&str, &[u8])],
) -> String {
    let (mut config, mut manifest) = match base {
        Some((src, tag)) => {
            run(Command::new("cp").arg("-a").arg(src).arg(dst));
            let index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(src.join("index.json")).unwrap()).unwrap();
            let m = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
                .unwrap();
            let manifest: serde_json::Value =
                serde_json::from_slice(&read_blob(src, m["digest"].as_str().unwrap())).unwrap();
            let config: serde_json::Value = serde_json::from_slice(&read_blob(
                src,
                manifest["config"]["digest"].as_str().unwrap(),
            ))
            .unwrap();
            (config, manifest)
        }
        None => {
            std::fs::create_dir_all(dst).unwrap();
            std::fs::write(dst.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
            (
                serde_json::json!({"architecture": "amd64", "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": []}, "history": []}),
                serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "layers": []}),
            )
        }
    };
    let tree = tempfile::tempdir().unwrap();
    for (path, data) in files {
        let p = tree.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let tar = tempfile::NamedTempFile::new().unwrap();
    let tops: std::collections::BTreeSet<&str> = files
        .iter()
        .map(|(p, _)| p.split('/').next().unwrap())
        .collect();
    run(Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-cf"])
        .arg(tar.path())
        .arg("-C")
        .arg(tree.path())
        .args(tops));
    let layer = std::fs::read(tar.path()).unwrap();
    let digest = write_blob(dst, &layer);
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(digest));
    if let Some(h) = config["history"].as_array_mut() {
        h.push(serde_json::json!({"created_by": "test layer"}));
    }
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = write_blob(dst, &config);
    manifest["config"] = serde_json::json!({"mediaType": "application/vnd.oci.image.config.v1+json",
                                "digest": config_digest, "size": config.len()});
    manifest["layers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": digest, "size": layer.len()}));
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = write_blob(dst, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dst.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    digest
}

/// `npm ci` of tests/portal (playwright-core, axe-core), once.
pub fn portal_node_modules() -> PathBuf {
    let dir = repo_root().join("tests/portal");
    if !dir.join("node_modules/playwright-core").is_dir()
        || !dir.join("node_modules/axe-core").is_dir()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The digests of an image manifest's config and layers, in order.
pub fn blob_digests(manifest: &str) -> Vec<String> {
    let m: serde_json::Value = serde_json::from_str(manifest).unwrap();
    let mut out = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        out.push(l["digest"].as_str().unwrap().to_string());
    }
    out
}

/// The `Location` of a response whose header block is `head` (curl's `-D -`).
pub fn location_in(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or_else(|| panic!("no Location in {head}"))
        .trim()
        .to_string()
}
