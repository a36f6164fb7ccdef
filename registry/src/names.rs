//! Repository names and tags, validated to the OCI distribution grammar. Names
//! become URL paths and database keys, never file paths, but are checked as if
//! they did: no `..`, no empty segments, no upper case.

use std::fmt;

use crate::digest::{Digest, DigestError};

/// Longest repository name accepted (as distribution does).
pub const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("repository name must not be empty")]
    Empty,
    #[error("repository name is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("repository name has an empty path segment")]
    EmptySegment,
    #[error(
        "repository name segment {0:?} must be lowercase letters and digits, joined by '.', '_', '__' or dashes"
    )]
    Segment(String),
}

/// A valid repository name such as `library/alpine` or `project/team/app`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        for segment in s.split('/') {
            if segment.is_empty() {
                return Err(NameError::EmptySegment);
            }
            if !valid_segment(segment) {
                return Err(NameError::Segment(segment.to_string()));
            }
        }
        Ok(RepoName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        // a run of alphanumerics
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // a separator, then another run must follow
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// What follows `/manifests/`: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error(
        "invalid tag {0:?}: tags are up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"
    )]
    Tag(String),
    #[error(transparent)]
    Digest(#[from] DigestError),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.contains(':') {
            return Ok(Reference::Digest(s.parse()?));
        }
        if valid_tag(s) {
            Ok(Reference::Tag(s.to_string()))
        } else {
            Err(ReferenceError::Tag(s.to_string()))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_grammar() {
        for ok in [
            "a",
            "library/alpine",
            "project/team/app",
            "a.b_c__d---e/f0",
            "x1-2.3",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_the_grammar_forbids() {
        assert_eq!(RepoName::parse(""), Err(NameError::Empty));
        assert_eq!(RepoName::parse("a//b"), Err(NameError::EmptySegment));
        assert_eq!(RepoName::parse("a/"), Err(NameError::EmptySegment));
        assert_eq!(RepoName::parse("/a"), Err(NameError::EmptySegment));
        for bad in [
            "Upper/case",
            "a/..",
            "../etc",
            "a/.b",
            "a./b",
            "a___b",
            "a_-b",
            "a-",
            "-a",
            "a b",
            "a%2Fb",
        ] {
            assert!(
                matches!(RepoName::parse(bad), Err(NameError::Segment(_))),
                "{bad}"
            );
        }
        assert_eq!(RepoName::parse(&"a".repeat(256)), Err(NameError::TooLong));
    }

    #[test]
    fn tags_and_references() {
        assert!(valid_tag("v1.0_rc-1"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(valid_tag(&"a".repeat(128)));
        assert_eq!(
            Reference::parse("latest"),
            Ok(Reference::Tag("latest".into()))
        );
        assert!(matches!(
            Reference::parse(&format!("sha256:{}", "a".repeat(64))),
            Ok(Reference::Digest(_))
        ));
        assert!(matches!(
            Reference::parse("sha256:zz"),
            Err(ReferenceError::Digest(_))
        ));
        assert!(matches!(
            Reference::parse("bad/tag"),
            Err(ReferenceError::Tag(_))
        ));
    }
}
