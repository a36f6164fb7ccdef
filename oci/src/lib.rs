//! wharf-oci: what every OCI client in Wharf needs, written once.
//!
//! - [`digest`]: strict `sha256:`/`sha512:` digests (the registry names files by them);
//! - [`media_types`]: OCI, Docker v2 and cosign/Sigstore media types and annotation keys;
//! - [`manifest`]: descriptor, image manifest and index types;
//! - [`reference`]: image references parsed as Docker parses them;
//! - [`referrers`]: the referrers tag schema (`sha256-<hex>` index) for registries
//!   without the referrers API;
//! - [`credentials`]: the Docker config (`auths`, `credHelpers`, `credsStore`);
//! - [`Client`] (async) and [`BlockingClient`] (for synchronous code): ONE registry
//!   client.
//!
//! The client stays on `oci-client` underneath: it is maintained, already handles the
//! bearer-token flow with per-repository scopes, chunked uploads, streamed blob digest
//! checks and the referrers fallback on read, and replacing it with hand-written reqwest
//! code would only move those details here. What Wharf adds (limits, one error type,
//! Docker credential helpers, the tag-schema write) is a thin layer over it.
//!
//! Depends on no other Wharf crate: the registry, scanner, SBOM, signer and policy crates
//! all build on it.

pub mod blocking;
pub mod client;
pub mod credentials;
pub mod digest;
mod error;
pub mod manifest;
pub mod media_types;
mod paging;
pub mod reference;
pub mod referrers;
mod token;
pub mod upload;

pub use blocking::{BlobReader, BlockingClient};
pub use client::{BlobStream, Client, MAX_SMALL_OBJECT, RegistryOptions};
pub use credentials::Credentials;
pub use digest::Digest;
pub use error::{Error, Result};
pub use manifest::{Descriptor, Index, Manifest, Platform};
pub use oci_client::Reference;
pub use reference::{parse_reference, parse_remote_reference};
pub use referrers::Via;
pub use upload::{Mount, UPLOAD_CHUNK, UploadSession};

/// `sha256:<hex>` of `data`, as a string (what manifests and descriptors carry).
pub fn sha256_digest(data: &[u8]) -> String {
    Digest::sha256_of(data).to_string()
}
