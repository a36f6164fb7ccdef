//! The library's error type. Warnings (hostile or damaged input that we survive) are not
//! errors: they are collected in [`crate::Warnings`] and reported next to the results.

use std::path::PathBuf;

/// Errors that stop an operation. Everything recoverable becomes a warning instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid image reference {0:?}: {1}")]
    BadReference(String, String),
    #[error("image: {0}")]
    Image(String),
    #[error("vulnerability database: {0}")]
    Db(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("advisory {path}: {msg}")]
    Advisory { path: String, msg: String },
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("registry: {0}")]
    Registry(String),
    #[error("registry: {0}")]
    Oci(#[from] wharf_oci::Error),
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Problems we survived: damaged or hostile input that was skipped. Bounded so a hostile
/// layer with millions of bad entries cannot grow memory without limit.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Warnings {
    pub messages: Vec<String>,
    pub suppressed: usize,
}

impl Warnings {
    const MAX: usize = 200;

    pub fn push(&mut self, msg: impl Into<String>) {
        if self.messages.len() < Self::MAX {
            let msg = msg.into();
            tracing::debug!("{msg}");
            self.messages.push(msg);
        } else {
            self.suppressed += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}
