//! Timestamps: reproducible builds' `SOURCE_DATE_EPOCH`, formatted as RFC 3339 UTC
//! (`YYYY-MM-DDThh:mm:ssZ`, the form both SPDX's `created` pattern and CycloneDX accept).

use crate::{Error, Result};

pub(crate) fn source_date_epoch() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|t| (0..253_402_300_800).contains(t))
            .map(Some)
            .ok_or(Error::BadSourceDateEpoch(v)),
        _ => Ok(None),
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Seconds since the epoch → `YYYY-MM-DDThh:mm:ssZ`. `source_date_epoch` bounds `t` to
/// years 1970–9999, which chrono represents.
pub(crate) fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        // Reference values: `date -u -d @N +%FT%TZ`.
        for (t, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            let date = std::process::Command::new("date")
                .args(["-u", "-d", &format!("@{t}"), "+%FT%TZ"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|_| want.to_string());
            assert_eq!(rfc3339(t), date);
        }
    }
}
