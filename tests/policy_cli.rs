//! `wharf policy check` as CI runs it, against a real `wharf serve`: images pushed with
//! skopeo, signed with `wharf sign`, scanned with a DB built from the real PyPA advisories.
//! Expected vulnerability IDs come from `wharf scan --format json`, never from this file.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Wharf;

fn wharf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "test-password")
        .env("WHARF_DB", dir.join("vuln.db"))
        .env_remove("WHARF_USERNAME")
        .env_remove("WHARF_PASSWORD")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn push(w: &Wharf, image: &str, repo: &str) -> String {
    common::require("skopeo");
    let dest = format!("{}/{repo}:v1", w.host());
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(common::oci_ref(image, "v1"))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dest
}

fn write_policy(dir: &Path, name: &str, rules: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata:\n  name: production\nspec:\n  images: [\"127.0.0.1:*/prod/**\"]\n  rules:\n{rules}"
        ),
    )
    .unwrap();
    p
}

const SIGNED: &str =
    "    - name: signed-by-ci\n      signatures:\n        anyOf:\n          - key: ci.pub\n";

/// Severity names from lowest to highest, as the policy ranks them.
const RANKS: [&str; 6] = ["NONE", "UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

fn rank(s: &str) -> usize {
    RANKS.iter().position(|r| *r == s).unwrap_or(1)
}

#[test]
fn policy_check_gates_signed_unsigned_and_vulnerable_images() {
    let w = Wharf::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // The vulnerability DB from the real advisories, as `wharf scan` uses it.
    let pypa = common::shared_dir().join("vulndata/pypa/vulns");
    assert!(pypa.is_dir(), "advisories missing at {}", pypa.display());
    ok(&wharf(d, &["db", "import", "osv", pypa.to_str().unwrap()]));

    let small = push(&w, "small", "prod/small");
    let unsigned = push(&w, "small", "prod/unsigned");
    let pyapp = push(&w, "pyapp", "prod/pyapp");
    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    ok(&wharf(
        d,
        &["sign", "--insecure", "--key", "ci.key", &small],
    ));
    ok(&wharf(
        d,
        &["sign", "--insecure", "--key", "ci.key", &pyapp],
    ));

    // The real findings for pyapp, from the scanner's own JSON.
    let scan: serde_json::Value = serde_json::from_str(&ok(&wharf(
        d,
        &["scan", "--insecure", "--format", "json", &pyapp],
    )))
    .unwrap();
    let findings: Vec<(String, String)> = scan["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            (
                v["VulnerabilityID"].as_str().unwrap().to_string(),
                v["Severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!findings.is_empty(), "pyapp has known-vulnerable packages");
    let highest = findings.iter().map(|(_, s)| rank(s)).max().unwrap();
    let max_rank = highest - 1; // one below the worst finding
    let max = RANKS[max_rank];
    let expected: BTreeSet<String> = findings
        .iter()
        .filter(|(_, s)| rank(s) > max_rank)
        .map(|(id, _)| id.clone())
        .collect();
    let tolerated: BTreeSet<String> = findings
        .iter()
        .filter(|(_, s)| rank(s) <= max_rank)
        .map(|(id, _)| id.clone())
        .collect();

    let policy = write_policy(
        d,
        "prod.yaml",
        &format!(
            "{SIGNED}    - name: no-severe-vulns\n      vulnerabilities:\n        maxSeverity: {max}\n"
        ),
    );
    let pol = policy.to_str().unwrap();

    // Signed and clean: allowed, exit 0, every rule listed as passing.
    let o = wharf(
        d,
        &["policy", "check", "--insecure", "--policy", pol, &small],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ALLOWED"), "{out}");
    assert!(
        out.contains("signed-by-ci") && out.contains("no-severe-vulns"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");

    // Unsigned (same image, another repository: no signature there): exit 1, names the rule.
    let o = wharf(
        d,
        &["policy", "check", "--insecure", "--policy", pol, &unsigned],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("DENIED"), "{out}");
    let line = out.lines().find(|l| l.contains("signed-by-ci")).unwrap();
    assert!(
        line.contains("FAIL") && line.contains("image is not signed"),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("denied by policy: {unsigned}")));

    // pyapp: signed, but findings above the threshold: exit 1 naming exactly those IDs.
    let o = wharf(
        d,
        &["policy", "check", "--insecure", "--policy", pol, &pyapp],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.contains("no-severe-vulns")).unwrap();
    assert!(line.contains("FAIL"), "{out}");
    for id in &expected {
        assert!(line.contains(id.as_str()), "{id} missing from: {line}");
    }
    for id in tolerated.difference(&expected) {
        assert!(
            !line.contains(&format!("{id} (")),
            "{id} is at or below {max}: {line}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.contains("signed-by-ci") && l.contains("pass")),
        "{out}"
    );

    // JSON: the decision document, with the violations as evidence.
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            pol,
            "--format",
            "json",
            &pyapp,
            &small,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    assert_eq!(v["allowed"], false);
    let decisions = v["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0]["image"], pyapp.as_str());
    assert!(
        decisions[0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(decisions[0]["allowed"], false);
    assert_eq!(decisions[1]["allowed"], true);
    let vulns = decisions[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "no-severe-vulns")
        .unwrap();
    assert_eq!(vulns["passed"], false);
    assert_eq!(vulns["policy"], "production");
    let got: BTreeSet<String> = vulns["evidence"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, expected);

    // SARIF 2.1.0.
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            pol,
            "--format",
            "sarif",
            &unsigned,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    assert_eq!(s["version"], "2.1.0");
    assert!(s["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "wharf-policy");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(r["message"]["text"].is_string());
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        assert!(["pass", "fail"].contains(&r["kind"].as_str().unwrap()));
        assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    }
    let failed = results.iter().find(|r| r["kind"] == "fail").unwrap();
    assert_eq!(failed["ruleId"], "production/signed-by-ci");
    assert_eq!(failed["level"], "error");

    // --warn: reports the denial, exits 0.
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--warn",
            "--policy",
            pol,
            &unsigned,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("DENIED"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: denied by policy"));

    // An SBOM rule: fails until an SBOM is attached with `wharf sbom --attach`.
    let sbom_policy = write_policy(
        d,
        "sbom.yaml",
        "    - name: has-sbom\n      sbom: {required: true}\n",
    );
    let sp = sbom_policy.to_str().unwrap();
    let o = wharf(
        d,
        &["policy", "check", "--insecure", "--policy", sp, &small],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no SBOM is attached"));
    ok(&wharf(
        d,
        &[
            "sbom",
            "--insecure",
            &small,
            "--format",
            "spdx-json",
            "--attach",
            "-o",
            "sbom.json",
        ],
    ));
    let o = wharf(
        d,
        &["policy", "check", "--insecure", "--policy", sp, &small],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("spdx-json SBOM attached"));
}

#[test]
fn malformed_policies_and_unreachable_images_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bad = write_policy(
        d,
        "bad.yaml",
        "    - name: vulns\n      vulnerabilities:\n        maxSeverity: SEVERE\n",
    );
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--policy",
            bad.to_str().unwrap(),
            "127.0.0.1:1/prod/x:v1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}: spec.rules[0].vulnerabilities.maxSeverity: unknown severity \"SEVERE\"",
            bad.display()
        )),
        "{err}"
    );

    let typo = write_policy(
        d,
        "typo.yaml",
        "    - name: s\n      signatures:\n        anyOf:\n          - kee: ci.pub\n",
    );
    let o = wharf(d, &["policy", "validate", typo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:11:13: spec.rules[0].signatures.anyOf[0].kee: unknown field `kee`",
            typo.display()
        )),
        "{err}"
    );

    // A valid policy, but the registry is not there: an error, not a denial.
    std::fs::write(d.join("ci.pub"), "").unwrap();
    let good = write_policy(d, "good.yaml", "    - name: sbom\n      sbom: {}\n");
    let o = wharf(d, &["policy", "validate", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            good.to_str().unwrap(),
            "127.0.0.1:1/prod/x:v1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("checking 127.0.0.1:1/prod/x:v1"));
}

/// A YAML syntax error is reported as `FILE:LINE:COL: …` with exit 2 by `validate` and
/// `check`, in bounded memory and time (the loader once kept collecting the parser's error
/// forever). Positions are libyaml's, from `common::YAML_SYNTAX_ERRORS`.
#[test]
fn yaml_syntax_errors_name_file_line_and_column_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (name, yaml, line_col) in common::YAML_SYNTAX_ERRORS {
        let file = d.join(name);
        std::fs::write(&file, yaml).unwrap();
        let f = file.to_str().unwrap();
        for args in [
            vec!["policy", "validate", f],
            vec!["policy", "check", "--policy", f, "127.0.0.1:1/prod/x:v1"],
        ] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
            cmd.current_dir(d).args(&args);
            let o = common::run_bounded(&cmd, 2_000_000, std::time::Duration::from_secs(30));
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains(&format!("{f}:{line_col}: ")),
                "{args:?}: expected {f}:{line_col}: in {err}"
            );
        }
    }
}

#[test]
fn attestation_license_and_rego_rules_see_collected_facts() {
    let w = Wharf::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pyapp = push(&w, "pyapp", "prod/pyapp");
    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    ok(&wharf(
        d,
        &["key", "generate", "--output-key-prefix", "other"],
    ));
    std::fs::write(
        d.join("prov.json"),
        r#"{"buildDefinition": {"externalParameters": {"ref": "refs/heads/main"}},
            "runDetails": {"builder": {"id": "https://ci.company.com/runner"}}}"#,
    )
    .unwrap();
    ok(&wharf(
        d,
        &[
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "prov.json",
            "--type",
            "slsaprovenance1",
            &pyapp,
        ],
    ));

    let attestation = |signer: &str, builder: &str| {
        format!(
            "    - name: provenance\n      attestations:\n        - predicateType: https://slsa.dev/provenance/v1\n          signedBy: {{anyOf: [{{key: {signer}}}]}}\n          conditions:\n            - {{path: runDetails.builder.id, matches: '{builder}'}}\n            - {{path: buildDefinition.externalParameters.ref, equals: refs/heads/main}}\n"
        )
    };
    let check = |file: &str| {
        wharf(
            d,
            &["policy", "check", "--insecure", "--policy", file, &pyapp],
        )
    };

    write_policy(
        d,
        "att.yaml",
        &attestation("ci.pub", "^https://ci\\.company\\.com/"),
    );
    let o = check("att.yaml");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    write_policy(
        d,
        "att-builder.yaml",
        &attestation("ci.pub", "^https://other\\.example/"),
    );
    let o = check("att-builder.yaml");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(
            "runDetails.builder.id is \"https://ci.company.com/runner\", which does not match"
        ),
        "{}",
        text(&o)
    );

    write_policy(d, "att-key.yaml", &attestation("other.pub", "."));
    let o = check("att-key.yaml");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("none verified by key sha256:"),
        "{}",
        text(&o)
    );

    // Licenses: no SBOM attached, so the packages come from scanning the layers (no DB needed).
    let inv: serde_json::Value = serde_json::from_str(&ok(&wharf(
        d,
        &[
            "scan",
            "--insecure",
            "--list-packages",
            "--format",
            "json",
            &pyapp,
        ],
    )))
    .unwrap();
    let licensed: Vec<(String, String)> = inv["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Packages"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| {
            let lic = p["Licenses"].as_array()?.first()?.as_str()?.to_string();
            Some((p["Name"].as_str()?.to_string(), lic))
        })
        .collect();
    assert!(!licensed.is_empty(), "pyapp declares licenses: {inv}");
    let (pkg, lic) = &licensed[0];
    let deny = lic
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches(|c| c == '(' || c == ')');
    write_policy(
        d,
        "lic.yaml",
        &format!("    - name: licenses\n      licenses: {{deny: [\"{deny}\"]}}\n"),
    );
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            "lic.yaml",
            "--format",
            "json",
            &pyapp,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let violations = v["decisions"][0]["results"][0]["evidence"]["violations"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        violations
            .iter()
            .any(|x| x["package"] == pkg.as_str() && x["source"] == "scan"),
        "{pkg} ({deny}) not reported: {violations:?}"
    );

    // Rego sees the facts document: the verified attestation's predicate. Verification
    // needs a key the matching policies name, here through the attestation rule.
    write_policy(
        d,
        "rego.yaml",
        &(attestation("ci.pub", ".")
            + "    - name: only-main\n      rego:\n        module: |\n          package wharf\n          deny contains sprintf(\"built from %s\", [ref]) if {\n            some a in input.attestations\n            a.verified\n            ref := a.predicate.buildDefinition.externalParameters.ref\n            ref != \"refs/heads/release\"\n          }\n"),
    );
    let o = check("rego.yaml");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("built from refs/heads/main"),
        "{}",
        text(&o)
    );
}

/// A cosign v3 attestation (Sigstore bundle referrer) is an attestation for policy rules:
/// its verified predicate meets the conditions; it is not mistaken for a signature.
#[test]
fn v3_attestation_bundle_meets_attestation_rule() {
    let w = Wharf::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let image = push(&w, "small", "prod/small");
    ok(&wharf(d, &["key", "generate", "--output-key-prefix", "ci"]));
    ok(&wharf(
        d,
        &["key", "generate", "--output-key-prefix", "other"],
    ));
    std::fs::write(
        d.join("prov.json"),
        r#"{"runDetails": {"builder": {"id": "https://ci.company.com/runner"}}}"#,
    )
    .unwrap();
    ok(&wharf(
        d,
        &[
            "attest",
            "--insecure",
            "--key",
            "ci.key",
            "--predicate",
            "prov.json",
            "--type",
            "slsaprovenance1",
            "--bundle-format",
            "v3",
            &image,
        ],
    ));
    let rule = |signer: &str| {
        format!(
            "    - name: provenance\n      attestations:\n        - predicateType: https://slsa.dev/provenance/v1\n          signedBy: {{anyOf: [{{key: {signer}}}]}}\n          conditions:\n            - {{path: runDetails.builder.id, matches: '^https://ci\\.company\\.com/'}}\n"
        )
    };
    write_policy(d, "att.yaml", &rule("ci.pub"));
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            "att.yaml",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    write_policy(d, "att-other.yaml", &rule("other.pub"));
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            "att-other.yaml",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Only an attestation is attached: a signature rule finds no signature at all.
    write_policy(d, "sig.yaml", SIGNED);
    let o = wharf(
        d,
        &[
            "policy",
            "check",
            "--insecure",
            "--policy",
            "sig.yaml",
            &image,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no signature found"),
        "{}",
        text(&o)
    );
}
