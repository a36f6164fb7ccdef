//! Image-name globs: `**` matches any run of characters including `/`, `*` any run without
//! `/`, `?` one character other than `/`. Everything else is literal. A dozen lines instead
//! of a dependency: repository names have no character classes or escapes to support.

/// Whether `name` matches `pattern` in full.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Dynamic programming over (pattern index, name index): no exponential backtracking on
    // hostile patterns such as `*a*a*a*a*b`.
    let mut memo = vec![vec![None; n.len() + 1]; p.len() + 1];
    go(&p, &n, 0, 0, &mut memo)
}

fn go(p: &[char], n: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
    if let Some(r) = memo[i][j] {
        return r;
    }
    let r = if i == p.len() {
        j == n.len()
    } else if p[i] == '*' && p.get(i + 1) == Some(&'*') {
        // `**/` also matches nothing at all, so `a/**/b` matches `a/b`.
        let skip = if p.get(i + 2) == Some(&'/') { 3 } else { 2 };
        go(p, n, i + skip, j, memo)
            || (skip == 3 && go(p, n, i + 2, j, memo))
            || (j < n.len() && go(p, n, i, j + 1, memo))
    } else if p[i] == '*' {
        go(p, n, i + 1, j, memo) || (j < n.len() && n[j] != '/' && go(p, n, i, j + 1, memo))
    } else if p[i] == '?' {
        j < n.len() && n[j] != '/' && go(p, n, i + 1, j + 1, memo)
    } else {
        j < n.len() && p[i] == n[j] && go(p, n, i + 1, j + 1, memo)
    };
    memo[i][j] = Some(r);
    r
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn double_star_crosses_slashes_single_star_does_not() {
        let p = "registry.company.com/production/**";
        assert!(matches(p, "registry.company.com/production/app"));
        assert!(matches(p, "registry.company.com/production/team/app"));
        assert!(!matches(p, "registry.company.com/staging/app"));
        assert!(!matches(p, "registry.company.com/production"));
        let p = "registry.company.com/production/*";
        assert!(matches(p, "registry.company.com/production/app"));
        assert!(!matches(p, "registry.company.com/production/team/app"));
    }

    #[test]
    fn star_question_and_literals() {
        assert!(matches("127.0.0.1:*/prod/**", "127.0.0.1:5000/prod/app"));
        assert!(!matches(
            "127.0.0.1:*/prod/**",
            "127.0.0.1:5000/dev/prod/app"
        ));
        assert!(matches("*/app", "ghcr.io/app"));
        assert!(!matches("*/app", "ghcr.io/x/app"));
        assert!(matches("ghcr.io/org/app-?", "ghcr.io/org/app-1"));
        assert!(!matches("ghcr.io/org/app-?", "ghcr.io/org/app-12"));
        assert!(matches("a/**/b", "a/b"));
        assert!(matches("a/**/b", "a/x/y/b"));
        assert!(matches("**", "anything/at/all"));
        assert!(matches("exact.io/name", "exact.io/name"));
        assert!(!matches("exact.io/name", "exact.io/names"));
        assert!(!matches("", "x"));
    }

    #[test]
    fn hostile_patterns_are_fast() {
        let name = "a".repeat(200);
        let p = "*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!matches(p, &name));
        let p = "**a**a**a**a**a**a**a**b";
        assert!(!matches(p, &name));
    }
}
