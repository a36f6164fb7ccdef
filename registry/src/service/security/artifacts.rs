//! Scanning, SBOMs and signatures of one artifact, as the management API asks for them.

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::service::distribution::Distribution;

impl Security {
    /// `POST …/artifacts/{ref}/scan`: queue a scan (Harbor answers 202 whether or not one was queued).
    /// `sbom` true: generate and attach an SBOM instead (Harbor's `scan_type: sbom`).
    pub async fn scan_artifact(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
        sbom: bool,
    ) -> Result<Digest> {
        let (repo, digest) = self
            .distribution
            .locate(who, project, repository, reference, Action::Scan)
            .await?;
        if sbom {
            self.queue_sbom(&repo, &digest)?;
        } else {
            self.queue_scan(repo.as_str(), &digest).await?;
        }
        self.access.audit(
            who,
            if sbom { "generate_sbom" } else { "scan" },
            "artifact",
            &format!("{repo}@{digest}"),
            ip,
        );
        Ok(digest)
    }

    /// `POST …/artifacts/{ref}/scan/stop`: stop its pending or running scan. The same
    /// right as starting one. The scan record is the digest's, so a scan queued
    /// through another repository holding the same content stops too.
    pub async fn stop_scan_artifact(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Digest> {
        let (repo, digest) = self
            .distribution
            .locate(who, project, repository, reference, Action::Scan)
            .await?;
        self.stop_scan(&digest).await?;
        self.access.audit(
            who,
            "stop_scan",
            "artifact",
            &format!("{repo}@{digest}"),
            ip,
        );
        Ok(digest)
    }

    /// `GET …/artifacts/{ref}/additions/vulnerabilities`: the full report.
    pub async fn vulnerability_report(
        &self,
        who: &Principal,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<crate::metadata::security::VulnerabilityReport>> {
        let (_, digest) = self
            .distribution
            .locate(who, project, repository, reference, Action::ReadScan)
            .await?;
        self.scan_report(&digest).await
    }

    /// Each signature and attestation of an artifact, verified against the project's trusted keys.
    pub async fn signatures(
        &self,
        scope: &crate::service::ProjectScope,
        repository: &str,
        digest: &Digest,
    ) -> Result<Vec<super::SignatureSummary>> {
        scope.require(Action::ReadArtifacts)?;
        let repo = Distribution::repo_in(&scope.project.name, repository)?;
        self.signature_summaries(&repo, digest).await
    }

    /// The scan records of a page of artifacts, for their `scan_overview` (one
    /// query), if the scope's caller may read scans there.
    pub async fn scan_overviews_for(
        &self,
        scope: &crate::service::ProjectScope,
        digests: &[Digest],
    ) -> Result<std::collections::HashMap<Digest, crate::metadata::security::ScanRecord>> {
        scope.require(Action::ReadScan)?;
        self.scan_overviews(digests).await
    }
}

/// The packages of an artifact's attached SBOM (SPDX or CycloneDX, whoever made it).
#[derive(Debug, Clone)]
pub struct SbomPackages {
    /// The SBOM's own manifest (a referrer of the artifact).
    pub sbom: Digest,
    /// `SPDX` or `CycloneDX`.
    pub format: &'static str,
    /// Packages with a Package URL, as `wharf_sbom::read` reads any tool's SBOM.
    pub packages: Vec<wharf_scanner::inventory::Package>,
}

/// The largest SBOM document read for a page (generated ones are a few MiB at most).
const MAX_SBOM: usize = 64 << 20;

impl Security {
    /// The packages of the newest SBOM attached to an artifact as a referrer, read
    /// from the stores; `None` when it has none.
    pub async fn sbom_packages(
        &self,
        who: &Principal,
        project: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<SbomPackages>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadArtifacts)
            .await?;
        let repo = Distribution::repo_in(&p.name, repository)?;
        let referrers = self.meta.referrers(&repo, digest, None).await?;
        let Some(sbom) = referrers.iter().rev().find(|r| {
            let t = r.artifact_type.as_deref().unwrap_or(&r.media_type);
            t.contains("spdx") || t.contains("cyclonedx")
        }) else {
            return Ok(None);
        };
        let bad = |e: String| RegistryError::Internal(format!("SBOM {}: {e}", sbom.digest));
        let manifest = self
            .meta
            .manifest_by_digest(&repo, &sbom.digest, true)
            .await?
            .and_then(|m| m.content)
            .ok_or_else(|| bad("manifest not stored".into()))?;
        let parsed: wharf_oci::manifest::Manifest =
            serde_json::from_slice(&manifest).map_err(|e| bad(e.to_string()))?;
        let layer = parsed
            .layers
            .first()
            .ok_or_else(|| bad("no layer".into()))?;
        if layer.size as usize > MAX_SBOM {
            return Err(bad(format!("larger than {MAX_SBOM} bytes")));
        }
        let layer_digest: Digest = layer.digest.parse().map_err(|e| bad(format!("{e}")))?;
        let mut stream = self.blobs.read(&layer_digest, None).await?;
        let mut buf = Vec::with_capacity(layer.size as usize);
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            buf.extend_from_slice(&chunk.map_err(|e| bad(e.to_string()))?);
            if buf.len() > MAX_SBOM {
                return Err(bad(format!("larger than {MAX_SBOM} bytes")));
            }
        }
        let (format, doc) = wharf_sbom::read::parse_bytes(&buf).map_err(|e| bad(e.to_string()))?;
        let inventory =
            wharf_sbom::read::to_inventory(format, &doc).map_err(|e| bad(e.to_string()))?;
        Ok(Some(SbomPackages {
            sbom: sbom.digest.clone(),
            format: match format {
                wharf_sbom::Format::SpdxJson => "SPDX",
                _ => "CycloneDX",
            },
            packages: inventory.packages,
        }))
    }
}
