//! Registry endpoints (Harbor's `/registries`): the remote registries that
//! replication pushes to and pulls from and a proxy cache fronts. Credentials are
//! sealed with the server's [`SecretKey`] before they are stored and are never
//! shown again: the API answers `*****` for a secret, as Harbor does. Other
//! services take an endpoint with its credentials opened through
//! [`Registries::endpoint`], and a client for it with [`Endpoint::client`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::secret::SecretKey;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{ApiErrorKind, RegistryError, Result};
use crate::metadata::replication::StoredRegistry;
use crate::metadata::{ProxyStore, ReplicationStore};
use crate::service::access::Access;
use crate::service::time_rfc3339;

/// What the API shows in place of a stored secret (Harbor's mask).
pub const SECRET_MASK: &str = "*****";

/// Longest endpoint name (Harbor's column).
const MAX_NAME: usize = 255;

/// The kinds of remote registry. `wharf` speaks Harbor's API and is taken as
/// `harbor`; the type only matters where the management API is used (listing a
/// remote's repositories), the distribution API is the same for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryType {
    #[serde(rename = "harbor", alias = "wharf")]
    Harbor,
    #[serde(rename = "docker-registry")]
    DockerRegistry,
}

impl RegistryType {
    fn as_str(self) -> &'static str {
        match self {
            RegistryType::Harbor => "harbor",
            RegistryType::DockerRegistry => "docker-registry",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            RegistryError::bad_request(format!(
                "registry type {s:?} is not supported: harbor (or wharf) or docker-registry"
            ))
        })
    }
}

/// Harbor's `RegistryCredential`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistryCredential {
    /// `basic` or `oauth`: both are a user name and a password, given to the
    /// registry as HTTP Basic or exchanged for a bearer token, whichever it asks for.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_secret: Option<String>,
}

/// Harbor's `Registry` (the body of POST, and what GET answers, with the secret masked).
/// `ca_file` is Wharf's: a PEM file on the server with the CAs to trust for this
/// registry's HTTPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<RegistryCredential>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_deserializing, skip_serializing_if = "String::is_empty")]
    pub creation_time: String,
    #[serde(default, skip_deserializing, skip_serializing_if = "String::is_empty")]
    pub update_time: String,
}

/// Harbor's `RegistryUpdate` (PUT): only the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub credential_type: Option<String>,
    pub access_key: Option<String>,
    pub access_secret: Option<String>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
}

/// Harbor's `RegistryPing`: a stored endpoint (`id`), possibly with changes, or a new one.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryPing {
    pub id: Option<i64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    pub credential_type: Option<String>,
    pub access_key: Option<String>,
    pub access_secret: Option<String>,
    pub insecure: Option<bool>,
    pub ca_file: Option<String>,
}

/// An endpoint ready to use: its credentials in clear. For the server's own
/// services only; never serialised.
#[derive(Clone)]
pub struct Endpoint {
    pub id: i64,
    pub name: String,
    pub kind: RegistryType,
    /// `http(s)://host[:port]`, no trailing slash.
    pub url: String,
    /// `host[:port]`, the registry part of references to it.
    pub host: String,
    /// Plain HTTP, credentials, trusted CAs: what [`Endpoint::client`] is built from.
    pub options: wharf_oci::RegistryOptions,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.options.username)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A client for this registry (the token flow, uploads, referrers: wharf-oci's).
    pub fn client(&self) -> wharf_oci::Client {
        wharf_oci::Client::new(self.options.clone())
    }

    /// `host[:port]/repository` with `:tag` or `@digest` appended by the caller.
    pub fn repository(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host)
    }

    /// Whether the registry answers and accepts the credentials.
    pub async fn ping(&self) -> Result<()> {
        self.client().ping(&self.host).await.map_err(|e| {
            RegistryError::bad_request(format!("ping of registry {} failed: {e}", self.url))
        })
    }
}

/// The split of an endpoint URL: (normalised URL, host[:port], plain HTTP).
fn parse_url(url: &str) -> Result<(String, String, bool)> {
    let bad = |why: &str| RegistryError::bad_request(format!("registry url {url:?}: {why}"));
    let (plain, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else {
        return Err(bad("it starts with http:// or https://"));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty()
        || host.contains(['/', '?', '#', '@', ' '])
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return Err(bad("give scheme://host[:port] only, without path or user"));
    }
    let scheme = if plain { "http" } else { "https" };
    Ok((format!("{scheme}://{host}"), host.to_string(), plain))
}

/// The service of registry endpoints.
pub struct Registries {
    store: Arc<dyn ReplicationStore>,
    access: Arc<Access>,
    key: Option<Arc<SecretKey>>,
    /// Which proxy cache projects front an endpoint (they keep it from deletion).
    proxies: Option<Arc<dyn ProxyStore>>,
}

impl Registries {
    /// Without `key`, endpoints with credentials cannot be stored (anonymous ones can).
    pub fn new(
        store: Arc<dyn ReplicationStore>,
        access: Arc<Access>,
        key: Option<Arc<SecretKey>>,
    ) -> Self {
        Registries {
            store,
            access,
            key,
            proxies: None,
        }
    }

    /// Endpoints fronted by proxy cache projects (in `proxies`) are not deleted.
    pub fn with_proxy_store(mut self, proxies: Arc<dyn ProxyStore>) -> Self {
        self.proxies = Some(proxies);
        self
    }

    pub async fn list(&self, who: &Principal, name: Option<&str>) -> Result<Vec<Registry>> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        let all = self.store.registries().await?;
        Ok(all
            .iter()
            .filter(|r| name.is_none_or(|n| r.name.contains(n)))
            .map(shown)
            .collect())
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<Registry> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        Ok(shown(&self.stored(id).await?))
    }

    pub async fn create(&self, who: &Principal, ip: Option<&str>, r: Registry) -> Result<i64> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        let credential = r.credential.unwrap_or_default();
        let mut stored = StoredRegistry {
            id: 0,
            name: r.name,
            url: r.url,
            kind: RegistryType::parse(&r.kind)?.as_str().to_string(),
            description: r.description,
            auth_type: None,
            access_key: None,
            sealed_secret: None,
            ca_file: r.ca_file,
            insecure: r.insecure,
            created_at: 0,
            updated_at: 0,
        };
        self.set_credential(
            &mut stored,
            credential.kind,
            credential.access_key,
            credential.access_secret,
        )?;
        self.check(&stored).await?;
        let id = self.store.create_registry(&stored).await?;
        self.access
            .audit(who, "create", "registry", &stored.name, ip);
        Ok(id)
    }

    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        u: RegistryUpdate,
    ) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        let mut stored = self.stored(id).await?;
        self.apply(&mut stored, u)?;
        self.check(&stored).await?;
        if !self.store.update_registry(&stored).await? {
            return Err(not_found(id));
        }
        self.access
            .audit(who, "update", "registry", &stored.name, ip);
        Ok(())
    }

    pub async fn delete(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        let stored = self.stored(id).await?;
        let users: Vec<String> = self
            .store
            .policies()
            .await?
            .iter()
            .filter(|p| super::policies::uses_registry(p, id))
            .map(|p| p.name.clone())
            .collect();
        if let Some(proxies) = &self.proxies {
            let caches = proxies.projects_caching(id).await?;
            if !caches.is_empty() {
                return Err(RegistryError::api(
                    ApiErrorKind::Precondition,
                    format!(
                        "registry {} is the upstream of proxy cache projects {}: delete them first",
                        stored.name,
                        caches.join(", ")
                    ),
                ));
            }
        }
        if !users.is_empty() {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                format!(
                    "registry {} is used by replication policies {}: remove them first",
                    stored.name,
                    users.join(", ")
                ),
            ));
        }
        if !self.store.delete_registry(id).await? {
            return Err(not_found(id));
        }
        self.access
            .audit(who, "delete", "registry", &stored.name, ip);
        Ok(())
    }

    /// Harbor's ping: a stored endpoint with the changes given, or a new one; 400
    /// with the reason when it does not answer or refuses the credentials.
    pub async fn ping(&self, who: &Principal, p: RegistryPing) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)?;
        let mut stored = match p.id {
            Some(id) => self.stored(id).await?,
            None => StoredRegistry {
                id: 0,
                name: "ping".into(),
                url: p
                    .url
                    .clone()
                    .ok_or_else(|| RegistryError::bad_request("ping needs an id or a url"))?,
                kind: RegistryType::parse(p.kind.as_deref().unwrap_or("harbor"))?
                    .as_str()
                    .to_string(),
                description: String::new(),
                auth_type: None,
                access_key: None,
                sealed_secret: None,
                ca_file: None,
                insecure: false,
                created_at: 0,
                updated_at: 0,
            },
        };
        if let Some(kind) = p.kind {
            stored.kind = RegistryType::parse(&kind)?.as_str().to_string();
        }
        self.apply(
            &mut stored,
            RegistryUpdate {
                url: p.url,
                credential_type: p.credential_type,
                access_key: p.access_key,
                access_secret: p.access_secret,
                insecure: p.insecure,
                ca_file: p.ca_file,
                ..Default::default()
            },
        )?;
        self.open(&stored)?.ping().await
    }

    /// An endpoint with its credentials in clear, for replication and the proxy
    /// cache. No permission check: the caller decided already.
    pub async fn endpoint(&self, id: i64) -> Result<Endpoint> {
        self.open(&self.stored(id).await?)
    }

    /// Every endpoint, as [`Registries::endpoint`] gives them.
    pub async fn endpoints(&self) -> Result<Vec<Endpoint>> {
        self.store
            .registries()
            .await?
            .iter()
            .map(|r| self.open(r))
            .collect()
    }

    async fn stored(&self, id: i64) -> Result<StoredRegistry> {
        self.store.registry(id).await?.ok_or_else(|| not_found(id))
    }

    /// The changes of `u` on `r`; a secret given as the mask keeps the stored one.
    fn apply(&self, r: &mut StoredRegistry, u: RegistryUpdate) -> Result<()> {
        if let Some(v) = u.name {
            r.name = v;
        }
        if let Some(v) = u.description {
            r.description = v;
        }
        if let Some(v) = u.url {
            r.url = v;
        }
        if let Some(v) = u.insecure {
            r.insecure = v;
        }
        if let Some(v) = u.ca_file {
            r.ca_file = Some(v).filter(|s| !s.is_empty());
        }
        let secret = match u.access_secret {
            Some(s) if s == SECRET_MASK => None,
            other => other,
        };
        if u.credential_type.is_some() || u.access_key.is_some() || secret.is_some() {
            let kind = u.credential_type.or(r.auth_type.clone());
            let key = u.access_key.or(r.access_key.clone());
            match secret {
                Some(s) => self.set_credential(r, kind, key, Some(s))?,
                None => {
                    r.auth_type = kind;
                    r.access_key = key;
                }
            }
        }
        Ok(())
    }

    fn set_credential(
        &self,
        r: &mut StoredRegistry,
        kind: Option<String>,
        key: Option<String>,
        secret: Option<String>,
    ) -> Result<()> {
        let key = key.filter(|k| !k.is_empty());
        let secret = secret.filter(|s| !s.is_empty());
        if key.is_none() && secret.is_none() {
            r.auth_type = None;
            r.access_key = None;
            r.sealed_secret = None;
            return Ok(());
        }
        let kind = kind.unwrap_or_else(|| "basic".into());
        if !matches!(kind.as_str(), "basic" | "oauth") {
            return Err(RegistryError::bad_request(format!(
                "credential type {kind:?} is not supported: basic or oauth"
            )));
        }
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err(RegistryError::bad_request(
                "a credential has both access_key and access_secret",
            ));
        };
        let Some(sealer) = &self.key else {
            return Err(RegistryError::Internal(
                "no secret key configured to store credentials with".into(),
            ));
        };
        r.auth_type = Some(kind);
        r.access_key = Some(key);
        r.sealed_secret = Some(sealer.seal(&secret));
        Ok(())
    }

    /// What every stored endpoint satisfies.
    async fn check(&self, r: &StoredRegistry) -> Result<()> {
        if r.name.trim().is_empty() || r.name.len() > MAX_NAME {
            return Err(RegistryError::bad_request(format!(
                "a registry name has 1 to {MAX_NAME} characters"
            )));
        }
        parse_url(&r.url)?;
        if let Some(other) = self.store.registry_by_name(&r.name).await?
            && other.id != r.id
        {
            return Err(RegistryError::conflict(format!(
                "a registry named {:?} exists already (id {})",
                r.name, other.id
            )));
        }
        self.open(r).map(drop)
    }

    /// The endpoint of `r`: URL split, secret opened, CA file read.
    fn open(&self, r: &StoredRegistry) -> Result<Endpoint> {
        let (url, host, plain) = parse_url(&r.url)?;
        if r.insecure && !plain {
            return Err(RegistryError::bad_request(format!(
                "registry {}: skipping TLS verification (insecure) is not supported over https; give ca_file (the PEM of its CA) instead",
                r.name
            )));
        }
        let password = match &r.sealed_secret {
            Some(sealed) => {
                let key = self.key.as_ref().ok_or_else(|| {
                    RegistryError::Internal("no secret key configured to open credentials".into())
                })?;
                Some(key.open(sealed).ok_or_else(|| {
                    RegistryError::Internal(format!(
                        "the credential of registry {} does not open with this server's secret key (was the key file replaced?): enter it again",
                        r.name
                    ))
                })?)
            }
            None => None,
        };
        let ca_certs_pem = match &r.ca_file {
            Some(path) => vec![std::fs::read(path).map_err(|e| {
                RegistryError::bad_request(format!("registry {} ca_file {path}: {e}", r.name))
            })?],
            None => Vec::new(),
        };
        Ok(Endpoint {
            id: r.id,
            name: r.name.clone(),
            kind: RegistryType::parse(&r.kind)?,
            url,
            host,
            options: wharf_oci::RegistryOptions {
                insecure: plain,
                username: r.access_key.clone(),
                password,
                ca_certs_pem,
            },
        })
    }
}

fn not_found(id: i64) -> RegistryError {
    RegistryError::not_found(format!("registry {id} not found"))
}

/// As the API shows it: the secret masked.
fn shown(r: &StoredRegistry) -> Registry {
    Registry {
        id: r.id,
        name: r.name.clone(),
        url: r.url.clone(),
        kind: r.kind.clone(),
        description: r.description.clone(),
        credential: r.auth_type.as_ref().map(|kind| RegistryCredential {
            kind: Some(kind.clone()),
            access_key: r.access_key.clone(),
            access_secret: r.sealed_secret.as_ref().map(|_| SECRET_MASK.to_string()),
        }),
        insecure: r.insecure,
        ca_file: r.ca_file.clone(),
        creation_time: time_rfc3339(r.created_at),
        update_time: time_rfc3339(r.updated_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::replication::test_support::{admin, kind};

    async fn service(
        dir: &std::path::Path,
    ) -> (Arc<crate::metadata::SqliteMetadata>, Arc<Registries>) {
        let (meta, _, registries) =
            crate::service::replication::test_support::registries(dir).await;
        (meta, registries)
    }

    fn harbor_body(name: &str) -> Registry {
        serde_json::from_value(serde_json::json!({
            "name": name, "url": "http://127.0.0.1:5999/", "type": "wharf",
            "credential": {"type": "basic", "access_key": "robot$sync", "access_secret": "pa55-w0rd"}
        }))
        .unwrap()
    }

    /// The secret is sealed in the database, masked in the API, in clear only
    /// through `endpoint`; a masked secret sent back keeps it.
    #[tokio::test]
    async fn credentials_are_sealed_masked_and_opened_for_internal_use() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, registries) = service(dir.path()).await;
        let id = registries
            .create(&admin(), None, harbor_body("airgap"))
            .await
            .unwrap();

        let stored = meta.registry(id).await.unwrap().unwrap();
        let sealed = stored.sealed_secret.unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"pa55-w0rd"));
        let db = std::fs::read(dir.path().join("wharf.db")).unwrap();
        assert!(!db.windows(9).any(|w| w == b"pa55-w0rd"));

        let shown = registries.get(&admin(), id).await.unwrap();
        assert_eq!(shown.kind, "harbor");
        assert_eq!(shown.url, "http://127.0.0.1:5999/");
        let credential = shown.credential.unwrap();
        assert_eq!(credential.access_secret.as_deref(), Some(SECRET_MASK));
        assert_eq!(credential.access_key.as_deref(), Some("robot$sync"));
        let json = serde_json::to_string(&registries.list(&admin(), None).await.unwrap()).unwrap();
        assert!(!json.contains("pa55"), "{json}");

        let endpoint = registries.endpoint(id).await.unwrap();
        assert_eq!(endpoint.host, "127.0.0.1:5999");
        assert_eq!(endpoint.url, "http://127.0.0.1:5999");
        assert!(endpoint.options.insecure, "http:// is plain HTTP");
        assert_eq!(endpoint.options.password.as_deref(), Some("pa55-w0rd"));
        assert!(!format!("{endpoint:?}").contains("pa55"));
        assert_eq!(
            endpoint.repository("production/app"),
            "127.0.0.1:5999/production/app"
        );

        let update: RegistryUpdate = serde_json::from_value(serde_json::json!({
            "description": "the air-gapped side", "access_secret": SECRET_MASK
        }))
        .unwrap();
        registries.update(&admin(), None, id, update).await.unwrap();
        let endpoint = registries.endpoint(id).await.unwrap();
        assert_eq!(endpoint.options.password.as_deref(), Some("pa55-w0rd"));
        assert_eq!(
            registries.get(&admin(), id).await.unwrap().description,
            "the air-gapped side"
        );

        // Another server key cannot open it: a precise error, not garbage credentials.
        let access = Arc::new(Access::new(meta.clone(), None));
        let other = Registries::new(
            meta.clone(),
            access,
            Some(Arc::new(SecretKey::from_bytes(&[4; 32]))),
        );
        let err = other.endpoint(id).await.unwrap_err();
        assert!(err.to_string().contains("does not open"), "{err}");

        registries.delete(&admin(), None, id).await.unwrap();
        let err = registries.get(&admin(), id).await.unwrap_err();
        assert_eq!(kind(&err), Some(ApiErrorKind::NotFound));
    }

    #[tokio::test]
    async fn bad_endpoints_are_refused_precisely() {
        let dir = tempfile::tempdir().unwrap();
        let (_meta, registries) = service(dir.path()).await;
        registries
            .create(&admin(), None, harbor_body("dup"))
            .await
            .unwrap();
        let err = registries
            .create(&admin(), None, harbor_body("dup"))
            .await
            .unwrap_err();
        assert_eq!(kind(&err), Some(ApiErrorKind::Conflict), "{err}");

        let cases = [
            (
                serde_json::json!({"name": "a", "url": "ftp://x", "type": "harbor"}),
                "http:// or https://",
            ),
            (
                serde_json::json!({"name": "a", "url": "https://x/path", "type": "harbor"}),
                "without path",
            ),
            (
                serde_json::json!({"name": "a", "url": "https://x", "type": "quay"}),
                "not supported",
            ),
            (
                serde_json::json!({"name": "a", "url": "https://x", "type": "harbor", "insecure": true}),
                "ca_file",
            ),
            (
                serde_json::json!({"name": "a", "url": "https://x", "type": "harbor",
                "credential": {"type": "secret", "access_key": "k", "access_secret": "s"}}),
                "basic or oauth",
            ),
            (
                serde_json::json!({"name": "a", "url": "https://x", "type": "harbor",
                "credential": {"access_key": "k"}}),
                "both access_key and access_secret",
            ),
            (
                serde_json::json!({"name": "", "url": "https://x", "type": "harbor"}),
                "1 to 255",
            ),
        ];
        for (body, expected) in cases {
            let r: Registry = serde_json::from_value(body.clone()).unwrap();
            let err = registries.create(&admin(), None, r).await.unwrap_err();
            assert_eq!(kind(&err), Some(ApiErrorKind::BadRequest), "{body}: {err}");
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }

        let user = Principal::User {
            id: 2,
            name: "dev".into(),
            sysadmin: false,
        };
        assert!(registries.list(&user, None).await.is_err());
    }

    /// Ping answers 400 with the reason for a registry that is not there.
    #[tokio::test]
    async fn ping_of_a_closed_port_says_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let (_meta, registries) = service(dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ping: RegistryPing = serde_json::from_value(serde_json::json!({
            "type": "docker-registry", "url": format!("http://127.0.0.1:{port}")
        }))
        .unwrap();
        let err = registries.ping(&admin(), ping).await.unwrap_err();
        assert_eq!(kind(&err), Some(ApiErrorKind::BadRequest), "{err}");
        assert!(err.to_string().contains("ping of registry"), "{err}");
    }
}
