//! Harbor's rule selectors, shared by immutability rules and retention rules:
//! `doublestar` patterns on tags (`matches`/`excludes`) and on repositories
//! (`repoMatches`/`repoExcludes`). Patterns are bmatcuk/doublestar globs, as
//! Harbor matches them: `*` and `?` stay within one path segment, `**` crosses
//! `/`, `{a,b}` alternates, `[…]` is a class. Repository patterns are matched
//! against the name inside the project (`app/web` for `proj/app/web`), as Harbor does.
//!
//! Retention's tag selectors may also be of kind `label` (Harbor's label selector):
//! the pattern is a comma-separated list of label names; `withLabels` passes an
//! artifact that carries every one of them, `withoutLabels` one that carries none.
//! Immutability rules take `doublestar` only, as Harbor's do.

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// Longest pattern accepted; selectors are short, and globs compile to regexes.
const MAX_PATTERN: usize = 512;
/// Most selectors one rule may carry.
const MAX_SELECTORS: usize = 8;

/// One selector as Harbor's API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    pub kind: String,
    pub decoration: String,
    pub pattern: String,
    /// Retention's tag selectors: `{"untagged":true}` also selects untagged artifacts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extras: String,
}

/// `scope_selectors`: only repositories are scoped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSelectors {
    #[serde(default)]
    pub repository: Vec<Selector>,
}

/// A `label` selector compiled: which label names an artifact must carry, or not.
#[derive(Debug, Clone)]
pub struct LabelSelector {
    names: Vec<String>,
    /// `withLabels` (true: carries all of them) or `withoutLabels` (false: none).
    with: bool,
}

impl LabelSelector {
    /// `carried`: the names of the labels on the artifact.
    pub fn passes(&self, carried: &[String]) -> bool {
        let has = |name: &String| carried.contains(name);
        if self.with {
            self.names.iter().all(has)
        } else {
            !self.names.iter().any(has)
        }
    }

    fn compile(sel: &Selector) -> Result<LabelSelector> {
        let with = match sel.decoration.as_str() {
            "withLabels" => true,
            "withoutLabels" => false,
            other => {
                return Err(RegistryError::bad_request(format!(
                    "label selector decoration {other:?}: expected \"withLabels\" or \"withoutLabels\""
                )));
            }
        };
        if sel.pattern.len() > MAX_PATTERN {
            return Err(RegistryError::bad_request(format!(
                "label selector pattern must have at most {MAX_PATTERN} characters"
            )));
        }
        // Label names have no surrounding spaces (the label API refuses them), so
        // `prod, qa` names the labels `prod` and `qa`.
        let names: Vec<String> = sel
            .pattern
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(RegistryError::bad_request(
                "label selector pattern must name at least one label (comma-separated names)",
            ));
        }
        Ok(LabelSelector { names, with })
    }
}

/// A selector compiled: does a name pass it?
#[derive(Debug, Clone)]
pub struct Compiled {
    glob: GlobMatcher,
    /// `matches`/`repoMatches` (true) or `excludes`/`repoExcludes` (false).
    include: bool,
    pub untagged: bool,
}

impl Compiled {
    pub fn passes(&self, name: &str) -> bool {
        self.glob.is_match(name) == self.include
    }
}

pub(crate) fn compile(
    sel: &Selector,
    include: &str,
    exclude: &str,
    what: &str,
) -> Result<Compiled> {
    if sel.kind != "doublestar" {
        return Err(RegistryError::bad_request(format!(
            "{what} selector kind {:?} is not supported (only \"doublestar\")",
            sel.kind
        )));
    }
    let include = match sel.decoration.as_str() {
        d if d == include => true,
        d if d == exclude => false,
        other => {
            return Err(RegistryError::bad_request(format!(
                "{what} selector decoration {other:?}: expected {include:?} or {exclude:?}"
            )));
        }
    };
    if sel.pattern.is_empty() || sel.pattern.len() > MAX_PATTERN {
        return Err(RegistryError::bad_request(format!(
            "{what} selector pattern must have 1 to {MAX_PATTERN} characters"
        )));
    }
    let glob = GlobBuilder::new(&sel.pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| {
            RegistryError::bad_request(format!("{what} selector pattern {:?}: {e}", sel.pattern))
        })?
        .compile_matcher();
    let untagged = if sel.extras.trim().is_empty() {
        false
    } else {
        let v: serde_json::Value = serde_json::from_str(&sel.extras).map_err(|e| {
            RegistryError::bad_request(format!("{what} selector extras must be JSON: {e}"))
        })?;
        v.get("untagged")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    Ok(Compiled {
        glob,
        include,
        untagged,
    })
}

fn compile_all(
    list: &[Selector],
    include: &str,
    exclude: &str,
    what: &str,
) -> Result<Vec<Compiled>> {
    check_count(list, what)?;
    list.iter()
        .map(|s| compile(s, include, exclude, what))
        .collect()
}

fn check_count(list: &[Selector], what: &str) -> Result<()> {
    if list.is_empty() || list.len() > MAX_SELECTORS {
        return Err(RegistryError::bad_request(format!(
            "a rule needs 1 to {MAX_SELECTORS} {what} selectors"
        )));
    }
    Ok(())
}

/// A rule's selectors, compiled. Several selectors of one kind must all pass.
#[derive(Debug, Clone)]
pub struct Scope {
    repositories: Vec<Compiled>,
    tags: Vec<Compiled>,
    labels: Vec<LabelSelector>,
}

impl Scope {
    /// An immutability rule's selectors (`doublestar` only).
    pub fn compile(tags: &[Selector], scope: &ScopeSelectors) -> Result<Scope> {
        Ok(Scope {
            repositories: Self::repositories(scope)?,
            tags: compile_all(tags, "matches", "excludes", "tag")?,
            labels: Vec::new(),
        })
    }

    /// A retention rule's selectors: its tag selectors may also be `label` selectors.
    pub fn compile_with_labels(tags: &[Selector], scope: &ScopeSelectors) -> Result<Scope> {
        check_count(tags, "tag")?;
        let mut compiled = Scope {
            repositories: Self::repositories(scope)?,
            tags: Vec::new(),
            labels: Vec::new(),
        };
        for sel in tags {
            match sel.kind.as_str() {
                "label" => compiled.labels.push(LabelSelector::compile(sel)?),
                "doublestar" => compiled
                    .tags
                    .push(compile(sel, "matches", "excludes", "tag")?),
                other => {
                    return Err(RegistryError::bad_request(format!(
                        "tag selector kind {other:?} is not supported (\"doublestar\" or \"label\")"
                    )));
                }
            }
        }
        Ok(compiled)
    }

    fn repositories(scope: &ScopeSelectors) -> Result<Vec<Compiled>> {
        compile_all(
            &scope.repository,
            "repoMatches",
            "repoExcludes",
            "repository",
        )
    }

    /// `repository` is the name inside the project.
    pub fn covers_repository(&self, repository: &str) -> bool {
        self.repositories.iter().all(|s| s.passes(repository))
    }

    pub fn covers_tag(&self, tag: &str) -> bool {
        self.tags.iter().all(|s| s.passes(tag))
    }

    /// An artifact passes when one of its tags does (an untagged one when the
    /// tag selectors say `{"untagged":true}`) and its labels (names) pass every
    /// label selector.
    pub fn covers_artifact(&self, tags: &[String], labels: &[String]) -> bool {
        if !self.labels.iter().all(|l| l.passes(labels)) {
            return false;
        }
        if tags.is_empty() {
            return self.tags.iter().all(|s| s.untagged);
        }
        tags.iter().any(|t| self.covers_tag(t))
    }
}

/// The repository's name inside its project (`proj/app/web` → `app/web`).
pub fn in_project(repository: &str) -> &str {
    repository
        .split_once('/')
        .map(|(_, rest)| rest)
        .unwrap_or(repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(decoration: &str, pattern: &str) -> Selector {
        Selector {
            kind: "doublestar".into(),
            decoration: decoration.into(),
            pattern: pattern.into(),
            extras: String::new(),
        }
    }

    fn scope(repo: Selector, tag: Selector) -> Scope {
        Scope::compile(
            &[tag],
            &ScopeSelectors {
                repository: vec![repo],
            },
        )
        .unwrap()
    }

    /// Cases from bmatcuk/doublestar's documented syntax, which Harbor uses.
    #[test]
    fn doublestar_semantics() {
        let s = scope(sel("repoMatches", "**"), sel("matches", "{v1,release-*}"));
        assert!(s.covers_repository("a/b/c"));
        assert!(s.covers_tag("v1"));
        assert!(s.covers_tag("release-2.0"));
        assert!(!s.covers_tag("v2"));
        let s = scope(sel("repoMatches", "team/*"), sel("excludes", "dev-?"));
        assert!(s.covers_repository("team/web"));
        assert!(!s.covers_repository("team/web/x"));
        assert!(!s.covers_tag("dev-1"));
        assert!(s.covers_tag("dev-12"));
        let s = scope(sel("repoExcludes", "tmp/**"), sel("matches", "v[0-9]*"));
        assert!(!s.covers_repository("tmp/a/b"));
        assert!(s.covers_repository("prod/a"));
        assert!(s.covers_tag("v3.1"));
        assert!(!s.covers_tag("latest"));
        assert_eq!(in_project("proj/app/web"), "app/web");
    }

    #[test]
    fn untagged_artifacts_only_when_asked() {
        let mut t = sel("matches", "**");
        let s = scope(sel("repoMatches", "**"), t.clone());
        assert!(!s.covers_artifact(&[], &[]));
        t.extras = r#"{"untagged":true}"#.into();
        let s = scope(sel("repoMatches", "**"), t);
        assert!(s.covers_artifact(&[], &[]));
    }

    #[test]
    fn bad_selectors_are_refused_precisely() {
        let bad = |tag: Selector| {
            Scope::compile(
                &[tag],
                &ScopeSelectors {
                    repository: vec![sel("repoMatches", "**")],
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(bad(sel("match", "x")).contains("decoration \"match\""));
        assert!(bad(sel("matches", "[")).contains("pattern \"[\""));
        let mut regex = sel("matches", "x");
        regex.kind = "regex".into();
        assert!(bad(regex).contains("only \"doublestar\""));
        assert!(bad(sel("matches", &"x".repeat(600))).contains("1 to 512"));
    }

    fn label(decoration: &str, pattern: &str) -> Selector {
        Selector {
            kind: "label".into(),
            decoration: decoration.into(),
            pattern: pattern.into(),
            extras: String::new(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// Harbor's label selector (src/lib/selector/selectors/label): `withLabels`
    /// needs every listed label, `withoutLabels` none of them.
    #[test]
    fn label_selectors_follow_harbor() {
        let repos = ScopeSelectors {
            repository: vec![sel("repoMatches", "**")],
        };
        let with =
            Scope::compile_with_labels(&[label("withLabels", "prod, signed")], &repos).unwrap();
        let tags = names(&["v1"]);
        assert!(with.covers_artifact(&tags, &names(&["signed", "prod", "x"])));
        assert!(!with.covers_artifact(&tags, &names(&["prod"])));
        assert!(!with.covers_artifact(&tags, &[]));
        // With no doublestar selector, untagged artifacts are chosen by labels alone.
        assert!(with.covers_artifact(&[], &names(&["prod", "signed"])));
        let without =
            Scope::compile_with_labels(&[label("withoutLabels", "prod,qa")], &repos).unwrap();
        assert!(without.covers_artifact(&tags, &[]));
        assert!(without.covers_artifact(&tags, &names(&["dev"])));
        assert!(!without.covers_artifact(&tags, &names(&["qa"])));
        // Together with a tag selector: both must pass.
        let both = Scope::compile_with_labels(
            &[sel("matches", "v*"), label("withLabels", "prod")],
            &repos,
        )
        .unwrap();
        assert!(both.covers_artifact(&tags, &names(&["prod"])));
        assert!(!both.covers_artifact(&names(&["latest"]), &names(&["prod"])));
        assert!(!both.covers_artifact(&tags, &[]));
    }

    #[test]
    fn label_selectors_are_refused_where_they_do_not_belong() {
        let repos = ScopeSelectors {
            repository: vec![sel("repoMatches", "**")],
        };
        let err = |tags: &[Selector]| {
            Scope::compile_with_labels(tags, &repos)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[label("with", "prod")]).contains("\"withLabels\" or \"withoutLabels\""));
        assert!(err(&[label("withLabels", " , ")]).contains("at least one label"));
        let mut regex = sel("matches", "x");
        regex.kind = "regex".into();
        assert!(err(&[regex]).contains("\"doublestar\" or \"label\""));
        // Immutability rules: doublestar only.
        let immutable = Scope::compile(&[label("withLabels", "prod")], &repos).unwrap_err();
        assert!(immutable.to_string().contains("only \"doublestar\""));
    }
}
