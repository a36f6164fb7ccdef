//! Trivy's version constraints ↔ Wharf's OSV-shaped ranges.
//!
//! Trivy keeps, per language advisory, `VulnerableVersions` (alternatives, each a
//! comma-separated conjunction such as `>=1.0, <1.2.3` or `=2.0`; npm also joins
//! alternatives with `||`) or, when a source only lists fixes, `PatchedVersions` /
//! `UnaffectedVersions` (vulnerable = everything else). Each conjunction becomes one
//! `ECOSYSTEM` range (`>=a` → introduced, `>a` → Wharf's introduced_after, `<b` → fixed,
//! `<=b` → last_affected) and `=v` an explicit version, so versions are still compared by
//! the ecosystem's own ordering at match time. Shapes that cannot be said exactly (`!=`,
//! secure sets with gaps of single versions) are errors, never approximations.

use std::cmp::Ordering;

use crate::db::osv::{Event, Range};
use crate::inventory::Ecosystem;
use crate::matcher::{in_range, sort_events};
use crate::versions;

/// One bound: the version and whether it is included.
type Bound = Option<(String, bool)>;

/// A conjunction: an interval, or one exact version.
#[derive(Debug, Clone, PartialEq)]
enum Conj {
    Interval { lower: Bound, upper: Bound },
    Exact(String),
}

/// What a Trivy advisory's constraints mean in Wharf's model.
#[derive(Debug, Default, PartialEq)]
pub struct Affects {
    pub ranges: Vec<Range>,
    pub versions: Vec<String>,
}

/// Reads `VulnerableVersions`, else the complement of `PatchedVersions` +
/// `UnaffectedVersions`; with none of them every version is affected.
pub fn from_trivy(
    eco: Option<Ecosystem>,
    vulnerable: &[String],
    patched: &[String],
    unaffected: &[String],
) -> Result<Affects, String> {
    let mut out = Affects::default();
    let cmp = comparator(eco);
    if !vulnerable.is_empty() {
        for s in vulnerable {
            for alt in s.split("||") {
                match parse_conj(alt, &cmp)? {
                    Conj::Exact(v) => out.versions.push(v),
                    Conj::Interval { lower, upper } => out.ranges.push(range_of(&lower, &upper)),
                }
            }
        }
        return Ok(out);
    }
    let mut secure = Vec::new();
    for s in patched.iter().chain(unaffected) {
        for alt in s.split("||") {
            match parse_conj(alt, &cmp)? {
                Conj::Interval { lower, upper } => {
                    if lower.as_ref().is_some_and(|(_, inc)| !inc)
                        || upper.as_ref().is_some_and(|(_, inc)| *inc)
                    {
                        return Err(format!(
                            "patched range {alt:?} has a bound Wharf's ranges cannot complement exactly"
                        ));
                    }
                    secure.push((lower.map(|b| b.0), upper.map(|b| b.0)));
                }
                // `PatchedVersions: ["1.2.3"]` means "fixed in 1.2.3": secure from there on.
                Conj::Exact(v) if !alt.trim_start().starts_with('=') => {
                    secure.push((Some(v), None))
                }
                Conj::Exact(v) => {
                    return Err(format!(
                        "a single secure version ({v}) cannot be complemented exactly"
                    ));
                }
            }
        }
    }
    if secure.is_empty() {
        out.ranges.push(range_of(&None, &None));
        return Ok(out);
    }
    secure.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp(x, y).unwrap_or(Ordering::Equal),
    });
    // Walk the secure intervals in order; the gaps between them are vulnerable.
    let mut cursor = Some("0".to_string());
    for (lo, hi) in secure {
        if let (Some(lo), Some(c)) = (lo, cursor.take()) {
            out.ranges.push(Range {
                kind: "ECOSYSTEM".into(),
                events: vec![ev_introduced(&c), ev_fixed(&lo)],
            })
        }
        cursor = hi;
        if cursor.is_none() {
            break;
        }
    }
    if let Some(c) = cursor {
        out.ranges.push(Range {
            kind: "ECOSYSTEM".into(),
            events: vec![ev_introduced(&c)],
        });
    }
    Ok(out)
}

/// Writes Wharf's ranges and explicit versions as Trivy's `VulnerableVersions` and
/// `PatchedVersions`, as trivy-db's own OSV importer does: one conjunction per interval,
/// `=v` for listed versions that no range already covers.
pub fn to_trivy(
    eco: Option<Ecosystem>,
    ranges: &[Range],
    versions: &[String],
) -> (Vec<String>, Vec<String>) {
    let (mut vulnerable, mut patched) = (Vec::new(), Vec::new());
    let cmp = comparator(eco);
    for r in ranges {
        if r.kind == "GIT" {
            continue;
        }
        let key = |e: &Event| {
            e.introduced
                .clone()
                .or(e.introduced_after.clone())
                .or(e.fixed.clone())
                .or(e.last_affected.clone())
        };
        let mut evs: Vec<(&Event, String)> = r
            .events
            .iter()
            .filter(|e| e.limit.is_none())
            .filter_map(|e| Some((e, key(e)?)))
            .collect();
        // Sorted and walked as the matcher does (`matcher::in_range`): an opening event while
        // an interval is open changes nothing, a closing one while none is open neither.
        // Unparseable versions keep the record's order (the matcher cannot evaluate them).
        if evs.iter().all(|(_, v)| v == "0" || cmp(v, v).is_some()) {
            sort_events(&mut evs, &cmp);
        }
        let mut open: Option<Bound> = None;
        for (e, v) in evs {
            if e.introduced.is_some() || e.introduced_after.is_some() {
                if open.is_none() {
                    open = Some(if v == "0" {
                        None
                    } else {
                        Some((v, e.introduced.is_some()))
                    });
                }
            } else if let Some(lower) = open.take() {
                let inclusive = e.last_affected.is_some();
                if !inclusive {
                    patched.push(v.clone());
                }
                vulnerable.push(conj_string(&lower, &Some((v, inclusive))));
            }
        }
        if let Some(lower) = open {
            vulnerable.push(conj_string(&lower, &None));
        }
    }
    for v in versions {
        let covered = eco.is_some_and(|eco| {
            ranges
                .iter()
                .any(|r| in_range(eco, r, v).is_some_and(|(hit, _)| hit))
        });
        let s = format!("={v}");
        if !covered && !vulnerable.contains(&s) {
            vulnerable.push(s);
        }
    }
    (vulnerable, patched)
}

fn conj_string(lower: &Bound, upper: &Bound) -> String {
    match (lower, upper) {
        (Some((l, true)), Some((u, true))) if l == u => format!("={l}"),
        (None, None) => ">=0".into(),
        _ => {
            let mut parts = Vec::new();
            if let Some((l, inc)) = lower {
                parts.push(format!("{}{l}", if *inc { ">=" } else { ">" }));
            }
            if let Some((u, inc)) = upper {
                parts.push(format!("{}{u}", if *inc { "<=" } else { "<" }));
            }
            parts.join(", ")
        }
    }
}

fn comparator(eco: Option<Ecosystem>) -> impl Fn(&str, &str) -> Option<Ordering> {
    move |a, b| versions::compare(eco?, a, b)
}

fn ev_introduced(v: &str) -> Event {
    Event {
        introduced: Some(v.into()),
        ..Default::default()
    }
}

fn ev_fixed(v: &str) -> Event {
    Event {
        fixed: Some(v.into()),
        ..Default::default()
    }
}

fn range_of(lower: &Bound, upper: &Bound) -> Range {
    let mut events = vec![match lower {
        None => ev_introduced("0"),
        Some((v, true)) => ev_introduced(v),
        Some((v, false)) => Event {
            introduced_after: Some(v.clone()),
            ..Default::default()
        },
    }];
    match upper {
        None => {}
        Some((v, false)) => events.push(ev_fixed(v)),
        Some((v, true)) => events.push(Event {
            last_affected: Some(v.clone()),
            ..Default::default()
        }),
    }
    Range {
        kind: "ECOSYSTEM".into(),
        events,
    }
}

/// Parses one conjunction: comparators separated by commas or spaces (`>= 1.0, < 2`,
/// `>1.0 <=2.0`), a bare or `=`/`==` version, Ruby's `~>`, PEP 440's `~=`, npm's `^` / `~`.
fn parse_conj(s: &str, cmp: &dyn Fn(&str, &str) -> Option<Ordering>) -> Result<Conj, String> {
    let (mut lower, mut upper): (Bound, Bound) = (None, None);
    let mut exact = None;
    let mut rest = s.trim();
    let mut n = 0;
    // Two bounds on one side (`~> 5.2.4, >= 5.2.4.3`): the tighter one holds.
    let tighter = |slot: &mut Bound, b: (String, bool), want: Ordering| -> Result<(), String> {
        let keep_new = match slot {
            None => true,
            Some((old, old_inc)) => match cmp(&b.0, old) {
                Some(Ordering::Equal) => *old_inc && !b.1,
                Some(o) => o == want,
                None => return Err(format!("{s:?}: versions not comparable in this ecosystem")),
            },
        };
        if keep_new {
            *slot = Some(b);
        }
        Ok(())
    };
    let set_lower = |slot: &mut Bound, b| tighter(slot, b, Ordering::Greater);
    let set_upper = |slot: &mut Bound, b| tighter(slot, b, Ordering::Less);
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let op_len = rest
            .find(|c: char| !"<>=!~^".contains(c))
            .unwrap_or(rest.len());
        let op = &rest[..op_len];
        rest = rest[op_len..].trim_start();
        let v_len = rest
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let v = rest[..v_len].trim_start_matches('v').to_string();
        rest = &rest[v_len..];
        if v.is_empty() || v.contains(['<', '>', '=']) {
            return Err(format!("{s:?}: a comparator without a version"));
        }
        n += 1;
        match op {
            "" | "=" | "==" | "===" => exact = Some(v),
            ">=" => set_lower(&mut lower, (v, true))?,
            ">" => set_lower(&mut lower, (v, false))?,
            "<" => set_upper(&mut upper, (v, false))?,
            "<=" => set_upper(&mut upper, (v, true))?,
            "~>" | "~=" => {
                let up = bump(&v).ok_or_else(|| format!("{s:?}: cannot bump {v}"))?;
                set_lower(&mut lower, (v, true))?;
                set_upper(&mut upper, (up, false))?;
            }
            "^" | "~" => {
                let up =
                    npm_upper(&v, op == "^").ok_or_else(|| format!("{s:?}: cannot bump {v}"))?;
                set_lower(&mut lower, (v, true))?;
                set_upper(&mut upper, (up, false))?;
            }
            other => {
                return Err(format!(
                    "{s:?}: operator {other:?} cannot be expressed as a range"
                ));
            }
        }
    }
    match exact {
        Some(v) if n == 1 => Ok(Conj::Exact(v)),
        Some(_) => Err(format!("{s:?}: an exact version combined with bounds")),
        None if n == 0 => Err("an empty constraint".into()),
        None => Ok(Conj::Interval { lower, upper }),
    }
}

/// The numeric release segments of a version (`1.2.3rc1` → [1, 2, 3]).
fn numeric(v: &str) -> Vec<u64> {
    v.split(['.', '-', '+'])
        .map_while(|p| {
            let d: String = p.chars().take_while(char::is_ascii_digit).collect();
            let whole = d.len() == p.len();
            d.parse().ok().map(|n| (n, whole))
        })
        .scan(true, |go, (n, whole)| {
            let r = go.then_some(n);
            *go = whole;
            r
        })
        .collect()
}

/// `~> 1.2.3` / `~= 1.2.3` → 1.3; `~> 1.2` → 2 (drop the last segment, bump the new last).
fn bump(v: &str) -> Option<String> {
    let mut p = numeric(v);
    if p.len() > 1 {
        p.pop();
    }
    *p.last_mut()? += 1;
    Some(p.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// npm: `^1.2.3` → 2.0.0, `^0.2.3` → 0.3.0, `^0.0.3` → 0.0.4; `~1.2.3` → 1.3.0, `~1` → 2.0.0.
fn npm_upper(v: &str, caret: bool) -> Option<String> {
    let p = numeric(v);
    let (ma, mi, pa) = (*p.first()?, p.get(1).copied(), p.get(2).copied());
    let s = if caret {
        match (ma, mi, pa) {
            (0, Some(0), Some(pa)) => format!("0.0.{}", pa + 1),
            (0, Some(mi), _) => format!("0.{}.0", mi + 1),
            (ma, _, _) => format!("{}.0.0", ma + 1),
        }
    } else {
        match mi {
            Some(mi) if p.len() >= 2 => format!("{ma}.{}.0", mi + 1),
            _ => format!("{}.0.0", ma + 1),
        }
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Matches a version against imported constraints with Wharf's matcher.
    fn hits(eco: Ecosystem, a: &Affects, v: &str) -> bool {
        a.versions
            .iter()
            .any(|x| versions::compare(eco, x, v) == Some(Ordering::Equal))
            || a.ranges.iter().any(|r| in_range(eco, r, v).unwrap().0)
    }

    #[test]
    fn vulnerable_versions_keep_the_ecosystem_ordering() {
        let py = Ecosystem::PyPI;
        let a = from_trivy(
            Some(py),
            &s(&[">=1.0, <1.2.3", "=2.0", "> 3.0 <= 3.5"]),
            &[],
            &[],
        )
        .unwrap();
        for (v, want) in [
            ("0.9", false),
            ("1.0", true),
            ("1.2.3rc1", true), // PEP 440: pre-release sorts before 1.2.3
            ("1.2.3", false),
            ("2.0", true),
            ("2.0.0", true), // PEP 440: 2.0 == 2.0.0
            ("3.0", false),  // exclusive lower bound
            ("3.0.1", true),
            ("3.5", true),
            ("3.5.1", false),
        ] {
            assert_eq!(hits(py, &a, v), want, "{v}");
        }
        let npm = from_trivy(
            Some(Ecosystem::Npm),
            &s(&["<1.0.0 || >=2.0.0 <2.1.3"]),
            &[],
            &[],
        )
        .unwrap();
        assert!(hits(Ecosystem::Npm, &npm, "0.9.0") && hits(Ecosystem::Npm, &npm, "2.1.2"));
        assert!(!hits(Ecosystem::Npm, &npm, "1.5.0") && !hits(Ecosystem::Npm, &npm, "2.1.3"));
    }

    #[test]
    fn patched_versions_are_complemented() {
        let gem = Ecosystem::RubyGems;
        // ruby-advisory-db style: fixed in 5.2.4.3 on the 5.2 line and in 6.0.3.1 on 6.0
        let a = from_trivy(
            Some(gem),
            &[],
            &s(&["~> 5.2.4, >= 5.2.4.3", ">= 6.0.3.1"]),
            &s(&["< 4.0"]),
        )
        .unwrap();
        for (v, want) in [
            ("3.9", false),
            ("4.0", true),
            ("5.2.4.2", true),
            ("5.2.4.3", false),
            ("5.2.9", false),
            ("5.3", true),
            ("6.0.3", true),
            ("6.0.3.1", false),
            ("7.0", false),
        ] {
            assert_eq!(hits(gem, &a, v), want, "{v}");
        }
        // bare versions in PatchedVersions mean "fixed in"
        let a = from_trivy(Some(Ecosystem::PyPI), &[], &s(&["2.20.0"]), &[]).unwrap();
        assert!(hits(Ecosystem::PyPI, &a, "2.19.0") && !hits(Ecosystem::PyPI, &a, "2.20.0"));
        // nothing known: everything affected
        let a = from_trivy(Some(Ecosystem::Go), &[], &[], &[]).unwrap();
        assert!(hits(Ecosystem::Go, &a, "v0.0.1"));
    }

    #[test]
    fn inexpressible_constraints_are_errors() {
        for bad in ["!=1.0", ">=", ">=1.0, =2.0", ""] {
            assert!(
                from_trivy(Some(Ecosystem::PyPI), &s(&[bad]), &[], &[]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ranges_round_trip_through_trivy_strings() {
        let py = Some(Ecosystem::PyPI);
        let r = |evs: &[(&str, &str)]| Range {
            kind: "ECOSYSTEM".into(),
            events: evs
                .iter()
                .map(|(k, v)| match *k {
                    "i" => ev_introduced(v),
                    "f" => ev_fixed(v),
                    _ => Event {
                        last_affected: Some(v.to_string()),
                        ..Default::default()
                    },
                })
                .collect(),
        };
        // two branches out of order, an open-ended one, and listed versions
        let ranges = vec![
            r(&[("i", "3.0"), ("f", "3.1.12"), ("i", "0"), ("f", "2.2.24")]),
            r(&[("i", "4.0"), ("l", "4.1")]),
            r(&[("i", "5.0")]),
        ];
        let (vuln, patched) = to_trivy(py, &ranges, &s(&["2.0", "1.0.post1", "3.5"]));
        assert_eq!(
            vuln,
            s(&["<2.2.24", ">=3.0, <3.1.12", ">=4.0, <=4.1", ">=5.0", "=3.5"])
        );
        assert_eq!(patched, s(&["2.2.24", "3.1.12"]));
        let back = from_trivy(py, &vuln, &patched, &[]).unwrap();
        for v in [
            "0.1", "2.2.23", "2.2.24", "3.0", "3.1.12", "3.5", "4.1", "4.1.1", "5.0", "9",
        ] {
            let orig = v == "3.5"
                || ranges
                    .iter()
                    .any(|x| in_range(Ecosystem::PyPI, x, v).unwrap().0);
            assert_eq!(hits(Ecosystem::PyPI, &back, v), orig, "{v}");
        }
    }
}
