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
    /// The metadata database: `postgres://user:password@host:port/db?sslmode=…`
    /// (PostgreSQL, for several processes on one database); unset, SQLite in
    /// `data_dir`. A secret: the URL may carry the password.
    pub database: Option<Secret>,
    /// Connections this process keeps to a PostgreSQL database at most.
    pub database_max_connections: u32,
    /// PEM file of the CA(s) PostgreSQL's certificate must chain to (with
    /// `sslmode=verify-ca`/`verify-full`) [default: the web PKI roots].
    pub database_ca_file: Option<PathBuf>,
    /// Where blobs are kept: `s3://BUCKET/PREFIX` (any S3-compatible object
    /// store, credentials from the standard `AWS_*` variables); unset, the
    /// filesystem under `data_dir`.
    pub storage: Option<String>,
    /// The S3 API's URL for S3-compatible servers [default: `AWS_ENDPOINT_URL`, else AWS].
    pub s3_endpoint: Option<String>,
    /// The bucket's region [default: `AWS_REGION`, else us-east-1].
    pub s3_region: Option<String>,
    /// Path-style S3 requests (`ENDPOINT/BUCKET/KEY`) rather than virtual-hosted.
    pub s3_path_style: Option<bool>,
    /// Allow a plain-HTTP S3 endpoint.
    pub s3_allow_http: bool,
    /// Answer blob GETs with a 307 to a pre-signed URL of the object store
    /// instead of streaming the bytes (S3 only).
    pub storage_redirect: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Upload sessions open at once; beyond this, new ones get 429 TOOMANYREQUESTS.
    pub max_concurrent_uploads: usize,
    /// Upload sessions untouched for this long are purged with their data.
    pub upload_expiry_hours: u64,
    /// Users, projects, roles and Docker token auth. `None` (the default) is on;
    /// only an explicit `false` runs an open registry (tests, throwaway mirrors).
    pub auth: Option<bool>,
    /// Password for `admin` on first start; generated and printed once if unset.
    pub admin_password: Option<Secret>,
    /// Base URL clients reach the registry at (token realm); default: the request's Host.
    pub external_url: Option<String>,
    /// Lifetime of issued bearer tokens, in seconds. The file key is `token_ttl`, as the
    /// flag `--token-ttl`; `token_ttl_secs`, its former name, is still read.
    #[serde(rename = "token_ttl", alias = "token_ttl_secs")]
    pub token_ttl_secs: u64,
    /// The vulnerability database scans use (`wharf db import …`); default `<data_dir>/vuln.db`.
    pub vuln_db: Option<PathBuf>,
    /// Scans that run at once (each on one core).
    pub scan_workers: usize,
    /// Scans waiting in memory for a worker; beyond, they wait in the database and
    /// are read back as the queue empties (memory stays bounded for a scan-all).
    pub scan_queue_size: usize,
    /// Bound in bytes on the scanner's layer cache under `<data_dir>/cache/layers` (each
    /// layer's analysis, so the base layer thousands of images share is read once);
    /// 0 turns the cache off.
    pub scan_cache_max_size: u64,
    /// Take the vulnerability database from this OCI artifact (`wharf db push`), at
    /// start and then every `vuln_db_refresh_hours`: an air-gapped Wharf replicates
    /// its DB from another registry like any image.
    pub vuln_db_ref: Option<String>,
    /// Plain HTTP to the registry of `vuln_db_ref`.
    pub vuln_db_insecure: bool,
    pub vuln_db_username: Option<String>,
    pub vuln_db_password: Option<Secret>,
    pub vuln_db_refresh_hours: u64,
    /// Keep the vulnerability database up to date by itself: at start and then every
    /// `vuln_db_refresh_hours`, from `vuln_db_ref`, or Trivy's public DB
    /// (`ghcr.io/aquasecurity/trivy-db:2`) when no reference is set. A reference alone
    /// also turns it on (as before this setting existed).
    pub vuln_db_update: bool,
    /// Sigstore `trusted_root.json` for keyless signatures: with it, projects can trust
    /// certificate identities (`wharf_trusted_identities`) as well as keys.
    pub trusted_root: Option<PathBuf>,
    /// Storage limit of new projects in bytes (Harbor's default project quota); -1 unlimited.
    pub default_storage_limit: i64,
    /// Percent of its storage limit past which a push makes a project's webhooks send
    /// `QUOTA_WARNING` (Harbor's 85 by default); 0 sends none.
    pub quota_warning_percent: u8,
    /// Seconds garbage collection leaves a blob alone after its last use (upload,
    /// a pusher's HEAD, mount, release) and a manifest after its push: what a push
    /// in progress needs is never collected.
    pub gc_grace_period: u64,
    /// Seconds a job's claim lasts without renewal: after a crash, its job is taken
    /// over by another process (or this one, restarted) this long after.
    pub job_lease: u64,
    /// The 32-byte key (hex or raw bytes in a file) that seals the credentials of
    /// registry endpoints at rest; default `<data_dir>/secret.key`, generated (0600)
    /// on first start when absent. Losing it loses the stored credentials, not the
    /// endpoints: they are re-entered with `wharf registry add`.
    pub secret_key_file: Option<PathBuf>,
    /// Seconds a proxy cache project serves a cached tag without asking its upstream
    /// whether the tag moved (a HEAD, after which a moved tag is fetched anew). Harbor
    /// asks on every pull; 0 does the same. The default spares the upstream, and its
    /// rate limit, the HEAD of every pull of a hot tag, for at most that much staleness.
    pub proxy_cache_ttl: u64,
    /// Seconds a portal session may go unused before it ends.
    pub portal_session_idle_timeout: u64,
    /// Seconds a portal session lasts after login, however busy: the user logs in again.
    pub portal_session_lifetime: u64,
    /// Authentication mode (Harbor's `auth_mode`: db_auth, ldap_auth, oidc_auth). Set
    /// here, it and every `ldap_*` and `oidc_*` setting below win over
    /// `/api/v2.0/configurations`, which then shows them as not editable.
    pub auth_mode: Option<String>,
    pub ldap_url: Option<String>,
    pub ldap_search_dn: Option<String>,
    pub ldap_search_password: Option<Secret>,
    pub ldap_base_dn: Option<String>,
    pub ldap_filter: Option<String>,
    pub ldap_uid: Option<String>,
    pub ldap_scope: Option<i64>,
    pub ldap_timeout: Option<i64>,
    pub ldap_verify_cert: Option<bool>,
    pub ldap_starttls: Option<bool>,
    pub ldap_group_base_dn: Option<String>,
    pub ldap_group_search_filter: Option<String>,
    pub ldap_group_attribute_name: Option<String>,
    pub ldap_group_admin_dn: Option<String>,
    pub ldap_group_membership_attribute: Option<String>,
    pub ldap_group_search_scope: Option<i64>,
    /// PEM file of the CA certificates the LDAP server's certificate must chain to
    /// (ldaps:// and StartTLS); default: the system's roots.
    pub ldap_ca_file: Option<PathBuf>,
    /// The OpenID provider (Harbor's `oidc_*` items; docs in README's identity section).
    pub oidc_name: Option<String>,
    pub oidc_endpoint: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<Secret>,
    pub oidc_scope: Option<String>,
    pub oidc_verify_cert: Option<bool>,
    pub oidc_auto_onboard: Option<bool>,
    pub oidc_user_claim: Option<String>,
    pub oidc_groups_claim: Option<String>,
    pub oidc_admin_group: Option<String>,
    pub oidc_group_filter: Option<String>,
    // Limits against abuse (docs in README's configuration table). Each bounds what one
    // client can make the server spend: memory, connections, upload sessions, argon2 time.
    /// Bytes of request line and headers; beyond, 431 (headers this large are an attack
    /// or a bug: Docker's tokens are a few KiB).
    pub max_header_bytes: usize,
    /// Bytes of a management API (JSON) request body; beyond, 413.
    pub max_api_body_bytes: usize,
    /// Upload sessions one client address may hold open; beyond, 429 TOOMANYREQUESTS.
    pub max_uploads_per_client: usize,
    /// Seconds a connection may take to send a request's headers, and may stay idle
    /// between requests; then it is closed (slow or silent clients hold no slot).
    pub header_read_timeout: u64,
    /// Seconds a request body may go without sending a byte; then the request fails.
    pub body_idle_timeout: u64,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Connections one client address may hold at once; further ones are closed.
    pub max_connections_per_client: usize,
    /// Credential checks (password or robot secret, not cached) one client address may
    /// make per minute; beyond, 429 with Retry-After. 0 switches the limit off.
    pub auth_rate_limit: u32,
    /// Requests per second one client address may make (bursts of as many again);
    /// beyond, 429 with Retry-After. 0 (the default) switches the limit off.
    pub request_rate_limit: u32,
    /// Authenticated robot accounts are not held to `request_rate_limit` (CI fleets
    /// behind one address).
    pub rate_limit_exempt_robots: bool,
    /// Load balancers and reverse proxies (addresses or networks) whose
    /// `Forwarded` or `X-Forwarded-For` names the client; from anyone else it is ignored.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address or a network (`10.0.0.0/8`, `127.0.0.1`, `::1`).
pub fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or network (e.g. 10.0.0.0/8)"))
}

fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let items: Vec<String> = Vec::deserialize(d)?;
    items
        .iter()
        .map(|s| parse_network(s).map_err(serde::de::Error::custom))
        .collect()
}

impl Config {
    /// The configuration items this file or the flags set, by Harbor's names.
    pub fn directory_items(&self) -> Vec<(String, serde_json::Value)> {
        use serde_json::Value;
        let text = |v: &Option<String>| v.clone().map(Value::String);
        let num = |v: &Option<i64>| v.map(Value::from);
        let flag = |v: &Option<bool>| v.map(Value::Bool);
        [
            ("auth_mode", text(&self.auth_mode)),
            ("ldap_url", text(&self.ldap_url)),
            ("ldap_search_dn", text(&self.ldap_search_dn)),
            (
                "ldap_search_password",
                self.ldap_search_password
                    .as_ref()
                    .map(|s| Value::String(s.0.clone())),
            ),
            ("ldap_base_dn", text(&self.ldap_base_dn)),
            ("ldap_filter", text(&self.ldap_filter)),
            ("ldap_uid", text(&self.ldap_uid)),
            ("ldap_scope", num(&self.ldap_scope)),
            ("ldap_timeout", num(&self.ldap_timeout)),
            ("ldap_verify_cert", flag(&self.ldap_verify_cert)),
            ("ldap_starttls", flag(&self.ldap_starttls)),
            ("ldap_group_base_dn", text(&self.ldap_group_base_dn)),
            (
                "ldap_group_search_filter",
                text(&self.ldap_group_search_filter),
            ),
            (
                "ldap_group_attribute_name",
                text(&self.ldap_group_attribute_name),
            ),
            ("ldap_group_admin_dn", text(&self.ldap_group_admin_dn)),
            (
                "ldap_group_membership_attribute",
                text(&self.ldap_group_membership_attribute),
            ),
            (
                "ldap_group_search_scope",
                num(&self.ldap_group_search_scope),
            ),
            ("oidc_name", text(&self.oidc_name)),
            ("oidc_endpoint", text(&self.oidc_endpoint)),
            ("oidc_client_id", text(&self.oidc_client_id)),
            (
                "oidc_client_secret",
                self.oidc_client_secret
                    .as_ref()
                    .map(|s| Value::String(s.0.clone())),
            ),
            ("oidc_scope", text(&self.oidc_scope)),
            ("oidc_verify_cert", flag(&self.oidc_verify_cert)),
            ("oidc_auto_onboard", flag(&self.oidc_auto_onboard)),
            ("oidc_user_claim", text(&self.oidc_user_claim)),
            ("oidc_groups_claim", text(&self.oidc_groups_claim)),
            ("oidc_admin_group", text(&self.oidc_admin_group)),
            ("oidc_group_filter", text(&self.oidc_group_filter)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
    }
}

/// A configuration value that must never be printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("wharf-data"),
            database: None,
            database_max_connections: 16,
            database_ca_file: None,
            storage: None,
            s3_endpoint: None,
            s3_region: None,
            s3_path_style: None,
            s3_allow_http: false,
            storage_redirect: false,
            tls_cert: None,
            tls_key: None,
            max_concurrent_uploads: 256,
            upload_expiry_hours: 168,
            auth: None,
            admin_password: None,
            external_url: None,
            token_ttl_secs: 1800,
            vuln_db: None,
            scan_workers: 1,
            scan_queue_size: crate::service::security::DEFAULT_SCAN_QUEUE,
            scan_cache_max_size: wharf_scanner::image::cache::DEFAULT_MAX_BYTES,
            vuln_db_ref: None,
            vuln_db_insecure: false,
            vuln_db_username: None,
            vuln_db_password: None,
            vuln_db_refresh_hours: 24,
            vuln_db_update: false,
            trusted_root: None,
            default_storage_limit: -1,
            quota_warning_percent: 85,
            gc_grace_period: 3600,
            job_lease: 60,
            secret_key_file: None,
            proxy_cache_ttl: 300,
            portal_session_idle_timeout: 1800,
            portal_session_lifetime: 43200,
            auth_mode: None,
            ldap_url: None,
            ldap_search_dn: None,
            ldap_search_password: None,
            ldap_base_dn: None,
            ldap_filter: None,
            ldap_uid: None,
            ldap_scope: None,
            ldap_timeout: None,
            ldap_verify_cert: None,
            ldap_starttls: None,
            ldap_group_base_dn: None,
            ldap_group_search_filter: None,
            ldap_group_attribute_name: None,
            ldap_group_admin_dn: None,
            ldap_group_membership_attribute: None,
            ldap_group_search_scope: None,
            ldap_ca_file: None,
            oidc_name: None,
            oidc_endpoint: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scope: None,
            oidc_verify_cert: None,
            oidc_auto_onboard: None,
            oidc_user_claim: None,
            oidc_groups_claim: None,
            oidc_admin_group: None,
            oidc_group_filter: None,
            max_header_bytes: 64 * 1024,
            max_api_body_bytes: 1024 * 1024,
            max_uploads_per_client: 64,
            header_read_timeout: 30,
            body_idle_timeout: 60,
            max_connections: 4096,
            max_connections_per_client: 256,
            auth_rate_limit: 60,
            request_rate_limit: 0,
            rate_limit_exempt_robots: false,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("tls_cert and tls_key must be given together")]
    TlsHalf,
    #[error("max_concurrent_uploads must be at least 1")]
    NoUploads,
    #[error("default_storage_limit must be bytes, or -1 for unlimited")]
    StorageLimit,
    #[error("quota_warning_percent must be 0 (off) to 100")]
    WarningPercent,
    #[error("{0} must be at least {1}")]
    TooSmall(&'static str, u64),
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsHalf);
        }
        if self.max_concurrent_uploads == 0 {
            return Err(ConfigError::NoUploads);
        }
        if self.default_storage_limit < -1 {
            return Err(ConfigError::StorageLimit);
        }
        if self.quota_warning_percent > 100 {
            return Err(ConfigError::WarningPercent);
        }
        for (name, value, min) in [
            ("max_header_bytes", self.max_header_bytes as u64, 4096),
            ("max_api_body_bytes", self.max_api_body_bytes as u64, 1024),
            (
                "max_uploads_per_client",
                self.max_uploads_per_client as u64,
                1,
            ),
            ("header_read_timeout", self.header_read_timeout, 1),
            ("body_idle_timeout", self.body_idle_timeout, 1),
            ("max_connections", self.max_connections as u64, 1),
            (
                "max_connections_per_client",
                self.max_connections_per_client as u64,
                1,
            ),
        ] {
            if value < min {
                return Err(ConfigError::TooSmall(name, min));
            }
        }
        Ok(())
    }
}
