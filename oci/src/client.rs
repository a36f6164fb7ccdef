//! The registry client: async, over `oci-client`.
//!
//! `oci-client` does the protocol work that is easy to get subtly wrong (the bearer
//! token dance with per-repository scopes, chunked and monolithic uploads, digest
//! verification of streamed blobs, the referrers API with its tag-schema fallback on
//! read); this wrapper adds what every Wharf caller wants on top: one error type that
//! tells "not found" apart, size limits on everything read whole, digests checked on
//! manifests, credentials from the Docker config, and the tag-schema update on write.

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client as OciClient, Reference};
use serde::Deserialize;

use crate::credentials::{self, Credentials};
use crate::digest::Digest;
use crate::manifest::{Descriptor, Index, Manifest};
use crate::media_types::{MANIFEST_TYPES, MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST};
use crate::reference::{with_digest, with_tag};
use crate::referrers::{self, Via};
use crate::{Error, Result};

/// Largest blob read whole by [`Client::get_blob`] (signatures, bundles, envelopes,
/// configs): bounds what hostile registries can make us hold.
pub const MAX_SMALL_OBJECT: u64 = 16 * 1024 * 1024;

/// Page size of tag and catalog listings.
const LIST_PAGE: usize = 100;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS (local registries such as 127.0.0.1:5000).
    pub insecure: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra PEM CA certificates to trust for HTTPS (private registries, tests).
    pub ca_certs_pem: Vec<Vec<u8>>,
}

/// A blob as a stream of chunks; an I/O error ends it (a digest mismatch is one, at the end).
pub type BlobStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

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

/// How one operation's requests made outside oci-client authenticate.
#[derive(Clone)]
pub(crate) enum RawAuth {
    Bearer(String),
    Basic(String, String),
    None,
}

impl RawAuth {
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            RawAuth::Bearer(t) => request.bearer_auth(t),
            RawAuth::Basic(u, p) => request.basic_auth(u, Some(p)),
            RawAuth::None => request,
        }
    }
}

/// A registry client bound to one set of credentials.
pub struct Client {
    client: OciClient,
    pub(crate) auth: RegistryAuth,
    options: RegistryOptions,
    /// For the requests oci-client lacks (manifest DELETE, resumable uploads, mounts,
    /// paged listings).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Tokens of those requests, by their scopes.
    pub(crate) tokens: crate::token::Tokens,
}

impl Client {
    pub fn new(options: RegistryOptions) -> Self {
        // reqwest is built without a default crypto provider; use ring (no C/cmake build).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = |data: Vec<u8>| Certificate {
            encoding: CertificateEncoding::Pem,
            data,
        };
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: options.ca_certs_pem.iter().cloned().map(pem).collect(),
            tls_certs_only: if options.insecure && options.ca_certs_pem.is_empty() {
                vec![pem(PLAIN_HTTP_PLACEHOLDER_ROOT.as_bytes().to_vec())]
            } else {
                Vec::new()
            },
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        };
        let auth = match (&options.username, &options.password) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.clone(), p.clone()),
            _ => RegistryAuth::Anonymous,
        };
        Client {
            client: OciClient::new(config),
            auth,
            options,
            http: std::sync::OnceLock::new(),
            tokens: Default::default(),
        }
    }

    /// Uses `credentials` from now on.
    pub fn with_credentials(mut self, credentials: &Credentials) -> Self {
        self.auth = credentials.to_auth();
        self.tokens = Default::default();
        self
    }

    /// Picks credentials for `registry` from the Docker config (entries and credential
    /// helpers) when none were given. Reads files and may run a helper: call it off the
    /// async threads.
    pub fn with_docker_config_for(self, registry: &str) -> Result<Self> {
        if !matches!(self.auth, RegistryAuth::Anonymous) {
            return Ok(self);
        }
        Ok(match credentials::from_docker_config(registry)? {
            Some(c) => self.with_credentials(&c),
            None => self,
        })
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// Checks that `registry` (`host[:port]`) answers the distribution API and accepts
    /// these credentials: the token flow when it asks for one (a refused login fails
    /// there), otherwise a tags listing of a repository that need not exist, which a
    /// registry with Basic authentication answers 401 to wrong credentials.
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let probe = Self::parse_reference(&format!("{registry}/wharf-ping/probe:latest"))?;
        self.authorise(&probe).await;
        let token = self
            .client
            .auth(&probe, &self.auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|e| Error::from_client(&probe, "registry", e))?;
        if token.is_some() {
            return Ok(());
        }
        match self
            .client
            .list_tags(&probe, &self.auth, Some(1), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match Error::from_client(&probe, "repository", e) {
                Error::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Parses an image reference (Docker's rules: default registry, `library/`, `latest`).
    pub fn parse_reference(image: &str) -> Result<Reference> {
        crate::reference::parse_reference(image)
    }

    async fn authorise(&self, r: &Reference) {
        self.client
            .store_auth_if_needed(r.resolve_registry(), &self.auth)
            .await;
    }

    /// Fetches a manifest or index: its raw bytes and its descriptor. The bytes are checked
    /// against the digest the reference pins or the registry names.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<(Vec<u8>, Descriptor)> {
        let (body, digest) = self
            .client
            .pull_manifest_raw(reference, &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| Error::from_client(reference, "manifest", e))?;
        if body.len() > MAX_MANIFEST_SIZE {
            return Err(Error::TooLarge {
                what: format!("manifest {}", reference.whole()),
                limit: MAX_MANIFEST_SIZE as u64,
            });
        }
        let claimed: Digest = digest.parse().map_err(|e| Error::BadManifest {
            reference: reference.whole(),
            reason: format!("the registry named digest {digest:?}: {e}"),
        })?;
        if !claimed.matches(&body) {
            return Err(Error::DigestMismatch {
                reference: reference.whole(),
                digest,
            });
        }
        #[derive(Deserialize)]
        struct MediaTypeOnly {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
            manifests: Option<serde::de::IgnoredAny>,
        }
        let mt: MediaTypeOnly = serde_json::from_slice(&body).map_err(|e| Error::BadManifest {
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
        let size = body.len() as u64;
        Ok((body.to_vec(), Descriptor::new(media_type, size, digest)))
    }

    /// Like [`get_manifest`](Self::get_manifest), but `None` when it does not exist.
    pub async fn get_manifest_opt(
        &self,
        reference: &Reference,
    ) -> Result<Option<(Vec<u8>, Descriptor)>> {
        match self.get_manifest(reference).await {
            Ok(v) => Ok(Some(v)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores a manifest under `reference` (a tag or its digest); returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        body: Vec<u8>,
        media_type: &str,
    ) -> Result<String> {
        let digest = Digest::sha256_of(&body).to_string();
        let content_type = media_type.parse().map_err(|_| Error::BadManifest {
            reference: reference.whole(),
            reason: format!("media type '{media_type}' is not a header value"),
        })?;
        self.authorise(reference).await;
        self.client
            .push_manifest_raw(reference, body, content_type)
            .await
            .map_err(|e| Error::from_client(reference, "repository", e))?;
        Ok(digest)
    }

    async fn blob_exists(&self, repo: &Reference, digest: &str) -> bool {
        // A registry that cannot answer HEAD gets the upload anyway.
        self.has_blob(repo, digest).await.unwrap_or(false)
    }

    /// Whether `repo` serves the blob (a HEAD): what a copy asks before sending one.
    pub async fn has_blob(&self, repo: &Reference, digest: &str) -> Result<bool> {
        self.authorise(repo).await;
        self.client
            .blob_exists(repo, digest)
            .await
            .map_err(|e| Error::from_client(&with_digest(repo, digest), "blob", e))
    }

    /// Uploads a blob of known digest from a stream, in chunks (a PATCH per chunk of the
    /// client's chunk size), so memory stays bounded whatever its size. The registry checks
    /// the digest when the upload is closed.
    pub async fn put_blob_stream(
        &self,
        repo: &Reference,
        stream: BlobStream,
        digest: &str,
        size: Option<u64>,
    ) -> Result<()> {
        self.authorise(repo).await;
        let chunks = stream.map(|r| r.map_err(oci_client::errors::OciDistributionError::from));
        self.client
            .push_blob_stream(repo, chunks, digest, size)
            .await
            .map_err(|e| Error::from_client(repo, "repository", e))?;
        Ok(())
    }

    /// The digest a tag (or digest) reference names now, from a HEAD (a GET where the
    /// registry sends no `Docker-Content-Digest`); `None` when it does not exist. What a
    /// copy asks before sending and a cache asks to learn whether a tag moved without
    /// fetching the manifest (HEADs do not count against Docker Hub's pull limit).
    pub async fn manifest_digest(&self, reference: &Reference) -> Result<Option<String>> {
        self.authorise(reference).await;
        match self
            .client
            .fetch_manifest_digest(reference, &self.auth)
            .await
            .map_err(|e| Error::from_client(reference, "manifest", e))
        {
            Ok(d) => Ok(Some(d)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of a repository's tags (`n`, after `last`), in the registry's order.
    pub async fn tags_page(
        &self,
        repo: &Reference,
        n: usize,
        last: Option<&str>,
    ) -> Result<Vec<String>> {
        self.authorise(repo).await;
        let page = self
            .client
            .list_tags(repo, &self.auth, Some(n), last)
            .await
            .map_err(|e| Error::from_client(repo, "repository", e))?;
        Ok(page.tags)
    }

    /// Every tag of a repository, a page of [`LIST_PAGE`] at a time (see
    /// [`list_all`](Self::list_all)). At most `max` tags.
    pub async fn all_tags(&self, repo: &Reference, max: usize) -> Result<Vec<String>> {
        self.all_tags_paged(repo, LIST_PAGE, max).await
    }

    /// [`all_tags`](Self::all_tags) with pages of `page` tags.
    pub async fn all_tags_paged(
        &self,
        repo: &Reference,
        page: usize,
        max: usize,
    ) -> Result<Vec<String>> {
        let path = format!("/v2/{}/tags/list", repo.repository());
        self.list_all(repo, &path, "tags", "repository", page, max)
            .await
    }

    /// Every repository of `registry` (`host[:port]`) from `/v2/_catalog`, paged like
    /// [`all_tags`](Self::all_tags). At most `max`.
    pub async fn catalog(&self, registry: &str, max: usize) -> Result<Vec<String>> {
        self.catalog_paged(registry, LIST_PAGE, max).await
    }

    /// [`catalog`](Self::catalog) with pages of `page` repositories.
    pub async fn catalog_paged(
        &self,
        registry: &str,
        page: usize,
        max: usize,
    ) -> Result<Vec<String>> {
        let probe = Self::parse_reference(&format!("{registry}/wharf-catalog/probe:latest"))?;
        self.list_all(&probe, "/v2/_catalog", "repositories", "catalog", page, max)
            .await
    }

    /// `scheme://host[:port]` of `reference`'s registry.
    pub(crate) fn base_url(&self, reference: &Reference) -> String {
        let scheme = if self.options.insecure {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", reference.resolve_registry())
    }

    /// How requests made here (not through oci-client) authenticate to `reference`'s
    /// registry for `op`: a bearer token for that repository when the registry asks
    /// for one (the given credentials exchanged for it), else Basic credentials when
    /// there are some. Tokens are kept until shortly before they expire, so an
    /// operation of many requests asks once.
    pub(crate) async fn raw_auth(
        &self,
        reference: &Reference,
        op: oci_client::RegistryOperation,
    ) -> Result<RawAuth> {
        let actions = match op {
            oci_client::RegistryOperation::Pull => "pull",
            oci_client::RegistryOperation::Push => "pull,push",
        };
        self.scoped_auth(
            reference,
            &[crate::token::repository_scope(reference, actions)],
        )
        .await
    }

    /// `url` as an absolute URL on `reference`'s registry (a `Location` or `Link` may be
    /// relative); an error for one on another host: credentials never leave the registry.
    pub(crate) fn same_registry_url(&self, reference: &Reference, url: &str) -> Result<String> {
        let base = self.base_url(reference);
        let bad = |why: String| Error::Io {
            what: format!("the registry's URL {url:?}"),
            source: std::io::Error::other(why),
        };
        let base_url = reqwest::Url::parse(&base).map_err(|e| bad(e.to_string()))?;
        let joined = base_url.join(url).map_err(|e| bad(e.to_string()))?;
        if joined.origin() != base_url.origin() {
            return Err(bad(format!("not on {base}")));
        }
        Ok(joined.to_string())
    }

    /// The plain HTTP client for requests oci-client does not make.
    pub(crate) fn raw_http(&self) -> Result<&reqwest::Client> {
        self.http()
    }

    /// Deletes a manifest by digest (with its tags) or a tag. oci-client has no DELETE, so
    /// this request is made here: with the Basic credentials when there are some (a bearer
    /// token from oci-client's flow carries only pull and push, and deleting needs more),
    /// else with an anonymous token if the registry hands one out.
    pub async fn delete_manifest(&self, reference: &Reference) -> Result<()> {
        self.authorise(reference).await;
        let token = match self.auth {
            RegistryAuth::Basic(..) => None,
            _ => self
                .client
                .auth(reference, &self.auth, oci_client::RegistryOperation::Push)
                .await
                .map_err(|e| Error::from_client(reference, "registry", e))?,
        };
        let scheme = if self.options.insecure {
            "http"
        } else {
            "https"
        };
        let target = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{target}",
            reference.resolve_registry(),
            reference.repository()
        );
        let mut request = self.http()?.delete(&url);
        request = match (&self.auth, token) {
            (RegistryAuth::Basic(u, p), _) => request.basic_auth(u, Some(p)),
            (_, Some(t)) => request.bearer_auth(t),
            _ => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| Error::io(format!("DELETE {url}"), e))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            404 => Err(Error::NotFound {
                what: "manifest",
                reference: reference.whole(),
            }),
            status @ (400 | 405) => {
                let body = response.text().await.unwrap_or_default();
                Err(Error::Unsupported {
                    what: format!("DELETE {url}"),
                    reason: format!(
                        "answered {status}: {}",
                        body.chars().take(200).collect::<String>().trim()
                    ),
                })
            }
            status => Err(Error::Io {
                what: format!("DELETE {url}"),
                source: std::io::Error::other(format!("the registry answered {status}")),
            }),
        }
    }

    /// A plain HTTP client with the same trust as oci-client's, made on first use.
    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120));
        for pem in &self.options.ca_certs_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| Error::io("a CA certificate", e))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| Error::io("building an HTTP client", e))?;
        Ok(self.http.get_or_init(|| client))
    }

    /// Uploads a blob unless the registry already has it; returns its descriptor.
    pub async fn put_blob(
        &self,
        repo: &Reference,
        data: &[u8],
        media_type: &str,
    ) -> Result<Descriptor> {
        let digest = Digest::sha256_of(data).to_string();
        if !self.blob_exists(repo, &digest).await {
            self.client
                .push_blob(repo, data.to_vec(), &digest)
                .await
                .map_err(|e| Error::from_client(repo, "repository", e))?;
        }
        Ok(Descriptor::new(media_type, data.len() as u64, digest))
    }

    /// Uploads a blob from a file of known digest and size, streamed in 1 MiB chunks so
    /// memory stays bounded whatever its size; skipped when the registry already has it.
    pub async fn put_blob_file(
        &self,
        repo: &Reference,
        path: &Path,
        digest: &str,
        size: u64,
    ) -> Result<()> {
        if self.blob_exists(repo, digest).await {
            return Ok(());
        }
        let file = tokio::fs::File::open(path).await.map_err(|e| Error::Io {
            what: format!("opening {}", path.display()),
            source: e,
        })?;
        let chunks = futures_util::stream::try_unfold(file, |mut f| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0;
            while n < buf.len() {
                let k = f.read(&mut buf[n..]).await?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), f)))
        });
        self.client
            .push_blob_stream(repo, chunks, digest, Some(size))
            .await
            .map_err(|e| Error::from_client(repo, "repository", e))?;
        Ok(())
    }

    /// A blob as a stream; oci-client checks the digest and fails the last read on a
    /// mismatch.
    pub async fn blob_stream(&self, repo: &Reference, digest: &str) -> Result<BlobStream> {
        self.authorise(repo).await;
        let desc = oci_client::manifest::OciDescriptor {
            digest: digest.to_string(),
            ..Default::default()
        };
        let stream = self
            .client
            .pull_blob_stream(repo, &desc)
            .await
            .map_err(|e| Error::from_client(&with_digest(repo, digest), "blob", e))?;
        Ok(Box::pin(stream))
    }

    /// A blob as a stream with the length the registry announced (`Content-Length`),
    /// for callers that pass it on before the last byte arrives. The digest is checked
    /// as for [`blob_stream`](Self::blob_stream): a mismatch fails the last read.
    pub async fn blob_stream_sized(
        &self,
        repo: &Reference,
        digest: &str,
    ) -> Result<(Option<u64>, BlobStream)> {
        self.authorise(repo).await;
        let desc = oci_client::manifest::OciDescriptor {
            digest: digest.to_string(),
            ..Default::default()
        };
        let sized = self
            .client
            .pull_blob_stream(repo, &desc)
            .await
            .map_err(|e| Error::from_client(&with_digest(repo, digest), "blob", e))?;
        Ok((sized.content_length, Box::pin(sized.stream)))
    }

    /// Reads a blob whole, refusing anything over `max` bytes (without reading past it)
    /// and anything whose bytes do not match `digest`.
    pub async fn get_blob_limited(
        &self,
        repo: &Reference,
        digest: &str,
        max: u64,
    ) -> Result<Vec<u8>> {
        let what = format!("{}/{}@{digest}", repo.registry(), repo.repository());
        let want: Digest = digest
            .parse()
            .map_err(|e| Error::BadReference(what.clone(), format!("{e}")))?;
        let mut stream = self.blob_stream(repo, digest).await?;
        let mut out = Vec::new();
        let mut hasher = want.algorithm().hasher();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::Io {
                what: format!("reading blob {what}"),
                source: e,
            })?;
            if (out.len() + chunk.len()) as u64 > max {
                return Err(Error::TooLarge {
                    what: format!("blob {what}"),
                    limit: max,
                });
            }
            hasher.update(&chunk);
            out.extend_from_slice(&chunk);
        }
        if hasher.finish() != want {
            return Err(Error::DigestMismatch {
                reference: what,
                digest: digest.to_string(),
            });
        }
        Ok(out)
    }

    /// Reads a small blob (signature payload, bundle, envelope) named by a descriptor:
    /// its declared size is checked first, then digest and [`MAX_SMALL_OBJECT`].
    pub async fn get_blob(&self, repo: &Reference, desc: &Descriptor) -> Result<Vec<u8>> {
        if desc.size > MAX_SMALL_OBJECT {
            return Err(Error::TooLarge {
                what: format!("{}@{}", repo.repository(), desc.digest),
                limit: MAX_SMALL_OBJECT,
            });
        }
        self.get_blob_limited(repo, &desc.digest, MAX_SMALL_OBJECT)
            .await
    }

    /// Lists referrers of `subject` (a digest reference), optionally of one artifact type:
    /// the referrers API, or on a 404 from it the referrers tag schema.
    pub async fn referrers(
        &self,
        subject: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        self.authorise(subject).await;
        let index = self
            .client
            .pull_referrers(subject, artifact_type)
            .await
            .map_err(|e| Error::from_client(subject, "referrers", e))?;
        let bad = |reason: String| Error::BadManifest {
            reference: subject.whole(),
            reason: format!("referrers index: {reason}"),
        };
        let value = serde_json::to_value(&index).map_err(|e| bad(e.to_string()))?;
        let index: Index = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        Ok(index.manifests)
    }

    /// Stores a manifest that has a `subject` by its digest, and makes it discoverable:
    /// when the registry's referrers API does not list it (no API, e.g. distribution 2.8),
    /// adds it to the referrers tag schema index `sha256-<hex>` as the OCI spec requires.
    pub async fn put_referrer(
        &self,
        subject: &Reference,
        manifest: &Manifest,
    ) -> Result<(Descriptor, Via)> {
        let body = manifest.to_bytes();
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| OCI_MANIFEST.into());
        let size = body.len() as u64;
        let digest = Digest::sha256_of(&body).to_string();
        self.put_manifest(&with_digest(subject, &digest), body, &media_type)
            .await?;
        let mut desc = Descriptor::new(media_type, size, digest.clone());
        desc.annotations = manifest.annotations.clone();
        desc.artifact_type = Some(manifest.effective_artifact_type().to_string());
        let listed = self
            .referrers(subject, None)
            .await?
            .iter()
            .any(|d| d.digest == digest);
        if listed {
            return Ok((desc, Via::ReferrersApi));
        }
        self.add_to_referrers_tag(subject, &desc).await?;
        Ok((desc, Via::TagSchema))
    }

    /// Makes an already stored referrer (`desc`, a manifest whose `subject` is `subject`)
    /// discoverable: nothing when the registry's referrers API lists it, else an entry in
    /// the referrers tag schema index. What a copy does after putting a referrer's bytes
    /// unchanged (re-serialising it, as [`put_referrer`](Self::put_referrer) does, would
    /// change its digest).
    pub async fn index_referrer(&self, subject: &Reference, desc: &Descriptor) -> Result<Via> {
        let listed = self
            .referrers(subject, None)
            .await?
            .iter()
            .any(|d| d.digest == desc.digest);
        if listed {
            return Ok(Via::ReferrersApi);
        }
        self.add_to_referrers_tag(subject, desc).await?;
        Ok(Via::TagSchema)
    }

    /// Appends `desc` to the referrers tag schema index of `subject`.
    async fn add_to_referrers_tag(&self, subject: &Reference, desc: &Descriptor) -> Result<()> {
        let subject_digest = subject.digest().ok_or_else(|| {
            Error::BadReference(subject.whole(), "referrers need a digest".into())
        })?;
        let tag = with_tag(subject, &referrers::tag_for(subject_digest)?);
        let current = self.get_manifest_opt(&tag).await?;
        if let Some(index) = referrers::append(current.as_ref().map(|(b, _)| b.as_slice()), desc)? {
            self.put_manifest(&tag, index.to_bytes(), OCI_INDEX).await?;
        }
        Ok(())
    }
}
