//! RubyGems version ordering (`Gem::Version#<=>`): segments split at `.` and at
//! digit/letter boundaries; a letter segment makes a pre-release; trailing zero segments
//! are dropped (`canonical_segments`); a number sorts after a string; missing is 0.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(u128),
    Str(String),
}

fn segments(v: &str) -> Option<Vec<Seg>> {
    let v = v.trim();
    if v.is_empty()
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return None;
    }
    // Gem::Version replaces "-" with ".pre."
    let v = v.replace('-', ".pre.");
    let mut out = Vec::new();
    for part in v.split('.') {
        let mut cur = String::new();
        let mut digit = None;
        for c in part.chars() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|p| p != d) {
                out.push(seg(&cur)?);
                cur.clear();
            }
            digit = Some(d);
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(seg(&cur)?);
        }
    }
    // canonical_segments: drop trailing zeros of the release part and of the prerelease part
    let split = out
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(out.len());
    let (mut rel, mut pre) = (out[..split].to_vec(), out[split..].to_vec());
    while rel.last() == Some(&Seg::Num(0)) {
        rel.pop();
    }
    while pre.last() == Some(&Seg::Num(0)) {
        pre.pop();
    }
    rel.extend(pre);
    Some(rel)
}

fn seg(s: &str) -> Option<Seg> {
    Some(if s.as_bytes()[0].is_ascii_digit() {
        Seg::Num(s.parse().ok()?)
    } else {
        Seg::Str(s.to_string())
    })
}

pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (segments(a)?, segments(b)?);
    for i in 0..a.len().max(b.len()) {
        let l = a.get(i).cloned().unwrap_or(Seg::Num(0));
        let r = b.get(i).cloned().unwrap_or(Seg::Num(0));
        let o = match (&l, &r) {
            (Seg::Num(x), Seg::Num(y)) => x.cmp(y),
            (Seg::Str(x), Seg::Str(y)) => x.cmp(y),
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn gem_version_documented_cases() {
        // from rubygems' test_gem_version.rb
        assert_eq!(compare("1.0", "1.0.0"), Some(Equal));
        assert_eq!(compare("1.0", "1.0.a"), Some(Greater));
        assert_eq!(compare("1.8.2", "0.0.0"), Some(Greater));
        assert_eq!(compare("1.8.2", "1.8.2.a"), Some(Greater));
        assert_eq!(compare("1.8.2.b", "1.8.2.a"), Some(Greater));
        assert_eq!(compare("1.8.2.a10", "1.8.2.a9"), Some(Greater));
        assert_eq!(compare("0.beta.1", "0.0.beta.1"), Some(Equal));
        assert_eq!(compare("1.0.0.rc1", "1.0.0"), Some(Less));
        assert_eq!(compare("1.9.3", "1.10"), Some(Less));
        assert_eq!(compare("1.0-1", "1.0.pre.1"), Some(Equal));
        assert_eq!(compare("5.x", "5.0"), Some(Less));
        assert_eq!(compare("1.0 junk", "1"), None);
    }
}
