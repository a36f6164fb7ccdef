//! Harbor's Security Hub API: `GET /security/summary` and `GET /security/vul`
//! (also at `/vul/summary` and `/vul/vulnerabilities`), with Harbor's `q`
//! conditions and bodies.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use wharf_scanner::Severity;

use super::{Caller, Paging, paged, render};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::security::VulnQuery;

#[derive(Deserialize)]
pub struct SummaryParams {
    #[serde(default)]
    with_dangerous_cve: bool,
    #[serde(default)]
    with_dangerous_artifact: bool,
}

pub async fn summary(
    State(reg): State<AppState>,
    caller: Caller,
    Query(p): Query<SummaryParams>,
) -> Result<Json<Value>> {
    let dangerous = p.with_dangerous_cve || p.with_dangerous_artifact;
    let s = reg
        .security
        .security_summary(&caller.who, dangerous)
        .await?;
    let mut body = render::security_summary(&s);
    if !p.with_dangerous_cve {
        body.as_object_mut().map(|o| o.remove("dangerous_cves"));
    }
    if !p.with_dangerous_artifact {
        body.as_object_mut()
            .map(|o| o.remove("dangerous_artifacts"));
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct ListParams {
    q: Option<String>,
    #[serde(default)]
    tune_count: bool,
    #[serde(default)]
    with_tag: bool,
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(paging): Query<Paging>,
    Query(p): Query<ListParams>,
) -> Result<Response> {
    let query = parse_q(p.q.as_deref().unwrap_or(""))?;
    let page = paging.req();
    let (items, total) = reg
        .security
        .search_vulnerabilities(&caller.who, &query, page, p.with_tag, p.tune_count)
        .await?;
    let items: Vec<Value> = items
        .iter()
        .map(|v| render::vulnerability_item(v, p.with_tag))
        .collect();
    Ok(paged("/api/v2.0/security/vul", page, total, items))
}

/// Harbor's `q`: `k=v` conditions separated by commas; `cvss_score_v3` also as
/// a range `[min~max]`. Values may be quoted. Unknown keys and the patterns Wharf
/// does not support for a key are refused rather than ignored.
pub fn parse_q(q: &str) -> Result<VulnQuery> {
    let mut out = VulnQuery::default();
    for cond in q.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let (key, value) = cond
            .split_once('=')
            .ok_or_else(|| RegistryError::bad_request(format!("q: {cond:?} is not key=value")))?;
        let (key, value) = (key.trim(), value.trim());
        if value.starts_with('~') || value.starts_with('{') || value.starts_with('(') {
            return Err(RegistryError::bad_request(format!(
                "q: {key}: only exact matches are supported (and a [min~max] range for cvss_score_v3)"
            )));
        }
        let text = || value.trim_matches(|c| c == '"' || c == '\'').to_string();
        match key {
            "cve_id" => out.cve_id = Some(text()),
            "package" => out.package = Some(text()),
            "repository_name" => out.repository = Some(text()),
            "tag" => out.tag = Some(text()),
            "digest" => out.digest = Some(text()),
            "severity" => {
                out.severity = Some(text().parse::<Severity>().map_err(|_| {
                    RegistryError::bad_request(format!(
                        "q: severity {value:?}: use Critical, High, Medium, Low, Unknown or None"
                    ))
                })?)
            }
            "project_id" => {
                out.project_id = Some(text().parse().map_err(|_| {
                    RegistryError::bad_request(format!("q: project_id {value:?} is not a number"))
                })?)
            }
            "cvss_score_v3" => out.cvss_v3 = Some(score_range(value)?),
            other => {
                return Err(RegistryError::bad_request(format!(
                    "q: unknown key {other:?} (cve_id, severity, cvss_score_v3, package, project_id, repository_name, tag, digest)"
                )));
            }
        }
    }
    Ok(out)
}

/// `[7~10]` (either end may be empty) or a single score.
fn score_range(value: &str) -> Result<(f64, f64)> {
    let bad = || {
        RegistryError::bad_request(format!(
            "q: cvss_score_v3 {value:?}: use a score or a range [min~max]"
        ))
    };
    let num = |s: &str, default: f64| -> Result<f64> {
        let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
        if s.is_empty() {
            Ok(default)
        } else {
            s.parse().map_err(|_| bad())
        }
    };
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) => {
            let (lo, hi) = inner.split_once('~').ok_or_else(bad)?;
            Ok((num(lo, 0.0)?, num(hi, 10.0)?))
        }
        None => {
            let v = num(value, f64::NAN)?;
            if v.is_nan() {
                return Err(bad());
            }
            Ok((v, v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harbor_q_conditions() {
        let q = parse_q(
            "cve_id=CVE-2023-4911,severity=Critical,project_id=3,cvss_score_v3=[7~10],tag='v1'",
        )
        .unwrap();
        assert_eq!(q.cve_id.as_deref(), Some("CVE-2023-4911"));
        assert_eq!(q.severity, Some(Severity::Critical));
        assert_eq!(q.project_id, Some(3));
        assert_eq!(q.cvss_v3, Some((7.0, 10.0)));
        assert_eq!(q.tag.as_deref(), Some("v1"));
        assert_eq!(
            parse_q("cvss_score_v3=[~5]").unwrap().cvss_v3,
            Some((0.0, 5.0))
        );
        assert_eq!(parse_q("").unwrap(), VulnQuery::default());
        for bad in [
            "cve_id=~CVE",
            "colour=red",
            "severity=awful",
            "project_id=x",
            "cvss_score_v3=[a~b]",
            "novalue",
        ] {
            assert!(parse_q(bad).is_err(), "{bad}");
        }
    }
}
