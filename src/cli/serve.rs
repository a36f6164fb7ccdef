//! `wharf serve`: configuration from flags, `WHARF_*` variables and a TOML file
//! (in that order of precedence), then hand over to `wharf_registry::server`.
//!
//! One naming scheme for every setting: flag `--some-flag`, variable
//! `WHARF_SOME_FLAG`, file key `some_flag`. Variables that were named otherwise
//! are still read under their old names ([`RENAMED_VARIABLES`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use wharf_registry::config::Config;

use super::env_alias::Renamed;

/// The `--vuln-db*` variables were `WHARF_DB*` before every variable was named after
/// its flag; the old names are still read (the new ones win when both are set).
pub(super) const RENAMED_VARIABLES: &[Renamed] = &[
    Renamed {
        arg: "vuln_db",
        new: "WHARF_VULN_DB",
        old: "WHARF_DB",
    },
    Renamed {
        arg: "vuln_db_ref",
        new: "WHARF_VULN_DB_REF",
        old: "WHARF_DB_REF",
    },
    Renamed {
        arg: "vuln_db_insecure",
        new: "WHARF_VULN_DB_INSECURE",
        old: "WHARF_DB_INSECURE",
    },
    Renamed {
        arg: "vuln_db_username",
        new: "WHARF_VULN_DB_USERNAME",
        old: "WHARF_DB_USERNAME",
    },
    Renamed {
        arg: "vuln_db_password",
        new: "WHARF_VULN_DB_PASSWORD",
        old: "WHARF_DB_PASSWORD",
    },
    Renamed {
        arg: "vuln_db_refresh_hours",
        new: "WHARF_VULN_DB_REFRESH_HOURS",
        old: "WHARF_DB_REFRESH_HOURS",
    },
];

/// Flags for `wharf serve`. Every flag can also be set by its `WHARF_*`
/// variable or in the `--config` file; flags win over variables, variables
/// over the file. The file key is the flag's name with `_` for `-`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  wharf serve                                   # 127.0.0.1:5000, data in ./wharf-data
  wharf serve --listen 0.0.0.0:443 --tls-cert cert.pem --tls-key key.pem
  wharf serve --config /etc/wharf/wharf.toml

Every flag --some-flag is also the variable WHARF_SOME_FLAG and the file key some_flag
(except --config, and --log-level/--log-format, which apply before the file is read).
Flags win over variables, variables over the file. Former variable
names still read: WHARF_DB, WHARF_DB_REF, WHARF_DB_INSECURE, WHARF_DB_USERNAME,
WHARF_DB_PASSWORD, WHARF_DB_REFRESH_HOURS (now WHARF_VULN_DB...), WHARF_LOG (now
WHARF_LOG_LEVEL); former file key token_ttl_secs (now token_ttl).

Config file (TOML), every key optional:
  listen = \"127.0.0.1:5000\"
  data_dir = \"/var/lib/wharf\"
  database = \"postgres://wharf:...@db.example.com/wharf?sslmode=verify-full\"
  database_max_connections = 16
  database_ca_file = \"/etc/wharf/db-ca.pem\"
  storage = \"s3://wharf-blobs/registry\"   # credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY;
                                          # or azure://CONTAINER/PREFIX, with AZURE_STORAGE_*
  s3_endpoint = \"https://minio.example.com:9000\"
  s3_region = \"eu-west-1\"
  s3_path_style = true
  s3_allow_http = false
  storage_redirect = false
  tls_cert = \"/etc/wharf/cert.pem\"
  tls_key = \"/etc/wharf/key.pem\"
  max_concurrent_uploads = 256
  upload_expiry_hours = 168
  auth = true
  admin_password = \"...\"
  external_url = \"https://registry.example.com\"
  token_ttl = 1800
  vuln_db = \"/var/lib/wharf/vuln.db\"
  scan_workers = 1
  scan_queue_size = 1024
  scan_cache_max_size = 1073741824   # bytes; 0 = no layer cache
  vuln_db_ref = \"mirror.example.com/security/vulndb:latest\"
  vuln_db_insecure = false
  vuln_db_username = \"mirror-reader\"
  vuln_db_password = \"...\"
  vuln_db_refresh_hours = 24
  vuln_db_update = false
  trusted_root = \"/etc/wharf/trusted_root.json\"
  gc_grace_period = 3600
  job_lease = 60
  portal_session_idle_timeout = 1800
  portal_session_lifetime = 43200
  secret_key_file = \"/var/lib/wharf/secret.key\"
  auth_mode = \"ldap_auth\"
  ldap_url = \"ldaps://ldap.example.com\"
  ldap_search_dn = \"cn=wharf,ou=services,dc=example,dc=com\"
  ldap_search_password = \"...\"
  ldap_base_dn = \"ou=people,dc=example,dc=com\"
  ldap_filter = \"(objectClass=person)\"
  ldap_uid = \"uid\"
  ldap_scope = 2
  ldap_timeout = 5
  ldap_verify_cert = true
  ldap_starttls = false
  ldap_ca_file = \"/etc/wharf/ldap-ca.pem\"
  ldap_group_base_dn = \"ou=groups,dc=example,dc=com\"
  ldap_group_search_filter = \"(objectClass=groupOfNames)\"
  ldap_group_attribute_name = \"cn\"
  ldap_group_admin_dn = \"cn=registry-admins,ou=groups,dc=example,dc=com\"
  ldap_group_membership_attribute = \"memberof\"
  ldap_group_search_scope = 2
  # or an OpenID provider (OIDC users log in at /c/oidc/login; their CLI secret is the
  # password for docker login):
  # auth_mode = \"oidc_auth\"
  oidc_endpoint = \"https://idp.example.com/realms/corp\"
  oidc_client_id = \"wharf\"
  oidc_client_secret = \"...\"
  oidc_scope = \"openid,profile,email,offline_access\"
  oidc_auto_onboard = true
  oidc_user_claim = \"preferred_username\"
  oidc_groups_claim = \"groups\"
  oidc_admin_group = \"registry-admins\"
  max_header_bytes = 65536
  max_api_body_bytes = 1048576
  max_uploads_per_client = 64
  header_read_timeout = 30
  body_idle_timeout = 60
  max_connections = 4096
  max_connections_per_client = 256
  auth_rate_limit = 60
  request_rate_limit = 0
  rate_limit_exempt_robots = false
  trusted_proxies = [\"10.0.0.0/8\"]")]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "WHARF_CONFIG")]
    config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long, env = "WHARF_LISTEN")]
    listen: Option<SocketAddr>,

    /// Directory for blobs, metadata and upload sessions [default: ./wharf-data].
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Metadata in PostgreSQL instead of SQLite in the data directory:
    /// postgres://user:password@host:port/db (libpq parameters such as
    /// ?sslmode=verify-full in the URL). Several `wharf serve` may share one.
    #[arg(long, env = "WHARF_DATABASE", hide_env_values = true)]
    database: Option<String>,

    /// Connections to PostgreSQL this process opens at most [default: 16].
    #[arg(long, env = "WHARF_DATABASE_MAX_CONNECTIONS")]
    database_max_connections: Option<u32>,

    /// PEM file of the CA(s) PostgreSQL's certificate must chain to, for
    /// sslmode=verify-ca/verify-full [default: the web PKI roots].
    #[arg(long, env = "WHARF_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,

    /// Keep blobs in an S3-compatible object store, s3://BUCKET/PREFIX (credentials
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the
    /// instance's role), or in Azure Blob Storage, azure://CONTAINER/PREFIX (account,
    /// credentials and endpoint from AZURE_STORAGE_ACCOUNT_NAME,
    /// AZURE_STORAGE_ACCOUNT_KEY or another AZURE_* credential, AZURE_STORAGE_ENDPOINT)
    /// [default: the filesystem under --data-dir].
    #[arg(long, env = "WHARF_STORAGE")]
    storage: Option<String>,

    /// URL of the S3 API, for S3-compatible servers (MinIO, Ceph, R2…)
    /// [default: AWS_ENDPOINT_URL, else AWS for the region].
    #[arg(long, env = "WHARF_S3_ENDPOINT")]
    s3_endpoint: Option<String>,

    /// Region of the bucket [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "WHARF_S3_REGION")]
    s3_region: Option<String>,

    /// Path-style requests (ENDPOINT/BUCKET/KEY), as most S3-compatible servers want;
    /// false: virtual-hosted style (BUCKET.ENDPOINT/KEY) [default: path style, unless
    /// AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true].
    #[arg(long, env = "WHARF_S3_PATH_STYLE", num_args = 0..=1, default_missing_value = "true")]
    s3_path_style: Option<bool>,

    /// Allow a plain-HTTP --s3-endpoint [default: false].
    #[arg(long, env = "WHARF_S3_ALLOW_HTTP", num_args = 0..=1, default_missing_value = "true")]
    s3_allow_http: Option<bool>,

    /// Answer blob downloads with a 307 redirect to a URL of the object store,
    /// pre-signed for 20 minutes (on Azure a SAS URL, signed with the account key or a
    /// user delegation key),
    /// instead of streaming them (S3 or Azure storage; clients must reach the
    /// object store) [default: false].
    #[arg(long, env = "WHARF_STORAGE_REDIRECT", num_args = 0..=1, default_missing_value = "true")]
    storage_redirect: Option<bool>,

    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "WHARF_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "WHARF_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Upload sessions allowed at once; more are refused with 429 TOOMANYREQUESTS [default: 256].
    #[arg(long, env = "WHARF_MAX_CONCURRENT_UPLOADS")]
    max_concurrent_uploads: Option<usize>,

    /// Abandoned upload sessions are removed after this many hours [default: 168].
    #[arg(long, env = "WHARF_UPLOAD_EXPIRY_HOURS")]
    upload_expiry_hours: Option<u64>,

    /// Require authentication: users, projects, Harbor's roles, robot accounts,
    /// Docker token auth (`docker login`). On by default: the first start creates
    /// `admin` (password from --admin-password, else generated and printed once);
    /// `--auth=false` runs an open registry, as docker-registry does.
    #[arg(long, env = "WHARF_AUTH", num_args = 0..=1, default_missing_value = "true")]
    auth: Option<bool>,

    /// Password of the `admin` user created on first start; if unset, one is
    /// generated and printed once.
    #[arg(long, env = "WHARF_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,

    /// URL clients reach this registry at, for the token realm (e.g. https://registry.example.com).
    #[arg(long, env = "WHARF_EXTERNAL_URL")]
    external_url: Option<String>,

    /// Lifetime of bearer tokens, in seconds [default: 1800].
    #[arg(long, env = "WHARF_TOKEN_TTL")]
    token_ttl: Option<u64>,

    /// Vulnerability database for scans on push, on request and on schedule
    /// (build it with `wharf db import`) [default: <data dir>/vuln.db].
    #[arg(long, env = "WHARF_VULN_DB")]
    vuln_db: Option<PathBuf>,

    /// Scans that run at once [default: 1].
    #[arg(long, env = "WHARF_SCAN_WORKERS")]
    scan_workers: Option<usize>,

    /// Scans waiting in memory for a worker; beyond, they wait in the database
    /// and are read back as the queue empties [default: 1024].
    #[arg(long, env = "WHARF_SCAN_QUEUE_SIZE", value_parser = clap::value_parser!(u64).range(1..))]
    scan_queue_size: Option<u64>,

    /// Bound in bytes on the layer cache under <data dir>/cache/layers: each layer's
    /// analysis is kept, so layers shared by many images are read once; 0 turns it off
    /// [default: 1073741824 (1 GiB)].
    #[arg(long, env = "WHARF_SCAN_CACHE_MAX_SIZE")]
    scan_cache_max_size: Option<u64>,

    /// Replicate the vulnerability database from this OCI artifact (made by
    /// `wharf db push`), at start and then every --vuln-db-refresh-hours.
    #[arg(long, env = "WHARF_VULN_DB_REF")]
    vuln_db_ref: Option<String>,

    /// Plain HTTP to the registry of --vuln-db-ref.
    #[arg(long, env = "WHARF_VULN_DB_INSECURE", num_args = 0..=1, default_missing_value = "true")]
    vuln_db_insecure: Option<bool>,

    /// User name for the registry of --vuln-db-ref.
    #[arg(long, env = "WHARF_VULN_DB_USERNAME")]
    vuln_db_username: Option<String>,

    /// Password for the registry of --vuln-db-ref.
    #[arg(long, env = "WHARF_VULN_DB_PASSWORD", hide_env_values = true)]
    vuln_db_password: Option<String>,

    /// Hours between database pulls [default: 24].
    #[arg(long, env = "WHARF_VULN_DB_REFRESH_HOURS")]
    vuln_db_refresh_hours: Option<u64>,

    /// Download the vulnerability database at start and every --vuln-db-refresh-hours:
    /// from --vuln-db-ref (Wharf's or Trivy's artifact), else Trivy's public DB
    /// (ghcr.io/aquasecurity/trivy-db:2) [default: false; a --vuln-db-ref alone turns it on].
    #[arg(long, env = "WHARF_VULN_DB_UPDATE", num_args = 0..=1, default_missing_value = "true")]
    vuln_db_update: Option<bool>,

    /// Sigstore trusted_root.json (Fulcio CAs, Rekor and CT log keys) to check keyless
    /// signatures with. Projects then trust certificate identities as well as keys:
    /// metadata wharf_trusted_identities = '[{"identityRegexp": "^https://github.com/org/",
    /// "issuer": "https://token.actions.githubusercontent.com"}]'.
    #[arg(long, env = "WHARF_TRUSTED_ROOT")]
    trusted_root: Option<PathBuf>,

    /// Storage limit of new projects in bytes (their quota; system administrators
    /// change it per project), -1 unlimited [default: -1].
    #[arg(
        long,
        env = "WHARF_DEFAULT_STORAGE_LIMIT",
        allow_negative_numbers = true
    )]
    default_storage_limit: Option<i64>,

    /// Percent of a project's storage limit past which a push sends the project's
    /// webhooks a QUOTA_WARNING, as Harbor does; 0 sends none [default: 85].
    #[arg(long, env = "WHARF_QUOTA_WARNING_PERCENT")]
    quota_warning_percent: Option<u8>,

    /// Seconds garbage collection leaves a blob alone after its last use and a
    /// manifest after its push, so pushes in progress lose nothing [default: 3600].
    #[arg(long, env = "WHARF_GC_GRACE_PERIOD")]
    gc_grace_period: Option<u64>,

    /// Seconds a background job's claim lasts without renewal; a job whose server
    /// died is taken over after this [default: 60].
    #[arg(long, env = "WHARF_JOB_LEASE")]
    job_lease: Option<u64>,

    /// Seconds a portal (web UI) session may go unused before it ends [default: 1800].
    #[arg(long, env = "WHARF_PORTAL_SESSION_IDLE_TIMEOUT")]
    portal_session_idle_timeout: Option<u64>,

    /// Seconds a portal session lasts after login, however busy [default: 43200].
    #[arg(long, env = "WHARF_PORTAL_SESSION_LIFETIME")]
    portal_session_lifetime: Option<u64>,

    /// File with the key that encrypts registry endpoint credentials at rest
    /// (generated, mode 0600, when absent) [default: <data-dir>/secret.key].
    #[arg(long, env = "WHARF_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,

    /// Seconds a proxy cache project serves a cached tag before asking its upstream
    /// (with a HEAD) whether the tag moved; 0 asks on every pull, as Harbor does
    /// [default: 300].
    #[arg(long, env = "WHARF_PROXY_CACHE_TTL")]
    proxy_cache_ttl: Option<u64>,

    /// Authentication mode: db_auth (local users), ldap_auth (an LDAP / Active
    /// Directory server) or oidc_auth (an OpenID provider); the local `admin` always
    /// logs in locally. Set here, it and the --ldap-* and --oidc-* settings win over
    /// /api/v2.0/configurations [default: db_auth].
    #[arg(long, env = "WHARF_AUTH_MODE")]
    auth_mode: Option<String>,

    /// LDAP server, ldap://host[:port] or ldaps://host[:port].
    #[arg(long, env = "WHARF_LDAP_URL")]
    ldap_url: Option<String>,

    /// DN to bind with for searching users (empty: anonymous).
    #[arg(long, env = "WHARF_LDAP_SEARCH_DN")]
    ldap_search_dn: Option<String>,

    /// Password of --ldap-search-dn (stored encrypted, never shown).
    #[arg(long, env = "WHARF_LDAP_SEARCH_PASSWORD", hide_env_values = true)]
    ldap_search_password: Option<String>,

    /// Where users are searched.
    #[arg(long, env = "WHARF_LDAP_BASE_DN")]
    ldap_base_dn: Option<String>,

    /// Extra filter users must match, e.g. (objectClass=person).
    #[arg(long, env = "WHARF_LDAP_FILTER")]
    ldap_filter: Option<String>,

    /// Attribute that holds the user name [default: cn].
    #[arg(long, env = "WHARF_LDAP_UID")]
    ldap_uid: Option<String>,

    /// User search scope: 0 base, 1 one level, 2 subtree [default: 2].
    #[arg(long, env = "WHARF_LDAP_SCOPE")]
    ldap_scope: Option<i64>,

    /// Seconds for connecting and for each LDAP operation [default: 5].
    #[arg(long, env = "WHARF_LDAP_TIMEOUT")]
    ldap_timeout: Option<i64>,

    /// Verify the LDAP server's certificate (ldaps://, StartTLS) [default: true].
    #[arg(long, env = "WHARF_LDAP_VERIFY_CERT", num_args = 0..=1, default_missing_value = "true")]
    ldap_verify_cert: Option<bool>,

    /// Upgrade ldap:// connections with StartTLS [default: false].
    #[arg(long, env = "WHARF_LDAP_STARTTLS", num_args = 0..=1, default_missing_value = "true")]
    ldap_starttls: Option<bool>,

    /// Where groups are searched (/ldap/groups/search).
    #[arg(long, env = "WHARF_LDAP_GROUP_BASE_DN")]
    ldap_group_base_dn: Option<String>,

    /// Filter groups must match.
    #[arg(long, env = "WHARF_LDAP_GROUP_SEARCH_FILTER")]
    ldap_group_search_filter: Option<String>,

    /// Attribute that holds a group's name [default: cn].
    #[arg(long, env = "WHARF_LDAP_GROUP_ATTRIBUTE_NAME")]
    ldap_group_attribute_name: Option<String>,

    /// Members of this group are system administrators.
    #[arg(long, env = "WHARF_LDAP_GROUP_ADMIN_DN")]
    ldap_group_admin_dn: Option<String>,

    /// User attribute that lists the user's group DNs [default: memberof].
    #[arg(long, env = "WHARF_LDAP_GROUP_MEMBERSHIP_ATTRIBUTE")]
    ldap_group_membership_attribute: Option<String>,

    /// Group search scope: 0 base, 1 one level, 2 subtree [default: 2].
    #[arg(long, env = "WHARF_LDAP_GROUP_SEARCH_SCOPE")]
    ldap_group_search_scope: Option<i64>,

    /// PEM file of the CA(s) the LDAP server's certificate must chain to
    /// [default: the system's roots].
    #[arg(long, env = "WHARF_LDAP_CA_FILE")]
    ldap_ca_file: Option<PathBuf>,

    /// The OpenID provider's display name.
    #[arg(long, env = "WHARF_OIDC_NAME")]
    oidc_name: Option<String>,

    /// The OpenID provider's issuer URL (discovery: <URL>/.well-known/openid-configuration).
    #[arg(long, env = "WHARF_OIDC_ENDPOINT")]
    oidc_endpoint: Option<String>,

    /// Wharf's client id at the OpenID provider.
    #[arg(long, env = "WHARF_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,

    /// Wharf's client secret at the OpenID provider (stored encrypted, never shown).
    #[arg(long, env = "WHARF_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,

    /// Scopes to request, comma-separated; must include openid, and offline_access for
    /// the refresh token CLI secrets depend on [default: openid,profile,email,offline_access].
    #[arg(long, env = "WHARF_OIDC_SCOPE")]
    oidc_scope: Option<String>,

    /// Verify the OpenID provider's certificate [default: true].
    #[arg(long, env = "WHARF_OIDC_VERIFY_CERT", num_args = 0..=1, default_missing_value = "true")]
    oidc_verify_cert: Option<bool>,

    /// Create users on their first OIDC login [default: false].
    #[arg(long, env = "WHARF_OIDC_AUTO_ONBOARD", num_args = 0..=1, default_missing_value = "true")]
    oidc_auto_onboard: Option<bool>,

    /// The ID token claim that names the user [default: name, else preferred_username].
    #[arg(long, env = "WHARF_OIDC_USER_CLAIM")]
    oidc_user_claim: Option<String>,

    /// The ID token claim that lists the user's groups (OIDC user groups).
    #[arg(long, env = "WHARF_OIDC_GROUPS_CLAIM")]
    oidc_groups_claim: Option<String>,

    /// Members of this OIDC group are system administrators.
    #[arg(long, env = "WHARF_OIDC_ADMIN_GROUP")]
    oidc_admin_group: Option<String>,

    /// Only groups matching this regular expression are kept.
    #[arg(long, env = "WHARF_OIDC_GROUP_FILTER")]
    oidc_group_filter: Option<String>,

    /// Bytes of request line and headers; more get 431 [default: 65536].
    #[arg(long, env = "WHARF_MAX_HEADER_BYTES")]
    max_header_bytes: Option<usize>,

    /// Bytes of a management API request body; more get 413 [default: 1048576].
    #[arg(long, env = "WHARF_MAX_API_BODY_BYTES")]
    max_api_body_bytes: Option<usize>,

    /// Upload sessions one client address may hold open; more get 429 TOOMANYREQUESTS [default: 64].
    #[arg(long, env = "WHARF_MAX_UPLOADS_PER_CLIENT")]
    max_uploads_per_client: Option<usize>,

    /// Seconds a connection may take to send its request headers, or stay idle between requests, before it is closed [default: 30].
    #[arg(long, env = "WHARF_HEADER_READ_TIMEOUT")]
    header_read_timeout: Option<u64>,

    /// Seconds a request body may go without a byte before the request fails [default: 60].
    #[arg(long, env = "WHARF_BODY_IDLE_TIMEOUT")]
    body_idle_timeout: Option<u64>,

    /// Connections served at once; more wait to be accepted [default: 4096].
    #[arg(long, env = "WHARF_MAX_CONNECTIONS")]
    max_connections: Option<usize>,

    /// Connections one client address may hold at once; more are closed [default: 256].
    #[arg(long, env = "WHARF_MAX_CONNECTIONS_PER_CLIENT")]
    max_connections_per_client: Option<usize>,

    /// Password/secret checks one client address may make per minute; more get 429 with Retry-After; 0 = no limit [default: 60].
    #[arg(long, env = "WHARF_AUTH_RATE_LIMIT")]
    auth_rate_limit: Option<u32>,

    /// Requests per second one client address may make (bursts of as many again); more get 429 with Retry-After; 0 = no limit [default: 0].
    #[arg(long, env = "WHARF_REQUEST_RATE_LIMIT")]
    request_rate_limit: Option<u32>,

    /// Authenticated robot accounts are not held to --request-rate-limit [default: false].
    #[arg(long, env = "WHARF_RATE_LIMIT_EXEMPT_ROBOTS", num_args = 0..=1, default_missing_value = "true")]
    rate_limit_exempt_robots: Option<bool>,

    /// Load balancers or reverse proxies in front of the registry (addresses or networks, comma-separated): their Forwarded (RFC 7239) or X-Forwarded-For names the client for rate limits, throttling and the audit log; from anyone else it is ignored [default: none].
    #[arg(long, env = "WHARF_TRUSTED_PROXIES", value_delimiter = ',', value_parser = wharf_registry::config::parse_network)]
    trusted_proxies: Option<Vec<ipnet::IpNet>>,
}

impl ServeArgs {
    /// Layer flags/env over the file over the defaults.
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<Config>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = self.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = self.database {
            config.database = Some(wharf_registry::config::Secret(v));
        }
        if let Some(v) = self.database_max_connections {
            config.database_max_connections = v;
        }
        if let Some(v) = self.database_ca_file {
            config.database_ca_file = Some(v);
        }
        if let Some(v) = self.storage {
            config.storage = Some(v);
        }
        if let Some(v) = self.s3_endpoint {
            config.s3_endpoint = Some(v);
        }
        if let Some(v) = self.s3_region {
            config.s3_region = Some(v);
        }
        if let Some(v) = self.s3_path_style {
            config.s3_path_style = Some(v);
        }
        if let Some(v) = self.s3_allow_http {
            config.s3_allow_http = v;
        }
        if let Some(v) = self.storage_redirect {
            config.storage_redirect = v;
        }
        if self.tls_cert.is_some() {
            config.tls_cert = self.tls_cert;
            config.tls_key = self.tls_key;
        }
        if let Some(v) = self.max_concurrent_uploads {
            config.max_concurrent_uploads = v;
        }
        if let Some(v) = self.upload_expiry_hours {
            config.upload_expiry_hours = v;
        }
        if let Some(v) = self.auth {
            config.auth = Some(v);
        }
        if let Some(v) = self.admin_password {
            config.admin_password = Some(wharf_registry::config::Secret(v));
        }
        if let Some(v) = self.external_url {
            config.external_url = Some(v);
        }
        if let Some(v) = self.token_ttl {
            config.token_ttl_secs = v;
        }
        if let Some(v) = self.vuln_db {
            config.vuln_db = Some(v);
        }
        if let Some(v) = self.scan_workers {
            config.scan_workers = v;
        }
        if let Some(v) = self.scan_queue_size {
            config.scan_queue_size = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = self.scan_cache_max_size {
            config.scan_cache_max_size = v;
        }
        if let Some(v) = self.vuln_db_ref {
            config.vuln_db_ref = Some(v);
        }
        if let Some(v) = self.vuln_db_insecure {
            config.vuln_db_insecure = v;
        }
        if let Some(v) = self.vuln_db_username {
            config.vuln_db_username = Some(v);
        }
        if let Some(v) = self.vuln_db_password {
            config.vuln_db_password = Some(wharf_registry::config::Secret(v));
        }
        if let Some(v) = self.vuln_db_refresh_hours {
            config.vuln_db_refresh_hours = v;
        }
        if let Some(v) = self.vuln_db_update {
            config.vuln_db_update = v;
        }
        if let Some(v) = self.trusted_root {
            config.trusted_root = Some(v);
        }
        if let Some(v) = self.default_storage_limit {
            config.default_storage_limit = v;
        }
        if let Some(v) = self.quota_warning_percent {
            config.quota_warning_percent = v;
        }
        if let Some(v) = self.gc_grace_period {
            config.gc_grace_period = v;
        }
        if let Some(v) = self.job_lease {
            config.job_lease = v;
        }
        if let Some(v) = self.portal_session_idle_timeout {
            config.portal_session_idle_timeout = v;
        }
        if let Some(v) = self.portal_session_lifetime {
            config.portal_session_lifetime = v;
        }
        if let Some(v) = self.secret_key_file {
            config.secret_key_file = Some(v);
        }
        if let Some(v) = self.proxy_cache_ttl {
            config.proxy_cache_ttl = v;
        }
        if let Some(v) = self.auth_mode {
            config.auth_mode = Some(v);
        }
        if let Some(v) = self.ldap_url {
            config.ldap_url = Some(v);
        }
        if let Some(v) = self.ldap_search_dn {
            config.ldap_search_dn = Some(v);
        }
        if let Some(v) = self.ldap_search_password {
            config.ldap_search_password = Some(wharf_registry::config::Secret(v));
        }
        if let Some(v) = self.ldap_base_dn {
            config.ldap_base_dn = Some(v);
        }
        if let Some(v) = self.ldap_filter {
            config.ldap_filter = Some(v);
        }
        if let Some(v) = self.ldap_uid {
            config.ldap_uid = Some(v);
        }
        if let Some(v) = self.ldap_scope {
            config.ldap_scope = Some(v);
        }
        if let Some(v) = self.ldap_timeout {
            config.ldap_timeout = Some(v);
        }
        if let Some(v) = self.ldap_verify_cert {
            config.ldap_verify_cert = Some(v);
        }
        if let Some(v) = self.ldap_starttls {
            config.ldap_starttls = Some(v);
        }
        if let Some(v) = self.ldap_group_base_dn {
            config.ldap_group_base_dn = Some(v);
        }
        if let Some(v) = self.ldap_group_search_filter {
            config.ldap_group_search_filter = Some(v);
        }
        if let Some(v) = self.ldap_group_attribute_name {
            config.ldap_group_attribute_name = Some(v);
        }
        if let Some(v) = self.ldap_group_admin_dn {
            config.ldap_group_admin_dn = Some(v);
        }
        if let Some(v) = self.ldap_group_membership_attribute {
            config.ldap_group_membership_attribute = Some(v);
        }
        if let Some(v) = self.ldap_group_search_scope {
            config.ldap_group_search_scope = Some(v);
        }
        if let Some(v) = self.ldap_ca_file {
            config.ldap_ca_file = Some(v);
        }
        if let Some(v) = self.oidc_name {
            config.oidc_name = Some(v);
        }
        if let Some(v) = self.oidc_endpoint {
            config.oidc_endpoint = Some(v);
        }
        if let Some(v) = self.oidc_client_id {
            config.oidc_client_id = Some(v);
        }
        if let Some(v) = self.oidc_client_secret {
            config.oidc_client_secret = Some(wharf_registry::config::Secret(v));
        }
        if let Some(v) = self.oidc_scope {
            config.oidc_scope = Some(v);
        }
        if let Some(v) = self.oidc_verify_cert {
            config.oidc_verify_cert = Some(v);
        }
        if let Some(v) = self.oidc_auto_onboard {
            config.oidc_auto_onboard = Some(v);
        }
        if let Some(v) = self.oidc_user_claim {
            config.oidc_user_claim = Some(v);
        }
        if let Some(v) = self.oidc_groups_claim {
            config.oidc_groups_claim = Some(v);
        }
        if let Some(v) = self.oidc_admin_group {
            config.oidc_admin_group = Some(v);
        }
        if let Some(v) = self.oidc_group_filter {
            config.oidc_group_filter = Some(v);
        }
        if let Some(v) = self.max_header_bytes {
            config.max_header_bytes = v;
        }
        if let Some(v) = self.max_api_body_bytes {
            config.max_api_body_bytes = v;
        }
        if let Some(v) = self.max_uploads_per_client {
            config.max_uploads_per_client = v;
        }
        if let Some(v) = self.header_read_timeout {
            config.header_read_timeout = v;
        }
        if let Some(v) = self.body_idle_timeout {
            config.body_idle_timeout = v;
        }
        if let Some(v) = self.max_connections {
            config.max_connections = v;
        }
        if let Some(v) = self.max_connections_per_client {
            config.max_connections_per_client = v;
        }
        if let Some(v) = self.auth_rate_limit {
            config.auth_rate_limit = v;
        }
        if let Some(v) = self.request_rate_limit {
            config.request_rate_limit = v;
        }
        if let Some(v) = self.rate_limit_exempt_robots {
            config.rate_limit_exempt_robots = v;
        }
        if let Some(v) = &self.trusted_proxies {
            config.trusted_proxies = v.clone();
        }
        config.validate()?;
        Ok(config)
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.into_config()?;
    // What the layers added up to (secrets redacted): the answer to "which setting won?".
    tracing::debug!(?config, "effective configuration");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wharf")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(wharf_registry::server::run(config, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM, so in-flight requests can finish.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
