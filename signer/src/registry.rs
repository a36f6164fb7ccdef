//! The one place that talks to a registry (through `oci-client`).
//!
//! Everything the signer needs from a registry is here: resolve a tag, read and write
//! manifests and small blobs, and list referrers (native API, or the OCI referrers tag
//! schema on registries without it, such as distribution 2.8).

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest manifest or signature blob we read: signatures are small, this bounds hostile input.
pub const MAX_SMALL_OBJECT: u64 = 16 * 1024 * 1024;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const ACCEPT: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Registry access failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid image reference '{0}': {1}")]
    BadReference(String, String),
    #[error("{what} not found: {reference}")]
    NotFound {
        what: &'static str,
        reference: String,
    },
    #[error("registry error for {reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: OciDistributionError,
    },
    #[error("{0} is larger than the {MAX_SMALL_OBJECT}-byte limit for signatures and manifests")]
    TooLarge(String),
    #[error("content of {reference} does not match its digest {digest}")]
    DigestMismatch { reference: String, digest: String },
    #[error("malformed manifest {reference}: {reason}")]
    BadManifest { reference: String, reason: String },
    #[error("docker config {path}: {reason}")]
    DockerConfig { path: String, reason: String },
}

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Use plain HTTP (for local registries such as 127.0.0.1:5000).
    pub insecure: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra PEM CA certificates to trust for HTTPS (private registries, tests).
    pub ca_certs_pem: Vec<Vec<u8>>,
}

/// A descriptor, field order as go-containerregistry writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
}

/// An image manifest (the subset signatures use; unknown fields are ignored on read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An image index (used for the referrers tag schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// Trust anchor for plain-HTTP clients, whose private key was discarded when it was made.
/// TLS is never used with `insecure`, but reqwest would otherwise scan and parse every
/// system root certificate (~300 files, most of a CLI run's time) when building the client;
/// "only this root" skips that.
const PLAIN_HTTP_PLACEHOLDER_ROOT: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBvzCCAWWgAwIBAgIUO5bclr/h4F7hliQXfBA7hJhE+sEwCgYIKoZIzj0EAwIw\n\
NDEyMDAGA1UEAwwpd2hhcmYgcGxhaW4tSFRUUCBwbGFjZWhvbGRlciAobmV2ZXIg\n\
dXNlZCkwIBcNMjYxMTI3MTQzMjM3WhgPMjEyNjExMDMxNDMyMzdaMDQxMjAwBgNV\n\
BAMMKXdoYXJmIHBsYWluLUhUVFAgcGxhY2Vob2xkZXIgKG5ldmVyIHVzZWQpMFkw\n\
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKouj4L87VnDc5zHQxUxZDmc8nrhcWB0v\n\
uy9Y2Tn+/tRhgGMIHI6qgs88ADOjCpWciG20KdRnQSZyQPDPRCD24aNTMFEwHQYD\n\
VR0OBBYEFOEO7UJWGBThLzewmO6IbhZKW3WGMB8GA1UdIwQYMBaAFOEO7UJWGBTh\n\
LzewmO6IbhZKW3WGMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIg\n\
J0vojx/qKaDYxJqeEk62oghZdkAX6GCXcyjjL6dRfiMCIQDiNc5xnkwPs3fM8r8v\n\
RReR3DF62T1gF6/JRhZ0Aga5tg==\n\
-----END CERTIFICATE-----\n";

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A registry client bound to one set of credentials.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    options: RegistryOptions,
}

impl Registry {
    pub fn new(options: RegistryOptions) -> Self {
        #[cfg(feature = "tls")]
        {
            // reqwest is built without a default crypto provider; we use ring (no C toolchain).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: options
                .ca_certs_pem
                .iter()
                .map(|pem| oci_client::client::Certificate {
                    encoding: oci_client::client::CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            tls_certs_only: if options.insecure && options.ca_certs_pem.is_empty() {
                vec![oci_client::client::Certificate {
                    encoding: oci_client::client::CertificateEncoding::Pem,
                    data: PLAIN_HTTP_PLACEHOLDER_ROOT.as_bytes().to_vec(),
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let auth = match (&options.username, &options.password) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.clone(), p.clone()),
            _ => RegistryAuth::Anonymous,
        };
        Self {
            client: Client::new(config),
            auth,
            options,
        }
    }

    /// Picks credentials for `registry` from the docker config when none were given.
    pub fn with_docker_config_for(mut self, registry: &str) -> Result<Self, RegistryError> {
        if matches!(self.auth, RegistryAuth::Anonymous)
            && let Some((u, p)) = docker_config_credentials(registry)?
        {
            self.auth = RegistryAuth::Basic(u, p);
        }
        Ok(self)
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// Parses an image reference (docker rules: default registry, `library/`, `latest`).
    pub fn parse_reference(image: &str) -> Result<Reference, RegistryError> {
        parse_reference(image)
    }

    fn wrap(reference: &Reference, what: &'static str, e: OciDistributionError) -> RegistryError {
        if is_not_found(&e) {
            RegistryError::NotFound {
                what,
                reference: reference.whole(),
            }
        } else {
            RegistryError::Registry {
                reference: reference.whole(),
                source: e,
            }
        }
    }

    /// Fetches a manifest's raw bytes and its descriptor (digest checked by oci-client).
    pub async fn get_manifest(
        &self,
        reference: &Reference,
    ) -> Result<(Vec<u8>, Descriptor), RegistryError> {
        let (body, digest) = self
            .client
            .pull_manifest_raw(reference, &self.auth, ACCEPT)
            .await
            .map_err(|e| Self::wrap(reference, "manifest", e))?;
        if body.len() as u64 > MAX_SMALL_OBJECT {
            return Err(RegistryError::TooLarge(reference.whole()));
        }
        if sha256_digest(&body) != digest && digest.starts_with("sha256:") {
            return Err(RegistryError::DigestMismatch {
                reference: reference.whole(),
                digest,
            });
        }
        #[derive(Deserialize)]
        struct MediaTypeOnly {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
            manifests: Option<serde_json::Value>,
        }
        let mt: MediaTypeOnly =
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadManifest {
                reference: reference.whole(),
                reason: e.to_string(),
            })?;
        let media_type = mt.media_type.unwrap_or_else(|| {
            if mt.manifests.is_some() {
                OCI_INDEX
            } else {
                OCI_MANIFEST
            }
            .to_string()
        });
        let desc = Descriptor {
            media_type,
            size: body.len() as u64,
            digest,
            annotations: None,
            artifact_type: None,
        };
        Ok((body.to_vec(), desc))
    }

    /// Like [`get_manifest`](Self::get_manifest), but `None` when it does not exist.
    pub async fn get_manifest_opt(
        &self,
        reference: &Reference,
    ) -> Result<Option<(Vec<u8>, Descriptor)>, RegistryError> {
        match self.get_manifest(reference).await {
            Ok(v) => Ok(Some(v)),
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores a manifest under `reference` (a tag or its digest); returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        body: Vec<u8>,
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(&body);
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &self.auth)
            .await;
        self.client
            .push_manifest_raw(
                reference,
                body,
                media_type.parse().map_err(|_| RegistryError::BadManifest {
                    reference: reference.whole(),
                    reason: format!("media type '{media_type}' is not a header value"),
                })?,
            )
            .await
            .map_err(|e| Self::wrap(reference, "repository", e))?;
        Ok(digest)
    }

    /// Uploads a blob unless the registry already has it; returns its descriptor.
    pub async fn put_blob(
        &self,
        repo: &Reference,
        data: &[u8],
        media_type: &str,
    ) -> Result<Descriptor, RegistryError> {
        let digest = sha256_digest(data);
        self.client
            .store_auth_if_needed(repo.resolve_registry(), &self.auth)
            .await;
        let exists = self
            .client
            .blob_exists(repo, &digest)
            .await
            .unwrap_or(false);
        if !exists {
            self.client
                .push_blob(repo, data.to_vec(), &digest)
                .await
                .map_err(|e| Self::wrap(repo, "repository", e))?;
        }
        Ok(Descriptor {
            media_type: media_type.to_string(),
            size: data.len() as u64,
            digest,
            annotations: None,
            artifact_type: None,
        })
    }

    /// Reads a small blob (signature payload, bundle, envelope) and checks its digest.
    pub async fn get_blob(
        &self,
        repo: &Reference,
        desc: &Descriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("{}@{}", repo.repository(), desc.digest);
        if desc.size > MAX_SMALL_OBJECT {
            return Err(RegistryError::TooLarge(what));
        }
        self.client
            .store_auth_if_needed(repo.resolve_registry(), &self.auth)
            .await;
        let layer = oci_client::manifest::OciDescriptor {
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
            size: desc.size as i64,
            ..Default::default()
        };
        let mut out = Vec::with_capacity(desc.size as usize);
        self.client
            .pull_blob(repo, &layer, &mut out)
            .await
            .map_err(|e| Self::wrap(repo, "blob", e))?;
        if sha256_digest(&out) != desc.digest {
            return Err(RegistryError::DigestMismatch {
                reference: what,
                digest: desc.digest.clone(),
            });
        }
        Ok(out)
    }

    /// Lists referrers of `subject` (a digest reference), optionally of one artifact type.
    /// Falls back to the referrers tag schema (`sha256-<hex>` index) when the registry has
    /// no referrers API.
    pub async fn referrers(
        &self,
        subject: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        self.client
            .store_auth_if_needed(subject.resolve_registry(), &self.auth)
            .await;
        let index = self
            .client
            .pull_referrers(subject, artifact_type)
            .await
            .map_err(|e| Self::wrap(subject, "referrers", e))?;
        let value = serde_json::to_value(&index).map_err(|e| RegistryError::BadManifest {
            reference: subject.whole(),
            reason: e.to_string(),
        })?;
        let index: Index =
            serde_json::from_value(value).map_err(|e| RegistryError::BadManifest {
                reference: subject.whole(),
                reason: format!("referrers index: {e}"),
            })?;
        Ok(index.manifests)
    }

    /// Stores a manifest that has a `subject` by its digest, and makes it discoverable:
    /// when the registry's referrers API does not list it (no API, e.g. distribution 2.8),
    /// adds it to the referrers tag schema index `sha256-<hex>` as the OCI spec requires.
    pub async fn put_referrer(
        &self,
        subject: &Reference,
        manifest: &Manifest,
    ) -> Result<Descriptor, RegistryError> {
        let body = serde_json::to_vec(manifest).expect("plain structs serialise");
        let digest = sha256_digest(&body);
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| OCI_MANIFEST.into());
        let by_digest = Reference::with_digest(
            subject.registry().to_string(),
            subject.repository().to_string(),
            digest.clone(),
        );
        let size = body.len() as u64;
        self.put_manifest(&by_digest, body, &media_type).await?;
        let desc = Descriptor {
            media_type,
            size,
            digest: digest.clone(),
            annotations: manifest.annotations.clone(),
            artifact_type: Some(
                manifest
                    .artifact_type
                    .clone()
                    .unwrap_or_else(|| manifest.config.media_type.clone()),
            ),
        };
        let listed = self
            .referrers(subject, None)
            .await?
            .iter()
            .any(|d| d.digest == digest);
        if !listed {
            self.add_to_referrers_tag(subject, &desc).await?;
        }
        Ok(desc)
    }

    /// Appends `desc` to the referrers tag schema index of `subject`.
    async fn add_to_referrers_tag(
        &self,
        subject: &Reference,
        desc: &Descriptor,
    ) -> Result<(), RegistryError> {
        let subject_digest = subject.digest().ok_or_else(|| {
            RegistryError::BadReference(subject.whole(), "referrers need a digest".into())
        })?;
        let tag = Reference::with_tag(
            subject.registry().to_string(),
            subject.repository().to_string(),
            subject_digest.replacen(':', "-", 1),
        );
        let mut index = match self.get_manifest_opt(&tag).await? {
            Some((body, _)) => {
                serde_json::from_slice::<Index>(&body).map_err(|e| RegistryError::BadManifest {
                    reference: tag.whole(),
                    reason: format!("referrers tag is not an image index: {e}"),
                })?
            }
            None => Index {
                schema_version: 2,
                media_type: Some(OCI_INDEX.into()),
                manifests: Vec::new(),
            },
        };
        if index.manifests.iter().any(|d| d.digest == desc.digest) {
            return Ok(());
        }
        index.manifests.push(desc.clone());
        let body = serde_json::to_vec(&index).expect("plain structs serialise");
        self.put_manifest(&tag, body, OCI_INDEX).await?;
        Ok(())
    }
}

/// Parses a docker image reference without oci-spec's reference regex: compiling that
/// (Unicode) regex costs ~100 ms, most of a `wharf verify` run. Same grammar and
/// normalisation as distribution's `reference` package: `docker.io` and `library/`
/// defaults, tag `latest` when neither tag nor digest is given.
pub fn parse_reference(image: &str) -> Result<Reference, RegistryError> {
    let bad = |why: &str| RegistryError::BadReference(image.to_string(), why.to_string());
    if image.is_empty() || image.len() > 1024 {
        return Err(bad("empty or too long"));
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let (alg, hex) = d
            .split_once(':')
            .ok_or_else(|| bad("digest must be algorithm:hex"))?;
        let len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(bad("unsupported digest algorithm")),
        };
        if hex.len() != len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("digest hex is malformed"));
        }
    }
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(bad("invalid tag"));
        }
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (registry.as_str(), None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !host_ok || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad("invalid registry host"));
    }
    if repository.is_empty() || repository.len() > 255 {
        return Err(bad("repository name empty or longer than 255"));
    }
    for component in repository.split('/') {
        let b = component.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let seps_ok = component
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .all(|sep| sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-'));
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) || !seps_ok {
            return Err(bad(
                "repository path components are lowercase letters, digits and single separators",
            ));
        }
    }
    Ok(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (Some(t), None) => Reference::with_tag(registry, repository, t.into()),
        (None, None) => Reference::with_tag(registry, repository, "latest".into()),
    })
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|er| {
            matches!(
                er.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
            )
        }),
        _ => false,
    }
}

/// Reads `auths.<registry>.auth` (base64 "user:pass") from `$DOCKER_CONFIG/config.json`
/// or `~/.docker/config.json`. Credential helpers are not supported.
pub fn docker_config_credentials(
    registry: &str,
) -> Result<Option<(String, String)>, RegistryError> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".docker"),
            None => return Ok(None),
        },
    };
    docker_config_credentials_in(&dir, registry)
}

/// [`docker_config_credentials`] for an explicit config directory.
pub fn docker_config_credentials_in(
    dir: &std::path::Path,
    registry: &str,
) -> Result<Option<(String, String)>, RegistryError> {
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let err = |reason: String| RegistryError::DockerConfig {
        path: path.display().to_string(),
        reason,
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let candidates = [
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        if registry == "docker.io" || registry == "index.docker.io" {
            "https://index.docker.io/v1/".to_string()
        } else {
            String::new()
        },
    ];
    for c in candidates.iter().filter(|c| !c.is_empty()) {
        if let Some(auth) = auths
            .get(c)
            .and_then(|e| e.get("auth"))
            .and_then(|a| a.as_str())
        {
            let decoded = STANDARD
                .decode(auth)
                .map_err(|_| err(format!("auth for {c} is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| err(format!("auth for {c} is not UTF-8")))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| err(format!("auth for {c} is not user:password")))?;
            return Ok(Some((u.to_string(), p.to_string())));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_docker() {
        let d = format!("sha256:{}", "a".repeat(64));
        let cases = [
            (
                "busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                None,
            ),
            (
                "index.docker.io/me/app:1.0",
                "docker.io",
                "me/app",
                Some("1.0"),
                None,
            ),
            (
                "127.0.0.1:5000/team/app:v1",
                "127.0.0.1:5000",
                "team/app",
                Some("v1"),
                None,
            ),
            (
                "localhost/a_b/c-d:x",
                "localhost",
                "a_b/c-d",
                Some("x"),
                None,
            ),
        ];
        for (input, reg, repo, tag, digest) in cases {
            let r = parse_reference(input).unwrap();
            assert_eq!(
                (r.registry(), r.repository(), r.tag(), r.digest()),
                (reg, repo, tag, digest),
                "{input}"
            );
            // Agrees with oci-spec's regex parser.
            let o: Reference = input.parse().unwrap();
            assert_eq!(
                (o.registry(), o.repository(), o.tag()),
                (r.registry(), r.repository(), r.tag()),
                "{input}"
            );
        }
        let r = parse_reference(&format!("ghcr.io/o/r@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (None, Some(d.as_str())));
        let r = parse_reference(&format!("ghcr.io/o/r:t@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("t"), Some(d.as_str())));
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "r.io/a/",
            "r.io/a:",
            "r.io/a:-x",
            "r.io/a@sha256:abc",
            "r.io/a@md5:0000",
            "r.io:port/a",
            "-bad.io/a/b",
            "r.io/a..b",
            "r.io/a/b:t g",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            docker_config_credentials_in(dir.path(), "r.example").unwrap(),
            None
        );
        let auth = STANDARD.encode("alice:pa:ss");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"https://r.example":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let want = Some(("alice".to_string(), "pa:ss".to_string()));
        assert_eq!(
            docker_config_credentials_in(dir.path(), "r.example").unwrap(),
            want
        );
        assert_eq!(
            docker_config_credentials_in(dir.path(), "127.0.0.1:5000").unwrap(),
            want
        );
        assert_eq!(
            docker_config_credentials_in(dir.path(), "other.example").unwrap(),
            None
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"r.example":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            docker_config_credentials_in(dir.path(), "r.example"),
            Err(RegistryError::DockerConfig { .. })
        ));
    }
}
