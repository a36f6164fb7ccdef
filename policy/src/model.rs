//! The `ImagePolicy` document (`apiVersion: wharf.dev/v1`): its serde types.
//!
//! Unknown fields are denied. Fields marked `#[serde(skip)]` are filled in by validation
//! ([`crate::validate`]): the loaded key, the trusted root, the Rego text, the expiry time.
//! Loading from YAML is [`crate::load`]; the format is documented in `docs/policy.md`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wharf_scanner::Severity;

pub const API_VERSION: &str = "wharf.dev/v1";
pub const KIND: &str = "ImagePolicy";

/// One policy: which images it covers and the rules they must pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImagePolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
    /// The file it was read from (for messages and SARIF locations).
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Globs over `registry/repository` (no tag or digest): `**` crosses `/`, `*` does not.
    pub images: Vec<String>,
    /// Globs of images the policy does not cover even though `images` matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub rules: Vec<Rule>,
}

/// One rule: a name and exactly one kind of check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Signers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<Vec<AttestationRequirement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<VulnerabilityRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<LicenseRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registries: Option<RegistryRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rego: Option<RegoRule>,
}

/// The kind of a rule, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Signatures,
    Attestations,
    Sbom,
    Vulnerabilities,
    Licenses,
    Registries,
    Rego,
}

impl Rule {
    /// The one kind this rule has (validation guarantees exactly one).
    pub fn kind(&self) -> RuleKind {
        self.kinds()[0]
    }

    pub(crate) fn kinds(&self) -> Vec<RuleKind> {
        let mut k = Vec::new();
        if self.signatures.is_some() {
            k.push(RuleKind::Signatures);
        }
        if self.attestations.is_some() {
            k.push(RuleKind::Attestations);
        }
        if self.sbom.is_some() {
            k.push(RuleKind::Sbom);
        }
        if self.vulnerabilities.is_some() {
            k.push(RuleKind::Vulnerabilities);
        }
        if self.licenses.is_some() {
            k.push(RuleKind::Licenses);
        }
        if self.registries.is_some() {
            k.push(RuleKind::Registries);
        }
        if self.rego.is_some() {
            k.push(RuleKind::Rego);
        }
        k
    }
}

/// Who must have signed: any one of the list, or every one of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Signers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<Signer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_of: Option<Vec<Signer>>,
}

impl Signers {
    /// The listed signers and whether all of them are required.
    pub fn list(&self) -> (&[Signer], bool) {
        match (&self.any_of, &self.all_of) {
            (Some(a), _) => (a, false),
            (None, Some(a)) => (a, true),
            (None, None) => (&[], false),
        }
    }
}

/// One acceptable signer: a public key, or a keyless (Fulcio certificate) identity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Signer {
    /// PEM public key inline, or a path to one (relative to the policy file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<Keyless>,
    /// Filled in by validation: the loaded key and its fingerprint.
    #[serde(skip)]
    pub resolved: Option<ResolvedKey>,
}

impl Signer {
    /// How this signer is named in messages: the key's fingerprint, or identity@issuer.
    pub fn describe(&self) -> String {
        match (&self.resolved, &self.keyless) {
            (Some(k), _) => format!("key {}", k.fingerprint),
            (None, Some(k)) => format!("keyless {}", k.describe()),
            _ => "unresolved signer".into(),
        }
    }
}

/// A public key loaded at validation time.
#[derive(Debug, Clone)]
pub struct ResolvedKey {
    pub key: p256::ecdsa::VerifyingKey,
    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo (DER): how facts name keys.
    pub fingerprint: String,
}

/// A keyless identity: certificate subject and OIDC issuer (each exact or a regexp), trusted
/// through a Sigstore `trusted_root.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Keyless {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_regexp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_regexp: Option<String>,
    /// Path to the trusted root (relative to the policy file).
    pub trusted_root: String,
    /// Accept certificates without a valid SCT from the root's CT logs (private Sigstore
    /// deployments without a CT log), as cosign's `--insecure-ignore-sct`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_ignore_sct: bool,
    #[serde(skip)]
    pub root: Option<Arc<wharf_signer::keyless::TrustedRoot>>,
}

impl Keyless {
    pub fn describe(&self) -> String {
        let id = self
            .identity
            .clone()
            .or_else(|| self.identity_regexp.as_ref().map(|r| format!("/{r}/")))
            .unwrap_or_default();
        let iss = self
            .issuer
            .clone()
            .or_else(|| self.issuer_regexp.as_ref().map(|r| format!("/{r}/")))
            .unwrap_or_default();
        format!("{id} from {iss}")
    }

    /// The signer crate's matcher for this identity (validated on load, so it builds).
    pub fn identity_policy(&self) -> wharf_signer::keyless::IdentityPolicy {
        wharf_signer::keyless::IdentityPolicy::new(
            self.identity.as_deref(),
            self.identity_regexp.as_deref(),
            self.issuer.as_deref(),
            self.issuer_regexp.as_deref(),
        )
        .expect("validated on load")
    }

    /// Whether a verified certificate's subject and issuer are the ones this names.
    pub fn matches(&self, identity: &str, issuer: &str) -> bool {
        let one = |exact: &Option<String>, re: &Option<String>, v: &str| match (exact, re) {
            (Some(e), _) => e == v,
            (None, Some(r)) => regex::Regex::new(r).is_ok_and(|r| r.is_match(v)),
            (None, None) => false,
        };
        one(&self.identity, &self.identity_regexp, identity)
            && one(&self.issuer, &self.issuer_regexp, issuer)
    }
}

/// An attestation that must be present: its predicate type, who signed it, and conditions
/// on its predicate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttestationRequirement {
    /// A predicate type URI, or a shorthand (`slsaprovenance`, `spdxjson`, `vuln`, …).
    pub predicate_type: String,
    pub signed_by: Signers,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A test on one value of a predicate, at a dotted path (`builder.id`, `materials[0].uri`).
/// Exactly one of `equals`, `oneOf`, `matches`, `exists`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Condition {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// An SBOM must be attached (as a referrer or cosign's `.sbom` tag).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SbomRule {
    #[serde(default = "yes")]
    pub required: bool,
    /// Accepted formats: `spdx-json`, `cyclonedx-json` (any when absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The worst vulnerability allowed, and the exceptions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VulnerabilityRule {
    /// Highest severity allowed: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `UNKNOWN` or `NONE`
    /// (any case; validation checks it and writes it upper-case).
    pub max_severity: String,
    /// Findings without a fixed version do not count.
    #[serde(default)]
    pub ignore_unfixed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowedVulnerability>,
}

/// One accepted vulnerability, until `expires`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllowedVulnerability {
    /// The vulnerability ID or any of its aliases (CVE, GHSA, PYSEC…).
    pub id: String,
    /// `YYYY-MM-DD` (valid through that day, UTC) or an RFC 3339 time.
    pub expires: String,
    pub reason: String,
    #[serde(skip)]
    pub expires_at: i64,
}

/// Licenses no package may carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LicenseRule {
    /// SPDX license IDs, globs allowed (`GPL-3.0-*`, `AGPL-*`); compared case-insensitively
    /// with every license ID in each package's expression.
    pub deny: Vec<String>,
}

/// Where images may come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryRule {
    /// Globs over the registry host (`registry.company.com`, `*.company.com`), or over
    /// `registry/repository` when the glob has a `/`.
    pub allow: Vec<String>,
}

/// Rules the built-ins cannot say, in Rego. The module must define `deny` (by default
/// `data.wharf.deny`), a set of messages; the rule passes when it is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegoRule {
    /// The module text inline…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// …or a path to it (relative to the policy file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The rule whose value is the deny set.
    #[serde(default = "default_query")]
    pub query: String,
    /// The module text, filled in by validation.
    #[serde(skip)]
    pub source: String,
}

fn default_query() -> String {
    "data.wharf.deny".into()
}

impl ImagePolicy {
    /// Whether this policy applies to `name` (`registry/repository`).
    pub fn covers(&self, name: &str) -> bool {
        self.spec
            .images
            .iter()
            .any(|g| crate::glob::matches(g, name))
            && !self
                .spec
                .exclude
                .iter()
                .any(|g| crate::glob::matches(g, name))
    }
}

/// `sha256:<hex>` of a key's SubjectPublicKeyInfo DER, the way facts name keys.
pub fn fingerprint(key: &p256::ecdsa::VerifyingKey) -> String {
    format!("sha256:{}", wharf_signer::keys::fingerprint(key))
}

// ---------------------------------------------------------------------------------------
// Building policies in Rust (the registry's pull gate): the same values YAML gives, to be
// validated and compiled by `PolicySet::from_policies` exactly like a loaded file.

impl ImagePolicy {
    /// A policy named `name` over the image globs `images`, with `rules`.
    pub fn new(
        name: impl Into<String>,
        images: impl IntoIterator<Item = impl Into<String>>,
        rules: Vec<Rule>,
    ) -> Self {
        ImagePolicy {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            metadata: Metadata {
                name: name.into(),
                description: None,
            },
            spec: Spec {
                images: images.into_iter().map(Into::into).collect(),
                exclude: Vec::new(),
                rules,
            },
            file: String::new(),
        }
    }
}

impl Rule {
    fn named(name: impl Into<String>) -> Self {
        Rule {
            name: name.into(),
            ..Default::default()
        }
    }

    /// A `signatures` rule.
    pub fn signatures(name: impl Into<String>, signers: Signers) -> Self {
        Rule {
            signatures: Some(signers),
            ..Self::named(name)
        }
    }

    /// A `vulnerabilities` rule.
    pub fn vulnerabilities(name: impl Into<String>, rule: VulnerabilityRule) -> Self {
        Rule {
            vulnerabilities: Some(rule),
            ..Self::named(name)
        }
    }

    /// A `rego` rule with the module inline, denying through `data.wharf.deny`.
    pub fn rego(name: impl Into<String>, module: impl Into<String>) -> Self {
        Rule {
            rego: Some(RegoRule {
                module: Some(module.into()),
                file: None,
                query: default_query(),
                source: String::new(),
            }),
            ..Self::named(name)
        }
    }
}

impl Signers {
    /// Any one of `signers` suffices.
    pub fn any_of(signers: Vec<Signer>) -> Self {
        Signers {
            any_of: Some(signers),
            all_of: None,
        }
    }

    /// Every one of `signers` is required.
    pub fn all_of(signers: Vec<Signer>) -> Self {
        Signers {
            any_of: None,
            all_of: Some(signers),
        }
    }
}

impl Signer {
    /// A public key: PEM text, or a path to a PEM file.
    pub fn key(pem_or_path: impl Into<String>) -> Self {
        Signer {
            key: Some(pem_or_path.into()),
            ..Default::default()
        }
    }

    /// A keyless identity.
    pub fn keyless(identity: Keyless) -> Self {
        Signer {
            keyless: Some(identity),
            ..Default::default()
        }
    }
}

impl VulnerabilityRule {
    /// Nothing above `max` is allowed, except what `allow` lists.
    pub fn new(max: Severity, allow: Vec<AllowedVulnerability>) -> Self {
        VulnerabilityRule {
            max_severity: max.to_string(),
            ignore_unfixed: false,
            allow,
        }
    }
}

impl AllowedVulnerability {
    /// `id` (or any of its aliases) accepted until `expires` (`YYYY-MM-DD` or RFC 3339).
    pub fn new(
        id: impl Into<String>,
        expires: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        AllowedVulnerability {
            id: id.into(),
            expires: expires.into(),
            reason: reason.into(),
            expires_at: 0,
        }
    }
}
