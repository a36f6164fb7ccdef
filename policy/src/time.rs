//! Instants as Unix seconds, and the two date forms policies use: `YYYY-MM-DD` and RFC 3339.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// The end of an allow-list entry's validity: a date `YYYY-MM-DD` is valid through that whole
/// day (UTC), so it ends at the next midnight; an RFC 3339 time ends exactly then.
pub fn parse_expiry(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(day.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// RFC 3339 (UTC, seconds) for `secs`.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_end_at_the_following_midnight() {
        assert_eq!(parse_expiry("1970-01-01"), Some(86_400));
        assert_eq!(parse_expiry("2024-02-29"), Some(1_709_251_200));
        assert_eq!(parse_expiry("2023-02-29"), None);
        assert_eq!(parse_expiry("2024-13-01"), None);
        assert_eq!(parse_expiry("tomorrow"), None);
        assert_eq!(parse_expiry("2024-03-01T00:00:00Z"), Some(1_709_251_200));
        assert_eq!(rfc3339(1_709_251_200), "2024-03-01T00:00:00Z");
    }
}
