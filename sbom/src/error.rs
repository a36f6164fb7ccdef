//! The library's error type.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds since 1970")]
    BadSourceDateEpoch(String),
    #[error("SBOM document: {0}")]
    BadDocument(String),
    #[error("SBOM document is {size} bytes, over the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("{0}")]
    Scanner(#[from] wharf_scanner::Error),
    #[error("registry: {0}")]
    Oci(#[from] wharf_oci::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no SBOM attached to {0}")]
    NotFound(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
