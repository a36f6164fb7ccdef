//! The JSON values of Trivy's buckets, as trivy-db's `types` package marshals them. Unknown
//! fields are ignored on reading; empty ones are left out on writing, as Go's `omitempty` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Advisory` (or the `Advisories{Entries}` wrapper some OS sources use; see [`Advisory::entries`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Advisory {
    #[serde(rename = "VendorIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub vendor_ids: Vec<String>,
    /// OS packages: vulnerable below this version; empty means no fix yet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fixed_version: String,
    /// Arch Linux only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub affected_version: String,
    /// Language packages: alternatives, each a comma-separated conjunction (`>=1.0, <1.2.3`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerable_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patched_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unaffected_versions: Vec<String>,
    /// trivy-db's status as a number (stored so to keep the DB small); see [`Status`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub status: u8,
    /// Per-package severity (0 unknown … 4 critical), when it differs from the vulnerability's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub severity: u8,
    /// The `Advisories` wrapper's list; never written.
    #[serde(default, skip_serializing)]
    pub entries: Vec<Advisory>,
}

impl Advisory {
    /// The advisories a value stands for: itself, or its `Entries`.
    pub fn entries(self) -> Vec<Advisory> {
        if self.entries.is_empty() {
            vec![self]
        } else {
            self.entries
        }
    }
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// trivy-db's `Status` numbers.
pub struct Status;
impl Status {
    pub const NOT_AFFECTED: u8 = 1;
    pub const AFFECTED: u8 = 2;
    pub const FIXED: u8 = 3;
    pub const WILL_NOT_FIX: u8 = 5;
    pub const END_OF_LIFE: u8 = 7;
}

/// Severity names in trivy-db's order (the JSON holds the index).
pub const SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

pub fn severity_number(label: &str) -> u8 {
    SEVERITIES.iter().position(|s| *s == label).unwrap_or(0) as u8
}

/// The `vulnerability` bucket's values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(rename = "CweIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub cwe_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vendor_severity: BTreeMap<String, u8>,
    #[serde(rename = "CVSS", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cvss: BTreeMap<String, Cvss>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Cvss {
    #[serde(rename = "V2Vector", default, skip_serializing_if = "Option::is_none")]
    pub v2_vector: Option<String>,
    #[serde(rename = "V3Vector", default, skip_serializing_if = "Option::is_none")]
    pub v3_vector: Option<String>,
    #[serde(rename = "V40Vector", default, skip_serializing_if = "Option::is_none")]
    pub v40_vector: Option<String>,
    #[serde(rename = "V2Score", default, skip_serializing_if = "Option::is_none")]
    pub v2_score: Option<f64>,
    #[serde(rename = "V3Score", default, skip_serializing_if = "Option::is_none")]
    pub v3_score: Option<f64>,
    #[serde(rename = "V40Score", default, skip_serializing_if = "Option::is_none")]
    pub v40_score: Option<f64>,
}

/// The `data-source` bucket's values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct DataSource {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "URL", default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// `metadata.json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    pub version: i64,
    #[serde(default)]
    pub next_update: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloaded_at: Option<String>,
}

/// Go's `time.Time` only unmarshals RFC 3339; anything else would make Trivy refuse the
/// whole record, so dates are checked before they are written.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !(b[10] == b'T' || b[10] == b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_go_accepts() {
        assert!(is_rfc3339("2021-05-01T12:00:00Z"));
        assert!(is_rfc3339("2021-05-01T12:00:00.123456Z"));
        assert!(is_rfc3339("2021-05-01T12:00:00+02:00"));
        assert!(!is_rfc3339("2021-05-01"));
        assert!(!is_rfc3339("2021-05-01 12:00:00Z"));
        assert!(!is_rfc3339("2021-05-01T12:00:00"));
    }

    #[test]
    fn advisory_json_as_trivy_db_writes_it() {
        let a: Advisory = serde_json::from_str(
            r#"{"VendorIDs":["GHSA-x"],"VulnerableVersions":[">=1.0, <1.2.3"],"PatchedVersions":["1.2.3"],"Status":5,"Custom":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(a.vulnerable_versions, vec![">=1.0, <1.2.3"]);
        assert_eq!(a.status, Status::WILL_NOT_FIX);
        let back = serde_json::to_string(&a).unwrap();
        assert_eq!(
            back,
            r#"{"VendorIDs":["GHSA-x"],"VulnerableVersions":[">=1.0, <1.2.3"],"PatchedVersions":["1.2.3"],"Status":5}"#
        );
        let w: Advisory =
            serde_json::from_str(r#"{"Entries":[{"FixedVersion":"1"},{"FixedVersion":"2"}]}"#)
                .unwrap();
        assert_eq!(w.entries().len(), 2);
    }
}
