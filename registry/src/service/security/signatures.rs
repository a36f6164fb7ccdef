//! Signatures and attestations attached to an artifact, read straight from the
//! stores (cosign's `sha256-<hex>.sig`/`.att` tags and OCI referrers) and
//! checked with `wharf_signer` against the project's trusted keys. Used by the
//! pull gate (content trust) and by the artifact API (who signed what).

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_signer::image::{
    DSSE_MEDIA_TYPE, Found, FoundKind, SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE,
};
use wharf_signer::keyless::{CertIdentity, TrustedRoot};
use wharf_signer::keys::VerifyingKey;

use super::Security;
use super::keyless_trust::{TrustedIdentity, claimed_identity, verify_keyless};
use super::settings::ProjectSettings;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::names::RepoName;

/// Signature payloads larger than this are not read (they are small JSON documents).
const MAX_SIGNATURE_BLOB: u64 = 1 << 20;

/// The project's trusted keys that parse (invalid ones are refused when set).
pub(crate) fn trusted_keys(settings: &ProjectSettings) -> Vec<VerifyingKey> {
    settings
        .trusted_keys
        .iter()
        .filter_map(|pem| wharf_signer::keys::load_public_key(pem).ok())
        .collect()
}

/// Checks one found item with one key; the verified payload or why not.
pub(crate) fn verify_with(
    found: &Found,
    digest: &str,
    key: &VerifyingKey,
) -> std::result::Result<Value, String> {
    match &found.kind {
        FoundKind::Dsse { envelope } => {
            wharf_signer::image::verify_attestation_envelope(envelope, digest, key, None)
        }
        FoundKind::Bundle { bundle } if found.kind.is_attestation() => {
            wharf_signer::bundle::verify_attestation_bundle_with_key(bundle, digest, key, None)
        }
        _ => {
            let one = [Ok(found.clone())];
            let report =
                wharf_signer::image::verify_found_signatures(&one, digest, key, &BTreeMap::new());
            match report.verified.into_iter().next() {
                Some(v) => Ok(v),
                None => Err(report
                    .rejected
                    .into_iter()
                    .map(|(_, r)| r)
                    .next()
                    .unwrap_or_else(|| "not verified".into())),
            }
        }
    }
}

/// One signature or attestation attached to an artifact, and what the project's trust
/// made of it.
#[derive(Debug, Clone)]
pub struct SignatureSummary {
    /// `cosign` (simple signing), `sigstore.bundle` or `attestation`.
    pub kind: &'static str,
    /// Where it was found: `tag sha256-….sig`, `referrer sha256:…`.
    pub source: String,
    pub predicate_type: Option<String>,
    /// The identity a certificate claims (keyless signatures), checked or not.
    pub certificate_identity: Option<CertIdentity>,
    pub verified: bool,
    /// The trusted key that verified it, by fingerprint.
    pub key_fingerprint: Option<String>,
    /// The identity verified through the trusted root and one of the project's identities.
    pub verified_identity: Option<CertIdentity>,
    /// Why it is not verified.
    pub reason: Option<String>,
}

/// One signature or attestation: its kind, where it is, the identity a certificate
/// claims, and whether one of the project's keys (by fingerprint) or keyless identities
/// (through the server's trusted root) verifies it.
pub fn summarize(
    f: &Found,
    digest: &str,
    keys: &[VerifyingKey],
    keyless: Option<(&TrustedRoot, &[TrustedIdentity])>,
) -> SignatureSummary {
    let (kind, predicate_type) = match &f.kind {
        FoundKind::SimpleSigning { .. } => ("cosign", None),
        // cosign v3 attestations are bundles too: reported as attestations with the
        // predicate type their statement claims.
        FoundKind::Bundle { bundle } if f.kind.is_attestation() => (
            "attestation",
            wharf_signer::bundle::claimed_predicate_type(bundle),
        ),
        FoundKind::Bundle { .. } => ("sigstore.bundle", None),
        FoundKind::Dsse { envelope } => {
            let pt = wharf_signer::dsse::Envelope::parse(envelope)
                .ok()
                .and_then(|e| e.payload_bytes().ok())
                .and_then(|p| wharf_signer::dsse::Statement::parse(&p).ok())
                .map(|s| s.predicate_type);
            ("attestation", pt)
        }
    };
    let claimed = claimed_identity(f);
    let mut key_fingerprint = None;
    let mut verified_identity = None;
    let mut reasons = Vec::new();
    for key in keys {
        match verify_with(f, digest, key) {
            Ok(_) => {
                key_fingerprint = Some(wharf_signer::keys::fingerprint(key));
                break;
            }
            Err(e) => reasons.push(e),
        }
    }
    if key_fingerprint.is_none() && claimed.is_some() {
        match keyless {
            Some((_, [])) | None => {}
            Some((root, identities)) => match verify_keyless(f, digest, root, identities) {
                Ok(id) => verified_identity = Some(id),
                Err(e) => reasons.push(e),
            },
        }
    }
    let verified = key_fingerprint.is_some() || verified_identity.is_some();
    let reason = match (verified, reasons.is_empty()) {
        (true, _) => None,
        (false, false) => Some(reasons.join("; ")),
        (false, true) if claimed.is_some() && keyless.is_none() => {
            Some("the server has no Sigstore trusted root for keyless signatures".to_string())
        }
        (false, true) if claimed.is_some() => {
            Some("the project has no trusted keys or identities".to_string())
        }
        (false, true) => Some("the project has no trusted keys".to_string()),
    };
    SignatureSummary {
        kind,
        source: f.source.clone(),
        predicate_type,
        certificate_identity: claimed,
        verified,
        key_fingerprint,
        verified_identity,
        reason,
    }
}

impl Security {
    /// Signatures, bundles and attestations attached to `digest` in `repo`.
    pub(crate) async fn stored_signatures(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Vec<Found>> {
        let mut manifests = Vec::new();
        for suffix in ["sig", "att"] {
            let legacy = format!("{}-{}.{suffix}", digest.algorithm().as_str(), digest.hex());
            if let Some(m) = self.meta.manifest_by_tag(repo, &legacy, true).await? {
                manifests.push((format!("tag {legacy}"), m));
            }
        }
        for r in self.meta.referrers(repo, digest, None).await? {
            if let Some(m) = self.meta.manifest_by_digest(repo, &r.digest, true).await? {
                manifests.push((format!("referrer {}", r.digest), m));
            }
        }
        let mut out = Vec::new();
        for (source, m) in manifests {
            let Some(content) = m.content else { continue };
            let Ok(doc) = serde_json::from_slice::<Value>(&content) else {
                continue;
            };
            for layer in doc["layers"].as_array().into_iter().flatten() {
                let media_type = layer["mediaType"].as_str().unwrap_or("");
                let kind = match media_type {
                    SIMPLESIGNING_MEDIA_TYPE => "simple",
                    DSSE_MEDIA_TYPE => "dsse",
                    m if m.starts_with("application/vnd.dev.sigstore.bundle") => "bundle",
                    _ => continue,
                };
                let size = layer["size"].as_u64().unwrap_or(u64::MAX);
                let Some(blob) = layer["digest"]
                    .as_str()
                    .and_then(|d| d.parse::<Digest>().ok())
                else {
                    continue;
                };
                if size > MAX_SIGNATURE_BLOB {
                    continue;
                }
                let bytes = match self.read_small_blob(&blob, size).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(%source, %blob, error = %e, "signature blob unreadable");
                        continue;
                    }
                };
                let kind = match kind {
                    "simple" => {
                        let annotations: BTreeMap<String, String> = layer["annotations"]
                            .as_object()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        if !annotations.contains_key(SIGNATURE_ANNOTATION) {
                            continue;
                        }
                        FoundKind::SimpleSigning {
                            payload: bytes,
                            annotations,
                        }
                    }
                    "dsse" => FoundKind::Dsse { envelope: bytes },
                    _ => FoundKind::Bundle { bundle: bytes },
                };
                out.push(Found {
                    source: source.clone(),
                    kind,
                });
            }
        }
        Ok(out)
    }

    async fn read_small_blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        use futures_util::TryStreamExt;
        let mut stream = self.blobs.read(digest, None).await?;
        let mut buf = Vec::with_capacity(size as usize);
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(crate::storage::StorageError::Io)?
        {
            if buf.len() + chunk.len() > MAX_SIGNATURE_BLOB as usize {
                return Err(RegistryError::bad_request("signature blob too large"));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    /// What the artifact API shows for each signature and attestation: its kind,
    /// where it is, the identity a certificate claims, and whether it verifies
    /// with one of the project's trusted keys (and which, by fingerprint).
    pub async fn signature_summaries(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Vec<SignatureSummary>> {
        let project = repo.as_str().split('/').next().unwrap_or_default();
        let settings = self.project_settings(project).await?;
        let keys = trusted_keys(&settings);
        let found = self.stored_signatures(repo, digest).await?;
        let digest_s = digest.to_string();
        let identities = settings.trusted_identities.clone();
        let keyless = self
            .keyless_root
            .as_ref()
            .map(|r| (r.root.as_ref(), identities.as_slice()));
        Ok(found
            .iter()
            .map(|f| summarize(f, &digest_s, &keys, keyless))
            .collect())
    }
}
