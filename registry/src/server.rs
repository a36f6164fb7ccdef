//! Start-up and shutdown: open the stores under the data directory, bind,
//! serve HTTP or HTTPS until the shutdown future resolves, then let in-flight
//! requests finish.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use crate::config::Config;
use crate::http::limits::{self, HttpLimits};
use crate::http::transport::{self, TransportLimits};
use crate::http::{route_nested_names, router};
use crate::metadata::{IdentityStore, MetadataError, PgMetadata, PgOptions, SqliteMetadata};
use crate::service::lifecycle::QueueOptions;
use crate::service::{
    AuthState, DbSource, KeylessRoot, LifecycleOptions, Options, ScanConfig, Services, Stores,
};
use crate::storage::{BlobStore, BucketBlobStore, BucketConfigError, BucketOptions, FsBlobStore};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: io::Error },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Listen(#[from] wharf_net::BindError),
    #[error("server: {0}")]
    Io(#[from] io::Error),
    #[error("trusted root: {0}")]
    TrustedRoot(String),
    #[error("creating the administrator: {0}")]
    Bootstrap(String),
    #[error(transparent)]
    SecretKey(#[from] crate::service::replication::SecretKeyError),
    #[error(transparent)]
    Storage(#[from] BucketConfigError),
    #[error(
        "--database: unsupported URL {scheme:?}: PostgreSQL is postgres://user@host:port/db; leave it unset for SQLite in the data directory"
    )]
    DatabaseUrl { scheme: String },
}

/// The metadata backend `config.database` names (PostgreSQL), else SQLite in
/// the data directory.
async fn open_metadata(config: &Config, blobs: Arc<dyn BlobStore>) -> Result<Stores, ServeError> {
    let Some(url) = &config.database else {
        let meta = SqliteMetadata::open(&config.data_dir.join("wharf.db")).await?;
        return Ok(Stores::from_backend(Arc::new(meta), blobs));
    };
    let url = url.0.as_str();
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if scheme != "postgres" && scheme != "postgresql" {
        // Only the scheme: the rest of the URL may hold a password.
        return Err(ServeError::DatabaseUrl {
            scheme: scheme.to_string(),
        });
    }
    let options = PgOptions {
        max_connections: config.database_max_connections,
        ca_file: config.database_ca_file.clone(),
    };
    let meta = PgMetadata::connect(url, &options).await?;
    tracing::info!("metadata in PostgreSQL");
    Ok(Stores::from_backend(Arc::new(meta), blobs))
}

/// How long a blob GET's pre-signed URL stays valid (`--storage-redirect`;
/// Distribution's 20 minutes): enough to start a large download, short enough
/// that a leaked URL soon stops working.
const REDIRECT_TTL: Duration = Duration::from_secs(20 * 60);

/// The blob store `config.storage` names (an S3 bucket or an Azure container), else
/// the filesystem in the data directory.
async fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>, ServeError> {
    let Some(url) = &config.storage else {
        if config.storage_redirect {
            tracing::warn!(
                "--storage-redirect applies to S3 and Azure storage only; blobs are streamed"
            );
        }
        return Ok(Arc::new(
            FsBlobStore::open(config.data_dir.clone(), true).await?,
        ));
    };
    let store = BucketBlobStore::open(&BucketOptions {
        url: url.clone(),
        endpoint: config.s3_endpoint.clone(),
        region: config.s3_region.clone(),
        path_style: config.s3_path_style,
        allow_http: config.s3_allow_http,
        redirect: config.storage_redirect.then_some(REDIRECT_TTL),
    })?;
    tracing::info!(storage = %url, redirect = config.storage_redirect, "blobs in object storage");
    Ok(Arc::new(store))
}

/// The scanner's layer cache under `<data_dir>/cache/layers`, bounded by
/// `scan_cache_max_size` (0: none). A cache that cannot be opened is logged and skipped:
/// scans then read every layer, as without one.
fn layer_cache(config: &Config) -> Option<Arc<wharf_scanner::image::cache::LayerCache>> {
    if config.scan_cache_max_size == 0 {
        return None;
    }
    let dir = config.data_dir.join("cache").join("layers");
    match wharf_scanner::image::cache::LayerCache::open(&dir, config.scan_cache_max_size) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "scanner layer cache unusable, scans read every layer: {e}");
            None
        }
    }
}

/// The registry's host as clients name it: `--external-url`'s host and port,
/// else the listen address.
fn registry_host(config: &Config) -> String {
    config
        .external_url
        .as_deref()
        .map(|u| {
            let rest = u.split_once("://").map_or(u, |(_, r)| r);
            rest.split('/').next().unwrap_or(rest).to_string()
        })
        .unwrap_or_else(|| config.listen.to_string())
}

/// Open the stores (the metadata database, blobs under `data_dir`) and build the services.
pub async fn open_registry(config: &Config) -> Result<Arc<Services>, ServeError> {
    let dir = &config.data_dir;
    let data_dir_err = |source| ServeError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    tokio::fs::create_dir_all(dir).await.map_err(data_dir_err)?;
    let blobs = open_blobs(config).await.map_err(|e| match e {
        ServeError::Io(source) => data_dir_err(source),
        other => other,
    })?;
    let stores = open_metadata(config, blobs).await?;
    let scanning = ScanConfig {
        db: config
            .vuln_db
            .clone()
            .unwrap_or_else(|| dir.join("vuln.db")),
        workers: config.scan_workers,
        queue: config.scan_queue_size,
        layer_cache: layer_cache(config),
        source: config
            .vuln_db_ref
            .clone()
            .or_else(|| {
                config
                    .vuln_db_update
                    .then(|| wharf_scanner::db::artifact::DEFAULT_UPDATE_REF.to_string())
            })
            .map(|reference| DbSource {
                reference,
                registry: wharf_oci::RegistryOptions {
                    insecure: config.vuln_db_insecure,
                    username: config.vuln_db_username.clone(),
                    password: config.vuln_db_password.as_ref().map(|s| s.0.clone()),
                    ..Default::default()
                },
                every: Duration::from_secs(config.vuln_db_refresh_hours.max(1) * 3600),
            }),
    };
    let trusted_root = match &config.trusted_root {
        Some(path) => {
            let path = path.clone();
            let root = tokio::task::spawn_blocking(move || KeylessRoot::load(path))
                .await
                .map_err(|e| ServeError::Io(io::Error::other(e)))?
                .map_err(ServeError::TrustedRoot)?;
            tracing::info!(path = %root.path.display(), "keyless signatures checked against this Sigstore trusted root");
            Some(root)
        }
        None => None,
    };
    let key_file = config
        .secret_key_file
        .clone()
        .unwrap_or_else(|| dir.join("secret.key"));
    let secret_key = tokio::task::spawn_blocking(move || {
        crate::service::replication::SecretKey::load_or_create(&key_file)
    })
    .await
    .map_err(|e| ServeError::Io(io::Error::other(e)))??;
    let auth = open_auth(config, &stores.identity, &secret_key).await?;
    let enabled = auth.is_some();
    let services = Services::new(
        stores,
        Options {
            max_uploads: config.max_concurrent_uploads,
            max_uploads_per_client: config.max_uploads_per_client,
            auth,
            scanning: Some(scanning),
            trusted_root,
            default_storage_limit: u64::try_from(config.default_storage_limit).ok(),
            quota_warning_percent: config.quota_warning_percent,
            lifecycle: LifecycleOptions {
                queue: QueueOptions {
                    lease: Duration::from_secs(config.job_lease.max(1)),
                    ..Default::default()
                },
                gc_grace_period: Duration::from_secs(config.gc_grace_period),
                upload_expiry: Duration::from_secs(config.upload_expiry_hours * 3600),
            },
            webhooks: crate::service::webhooks::WebhookOptions {
                registry_host: registry_host(config),
                ..Default::default()
            },
            secret_key: Some(Arc::new(secret_key)),
            proxy: crate::service::proxy::ProxyOptions {
                tag_ttl: Duration::from_secs(config.proxy_cache_ttl),
                ..Default::default()
            },
            replication: Default::default(),
            sessions: crate::service::sessions::SessionOptions {
                idle_timeout: Duration::from_secs(config.portal_session_idle_timeout.max(1)),
                lifetime: Duration::from_secs(config.portal_session_lifetime.max(1)),
            },
        },
    );
    if !enabled {
        return Ok(Arc::new(services));
    }
    services
        .directory
        .load(crate::service::DirectoryOptions {
            items: config.directory_items(),
            ca_file: config.ldap_ca_file.clone(),
        })
        .await
        .map_err(|e| ServeError::Bootstrap(format!("authentication settings: {e}")))?;
    let password = config.admin_password.as_ref().map(|s| s.0.as_str());
    match services.identity.bootstrap_admin(password).await {
        Ok(Some(generated)) => {
            // Shown once, on stdout, never through the logs; one write, and a closed stdout
            // is an error to report, not a panic that takes the server down.
            use std::io::Write;
            let text = format!(
                "Created the system administrator \"admin\" with password: {generated}\nChange it with: wharf user passwd admin\n"
            );
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| {
                    ServeError::Bootstrap(format!(
                        "the generated password of admin could not be shown on stdout ({e}); start again on a new data directory with --admin-password"
                    ))
                })?;
        }
        Ok(None) => {}
        Err(e) => return Err(ServeError::Bootstrap(e.to_string())),
    }
    Ok(Arc::new(services))
}

/// Authentication's state, or `None` when it is switched off (with a warning).
async fn open_auth(
    config: &Config,
    meta: &Arc<dyn IdentityStore>,
    secret_key: &crate::service::replication::SecretKey,
) -> Result<Option<AuthState>, ServeError> {
    let has_users = meta.count_users().await? > 0;
    // On unless switched off explicitly: a first start without a password creates
    // `admin` with a generated one (printed once).
    if !config.auth.unwrap_or(true) {
        if has_users {
            tracing::warn!(
                "authentication is switched off although this registry has users: anyone can push, pull and delete"
            );
        } else {
            tracing::warn!(addr = %config.listen, "authentication is switched off (--auth=false): anyone who can reach this address can push, pull and delete");
        }
        return Ok(None);
    }
    // Derived from the secret key, never stored: replicas sharing the key file
    // sign alike, and rotating the key rotates it.
    let key = secret_key.token_signing_key();
    Ok(Some(
        AuthState::new(
            meta.clone(),
            key,
            Duration::from_secs(config.token_ttl_secs),
            config.external_url.clone(),
            config.tls_cert.is_some(),
        )
        .with_login_rate(config.auth_rate_limit),
    ))
}

pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let registry = open_registry(&config).await?;
    registry.start();
    spawn_upload_purge(
        registry.distribution.clone(),
        Duration::from_secs(config.upload_expiry_hours * 3600),
    );

    let stats = registry.distribution.clone();
    let refusals = registry.metrics.http_refusals.clone();
    let limits = HttpLimits {
        max_header_bytes: config.max_header_bytes,
        max_api_body_bytes: config.max_api_body_bytes,
        body_idle_timeout: Duration::from_secs(config.body_idle_timeout),
        request_rate: crate::rate_limit::RateLimit::per_second(
            config.request_rate_limit,
            config.request_rate_limit.saturating_mul(2),
        ),
        exempt_robots: config.rate_limit_exempt_robots,
        trusted_proxies: config.trusted_proxies.clone(),
    };
    let app =
        tower::util::MapRequestLayer::new(route_nested_names).layer(crate::http::headers::apply(
            limits::apply(router(registry.clone()), registry, limits),
            config.tls_cert.is_some(),
        ));
    let tls = config.tls_cert.clone().zip(config.tls_key.clone());
    let listener = wharf_net::bind(config.listen, tls).await?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    let scheme = if listener.is_tls() { "https" } else { "http" };
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "wharf listening ({scheme})");
    let transport = TransportLimits {
        max_header_bytes: config.max_header_bytes,
        header_read_timeout: Duration::from_secs(config.header_read_timeout),
        max_connections: config.max_connections,
        max_connections_per_client: config.max_connections_per_client,
        refusals: Some(refusals),
    };
    transport::serve(listener, app, transport, shutdown).await;
    stats.flush_pulls().await; // pulls counted since the last flush
    tracing::info!("wharf stopped");
    Ok(())
}

fn spawn_upload_purge(registry: Arc<crate::service::Distribution>, expiry: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match registry.purge_stale_uploads(expiry).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "purged abandoned upload sessions"),
                Err(e) => tracing::warn!(error = %e, "purging upload sessions failed"),
            }
        }
    });
}
