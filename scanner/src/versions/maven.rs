//! Maven version ordering ("Version Order Specification" in the POM reference, implemented
//! by `ComparableVersion`): items split at `.`, `-` and digit/letter transitions; `-` and
//! transitions open a sub-list; trailing "null" items (0, "", ga, final, release) are
//! dropped; qualifiers order `alpha < beta < milestone < rc = cr < snapshot < "" < sp`,
//! unknown qualifiers after those (lexically); numbers after qualifiers.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
enum Item {
    Int(u128),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = match (s, followed_by_digit) {
        ("a", true) => "alpha",
        ("b", true) => "beta",
        ("m", true) => "milestone",
        ("ga" | "final" | "release", _) => "",
        ("cr", _) => "rc",
        (s, _) => s,
    };
    Item::Str(s.to_string())
}

fn parse_item(s: &str) -> Option<Item> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        Some(Item::Int(s.parse().ok()?))
    } else {
        Some(string_item(s, false))
    }
}

fn is_null(i: &Item) -> bool {
    match i {
        Item::Int(v) => *v == 0,
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

fn normalize(list: &mut Vec<Item>) {
    for item in list.iter_mut() {
        if let Item::List(l) = item {
            normalize(l);
        }
    }
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Parses into nested lists. Sub-lists are tracked by a path of indices into the root.
fn parse(v: &str) -> Option<Vec<Item>> {
    let v = v.trim().to_ascii_lowercase();
    if v.is_empty() || v.len() > 256 {
        return None;
    }
    let mut root: Vec<Item> = Vec::new();
    let mut depth = 0usize; // current list = the last List nested `depth` times
    fn cur(root: &mut Vec<Item>, depth: usize) -> &mut Vec<Item> {
        let mut l = root;
        for _ in 0..depth {
            l = match l.last_mut() {
                Some(Item::List(x)) => x,
                _ => unreachable!(),
            };
        }
        l
    }
    let b = v.as_bytes();
    let (mut start, mut is_digit) = (0usize, false);
    for i in 0..b.len() {
        let c = b[i];
        if c == b'.' || c == b'-' {
            let item = if i == start {
                Item::Int(0)
            } else {
                parse_item(&v[start..i])?
            };
            cur(&mut root, depth).push(item);
            start = i + 1;
            if c == b'-' {
                cur(&mut root, depth).push(Item::List(Vec::new()));
                depth += 1;
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                cur(&mut root, depth).push(string_item(&v[start..i], true));
                start = i;
                cur(&mut root, depth).push(Item::List(Vec::new()));
                depth += 1;
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                cur(&mut root, depth).push(parse_item(&v[start..i])?);
                start = i;
                cur(&mut root, depth).push(Item::List(Vec::new()));
                depth += 1;
            }
            is_digit = false;
        }
    }
    if b.len() > start {
        // "1.foo" is treated as "1-foo"
        if !is_digit && !cur(&mut root, depth).is_empty() {
            cur(&mut root, depth).push(Item::List(Vec::new()));
            depth += 1;
        }
        let item = parse_item(&v[start..])?;
        cur(&mut root, depth).push(item);
    }
    normalize(&mut root);
    Some(root)
}

fn cmp_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => cmp_item(b, a).reverse(),
        (Some(Item::Int(x)), None) => {
            if *x == 0 {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Some(Item::Str(s)), None) => qualifier_key(s).cmp(&qualifier_key("")),
        (Some(Item::List(l)), None) => l
            .first()
            .map_or(Ordering::Equal, |f| cmp_item(Some(f), None)),
        (Some(Item::Int(x)), Some(Item::Int(y))) => x.cmp(y),
        (Some(Item::Int(_)), Some(_)) => Ordering::Greater,
        (Some(Item::Str(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::Str(x)), Some(Item::Str(y))) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Some(Item::Str(_)), Some(Item::List(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Str(_))) => Ordering::Greater,
        (Some(Item::List(x)), Some(Item::List(y))) => cmp_lists(x, y),
    }
}

fn cmp_lists(x: &[Item], y: &[Item]) -> Ordering {
    for i in 0..x.len().max(y.len()) {
        let o = cmp_item(x.get(i), y.get(i));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(cmp_lists(&parse(a)?, &parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn pom_reference_version_order() {
        let chain = |vs: &[&str]| {
            for w in vs.windows(2) {
                assert_eq!(compare(w[0], w[1]), Some(Less), "{} < {}", w[0], w[1]);
                assert_eq!(compare(w[1], w[0]), Some(Greater), "{} > {}", w[1], w[0]);
            }
        };
        chain(&["1", "1.1"]);
        chain(&["1-snapshot", "1", "1-sp"]);
        chain(&["1-foo2", "1-foo10"]);
        chain(&["1-foo", "1-1", "1.1"]);
        chain(&[
            "1-alpha",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
        ]);
        chain(&["1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0", "1.0.1"]);
        chain(&["1-ga", "1-sp"]);
        chain(&["1-ga.1", "1-sp.1"]);
        for (a, b) in [
            ("1.ga", "1"),
            ("1-ga", "1"),
            ("1-0", "1"),
            ("1.0", "1"),
            ("1.foo", "1-foo"),
            ("1-a1", "1-alpha-1"),
            ("1-cr1", "1-rc1"),
            ("2.0.0.RELEASE", "2.0.0"),
            ("1.0.0-final", "1"),
        ] {
            assert_eq!(compare(a, b), Some(Equal), "{a} = {b}");
        }
    }
}
