//! Declared licenses → one SPDX license expression.
//!
//! Each declared string is canonicalised by the `spdx` crate (lax mode: `GPL-2+`,
//! `Apache 2.0`, `MIT/X11`-style slashes). What it cannot parse becomes a
//! `LicenseRef-<sanitised>` whose text is recorded, as SPDX requires for custom references.
//! Several declared licenses (e.g. the paragraphs of a DEP-5 copyright file) are joined
//! with AND: all of them apply to some part of the package.

use std::collections::BTreeMap;

/// The expression plus the `LicenseRef-*` identifiers it introduced (id → original text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    pub expression: Option<String>,
    pub refs: BTreeMap<String, String>,
}

/// One declared license string → a valid SPDX expression (a `LicenseRef-` if need be).
fn one(raw: &str, refs: &mut BTreeMap<String, String>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    // Debian writes `GPL-2+` / `GPL-3`; the license list spells the version `2.0`.
    let dotted = dot_zero(raw);
    for candidate in [Some(raw.to_string()), dotted].into_iter().flatten() {
        let canon = match spdx::Expression::canonicalize(&candidate) {
            Ok(Some(c)) => c,
            Ok(None) => candidate.clone(),
            Err(_) => continue,
        };
        if spdx::Expression::parse(&canon).is_ok() {
            return Some(canon);
        }
    }
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = format!("LicenseRef-{}", id.trim_matches('-'));
    refs.insert(id.clone(), raw.to_string());
    Some(id)
}

/// `NAME-N` / `NAME-N+` → `NAME-N.0` / `NAME-N.0+` (single-number versions only).
fn dot_zero(raw: &str) -> Option<String> {
    let (stem, plus) = match raw.strip_suffix('+') {
        Some(s) => (s, "+"),
        None => (raw, ""),
    };
    let (name, ver) = stem.rsplit_once('-')?;
    (!name.is_empty() && !ver.is_empty() && ver.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{name}-{ver}.0{plus}"))
}

/// All declared licenses of one package → one expression.
pub fn normalize(declared: &[String]) -> Normalized {
    let mut refs = BTreeMap::new();
    let mut parts: Vec<String> = Vec::new();
    for d in declared {
        if let Some(e) = one(d, &mut refs)
            && !parts.contains(&e)
        {
            parts.push(e);
        }
    }
    let expression = match parts.len() {
        0 => None,
        1 => Some(parts.remove(0)),
        _ => Some(
            parts
                .iter()
                .map(|p| {
                    if p.contains(' ') {
                        format!("({p})")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    };
    Normalized { expression, refs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(e: &str) -> bool {
        spdx::Expression::parse(e).is_ok()
    }

    #[test]
    fn every_result_is_a_strict_spdx_expression() {
        for raw in [
            "MIT",
            "GPL-2+",
            "Apache 2.0",
            "BSD-3-clause",
            "public-domain",
            "MIT OR Apache-2.0",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "Python Software Foundation License",
            "(MIT)",
            "???",
        ] {
            let n = normalize(&[raw.to_string()]);
            let e = n.expression.expect(raw);
            assert!(parses(&e), "{raw:?} -> {e:?} does not parse strictly");
        }
        let n = normalize(&["GPL-2+".into(), "LGPL-2.1+".into(), "public-domain".into()]);
        assert!(parses(n.expression.as_deref().unwrap()));
        assert_eq!(n.refs.len(), 1, "{n:?}");
        assert!(normalize(&[]).expression.is_none());
    }

    #[test]
    fn known_identifiers_are_kept_and_case_fixed() {
        // Canonical ids come from the SPDX license list the crate embeds.
        let mit = spdx::license_id("MIT").unwrap().name;
        assert_eq!(normalize(&["mit".into()]).expression.as_deref(), Some(mit));
        assert_eq!(
            normalize(&["MIT".into(), "MIT".into()])
                .expression
                .as_deref(),
            Some(mit)
        );
    }
}
