//! Harbor's pull gate, per project: "prevent vulnerable images from running"
//! (`prevent_vul` + `severity`, with the CVE allow-list) and content trust
//! (`enable_content_trust_cosign`: a cosign signature, verified against the
//! project's trusted keys when it has some). Project admins may still pull, to
//! inspect what was refused.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use wharf_signer::image::FoundKind;

use super::Registry;
use super::scanning::severity_rank;
use super::signatures::{trusted_keys, verify_with};
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::StoredManifest;
use crate::metadata::security::ScanStatus;
use crate::names::RepoName;

/// Who is pulling, as far as the request showed it. A bearer token only names
/// its subject; the user behind it is looked up only when a gate is on.
pub enum PullCaller<'a> {
    Anonymous,
    Principal(&'a Principal),
    TokenSubject(&'a str),
}

fn refuse(msg: String) -> RegistryError {
    RegistryError::new(ErrorCode::Denied, msg).with_status(StatusCode::PRECONDITION_FAILED)
}

impl Registry {
    /// Refuses the pull of `m` when the project's settings forbid it.
    pub async fn pull_gate(&self, repo: &RepoName, m: &StoredManifest, caller: PullCaller<'_>) -> Result<()> {
        let project = repo.as_str().split('/').next().unwrap_or_default();
        let settings = self.project_settings(project).await?;
        let on = |k: &str| settings.get(k).is_some_and(|v| v == "true");
        let (prevent_vul, trust) = (on("prevent_vul"), on("enable_content_trust_cosign") || on("enable_content_trust"));
        if !prevent_vul && !trust {
            return Ok(());
        }
        let Some(content) = &m.content else { return Ok(()) };
        let Ok(parsed) = crate::manifest::parse(content, Some(&m.media_type)) else { return Ok(()) };
        if parsed.subject.is_some() || !crate::manifest::is_container_image(&parsed.media_type, parsed.artifact_type.as_deref()) {
            return Ok(()); // signatures, SBOMs, indexes (their children are gated) and other artifacts
        }
        let who = match caller {
            PullCaller::Anonymous => None,
            PullCaller::Principal(p) => Some(p.clone()),
            PullCaller::TokenSubject(name) => self.principal_named(name).await,
        };
        if let Some(who) = &who {
            if self.may(who, project, Action::UpdateProject).await? == Some(true) {
                tracing::info!(repo = %repo, digest = %m.digest, who = who.name(), "pull gate bypassed by a project administrator");
                return Ok(());
            }
        }
        if trust {
            self.check_signed(repo, &m.digest, &settings).await?;
        }
        if prevent_vul {
            self.check_vulnerabilities(project, &m.digest, &settings).await?;
        }
        Ok(())
    }

    async fn check_vulnerabilities(&self, project: &str, digest: &Digest, settings: &BTreeMap<String, String>) -> Result<()> {
        let threshold = settings.get("severity").map(String::as_str).unwrap_or("low");
        let title = |s: &str| format!("{}{}", s[..1].to_ascii_uppercase(), &s[1..]);
        let policy = format!("the project prevents pulling images with vulnerabilities of severity {} or higher", title(threshold));
        let rec = self.security.scan(digest).await?;
        match rec.as_ref().map(|r| r.status) {
            Some(ScanStatus::Success) => {}
            Some(ScanStatus::Pending | ScanStatus::Running) => {
                return Err(refuse(format!("{digest} is being scanned; {policy}, so it can be pulled once the scan is done")));
            }
            _ => return Err(refuse(format!("{digest} has not been scanned successfully; {policy}"))),
        }
        let min = severity_rank(threshold);
        let summary = rec.and_then(|r| r.summary).unwrap_or_default();
        let over: u64 = summary["summary"]
            .as_object()
            .map(|m| m.iter().filter(|(s, _)| severity_rank(s) >= min).filter_map(|(_, n)| n.as_u64()).sum())
            .unwrap_or(0);
        if over == 0 {
            return Ok(());
        }
        let allow = self.effective_allowlist(project, settings).await?;
        let report = self.security.scan_report(digest).await?.unwrap_or_default();
        let mut ids: Vec<String> = report["vulnerabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| severity_rank(v["severity"].as_str().unwrap_or("")) >= min)
            .filter_map(|v| v["id"].as_str().map(String::from))
            .filter(|id| !allow.contains(id))
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
        let more = if ids.len() > shown.len() { format!(" and {} more", ids.len() - shown.len()) } else { String::new() };
        Err(refuse(format!(
            "{digest} has {} vulnerabilities at or above {} ({}{more}); {policy}. A project administrator can allow-list CVEs",
            ids.len(),
            title(threshold),
            shown.join(", ")
        )))
    }

    async fn check_signed(&self, repo: &RepoName, digest: &Digest, settings: &BTreeMap<String, String>) -> Result<()> {
        let found = self.stored_signatures(repo, digest).await?;
        let keys = trusted_keys(settings);
        if keys.is_empty() {
            // Harbor's rule: a cosign signature is attached.
            if found.iter().any(|f| matches!(f.kind, FoundKind::SimpleSigning { .. } | FoundKind::Bundle { .. })) {
                return Ok(());
            }
            return Err(refuse(format!("{digest} is not signed with cosign; the project only serves signed images (content trust)")));
        }
        let mut reasons = Vec::new();
        let digest_s = digest.to_string();
        for f in found.iter().filter(|f| !matches!(f.kind, FoundKind::Dsse { .. })) {
            for key in &keys {
                match verify_with(f, &digest_s, key) {
                    Ok(_) => return Ok(()),
                    Err(e) => reasons.push(format!("{}: {e}", f.source)),
                }
            }
        }
        let why = if reasons.is_empty() { "no cosign signature found".to_string() } else { reasons.join("; ") };
        Err(refuse(format!("{digest} has no signature by a key the project trusts ({why}); the project only serves signed images (content trust)")))
    }

    /// The principal behind a bearer token's subject, for the pull gate's admin check.
    async fn principal_named(&self, name: &str) -> Option<Principal> {
        let (user, _) = self.identity.user_by_name(name).await.ok()??;
        Some(Principal::User { id: user.id, name: user.username, sysadmin: user.sysadmin })
    }
}
