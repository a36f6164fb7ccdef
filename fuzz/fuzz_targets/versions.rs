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

/// Checks the order axioms of `cmp` on one triple.
fn check_total_order(what: &str, cmp: impl Fn(&str, &str) -> Option<Ordering>, v: [&str; 3]) {
    for x in v {
        if let Some(o) = cmp(x, x) {
            assert_eq!(o, Ordering::Equal, "{what}: {x:?} is not equal to itself");
        }
    }
    for (i, x) in v.iter().enumerate() {
        for y in &v[i + 1..] {
            let xy = cmp(x, y);
            let yx = cmp(y, x);
            assert_eq!(
                xy,
                yx.map(Ordering::reverse),
                "{what}: not antisymmetric on {x:?}, {y:?}"
            );
        }
    }
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
    check_total_order(&format!("{eco:?}"), |x, y| compare(eco, x, y), v);
    if eco == Ecosystem::Rpm {
        check_total_order("rpmvercmp", |x, y| Some(rpm::rpmvercmp(x, y)), v);
    }
});
