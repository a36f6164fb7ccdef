//! The facts document: everything the evaluator may know about one image, as JSON.
//!
//! It is the evaluator's only input besides the policies and the time, and it is what Rego
//! rules see as `input`. Whoever has the facts builds it: [`crate::collect`] from any
//! registry, or the registry's pull gate from its own store. A section that was not
//! collected is `null` (absent), and rules that need it fail rather than guess; every entry
//! says where it came from (`source`). Documented in `docs/policy.md`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The reference as the caller gave it (tag or digest).
    pub reference: String,
    /// Registry host (`registry.company.com`, `127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// Repository path within the registry (`production/app`).
    pub repository: String,
    /// The manifest digest the reference resolved to: everything below is about it.
    pub digest: String,
    /// Signatures found for the digest, each verified or not (`null`: not collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<SignatureFact>>,
    /// In-toto attestations found for the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<Vec<AttestationFact>>,
    /// The attached SBOM and the image's packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomFact>,
    /// Vulnerabilities found in the image's packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vec<VulnerabilityFact>>,
}

impl Facts {
    /// `registry/repository`: what policy globs match.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// One signature found for the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureFact {
    /// Where it was found: `tag …sha256-<hex>.sig`, `referrer sha256:…`, or the registry's store.
    pub source: String,
    /// Whether it verified against one of the keys or identities the policies name.
    pub verified: bool,
    /// Fingerprint (`sha256:<hex>` of the SubjectPublicKeyInfo) of the key that verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Keyless: the certificate's identity (SAN) and OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Why it did not verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One attestation (in-toto statement in DSSE) found for the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationFact {
    pub source: String,
    /// The statement's predicate type (empty when it did not verify: unverified content is
    /// not trusted, not even its type).
    pub predicate_type: String,
    /// The predicate of a verified statement (`null` otherwise).
    #[serde(default)]
    pub predicate: serde_json::Value,
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Certificate identity and OIDC issuer of a keyless attestation that verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The SBOM attached to the image, and the image's packages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomFact {
    /// Whether an SBOM is attached (referrer, referrers tag schema, or cosign `.sbom` tag).
    pub present: bool,
    /// `spdx-json` or `cyclonedx-json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Where the SBOM was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The packages: from the attached SBOM when there is one, else from scanning the image
    /// (each package's `source` says which).
    #[serde(default)]
    pub packages: Vec<PackageFact>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageFact {
    pub name: String,
    pub version: String,
    pub purl: String,
    /// SPDX license expressions as declared.
    #[serde(default)]
    pub licenses: Vec<String>,
    /// `sbom` (the attached document) or `scan` (the scanner's inventory of the layers).
    pub source: String,
}

/// One vulnerable package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityFact {
    /// The ID reports show (the CVE when the advisory has exactly one).
    pub id: String,
    /// Every other ID of the same advisory (OSV ID, GHSA, CVE…): allow-lists match these too.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub package: String,
    pub installed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN.
    pub severity: String,
    /// Which scanner and database found it (`wharf-scanner` + the DB path), or the stored report.
    pub source: String,
}

impl VulnerabilityFact {
    /// The fact for one scanner finding; `source` names the scanner and its database (or
    /// the stored report it came from). The ID is the one reports show; the advisory's
    /// own ID and its aliases, minus that one, are the aliases allow-lists also match.
    pub fn from_finding(f: &wharf_scanner::matcher::Finding, source: &str) -> Self {
        VulnerabilityFact {
            id: f.vulnerability_id.clone(),
            aliases: std::iter::once(&f.advisory.id)
                .chain(&f.advisory.aliases)
                .filter(|a| **a != f.vulnerability_id)
                .cloned()
                .collect(),
            package: f.package.name.clone(),
            installed: f.package.version.clone(),
            fixed: f.fixed_version.clone(),
            severity: f.advisory.severity.clone(),
            source: source.to_string(),
        }
    }
}

/// Which sections a set of policies needs: collect only these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub signatures: bool,
    pub attestations: bool,
    pub sbom: bool,
    /// Package licenses: from the attached SBOM, else from scanning the image.
    pub packages: bool,
    pub vulnerabilities: bool,
    /// Rego rules may read anything: collect every section, vulnerabilities when a DB exists.
    pub rego: bool,
}

impl Needs {
    /// What `policies` need.
    pub fn of(policies: &[&crate::model::ImagePolicy]) -> Needs {
        use crate::model::RuleKind::*;
        let mut n = Needs::default();
        for r in policies.iter().flat_map(|p| &p.spec.rules) {
            match r.kind() {
                Signatures => n.signatures = true,
                Attestations => n.attestations = true,
                Sbom => n.sbom = true,
                Vulnerabilities => n.vulnerabilities = true,
                Licenses => {
                    n.sbom = true;
                    n.packages = true;
                }
                Registries => {}
                Rego => {
                    n.rego = true;
                    n.signatures = true;
                    n.attestations = true;
                    n.sbom = true;
                    n.packages = true;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real PyPA advisory PYSEC-2023-74 (requests < 2.31.0, Proxy-Authorization leak),
    /// shown as its CVE: the fact keeps the CVE as ID and the advisory's other IDs as
    /// aliases, without repeating the CVE.
    #[test]
    fn a_finding_becomes_one_fact() {
        let advisory = wharf_scanner::db::Advisory {
            id: "PYSEC-2023-74".into(),
            source: "pypa".into(),
            summary: None,
            details: None,
            aliases: vec!["CVE-2023-32681".into(), "GHSA-j8r2-6x86-q33q".into()],
            published: None,
            modified: None,
            severity: "MEDIUM".into(),
            cvss_v3: None,
            cvss_v4: None,
            references: Vec::new(),
        };
        let finding = wharf_scanner::matcher::Finding {
            package: wharf_scanner::inventory::Package {
                name: "requests".into(),
                version: "2.19.0".into(),
                ecosystem: wharf_scanner::inventory::Ecosystem::PyPI,
                purl: "pkg:pypi/requests@2.19.0".into(),
                source_name: None,
                source_version: None,
                licenses: Vec::new(),
                supplier: None,
                checksums: Vec::new(),
                layer: None,
                path: "usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA".into(),
            },
            advisory: std::sync::Arc::new(advisory),
            vendor_ids: Vec::new(),
            vulnerability_id: "CVE-2023-32681".into(),
            fixed_version: Some("2.31.0".into()),
            status: "fixed".into(),
        };
        let fact = VulnerabilityFact::from_finding(&finding, "wharf-scanner (db x)");
        assert_eq!(
            serde_json::to_value(&fact).unwrap(),
            serde_json::json!({
                "id": "CVE-2023-32681",
                "aliases": ["PYSEC-2023-74", "GHSA-j8r2-6x86-q33q"],
                "package": "requests",
                "installed": "2.19.0",
                "fixed": "2.31.0",
                "severity": "MEDIUM",
                "source": "wharf-scanner (db x)",
            })
        );
    }
}
