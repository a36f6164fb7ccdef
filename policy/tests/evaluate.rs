//! The pure evaluator: every built-in rule passing and failing on hand-made facts, allow-list
//! expiry, Rego deny, and the decision cache behind `Evaluator::decide`.

use serde_json::json;
use wharf_policy::facts::{
    AttestationFact, Facts, PackageFact, SbomFact, SignatureFact, VulnerabilityFact,
};
use wharf_policy::{Decision, Evaluator, EvaluatorOptions, PolicySet, evaluate};

struct Env {
    dir: tempfile::TempDir,
    ci: String,
    other: String,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut fps = Vec::new();
    for name in ["ci", "other"] {
        let key = wharf_signer::keys::generate().unwrap();
        std::fs::write(
            dir.path().join(format!("{name}.pub")),
            wharf_signer::keys::public_key_pem(key.verifying_key()),
        )
        .unwrap();
        fps.push(wharf_policy::model::fingerprint(key.verifying_key()));
    }
    Env {
        dir,
        ci: fps[0].clone(),
        other: fps[1].clone(),
    }
}

/// A policy over `r.io/prod/**` with the given rules (YAML, indented as list items).
fn policy(env: &Env, rules: &str) -> PolicySet {
    let text = format!(
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata: {{name: prod}}\nspec:\n  images: [\"r.io/prod/**\"]\n  rules:\n{rules}"
    );
    PolicySet::from_yaml("test.yaml", &text, env.dir.path()).unwrap()
}

fn facts() -> Facts {
    Facts {
        reference: "r.io/prod/app:v1".into(),
        registry: "r.io".into(),
        repository: "prod/app".into(),
        digest: "sha256:aaaa".into(),
        ..Default::default()
    }
}

/// `../shared/fixtures/cosign` beside the checkout, or under `$WHARF_SHARED`.
fn cosign_fixtures() -> std::path::PathBuf {
    std::env::var_os("WHARF_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
        })
        .join("fixtures/cosign")
}

/// The image digest the real public-good keyless bundle signs.
const BUNDLE_DIGEST: &str =
    "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

/// That bundle, as found attached to the image.
fn real_bundle() -> [Result<wharf_signer::image::Found, String>; 1] {
    let bundle = std::fs::read(cosign_fixtures().join("sigstore_rs_bundle_v03_keyless_dsse.json"))
        .expect("cosign fixture (set WHARF_SHARED)");
    [Ok(wharf_signer::image::Found {
        source: "referrer sha256:bundle".into(),
        kind: wharf_signer::image::FoundKind::Bundle { bundle },
    })]
}

fn sig(key: &str) -> SignatureFact {
    SignatureFact {
        source: format!("tag for {key}"),
        verified: true,
        key: Some(key.into()),
        ..Default::default()
    }
}

const NOW: i64 = 1_900_000_000; // 2030-03-17

fn only(d: &Decision) -> &wharf_policy::RuleResult {
    assert_eq!(d.results.len(), 1, "{d:#?}");
    &d.results[0]
}

#[test]
fn signatures_any_of_and_all_of() {
    let e = env();
    let any = policy(
        &e,
        "    - name: signed\n      signatures:\n        anyOf: [{key: ci.pub}, {key: other.pub}]\n",
    );
    let all = policy(
        &e,
        "    - name: signed\n      signatures:\n        allOf: [{key: ci.pub}, {key: other.pub}]\n",
    );

    let mut f = facts();
    f.signatures = Some(vec![sig(&e.ci)]);
    let d = evaluate(&any, &f, NOW);
    assert!(d.allowed, "{d:#?}");
    assert_eq!(only(&d).message, format!("signed by key {}", e.ci));
    let d = evaluate(&all, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        format!(
            "no valid signature by key {} (1 signature(s) found, 0 did not verify)",
            e.other
        )
    );
    assert_eq!(
        only(&d).evidence["missing"],
        json!([format!("key {}", e.other)])
    );

    f.signatures = Some(vec![sig(&e.ci), sig(&e.other)]);
    assert!(evaluate(&all, &f, NOW).allowed);

    // Unsigned.
    f.signatures = Some(vec![]);
    let d = evaluate(&any, &f, NOW);
    assert!(!d.allowed);
    assert!(
        only(&d)
            .message
            .starts_with("image is not signed: no signature found"),
        "{}",
        only(&d).message
    );

    // A signature that did not verify does not count.
    let mut bad = sig(&e.ci);
    bad.verified = false;
    bad.error = Some("signature mismatch".into());
    f.signatures = Some(vec![bad]);
    let d = evaluate(&any, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).evidence["unverified"][0]["error"],
        "signature mismatch"
    );

    // Not collected: fail closed.
    f.signatures = None;
    let d = evaluate(&any, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "no signature facts were collected for this image"
    );
}

#[test]
fn keyless_identity_and_issuer_match() {
    let e = env();
    let root = cosign_fixtures().join("sigstore_public_good_trusted_root.json");
    std::fs::copy(&root, e.dir.path().join("root.json"))
        .unwrap_or_else(|err| panic!("{}: {err} (set WHARF_SHARED)", root.display()));
    let p = policy(
        &e,
        "    - name: signed\n      signatures:\n        anyOf:\n          - keyless: {identityRegexp: '^https://github.com/org/', issuer: https://token.actions.githubusercontent.com, trustedRoot: root.json}\n",
    );
    let mut f = facts();
    let mut s = SignatureFact {
        source: "bundle".into(),
        verified: true,
        identity: Some(
            "https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main".into(),
        ),
        issuer: Some("https://token.actions.githubusercontent.com".into()),
        ..Default::default()
    };
    f.signatures = Some(vec![s.clone()]);
    assert!(evaluate(&p, &f, NOW).allowed);
    s.identity = Some("https://github.com/evil/repo".into());
    f.signatures = Some(vec![s]);
    assert!(!evaluate(&p, &f, NOW).allowed);
}

#[test]
fn attestations_with_conditions() {
    let e = env();
    let p = policy(
        &e,
        "    - name: provenance\n      attestations:\n        - predicateType: slsaprovenance1\n          signedBy: {anyOf: [{key: ci.pub}]}\n          conditions:\n            - {path: runDetails.builder.id, matches: '^https://ci\\.company\\.com/'}\n            - {path: buildDefinition.externalParameters.ref, oneOf: [refs/heads/main, refs/heads/release]}\n            - {path: 'buildDefinition.resolvedDependencies[0].uri', exists: true}\n",
    );
    let att = |builder: &str, key: &str| AttestationFact {
        source: "referrer sha256:bbbb".into(),
        predicate_type: "https://slsa.dev/provenance/v1".into(),
        predicate: json!({
            "buildDefinition": {"externalParameters": {"ref": "refs/heads/main"}, "resolvedDependencies": [{"uri": "git+https://x"}]},
            "runDetails": {"builder": {"id": builder}},
        }),
        verified: true,
        key: Some(key.into()),
        ..Default::default()
    };
    let mut f = facts();
    f.attestations = Some(vec![att("https://ci.company.com/runner", &e.ci)]);
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed, "{d:#?}");
    assert_eq!(
        only(&d).message,
        "required attestations present: https://slsa.dev/provenance/v1"
    );

    f.attestations = Some(vec![att("https://evil.example/runner", &e.ci)]);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "no acceptable https://slsa.dev/provenance/v1 attestation (referrer sha256:bbbb: runDetails.builder.id is \"https://evil.example/runner\", which does not match /^https://ci\\.company\\.com//)"
    );

    // Right content, wrong signer.
    f.attestations = Some(vec![att("https://ci.company.com/runner", &e.other)]);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert!(
        only(&d)
            .message
            .contains(&format!("none verified by key {}", e.ci)),
        "{}",
        only(&d).message
    );

    // Missing attestation.
    f.attestations = Some(vec![]);
    assert!(!evaluate(&p, &f, NOW).allowed);
}

#[test]
fn sbom_required_and_format() {
    let e = env();
    let p = policy(
        &e,
        "    - name: sbom\n      sbom: {formats: [cyclonedx-json]}\n",
    );
    let mut f = facts();
    f.sbom = Some(SbomFact::default());
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(only(&d).message, "no SBOM is attached to the image");
    f.sbom = Some(SbomFact {
        present: true,
        format: Some("spdx-json".into()),
        source: Some("referrer sha256:cc".into()),
        packages: vec![],
    });
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "the attached SBOM is spdx-json, not cyclonedx-json"
    );
    f.sbom.as_mut().unwrap().format = Some("cyclonedx-json".into());
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed);
    assert_eq!(
        only(&d).message,
        "cyclonedx-json SBOM attached (referrer sha256:cc)"
    );
}

fn vuln(id: &str, sev: &str, fixed: Option<&str>) -> VulnerabilityFact {
    VulnerabilityFact {
        id: id.into(),
        aliases: vec![format!("GHSA-{id}")],
        package: "requests".into(),
        installed: "2.19.0".into(),
        fixed: fixed.map(Into::into),
        severity: sev.into(),
        source: "test".into(),
    }
}

#[test]
fn vulnerabilities_threshold_unfixed_and_allow_list_expiry() {
    let e = env();
    let p = policy(
        &e,
        "    - name: vulns\n      vulnerabilities:\n        maxSeverity: MEDIUM\n        ignoreUnfixed: true\n        allow:\n          - {id: GHSA-CVE-3, expires: 2030-03-17, reason: mitigated by WAF}\n          - {id: CVE-4, expires: 2020-01-01, reason: was fine then}\n",
    );
    let mut f = facts();
    f.vulnerabilities = Some(vec![
        vuln("CVE-1", "MEDIUM", Some("2.20")),
        vuln("CVE-2", "CRITICAL", None),
    ]);
    let d = evaluate(&p, &f, NOW);
    assert!(
        d.allowed,
        "MEDIUM is allowed, unfixed CRITICAL ignored: {d:#?}"
    );
    assert_eq!(only(&d).evidence["ignoredUnfixed"], 1);

    f.vulnerabilities = Some(vec![
        vuln("CVE-1", "MEDIUM", Some("2.20")),
        vuln("CVE-5", "HIGH", Some("2.20")),
    ]);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "1 vulnerability above MEDIUM: CVE-5 (HIGH, requests 2.19.0)"
    );

    // Allowed by alias until the end of its expiry day; afterwards it counts again.
    f.vulnerabilities = Some(vec![vuln("CVE-3", "HIGH", Some("2.20"))]);
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed, "{d:#?}");
    assert_eq!(
        only(&d).evidence["allowed"][0]["reason"],
        "mitigated by WAF"
    );
    assert!(only(&d).message.contains("1 allowed by exception"));
    let d = evaluate(&p, &f, NOW + 86_400);
    assert!(!d.allowed);

    f.vulnerabilities = Some(vec![vuln("CVE-4", "CRITICAL", Some("3"))]);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "1 vulnerability above MEDIUM: CVE-4 (CRITICAL, requests 2.19.0); allow-list entries expired: CVE-4 on 2020-01-01"
    );

    // NONE allows nothing at all, UNKNOWN included.
    let none = policy(
        &e,
        "    - name: vulns\n      vulnerabilities: {maxSeverity: NONE}\n",
    );
    f.vulnerabilities = Some(vec![vuln("CVE-9", "UNKNOWN", None)]);
    assert!(!evaluate(&none, &f, NOW).allowed);
    f.vulnerabilities = Some(vec![]);
    let d = evaluate(&none, &f, NOW);
    assert!(d.allowed);
    assert_eq!(
        only(&d).message,
        "no vulnerability above NONE (0 found in total)"
    );
}

#[test]
fn licenses_denied_by_glob_in_expressions() {
    let e = env();
    let p = policy(
        &e,
        "    - name: licenses\n      licenses: {deny: [GPL-3.0-*, agpl-*]}\n",
    );
    let pkg = |name: &str, lic: &str| PackageFact {
        name: name.into(),
        version: "1.0".into(),
        purl: format!("pkg:pypi/{name}@1.0"),
        licenses: vec![lic.into()],
        source: "scan".into(),
    };
    let mut f = facts();
    f.sbom = Some(SbomFact {
        packages: vec![pkg("a", "MIT"), pkg("b", "(Apache-2.0 OR GPL-2.0-only)")],
        ..Default::default()
    });
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed, "{d:#?}");
    f.sbom.as_mut().unwrap().packages.push(pkg(
        "c",
        "MIT AND (GPL-3.0-or-later WITH Classpath-exception-2.0)",
    ));
    let mut d = pkg("d", "AGPL-3.0-only");
    d.licenses.push("AGPL-3.0-only".into()); // listed twice (per file): reported once
    f.sbom.as_mut().unwrap().packages.push(d);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "denied licenses: c 1.0 (GPL-3.0-or-later), d 1.0 (AGPL-3.0-only)"
    );
    assert_eq!(only(&d).evidence["violations"][0]["purl"], "pkg:pypi/c@1.0");

    // Long lists are cut in the message, complete in the evidence.
    f.sbom.as_mut().unwrap().packages = (0..14)
        .map(|i| pkg(&format!("p{i}"), "GPL-3.0-only"))
        .collect();
    let d = evaluate(&p, &f, NOW);
    assert!(
        only(&d)
            .message
            .ends_with("p9 1.0 (GPL-3.0-only) and 4 more"),
        "{}",
        only(&d).message
    );
    assert_eq!(
        only(&d).evidence["violations"].as_array().unwrap().len(),
        14
    );
}

#[test]
fn registries_by_host_or_path() {
    let e = env();
    let p = policy(
        &e,
        "    - name: registries\n      registries: {allow: [\"*.company.com\", r.io/prod/app]}\n",
    );
    let d = evaluate(&p, &facts(), NOW);
    assert!(d.allowed);
    assert_eq!(
        only(&d).message,
        "r.io/prod/app is allowed by r.io/prod/app"
    );
    let mut f = facts();
    f.repository = "prod/other".into();
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    assert_eq!(
        only(&d).message,
        "registry r.io is not allowed (allowed: *.company.com, r.io/prod/app)"
    );
}

#[test]
fn rego_deny_messages_and_input() {
    let e = env();
    let p = policy(
        &e,
        r#"    - name: custom
      rego:
        module: |
          package wharf
          deny contains msg if {
            endswith(input.reference, ":latest")
            msg := sprintf("%s uses the latest tag", [input.reference])
          }
          deny contains {"msg": "too many findings", "count": count(input.vulnerabilities)} if {
            count(input.vulnerabilities) > 1
          }
          deny contains "clock missing" if not input.now
"#,
    );
    let mut f = facts();
    f.vulnerabilities = Some(vec![]);
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed, "{d:#?}");
    assert_eq!(only(&d).message, "data.wharf.deny is empty");

    f.reference = "r.io/prod/app:latest".into();
    f.vulnerabilities = Some(vec![vuln("CVE-1", "LOW", None), vuln("CVE-2", "LOW", None)]);
    let d = evaluate(&p, &f, NOW);
    assert!(!d.allowed);
    let msg = &only(&d).message;
    assert!(
        msg.contains("r.io/prod/app:latest uses the latest tag"),
        "{msg}"
    );
    assert!(msg.contains("too many findings"), "{msg}");
    let deny = only(&d).evidence["deny"].as_array().unwrap();
    assert!(deny.iter().any(|x| x["count"] == 2), "{deny:?}");
}

#[test]
fn uncovered_images_are_allowed_with_no_results() {
    let e = env();
    let p = policy(&e, "    - name: sbom\n      sbom: {}\n");
    let mut f = facts();
    f.repository = "staging/app".into();
    let d = evaluate(&p, &f, NOW);
    assert!(d.allowed);
    assert!(d.results.is_empty());
    assert_eq!(d.policy_version, p.version);

    // `exclude` carves images out of `images`.
    let text = "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata: {name: prod}\nspec:\n  images: [\"r.io/prod/**\"]\n  exclude: [\"r.io/prod/sandbox/*\"]\n  rules:\n    - name: sbom\n      sbom: {}\n";
    let p = PolicySet::from_yaml("x.yaml", text, e.dir.path()).unwrap();
    assert_eq!(p.matching("r.io/prod/app").len(), 1);
    assert!(p.matching("r.io/prod/sandbox/app").is_empty());
    assert_eq!(
        p.matching("r.io/prod/sandbox/deep/app").len(),
        1,
        "* does not cross /"
    );
}

#[test]
fn decide_caches_by_policy_version_name_and_digest() {
    let e = env();
    let p = policy(&e, "    - name: sbom\n      sbom: {}\n");
    let ev = Evaluator::new(p, EvaluatorOptions::default());
    let mut f = facts();
    f.sbom = Some(SbomFact::default());
    let first = ev.decide(&f);
    assert!(!first.allowed);
    // Same digest and name: the cached decision is returned even though facts changed…
    f.sbom = Some(SbomFact {
        present: true,
        format: Some("spdx-json".into()),
        ..Default::default()
    });
    f.reference = "r.io/prod/app@sha256:aaaa".into();
    let second = ev.decide(&f);
    assert!(!second.allowed);
    assert_eq!(second.evaluated_at, first.evaluated_at);
    assert_eq!(
        second.image, "r.io/prod/app@sha256:aaaa",
        "image is the caller's reference"
    );
    // …another digest is evaluated afresh.
    f.digest = "sha256:bbbb".into();
    assert!(ev.decide(&f).allowed);

    // A cache of size 0 always evaluates.
    let p = policy(&e, "    - name: sbom\n      sbom: {}\n");
    let ev = Evaluator::new(
        p,
        EvaluatorOptions {
            cache_capacity: 0,
            ..Default::default()
        },
    );
    f.digest = "sha256:aaaa".into();
    f.sbom = Some(SbomFact::default());
    assert!(!ev.decide(&f).allowed);
    f.sbom.as_mut().unwrap().present = true;
    assert!(ev.decide(&f).allowed);
}

#[test]
fn facts_and_decision_round_trip_as_documented_json() {
    let mut f = facts();
    f.signatures = Some(vec![SignatureFact {
        source: "tag r.io/prod/app:sha256-aaaa.sig".into(),
        verified: true,
        key: Some("sha256:01".into()),
        ..Default::default()
    }]);
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["signatures"][0]["key"], "sha256:01");
    assert!(
        v.get("vulnerabilities").is_none(),
        "uncollected sections are absent"
    );
    assert_eq!(serde_json::from_value::<Facts>(v).unwrap(), f);
}

/// A trusted root without CT logs (a private Sigstore without one) verifies nothing
/// keyless unless the signer says `insecureIgnoreSct`: the SCT check is on by default.
#[test]
fn keyless_without_ct_logs_needs_insecure_ignore_sct() {
    let e = env();
    let mut root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cosign_fixtures().join("sigstore_public_good_trusted_root.json")).unwrap(),
    )
    .unwrap();
    root.as_object_mut().unwrap().remove("ctlogs");
    std::fs::write(e.dir.path().join("no-ct.json"), root.to_string()).unwrap();
    let (found, digest) = (real_bundle(), BUNDLE_DIGEST);
    for (extra, want) in [("", false), (", insecureIgnoreSct: true", true)] {
        let p = policy(
            &e,
            &format!(
                "    - name: signed\n      signatures:\n        anyOf:\n          - keyless: {{identityRegexp: '^https://github.com/kubewarden/', issuer: https://token.actions.githubusercontent.com, trustedRoot: no-ct.json{extra}}}\n"
            ),
        );
        let matching = p.matching("r.io/prod/app");
        let facts = wharf_policy::collect::signature_facts(&found, digest, &matching);
        assert_eq!(facts[0].verified, want, "{extra:?}: {:?}", facts[0].error);
        if !want {
            assert!(
                facts[0].error.as_deref().unwrap().contains("SCT"),
                "{:?}",
                facts[0].error
            );
        }
    }
}

/// Attestation rules take keyless signers: the real public-good cosign v3 bundle (its
/// statement's predicate type is cosign's signature type, which a rule may ask for, as
/// cosign v3 selects bundles by predicate type) is collected as a keyless attestation and
/// satisfies the rule for the identity that made it, not for another.
#[test]
fn keyless_attestation_signers() {
    let e = env();
    std::fs::copy(
        cosign_fixtures().join("sigstore_public_good_trusted_root.json"),
        e.dir.path().join("root.json"),
    )
    .unwrap();
    let (found, digest) = (real_bundle(), BUNDLE_DIGEST);
    for (who, want) in [("kubewarden", true), ("someone-else", false)] {
        let p = policy(
            &e,
            &format!(
                "    - name: built-by-ci\n      attestations:\n        - predicateType: https://sigstore.dev/cosign/sign/v1\n          signedBy: {{anyOf: [{{keyless: {{identityRegexp: '^https://github.com/{who}/', issuer: https://token.actions.githubusercontent.com, trustedRoot: root.json}}}}]}}\n"
            ),
        );
        let matching = p.matching("r.io/prod/app");
        let atts = wharf_policy::collect::attestation_facts(&found, digest, &matching);
        assert_eq!(atts.len(), 1);
        assert_eq!(atts[0].verified, want, "{who}: {:?}", atts[0].error);
        let mut f = facts();
        f.digest = digest.into();
        f.attestations = Some(atts.clone());
        let d = evaluate(&p, &f, NOW);
        assert_eq!(d.allowed, want, "{who}: {d:#?}");
        if want {
            assert!(
                atts[0]
                    .identity
                    .as_deref()
                    .unwrap()
                    .contains("kubewarden-controller")
            );
            assert_eq!(
                atts[0].predicate_type,
                "https://sigstore.dev/cosign/sign/v1"
            );
        }
    }
    // A policy that asks for another predicate type does not collect the signature bundle.
    let p = policy(
        &e,
        "    - name: provenance\n      attestations:\n        - predicateType: slsaprovenance1\n          signedBy: {anyOf: [{key: ci.pub}]}\n",
    );
    assert!(
        wharf_policy::collect::attestation_facts(&found, digest, &p.matching("r.io/prod/app"))
            .is_empty()
    );
}

/// Policies built in Rust (`PolicySet::from_policies`, what the registry's pull gate
/// builds from project settings) are validated and decide exactly as the same policy
/// written in YAML: a signatures `anyOf` of a PEM key and a keyless identity with a trusted
/// root, a Rego rule, and a vulnerabilities rule with an allow-list.
#[test]
fn policies_built_in_rust_decide_like_the_same_yaml() {
    use wharf_policy::model::{
        AllowedVulnerability, ImagePolicy, Keyless, Rule, Signer, Signers, VulnerabilityRule,
    };
    let e = env();
    let pem = std::fs::read_to_string(e.dir.path().join("ci.pub")).unwrap();
    let root = cosign_fixtures().join("sigstore_public_good_trusted_root.json");
    let root = root.to_str().unwrap();
    let (identity, issuer) = (
        "^https://github.com/kubewarden/",
        "https://token.actions.githubusercontent.com",
    );
    let rego = "package wharf\ndeny contains \"the image is not signed\" if { count(input.signatures) == 0 }\n";
    let source = "project p settings";

    let yaml = format!(
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata: {{name: project-p}}\nspec:\n  images: [\"**\"]\n  rules:\n    - name: trust\n      signatures:\n        anyOf:\n          - key: {pem}\n          - keyless: {{identityRegexp: '{identity}', issuer: '{issuer}', trustedRoot: '{root}'}}\n    - name: any-signature\n      rego: {{module: {rego}}}\n    - name: vulns\n      vulnerabilities:\n        maxSeverity: medium\n        allow:\n          - {{id: CVE-3, expires: 2030-03-17, reason: mitigated by WAF}}\n",
        pem = serde_json::to_string(&pem).unwrap(),
        rego = serde_json::to_string(rego).unwrap(),
    );
    let from_yaml = PolicySet::from_yaml(source, &yaml, std::path::Path::new(".")).unwrap();
    let built = |max| {
        PolicySet::from_policies(
            source,
            vec![ImagePolicy::new(
                "project-p",
                ["**"],
                vec![
                    Rule::signatures(
                        "trust",
                        Signers::any_of(vec![
                            Signer::key(pem.clone()),
                            Signer::keyless(Keyless {
                                identity_regexp: Some(identity.into()),
                                issuer: Some(issuer.into()),
                                trusted_root: root.into(),
                                ..Default::default()
                            }),
                        ]),
                    ),
                    Rule::rego("any-signature", rego),
                    Rule::vulnerabilities(
                        "vulns",
                        VulnerabilityRule::new(
                            max,
                            vec![AllowedVulnerability::new(
                                "CVE-3",
                                "2030-03-17",
                                "mitigated by WAF",
                            )],
                        ),
                    ),
                ],
            )],
        )
    };
    let typed = built(wharf_scanner::Severity::Medium).unwrap();

    let with = |sigs: Vec<SignatureFact>, vulns: Vec<VulnerabilityFact>| Facts {
        signatures: Some(sigs),
        vulnerabilities: Some(vulns),
        ..facts()
    };
    // The real keyless bundle, verified against each set's own compiled identity.
    let keyless = |set: &PolicySet| {
        let mut f = with(Vec::new(), Vec::new());
        f.digest = BUNDLE_DIGEST.into();
        f.signatures = Some(wharf_policy::collect::signature_facts(
            &real_bundle(),
            BUNDLE_DIGEST,
            &set.matching("r.io/prod/app"),
        ));
        f
    };
    let cases = [
        (with(vec![sig(&e.ci)], Vec::new()), true),
        (with(vec![sig(&e.other)], Vec::new()), false),
        (with(Vec::new(), Vec::new()), false),
        (
            with(vec![sig(&e.ci)], vec![vuln("CVE-3", "HIGH", Some("2.20"))]),
            true,
        ),
        (
            with(vec![sig(&e.ci)], vec![vuln("CVE-5", "HIGH", Some("2.20"))]),
            false,
        ),
        (keyless(&typed), true),
    ];
    for (i, (f, allowed)) in cases.iter().enumerate() {
        let (a, b) = (evaluate(&typed, f, NOW), evaluate(&from_yaml, f, NOW));
        assert_eq!(a.allowed, *allowed, "case {i}: {a:#?}");
        assert_eq!(a.results, b.results, "case {i}");
    }
    assert_eq!(
        keyless(&typed).signatures,
        keyless(&from_yaml).signatures,
        "the keyless identity compiles the same"
    );
    assert_eq!(
        typed.version,
        built(wharf_scanner::Severity::Medium).unwrap().version
    );
    assert_ne!(
        typed.version,
        built(wharf_scanner::Severity::High).unwrap().version
    );

    // Validation is the file's: the same checks, the source named in place of a file.
    let err = PolicySet::from_policies(
        source,
        vec![ImagePolicy::new(
            "p",
            ["**"],
            vec![Rule::signatures(
                "s",
                Signers::any_of(vec![Signer::key("nope.pub")]),
            )],
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("project p settings: spec.rules[0].signatures.anyOf[0].key: cannot read"),
        "{err}"
    );
}
