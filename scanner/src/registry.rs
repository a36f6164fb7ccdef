//! A small blocking client for any OCI registry, over `oci-client`.
//!
//! The scanner is synchronous (layers are read through `std::io::Read`), so this wraps
//! `oci-client`'s async API in a private runtime. Blobs are never held in memory whole:
//! [`RegistryClient::blob_reader`] hands out a `Read` fed through a bounded channel.
//! The SBOM crate reuses this client to push and fetch referrers.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest kind we can read.
pub const MANIFEST_TYPES: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Largest manifest or index we accept (the distribution spec lets registries refuse > 4 MiB).
pub const MAX_MANIFEST: usize = 4 << 20;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS (local registries such as 127.0.0.1:5000).
    pub insecure: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Parses `host[:port]/repo[:tag][@digest]`, refusing references without a host so a
/// typo never silently goes to Docker Hub.
pub fn parse_reference(s: &str) -> Result<Reference> {
    let host = s.split('/').next().unwrap_or("");
    if !s.contains('/') || !(host.contains('.') || host.contains(':') || host == "localhost") {
        return Err(Error::BadReference(
            s.into(),
            "a registry reference needs a host: HOST[:PORT]/REPO[:TAG|@DIGEST]".into(),
        ));
    }
    s.parse::<Reference>()
        .map_err(|e| Error::BadReference(s.into(), e.to_string()))
}

/// A blocking registry client bound to one set of credentials.
pub struct RegistryClient {
    rt: tokio::runtime::Runtime,
    client: Client,
    auth: RegistryAuth,
}

fn reg_err(what: &str, r: &Reference, e: impl std::fmt::Display) -> Error {
    Error::Registry(format!("{what} {r}: {e}"))
}

impl RegistryClient {
    pub fn new(opts: &RegistryOptions) -> Result<Self> {
        // reqwest is built without a default crypto provider; use ring (no C/cmake build).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Registry(format!("starting the async runtime: {e}")))?;
        let config = ClientConfig {
            protocol: if opts.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            ..Default::default()
        };
        let auth = match (&opts.username, &opts.password) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.clone(), p.clone()),
            _ => RegistryAuth::Anonymous,
        };
        Ok(RegistryClient {
            rt,
            client: Client::new(config),
            auth,
        })
    }

    fn ensure_auth(&self, r: &Reference) {
        self.rt.block_on(
            self.client
                .store_auth_if_needed(r.resolve_registry(), &self.auth),
        );
    }

    /// Fetches a manifest or index as raw bytes with its digest (checked by oci-client
    /// against the reference digest and the `Docker-Content-Digest` header).
    pub fn manifest(&self, r: &Reference) -> Result<(Vec<u8>, String)> {
        let (body, digest) = self
            .rt
            .block_on(self.client.pull_manifest_raw(r, &self.auth, MANIFEST_TYPES))
            .map_err(|e| reg_err("fetching manifest", r, e))?;
        if body.len() > MAX_MANIFEST {
            return Err(Error::Registry(format!(
                "manifest {r} is {} bytes, over the {MAX_MANIFEST}-byte limit",
                body.len()
            )));
        }
        Ok((body.to_vec(), digest))
    }

    /// Like [`Self::manifest`], but `None` when the registry says it does not exist.
    pub fn manifest_opt(&self, r: &Reference) -> Result<Option<(Vec<u8>, String)>> {
        use oci_client::errors::OciDistributionError as E;
        match self
            .rt
            .block_on(self.client.pull_manifest_raw(r, &self.auth, MANIFEST_TYPES))
        {
            Ok((body, digest)) if body.len() <= MAX_MANIFEST => Ok(Some((body.to_vec(), digest))),
            Ok(_) => Err(Error::Registry(format!("manifest {r} is too large"))),
            Err(E::ImageManifestNotFoundError(_)) | Err(E::ServerError { code: 404, .. }) => {
                Ok(None)
            }
            Err(E::RegistryError { envelope, .. })
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::ManifestUnknown
                            | oci_client::errors::OciErrorCode::NotFound
                            | oci_client::errors::OciErrorCode::NameUnknown
                    )
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(reg_err("fetching manifest", r, e)),
        }
    }

    /// A streaming reader of one blob. Chunks pass through a channel of 16 entries, so
    /// memory stays bounded whatever the blob size; a digest mismatch surfaces as a read error
    /// at the end of the stream.
    pub fn blob_reader(&self, r: &Reference, digest: &str) -> Result<BlobReader> {
        self.ensure_auth(r);
        let desc = OciDescriptor {
            digest: digest.to_string(),
            ..Default::default()
        };
        let mut stream = self
            .rt
            .block_on(self.client.pull_blob_stream(r, &desc))
            .map_err(|e| reg_err(&format!("fetching blob {digest} of"), r, e))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(16);
        self.rt.spawn(async move {
            while let Some(chunk) = stream.next().await {
                let stop = chunk.is_err();
                if tx.send(chunk).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(BlobReader {
            rx,
            current: Bytes::new(),
        })
    }

    /// Reads a small blob (config, SBOM) whole, refusing anything over `max` bytes.
    pub fn blob_bytes(&self, r: &Reference, digest: &str, max: u64) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.blob_reader(r, digest)?
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| reg_err(&format!("reading blob {digest} of"), r, e))?;
        if buf.len() as u64 > max {
            return Err(Error::Registry(format!(
                "blob {digest} of {r} is larger than {max} bytes"
            )));
        }
        Ok(buf)
    }

    /// Uploads a blob; returns its digest.
    pub fn push_blob(&self, r: &Reference, data: Vec<u8>) -> Result<String> {
        self.ensure_auth_push(r);
        let digest = sha256_digest(&data);
        let exists = self
            .rt
            .block_on(self.client.blob_exists(r, &digest))
            .unwrap_or(false);
        if !exists {
            self.rt
                .block_on(self.client.push_blob(r, data, &digest))
                .map_err(|e| reg_err(&format!("pushing blob {digest} to"), r, e))?;
        }
        Ok(digest)
    }

    /// Uploads a blob from a file of known digest and size, streamed in 1 MiB chunks so
    /// memory stays bounded whatever its size; skipped when the registry already has it.
    pub fn push_blob_file(
        &self,
        r: &Reference,
        path: &std::path::Path,
        digest: &str,
        size: u64,
    ) -> Result<()> {
        self.ensure_auth_push(r);
        let exists = self
            .rt
            .block_on(self.client.blob_exists(r, digest))
            .unwrap_or(false);
        if exists {
            return Ok(());
        }
        let path = path.to_path_buf();
        let push = async {
            let file = tokio::fs::File::open(&path).await?;
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
                .push_blob_stream(r, chunks, digest, Some(size))
                .await
        };
        self.rt
            .block_on(push)
            .map_err(|e| reg_err(&format!("pushing blob {digest} to"), r, e))?;
        Ok(())
    }

    /// Uploads a manifest under `r`'s tag or digest.
    pub fn push_manifest(&self, r: &Reference, body: Vec<u8>, media_type: &str) -> Result<()> {
        self.ensure_auth_push(r);
        let ct = http::HeaderValue::from_str(media_type)
            .map_err(|e| Error::Registry(format!("media type {media_type:?}: {e}")))?;
        self.rt
            .block_on(self.client.push_manifest_raw(r, body, ct))
            .map_err(|e| reg_err("pushing manifest", r, e))?;
        Ok(())
    }

    /// Digests of the referrers of `subject` (which must carry a digest): the referrers API,
    /// or — on a 404 from it — the referrers tag schema (handled inside oci-client).
    pub fn referrers(&self, subject: &Reference) -> Result<Vec<String>> {
        self.ensure_auth(subject);
        let index = self
            .rt
            .block_on(self.client.pull_referrers(subject, None))
            .map_err(|e| reg_err("listing referrers of", subject, e))?;
        Ok(index.manifests.into_iter().map(|m| m.digest).collect())
    }

    fn ensure_auth_push(&self, r: &Reference) {
        let _ = self.rt.block_on(self.client.auth(
            r,
            &self.auth,
            oci_client::RegistryOperation::Push,
        ));
    }
}

/// `Read` over a blob streamed by the client's runtime.
pub struct BlobReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_need_a_host() {
        assert!(parse_reference("127.0.0.1:5000/small:v1").is_ok());
        assert!(parse_reference("localhost/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000").is_ok());
        assert!(parse_reference("ubuntu:22.04").is_err());
        assert!(parse_reference("library/ubuntu").is_err());
        let r = parse_reference("ghcr.io/a/b:1").unwrap();
        assert_eq!(r.registry(), "ghcr.io");
        assert_eq!(r.repository(), "a/b");
        assert_eq!(r.tag(), Some("1"));
    }
}
