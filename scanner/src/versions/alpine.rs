//! Alpine (apk) version ordering, after apk-tools' `version.c` (itself Gentoo's scheme):
//! `N(.N)*[a-z]?(_suffix[N])*[-rN]`. Suffix order: `alpha < beta < pre < rc < (none) <
//! cvs < svn < git < hg < p`. After the first number, a component with a leading zero is
//! compared as a decimal fraction (1.01 < 1.1), as in Gentoo's PMS.

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq)]
struct Apk<'a> {
    nums: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(i32, u64)>,
    rev: u64,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

fn suffix_rank(s: &str) -> Option<i32> {
    if let Some(i) = PRE.iter().position(|p| *p == s) {
        return Some(i as i32 - PRE.len() as i32); // negative: before the release
    }
    POST.iter().position(|p| *p == s).map(|i| i as i32 + 1)
}

fn parse(v: &str) -> Option<Apk<'_>> {
    let (main, rev) = match v.rsplit_once("-r") {
        Some((m, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => {
            (m, r.parse().ok()?)
        }
        _ => (v, 0),
    };
    let (head, suff) = match main.find('_') {
        Some(i) => (&main[..i], Some(&main[i + 1..])),
        None => (main, None),
    };
    let (numpart, letter) = match head.as_bytes().last() {
        Some(c) if c.is_ascii_lowercase() => (&head[..head.len() - 1], Some(*c)),
        _ => (head, None),
    };
    let nums: Vec<&str> = numpart.split('.').collect();
    if nums
        .iter()
        .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut suffixes = Vec::new();
    if let Some(s) = suff {
        for part in s.split('_') {
            let idx = part
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(part.len());
            let rank = suffix_rank(&part[..idx])?;
            let n = if idx < part.len() {
                part[idx..].parse().ok()?
            } else {
                0
            };
            suffixes.push((rank, n));
        }
    }
    Some(Apk {
        nums,
        letter,
        suffixes,
        rev,
    })
}

fn cmp_num(a: &str, b: &str, first: bool) -> Ordering {
    if !first && (a.starts_with('0') || b.starts_with('0')) {
        // fractional comparison: strip trailing zeros, compare as strings
        return a.trim_end_matches('0').cmp(b.trim_end_matches('0'));
    }
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    for (i, (x, y)) in a.nums.iter().zip(&b.nums).enumerate() {
        match cmp_num(x, y, i == 0) {
            Ordering::Equal => {}
            o => return Some(o),
        }
    }
    match a.nums.len().cmp(&b.nums.len()) {
        Ordering::Equal => {}
        o => return Some(o),
    }
    match a.letter.cmp(&b.letter) {
        Ordering::Equal => {}
        o => return Some(o),
    }
    let n = a.suffixes.len().max(b.suffixes.len());
    for i in 0..n {
        match (a.suffixes.get(i), b.suffixes.get(i)) {
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Equal => {}
                o => return Some(o),
            },
            // an extra pre-release suffix sorts before, a post-release one after
            (Some(x), None) => {
                return Some(if x.0 < 0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                });
            }
            (None, Some(y)) => {
                return Some(if y.0 < 0 {
                    Ordering::Greater
                } else {
                    Ordering::Less
                });
            }
            (None, None) => unreachable!(),
        }
    }
    Some(a.rev.cmp(&b.rev))
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn apk_documented_cases() {
        let less = [
            ("1.0", "1.1"),
            ("1.9", "1.10"),
            ("1.0_alpha", "1.0_beta"),
            ("1.0_beta", "1.0_pre"),
            ("1.0_pre", "1.0_rc"),
            ("1.0_rc1", "1.0"),
            ("1.0", "1.0_cvs"),
            ("1.0_cvs", "1.0_svn"),
            ("1.0_git", "1.0_hg"),
            ("1.0_hg", "1.0_p"),
            ("1.0_p1", "1.0_p2"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0b"),
            ("1.0", "1.0-r1"),
            ("1.0-r1", "1.0-r10"),
            ("1.0.0", "1.0.0.1"),
            ("1.01", "1.1"),
            ("1.0_rc1", "1.0_rc1_p1"),
            ("2.36-r0", "2.36.1-r0"),
            ("1.2.3_alpha1", "1.2.3_alpha2"),
            ("3.0.8-r0", "3.0.10-r0"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Some(Less), "{a} < {b}");
            assert_eq!(compare(b, a), Some(Greater), "{b} > {a}");
        }
        assert_eq!(compare("1.0-r0", "1.0"), Some(Equal));
        assert_eq!(compare("1.0_foo", "1.0"), None);
    }
}
