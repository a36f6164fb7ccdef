//! Loading policies: a valid document loads; each kind of mistake is reported with the
//! file, the YAML path and what is wrong (each message checked).

use std::path::Path;

use wharf_policy::PolicySet;

fn dir_with_key() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let key = wharf_signer::keys::generate().unwrap();
    std::fs::write(
        d.path().join("ci.pub"),
        wharf_signer::keys::public_key_pem(key.verifying_key()),
    )
    .unwrap();
    std::fs::write(d.path().join("bad.pub"), "not a key").unwrap();
    d
}

const VALID: &str = r#"
apiVersion: wharf.dev/v1
kind: ImagePolicy
metadata:
  name: production
spec:
  images: ["registry.company.com/production/**"]
  rules:
    - name: signed
      signatures:
        anyOf:
          - key: ci.pub
    - name: provenance
      attestations:
        - predicateType: slsaprovenance1
          signedBy:
            allOf: [{key: ci.pub}]
          conditions:
            - path: buildDefinition.buildType
              equals: https://example.com/build/v1
    - name: sbom
      sbom: {required: true, formats: [spdx-json]}
    - name: vulns
      vulnerabilities:
        maxSeverity: medium
        ignoreUnfixed: true
        allow:
          - id: CVE-2023-0001
            expires: 2030-01-31
            reason: not reachable
    - name: licenses
      licenses: {deny: [GPL-3.0-*, AGPL-*]}
    - name: registries
      registries: {allow: [registry.company.com]}
    - name: custom
      rego:
        module: |
          package wharf
          deny contains "latest" if endswith(input.reference, ":latest")
"#;

/// Loads `text` as `policy.yaml` in `dir`; returns the error text.
fn err(dir: &Path, text: &str) -> String {
    let f = dir.join("policy.yaml");
    std::fs::write(&f, text).unwrap();
    match PolicySet::load(&[f]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// VALID with one line replaced.
fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    VALID.replacen(from, to, 1)
}

#[test]
fn valid_policy_loads_and_normalises() {
    let d = dir_with_key();
    let f = d.path().join("policy.yaml");
    std::fs::write(&f, VALID).unwrap();
    let set = PolicySet::load(std::slice::from_ref(&f)).unwrap();
    assert_eq!(set.policies.len(), 1);
    let p = &set.policies[0];
    assert_eq!(p.spec.rules.len(), 7);
    assert_eq!(p.file, f.display().to_string());
    let sig = p.spec.rules[0].signatures.as_ref().unwrap();
    let fp = &sig.any_of.as_ref().unwrap()[0]
        .resolved
        .as_ref()
        .unwrap()
        .fingerprint;
    assert!(fp.starts_with("sha256:") && fp.len() == 71, "{fp}");
    let att = &p.spec.rules[1].attestations.as_ref().unwrap()[0];
    assert_eq!(att.predicate_type, "https://slsa.dev/provenance/v1");
    let v = p.spec.rules[3].vulnerabilities.as_ref().unwrap();
    assert_eq!(v.max_severity, "MEDIUM");
    assert!(set.version.starts_with("sha256:"));
    assert_eq!(set.matching("registry.company.com/production/app").len(), 1);
    assert!(set.matching("registry.company.com/staging/app").is_empty());

    // The version changes when the policy or a key it names changes.
    let v1 = set.version.clone();
    let key = wharf_signer::keys::generate().unwrap();
    std::fs::write(
        d.path().join("ci.pub"),
        wharf_signer::keys::public_key_pem(key.verifying_key()),
    )
    .unwrap();
    let v2 = PolicySet::load(std::slice::from_ref(&f)).unwrap().version;
    assert_ne!(v1, v2);
    assert_eq!(v2, PolicySet::load(&[f]).unwrap().version, "stable");
}

#[test]
fn shape_errors_name_file_line_and_path() {
    let d = dir_with_key();
    let file = d.path().join("policy.yaml").display().to_string();

    let e = err(
        d.path(),
        &with(
            "        anyOf:\n          - key: ci.pub",
            "        anyOf:\n          - key: ci.pub\n            colour: blue",
        ),
    );
    assert!(e.starts_with(&format!("{file}:")), "{e}");
    assert!(
        e.starts_with(&format!("{file}:13:13: spec.rules[0].signatures.anyOf[0].colour: unknown field `colour`, expected `key` or `keyless`")),
        "{e}"
    );

    let e = err(
        d.path(),
        &with("  name: production\n", "  name: production\n  labels: {}\n"),
    );
    assert!(
        e.contains(": metadata.labels: unknown field `labels`"),
        "{e}"
    );

    let e = err(
        d.path(),
        &with(
            "        ignoreUnfixed: true",
            "        ignoreUnfixed: sometimes",
        ),
    );
    assert!(e.contains(": spec.rules[3].vulnerabilities.ignoreUnfixed: invalid type: string \"sometimes\", expected a boolean"), "{e}");

    let e = err(
        d.path(),
        "apiVersion: wharf.dev/v1\nkind: ImagePolicy\nmetadata: {name: x}\n",
    );
    assert!(e.contains(": .: missing field `spec`"), "{e}");

    let e = err(d.path(), "- just\n- a list\n");
    assert!(
        e.contains("invalid type: sequence, expected struct ImagePolicy"),
        "{e}"
    );

    let e = err(d.path(), "");
    assert_eq!(e, format!("{file}: .: no policy document in the file"));
}

#[test]
fn semantic_errors_name_path_and_problem() {
    let d = dir_with_key();
    let file = d.path().join("policy.yaml").display().to_string();
    let cases: Vec<(String, &str)> = vec![
        (
            with("apiVersion: wharf.dev/v1", "apiVersion: wharf.dev/v2"),
            "apiVersion: unsupported apiVersion \"wharf.dev/v2\": expected \"wharf.dev/v1\"",
        ),
        (
            with("kind: ImagePolicy", "kind: ClusterPolicy"),
            "kind: unsupported kind \"ClusterPolicy\": expected \"ImagePolicy\"",
        ),
        (
            with(
                "  images: [\"registry.company.com/production/**\"]",
                "  images: []",
            ),
            "spec.images: must list at least one image glob",
        ),
        (
            with(
                "  images: [\"registry.company.com/production/**\"]",
                "  images: [\"registry.company.com/production/app:v1\"]",
            ),
            "spec.images[0]: \"registry.company.com/production/app:v1\" names a tag or digest: globs match registry/repository only",
        ),
        (
            with("          - key: ci.pub", "          - key: missing.pub"),
            "spec.rules[0].signatures.anyOf[0].key: cannot read ",
        ),
        (
            with("          - key: ci.pub", "          - key: bad.pub"),
            "spec.rules[0].signatures.anyOf[0].key: ",
        ),
        (
            with(
                "        anyOf:\n          - key: ci.pub",
                "        anyOf: []",
            ),
            "spec.rules[0].signatures.anyOf: must list at least one signer",
        ),
        (
            with(
                "        anyOf:\n          - key: ci.pub",
                "        anyOf: [{key: ci.pub}]\n        allOf: [{key: ci.pub}]",
            ),
            "spec.rules[0].signatures: give exactly one of anyOf or allOf",
        ),
        (
            with("          - key: ci.pub", "          - {}"),
            "spec.rules[0].signatures.anyOf[0]: give exactly one of key or keyless",
        ),
        (
            with(
                "          - key: ci.pub",
                "          - keyless: {identity: me@example.com, trustedRoot: root.json}",
            ),
            "spec.rules[0].signatures.anyOf[0].keyless: keyless signers need issuer or issuerRegexp",
        ),
        (
            with(
                "          - key: ci.pub",
                "          - keyless: {identityRegexp: '(', issuer: x, trustedRoot: root.json}",
            ),
            "spec.rules[0].signatures.anyOf[0].keyless.identityRegexp: bad regular expression",
        ),
        (
            with(
                "          - key: ci.pub",
                "          - keyless: {identity: a, identityRegexp: b, issuer: x, trustedRoot: root.json}",
            ),
            "spec.rules[0].signatures.anyOf[0].keyless: give either identity or identityRegexp, not both",
        ),
        (
            with(
                "          - key: ci.pub",
                "          - keyless: {identity: me@example.com, issuer: https://accounts.example.com, trustedRoot: root.json}",
            ),
            "spec.rules[0].signatures.anyOf[0].keyless.trustedRoot: cannot read ",
        ),
        (
            with(
                "            allOf: [{key: ci.pub}]",
                "            allOf: [{keyless: {identity: a, issuer: b, trustedRoot: r.json}}]",
            ),
            // Keyless attestation signers are checked like signature signers.
            "spec.rules[1].attestations[0].signedBy.allOf[0].keyless.trustedRoot: cannot read ",
        ),
        (
            with(
                "        - predicateType: slsaprovenance1",
                "        - predicateType: provenance",
            ),
            "spec.rules[1].attestations[0].predicateType: unknown predicate type \"provenance\"",
        ),
        (
            with(
                "              equals: https://example.com/build/v1",
                "              matches: \"(\"",
            ),
            "spec.rules[1].attestations[0].conditions[0].matches: bad regular expression",
        ),
        (
            with(
                "              equals: https://example.com/build/v1",
                "              equals: x\n              exists: true",
            ),
            "spec.rules[1].attestations[0].conditions[0]: give exactly one of equals, oneOf, matches, exists",
        ),
        (
            with(
                "            - path: buildDefinition.buildType",
                "            - path: a[x]",
            ),
            "spec.rules[1].attestations[0].conditions[0].path: \"a[x]\": index \"x\" is not a number",
        ),
        (
            with("formats: [spdx-json]", "formats: [spdx-xml]"),
            "spec.rules[2].sbom.formats[0]: unknown SBOM format \"spdx-xml\": use spdx-json or cyclonedx-json",
        ),
        (
            with("maxSeverity: medium", "maxSeverity: SEVERE"),
            "spec.rules[3].vulnerabilities.maxSeverity: unknown severity \"SEVERE\": use one of NONE, UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL",
        ),
        (
            with("expires: 2030-01-31", "expires: 2030-02-30"),
            "spec.rules[3].vulnerabilities.allow[0].expires: \"2030-02-30\" is not a date: use YYYY-MM-DD or an RFC 3339 time",
        ),
        (
            with("reason: not reachable", "reason: \"\""),
            "spec.rules[3].vulnerabilities.allow[0].reason: must say why the vulnerability is accepted",
        ),
        (
            with(
                "licenses: {deny: [GPL-3.0-*, AGPL-*]}",
                "licenses: {deny: []}",
            ),
            "spec.rules[4].licenses.deny: must list at least one license",
        ),
        (
            with(
                "registries: {allow: [registry.company.com]}",
                "registries: {allow: []}",
            ),
            "spec.rules[5].registries.allow: must list at least one registry",
        ),
        (
            with("- name: registries\n", "- name: signed\n"),
            "spec.rules[5].name: rule name \"signed\" is used twice in this policy",
        ),
        (
            with(
                "      registries: {allow: [registry.company.com]}",
                "      registries: {allow: [registry.company.com]}\n      sbom: {}",
            ),
            "spec.rules[5]: a rule has exactly one of signatures, attestations, sbom, vulnerabilities, licenses, registries, rego (found [sbom, registries])",
        ),
        (
            with(
                "      registries: {allow: [registry.company.com]}",
                "      description: nothing",
            ),
            "spec.rules[5]: a rule has exactly one of signatures, attestations, sbom, vulnerabilities, licenses, registries, rego (found none)",
        ),
        (
            with(
                "          deny contains \"latest\" if endswith(input.reference, \":latest\")",
                "          deny contains \"latest\" if {",
            ),
            "spec.rules[6].rego: Rego does not compile",
        ),
        (
            with(
                "        module: |",
                "        query: data.wharf.allow\n        module: |",
            ),
            "spec.rules[6].rego: data.wharf.allow cannot be evaluated",
        ),
        (
            with(
                "        module: |",
                "        file: missing.rego\n        module: |",
            ),
            "spec.rules[6].rego: give exactly one of module (inline Rego) or file",
        ),
    ];
    for (text, want) in cases {
        let e = err(d.path(), &text);
        assert!(
            e.starts_with(&format!("{file}: {want}")),
            "want {file}: {want}…\n got {e}"
        );
    }
}

#[test]
fn several_documents_and_duplicate_names() {
    let d = dir_with_key();
    let two = format!(
        "{VALID}\n---\n{}",
        VALID.replace("name: production", "name: staging")
    );
    let f = d.path().join("two.yaml");
    std::fs::write(&f, &two).unwrap();
    assert_eq!(PolicySet::load(&[f]).unwrap().policies.len(), 2);

    let bad = format!(
        "{VALID}\n---\n{}",
        VALID.replace("maxSeverity: medium", "maxSeverity: x")
    );
    let e = err(d.path(), &bad);
    assert!(
        e.contains(": (document 2) spec.rules[3].vulnerabilities.maxSeverity: unknown severity"),
        "{e}"
    );

    let dup = format!("{VALID}\n---\n{VALID}");
    let e = err(d.path(), &dup);
    assert!(
        e.ends_with(
            ": metadata.name: policy name \"production\" is used twice: names must be unique"
        ),
        "{e}"
    );
}

#[test]
fn rego_from_file_relative_to_policy() {
    let d = dir_with_key();
    std::fs::write(
        d.path().join("extra.rego"),
        "package wharf\ndeny contains \"no\" if input.digest == \"\"\n",
    )
    .unwrap();
    let text = with(
        "        module: |",
        "        file: extra.rego\n        x: |",
    );
    // `x` is not a field: the unknown field is caught before the file is read.
    let e = err(d.path(), &text);
    assert!(e.contains("spec.rules[6].rego.x: unknown field `x`"), "{e}");
    let text =
        VALID.split("        module: |").next().unwrap().to_string() + "        file: extra.rego\n";
    let f = d.path().join("p.yaml");
    std::fs::write(&f, text).unwrap();
    let set = PolicySet::load(&[f]).unwrap();
    assert!(
        set.policies[0].spec.rules[6]
            .rego
            .as_ref()
            .unwrap()
            .source
            .contains("deny contains")
    );
}
