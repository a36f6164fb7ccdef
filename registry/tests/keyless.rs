//! Keyless content trust in the registry, on real Sigstore data: the public-good
//! trusted root and a cosign v3 keyless bundle from `fixtures/cosign` of the
//! project's shared folder. The bundle signs an image the tests do not have, so
//! these drive the security service's functions directly rather than a server.

use std::path::PathBuf;

use wharf_registry::service::KeylessRoot;
use wharf_registry::service::security::keyless_trust::{
    claimed_identity, parse_identities, verify_keyless,
};
use wharf_registry::service::security::pull_gate::{project_policy, trust_rule};
use wharf_registry::service::security::signatures::summarize;
use wharf_registry::service::{ProjectSettings, TRUSTED_IDENTITIES};
use wharf_signer::image::{Found, FoundKind};

/// The image digest the fixture bundle signs.
const DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// A cosign fixture file; a missing one fails with what is needed and where it comes
/// from, not with an obscure I/O error.
fn fixture(name: &str) -> PathBuf {
    let (base, from) = match std::env::var("WHARF_SHARED") {
        Ok(v) => (PathBuf::from(v), "$WHARF_SHARED"),
        Err(_) => (
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
            "../shared beside the checkout",
        ),
    };
    let path = base.join("fixtures/cosign").join(name);
    assert!(
        path.is_file(),
        "missing test data: {} (from {from}). These keyless tests need the real cosign / \
         Sigstore vectors of the project's shared folder (fixtures/cosign: the public-good \
         trusted root and a cosign v3 keyless bundle): put the shared folder beside the \
         workspace as ../shared, or set WHARF_SHARED to it",
        path.display()
    );
    path
}

fn root() -> KeylessRoot {
    KeylessRoot::load(fixture("sigstore_public_good_trusted_root.json"))
        .expect("cosign fixture readable")
}

/// The cosign v3 bundle, as found attached to the image.
fn bundle() -> Found {
    Found {
        source: "referrer sha256:test".into(),
        kind: FoundKind::Bundle {
            bundle: std::fs::read(fixture("sigstore_rs_bundle_v03_keyless_dsse.json"))
                .expect("cosign fixture readable"),
        },
    }
}

fn with_identities(identities: &str) -> ProjectSettings {
    ProjectSettings::from_metadata(
        &[(TRUSTED_IDENTITIES.to_string(), identities.to_string())].into(),
    )
}

/// The real public-good keyless signature verifies for the identity that made it and
/// only for that one; its claimed identity is readable without a root.
#[test]
fn real_keyless_bundle_against_project_identities() {
    let root = root().root;
    let found = bundle();
    let claimed = claimed_identity(&found).unwrap();
    assert_eq!(claimed.issuer, GITHUB);

    let trusted = parse_identities(&format!(
        r#"[{{"identity": "https://example.com/other", "issuer": "{GITHUB}"}},
            {{"identityRegexp": "^https://github.com/kubewarden/kubewarden-controller/", "issuer": "{GITHUB}"}}]"#
    ))
    .unwrap();
    let id = verify_keyless(&found, DIGEST, &root, &trusted).unwrap();
    assert_eq!(id.subject, claimed.subject);

    let others = parse_identities(
        r#"[{"identityRegexp": "^https://github.com/someone-else/", "issuerRegexp": ".*"}]"#,
    )
    .unwrap();
    let e = verify_keyless(&found, DIGEST, &root, &others).unwrap_err();
    assert!(e.contains("someone-else"), "{e}");
    // Another image's digest fails even for the right identity.
    let other_digest = format!("sha256:{}", "0".repeat(64));
    assert!(verify_keyless(&found, &other_digest, &root, &trusted).is_err());
}

/// The artifact API's view of a real keyless signature: the identity its certificate
/// claims always; verified only through a trusted root and a matching identity.
#[test]
fn keyless_signature_summary() {
    let root = root();
    let found = bundle();
    let ids = parse_identities(&format!(
        r#"[{{"identityRegexp": "^https://github.com/kubewarden/", "issuer": "{GITHUB}"}}]"#
    ))
    .unwrap();

    let s = summarize(&found, DIGEST, &[], Some((root.root.as_ref(), &ids)));
    assert_eq!(s.kind, "sigstore.bundle");
    assert!(s.verified, "{s:?}");
    assert_eq!(s.verified_identity.as_ref().unwrap().issuer, GITHUB);
    assert_eq!(
        s.verified_identity.as_ref().map(|i| &i.subject),
        s.certificate_identity.as_ref().map(|i| &i.subject)
    );
    assert!(s.key_fingerprint.is_none() && s.reason.is_none());

    let s = summarize(&found, DIGEST, &[], None);
    assert!(!s.verified);
    assert!(
        s.certificate_identity
            .as_ref()
            .unwrap()
            .subject
            .contains("kubewarden")
    );
    assert!(
        s.reason.as_deref().unwrap().contains("trusted root"),
        "{s:?}"
    );

    let other = format!("sha256:{}", "1".repeat(64));
    let s = summarize(&found, &other, &[], Some((root.root.as_ref(), &ids)));
    assert!(!s.verified);
    assert!(s.verified_identity.is_none());
}

/// Content trust by keyless identity: the project's rule, run by wharf-policy over the
/// real public-good keyless signature, passes for the identity that signed and fails
/// for another one or without a trusted root.
#[test]
fn keyless_identities_satisfy_content_trust() {
    let root = root();
    let found = bundle();
    let decide = |identities: &str, root: Option<&KeylessRoot>| {
        let settings = with_identities(identities);
        let policies = wharf_policy::PolicySet::from_policies(
            "t",
            vec![project_policy("p", vec![trust_rule(&settings, root)])],
        )
        .unwrap();
        let mut facts = wharf_policy::Facts {
            reference: format!("wharf/p/app@{DIGEST}"),
            registry: "wharf".into(),
            repository: "p/app".into(),
            digest: DIGEST.into(),
            ..Default::default()
        };
        let matching = policies.matching(&facts.name());
        facts.signatures = Some(wharf_policy::collect::signature_facts(
            &[Ok(found.clone())],
            DIGEST,
            &matching,
        ));
        wharf_policy::evaluate(&policies, &facts, 1_800_000_000)
    };
    let ours = format!(
        r#"[{{"identityRegexp": "^https://github.com/kubewarden/", "issuer": "{GITHUB}"}}]"#
    );
    let theirs = format!(
        r#"[{{"identityRegexp": "^https://github.com/someone-else/", "issuer": "{GITHUB}"}}]"#
    );
    assert!(decide(&ours, Some(&root)).allowed);
    assert!(!decide(&theirs, Some(&root)).allowed);
    // Without a root the identities are not used: Harbor's "any signature" rule remains.
    assert!(trust_rule(&ProjectSettings::default(), None).rego.is_some());
    let rule = trust_rule(&with_identities(&ours), None);
    assert!(rule.rego.is_some(), "{rule:?}");
}
