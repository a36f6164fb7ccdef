//! What the registry keeps for replication: the remote registry endpoints
//! (their credentials sealed by the service before they get here; the store
//! never sees a secret in clear).

use async_trait::async_trait;

use super::Result;

/// A registry endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRegistry {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// `harbor`, `docker-registry` or `wharf`.
    pub kind: String,
    pub description: String,
    /// `basic` or `oauth`; `None`: anonymous.
    pub auth_type: Option<String>,
    pub access_key: Option<String>,
    /// The access secret, sealed (nonce ‖ ciphertext ‖ tag).
    pub sealed_secret: Option<Vec<u8>>,
    /// A PEM file of CA certificates to trust for this registry's HTTPS.
    pub ca_file: Option<String>,
    pub insecure: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A replication policy as stored: `body` is its validated JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ReplicationStore: Send + Sync + 'static {
    /// Every endpoint, by id.
    async fn registries(&self) -> Result<Vec<StoredRegistry>>;
    async fn registry(&self, id: i64) -> Result<Option<StoredRegistry>>;
    async fn registry_by_name(&self, name: &str) -> Result<Option<StoredRegistry>>;
    /// Stores `r` (its id and times are ignored) and returns the new id.
    async fn create_registry(&self, r: &StoredRegistry) -> Result<i64>;
    /// Replaces every field but id and creation time; false if there is no such endpoint.
    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool>;
    async fn delete_registry(&self, id: i64) -> Result<bool>;

    /// Every policy, by id.
    async fn policies(&self) -> Result<Vec<StoredPolicy>>;
    async fn policy(&self, id: i64) -> Result<Option<StoredPolicy>>;
    async fn policy_by_name(&self, name: &str) -> Result<Option<StoredPolicy>>;
    async fn create_policy(&self, name: &str, body: &str) -> Result<i64>;
    /// False if there is no such policy.
    async fn update_policy(&self, id: i64, name: &str, body: &str) -> Result<bool>;
    async fn delete_policy(&self, id: i64) -> Result<bool>;
}
