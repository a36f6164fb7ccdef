//! The `ImagePolicy` document (`apiVersion: wharf.dev/v1`), loaded and validated.
//!
//! Loading is two passes. serde (with unknown fields denied) checks the shape and, through
//! `serde_path_to_error`, says where; then [`validate`] checks what serde cannot: exactly
//! one kind per rule, globs and regular expressions that compile, keys and trusted roots that
//! load, dates that parse, Rego that compiles. Every error names the file, the YAML path and
//! what is wrong. The format is documented in `docs/policy.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Invalid};

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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

    fn kinds(&self) -> Vec<RuleKind> {
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Highest severity allowed: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `UNKNOWN` or `NONE`.
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

/// Severity names from lowest to highest; the rank is the index.
pub const SEVERITIES: [&str; 6] = ["NONE", "UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Rank of a severity name (case-insensitive): NONE 0 … CRITICAL 5; unknown names rank as UNKNOWN.
pub fn severity_rank(s: &str) -> usize {
    let up = s.to_ascii_uppercase();
    SEVERITIES.iter().position(|x| *x == up).unwrap_or(1)
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

// ---------------------------------------------------------------------------------------
// The set of loaded policies

/// Every policy in force, with a version that changes when any of them (or a key, trusted
/// root or Rego file they name) changes: the cache key for decisions.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub policies: Vec<ImagePolicy>,
    /// `sha256:<hex>` over every byte the set was loaded from.
    pub version: String,
}

impl PolicySet {
    /// Loads and validates every policy in `files` (each may hold several YAML documents).
    pub fn load(files: &[PathBuf]) -> Result<Self, Error> {
        let mut hasher = Sha256::new();
        let mut policies = Vec::new();
        for f in files {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f).map_err(|source| Error::Read {
                file: name.clone(),
                source,
            })?;
            let base = f.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut loaded = parse_documents(&name, &text, &base, &mut hasher)?;
            policies.append(&mut loaded);
        }
        Self::finish(policies, hasher)
    }

    /// Loads policies from text already in memory (the registry's configuration, tests).
    /// Relative key, trusted-root and Rego paths are resolved against `base_dir`.
    pub fn from_yaml(name: &str, text: &str, base_dir: &Path) -> Result<Self, Error> {
        let mut hasher = Sha256::new();
        let policies = parse_documents(name, text, base_dir, &mut hasher)?;
        Self::finish(policies, hasher)
    }

    fn finish(policies: Vec<ImagePolicy>, hasher: Sha256) -> Result<Self, Error> {
        let mut seen = std::collections::HashSet::new();
        for p in &policies {
            if !seen.insert(p.metadata.name.as_str()) {
                return Err(Error::invalid(
                    &p.file,
                    "metadata.name",
                    format!(
                        "policy name {:?} is used twice: names must be unique",
                        p.metadata.name
                    ),
                ));
            }
        }
        Ok(Self {
            policies,
            version: format!("sha256:{}", hex::encode(hasher.finalize())),
        })
    }

    /// The policies that cover `name` (`registry/repository`, no tag or digest).
    pub fn matching(&self, name: &str) -> Vec<&ImagePolicy> {
        self.policies.iter().filter(|p| p.covers(name)).collect()
    }
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

/// Every document in `text`, each deserialised then validated.
fn parse_documents(
    file: &str,
    text: &str,
    base: &Path,
    hasher: &mut Sha256,
) -> Result<Vec<ImagePolicy>, Error> {
    hasher.update(file.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hasher.update([0]);
    let mut out = Vec::new();
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(Error::invalid(file, ".", "no policy document in the file"));
    }
    let count = count_documents(file, text)?;
    let many = count > 1;
    for (i, doc) in serde_norway::Deserializer::from_str(text)
        .take(count)
        .enumerate()
    {
        let prefix = if many {
            format!("(document {}) ", i + 1)
        } else {
            String::new()
        };
        let mut policy: ImagePolicy = serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| (l.line(), l.column()));
            Error::Invalid(Box::new(Invalid {
                file: file.to_string(),
                line,
                path: format!("{prefix}{path}"),
                message: strip_location(&inner.to_string(), &path),
            }))
        })?;
        policy.file = file.to_string();
        validate(&mut policy, base, hasher).map_err(|mut e| {
            if let Error::Invalid(inv) = &mut e {
                inv.path = format!("{prefix}{}", inv.path);
            }
            e
        })?;
        out.push(policy);
    }
    Ok(out)
}

/// How many YAML documents `text` holds, or its first syntax error with its position.
///
/// After a syntax error libyaml's parser stays failed, and serde_norway's document
/// iterator yields that same error as one more document forever: collecting it never
/// ends (and allocates without bound). This walks the documents once, stopping at the
/// first error, so that the second pass, which reports errors by YAML path, can take
/// exactly `count` documents.
fn count_documents(file: &str, text: &str) -> Result<usize, Error> {
    let mut count = 0;
    for doc in serde_norway::Deserializer::from_str(text) {
        count += 1;
        if let Err(e) = serde::de::IgnoredAny::deserialize(doc) {
            let line = e.location().map(|l| (l.line(), l.column()));
            let message = e.to_string();
            // The position is printed up front; the context's own (where an unclosed
            // bracket was opened) is kept.
            let message = match line {
                Some((l, c)) => message.replacen(&format!(" at line {l} column {c}"), "", 1),
                None => message,
            };
            return Err(Error::Invalid(Box::new(Invalid {
                file: file.to_string(),
                line,
                path: if count > 1 {
                    format!("(document {count}) .")
                } else {
                    ".".into()
                },
                message: format!("invalid YAML: {message}"),
            })));
        }
    }
    Ok(count)
}

/// serde_norway words its messages `PARENT.PATH: what at line L column C`; we print the
/// location and the (more precise) path up front, so both are cut from the message.
fn strip_location(msg: &str, path: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((head, rest)) if path.starts_with(head) => rest.to_string(),
        _ => msg.to_string(),
    }
}

/// The checks serde cannot make. Loads keys, trusted roots and Rego files into the policy.
fn validate(p: &mut ImagePolicy, base: &Path, hasher: &mut Sha256) -> Result<(), Error> {
    let file = p.file.clone();
    let bad = |path: &str, msg: String| Error::invalid(&file, path, msg);
    if p.api_version != API_VERSION {
        return Err(bad(
            "apiVersion",
            format!(
                "unsupported apiVersion {:?}: expected {API_VERSION:?}",
                p.api_version
            ),
        ));
    }
    if p.kind != KIND {
        return Err(bad(
            "kind",
            format!("unsupported kind {:?}: expected {KIND:?}", p.kind),
        ));
    }
    if p.metadata.name.trim().is_empty() {
        return Err(bad("metadata.name", "must not be empty".into()));
    }
    if p.spec.images.is_empty() {
        return Err(bad(
            "spec.images",
            "must list at least one image glob".into(),
        ));
    }
    for (field, list) in [("images", &p.spec.images), ("exclude", &p.spec.exclude)] {
        for (i, g) in list.iter().enumerate() {
            check_glob(g).map_err(|m| bad(&format!("spec.{field}[{i}]"), m))?;
        }
    }
    if p.spec.rules.is_empty() {
        return Err(bad("spec.rules", "must list at least one rule".into()));
    }
    let mut names = std::collections::HashSet::new();
    for (i, rule) in p.spec.rules.iter_mut().enumerate() {
        let at = format!("spec.rules[{i}]");
        if rule.name.trim().is_empty() {
            return Err(bad(&format!("{at}.name"), "must not be empty".into()));
        }
        if !names.insert(rule.name.clone()) {
            return Err(bad(
                &format!("{at}.name"),
                format!("rule name {:?} is used twice in this policy", rule.name),
            ));
        }
        let kinds = rule.kinds();
        if kinds.len() != 1 {
            return Err(bad(
                &at,
                format!(
                    "a rule has exactly one of signatures, attestations, sbom, vulnerabilities, licenses, registries, rego (found {})",
                    if kinds.is_empty() {
                        "none".to_string()
                    } else {
                        format!("{kinds:?}").to_lowercase()
                    }
                ),
            ));
        }
        if let Some(s) = &mut rule.signatures {
            validate_signers(s, &format!("{at}.signatures"), base, &file, hasher)?;
        }
        if let Some(list) = &mut rule.attestations {
            if list.is_empty() {
                return Err(bad(
                    &format!("{at}.attestations"),
                    "must list at least one required attestation".into(),
                ));
            }
            for (j, a) in list.iter_mut().enumerate() {
                let at = format!("{at}.attestations[{j}]");
                match wharf_signer::dsse::predicate_type_uri(&a.predicate_type) {
                    Some(uri) => a.predicate_type = uri,
                    None => {
                        return Err(bad(
                            &format!("{at}.predicateType"),
                            format!(
                                "unknown predicate type {:?}: use a URI or slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, custom, link",
                                a.predicate_type
                            ),
                        ));
                    }
                }
                validate_signers(
                    &mut a.signed_by,
                    &format!("{at}.signedBy"),
                    base,
                    &file,
                    hasher,
                )?;
                for (k, c) in a.conditions.iter().enumerate() {
                    validate_condition(c)
                        .map_err(|(f, m)| bad(&format!("{at}.conditions[{k}]{f}"), m))?;
                }
            }
        }
        if let Some(s) = &rule.sbom {
            for (j, f) in s.formats.iter().enumerate() {
                if !["spdx-json", "cyclonedx-json"].contains(&f.as_str()) {
                    return Err(bad(
                        &format!("{at}.sbom.formats[{j}]"),
                        format!("unknown SBOM format {f:?}: use spdx-json or cyclonedx-json"),
                    ));
                }
            }
        }
        if let Some(v) = &mut rule.vulnerabilities {
            let up = v.max_severity.to_ascii_uppercase();
            if !SEVERITIES.contains(&up.as_str()) {
                return Err(bad(
                    &format!("{at}.vulnerabilities.maxSeverity"),
                    format!(
                        "unknown severity {:?}: use one of {}",
                        v.max_severity,
                        SEVERITIES.join(", ")
                    ),
                ));
            }
            v.max_severity = up;
            for (j, a) in v.allow.iter_mut().enumerate() {
                let at = format!("{at}.vulnerabilities.allow[{j}]");
                if a.id.trim().is_empty() {
                    return Err(bad(&format!("{at}.id"), "must not be empty".into()));
                }
                if a.reason.trim().is_empty() {
                    return Err(bad(
                        &format!("{at}.reason"),
                        "must say why the vulnerability is accepted".into(),
                    ));
                }
                a.expires_at = crate::time::parse_expiry(&a.expires).ok_or_else(|| {
                    bad(
                        &format!("{at}.expires"),
                        format!(
                            "{:?} is not a date: use YYYY-MM-DD or an RFC 3339 time",
                            a.expires
                        ),
                    )
                })?;
            }
        }
        if let Some(l) = &rule.licenses
            && l.deny.is_empty()
        {
            return Err(bad(
                &format!("{at}.licenses.deny"),
                "must list at least one license".into(),
            ));
        }
        if let Some(r) = &rule.registries {
            if r.allow.is_empty() {
                return Err(bad(
                    &format!("{at}.registries.allow"),
                    "must list at least one registry".into(),
                ));
            }
            for (j, g) in r.allow.iter().enumerate() {
                check_glob(g).map_err(|m| bad(&format!("{at}.registries.allow[{j}]"), m))?;
            }
        }
        if let Some(r) = &mut rule.rego {
            let at = format!("{at}.rego");
            r.source = match (&r.module, &r.file) {
                (Some(m), None) => m.clone(),
                (None, Some(f)) => {
                    let path = base.join(f);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        bad(
                            &format!("{at}.file"),
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    hasher.update(text.as_bytes());
                    text
                }
                _ => {
                    return Err(bad(
                        &at,
                        "give exactly one of module (inline Rego) or file".into(),
                    ));
                }
            };
            let name = format!("{}#{}", p.metadata.name, rule.name);
            crate::rego::check(&name, &r.source, &r.query).map_err(|m| bad(&at, m))?;
        }
    }
    Ok(())
}

fn check_glob(g: &str) -> Result<(), String> {
    if g.trim().is_empty() {
        return Err("an empty glob matches nothing".into());
    }
    if g.contains('@')
        || g.rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':') && !g.starts_with(last))
    {
        return Err(format!(
            "{g:?} names a tag or digest: globs match registry/repository only"
        ));
    }
    Ok(())
}

fn validate_signers(
    s: &mut Signers,
    at: &str,
    base: &Path,
    file: &str,
    hasher: &mut Sha256,
) -> Result<(), Error> {
    let bad = |path: &str, msg: String| Error::invalid(file, path, msg);
    let (field, list) = match (&mut s.any_of, &mut s.all_of) {
        (Some(a), None) => ("anyOf", a),
        (None, Some(a)) => ("allOf", a),
        _ => return Err(bad(at, "give exactly one of anyOf or allOf".into())),
    };
    if list.is_empty() {
        return Err(bad(
            &format!("{at}.{field}"),
            "must list at least one signer".into(),
        ));
    }
    for (i, signer) in list.iter_mut().enumerate() {
        let at = format!("{at}.{field}[{i}]");
        match (&signer.key, &mut signer.keyless) {
            (Some(k), None) => {
                let (pem, origin) = if k.trim_start().starts_with("-----BEGIN") {
                    (k.clone(), "inline key".to_string())
                } else {
                    let path = base.join(k);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        bad(
                            &format!("{at}.key"),
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    (text, path.display().to_string())
                };
                hasher.update(pem.as_bytes());
                let key = wharf_signer::keys::load_public_key(&pem).map_err(|e| {
                    bad(
                        &format!("{at}.key"),
                        format!("{origin} is not a P-256 public key: {e}"),
                    )
                })?;
                signer.resolved = Some(ResolvedKey {
                    fingerprint: fingerprint(&key),
                    key,
                });
            }
            (None, Some(kl)) => {
                let at = format!("{at}.keyless");
                for (what, exact, re) in [
                    ("identity", &kl.identity, &kl.identity_regexp),
                    ("issuer", &kl.issuer, &kl.issuer_regexp),
                ] {
                    match (exact, re) {
                        (Some(_), Some(_)) => {
                            return Err(bad(
                                &at,
                                format!("give either {what} or {what}Regexp, not both"),
                            ));
                        }
                        (None, None) => {
                            return Err(bad(
                                &at,
                                format!("keyless signers need {what} or {what}Regexp"),
                            ));
                        }
                        (None, Some(r)) => {
                            regex::Regex::new(r).map_err(|e| {
                                bad(
                                    &format!("{at}.{what}Regexp"),
                                    format!("bad regular expression: {e}"),
                                )
                            })?;
                        }
                        (Some(_), None) => {}
                    }
                }
                let path = base.join(&kl.trusted_root);
                let bytes = std::fs::read(&path).map_err(|e| {
                    bad(
                        &format!("{at}.trustedRoot"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                hasher.update(&bytes);
                let root = wharf_signer::keyless::TrustedRoot::parse(&bytes).map_err(|e| {
                    bad(
                        &format!("{at}.trustedRoot"),
                        format!("{}: {e}", path.display()),
                    )
                })?;
                let root = if kl.insecure_ignore_sct {
                    root.insecure_ignore_sct()
                } else {
                    root
                };
                kl.root = Some(Arc::new(root));
            }
            _ => {
                return Err(bad(&at, "give exactly one of key or keyless".into()));
            }
        }
    }
    Ok(())
}

/// Checks a condition; on error returns (field suffix, message).
fn validate_condition(c: &Condition) -> Result<(), (String, String)> {
    crate::evaluate::parse_value_path(&c.path).map_err(|m| (".path".into(), m))?;
    let n = [
        c.equals.is_some(),
        c.one_of.is_some(),
        c.matches.is_some(),
        c.exists.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if n != 1 {
        return Err((
            String::new(),
            "give exactly one of equals, oneOf, matches, exists".into(),
        ));
    }
    if let Some(r) = &c.matches {
        regex::Regex::new(r)
            .map_err(|e| (".matches".into(), format!("bad regular expression: {e}")))?;
    }
    Ok(())
}

/// `sha256:<hex>` of a key's SubjectPublicKeyInfo DER, the way facts name keys.
pub fn fingerprint(key: &p256::ecdsa::VerifyingKey) -> String {
    use p256::pkcs8::EncodePublicKey;
    let der = key.to_public_key_der().expect("a P-256 key always encodes");
    format!("sha256:{}", hex::encode(Sha256::digest(der.as_bytes())))
}
