//! Server configuration. Defaults give the embedded set-up: local filesystem +
//! SQLite under one data directory, plain HTTP on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Upload sessions open at once; beyond this, new ones get 429 TOOMANYREQUESTS.
    pub max_concurrent_uploads: usize,
    /// Upload sessions untouched for this long are purged with their data.
    pub upload_expiry_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("wharf-data"),
            tls_cert: None,
            tls_key: None,
            max_concurrent_uploads: 256,
            upload_expiry_hours: 168,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("tls_cert and tls_key must be given together")]
    TlsHalf,
    #[error("max_concurrent_uploads must be at least 1")]
    NoUploads,
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsHalf);
        }
        if self.max_concurrent_uploads == 0 {
            return Err(ConfigError::NoUploads);
        }
        Ok(())
    }
}
