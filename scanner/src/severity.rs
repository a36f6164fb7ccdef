//! One severity scale for every crate that ranks vulnerabilities: the scanner's sorting
//! and summaries, the policy's `maxSeverity`, the registry's "highest severity", the
//! CycloneDX ratings.
//!
//! The order is `None < Unknown < Low < Medium < High < Critical`. `None` is the policy's
//! "no vulnerability at all is allowed" threshold and the registry's "nothing found"; the
//! scanner never gives a finding `None` (CVSS "NONE" falls through to the advisory's label
//! on import), so between findings the scale is Trivy's five levels.
//!
//! Names are the upper-case strings every output already uses (Trivy JSON, SARIF, tables,
//! policy facts). Parsing ([`FromStr`]) is case-insensitive and strict: only the six names.
//! [`Severity::lenient`] is the ranking every caller used before this type existed: any
//! other name (an empty string, `NEGLIGIBLE`, a typo) ranks as `Unknown`, never as `None`,
//! so an unrecognised severity is never taken for "no vulnerability".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A vulnerability's severity, ordered from `None` (lowest) to `Critical`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    None,
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 6] = [
        Severity::None,
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The upper-case name reports and policies use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "NONE",
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// The rank of any severity string: case-insensitive, and anything that is not one of
    /// the six names is `Unknown` (see the module documentation).
    pub fn lenient(s: &str) -> Severity {
        s.parse().unwrap_or(Severity::Unknown)
    }

    /// The six names, lowest first, for messages (`NONE, UNKNOWN, …, CRITICAL`).
    pub fn names() -> String {
        Self::ALL.map(Severity::as_str).join(", ")
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the six severity names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: use one of NONE, UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_from_none_to_critical() {
        use Severity::*;
        assert!(None < Unknown && Unknown < Low && Low < Medium);
        assert!(Medium < High && High < Critical);
        let mut shuffled = [High, None, Critical, Low, Unknown, Medium];
        shuffled.sort();
        assert_eq!(shuffled, Severity::ALL);
    }

    #[test]
    fn parses_the_six_names_in_any_case_and_nothing_else() {
        assert_eq!("critical".parse(), Ok(Severity::Critical));
        assert_eq!("High".parse(), Ok(Severity::High));
        assert_eq!("MEDIUM".parse(), Ok(Severity::Medium));
        assert_eq!("none".parse(), Ok(Severity::None));
        assert_eq!(
            "SEVERE".parse::<Severity>(),
            Err(UnknownSeverity("SEVERE".into()))
        );
        assert!("".parse::<Severity>().is_err());
        assert!("NEGLIGIBLE".parse::<Severity>().is_err());
    }

    #[test]
    fn lenient_ranks_other_names_as_unknown() {
        assert_eq!(Severity::lenient("negligible"), Severity::Unknown);
        assert_eq!(Severity::lenient(""), Severity::Unknown);
        assert_eq!(Severity::lenient("low"), Severity::Low);
        assert_eq!(Severity::lenient("NONE"), Severity::None);
    }

    #[test]
    fn serde_uses_the_report_strings() {
        for s in Severity::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::from_str::<Severity>("\"high\"").unwrap(),
            Severity::High
        );
        assert!(serde_json::from_str::<Severity>("\"bad\"").is_err());
        assert_eq!(
            Severity::names(),
            "NONE, UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL"
        );
    }
}
