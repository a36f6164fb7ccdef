//! Gathers the facts about one image from any OCI registry — only the sections the matching
//! policies need ([`Needs`]).
//!
//! Signatures and attestations: everything `wharf-signer` discovers (cosign tags, referrers,
//! v3 bundles), each candidate verified against the keys and keyless identities the policies
//! name. SBOM: `wharf-sbom`'s fetch (referrers, tag schema, cosign `.sbom`). Vulnerabilities
//! and, without an SBOM, packages: `wharf-scanner` over the layers with the local DB. The
//! scanner and SBOM clients block, so they run on the blocking pool.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wharf_oci::{BlockingClient, Client};
use wharf_signer::image::{self, Found, FoundKind, Target};

use crate::Error;
use crate::facts::{
    AttestationFact, Facts, Needs, PackageFact, SbomFact, SignatureFact, VulnerabilityFact,
};
use crate::model::{ImagePolicy, ResolvedKey, Signer};

/// What collection needs besides the signer's registry client.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// How the scanner and SBOM clients reach the registry.
    pub scanner_registry: wharf_oci::RegistryOptions,
    /// The vulnerability DB (else `$WHARF_DB`, else the default path, as `wharf scan`).
    pub db: Option<PathBuf>,
    /// Platform to pick from a multi-platform index (default linux/amd64).
    pub platform: Option<String>,
}

/// Collects what `policies` need about `target` (already resolved to a digest).
pub async fn collect(
    reg: &Client,
    target: &Target,
    reference: &str,
    policies: &[&ImagePolicy],
    opts: &CollectOptions,
) -> Result<Facts, Error> {
    let needs = Needs::of(policies);
    let digest = target.digest().to_string();
    let pinned = target.pinned.whole();
    let mut facts = Facts {
        reference: reference.to_string(),
        registry: target.reference.registry().to_string(),
        repository: target.reference.repository().to_string(),
        digest: digest.clone(),
        ..Default::default()
    };

    if needs.signatures || needs.attestations {
        let found = image::discover(reg, target)
            .await
            .map_err(|e| Error::Registry(e.to_string()))?;
        if needs.signatures {
            facts.signatures = Some(signature_facts(&found, &digest, policies));
        }
        if needs.attestations {
            facts.attestations = Some(attestation_facts(&found, &digest, policies));
        }
    }

    // Blocking work: SBOM fetch and scan, together on the blocking pool.
    let want_sbom = needs.sbom || needs.packages;
    if want_sbom || needs.vulnerabilities || needs.rego {
        let opts = opts.clone();
        let image = pinned.clone();
        let (sbom, vulns) = tokio::task::spawn_blocking(move || {
            // Rego rules get vulnerabilities when a DB exists; vulnerability rules need one.
            let want_scan = needs.vulnerabilities || (needs.rego && db_path(&opts).is_file());
            blocking_collect(&image, &opts, want_sbom, needs.packages, want_scan)
        })
        .await
        .map_err(|e| Error::Collect {
            what: "facts",
            image: pinned.clone(),
            message: format!("collector task failed: {e}"),
        })??;
        facts.sbom = sbom;
        facts.vulnerabilities = vulns;
    }
    Ok(facts)
}

fn db_path(opts: &CollectOptions) -> PathBuf {
    opts.db
        .clone()
        .unwrap_or_else(wharf_scanner::db::default_path)
}

/// Every signer named by a signature or attestation rule, once each.
fn signers_of<'a>(policies: &[&'a ImagePolicy]) -> Vec<&'a Signer> {
    let mut out: Vec<&Signer> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in policies.iter().flat_map(|p| &p.spec.rules) {
        let mut lists = Vec::new();
        if let Some(s) = &r.signatures {
            lists.push(s.list().0);
        }
        for a in r.attestations.iter().flatten() {
            lists.push(a.signed_by.list().0);
        }
        for s in lists.into_iter().flatten() {
            if seen.insert(s.describe()) {
                out.push(s);
            }
        }
    }
    out
}

fn keys<'a>(signers: &[&'a Signer]) -> impl Iterator<Item = &'a ResolvedKey> {
    signers.iter().filter_map(|s| s.resolved.as_ref())
}

/// The signature facts for `digest` from candidates already fetched (by
/// `wharf_signer::image::discover`, or read by the registry from its own store): each
/// verified against the keys and keyless identities `policies` name, by the first that
/// accepts it.
pub fn signature_facts(
    found: &[Result<Found, String>],
    digest: &str,
    policies: &[&ImagePolicy],
) -> Vec<SignatureFact> {
    let signers = signers_of(policies);
    let signers = signers.as_slice();
    let none = BTreeMap::new();
    let mut out = Vec::new();
    for item in found {
        let f = match item {
            Ok(f) => f,
            Err(e) => {
                out.push(SignatureFact {
                    source: "registry".into(),
                    verified: false,
                    error: Some(e.clone()),
                    ..Default::default()
                });
                continue;
            }
        };
        if f.kind.is_attestation() {
            continue;
        }
        let mut errors = Vec::new();
        let mut fact = None;
        for k in keys(signers) {
            let report =
                image::verify_found_signatures(std::slice::from_ref(item), digest, &k.key, &none);
            if report.verified.is_empty() {
                errors.extend(
                    report
                        .rejected
                        .into_iter()
                        .map(|(_, e)| format!("key {}: {e}", k.fingerprint)),
                );
            } else {
                fact = Some(SignatureFact {
                    source: f.source.clone(),
                    verified: true,
                    key: Some(k.fingerprint.clone()),
                    ..Default::default()
                });
                break;
            }
        }
        if fact.is_none() {
            for kl in signers.iter().filter_map(|s| s.keyless.as_ref()) {
                let Some(root) = &kl.root else { continue };
                let policy = kl.identity_policy();
                let r = match &f.kind {
                    FoundKind::SimpleSigning {
                        payload,
                        annotations,
                    } => wharf_signer::keyless::verify_simple_signing(
                        payload,
                        annotations,
                        digest,
                        root,
                        &policy,
                        &none,
                    ),
                    FoundKind::Bundle { bundle } => {
                        wharf_signer::keyless::verify_bundle(bundle, digest, root, &policy, &none)
                    }
                    FoundKind::Dsse { .. } => continue,
                };
                match r {
                    Ok(v) => {
                        fact = Some(SignatureFact {
                            source: f.source.clone(),
                            verified: true,
                            identity: Some(v.identity.subject),
                            issuer: Some(v.identity.issuer),
                            ..Default::default()
                        });
                        break;
                    }
                    Err(e) => errors.push(format!("keyless {}: {e}", kl.describe())),
                }
            }
        }
        out.push(fact.unwrap_or_else(|| SignatureFact {
            source: f.source.clone(),
            verified: false,
            error: Some(if errors.is_empty() {
                "no key or identity in the policies to verify it with".into()
            } else {
                errors.join("; ")
            }),
            ..Default::default()
        }));
    }
    out
}

/// Predicate types the policies' attestation rules ask for.
fn requested_predicate_types(policies: &[&ImagePolicy]) -> std::collections::HashSet<String> {
    policies
        .iter()
        .flat_map(|p| &p.spec.rules)
        .flat_map(|r| r.attestations.iter().flatten())
        .map(|a| a.predicate_type.clone())
        .collect()
}

/// The attestation facts for `digest` from candidates already fetched: each attestation
/// (legacy DSSE, DSSE referrer or v3 bundle) verified against the keys and keyless
/// identities `policies` name, by the first that accepts it. A v3 *signature* bundle
/// counts too when a rule asks for its predicate type, as cosign v3 selects bundles.
pub fn attestation_facts(
    found: &[Result<Found, String>],
    digest: &str,
    policies: &[&ImagePolicy],
) -> Vec<AttestationFact> {
    let signers = signers_of(policies);
    let signers = signers.as_slice();
    let requested = requested_predicate_types(policies);
    let mut out = Vec::new();
    for f in found.iter().flatten() {
        let wanted = f.kind.is_attestation()
            || matches!(&f.kind, FoundKind::Bundle { bundle }
                if wharf_signer::bundle::claimed_predicate_type(bundle)
                    .is_some_and(|t| requested.contains(&t)));
        if !wanted {
            continue;
        }
        let mut errors = Vec::new();
        let mut fact = None;
        let verified_fact = |statement: &serde_json::Value| AttestationFact {
            source: f.source.clone(),
            predicate_type: statement["predicateType"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            predicate: statement["predicate"].clone(),
            verified: true,
            ..Default::default()
        };
        for k in keys(signers) {
            let verified = match &f.kind {
                FoundKind::Dsse { envelope } => {
                    image::verify_attestation_envelope(envelope, digest, &k.key, None)
                }
                FoundKind::Bundle { bundle } => {
                    wharf_signer::bundle::verify_attestation_bundle_with_key(
                        bundle, digest, &k.key, None,
                    )
                }
                FoundKind::SimpleSigning { .. } => continue,
            };
            match verified {
                Ok(statement) => {
                    fact = Some(AttestationFact {
                        key: Some(k.fingerprint.clone()),
                        ..verified_fact(&statement)
                    });
                    break;
                }
                Err(e) => errors.push(format!("key {}: {e}", k.fingerprint)),
            }
        }
        if fact.is_none() {
            for kl in signers.iter().filter_map(|s| s.keyless.as_ref()) {
                let Some(root) = &kl.root else { continue };
                let FoundKind::Bundle { bundle } = &f.kind else {
                    errors.push(format!(
                        "keyless {}: only bundle attestations are verified keyless",
                        kl.describe()
                    ));
                    continue;
                };
                match wharf_signer::keyless::verify_attestation_bundle(
                    bundle,
                    digest,
                    root,
                    &kl.identity_policy(),
                    None,
                ) {
                    Ok(v) => {
                        fact = Some(AttestationFact {
                            identity: Some(v.identity.subject.clone()),
                            issuer: Some(v.identity.issuer.clone()),
                            ..verified_fact(&v.payload)
                        });
                        break;
                    }
                    Err(e) => errors.push(format!("keyless {}: {e}", kl.describe())),
                }
            }
        }
        out.push(fact.unwrap_or_else(|| AttestationFact {
            source: f.source.clone(),
            verified: false,
            error: Some(if errors.is_empty() {
                "no key or identity in the policies to verify it with".into()
            } else {
                errors.join("; ")
            }),
            ..Default::default()
        }));
    }
    out
}

type Blocking = (Option<SbomFact>, Option<Vec<VulnerabilityFact>>);

/// SBOM fetch and scan; runs on the blocking pool.
fn blocking_collect(
    image: &str,
    opts: &CollectOptions,
    want_sbom: bool,
    needs_packages: bool,
    want_scan: bool,
) -> Result<Blocking, Error> {
    let fail = |what: &'static str, e: &dyn std::fmt::Display| Error::Collect {
        what,
        image: image.to_string(),
        message: e.to_string(),
    };
    let mut sbom = None;
    if want_sbom {
        let client = BlockingClient::new(&opts.scanner_registry).map_err(|e| fail("SBOM", &e))?;
        sbom = Some(
            match wharf_sbom::attach::fetch(&client, image, opts.platform.as_deref(), None) {
                Ok(got) => {
                    let (format, doc) = wharf_sbom::read::parse_bytes(&got.document)
                        .map_err(|e| fail("SBOM", &e))?;
                    let inv = wharf_sbom::read::to_inventory(format, &doc)
                        .map_err(|e| fail("SBOM", &e))?;
                    SbomFact {
                        present: true,
                        format: Some(format_name(format).into()),
                        source: Some(got.source),
                        packages: packages(&inv.packages, "sbom"),
                    }
                }
                Err(wharf_sbom::Error::NotFound(_)) => SbomFact::default(),
                Err(e) => return Err(fail("SBOM", &e)),
            },
        );
    }
    let needs_inventory = needs_packages && !sbom.as_ref().is_some_and(|s| s.present);
    let mut vulns = None;
    if want_scan || needs_inventory {
        let load = wharf_scanner::image::LoadOptions {
            platform: opts.platform.clone(),
            registry: opts.scanner_registry.clone(),
            ..Default::default()
        };
        let source = format!("docker://{image}");
        let report = if want_scan {
            let path = db_path(opts);
            let db = wharf_scanner::db::Db::open_existing(&path)
                .map_err(|e| fail("vulnerabilities", &e))?;
            let r = wharf_scanner::scan(&source, &load, &db)
                .map_err(|e| fail("vulnerabilities", &e))?;
            let from = format!("wharf-scanner (db {})", path.display());
            vulns = Some(
                r.findings
                    .iter()
                    .map(|f| VulnerabilityFact::from_finding(f, &from))
                    .collect(),
            );
            r
        } else {
            wharf_scanner::inventory(&source, &load).map_err(|e| fail("packages", &e))?
        };
        if needs_inventory {
            let s = sbom.get_or_insert_with(SbomFact::default);
            s.packages = packages(&report.inventory.packages, "scan");
        }
    }
    Ok((sbom, vulns))
}

fn format_name(f: wharf_sbom::Format) -> &'static str {
    match f {
        wharf_sbom::Format::SpdxJson => "spdx-json",
        wharf_sbom::Format::CycloneDxJson => "cyclonedx-json",
    }
}

fn packages(list: &[wharf_scanner::inventory::Package], source: &str) -> Vec<PackageFact> {
    list.iter()
        .map(|p| PackageFact {
            name: p.name.clone(),
            version: p.version.clone(),
            purl: p.purl.clone(),
            licenses: p.licenses.clone(),
            source: source.into(),
        })
        .collect()
}
