//! The evaluator: a pure function of the policies, the facts and the time.
//!
//! Every rule of every policy that covers the image yields one [`RuleResult`], passed or
//! failed, with the evidence it was judged on; the image is allowed when all pass. A rule
//! whose facts were not collected fails (fail closed). An image no policy covers is allowed
//! with no results: policies say what they cover.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use wharf_scanner::Severity;

use crate::facts::{Facts, PackageFact, VulnerabilityFact};
use crate::load::PolicySet;
use crate::model::{
    AttestationRequirement, Condition, ImagePolicy, LicenseRule, RegistryRule, RegoRule, Rule,
    SbomRule, Signer, Signers, VulnerabilityRule,
};

/// The verdict on one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub allowed: bool,
    /// The reference as given.
    pub image: String,
    pub digest: String,
    /// The policy set's version the decision was made under.
    pub policy_version: String,
    /// When it was evaluated (RFC 3339).
    pub evaluated_at: String,
    pub results: Vec<RuleResult>,
}

impl Decision {
    /// The results that failed.
    pub fn failures(&self) -> impl Iterator<Item = &RuleResult> {
        self.results.iter().filter(|r| !r.passed)
    }
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    /// Policy name (`metadata.name`).
    pub policy: String,
    /// Rule name.
    pub rule: String,
    /// The file the policy came from.
    pub file: String,
    pub passed: bool,
    pub message: String,
    /// What the rule looked at: matching signatures, offending vulnerabilities, …
    pub evidence: Value,
}

/// Judges `facts` against every policy in `policies` that covers the image, at `now`
/// (Unix seconds; allow-list expiry is relative to it).
pub fn evaluate(policies: &PolicySet, facts: &Facts, now: i64) -> Decision {
    let name = facts.name();
    let mut results = Vec::new();
    for p in policies.matching(&name) {
        for rule in &p.spec.rules {
            let (passed, message, evidence) = judge(p, rule, facts, now);
            results.push(RuleResult {
                policy: p.metadata.name.clone(),
                rule: rule.name.clone(),
                file: p.file.clone(),
                passed,
                message,
                evidence,
            });
        }
    }
    Decision {
        allowed: results.iter().all(|r| r.passed),
        image: facts.reference.clone(),
        digest: facts.digest.clone(),
        policy_version: policies.version.clone(),
        evaluated_at: crate::time::rfc3339(now),
        results,
    }
}

type Verdict = (bool, String, Value);

fn not_collected(what: &str) -> Verdict {
    (
        false,
        format!("no {what} facts were collected for this image"),
        Value::Null,
    )
}

fn judge(p: &ImagePolicy, rule: &Rule, facts: &Facts, now: i64) -> Verdict {
    if let Some(s) = &rule.signatures {
        return signatures(s, facts);
    }
    if let Some(a) = &rule.attestations {
        return attestations(a, facts);
    }
    if let Some(s) = &rule.sbom {
        return sbom(s, facts);
    }
    if let Some(v) = &rule.vulnerabilities {
        return vulnerabilities(v, facts, now);
    }
    if let Some(l) = &rule.licenses {
        return licenses(l, facts);
    }
    if let Some(r) = &rule.registries {
        return registries(r, facts);
    }
    if let Some(r) = &rule.rego {
        return rego(p, rule, r, facts, now);
    }
    (false, "rule has no check".into(), Value::Null)
}

// ---------------------------------------------------------------------------------------
// signatures

/// Whether a verified signature fact was made by `signer`.
fn signed_by(
    signer: &Signer,
    key: Option<&str>,
    identity: Option<&str>,
    issuer: Option<&str>,
) -> bool {
    match (&signer.resolved, &signer.keyless) {
        (Some(k), _) => key == Some(k.fingerprint.as_str()),
        (None, Some(kl)) => match (identity, issuer) {
            (Some(id), Some(iss)) => kl.matches(id, iss),
            _ => false,
        },
        _ => false,
    }
}

fn signatures(s: &Signers, facts: &Facts) -> Verdict {
    let Some(sigs) = &facts.signatures else {
        return not_collected("signature");
    };
    let (list, all) = s.list();
    let mut satisfied = Vec::new();
    let mut missing = Vec::new();
    for signer in list {
        let by: Vec<&str> = sigs
            .iter()
            .filter(|f| {
                f.verified
                    && signed_by(
                        signer,
                        f.key.as_deref(),
                        f.identity.as_deref(),
                        f.issuer.as_deref(),
                    )
            })
            .map(|f| f.source.as_str())
            .collect();
        if by.is_empty() {
            missing.push(signer.describe());
        } else {
            satisfied.push(json!({"signer": signer.describe(), "signatures": by}));
        }
    }
    let passed = if all {
        missing.is_empty()
    } else {
        !satisfied.is_empty()
    };
    let unverified: Vec<Value> = sigs
        .iter()
        .filter(|f| !f.verified)
        .map(|f| json!({"source": f.source, "error": f.error}))
        .collect();
    let evidence = json!({
        "required": if all { "allOf" } else { "anyOf" },
        "satisfied": satisfied,
        "missing": missing,
        "unverified": unverified,
    });
    let message = if passed {
        format!(
            "signed by {}",
            satisfied
                .iter()
                .map(|s| s["signer"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if sigs.is_empty() {
        format!(
            "image is not signed: no signature found (required {} of: {})",
            if all { "all" } else { "any" },
            list.iter()
                .map(Signer::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "no valid signature by {} ({} signature(s) found, {} did not verify)",
            missing.join(if all { " and " } else { " or " }),
            sigs.len(),
            unverified.len()
        )
    };
    (passed, message, evidence)
}

// ---------------------------------------------------------------------------------------
// attestations

fn attestations(reqs: &[AttestationRequirement], facts: &Facts) -> Verdict {
    let Some(atts) = &facts.attestations else {
        return not_collected("attestation");
    };
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    for req in reqs {
        let (signers, all) = req.signed_by.list();
        let mut ok_signers = Vec::new();
        let mut failures = Vec::new();
        for signer in signers {
            let candidates: Vec<_> = atts
                .iter()
                .filter(|a| {
                    a.verified
                        && a.predicate_type == req.predicate_type
                        && signed_by(
                            signer,
                            a.key.as_deref(),
                            a.identity.as_deref(),
                            a.issuer.as_deref(),
                        )
                })
                .collect();
            let good = candidates.iter().find_map(|a| {
                match req
                    .conditions
                    .iter()
                    .find_map(|c| condition_fails(c, &a.predicate))
                {
                    None => Some(a.source.clone()),
                    Some(why) => {
                        failures.push(format!("{}: {why}", a.source));
                        None
                    }
                }
            });
            match good {
                Some(src) => {
                    ok_signers.push(json!({"signer": signer.describe(), "attestation": src}))
                }
                None if candidates.is_empty() => {
                    failures.push(format!("none verified by {}", signer.describe()))
                }
                None => {}
            }
        }
        let passed = if all {
            ok_signers.len() == signers.len()
        } else {
            !ok_signers.is_empty()
        };
        if !passed {
            problems.push(format!(
                "no acceptable {} attestation ({})",
                req.predicate_type,
                failures.join("; ")
            ));
        }
        evidence.push(json!({
            "predicateType": req.predicate_type,
            "passed": passed,
            "satisfied": ok_signers,
            "failures": failures,
        }));
    }
    let passed = problems.is_empty();
    let message = if passed {
        format!(
            "required attestations present: {}",
            reqs.iter()
                .map(|r| r.predicate_type.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        problems.join("; ")
    };
    (passed, message, Value::Array(evidence))
}

/// Why `predicate` fails `c`, or `None` when it passes.
fn condition_fails(c: &Condition, predicate: &Value) -> Option<String> {
    let path = parse_value_path(&c.path).ok()?;
    let mut v = Some(predicate);
    for seg in &path {
        v = v.and_then(|x| match seg {
            PathSeg::Key(k) => x.get(k),
            PathSeg::Index(i) => x.get(i),
        });
    }
    let shown = v.map(|x| x.to_string()).unwrap_or_else(|| "absent".into());
    if let Some(want) = c.exists {
        return (v.is_some() != want)
            .then(|| format!("{} is {}", c.path, if want { "absent" } else { "present" }));
    }
    let Some(v) = v else {
        return Some(format!("{} is absent", c.path));
    };
    if let Some(e) = &c.equals {
        return (v != e).then(|| format!("{} is {shown}, not {e}", c.path));
    }
    if let Some(list) = &c.one_of {
        return (!list.contains(v)).then(|| {
            format!(
                "{} is {shown}, not one of {}",
                c.path,
                Value::Array(list.clone())
            )
        });
    }
    if let Some(re) = &c.matches {
        let s = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        let ok = regex::Regex::new(re).is_ok_and(|r| r.is_match(&s));
        return (!ok).then(|| format!("{} is {shown}, which does not match /{re}/", c.path));
    }
    None
}

#[derive(Debug, PartialEq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Parses `a.b[0].c` into segments. Keys are any run of characters except `.` and `[`.
pub fn parse_value_path(p: &str) -> Result<Vec<PathSeg>, String> {
    if p.is_empty() {
        return Err("an empty path names nothing".into());
    }
    let mut out = Vec::new();
    for part in p.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && (out.is_empty() || rest.is_empty()) {
            return Err(format!("{p:?}: empty segment"));
        }
        if !key.is_empty() {
            out.push(PathSeg::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(|| format!("{p:?}: unclosed ["))?;
            let idx: usize = rest[1..close]
                .parse()
                .map_err(|_| format!("{p:?}: index {:?} is not a number", &rest[1..close]))?;
            out.push(PathSeg::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("{p:?}: unexpected {rest:?} after ]"));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// sbom

fn sbom(rule: &SbomRule, facts: &Facts) -> Verdict {
    if !rule.required {
        return (true, "an SBOM is not required".into(), Value::Null);
    }
    let Some(s) = &facts.sbom else {
        return not_collected("SBOM");
    };
    let evidence = json!({"present": s.present, "format": s.format, "source": s.source});
    if !s.present {
        return (false, "no SBOM is attached to the image".into(), evidence);
    }
    let format = s.format.clone().unwrap_or_default();
    if !rule.formats.is_empty() && !rule.formats.contains(&format) {
        return (
            false,
            format!(
                "the attached SBOM is {format}, not {}",
                rule.formats.join(" or ")
            ),
            evidence,
        );
    }
    (
        true,
        format!(
            "{format} SBOM attached ({})",
            s.source.clone().unwrap_or_default()
        ),
        evidence,
    )
}

// ---------------------------------------------------------------------------------------
// vulnerabilities

fn vulnerabilities(rule: &VulnerabilityRule, facts: &Facts, now: i64) -> Verdict {
    let Some(vulns) = &facts.vulnerabilities else {
        return not_collected("vulnerability");
    };
    // Validated on load; a fact's unrecognised severity ranks as UNKNOWN, never as NONE.
    let max = Severity::lenient(&rule.max_severity);
    let mut offending: Vec<&VulnerabilityFact> = Vec::new();
    let mut allowed = Vec::new();
    let mut expired = Vec::new();
    let mut ignored_unfixed = 0usize;
    for v in vulns {
        if Severity::lenient(&v.severity) <= max {
            continue;
        }
        if rule.ignore_unfixed && v.fixed.is_none() {
            ignored_unfixed += 1;
            continue;
        }
        let entry = rule.allow.iter().find(|a| {
            a.id.eq_ignore_ascii_case(&v.id)
                || v.aliases.iter().any(|x| a.id.eq_ignore_ascii_case(x))
        });
        match entry {
            Some(a) if a.expires_at > now => allowed.push(json!({
                "id": v.id, "package": v.package, "severity": v.severity,
                "reason": a.reason, "expires": a.expires,
            })),
            Some(a) => {
                expired.push(json!({"id": v.id, "expired": a.expires, "reason": a.reason}));
                offending.push(v);
            }
            None => offending.push(v),
        }
    }
    let evidence = json!({
        "maxSeverity": rule.max_severity,
        "ignoreUnfixed": rule.ignore_unfixed,
        "violations": offending,
        "allowed": allowed,
        "expiredAllowances": expired,
        "ignoredUnfixed": ignored_unfixed,
        "scanned": vulns.len(),
    });
    if offending.is_empty() {
        let mut msg = format!(
            "no vulnerability above {} ({} found in total",
            rule.max_severity,
            vulns.len()
        );
        if !allowed.is_empty() {
            msg.push_str(&format!(", {} allowed by exception", allowed.len()));
        }
        msg.push(')');
        return (true, msg, evidence);
    }
    let ids: Vec<String> = offending
        .iter()
        .map(|v| format!("{} ({}, {} {})", v.id, v.severity, v.package, v.installed))
        .collect();
    let mut msg = format!(
        "{} vulnerabilit{} above {}: {}",
        offending.len(),
        if offending.len() == 1 { "y" } else { "ies" },
        rule.max_severity,
        shorten(ids, 25)
    );
    if !expired.is_empty() {
        msg.push_str(&format!(
            "; allow-list entries expired: {}",
            expired
                .iter()
                .map(|e| format!(
                    "{} on {}",
                    e["id"].as_str().unwrap_or_default(),
                    e["expired"].as_str().unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (false, msg, evidence)
}

// ---------------------------------------------------------------------------------------
// licenses

/// The license IDs in an SPDX expression (operators and parentheses dropped).
fn license_ids(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| {
            !t.is_empty() && !["AND", "OR", "WITH"].contains(&t.to_ascii_uppercase().as_str())
        })
}

fn licenses(rule: &LicenseRule, facts: &Facts) -> Verdict {
    let Some(s) = &facts.sbom else {
        return not_collected("package");
    };
    let mut hits: Vec<(&PackageFact, String)> = Vec::new();
    for p in &s.packages {
        for id in p.licenses.iter().flat_map(|l| license_ids(l)) {
            let lid = id.to_ascii_lowercase();
            let denied = rule
                .deny
                .iter()
                .any(|d| crate::glob::matches(&d.to_ascii_lowercase(), &lid));
            // A package lists the same license for many files (dpkg copyright): once is enough.
            if denied && !hits.iter().any(|(q, l)| std::ptr::eq(*q, p) && l == id) {
                hits.push((p, id.to_string()));
            }
        }
    }
    let evidence = json!({
        "deny": rule.deny,
        "packages": s.packages.len(),
        "violations": hits.iter().map(|(p, l)| json!({
            "package": p.name, "version": p.version, "purl": p.purl, "license": l, "source": p.source,
        })).collect::<Vec<_>>(),
    });
    if hits.is_empty() {
        (
            true,
            format!("no denied license in {} packages", s.packages.len()),
            evidence,
        )
    } else {
        (
            false,
            format!(
                "denied licenses: {}",
                shorten(
                    hits.iter()
                        .map(|(p, l)| format!("{} {} ({l})", p.name, p.version))
                        .collect(),
                    10
                )
            ),
            evidence,
        )
    }
}

/// The first `max` items joined, then how many more: the evidence has them all.
fn shorten(items: Vec<String>, max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

// ---------------------------------------------------------------------------------------
// registries

fn registries(rule: &RegistryRule, facts: &Facts) -> Verdict {
    let name = facts.name();
    let hit = rule.allow.iter().find(|g| {
        if g.contains('/') {
            crate::glob::matches(g, &name)
        } else {
            crate::glob::matches(g, &facts.registry)
        }
    });
    let evidence =
        json!({"registry": facts.registry, "repository": facts.repository, "allow": rule.allow});
    match hit {
        Some(g) => (true, format!("{name} is allowed by {g}"), evidence),
        None => (
            false,
            format!(
                "registry {} is not allowed (allowed: {})",
                facts.registry,
                rule.allow.join(", ")
            ),
            evidence,
        ),
    }
}

// ---------------------------------------------------------------------------------------
// rego

fn rego(p: &ImagePolicy, rule: &Rule, r: &RegoRule, facts: &Facts, now: i64) -> Verdict {
    let mut input = serde_json::to_value(facts).unwrap_or(Value::Null);
    input["now"] = crate::time::rfc3339(now).into();
    let name = format!("{}#{}", p.metadata.name, rule.name);
    match crate::rego::deny(&name, &r.source, &r.query, &input) {
        Ok(d) if d.is_empty() => (true, format!("{} is empty", r.query), json!({"deny": []})),
        Ok(d) => (
            false,
            d.iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            json!({"deny": d.iter().map(|(m, e)| if e.is_null() { json!(m) } else { e.clone() }).collect::<Vec<_>>()}),
        ),
        Err(e) => (false, format!("Rego evaluation failed: {e}"), Value::Null),
    }
}
