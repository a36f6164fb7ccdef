//! Debian version ordering, as dpkg implements it (deb-version(7)):
//! `[epoch:]upstream_version[-debian_revision]`, compared part by part with `verrevcmp`:
//! alternating non-digit runs (letters sort before non-letters, `~` before everything,
//! even the end of the string) and digit runs compared numerically.

use std::cmp::Ordering;

/// Splits into (epoch, upstream, revision). `None` for an invalid epoch.
fn split(v: &str) -> Option<(u64, &str, &str)> {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (e.parse::<u64>().ok()?, r),
        None => (0, v),
    };
    let (up, rev) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if up.is_empty()
        || !up.as_bytes()[0].is_ascii_digit() && !up.as_bytes()[0].is_ascii_alphanumeric()
    {
        return None;
    }
    Some((epoch, up, rev))
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = a[i] as i32 - b[j] as i32;
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (ea, ua, ra) = split(a)?;
    let (eb, ub, rb) = split(b)?;
    Some(
        ea.cmp(&eb)
            .then_with(|| verrevcmp(ua, ub))
            .then_with(|| verrevcmp(ra, rb)),
    )
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn dpkg_documented_cases() {
        // deb-version(7): "~~ < ~~a < ~ < (empty) < a"
        for (a, b) in [
            ("1.0~~", "1.0~~a"),
            ("1.0~~a", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0a"),
        ] {
            assert_eq!(compare(a, b), Some(Less), "{a} < {b}");
            assert_eq!(compare(b, a), Some(Greater), "{b} > {a}");
        }
        // epochs dominate
        assert_eq!(compare("1:1.0", "2.0"), Some(Greater));
        assert_eq!(compare("0:1.0", "1.0"), Some(Equal));
        // numeric, not lexical; leading zeros ignored
        assert_eq!(compare("1.10", "1.9"), Some(Greater));
        assert_eq!(compare("1.002", "1.2"), Some(Equal));
        // revisions; the last hyphen separates it
        assert_eq!(compare("1.0-1", "1.0-2"), Some(Less));
        assert_eq!(compare("1.0-1-2", "1.0-1-10"), Some(Less));
        assert_eq!(compare("2.36-9+deb12u4", "2.36-9+deb12u10"), Some(Less));
        assert_eq!(compare("2.36-9+deb12u4", "2.36-9"), Some(Greater));
        // letters sort before non-letters
        assert_eq!(compare("1.0a", "1.0+"), Some(Less));
        assert_eq!(
            compare("1.0+dfsg", "1.0.1"),
            Some(Less),
            "'+' sorts before '.' (ASCII, both non-letters)"
        );
        assert_eq!(compare("a:1", "1"), None);
    }
}
