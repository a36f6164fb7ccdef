//! Tag → digest, asked of the image's own registry through `wharf_oci`'s
//! client, with one client per registry host so bearer tokens are reused, and a
//! [`DigestCache`] in front.
//!
//! The manifest is fetched with GET and its bytes are checked against the
//! digest the registry names, so a pinned digest is one we have seen content
//! for. `docker.io` images go to Docker Hub's API host by oci-client's rules.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_oci::{Client as Registry, Error as RegistryError, RegistryOptions};

use super::cache::DigestCache;
use super::gate::ImageRef;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Hosts (`127.0.0.1:5000`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// How long a tag's digest is trusted before asking again; zero disables the cache.
    pub cache_ttl: Duration,
    pub cache_entries: usize,
    /// Extra PEM CA certificates for HTTPS registries.
    pub ca_certs_pem: Vec<Vec<u8>>,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            insecure_registries: Vec::new(),
            cache_ttl: Duration::from_secs(300),
            cache_entries: 10_000,
            ca_certs_pem: Vec::new(),
        }
    }
}

/// Why a tag has no digest.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The registry answered: no such tag or repository. A fact about the
    /// image, not an outage, so it denies regardless of the failure policy.
    #[error("{0} was not found in its registry")]
    NotFound(String),
    /// The registry could not be asked (down, unauthorised, timed out).
    #[error("resolving {image}: {reason}")]
    Unavailable { image: String, reason: String },
}

pub struct Resolver {
    options: ResolverOptions,
    insecure: HashSet<String>,
    cache: DigestCache,
    clients: Mutex<HashMap<String, Arc<Registry>>>,
}

impl Resolver {
    pub fn new(options: ResolverOptions) -> Self {
        Resolver {
            insecure: options.insecure_registries.iter().cloned().collect(),
            cache: DigestCache::new(options.cache_ttl, options.cache_entries),
            clients: Mutex::new(HashMap::new()),
            options,
        }
    }

    /// The digest `image` names or its tag points to, and whether it came
    /// without a registry request (pinned, or cached).
    pub async fn resolve(&self, image: &ImageRef) -> Result<(String, bool), ResolveError> {
        if let Some(d) = &image.digest {
            return Ok((d.clone(), true));
        }
        let key = image.to_string();
        self.cache
            .get_or_resolve(&key, || self.fetch(image, key.clone()))
            .await
    }

    async fn fetch(&self, image: &ImageRef, key: String) -> Result<String, ResolveError> {
        let unavailable = |reason: String| ResolveError::Unavailable {
            image: key.clone(),
            reason,
        };
        let client = self.client(&image.registry).await.map_err(unavailable)?;
        let reference = Registry::parse_reference(&key).map_err(|e| unavailable(e.to_string()))?;
        match client.get_manifest(&reference).await {
            Ok((_, desc)) => Ok(desc.digest),
            Err(RegistryError::NotFound { .. }) => Err(ResolveError::NotFound(key.clone())),
            Err(e) => Err(unavailable(e.to_string())),
        }
    }

    /// The client for `host`, made on first use. Making one reads the docker
    /// config and the system's root certificates, so that runs on the blocking pool.
    async fn client(&self, host: &str) -> Result<Arc<Registry>, String> {
        if let Some(c) = self.clients.lock().expect("client map poisoned").get(host) {
            return Ok(c.clone());
        }
        let options = RegistryOptions {
            insecure: self.insecure.contains(host),
            ca_certs_pem: self.options.ca_certs_pem.clone(),
            ..Default::default()
        };
        let h = host.to_string();
        let client =
            tokio::task::spawn_blocking(move || Registry::new(options).with_docker_config_for(&h))
                .await
                .map_err(|e| format!("creating the registry client: {e}"))?
                .map_err(|e| e.to_string())?;
        let client = Arc::new(client);
        // Two first uses may race; either client works, keep the first.
        Ok(self
            .clients
            .lock()
            .expect("client map poisoned")
            .entry(host.to_string())
            .or_insert(client)
            .clone())
    }

    pub fn cached_tags(&self) -> usize {
        self.cache.len()
    }
}
