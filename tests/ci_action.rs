//! The GitHub Action (`github-action/action.yml`) run the way the runner runs a
//! composite action (`github-action/test/runner.py`: inputs substituted, GITHUB_OUTPUT,
//! GITHUB_STEP_SUMMARY, RUNNER_TEMP, actions/cache against a local directory) against
//! a real `wharf serve` with access control on. Expected values come from elsewhere:
//! digests from skopeo, findings from `wharf scan` run directly, SARIF validity from
//! the OASIS SARIF 2.1.0 schema, signatures from `wharf verify`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Wharf, stdout_ok as ok};
use serde_json::Value;

const PW: &str = "Adm1n-pass";
const KEY_PW: &str = "key-password";

fn action_dir() -> PathBuf {
    common::repo_root().join("github-action")
}

/// PATH without any directory holding a `wharf`, so that the action's installer
/// decides by its inputs alone.
fn path_without_wharf() -> String {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|d| !d.join("wharf").exists())
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// One run of the action: the runner emulator's JSON (success, exit_code, outputs,
/// summary, annotations, steps). `files` are inputs whose value is a file's text,
/// as a secret would hold it.
fn action(d: &Path, name: &str, inputs: &[(&str, &str)], files: &[(&str, &Path)]) -> Value {
    common::require("python3");
    common::require("jq");
    let mut cmd = Command::new("python3");
    cmd.arg(action_dir().join("test/runner.py"))
        .arg(action_dir())
        .arg("--workspace")
        .arg(d)
        .arg("--cache-root")
        .arg(d.join("actions-cache"))
        .arg("--temp")
        .arg(d.join(format!("runner-{name}")))
        .env("PATH", path_without_wharf())
        .current_dir(d);
    for (k, v) in inputs {
        cmd.arg("--input").arg(format!("{k}={v}"));
    }
    for (k, f) in files {
        cmd.arg("--input-file").arg(format!("{k}={}", f.display()));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["log"] = String::from_utf8_lossy(&out.stderr).into_owned().into();
    v
}

/// One job of the GitLab template, run as a GitLab runner's shell executor would.
fn gitlab_job(job: &str, project: &Path, vars: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(action_dir().join("test/gitlab_job.py"))
        .arg(action_dir().join("gitlab/wharf.gitlab-ci.yml"))
        .arg(job)
        .arg("--project-dir")
        .arg(project)
        .env("PATH", path_without_wharf());
    for (k, v) in vars {
        cmd.arg("--var").arg(format!("{k}={v}"));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn wharf(d: &Path, args: &[&str]) -> Output {
    common::wharf_in(
        d,
        &[
            ("COSIGN_PASSWORD", KEY_PW),
            ("WHARF_USERNAME", "admin"),
            ("WHARF_PASSWORD", PW),
        ],
        args,
    )
}

fn skopeo_push(w: &Wharf, image: &str, repo: &str) -> String {
    common::require("skopeo");
    let dest = format!("{}/{repo}:v1", w.host());
    common::run(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false", "--dest-creds"])
            .arg(format!("admin:{PW}"))
            .arg(common::oci_ref(image, "v1"))
            .arg(format!("docker://{dest}")),
    );
    dest
}

/// The manifest digest as skopeo reads it from the registry.
fn skopeo_digest(reference: &str) -> String {
    common::skopeo_digest(reference, &format!("admin:{PW}"))
}

fn check_sarif(path: &str) {
    common::require("check-jsonschema");
    common::run(
        Command::new("check-jsonschema")
            .arg("--schemafile")
            .arg(action_dir().join("test/schemas/sarif-schema-2.1.0.json"))
            .arg(path),
    );
}

fn assert_ok(r: &Value) {
    assert_eq!(r["success"], true, "{}", r["log"].as_str().unwrap_or(""));
}

fn errors(r: &Value) -> Vec<String> {
    r["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["level"] == "error")
        .map(|a| {
            format!(
                "{}: {}",
                a["title"].as_str().unwrap_or(""),
                a["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// Severity counts from Trivy-shaped scan JSON.
fn severity_counts(report: &Value) -> Vec<(String, usize)> {
    let all: Vec<String> = report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|v| v["Severity"].as_str().unwrap().to_string())
        .collect();
    ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
        .iter()
        .map(|s| (s.to_string(), all.iter().filter(|x| x == s).count()))
        .collect()
}

#[test]
fn action_runs_each_command_against_wharf_serve() {
    let w = Wharf::start_with(&["--admin-password", PW]);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bin = env!("CARGO_BIN_EXE_wharf");
    let common_inputs = [
        ("wharf-path", bin),
        ("insecure", "true"),
        ("username", "admin"),
        ("password", PW),
    ];
    let with = |extra: &[(&'static str, &str)]| -> Vec<(&str, String)> {
        common_inputs
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain(extra.iter().map(|(k, v)| (*k, v.to_string())))
            .collect()
    };
    let run = |name: &str, inputs: Vec<(&str, String)>, files: &[(&str, &Path)]| {
        let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        action(d, name, &inputs, files)
    };

    let small = skopeo_push(&w, "small", "library/small");
    let pyapp = skopeo_push(&w, "pyapp", "library/pyapp");
    let small_digest = skopeo_digest(&small);
    let pyapp_digest = skopeo_digest(&pyapp);

    // The DB from the real PyPA advisories, published as `wharf db push` does.
    let pypa = common::shared_dir().join("vulndata/pypa/vulns");
    let local_db = d.join("local.db");
    let local_db = local_db.to_str().unwrap();
    ok(&wharf(
        d,
        &[
            "db",
            "--db",
            local_db,
            "import",
            "osv",
            pypa.to_str().unwrap(),
        ],
    ));
    let db_ref = format!("{}/library/vulndb:latest", w.host());
    ok(&wharf(
        d,
        &["db", "--db", local_db, "push", "--insecure", &db_ref],
    ));
    let db_digest = skopeo_digest(&db_ref);
    let cache_dir = d.join("db-cache");
    let cache_dir = cache_dir.to_str().unwrap();

    // db-pull: the cache key is the DB's digest; the second run restores it.
    let db_inputs = [
        ("command", "db-pull"),
        ("vuln-db-ref", db_ref.as_str()),
        ("cache-dir", cache_dir),
    ];
    let r = run("db1", with(&db_inputs), &[]);
    assert_ok(&r);
    assert_eq!(r["outputs"]["db-digest"], db_digest.as_str());
    assert_eq!(r["outputs"]["db-cache-hit"], "false");
    let restore = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "db-restore")
        .unwrap();
    assert_eq!(
        restore["with"]["key"],
        format!("wharf-db-{db_digest}").as_str()
    );
    std::fs::remove_dir_all(cache_dir).unwrap();
    let r = run("db2", with(&db_inputs), &[]);
    assert_ok(&r);
    assert_eq!(r["outputs"]["db-cache-hit"], "true");
    let pull = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "db-pull")
        .unwrap();
    assert_eq!(pull["outcome"], "skipped", "a cache hit does not pull");
    assert!(r["summary"].as_str().unwrap().contains(&db_digest));
    let pulled_db = Path::new(cache_dir).join("vuln.db");
    let info: Value = serde_json::from_str(&ok(&wharf(
        d,
        &["db", "--db", pulled_db.to_str().unwrap(), "info", "--json"],
    )))
    .unwrap();
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("| Advisories | {} |", info["advisories"]))
    );

    // scan: report, SARIF, digest, summary counts = `wharf scan` run directly.
    let direct: Value = serde_json::from_str(&ok(&wharf(
        d,
        &[
            "scan",
            "--insecure",
            "--db",
            pulled_db.to_str().unwrap(),
            "--format",
            "json",
            &pyapp,
        ],
    )))
    .unwrap();
    let counts = severity_counts(&direct);
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    assert!(total > 0, "pyapp has known-vulnerable packages");
    let r = run(
        "scan",
        with(&[
            ("command", "scan"),
            ("image", &pyapp),
            ("vuln-db-ref", &db_ref),
            ("cache-dir", cache_dir),
        ]),
        &[],
    );
    assert_ok(&r);
    let o = &r["outputs"];
    assert_eq!(o["digest"], pyapp_digest.as_str());
    assert_eq!(o["decision"], "passed");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(o["report"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(severity_counts(&report), counts);
    check_sarif(o["sarif"].as_str().unwrap());
    let summary = r["summary"].as_str().unwrap();
    for (sev, n) in &counts {
        assert!(
            summary.contains(&format!("| {sev} | {n} |")),
            "{sev} {n} missing:\n{summary}"
        );
    }
    assert!(
        summary.contains(&format!("| **Total** | **{total}** |")),
        "{summary}"
    );
    assert!(errors(&r).is_empty());
    assert!(
        r["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["level"] == "warning")
    );

    // scan with exit-code 1 and a severity filter: the step fails with an ::error.
    let high = counts.iter().find(|(s, _)| s == "HIGH").unwrap().1;
    assert!(high > 0, "pyapp has HIGH findings");
    let r = run(
        "scan-gate",
        with(&[
            ("command", "scan"),
            ("image", &pyapp),
            ("vuln-db-ref", &db_ref),
            ("cache-dir", cache_dir),
            ("severity", "HIGH"),
            ("exit-code", "1"),
        ]),
        &[],
    );
    assert_eq!(r["success"], false);
    assert_eq!(r["failed_step"], "run");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["outputs"]["decision"], "failed");
    let e = errors(&r);
    assert!(
        e.iter()
            .any(|m| m.contains(&format!("{high} vulnerabilities")) && m.contains("HIGH")),
        "{e:?}"
    );

    // sign with a key given as text (a secret), then `wharf verify` accepts it.
    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    let r = run(
        "sign",
        with(&[
            ("command", "sign"),
            ("image", &small),
            ("key-password", KEY_PW),
        ]),
        &[("key", &d.join("ci.key"))],
    );
    assert_ok(&r);
    assert_eq!(r["outputs"]["digest"], small_digest.as_str());
    assert!(r["summary"].as_str().unwrap().contains("| signed |"));
    ok(&wharf(
        d,
        &["verify", "--insecure", "--key", "ci.pub", &small],
    ));
    let leftover: Vec<_> = std::fs::read_dir(d.join("runner-sign"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("wharf-key"))
        .collect();
    assert!(
        leftover.is_empty(),
        "the key file is removed after the step"
    );

    // verify: the signed image passes; the unsigned one fails with exit 1 and an ::error.
    let r = run(
        "verify",
        with(&[("command", "verify"), ("image", &small)]),
        &[("key", &d.join("ci.pub"))],
    );
    assert_ok(&r);
    assert_eq!(r["outputs"]["decision"], "verified");
    let r = run(
        "verify-bad",
        with(&[("command", "verify"), ("image", &pyapp)]),
        &[("key", &d.join("ci.pub"))],
    );
    assert_eq!(
        (r["success"].clone(), r["exit_code"].clone()),
        (false.into(), 1.into())
    );
    assert_eq!(r["outputs"]["decision"], "unverified");
    assert!(
        errors(&r).iter().any(|m| m.contains("no valid signature")),
        "{:?}",
        errors(&r)
    );

    // policy-check: signed → allowed; unsigned → denied, exit 1, ::error naming the rule.
    std::fs::write(
        d.join("prod.yaml"),
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n  name: production\nspec:\n  images: [\"127.0.0.1:*/library/**\"]\n  rules:\n    - name: signed-by-ci\n      signatures:\n        anyOf:\n          - key: ci.pub\n",
    )
    .unwrap();
    let r = run(
        "policy-ok",
        with(&[
            ("command", "policy-check"),
            ("image", &small),
            ("policy", "prod.yaml"),
        ]),
        &[],
    );
    assert_ok(&r);
    assert_eq!(r["outputs"]["decision"], "allowed");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("| production | signed-by-ci | pass |"),
        "{}",
        r["summary"]
    );
    check_sarif(r["outputs"]["sarif"].as_str().unwrap());
    let r = run(
        "policy-deny",
        with(&[
            ("command", "policy-check"),
            ("image", &pyapp),
            ("policy", "prod.yaml"),
        ]),
        &[],
    );
    assert_eq!(
        (r["success"].clone(), r["exit_code"].clone()),
        (false.into(), 1.into())
    );
    assert_eq!(r["outputs"]["decision"], "denied");
    assert_eq!(r["outputs"]["digest"], pyapp_digest.as_str());
    let e = errors(&r);
    assert!(
        e.iter()
            .any(|m| m.starts_with("Policy production, rule signed-by-ci")
                && m.contains("not signed")),
        "{e:?}"
    );
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("| production | signed-by-ci | **FAIL** |")
    );
    let sarif = r["outputs"]["sarif"].as_str().unwrap();
    check_sarif(sarif);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(sarif).unwrap()).unwrap();
    assert!(
        s["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["level"] == "error")
    );
    // warn: reported, not failing.
    let r = run(
        "policy-warn",
        with(&[
            ("command", "policy-check"),
            ("image", &pyapp),
            ("policy", "prod.yaml"),
            ("warn", "true"),
        ]),
        &[],
    );
    assert_ok(&r);
    assert_eq!(r["outputs"]["decision"], "denied");
    assert!(errors(&r).is_empty());

    // sbom: CycloneDX attached as a referrer; the count is the document's components.
    let r = run(
        "sbom",
        with(&[
            ("command", "sbom"),
            ("image", &pyapp),
            ("format", "cyclonedx-json"),
            ("attach", "true"),
        ]),
        &[],
    );
    assert_ok(&r);
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(r["outputs"]["sbom"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let n = doc["components"].as_array().unwrap().len();
    assert!(n > 0);
    assert_eq!(r["outputs"]["packages"], n.to_string().as_str());
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("| Packages | {n} |"))
    );
    let fetched: Value =
        serde_json::from_str(&ok(&wharf(d, &["sbom", "fetch", "--insecure", &pyapp]))).unwrap();
    assert_eq!(fetched["serialNumber"], doc["serialNumber"]);

    // attest the scan report; `wharf verify-attestation` finds it.
    let predicate = d.join("predicate.json");
    std::fs::write(&predicate, serde_json::to_vec(&direct).unwrap()).unwrap();
    let r = run(
        "attest",
        with(&[
            ("command", "attest"),
            ("image", &small),
            ("predicate", predicate.to_str().unwrap()),
            ("predicate-type", "vuln"),
            ("key-password", KEY_PW),
        ]),
        &[("key", &d.join("ci.key"))],
    );
    assert_ok(&r);
    ok(&wharf(
        d,
        &[
            "verify-attestation",
            "--insecure",
            "--key",
            "ci.pub",
            "--type",
            "vuln",
            &small,
        ],
    ));

    // The GitLab template's jobs, run with GitLab's predefined variables.
    let host = w.host();
    let gl = |job: &str, dir: &str, image_repo: &str, extra: &[(&str, &str)]| {
        let project = d.join(dir);
        std::fs::create_dir_all(&project).unwrap();
        for f in ["prod.yaml", "ci.key", "ci.pub"] {
            std::fs::copy(d.join(f), project.join(f)).unwrap();
        }
        gitlab_job(
            job,
            &project,
            &[
                &[
                    ("CI_REGISTRY_IMAGE", format!("{host}/{image_repo}").as_str()),
                    ("CI_COMMIT_SHA", "v1"),
                    ("CI_REGISTRY_USER", "admin"),
                    ("CI_REGISTRY_PASSWORD", PW),
                    ("WHARF_INSECURE", "true"),
                    ("WHARF_PATH", bin),
                    ("WHARF_VULN_DB_REF", db_ref.as_str()),
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let r = gl("wharf-scan", "gl-scan", "library/pyapp", &[]);
    assert_eq!(r["exit_code"], 0, "{}", r["log"]);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(r["reports"]["container_scanning"]["path"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["scan"]["type"], "container_scanning");
    assert_eq!(report["scan"]["status"], "success");
    let mut got: Vec<(String, String)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["location"]["image"], pyapp.as_str());
            (
                v["identifiers"][0]["value"].as_str().unwrap().to_string(),
                v["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = direct["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            let sev = v["Severity"].as_str().unwrap();
            // GitLab's severity names: capitalised.
            let sev = format!("{}{}", &sev[..1], sev[1..].to_lowercase());
            (v["VulnerabilityID"].as_str().unwrap().to_string(), sev)
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let sbom: Value = serde_json::from_str(
        &std::fs::read_to_string(r["reports"]["cyclonedx"]["path"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert!(!sbom["components"].as_array().unwrap().is_empty());
    // The severity gate fails the job.
    let r = gl(
        "wharf-scan",
        "gl-gate",
        "library/pyapp",
        &[("WHARF_SEVERITY", "HIGH"), ("WHARF_EXIT_CODE", "1")],
    );
    assert_eq!(r["exit_code"], 1, "{}", r["log"]);
    // Policy: the unsigned image is denied (exit 1); without WHARF_POLICY the job is not created.
    let r = gl(
        "wharf-policy-check",
        "gl-policy",
        "library/pyapp",
        &[("WHARF_POLICY", "prod.yaml")],
    );
    assert_eq!(r["exit_code"], 1, "{}", r["log"]);
    assert!(r["log"].as_str().unwrap().contains("signed-by-ci"));
    let r = gl("wharf-policy-check", "gl-nopolicy", "library/pyapp", &[]);
    assert_eq!(r["ran"], false);
    // Sign in GitLab, then the same policy allows it.
    let r = gl(
        "wharf-sign",
        "gl-sign",
        "library/pyapp",
        &[("WHARF_KEY", "ci.key"), ("COSIGN_PASSWORD", KEY_PW)],
    );
    assert_eq!(r["exit_code"], 0, "{}", r["log"]);
    assert_eq!(r["reports"]["cyclonedx"]["exists"], true);
    let r = gl(
        "wharf-policy-check",
        "gl-policy2",
        "library/pyapp",
        &[("WHARF_POLICY", "prod.yaml")],
    );
    assert_eq!(r["exit_code"], 0, "{}", r["log"]);
    let r = gl(
        "wharf-verify",
        "gl-verify",
        "library/pyapp",
        &[("WHARF_PUBLIC_KEY", "ci.pub")],
    );
    assert_eq!(r["exit_code"], 0, "{}", r["log"]);
}

/// The installer: a release archive whose sha256 matches is unpacked and used; one
/// that does not match is refused before anything in it runs.
#[test]
fn action_installs_a_release_only_with_the_pinned_sha256() {
    common::require("python3");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A stand-in release: an archive holding an executable `wharf`.
    let rel = d.join("releases/v9.9.9");
    std::fs::create_dir_all(&rel).unwrap();
    let stage = d.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("wharf"), "#!/bin/sh\necho 'wharf 9.9.9'\n").unwrap();
    common::run(Command::new("chmod").arg("755").arg(stage.join("wharf")));
    let archive = rel.join(format!(
        "wharf-9.9.9-{}-unknown-linux-gnu.tar.gz",
        std::env::consts::ARCH
    ));
    common::run(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&stage)
            .arg("wharf"),
    );
    let sha = common::sha256(&std::fs::read(&archive).unwrap());
    let sha = sha.trim_start_matches("sha256:");

    let port = common::free_port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(d.join("releases"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}");
    let install = |name: &str, sha: &str| {
        action(
            d,
            name,
            &[
                ("command", "db-pull"),
                ("version", "9.9.9"),
                ("release-url", &url),
                ("sha256", sha),
            ],
            &[],
        )
    };
    let good = install("good", sha);
    let bad = install("bad", &"0".repeat(64));
    server.kill().unwrap();
    server.wait().unwrap();

    assert_eq!(good["steps"][0]["outcome"], "success", "{}", good["log"]);
    assert!(good["log"].as_str().unwrap().contains("Using wharf 9.9.9"));
    assert!(
        good["env"]["WHARF_BIN"]
            .as_str()
            .unwrap()
            .ends_with("/wharf")
    );
    assert_eq!(bad["steps"][0]["outcome"], "failure");
    assert!(
        errors(&bad).iter().any(|m| m.contains("sha256 mismatch")),
        "{:?}",
        errors(&bad)
    );
    assert!(!bad["log"].as_str().unwrap().contains("Using wharf"));
}

/// actionlint and shellcheck (through a workflow that uses the action from this checkout, so that it
/// checks every input the examples give) and the SchemaStore schemas GitHub's
/// metadata and workflow files follow.
#[test]
fn action_and_examples_pass_actionlint_and_schemas() {
    for tool in ["actionlint", "check-jsonschema", "git", "shellcheck"] {
        common::require(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    common::run(Command::new("git").arg("init").arg("-q").arg(repo));
    common::run(Command::new("cp").arg("-r").arg(action_dir()).arg(repo));
    let workflows = repo.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let examples = action_dir().join("examples");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&examples).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("wharf-dev/wharf/github-action@"),
            "{} uses the action",
            p.display()
        );
        let local = text.replace("wharf-dev/wharf/github-action@v0.1.0", "./github-action");
        std::fs::write(workflows.join(p.file_name().unwrap()), local).unwrap();
        names.push(p);
    }
    assert!(names.len() >= 2);
    // With shellcheck on PATH, actionlint also checks the workflows' `run:` scripts.
    common::run(Command::new("actionlint").current_dir(repo));
    let scripts: Vec<PathBuf> = std::fs::read_dir(action_dir().join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    common::run(
        Command::new("shellcheck")
            .args(["-x", "-P", "SCRIPTDIR"])
            .args(&scripts)
            .arg(common::repo_root().join("charts/test/build-render.sh")),
    );
    common::run(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(action_dir().join("action.yml")),
    );
    common::run(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(&names),
    );
    common::run(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.gitlab-ci"])
            .arg(action_dir().join("gitlab/wharf.gitlab-ci.yml")),
    );
}
