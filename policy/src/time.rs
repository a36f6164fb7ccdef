//! Instants as Unix seconds, and the two date forms policies use: `YYYY-MM-DD` and RFC 3339.
//! Small enough to keep here rather than pull in a date crate.

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The end of an allow-list entry's validity: a date `YYYY-MM-DD` is valid through that whole
/// day (UTC), so it ends at the next midnight; an RFC 3339 time ends exactly then.
pub fn parse_expiry(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        let mut it = s.split('-');
        let y: i64 = it.next()?.parse().ok()?;
        let m: u32 = it.next()?.parse().ok()?;
        let d: u32 = it.next()?.parse().ok()?;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        return Some((days_from_civil(y, m, d) + 1) * 86_400);
    }
    wharf_signer::keyless::parse_rfc3339(s)
}

/// RFC 3339 (UTC, seconds) for `secs`.
pub fn rfc3339(secs: i64) -> String {
    wharf_signer::image::rfc3339(secs)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
