//! `wharf admission serve` end to end: a real Wharf registry with pushed
//! images, the webhook over HTTPS with a self-signed certificate (openssl),
//! and the AdmissionReview v1 fixtures POSTed with curl as the API server
//! would send them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::Value;

/// The registry host the fixtures name; replaced by the test registry's.
const FIXTURE_HOST: &str = "wharf.test:5000";

const WORKLOADS: &[&str] = &[
    "pod.json",
    "pod-ephemeral.json",
    "deployment.json",
    "replicaset.json",
    "statefulset.json",
    "daemonset.json",
    "job.json",
    "cronjob.json",
];

fn fixture(name: &str, host: &str) -> String {
    let path = repo_root().join("tests/fixtures/admission").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace(FIXTURE_HOST, host)
}

/// A self-signed certificate for 127.0.0.1, made with the openssl CLI.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    require("openssl");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=wharf-admission",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null()));
    (cert, key)
}

/// A running `wharf admission serve`, killed on drop.
struct Webhook {
    port: u16,
    cert: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Webhook {
    fn start(args: &[&str]) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path());
        let port = free_port();
        let log = dir.path().join("admission.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args([
                "admission",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(args)
            .env("WHARF_LOG", "info")
            .env("DOCKER_CONFIG", dir.path().join("no-docker-config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wharf admission serve");
        let w = Webhook {
            port,
            cert,
            log,
            child: Some(child),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if w.curl("GET", "/healthz").send().status == 200 {
                return w;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("webhook did not start; log:\n{}", w.log_text());
    }

    fn curl(&self, method: &str, path: &str) -> Curl {
        curl(method, &format!("https://127.0.0.1:{}{path}", self.port))
            .arg("--cacert")
            .arg(self.cert.to_str().unwrap())
    }

    /// POSTs a review; returns the HTTP status and the body as JSON (or a string).
    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .curl("POST", path)
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec())
            .send();
        let v = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()));
        (r.status, v)
    }

    /// The `response` of an answered review.
    fn review(&self, path: &str, body: &str) -> Value {
        let (status, v) = self.post(path, body);
        assert_eq!(status, 200, "{v}\nlog:\n{}", self.log_text());
        assert_eq!(
            (v["apiVersion"].as_str(), v["kind"].as_str()),
            (Some("admission.k8s.io/v1"), Some("AdmissionReview"))
        );
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["response"]["uid"], sent["request"]["uid"], "uid echoed");
        v["response"].clone()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        c.wait().unwrap()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Digests of the images the fixtures use, as pushed.
struct Pushed {
    app: String,
    debug: String,
}

/// A registry holding every image the fixtures use.
fn registry_with_images() -> (Wharf, Pushed) {
    let registry = Wharf::start();
    let (app, _) = push_image(&registry, "team/app", "1.0", "app");
    push_image(&registry, "team/metrics", "2", "metrics");
    let (debug, _) = push_image(&registry, "team/debug", "1", "debug");
    (registry, Pushed { app, debug })
}

/// The image a fixture's review checks (on UPDATE only what is new: the
/// ephemeral container) and its pushed digest.
fn probe<'a>(fixture: &str, pushed: &'a Pushed) -> (&'static str, &'static str, &'a str) {
    if fixture == "pod-ephemeral.json" {
        ("team/debug:1", "team/debug:nope", &pushed.debug)
    } else {
        ("team/app:1.0", "team/app:nope", &pushed.app)
    }
}

fn default_webhook(registry: &Wharf, extra: &[&str]) -> Webhook {
    let host = registry.host();
    let mut args = vec![
        "--insecure-registry",
        &host,
        "--allow-registry",
        &host,
        "--exclude-namespace",
        "kube-system",
    ];
    args.extend_from_slice(extra);
    Webhook::start(&args)
}

#[test]
fn every_workload_kind_is_allowed_when_its_images_exist_and_denied_when_a_tag_does_not() {
    let (registry, pushed) = registry_with_images();
    let webhook = default_webhook(&registry, &[]);
    let host = registry.host();
    for name in WORKLOADS {
        let body = fixture(name, &host);
        let r = webhook.review("/validate", &body);
        assert_eq!(r["allowed"], true, "{name}: {r}");

        let (image, missing_image, _) = probe(name, &pushed);
        let missing = body.replace(image, missing_image);
        let r = webhook.review("/validate", &missing);
        assert_eq!(r["allowed"], false, "{name}: {r}");
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "image \"{host}/{missing_image}\": {host}/{missing_image} does not exist in the registry"
            )),
            "{name}: {msg}"
        );
    }
    // One line per decision, with who and what; kinds without pods pass unchecked.
    let log = webhook.log_text();
    assert!(
        log.contains("uid=a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d") && log.contains("kind=Deployment"),
        "{log}"
    );
    assert!(log.contains("allowed=false"), "{log}");
    for name in ["configmap.json", "delete-deployment.json"] {
        assert_eq!(
            webhook.review("/validate", &fixture(name, &host))["allowed"],
            true,
            "{name}"
        );
    }
}

#[test]
fn an_init_container_that_violates_denies_the_pod_although_its_main_container_passes() {
    let (registry, _) = registry_with_images();
    let webhook = default_webhook(&registry, &[]);
    let host = registry.host();
    let r = webhook.review("/validate", &fixture("pod-bad-init.json", &host));
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(
        r["status"]["message"],
        format!(
            "init container \"setup\" image \"docker.io/library/busybox:1.36\": registry docker.io is not allowed (allowed: {host})"
        )
    );
}

#[test]
fn the_mutating_patch_pins_every_image_to_the_pushed_digest() {
    let (registry, pushed) = registry_with_images();
    let webhook = default_webhook(&registry, &[]);
    let host = registry.host();
    for name in WORKLOADS {
        let body = fixture(name, &host);
        let r = webhook.review("/mutate", &body);
        assert_eq!(r["allowed"], true, "{name}: {r}");
        assert_eq!(r["patchType"], "JSONPatch", "{name}");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(r["patch"].as_str().unwrap())
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();

        let mut object = serde_json::from_str::<Value>(&body).unwrap()["request"]["object"].take();
        json_patch::patch(&mut object, &patch)
            .unwrap_or_else(|e| panic!("{name}: patch does not apply: {e}"));
        let text = object.to_string();
        // Every checked image is pinned to the digest the registry holds, and nothing else changed.
        let (image, _, digest) = probe(name, &pushed);
        assert!(
            text.contains(&format!("\"{host}/{image}@{digest}\"")),
            "{name}: {text}"
        );
        assert!(
            !text.contains(&format!("\"{host}/{image}\"")),
            "{name}: unpinned image left"
        );
        if *name == "pod-ephemeral.json" {
            // The running container was admitted before; the update leaves it alone.
            assert_eq!(
                object["spec"]["containers"][0]["image"],
                format!("{host}/team/app:1.0")
            );
        }
        let mut expected: Value =
            serde_json::from_str::<Value>(&body).unwrap()["request"]["object"].take();
        let unpin = |s: &str| s.split('@').next().unwrap().to_string();
        strip_pins(&mut object, &unpin);
        strip_pins(&mut expected, &unpin);
        assert_eq!(
            object, expected,
            "{name}: the patch changed more than images"
        );
    }
    // The CronJob's pointer goes through the job template.
    let r = webhook.review("/mutate", &fixture("cronjob.json", &host));
    let patch = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(r["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        patch.contains("/spec/jobTemplate/spec/template/spec/containers/0/image"),
        "{patch}"
    );
    // A second review of the same tags is answered from the digest cache.
    assert_eq!(
        webhook.review("/mutate", &fixture("deployment.json", &host))["allowed"],
        true
    );
}

/// Removes `@digest` from every `image` string, to compare objects up to pinning.
fn strip_pins(v: &mut Value, unpin: &dyn Fn(&str) -> String) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if k == "image" => *s = unpin(s),
                    _ => strip_pins(x, unpin),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip_pins(x, unpin)),
        _ => {}
    }
}

#[test]
fn audit_mode_allows_with_warnings_and_exclusions_skip_checks() {
    let (registry, _) = registry_with_images();
    let host = registry.host();
    let webhook = default_webhook(&registry, &["--mode", "audit"]);
    let r = webhook.review(
        "/validate",
        &fixture("deployment.json", &host).replace("team/app:1.0", "team/app:nope"),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{r}");
    assert!(
        warnings[0].as_str().unwrap().starts_with(&format!(
            "audit: would deny: container \"app\" image \"{host}/team/app:nope\""
        )),
        "{r}"
    );
    // Audit mode still pins what resolved.
    let r = webhook.review("/mutate", &fixture("pod-bad-init.json", &host));
    assert_eq!(
        (r["allowed"].as_bool(), r["patchType"].as_str()),
        (Some(true), Some("JSONPatch")),
        "{r}"
    );
    assert_eq!(r["warnings"].as_array().unwrap().len(), 1, "{r}");
    drop(webhook);

    let webhook = default_webhook(
        &registry,
        &["--exclude-image", "docker.io/library/busybox:*"],
    );
    // Excluded namespace: a missing tag from a forbidden registry passes unchecked.
    let body = fixture("deployment.json", &host)
        .replace("\"shop\"", "\"kube-system\"")
        .replace(&host, "docker.io");
    let r = webhook.review("/validate", &body);
    assert_eq!(
        (r["allowed"].as_bool(), r.get("warnings")),
        (Some(true), None),
        "{r}"
    );
    // Excluded image: the busybox init container is not checked, the rest is.
    assert_eq!(
        webhook.review("/validate", &fixture("pod-bad-init.json", &host))["allowed"],
        true
    );
}

#[test]
fn bad_requests_get_400_and_the_server_stops_cleanly() {
    let (registry, _) = registry_with_images();
    let mut webhook = default_webhook(&registry, &[]);
    let (status, body) = webhook.post("/validate", "{\"apiVersion\":");
    assert_eq!(status, 400);
    assert!(
        body.as_str()
            .unwrap()
            .starts_with("the body is not a valid AdmissionReview"),
        "{body}"
    );
    let (status, body) = webhook.post(
        "/mutate",
        r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#,
    );
    assert_eq!(status, 400);
    assert!(
        body.as_str()
            .unwrap()
            .contains("this webhook speaks admission.k8s.io/v1"),
        "{body}"
    );
    assert_eq!(webhook.curl("GET", "/validate").send().status, 405);
    assert!(
        webhook.terminate().success(),
        "log:\n{}",
        webhook.log_text()
    );
}

/// `--policy` puts the CI gate's evaluator in the webhook: a signed image passes, an
/// unsigned one and one with findings over the policy's severity are denied with the
/// rule and the CVE IDs (taken from `wharf scan` of the same image, not written here).
#[test]
fn policy_files_decide_with_the_same_evaluator_as_the_ci_gate() {
    require("skopeo");
    let registry = Wharf::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let wharf = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .current_dir(d)
            .env("COSIGN_PASSWORD", "pw")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "wharf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let push = |image: &str, dest: &str| {
        run(Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!(
                "oci:{}:v1",
                test_images().join("oci").join(image).display()
            ))
            .arg(format!("docker://{host}/{dest}")));
    };
    push("small", "team/app:1.0");
    push("small", "team/unsigned:1");
    push("pyapp", "team/vulnerable:1");
    wharf(&["key", "generate", "--output-key-prefix", "ci"]);
    for image in ["team/app:1.0", "team/vulnerable:1"] {
        wharf(&[
            "sign",
            "--insecure",
            "--key",
            "ci.key",
            &format!("{host}/{image}"),
        ]);
    }
    let db = d.join("vuln.db");
    wharf(&[
        "db",
        "import",
        "osv",
        "--db",
        db.to_str().unwrap(),
        shared_dir().join("vulndata/pypa/vulns").to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&wharf(&[
        "scan",
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
        &oci_ref("pyapp", "v1"),
    ]))
    .unwrap();
    let high: Vec<String> = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .filter(|v| matches!(v["Severity"].as_str(), Some("HIGH" | "CRITICAL")))
        .map(|v| v["VulnerabilityID"].as_str().unwrap().to_string())
        .collect();
    assert!(!high.is_empty());
    std::fs::write(
        d.join("policy.yaml"),
        format!(
            "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n  name: team\nspec:\n  images: [\"{host}/team/**\"]\n  rules:\n\
             \x20   - name: signed-by-ci\n      signatures:\n        anyOf: [{{key: ci.pub}}]\n\
             \x20   - name: no-high-vulns\n      vulnerabilities:\n        maxSeverity: MEDIUM\n"
        ),
    )
    .unwrap();
    let policy = d.join("policy.yaml");
    let webhook = Webhook::start(&[
        "--insecure-registry",
        &host,
        "--policy",
        policy.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    let pod = fixture("pod.json", &host);

    let r = webhook.review("/validate", &pod);
    assert_eq!(r["allowed"], true, "signed and clean: {r}");

    let r = webhook.review("/validate", &pod.replace("team/app:1.0", "team/unsigned:1"));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("team/signed-by-ci"), "{msg}");
    assert!(
        !msg.contains("no-high-vulns"),
        "the small image has no findings: {msg}"
    );

    let r = webhook.review(
        "/validate",
        &pod.replace("team/app:1.0", "team/vulnerable:1"),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("team/no-high-vulns") && !msg.contains("signed-by-ci"),
        "{msg}"
    );
    assert!(
        high.iter().any(|id| msg.contains(id.as_str())),
        "{msg} names none of {high:?}"
    );

    // The same policy in the CI gate gives the same answers.
    let gate = |image: &str| {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .current_dir(d)
            .args([
                "policy",
                "check",
                "--insecure",
                "--policy",
                "policy.yaml",
                "--db",
                db.to_str().unwrap(),
                &format!("{host}/{image}"),
            ])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(gate("team/app:1.0"), Some(0));
    assert_eq!(gate("team/unsigned:1"), Some(1));
    assert_eq!(gate("team/vulnerable:1"), Some(1));

    // A broken policy file stops the webhook from starting, with the file named.
    std::fs::write(d.join("bad.yaml"), "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata: {name: x}\nspec: {images: [a], rules: [{name: r, nope: 1}]}\n").unwrap();
    let out = serve_with_policy(&d.join("bad.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.yaml"),
        "{out:?}"
    );
}

/// `wharf admission serve` over plain HTTP on a free port with one policy file.
fn serve_with_policy(policy: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.args([
        "admission",
        "serve",
        "--insecure-http",
        "--listen",
        "127.0.0.1:0",
        "--policy",
    ])
    .arg(policy);
    cmd
}

/// A policy file with a YAML syntax error stops the webhook from starting: exit 2 with
/// `FILE:LINE:COL`, in bounded memory and time. Positions are libyaml's.
#[test]
fn a_policy_with_a_yaml_syntax_error_stops_the_webhook_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, yaml, line_col) in YAML_SYNTAX_ERRORS {
        let file = tmp.path().join(name);
        std::fs::write(&file, yaml).unwrap();
        let out = run_bounded(
            &serve_with_policy(&file),
            2_000_000,
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}:{line_col}: ", file.display())),
            "{name}: expected {line_col} in {err}"
        );
    }
}

#[test]
fn plain_http_only_when_asked() {
    // HTTPS unless plain HTTP is asked for explicitly.
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["admission", "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-cert"),
        "{out:?}"
    );
}

/// Manifest digest of `tag` in an OCI test-image layout, from its index.json.
fn layout_digest(image: &str, tag: &str) -> String {
    let index: Value = serde_json::from_slice(
        &std::fs::read(test_images().join("oci").join(image).join("index.json")).unwrap(),
    )
    .unwrap();
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag);
    m.unwrap_or_else(|| panic!("{image}:{tag}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn images_pushed_with_skopeo_are_pinned_to_their_manifest_or_index_digest() {
    require("skopeo");
    let registry = Wharf::start();
    let host = registry.host();
    for (image, repo) in [("small", "team/small"), ("multi", "team/multi")] {
        run(Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--all",
                "--dest-tls-verify=false",
            ])
            .arg(oci_ref(image, "v1"))
            .arg(format!("docker://{host}/{repo}:v1")));
    }
    let webhook = default_webhook(&registry, &[]);
    let mut review: Value = serde_json::from_str(&fixture("pod.json", &host)).unwrap();
    let spec = &mut review["request"]["object"]["spec"];
    spec["initContainers"][0]["image"] = format!("{host}/team/small:v1").into();
    spec["containers"][0]["image"] = format!("{host}/team/multi:v1").into();
    let body = review.to_string();
    let r = webhook.review("/mutate", &body);
    assert_eq!(r["allowed"], true, "{r}");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(r["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
    let mut object = serde_json::from_str::<Value>(&body).unwrap()["request"]["object"].take();
    json_patch::patch(&mut object, &patch).unwrap();
    // The init container runs the single-platform image, the app the multi-arch index.
    assert_eq!(
        object["spec"]["initContainers"][0]["image"],
        format!("{host}/team/small:v1@{}", layout_digest("small", "v1"))
    );
    assert_eq!(
        object["spec"]["containers"][0]["image"],
        format!("{host}/team/multi:v1@{}", layout_digest("multi", "v1"))
    );
}

#[test]
fn answers_within_the_timeout_the_api_server_asks_for() {
    // A registry that accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let webhook = Webhook::start(&["--insecure-registry", &host, "--timeout", "8s"]);
    let body = fixture("deployment.json", &host);
    let started = Instant::now();
    let r = webhook.review("/validate?timeout=1s", &body);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.ends_with(
            "no answer within the 900 ms budget (could not be checked; failure policy: fail)"
        ),
        "{msg}"
    );
    drop(silent);
}
