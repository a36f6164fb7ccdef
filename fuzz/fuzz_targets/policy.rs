//! What the policy engine and the admission webhook read from outside: ImagePolicy YAML
//! (every document parsed, validated, Rego compiled; a policy that loads is then evaluated),
//! the facts an evaluation sees as Rego `input` and rule input (as JSON: a registry, an SBOM
//! or an attestation supplies their content), and AdmissionReview bodies as the Kubernetes
//! API server posts them (the review decoded as the webhook decodes it, then the images of
//! each workload kind extracted). Relative key and Rego paths resolve into an empty
//! directory.
#![no_main]

use std::sync::OnceLock;

use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionReview};
use libfuzzer_sys::fuzz_target;
use wharf_admission::images::{WorkloadKind, extract};
use wharf_policy::{Facts, PolicySet, evaluate};

/// 2025-06-15T00:00:00Z: a fixed "now" so runs are reproducible.
const NOW: i64 = 1_749_945_600;

/// Every rule kind that needs no file: globs, vulnerabilities with an allow-list, licences,
/// registries, attestation conditions (without signers they fail, after the conditions are
/// parsed) and a Rego module that reads several input fields.
const POLICY: &str = r#"
apiVersion: wharf.dev/v1
kind: ImagePolicy
metadata:
  name: fuzz
spec:
  images: ["**"]
  exclude: ["registry.example/sandbox/**"]
  rules:
    - name: no-high-vulns
      vulnerabilities:
        maxSeverity: MEDIUM
        ignoreUnfixed: true
        allow:
          - id: CVE-2024-3651
            expires: 2026-12-31
            reason: not reachable
    - name: no-copyleft
      licenses:
        deny: [GPL-3.0-*, AGPL-*]
    - name: has-sbom
      sbom:
        required: true
        formats: [spdx-json]
    - name: trusted-registries
      registries:
        allow: [registry.example, "*.example", ghcr.io/company/**]
    - name: rego
      rego:
        module: |
          package wharf
          deny contains msg if {
            endswith(input.reference, ":latest")
            msg := sprintf("%s: latest", [input.reference])
          }
          deny contains msg if {
            some v in input.vulnerabilities
            v.severity == "CRITICAL"
            msg := sprintf("%v", [v])
          }
          deny contains msg if {
            count(input.sbom.packages) > 3
            msg := "many packages"
          }
"#;

fn empty_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"))
        .path()
}

fn fixed_policies() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| PolicySet::from_yaml("fuzz.yaml", POLICY, empty_dir()).expect("loads"))
}

fn fixed_facts() -> Facts {
    Facts {
        reference: "registry.example/team/app:latest".into(),
        registry: "registry.example".into(),
        repository: "team/app".into(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        ..Default::default()
    }
}

const KINDS: &[(&str, &str, &str)] = &[
    ("", "v1", "Pod"),
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "ReplicaSet"),
    ("apps", "v1", "StatefulSet"),
    ("apps", "v1", "DaemonSet"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
];

fn admission_review(body: &[u8]) {
    let Ok(review) = serde_json::from_slice::<AdmissionReview<DynamicObject>>(body) else {
        return;
    };
    let request: Result<AdmissionRequest<DynamicObject>, _> = review.try_into();
    let Ok(request) = request else {
        return;
    };
    let own = WorkloadKind::from_gvk(
        &request.kind.group,
        &request.kind.version,
        &request.kind.kind,
    );
    for obj in [&request.object, &request.old_object].into_iter().flatten() {
        for &(g, v, k) in KINDS {
            let kind = WorkloadKind::from_gvk(g, v, k).expect("a workload kind");
            if own.is_none_or(|o| o == kind)
                && let Ok(images) = extract(kind, &obj.data)
            {
                for i in &images {
                    let _ = i.describe();
                    let _ = wharf_oci::parse_reference(&i.image);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(body) else {
                return;
            };
            if let Ok(set) = PolicySet::from_yaml("fuzz.yaml", text, empty_dir()) {
                let _ = evaluate(&set, &fixed_facts(), NOW);
            }
        }
        1 => {
            if let Ok(facts) = serde_json::from_slice::<Facts>(body) {
                let _ = evaluate(fixed_policies(), &facts, NOW);
            }
        }
        _ => admission_review(body),
    }
});
