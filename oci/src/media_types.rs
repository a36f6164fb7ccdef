//! Media types, annotation keys and limits every OCI client here agrees on: one list, so
//! the registry, scanner, SBOM and signer code never disagree about a string.

// --- Manifests (OCI image-spec and Docker v2 schema 2) ---

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest kind a client asks for (`Accept`), images and indexes alike.
pub const MANIFEST_TYPES: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Manifests larger than this are refused, as distribution and zot do (the distribution
/// spec lets registries refuse over 4 MiB), on both the server and the client side.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

// --- Configs and blobs ---

pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The empty JSON config `{}` (image-spec "Guidance for an Empty Descriptor").
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the empty descriptor's blob.
pub const EMPTY_BLOB: &[u8] = b"{}";

// --- cosign and Sigstore ---

/// cosign's simple-signing payload (a layer of a `.sig` image).
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// A DSSE envelope (a layer of a `.att` image or an attestation referrer).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Config media type (= artifact type) of cosign's OCI 1.1 signature referrers.
pub const COSIGN_SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// A Sigstore bundle v0.3 (cosign v3's `--new-bundle-format`).
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Prefix every Sigstore bundle media type shares (v0.1 … v0.3).
pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// in-toto statements: the DSSE payload type and cosign's attestation artifact type.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// Statement predicate type cosign v3 uses for image signatures in bundles.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Annotation keys cosign and Sigstore put on layers and referrers.
pub mod annotations {
    pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
    pub const COSIGN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
    pub const COSIGN_CHAIN: &str = "dev.sigstore.cosign/chain";
    pub const COSIGN_REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";
    pub const PREDICATE_TYPE: &str = "predicateType";
    pub const BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
    pub const BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
    pub const CREATED: &str = "org.opencontainers.image.created";
    pub const TITLE: &str = "org.opencontainers.image.title";
}
