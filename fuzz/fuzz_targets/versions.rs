//! Every version comparator (Debian, RPM, Alpine, Maven, RubyGems, PEP 440, SemVer) on three
//! generated versions, checked to be a total order where it answers: reflexive
//! (`cmp(a, a) == Equal`), antisymmetric (`cmp(a, b) == cmp(b, a).reverse()`) and transitive
//! on the triple (`a <= b <= c` implies `a <= c`, and the same for `==`). A comparator that
//! is not a total order makes range matching depend on the order of a database's rows.
//! Most bytes are mapped onto the characters versions are made of, so the three versions
//! share structure often enough to reach the interesting branches.
#![no_main]

use std::cmp::Ordering;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wharf_scanner::inventory::Ecosystem;
use wharf_scanner::versions::{compare, rpm};

const ECOSYSTEMS: &[Ecosystem] = &[
    Ecosystem::Debian,
    Ecosystem::Rpm,
    Ecosystem::Alpine,
    Ecosystem::Maven,
    Ecosystem::RubyGems,
    Ecosystem::PyPI,
    Ecosystem::Npm,
    Ecosystem::Go,
];

const ALPHABET: &[u8] = b"0123456789000111.........---~~+++__::^abcdeghlmprstvzABRCXY";

#[derive(Debug, Arbitrary)]
struct Input {
    eco: u8,
    raw: bool,
    a: Vec<u8>,
    b: Vec<u8>,
    c: Vec<u8>,
}

fn version(raw: bool, bytes: &[u8]) -> String {
    if raw {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect()
    }
}

/// Reflexivity and antisymmetry of `cmp` on every pair of the triple.
fn check_pairs(what: &str, cmp: impl Fn(&str, &str) -> Option<Ordering>, v: [&str; 3]) {
    for x in v {
        if let Some(o) = cmp(x, x) {
            assert_eq!(o, Ordering::Equal, "{what}: {x:?} is not equal to itself");
        }
    }
    for (i, x) in v.iter().enumerate() {
        for y in &v[i + 1..] {
            assert_eq!(
                cmp(x, y),
                cmp(y, x).map(Ordering::reverse),
                "{what}: not antisymmetric on {x:?}, {y:?}"
            );
        }
    }
}

/// Checks the order axioms of `cmp` on one triple. With `total` false only a strict order
/// is required (`<` transitive), not that "equal" is transitive.
fn check_order(
    what: &str,
    cmp: impl Fn(&str, &str) -> Option<Ordering>,
    v: [&str; 3],
    total: bool,
) {
    check_pairs(what, &cmp, v);
    // every orientation of the triple
    for [x, y, z] in [
        [v[0], v[1], v[2]],
        [v[0], v[2], v[1]],
        [v[1], v[0], v[2]],
        [v[1], v[2], v[0]],
        [v[2], v[0], v[1]],
        [v[2], v[1], v[0]],
    ] {
        if let (Some(xy), Some(yz), Some(xz)) = (cmp(x, y), cmp(y, z), cmp(x, z)) {
            if xy == Ordering::Less && yz == Ordering::Less {
                assert_eq!(
                    xz,
                    Ordering::Less,
                    "{what}: not transitive: {x:?} < {y:?} < {z:?} but not {x:?} < {z:?}"
                );
            }
            if !total {
                continue;
            }
            if xy != Ordering::Greater && yz != Ordering::Greater {
                assert_ne!(
                    xz,
                    Ordering::Greater,
                    "{what}: not transitive: {x:?} <= {y:?} <= {z:?} but {x:?} > {z:?}"
                );
            }
            if xy == Ordering::Equal && yz == Ordering::Equal {
                assert_eq!(
                    xz,
                    Ordering::Equal,
                    "{what}: equality not transitive on {x:?}, {y:?}, {z:?}"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let eco = ECOSYSTEMS[input.eco as usize % ECOSYSTEMS.len()];
    let (a, b, c) = (
        version(input.raw, &input.a),
        version(input.raw, &input.b),
        version(input.raw, &input.c),
    );
    let v = [a.as_str(), b.as_str(), c.as_str()];
    // RPM's EVR comparison treats a missing release as equal to any release (rpm's rule
    // for dependency ranges such as `>= 1.2`), so "equal" is not transitive when some of
    // the versions have a release and some do not: 1-1 = 1 = 1-2 but 1-1 < 1-2. There
    // only the strict order is checked; rpmvercmp itself must be a total order.
    let has_release = |s: &str| s.split_once(':').map_or(s, |(_, r)| r).contains('-');
    let total = eco != Ecosystem::Rpm || v.iter().all(|s| has_release(s) == has_release(v[0]));
    if eco == Ecosystem::Maven {
        // Maven's own ComparableVersion is not transitive where a qualifier meets a number
        // or a missing item: 1-a < 1.0.0.alpha < 1 < 1-a (a string item is less than a
        // number, a number 0 equals a missing item, an unknown qualifier is greater than a
        // missing item). Wharf reproduces Maven's order, cycle included (see README.md);
        // only reflexivity and antisymmetry are checked.
        check_pairs("Maven", |x, y| compare(eco, x, y), v);
        return;
    }
    check_order(&format!("{eco:?}"), |x, y| compare(eco, x, y), v, total);
    if eco == Ecosystem::Rpm {
        check_order("rpmvercmp", |x, y| Some(rpm::rpmvercmp(x, y)), v, true);
    }
});
