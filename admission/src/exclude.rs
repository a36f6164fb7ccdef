//! Namespaces and images the webhook lets through without looking.

use std::collections::HashSet;

use super::gate::ImageRef;

#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    namespaces: HashSet<String>,
    images: Vec<String>,
}

impl Exclusions {
    /// `images` are globs: `*` matches any run of characters (slashes
    /// included), `?` exactly one.
    pub fn new(
        namespaces: impl IntoIterator<Item = String>,
        images: impl IntoIterator<Item = String>,
    ) -> Self {
        Exclusions {
            namespaces: namespaces.into_iter().collect(),
            images: images.into_iter().collect(),
        }
    }

    pub fn namespace(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace)
    }

    /// An image is excluded when a glob matches it as written in the workload
    /// (`nginx:*`) or in its normalised form (`docker.io/library/nginx:*`), so
    /// patterns work whichever way people write image names.
    pub fn image(&self, written: &str, parsed: Option<&ImageRef>) -> bool {
        let normalised = parsed.map(ImageRef::to_string);
        self.images.iter().any(|g| {
            glob_match(g, written) || normalised.as_deref().is_some_and(|n| glob_match(g, n))
        })
    }
}

/// Glob match with `*` and `?`, over characters, in linear-ish time
/// (the classic backtrack-to-last-star algorithm).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("nginx:*", "nginx:1.27"));
        assert!(glob_match(
            "registry.k8s.io/*",
            "registry.k8s.io/pause:3.10"
        ));
        assert!(glob_match("*/pause:?.10", "registry.k8s.io/pause:3.10"));
        assert!(!glob_match("nginx:*", "nginx"));
        assert!(!glob_match("nginx", "nginx:1"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn images_match_written_or_normalised() {
        let ex = Exclusions::new(
            [],
            [
                "docker.io/library/busybox:*".to_string(),
                "ghcr.io/acme/*".to_string(),
            ],
        );
        let bb = ImageRef::parse("busybox:1.36").unwrap();
        assert!(ex.image("busybox:1.36", Some(&bb)));
        assert!(ex.image("ghcr.io/acme/tool:1", None));
        assert!(!ex.image("ghcr.io/other/tool:1", None));
        let ns = Exclusions::new(["kube-system".to_string()], []);
        assert!(ns.namespace("kube-system") && !ns.namespace("default"));
    }
}
