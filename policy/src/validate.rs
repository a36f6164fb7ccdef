//! The checks serde cannot make: exactly one kind per rule, globs and regular expressions
//! that compile, keys and trusted roots that load, dates that parse, Rego that compiles.
//! Loading keys, trusted roots and Rego files fills in the policy's `#[serde(skip)]` fields
//! and feeds their bytes to the policy set's version.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use wharf_scanner::{Severity, UnknownSeverity};

use crate::error::Error;
use crate::model::{API_VERSION, Condition, ImagePolicy, KIND, ResolvedKey, Signers, fingerprint};

/// The checks serde cannot make. Loads keys, trusted roots and Rego files into the policy.
pub(crate) fn validate(p: &mut ImagePolicy, base: &Path, hasher: &mut Sha256) -> Result<(), Error> {
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
            let max: Severity = v.max_severity.parse().map_err(|e: UnknownSeverity| {
                bad(&format!("{at}.vulnerabilities.maxSeverity"), e.to_string())
            })?;
            v.max_severity = max.to_string();
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
