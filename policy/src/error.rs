//! The library's errors. A policy that fails validation is [`Error::Invalid`], whose text is
//! `FILE[:LINE:COLUMN]: PATH: what is wrong`, so a user can go straight to the mistake.

use std::fmt;

/// Where in which policy file something is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The file (or the name given for in-memory text).
    pub file: String,
    /// 1-based line and column, when the YAML parser knew them.
    pub line: Option<(usize, usize)>,
    /// The YAML path, e.g. `spec.rules[1].signatures.anyOf[0].key` (`.` for the document).
    pub path: String,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((l, c)) = self.line {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(Box<Invalid>),
    #[error("reading {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// The image reference cannot be parsed.
    #[error("image reference {0:?}: {1}")]
    Reference(String, String),
    /// The registry could not be asked (unreachable, denied, not found).
    #[error("registry: {0}")]
    Registry(String),
    /// The registry client failed (unreachable, denied, not found, bad credentials).
    #[error("registry: {0}")]
    Oci(#[from] wharf_oci::Error),
    /// A fact could not be collected (scan failed, no vulnerability DB, …).
    #[error("collecting {what} for {image}: {message}")]
    Collect {
        what: &'static str,
        image: String,
        message: String,
    },
}

impl Error {
    pub(crate) fn invalid(file: &str, path: &str, message: impl Into<String>) -> Self {
        Error::Invalid(Box::new(Invalid {
            file: file.to_string(),
            line: None,
            path: path.to_string(),
            message: message.into(),
        }))
    }
}
