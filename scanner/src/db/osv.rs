//! The OSV schema (<https://ossf.github.io/osv-schema/>), the subset the scanner uses, and
//! severity scoring of its `severity[]` vectors with the `cvss` crate.

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct Osv {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "strings")]
    pub aliases: Vec<String>,
    /// Ids of related records; Debian's DSA/DLA/DTSA records list their CVEs here.
    #[serde(default, deserialize_with = "strings")]
    pub related: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub modified: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub published: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(deserialize_with = "string")]
    pub score: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "strings")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// An affected entry's package. Both fields default to empty: osv.dev's Debian CVE records
/// carry `"package": {}` beside `GIT` ranges, and such an entry must not cost the whole
/// record (the importer skips entries without an ecosystem and a name, see [`Package::usable`]).
#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    #[serde(default)]
    pub ecosystem: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

impl Package {
    /// Whether the entry names a package in an ecosystem: the importer can store nothing else.
    pub fn usable(&self) -> bool {
        !self.ecosystem.is_empty() && !self.name.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; exactly one field is set in valid records.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Event {
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub introduced: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_affected: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<String>,
    /// Not OSV: Wharf's own event for the exclusive lower bounds of Trivy constraints
    /// (`>1.0`), which OSV's inclusive `introduced` cannot say. Opens just after the version.
    #[serde(
        default,
        rename = "wharf_introduced_after",
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub introduced_after: Option<String>,
}

/// YAML (the PyPA advisory database) writes versions unquoted: `- 2.10` must stay the string
/// "2.10", never the float 2.1. Asking the YAML deserializer for a string yields the scalar's
/// source text, so every version-like field is read as a string, never through `any`.
fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A scored CVSS vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub vector: String,
    pub score: f64,
    pub severity: String,
}

/// Scores a CVSS v3.x vector (`CVSS:3.1/...`).
pub fn score_v3(vector: &str) -> Option<Scored> {
    let v = cvss::v3::Vector::from_str(vector).ok()?;
    let score = v.score();
    Some(Scored {
        vector: vector.to_string(),
        score: score.value(),
        severity: score.severity().as_str().to_ascii_uppercase(),
    })
}

/// Scores a CVSS v4.0 vector (`CVSS:4.0/...`).
pub fn score_v4(vector: &str) -> Option<Scored> {
    let v = cvss::v4::Vector::from_str(vector).ok()?;
    let value = v.score().value();
    Some(Scored {
        vector: vector.to_string(),
        score: value,
        severity: v.score().severity().as_str().to_ascii_uppercase(),
    })
}

/// Maps the free-text severities of advisory sources onto Trivy's five levels.
pub fn normalize_severity(s: &str) -> Option<&'static str> {
    Some(match s.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => "CRITICAL",
        "HIGH" | "IMPORTANT" => "HIGH",
        "MEDIUM" | "MODERATE" => "MEDIUM",
        "LOW" | "NEGLIGIBLE" | "UNIMPORTANT" => "LOW",
        "NONE" => "LOW",
        _ => return None,
    })
}

/// Debian's tracker urgency as a severity, as trivy-db maps it (`severityFromUrgency` in
/// its Debian source): `unimportant` is LOW; `not yet assigned` and `end-of-life` say
/// nothing about severity. The trailing `*`/`**` mark uncertain ratings.
pub fn urgency_severity(urgency: &str) -> Option<&'static str> {
    Some(match urgency.trim_end_matches('*') {
        "unimportant" | "low" => "LOW",
        "medium" => "MEDIUM",
        "high" => "HIGH",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_scores_match_first_calculator() {
        // FIRST's calculator: AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H = 9.8 Critical
        let s = score_v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s.score, s.severity.as_str()), (9.8, "CRITICAL"));
        let s = score_v3("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N").unwrap();
        // by the v3.1 formulas: exploitability 8.22*0.55*0.77*0.62*0.62 = 1.338, impact 6.42*0.22 = 1.412 -> roundup(2.750) = 2.8
        assert_eq!((s.score, s.severity.as_str()), (2.8, "LOW"));
        // CVSS 4.0 spec example: all High, no subsequent impact = 9.3
        let s =
            score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!((s.score, s.severity.as_str()), (9.3, "CRITICAL"));
        assert!(score_v3("CVSS:3.1/garbage").is_none());
    }

    #[test]
    fn yaml_versions_stay_strings() {
        let y = "id: X\naffected:\n- package: {name: a, ecosystem: PyPI}\n  versions:\n  - 2.0\n  - 1.10\n  - 0.12.01\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 2.10\n";
        let o: Osv = serde_norway::from_str(y).unwrap();
        assert_eq!(o.affected[0].versions, vec!["2.0", "1.10", "0.12.01"]);
        assert_eq!(
            o.affected[0].ranges[0].events[1].fixed.as_deref(),
            Some("2.10")
        );
    }
}
