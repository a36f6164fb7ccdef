//! Scanning, SBOMs and signatures of one artifact, as the management API asks for them.

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::Result;
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
        who: &Principal,
        project: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<Vec<super::SignatureSummary>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadArtifacts)
            .await?;
        let repo = Distribution::repo_in(&p.name, repository)?;
        self.signature_summaries(&repo, digest).await
    }

    /// The scan records of a page of artifacts, for their `scan_overview` (one query).
    pub async fn scan_overviews_for(
        &self,
        who: &Principal,
        project: &str,
        digests: &[Digest],
    ) -> Result<std::collections::HashMap<Digest, crate::metadata::security::ScanRecord>> {
        self.access
            .project_for(who, project, Action::ReadScan)
            .await?;
        self.scan_overviews(digests).await
    }
}
