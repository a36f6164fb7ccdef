//! The same client for synchronous code (the scanner reads layers through
//! `std::io::Read`; the SBOM verbs and the DB artifact commands are synchronous).
//!
//! It owns a small runtime (one worker thread) and blocks on it. That is safe from any
//! thread that is not itself running async code — plain threads and tokio's
//! `spawn_blocking` pool alike — which is where synchronous callers run. Blobs are never
//! held whole: [`BlockingClient::blob_reader`] hands out a `Read` fed through a bounded
//! channel by a task on that runtime.

use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::Reference;

use crate::client::{Client, RegistryOptions};
use crate::credentials::Credentials;
use crate::manifest::{Descriptor, Manifest};
use crate::referrers::Via;
use crate::{Error, Result};

/// A blocking registry client bound to one set of credentials.
pub struct BlockingClient {
    rt: tokio::runtime::Runtime,
    inner: Client,
}

impl BlockingClient {
    pub fn new(options: &RegistryOptions) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wharf-oci-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                what: "starting the registry client's runtime".into(),
                source: e,
            })?;
        Ok(BlockingClient {
            rt,
            inner: Client::new(options.clone()),
        })
    }

    /// See [`Client::with_credentials`].
    pub fn with_credentials(mut self, credentials: &Credentials) -> Self {
        self.inner = self.inner.with_credentials(credentials);
        self
    }

    /// See [`Client::with_docker_config_for`].
    pub fn with_docker_config_for(mut self, registry: &str) -> Result<Self> {
        self.inner = self.inner.with_docker_config_for(registry)?;
        Ok(self)
    }

    /// The async client underneath.
    pub fn client(&self) -> &Client {
        &self.inner
    }

    pub fn get_manifest(&self, r: &Reference) -> Result<(Vec<u8>, Descriptor)> {
        self.rt.block_on(self.inner.get_manifest(r))
    }

    pub fn get_manifest_opt(&self, r: &Reference) -> Result<Option<(Vec<u8>, Descriptor)>> {
        self.rt.block_on(self.inner.get_manifest_opt(r))
    }

    pub fn put_manifest(&self, r: &Reference, body: Vec<u8>, media_type: &str) -> Result<String> {
        self.rt
            .block_on(self.inner.put_manifest(r, body, media_type))
    }

    pub fn put_blob(&self, r: &Reference, data: &[u8], media_type: &str) -> Result<Descriptor> {
        self.rt.block_on(self.inner.put_blob(r, data, media_type))
    }

    pub fn put_blob_file(&self, r: &Reference, path: &Path, digest: &str, size: u64) -> Result<()> {
        self.rt
            .block_on(self.inner.put_blob_file(r, path, digest, size))
    }

    pub fn get_blob_limited(&self, r: &Reference, digest: &str, max: u64) -> Result<Vec<u8>> {
        self.rt
            .block_on(self.inner.get_blob_limited(r, digest, max))
    }

    pub fn referrers(
        &self,
        subject: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        self.rt
            .block_on(self.inner.referrers(subject, artifact_type))
    }

    pub fn put_referrer(
        &self,
        subject: &Reference,
        manifest: &Manifest,
    ) -> Result<(Descriptor, Via)> {
        self.rt.block_on(self.inner.put_referrer(subject, manifest))
    }

    /// A streaming reader of one blob. Chunks pass through a channel of 16 entries, so
    /// memory stays bounded whatever the blob size; a digest mismatch surfaces as a read
    /// error at the end of the stream.
    pub fn blob_reader(&self, r: &Reference, digest: &str) -> Result<BlobReader> {
        let mut stream = self.rt.block_on(self.inner.blob_stream(r, digest))?;
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
