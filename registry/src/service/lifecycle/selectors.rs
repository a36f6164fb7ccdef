//! Harbor's rule selectors, shared by immutability rules and retention rules:
//! `doublestar` patterns on tags (`matches`/`excludes`) and on repositories
//! (`repoMatches`/`repoExcludes`). Patterns are bmatcuk/doublestar globs, as
//! Harbor matches them: `*` and `?` stay within one path segment, `**` crosses
//! `/`, `{a,b}` alternates, `[…]` is a class. Repository patterns are matched
//! against the name inside the project (`app/web` for `proj/app/web`), as Harbor does.

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
    if list.is_empty() || list.len() > MAX_SELECTORS {
        return Err(RegistryError::bad_request(format!(
            "a rule needs 1 to {MAX_SELECTORS} {what} selectors"
        )));
    }
    list.iter()
        .map(|s| compile(s, include, exclude, what))
        .collect()
}

/// A rule's selectors, compiled. Several selectors of one kind must all pass.
#[derive(Debug, Clone)]
pub struct Scope {
    repositories: Vec<Compiled>,
    tags: Vec<Compiled>,
}

impl Scope {
    pub fn compile(tags: &[Selector], scope: &ScopeSelectors) -> Result<Scope> {
        Ok(Scope {
            repositories: compile_all(
                &scope.repository,
                "repoMatches",
                "repoExcludes",
                "repository",
            )?,
            tags: compile_all(tags, "matches", "excludes", "tag")?,
        })
    }

    /// `repository` is the name inside the project.
    pub fn covers_repository(&self, repository: &str) -> bool {
        self.repositories.iter().all(|s| s.passes(repository))
    }

    pub fn covers_tag(&self, tag: &str) -> bool {
        self.tags.iter().all(|s| s.passes(tag))
    }

    /// An artifact passes when one of its tags does; an untagged one when the
    /// tag selectors say `{"untagged":true}`.
    pub fn covers_artifact(&self, tags: &[String]) -> bool {
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
        assert!(!s.covers_artifact(&[]));
        t.extras = r#"{"untagged":true}"#.into();
        let s = scope(sel("repoMatches", "**"), t);
        assert!(s.covers_artifact(&[]));
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
}
